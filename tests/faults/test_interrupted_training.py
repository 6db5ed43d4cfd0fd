"""Kill a training run part-way, run it again, and check it ends exactly where an uninterrupted run ends.

Each run is a separate process (training_run.py), as after a crash, a kernel restart or a kill at minute 70.
A stopped run continued in a new process must match the uninterrupted one exactly: byte-identical data, identical
losses, weights and predictions, which also checks that a run repeats from its seed.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import ocr_helpers as oh

SCRIPT = Path(__file__).with_name("training_run.py")


def start_run(out, *options):
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONHASHSEED="0")
    return subprocess.Popen([sys.executable, str(SCRIPT), str(out), *options], env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=ctrl_c_as_usual)


def ctrl_c_as_usual():
    """Give the child the default SIGINT, as in a terminal: a shell's background job (`cmd &`) starts ignoring it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def finish_run(out, *options):
    process = start_run(out, *options)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    return output


def read_run(out):
    with np.load(out / "final_state.npz") as saved:
        final_state = [saved[name] for name in saved.files]
    return {"data": (out / "data.npz").read_bytes(), "history": json.loads((out / "history.json").read_text()),
            "logits": np.load(out / "logits.npy"), "final_state": final_state,
            "model": oh.load_model(out / "model.keras").get_weights()}


def assert_same_arrays(first, second):
    assert len(first) == len(second)
    for left, right in zip(first, second):
        np.testing.assert_array_equal(left, right)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    finish_run(out)
    return read_run(out)


def interrupt(out, signal_number, *options):
    """Start a run with `options`, wait until it pauses where they say, send it `signal_number`; return its output."""
    process = start_run(out, *options)
    while not (out / "paused").exists():  # the run reaches its pause, or ends and fails the test
        assert process.poll() is None, f"the run ended before its pause: {process.communicate()[0]}"
        time.sleep(0.1)
    process.send_signal(signal_number)
    output, _ = process.communicate(timeout=60)
    assert process.returncode != 0, output
    return output


@pytest.mark.parametrize("signal_number", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT (Ctrl-C)"])
def test_a_run_killed_in_epoch_3_continues_and_ends_like_an_uninterrupted_one(uninterrupted, tmp_path,
                                                                             signal_number):
    (tmp_path / "model.keras").write_bytes(b"the previous model")
    output = interrupt(tmp_path, signal_number, "--pause-in-epoch", "3")
    if signal_number == signal.SIGINT:
        assert "Interrupted. Finished epochs saved in" in output and ": 2 of 5." in output
    assert oh.resume.epochs_done(tmp_path / "backup") == 2, "the backup holds the last finished epoch"
    assert len(oh.read_log(tmp_path / "backup" / oh.resume.LOG_NAME)["loss"]) == 2, "and the figures of those two"
    assert (tmp_path / "model.keras").read_bytes() == b"the previous model", "an unfinished run keeps the old model"

    output = finish_run(tmp_path)
    assert "Continuing the training saved in" in output and "2 of 5 epochs were done" in output
    resumed = read_run(tmp_path)
    # the two processes that trained it drew their own copy of the data: a run repeats, byte for byte
    assert resumed["data"] == uninterrupted["data"], "the saved dataset must be byte-identical"
    assert resumed["history"] == uninterrupted["history"], "losses and reading figures must repeat exactly"
    assert len(set(uninterrupted["history"]["loss"])) == 5, "five epochs of real training, each loss different"
    assert_same_arrays(resumed["final_state"], uninterrupted["final_state"])
    assert_same_arrays(resumed["model"], uninterrupted["model"])
    np.testing.assert_array_equal(resumed["logits"], uninterrupted["logits"])
    assert not (tmp_path / "backup").exists(), "a finished run removes its backup"


@pytest.mark.parametrize("name, from_epoch, epochs_kept", [
    ("latest.weights.h5", 3, 2),  # BackupAndRestore's backup of epoch 3: Keras keeps the one before
    ("best.partial.keras", 1, 0),  # ModelCheckpoint's first best epoch, before MoveIntoPlace moves it
    (".model.keras.", 1, 5),  # oh.save_model's temporary copy of the final model, after the last epoch
], ids=["backup", "best model", "final model"])
def test_a_run_killed_while_saving_keeps_the_old_model_and_continues_like_an_uninterrupted_one(
        uninterrupted, tmp_path, name, from_epoch, epochs_kept):
    (tmp_path / "model.keras").write_bytes(b"the previous model")
    interrupt(tmp_path, signal.SIGKILL, "--pause-in-save", name, "--from-epoch", str(from_epoch))
    assert (tmp_path / "model.keras").read_bytes() == b"the previous model", "the old model stays whole"
    assert oh.resume.epochs_done(tmp_path / "backup") == epochs_kept, "the last good backup is kept"
    output = finish_run(tmp_path)
    assert "corrupt" not in output
    resumed = read_run(tmp_path)
    assert resumed["history"] == uninterrupted["history"]
    assert_same_arrays(resumed["model"], uninterrupted["model"])
    np.testing.assert_array_equal(resumed["logits"], uninterrupted["logits"])
    assert not (tmp_path / "backup").exists(), "a finished run removes the backup folder it made"
