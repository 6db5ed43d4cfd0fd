"""Make the fixtures of nbpaths available to the notebook tests."""

from nbpaths import first_series, notebook_path  # noqa: F401
