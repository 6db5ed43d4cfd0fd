"""Execute every notebook with papermill at small parameters into build/test-notebooks/ (or -jax/ on JAX).

`python3 run.py test` then runs nbval over the executed copies, so that a re-run must
reproduce every output. The notebooks share one data folder, so notebook 02 loads what 01 saved.
"""

import pytest

from nbpaths import NOTEBOOKS, TEST_BUILD, TEST_PARAMETERS


def test_every_notebook_has_test_parameters():
    assert sorted(TEST_PARAMETERS) == [path.stem for path in NOTEBOOKS]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_at_test_parameters(first_series, notebook):
    error = first_series[notebook.stem]
    if error is not None:
        raise error
    assert (TEST_BUILD / notebook.name).is_file()
