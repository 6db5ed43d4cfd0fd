"""Shared facts about the notebooks for the notebook tests (a plain module: two conftest.py files would clash)."""

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TEST_BUILD = ROOT / "build" / "test-notebooks"


def read_notebook(path):
    return nbformat.read(path, as_version=4)


@pytest.fixture(params=NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def notebook_path(request):
    return request.param
