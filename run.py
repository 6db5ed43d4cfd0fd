#!/usr/bin/env python3
"""Run the CAPTCHA OCR course: `python3 run.py reports`, `python3 run.py test`, `python3 run.py lab`, and read
your own CAPTCHA images with the trained model: `python3 run.py read PATH... [--model MODEL] [--csv OUT]`.

Needs only Python 3.11+: the first run creates `.venv/` and installs requirements.txt and the
`ocr_helpers` package into it; later runs reuse it until requirements.txt or pyproject.toml change.
"""

import argparse
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("OCR_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".ocr-course-installed"
GPU_MARKER = VENV / ".ocr-course-gpu"  # written by `run.py setup --gpu`: later installs keep TensorFlow with CUDA
TEST_BUILD = ROOT / "build" / "test-notebooks"
JAX_TEST_BUILD = ROOT / "build" / "test-notebooks-jax"  # tests/notebooks/nbpaths.py names both
BACKENDS = ("tensorflow", "jax")  # the Keras backends the course runs and is tested on; the first is the default


def say(message, file=None):
    print(f"run.py: {message}", file=file, flush=True)


def run(*command, **options):
    """Run a command, echoing it (to the file `echo`, stdout by default), and return its exit code."""
    say(" ".join(str(part) for part in command), options.pop("echo", None))
    return subprocess.call([str(part) for part in command], cwd=options.pop("cwd", ROOT), **options)


def files_module():
    """Load ocr_helpers/files.py, the course's atomic writers, by its path: `import ocr_helpers` needs NumPy, which
    .venv may not hold yet."""
    spec = importlib.util.spec_from_file_location("ocr_course_files", ROOT / "ocr_helpers" / "files.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def install_stamp(gpu=False):
    files = [ROOT / "requirements.txt", ROOT / "pyproject.toml"]
    digest = hashlib.sha256(sys.version.encode() + (b" gpu" if gpu else b""))
    for file in files:
        digest.update(file.read_bytes())
    return digest.hexdigest()


def gpu_requirements(requirements):
    """Return requirements.txt's lines with its TensorFlow lines (CPU-only on x86_64) replaced by TensorFlow with
    CUDA at the same version, `tensorflow[and-cuda]`, which pip installs with NVIDIA's CUDA and cuDNN wheels."""
    kept, versions = [], set()
    for line in requirements.splitlines():
        name = line.split("==")[0].strip()
        if name in ("tensorflow", "tensorflow-cpu"):
            versions.add(line.split("==")[1].split(";")[0].split()[0])
        else:
            kept.append(line)
    if len(versions) != 1:
        raise ValueError(f"requirements.txt should pin one TensorFlow version, found {sorted(versions)}")
    return "\n".join(kept + [f"tensorflow[and-cuda]=={versions.pop()}  # run.py setup --gpu"]) + "\n"


def nvidia_gpus():
    """Return the NVIDIA GPUs `nvidia-smi -L` lists (none if it is missing or fails)."""
    if shutil.which("nvidia-smi") is None:
        return []
    listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
    return [line for line in listed.stdout.splitlines() if line.startswith("GPU")] if listed.returncode == 0 else []


def ensure_environment(log=None, gpu=False):
    """Create the virtual environment and install the pinned requirements if they changed.

    With `gpu`, or once `setup --gpu` has run, TensorFlow with CUDA replaces the CPU-only TensorFlow. Its messages
    and pip's output go to the file `log` (stdout by default; `read` keeps stdout for its rows).
    """
    if sys.version_info < (3, 11):
        sys.exit(f"run.py: Python 3.11 or newer is needed, this is {sys.version.split()[0]}.")
    gpu = gpu or GPU_MARKER.is_file()
    stamp = install_stamp(gpu)
    if STAMP.is_file() and STAMP.read_text() == stamp:
        return
    if not PYTHON.exists():
        say(f"creating the virtual environment {VENV} (once)", log)
        venv.EnvBuilder(with_pip=True).create(VENV)
    with tempfile.TemporaryDirectory() as scratch:
        requirements = ROOT / "requirements.txt"
        if gpu:
            requirements = Path(scratch) / "requirements-gpu.txt"
            requirements.write_text(gpu_requirements((ROOT / "requirements.txt").read_text()))
            run(PYTHON, "-m", "pip", "uninstall", "--disable-pip-version-check", "-y", "-q", "tensorflow-cpu",
                echo=log, stdout=log)  # it and tensorflow[and-cuda] would both write the tensorflow package
        say(f"installing {'TensorFlow with CUDA, ' if gpu else ''}requirements.txt and ocr_helpers into it (a few "
            f"minutes the first time)", log)
        code = run(PYTHON, "-m", "pip", "install", "--disable-pip-version-check", "-r", requirements, "-e", ".",
                   echo=log, stdout=log)
    if code:
        sys.exit(f"run.py: installing the requirements failed (exit {code}); see pip's message above.")
    if gpu:
        GPU_MARKER.write_text("TensorFlow with CUDA, installed by run.py setup --gpu\n")
    with files_module().atomic_write(STAMP, "w") as file:  # a stamp is whole or absent, never half-written
        file.write(stamp)


def setup(arguments):
    """Install the environment; with --gpu, TensorFlow with CUDA, if the machine has an NVIDIA GPU."""
    parser = argparse.ArgumentParser(prog="run.py setup", description="Create .venv/ and install the pinned "
                                     "requirements (CPU-only TensorFlow); --gpu installs TensorFlow with CUDA instead.")
    parser.add_argument("--gpu", action="store_true", help="TensorFlow with CUDA, for a Linux machine with an NVIDIA "
                        "GPU and its driver; later runs keep it (delete .venv/ to go back)")
    options = parser.parse_args(arguments)
    if options.gpu:
        if not sys.platform.startswith("linux"):
            return complain_setup(f"TensorFlow with CUDA is for Linux, this is {sys.platform}; the CPU-only "
                                  f"install is kept.")
        gpus = nvidia_gpus()
        if not gpus:
            return complain_setup("no NVIDIA GPU found (`nvidia-smi -L` lists none, or nvidia-smi is missing): "
                                  "install the NVIDIA driver first. Nothing was changed; the CPU-only install is kept.")
        say(f"found {len(gpus)} NVIDIA GPU(s): {gpus[0]}")
    ensure_environment(gpu=options.gpu)
    if options.gpu:
        return run(PYTHON, "-c", "import tensorflow as tf; print('TensorFlow sees', tf.config.list_physical_devices"
                   "('GPU'))", env=course_environment("tensorflow"))
    return 0


def complain_setup(message):
    print(f"run.py setup: {message}", file=sys.stderr, flush=True)
    return 2


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
    if env["KERAS_BACKEND"] == "jax":
        # JAX's persistent compilation cache: the notebooks, their solutions and the tests compile the same model
        # functions again and again, in new processes; with the cache, JAX's unit tests of the model and the loss
        # ran in 16 s instead of 61 s here
        env.setdefault("JAX_COMPILATION_CACHE_DIR", str(ROOT / "build" / "jax-cache"))
        env.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
        env.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def reports(arguments):
    """Execute every notebook at its default parameters into reports/."""
    return run(PYTHON, ROOT / "tools" / "run_series.py", *arguments, env=course_environment())


def ensure_browser():
    """Install Debian's chromium for the test of the reports in a browser, where this can (root, apt-get)."""
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        return
    if os.name != "posix" or os.geteuid() != 0 or not shutil.which("apt-get"):
        say("no chromium found, so the test of the reports in a browser will be skipped (install Debian's chromium "
            "package, or your system's, to run it)")
        return
    say("installing Debian's chromium for the test of the reports in a browser (once, about half a minute)")
    quiet = {"stdout": subprocess.DEVNULL, "env": dict(os.environ, DEBIAN_FRONTEND="noninteractive")}
    apt = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]
    if run(*apt, **quiet) and (run("apt-get", "update", "-q", **quiet) or run(*apt, **quiet)):
        say("installing chromium failed; the test of the reports in a browser will be skipped")


def test(arguments):
    """On TensorFlow: unit, fault, cross-backend and notebook tests, then nbval over the executed notebooks. On JAX,
    at the same time: the unit tests, the series and the solutions at test parameters and the tests of the main job
    and the read command (the tests that need no backend run here; where each test runs evens out the two halves).
    The series executed on JAX is not compared by nbval: with it, the command took 21.6 minutes on CI's 2 cores,
    over its 20 (issue 38). Most of both halves is one core's work (kernels starting, processes
    importing Keras), so side by side they take little longer than the longer one alone."""
    env = course_environment("tensorflow")
    ensure_browser()
    for build in (TEST_BUILD, JAX_TEST_BUILD):
        shutil.rmtree(build, ignore_errors=True)
    say("JAX backend, alongside: unit tests, the series and the solutions at test parameters and the main job's "
        "tests (its output follows at the end)")
    with tempfile.TemporaryFile("w+") as jax_output:
        # the tests of drawing and saving images, of worker processes, of the main job and of the read command
        # involve no backend or choose their own: they run once, here
        jax = JaxHalf([PYTHON, "-m", "pytest", "tests/unit", "tests/notebooks/test_execute.py",
                       "tests/notebooks/test_solutions.py", "tests/tools", *arguments], jax_output)
        jax.start()
        try:
            first, second = test_on_tensorflow(arguments, env)
            while jax.is_alive():  # a join with a timeout, so that Ctrl-C still reaches this thread
                jax.join(timeout=1)
        except BaseException:  # Ctrl-C: stop the JAX half too
            jax.stop()
            raise
        jax_output.seek(0)
        say("JAX backend: unit tests, the series and the solutions at test parameters and the main job's tests")
        print(jax_output.read(), end="", flush=True)
    return first or second or jax.code


class JaxHalf(threading.Thread):
    """The JAX half of the tests, in a thread beside the TensorFlow half: one pytest run, its output to `output`,
    its exit code to `code` (1 until it has ended)."""

    def __init__(self, pytest_command, output):
        super().__init__()
        self.pytest_command, self.output, self.code, self.process = pytest_command, output, 1, None

    def run(self):
        say(" ".join(str(part) for part in self.pytest_command), self.output)
        self.output.flush()
        self.process = subprocess.Popen([str(part) for part in self.pytest_command], cwd=ROOT,
                                        env=course_environment("jax"), stdout=self.output, stderr=subprocess.STDOUT)
        self.code = self.process.wait()

    def stop(self):
        """Stop the pytest run."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
        self.join()


def nbval_command(executed):
    """Return the command that runs nbval over executed notebooks: each is run again and its outputs compared."""
    return [PYTHON, "-m", "pytest", "--nbval", "--nbval-current-env",
            "--nbval-sanitize-with", ROOT / "tests" / "notebooks" / "sanitize.cfg", "-p", "no:cacheprovider", *executed]


def test_on_tensorflow(arguments, env):
    """Run the TensorFlow half of the tests; return the exit codes of pytest and of nbval."""
    say("TensorFlow backend: unit, fault, cross-backend and notebook tests")
    first = run(PYTHON, "-m", "pytest", "tests/unit", "--ignore", "tests/unit/test_data.py", "--ignore",
                "tests/unit/test_workers.py", "tests/faults", "tests/backends", "tests/notebooks", *arguments, env=env)
    executed = sorted(TEST_BUILD.glob("*.ipynb"))
    if not executed:
        say("no notebook was executed, so nbval has nothing to check")
        return first or 1, 1
    return first, run(*nbval_command(executed), env=env)


def lab(arguments):
    """Open the notebooks in JupyterLab from the course's environment."""
    return run(PYTHON, "-m", "jupyter", "lab", *arguments, cwd=ROOT / "notebooks", env=course_environment())


def read(arguments):
    """Read image files with a trained model (`python3 run.py read --help`): tools/read_command.py, in .venv."""
    return subprocess.call([str(PYTHON), str(ROOT / "tools" / "read_command.py"), *arguments],
                           env=course_environment())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["reports", "test", "lab", "setup", "read"])
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help="passed on to the tool the command runs")
    options = parser.parse_args()
    check_backend()
    if options.command == "setup":
        return setup(options.arguments)
    ensure_environment(sys.stderr if options.command == "read" else None)
    return {"reports": reports, "test": test, "lab": lab, "read": read}[options.command](options.arguments)


if __name__ == "__main__":
    sys.exit(main())
