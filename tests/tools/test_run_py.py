"""run.py, the README's commands: an unknown Keras backend stops it at once, before anything is installed or run."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("command", ["reports", "test"])
def test_an_unknown_backend_stops_at_once_naming_the_supported_ones(command, tmp_path):
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "run.py"), command],
                          env=dict(os.environ, KERAS_BACKEND="torch", OCR_VENV=str(tmp_path / "venv")),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "KERAS_BACKEND='torch' is not supported here; use one of tensorflow, jax" in done.stderr
    assert time.perf_counter() - start < 10 and not (tmp_path / "venv").exists(), "nothing installed first"


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
