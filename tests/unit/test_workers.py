"""Parallel generation works from every kind of caller, and Ctrl-C stops it at once (issue 17).

Each caller runs in a subprocess started with sys.executable, from an empty folder, and prints the
fingerprints of what it drew with 2 workers; they must equal the one-process result drawn here.
"""

import builtins
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import ocr_helpers as oh

SEED = 11
COUNT = 48
BATCH = 16
MARKER = "caller's top-level code ran"

PREAMBLE = f"""
import json
import ocr_helpers as oh
print({MARKER!r}, flush=True)
"""

REPORT_GENERATE = f"""
images, labels = oh.generate_dataset({COUNT}, seed={SEED}, num_workers=2, progress=False)
print(json.dumps({{"generate": oh.dataset_fingerprint(images, labels)}}), flush=True)
"""

REPORT_STREAM = f"""
import numpy as np
stream = oh.stream_batches(batch_size={BATCH}, seed={SEED}, num_workers=2)
batches = [next(stream) for _ in range({COUNT // BATCH})]
stream.close()
streamed = np.concatenate([images for images, _ in batches])
streamed_labels = oh.decode_labels(np.concatenate([encoded for _, encoded in batches]))
print(json.dumps({{"stream": oh.dataset_fingerprint(streamed, streamed_labels)}}), flush=True)
"""


def indented(code):
    """Return `code` indented one level, to sit inside an if block or a function."""
    return "".join(f"    {line}\n" if line else "\n" for line in code.splitlines())


def guarded_script(stream):
    """A learner's script that keeps its work under a main guard."""
    body = REPORT_GENERATE + (REPORT_STREAM if stream else "")
    return PREAMBLE + '\nif __name__ == "__main__":\n' + indented(body)


def unguarded_script(stream):
    """A learner's script that runs everything at its top level."""
    return PREAMBLE + REPORT_GENERATE + (REPORT_STREAM if stream else "")


def caller_module(stream):
    """A module imported by the caller, as a notebook imports the course's helpers."""
    body = REPORT_GENERATE + (REPORT_STREAM if stream else "")
    return PREAMBLE + "\ndef run():\n" + indented(body)


def run_caller(kind, folder, stream=False):
    """Run the caller `kind` in a subprocess from `folder`; return its stdout lines."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    arguments, stdin = [sys.executable], None
    if kind == "script with a main guard":
        (folder / "learner.py").write_text(guarded_script(stream))
        arguments.append("learner.py")
    elif kind == "script without a main guard":
        (folder / "learner.py").write_text(unguarded_script(stream))
        arguments.append("learner.py")
    elif kind == "imported module":
        (folder / "helpers_of_learner.py").write_text(caller_module(stream))
        arguments += ["-c", "import helpers_of_learner\nhelpers_of_learner.run()"]
    elif kind == "python -c":
        arguments += ["-c", unguarded_script(stream)]
    elif kind == "standard input":
        arguments.append("-")
        stdin = unguarded_script(stream)
    elif kind == "after TensorFlow is imported":
        arguments += ["-c", "import tensorflow\n" + unguarded_script(stream)]
    elif kind == "after JAX has started":
        arguments += ["-c", "import jax.numpy\njax.numpy.zeros(2).block_until_ready()\n" + unguarded_script(stream)]
    done = subprocess.run(arguments, input=stdin, cwd=folder, env=environment, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, f"{kind} failed:\n{done.stderr[-3000:]}"
    return done.stdout.splitlines()


@pytest.fixture(scope="module")
def expected():
    images, labels = oh.generate_dataset(COUNT, seed=SEED, num_workers=1, progress=False)
    return oh.dataset_fingerprint(images, labels)


def caller(kind, stream):
    """One caller to test, named by its kind."""
    return pytest.param(kind, stream, id=kind)


CALLERS = [
    caller("script with a main guard", False),
    caller("imported module", False),
    caller("python -c", False),
    caller("script without a main guard", True),
    caller("standard input", True),
    caller("after TensorFlow is imported", True),
    caller("after JAX has started", False),  # jax[cpu] is in requirements.txt
]


@pytest.mark.parametrize("kind, stream", CALLERS)
def test_parallel_generation_gives_the_one_process_images_from_every_caller(kind, stream, expected, tmp_path):
    lines = run_caller(kind, tmp_path, stream)
    assert lines.count(MARKER) == 1, f"the workers re-ran the caller's code:\n{lines}"
    reports = {key: value for line in lines if line.startswith("{") for key, value in json.loads(line).items()}
    assert reports == ({"generate": expected, "stream": expected} if stream else {"generate": expected})


def process_fields(pid):
    """Return the fields of /proc/<pid>/stat after the command name, or None for a process gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            fields = file.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields


def alive(pid):
    """Whether process `pid` still runs (Linux only)."""
    return process_fields(pid) is not None


def session_processes(session):
    """Return the ids of the live processes in the session `session` (Linux only)."""
    return [int(entry) for entry in filter(str.isdigit, os.listdir("/proc"))
            if (fields := process_fields(entry)) and int(fields[3]) == session]


def wait_for(condition, seconds=60):
    """Poll `condition` until it holds or `seconds` pass (a guard against a hang, not a measure); return its value."""
    deadline = time.monotonic() + seconds
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


def finished_its_work(future):
    """Whether `future` ran its call to the end and returned, rather than being cancelled or failing."""
    return future.done() and not future.cancelled() and future.exception() is None


def test_worker_pool_is_an_executor_for_both_callers():
    with oh.data.worker_pool(2) as pool:
        futures = [pool.submit(pow, 3, power) for power in range(4)]
        assert [future.result(timeout=60) for future in futures] == [1, 3, 9, 27]
        assert len({pool.submit(os.getpid).result(timeout=60) for _ in range(6)} - {os.getpid()}) >= 1
    pool.shutdown(cancel_futures=True)  # a second shutdown, as ExitStack callbacks may make, is harmless


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process table from /proc")
def test_leaving_the_pool_on_an_error_stops_its_workers_without_waiting_for_their_work():
    with pytest.raises(RuntimeError, match="stop"):
        with oh.data.worker_pool(2) as pool:
            workers = {pool.submit(os.getpid).result(timeout=60) for _ in range(4)} - {os.getpid()}
            sleeping = [pool.submit(time.sleep, 60) for _ in range(4)]
            time.sleep(3)  # the workers start and take the first two
            raise RuntimeError("stop")
    assert workers, "the pool ran its calls in this process"
    assert all(future.done() for future in sleeping), "leaving the block settles every future"
    assert not any(map(finished_its_work, sleeping)), "the pool waited for the work"
    assert wait_for(lambda: not any(map(alive, workers))), "the workers outlived the pool"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process table from /proc")
def test_shutdown_without_waiting_returns_before_the_work_is_done_and_the_workers_stop():
    pool = oh.data.worker_pool(2)
    workers = {pool.submit(os.getpid).result(timeout=60) for _ in range(4)} - {os.getpid()}
    sleeping = [pool.submit(time.sleep, 60) for _ in range(4)]
    pool.shutdown(wait=False, cancel_futures=True)
    assert not any(map(finished_its_work, sleeping)), "shutdown waited for the work"
    assert workers and wait_for(lambda: not any(map(alive, workers))), "the workers outlived the shutdown"
    assert wait_for(lambda: all(future.done() for future in sleeping))
    assert not any(map(finished_its_work, sleeping)), "a worker finished its sleep after the shutdown"


@pytest.mark.parametrize("workers", [0, -1, 1.5])
def test_worker_pool_refuses_a_count_that_is_not_a_positive_whole_number(workers):
    with pytest.raises(ValueError, match="num_workers must be a positive whole number"):
        oh.data.worker_pool(workers)


def ctrl_c_as_usual():
    """Give the child the default SIGINT, as in a terminal: a shell's background job (`cmd &`) starts ignoring it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process table from /proc")
@pytest.mark.parametrize("whole_group", [True, False], ids=["Ctrl-C in a terminal", "interrupt the main process"])
def test_ctrl_c_stops_the_workers_at_once_and_writes_no_file(whole_group, tmp_path):
    # 100,000 CAPTCHAs are many minutes of work for any machine: an interrupted run that waited for its queued
    # work would still be drawing when `communicate` gives up, so the test fails instead of only taking longer
    code = ("import sys\nimport ocr_helpers as oh\n"
            "oh.load_or_generate_dataset(sys.argv[1], 100_000, seed=5, progress=False)\nprint('finished')\n")
    target = tmp_path / "data" / "set.npz"
    process = subprocess.Popen([sys.executable, "-c", code, str(target)], cwd=tmp_path, start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, preexec_fn=ctrl_c_as_usual)
    try:
        assert wait_for(lambda: len(session_processes(process.pid)) >= 3), "the workers never started"
        time.sleep(1.5)  # the workers are in the middle of their chunks
        assert process.poll() is None, "generation finished before it could be interrupted"
        (os.killpg if whole_group else os.kill)(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode != 0 and "finished" not in stdout and "KeyboardInterrupt" in stderr
    assert wait_for(lambda: not session_processes(process.pid)), "worker processes outlived the interrupt"
    assert not target.parent.exists() or list(target.parent.iterdir()) == []


CPU_MAX = "/sys/fs/cgroup/cpu.max"  # cgroup v2's CPU quota: "QUOTA PERIOD" in microseconds, or "max PERIOD"
CFS_FOLDER = "/sys/fs/cgroup/cpu"  # cgroup v1's: cpu.cfs_quota_us (-1 for none) and cpu.cfs_period_us


def cgroup_cpu_limit(cpu_max=CPU_MAX, cfs_folder=CFS_FOLDER):
    """Return the cores the cgroup's CPU quota allows (v2 cpu.max, else v1's files), rounded up; None without one."""
    v2, v1 = Path(cpu_max), Path(cfs_folder)
    fields = v2.read_text().split() if v2.exists() else []
    if len(fields) != 2 and (v1 / "cpu.cfs_quota_us").exists() and (v1 / "cpu.cfs_period_us").exists():
        fields = [(v1 / name).read_text().strip() for name in ("cpu.cfs_quota_us", "cpu.cfs_period_us")]
    if len(fields) != 2 or fields[0] == "max" or int(fields[0]) <= 0 or int(fields[1]) <= 0:
        return None
    return math.ceil(int(fields[0]) / int(fields[1]))


def cores_allowed():
    """Return the cores this process may use: its CPU affinity, the cgroup's CPU quota and LOKY_MAX_CPU_COUNT."""
    limits = [len(os.sched_getaffinity(0)), cgroup_cpu_limit(), os.environ.get("LOKY_MAX_CPU_COUNT")]
    return max(1, min(int(limit) for limit in limits if limit is not None))


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity")
def test_the_default_worker_count_is_the_cores_this_process_may_use():
    code = ("import os\nimport ocr_helpers as oh\nos.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
            "print(oh.data.default_num_workers())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["1"], done.stderr
    assert oh.data.default_num_workers() == cores_allowed()


def fake_cpu_max(monkeypatch, fake):
    """Make /sys/fs/cgroup/cpu.max exist and read as the file `fake` in this process, as in a container with a quota."""
    real_exists, real_open = os.path.exists, builtins.open

    def redirected(path):
        return fake if path == CPU_MAX else path

    monkeypatch.setattr(os.path, "exists", lambda path: real_exists(redirected(path)))
    monkeypatch.setattr(builtins, "open", lambda path, *args, **kwargs: real_open(redirected(path), *args, **kwargs))


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="needs CPU affinity")
@pytest.mark.parametrize("quota, cores", [("50000 100000", 1), ("100000 100000", 1), ("150000 100000", 2),
                                          ("max 100000", None)])
def test_the_default_worker_count_honours_a_cpu_quota(quota, cores, monkeypatch, tmp_path):
    (tmp_path / "cpu.max").write_text(f"{quota}\n")
    assert cgroup_cpu_limit(tmp_path / "cpu.max", tmp_path / "no cgroup v1") == cores
    monkeypatch.delenv("LOKY_MAX_CPU_COUNT", raising=False)
    fake_cpu_max(monkeypatch, tmp_path / "cpu.max")
    affinity = len(os.sched_getaffinity(0))
    assert oh.data.default_num_workers() == min(affinity, cores or affinity)
