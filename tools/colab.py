"""Give every notebook and solutions notebook an "Open in Colab" link and a first cell that installs the course.

The repository address comes from pyproject.toml ([project.urls] Repository). Run this after changing it:
`.venv/bin/python tools/colab.py`; `tests/notebooks/test_clean.py` checks that every notebook is up to date.
"""

import re
import sys
import tomllib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
INSTALL_TAG = "install"

INSTALL_CELL = '''\
# On Colab, or in a Jupyter without the course: install its package, with its pinned dependencies (once, about a
# minute). Where ocr_helpers is installed already, as with `python3 run.py lab`, this cell does nothing.
import importlib.util
import os
import subprocess
import sys

if importlib.util.find_spec("ocr_helpers") is None:
    extra = "" if importlib.util.find_spec("tensorflow") else "[tensorflow]"  # Colab has TensorFlow already
    source = os.environ.get("OCR_COURSE_SOURCE", "git+{repository}")
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", f"ocr_helpers{{extra}} @ {{source}}"])'''

BADGE = "[Open in Colab]({colab}/{folder}/{name})"
BADGE_PATTERN = re.compile(r"\n\n\[Open in Colab\]\([^)]*\)")


def repository():
    """Return the course's repository address from pyproject.toml."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]


def colab_address(url):
    """Return Colab's address for notebooks of a GitHub repository's main branch."""
    owner_and_name = url.removeprefix("https://github.com/").strip("/")
    return f"https://colab.research.google.com/github/{owner_and_name}/blob/main"


def course_notebooks():
    """Return the notebooks of the series, then the solutions notebooks."""
    folders = ("notebooks", "solutions")
    return [path for folder in folders for path in sorted((ROOT / folder).glob("[0-9][0-9]_*.ipynb"))]


def with_colab(notebook, path, url):
    """Return `notebook` with the Colab link at the end of its title cell and the install cell right after it."""
    title = notebook.cells[0]
    badge = BADGE.format(colab=colab_address(url), folder=path.parent.name, name=path.name)
    title.source = BADGE_PATTERN.sub("", title.source) + "\n\n" + badge
    cells = [cell for cell in notebook.cells[1:] if INSTALL_TAG not in cell.metadata.get("tags", [])]
    install = nbformat.v4.new_code_cell(INSTALL_CELL.format(repository=url), metadata={"tags": [INSTALL_TAG]})
    install.id = "install-course"
    notebook.cells = [title, install, *cells]
    return notebook


def main():
    url = repository()
    for path in course_notebooks():
        notebook = nbformat.read(path, as_version=4)
        updated = with_colab(nbformat.read(path, as_version=4), path, url)
        if nbformat.writes(updated) != nbformat.writes(notebook):
            nbformat.write(updated, path)
            print(f"updated {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
