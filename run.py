#!/usr/bin/env python3
"""Run the CAPTCHA OCR course: `python3 run.py reports`, `python3 run.py test`, `python3 run.py lab`.

Needs only Python 3.11+: the first run creates `.venv/` and installs requirements.txt and the
`ocr_helpers` package into it; later runs reuse it until requirements.txt or pyproject.toml change.
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("OCR_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".ocr-course-installed"
TEST_BUILD = ROOT / "build" / "test-notebooks"
BACKENDS = ("tensorflow", "jax")  # the Keras backends the course runs and is tested on; the first is the default


def say(message):
    print(f"run.py: {message}", flush=True)


def run(*command, **options):
    """Run a command, echoing it, and return its exit code."""
    say(" ".join(str(part) for part in command))
    return subprocess.call([str(part) for part in command], cwd=options.pop("cwd", ROOT), **options)


def install_stamp():
    files = [ROOT / "requirements.txt", ROOT / "pyproject.toml"]
    digest = hashlib.sha256(sys.version.encode())
    for file in files:
        digest.update(file.read_bytes())
    return digest.hexdigest()


def ensure_environment():
    """Create the virtual environment and install the pinned requirements if they changed."""
    if sys.version_info < (3, 11):
        sys.exit(f"run.py: Python 3.11 or newer is needed, this is {sys.version.split()[0]}.")
    stamp = install_stamp()
    if STAMP.is_file() and STAMP.read_text() == stamp:
        return
    if not PYTHON.exists():
        say(f"creating the virtual environment {VENV} (once)")
        venv.EnvBuilder(with_pip=True).create(VENV)
    say("installing requirements.txt and ocr_helpers into it (a few minutes the first time)")
    code = run(PYTHON, "-m", "pip", "install", "--disable-pip-version-check", "-r", "requirements.txt", "-e", ".")
    if code:
        sys.exit(f"run.py: installing the requirements failed (exit {code}); see pip's message above.")
    staged = STAMP.with_suffix(".partial")
    staged.write_text(stamp)
    os.replace(staged, STAMP)  # a stamp is whole or absent, never half-written


def check_backend():
    """Stop at once, naming the supported backends, if KERAS_BACKEND asks for another one."""
    backend = os.environ.get("KERAS_BACKEND", BACKENDS[0])
    if backend not in BACKENDS:
        sys.exit(f"run.py: KERAS_BACKEND={backend!r} is not supported here; use one of {', '.join(BACKENDS)} "
                 f"(or leave it unset for {BACKENDS[0]}).")
    return backend


def course_environment(backend=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0", PYDEVD_DISABLE_FILE_VALIDATION="1")
    env["KERAS_BACKEND"] = backend or check_backend()
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def reports(arguments):
    """Execute every notebook at its default parameters into reports/."""
    return run(PYTHON, ROOT / "tools" / "run_series.py", *arguments, env=course_environment())


def test(arguments):
    """On TensorFlow: unit, fault and notebook tests, then nbval over the executed notebooks. On JAX, at the same
    time: the unit tests and the series at test parameters again. Most of both halves is one core's work (kernels
    starting, processes importing Keras), so side by side they take little longer than the longer one alone."""
    env = course_environment("tensorflow")
    shutil.rmtree(TEST_BUILD, ignore_errors=True)
    say("JAX backend, alongside: unit tests and the series at test parameters (its output follows at the end)")
    with tempfile.TemporaryFile("w+") as jax_output:
        jax_command = [PYTHON, "-m", "pytest", "tests/unit", "tests/notebooks/test_execute.py", *arguments]
        jax = subprocess.Popen([str(part) for part in jax_command], cwd=ROOT, env=course_environment("jax"),
                               stdout=jax_output, stderr=subprocess.STDOUT)
        try:
            first, second = test_on_tensorflow(arguments, env)
            third = jax.wait()
        finally:
            if jax.poll() is None:  # the TensorFlow half was interrupted: stop the JAX half too
                jax.terminate()
                jax.wait()
        jax_output.seek(0)
        say("JAX backend: unit tests and the series at test parameters")
        print(jax_output.read(), end="", flush=True)
    return first or second or third


def test_on_tensorflow(arguments, env):
    """Run the TensorFlow half of the tests; return the exit codes of pytest and of nbval."""
    say("TensorFlow backend: unit, main-job, fault, cross-backend and notebook tests")
    first = run(PYTHON, "-m", "pytest", "tests/unit", "tests/tools", "tests/faults", "tests/backends",
                "tests/notebooks", *arguments, env=env)
    executed = sorted(TEST_BUILD.glob("*.ipynb"))
    if not executed:
        say("no notebook was executed, so nbval has nothing to check")
        return first or 1, 1
    second = run(PYTHON, "-m", "pytest", "--nbval", "--nbval-current-env",
                 "--nbval-sanitize-with", ROOT / "tests" / "notebooks" / "sanitize.cfg",
                 "-p", "no:cacheprovider", *executed, env=env)
    return first, second


def lab(arguments):
    """Open the notebooks in JupyterLab from the course's environment."""
    return run(PYTHON, "-m", "jupyter", "lab", *arguments, cwd=ROOT / "notebooks", env=course_environment())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["reports", "test", "lab", "setup"])
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help="passed on to the tool the command runs")
    options = parser.parse_args()
    check_backend()
    ensure_environment()
    if options.command == "setup":
        return 0
    return {"reports": reports, "test": test, "lab": lab}[options.command](options.arguments)


if __name__ == "__main__":
    sys.exit(main())
