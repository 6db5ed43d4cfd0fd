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
