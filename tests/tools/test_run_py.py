"""run.py, the README's commands: an unknown Keras backend stops it at once, before anything is installed or run."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("command", ["reports", "test"])
def test_an_unknown_backend_stops_at_once_naming_the_supported_ones(command, tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "run.py"), command],
                          env=dict(os.environ, KERAS_BACKEND="torch", OCR_VENV=str(tmp_path / "venv")),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.splitlines() == ["run.py: KERAS_BACKEND='torch' is not supported here; use one of tensorflow, "
                                        "jax (or leave it unset for tensorflow)."], "one line, and nothing run first"
    assert done.stdout == "" and not (tmp_path / "venv").exists(), "nothing installed or echoed first"


def load_run_py():
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_py", ROOT / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_gpu_requirements_swap_only_tensorflow_for_tensorflow_with_cuda_at_the_same_version():
    requirements = (ROOT / "requirements.txt").read_text()
    swapped = load_run_py().gpu_requirements(requirements).splitlines()
    tensorflow = [line for line in requirements.splitlines() if line.startswith("tensorflow")]
    version = tensorflow[0].split("==")[1].split(";")[0]
    assert [line for line in swapped if line.startswith("tensorflow")] == [
        f"tensorflow[and-cuda]=={version}  # run.py setup --gpu"]
    assert [line for line in swapped if not line.startswith("tensorflow")] == [
        line for line in requirements.splitlines() if not line.startswith("tensorflow")]


@pytest.mark.parametrize("fake_nvidia_smi", [None, "echo 'No devices were found'; exit 6"])
def test_setup_gpu_without_an_nvidia_gpu_says_so_and_changes_nothing(fake_nvidia_smi, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if fake_nvidia_smi:
        (bin_dir / "nvidia-smi").write_text(f"#!/bin/sh\n{fake_nvidia_smi}\n")
        (bin_dir / "nvidia-smi").chmod(0o755)
    done = subprocess.run([sys.executable, str(ROOT / "run.py"), "setup", "--gpu"],
                          env=dict(os.environ, PATH=str(bin_dir), OCR_VENV=str(tmp_path / "venv")),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "no NVIDIA GPU found" in done.stderr and "the CPU-only install is kept" in done.stderr
    assert not (tmp_path / "venv").exists()


@pytest.fixture
def fake_venv(tmp_path, monkeypatch):
    """run.py, loaded as a module, with its environment in tmp_path and pip replaced by a log of its commands."""
    run_py, commands = load_run_py(), []
    monkeypatch.setattr(run_py, "VENV", tmp_path / "venv")
    monkeypatch.setattr(run_py, "PYTHON", Path(sys.executable))  # exists, so no virtual environment is created
    monkeypatch.setattr(run_py, "STAMP", tmp_path / "venv" / ".ocr-course-installed")
    monkeypatch.setattr(run_py, "GPU_MARKER", tmp_path / "venv" / ".ocr-course-gpu")
    monkeypatch.setattr(run_py, "run", lambda *command, **options: commands.append(command[1:4]) or 0)
    (tmp_path / "venv").mkdir()
    return run_py, commands


def test_the_install_stamp_is_written_whole_by_the_course_atomic_writer(fake_venv, monkeypatch):
    run_py, commands = fake_venv
    files, written = run_py.files_module(), []
    real_atomic_write = files.atomic_write

    def logged_atomic_write(path, mode="wb"):
        written.append((path, mode))
        return real_atomic_write(path, mode)

    monkeypatch.setattr(files, "atomic_write", logged_atomic_write)
    monkeypatch.setattr(run_py, "files_module", lambda: files)
    run_py.ensure_environment()
    assert commands == [("-m", "pip", "install")] and written == [(run_py.STAMP, "w")]
    assert run_py.STAMP.read_text() == run_py.install_stamp()
    assert [path.name for path in run_py.VENV.iterdir()] == [".ocr-course-installed"], "no temporary file left"
    run_py.ensure_environment()
    assert commands == [("-m", "pip", "install")], "a stamp that matches installs nothing"


def test_a_failed_install_writes_no_stamp(fake_venv, monkeypatch):
    run_py, commands = fake_venv
    monkeypatch.setattr(run_py, "run", lambda *command, **options: 1)
    with pytest.raises(SystemExit, match="installing the requirements failed"):
        run_py.ensure_environment()
    assert list(run_py.VENV.iterdir()) == []


def test_run_py_loads_the_atomic_writers_without_the_package_or_numpy():
    probe = ("import importlib.util, sys\n"
             f"spec = importlib.util.spec_from_file_location('run_py', {str(ROOT / 'run.py')!r})\n"
             "run_py = importlib.util.module_from_spec(spec)\nspec.loader.exec_module(run_py)\n"
             "files = run_py.files_module()\n"
             "print(files.atomic_write.__module__, sorted({'numpy', 'ocr_helpers'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["ocr_course_files", "[]"], done.stderr
