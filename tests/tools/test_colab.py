"""The course outside this repository: the package's wheel, its pinned dependencies, and the notebooks' install cell.

On Colab, a notebook's first cell installs `ocr_helpers` from the course's repository when it is missing. Here the
same cell installs it from the wheel built from this checkout, and a notebook copied out of the repository runs on
that wheel.
"""

import os
import re
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import nbformat
import papermill
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import colab  # noqa: E402


def pins(lines):
    """Return {name: version} of `name==version` requirement lines (extras and markers dropped)."""
    found = {}
    for line in lines:
        matched = re.match(r"\s*([A-Za-z0-9_.-]+)(\[[^]]*\])?==([^\s;#]+)", line)
        if matched:
            found[matched[1].lower()] = matched[3]
    return found


def test_the_package_pins_its_dependencies_as_requirements_txt_does():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    required = pins((ROOT / "requirements.txt").read_text().splitlines())
    required.setdefault("tensorflow", required.get("tensorflow-cpu"))
    declared = pins(project["dependencies"] + project["optional-dependencies"]["tensorflow"])
    assert declared and {name: required.get(name) for name in declared} == declared


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The package's wheel, built from this checkout with the build tools of the course's environment."""
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                    "-w", str(folder), str(ROOT)], check=True, timeout=300)
    (built,) = folder.glob("ocr_helpers-*.whl")
    return built


def test_a_notebook_copied_out_of_the_repository_runs_on_the_package_from_its_wheel(wheel, tmp_path, monkeypatch):
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(site), str(wheel)],
                   check=True, timeout=300)
    course = tmp_path / "course" / "notebooks"
    course.mkdir(parents=True)
    shutil.copy(ROOT / "notebooks" / "02_encode_labels.ipynb", course)
    monkeypatch.setenv("PYTHONPATH", str(site))  # ahead of the editable install of this checkout
    imported = subprocess.run([sys.executable, "-c", "import ocr_helpers; print(ocr_helpers.__file__)"], cwd=tmp_path,
                              capture_output=True, text=True, check=True).stdout.strip()
    assert Path(imported).is_relative_to(site), "the kernel must import the wheel's copy, not this checkout"
    papermill.execute_notebook(course / "02_encode_labels.ipynb", course / "executed.ipynb",
                               parameters={"num_train_samples": 96}, cwd=course, progress_bar=False)
    executed = nbformat.read(course / "executed.ipynb", as_version=4)
    assert executed.cells[1].outputs == [], "with the package importable, the install cell does nothing"
    assert (tmp_path / "course" / "data" / "train.npz").is_file(), "its data lands beside its own folder"


def test_the_install_cell_installs_the_package_where_it_is_missing(wheel, tmp_path):
    environment = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=True).create(environment)
    python = environment / "bin" / "python"
    cell = colab.INSTALL_CELL.format(repository=colab.repository())
    env = dict(os.environ, OCR_COURSE_SOURCE=wheel.as_uri(), PIP_NO_DEPS="1", PIP_NO_INDEX="1")
    env.pop("PYTHONPATH", None)
    for _ in range(2):  # the second time, the package is there and the cell does nothing
        subprocess.run([str(python), "-c", cell], env=env, cwd=tmp_path, check=True, timeout=300)
    shown = subprocess.run([str(python), "-m", "pip", "show", "ocr_helpers"], capture_output=True, text=True, env=env)
    assert shown.returncode == 0 and "Version: 0.1.0" in shown.stdout
