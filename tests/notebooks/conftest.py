"""Make the notebook_path fixture of nbpaths available to the notebook tests."""

from nbpaths import notebook_path  # noqa: F401
