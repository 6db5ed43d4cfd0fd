"""Continue an interrupted training where it stopped, with the same result as a run that was never stopped.

After every epoch `TrainingBackup` writes one file, atomically, holding everything the next epoch depends on:
the model's variables (weights, batch-norm statistics and the dropout's random state), the optimizer's
(its step count, which drives the schedule, and Adam's moments), the best epoch's weights, and the history.
`oh.train(..., backup_dir=...)` reads it back and starts the data at the batch where the file left off.
"""

import json
import math
from pathlib import Path

import keras
import numpy as np

from .data import read_npz
from .files import atomic_write

BACKUP_FORMAT = "ocr_helpers training backup 1"
BACKUP_NAME = "training_state.npz"


def backup_path(backup_dir):
    """Return the file inside `backup_dir` that holds the training state."""
    return Path(backup_dir) / BACKUP_NAME


def variable_arrays(variables, prefix):
    """Return {prefix/i: value} for a list of Keras variables."""
    return {f"{prefix}/{index}": keras.ops.convert_to_numpy(variable) for index, variable in enumerate(variables)}


def save_training_state(path, model, best_weights, record):
    """Write the model's and optimizer's variables, the best weights and `record` (a JSON-able dict) atomically."""
    arrays = {**variable_arrays(model.variables, "model"), **variable_arrays(model.optimizer.variables, "optimizer")}
    arrays.update({f"best/{index}": weights for index, weights in enumerate(best_weights or [])})
    with atomic_write(path) as file:
        np.savez(file, record=np.array(json.dumps({"format": BACKUP_FORMAT, **record})), **arrays)


def read_backup(saved):
    """Return (record, {name: array}) from the arrays of a file written by save_training_state."""
    arrays = {name: saved[name] for name in saved.files}
    return json.loads(arrays.pop("record").item()), arrays


def load_training_state(path):
    """Return (record, {name: array}) from a file written by save_training_state."""
    path = Path(path)
    start_again = f"delete the folder {path.parent} to train from the first epoch again."
    record, arrays = read_npz(path, read_backup, "training backup", start_again)
    if record.get("format") != BACKUP_FORMAT:
        raise ValueError(f"The training backup {path} is not a backup written by ocr_helpers: {start_again}")
    return record, arrays


def saved_list(arrays, prefix):
    """Return the arrays named prefix/0, prefix/1, ... in order."""
    return [arrays[f"{prefix}/{index}"] for index in range(sum(name.startswith(f"{prefix}/") for name in arrays))]


def assign_all(variables, values, what, path):
    """Assign `values` to `variables`, after checking that they match one for one in shape."""
    shapes = [tuple(variable.shape) for variable in variables]
    if shapes != [value.shape for value in values]:
        raise ValueError(f"The training backup {path} holds {what} of another shape ({len(values)} arrays for "
                         f"{len(shapes)} variables): it belongs to another model. Delete the folder {path.parent} "
                         f"or build the model it was made with.")
    for variable, value in zip(variables, values):
        variable.assign(value)


def check_same_settings(saved, wanted, path):
    """Raise ValueError naming each setting that differs between a backup and the run that wants to continue it."""
    differences = [f"{name} {saved.get(name)!r} in the backup, {value!r} now"
                   for name, value in wanted.items() if saved.get(name) != value]
    if differences:
        raise ValueError(f"The training backup {path} was made with other settings ({'; '.join(differences)}). "
                         f"Continue it with the same settings, or delete the folder {path.parent} to start again.")


def restore_training_state(model, path, settings):
    """Load the backup at `path` into the compiled `model` and its optimizer; return the backup's record."""
    record, arrays = load_training_state(path)
    check_same_settings(record["settings"], settings, path)
    model.optimizer.build(model.trainable_variables)
    assign_all(model.variables, saved_list(arrays, "model"), "model variables", path)
    assign_all(model.optimizer.variables, saved_list(arrays, "optimizer"), "optimizer variables", path)
    record["best_weights"] = saved_list(arrays, "best") or None
    return record


class TrainingBackup(keras.callbacks.Callback):
    """Record each epoch's figures; with a `path`, also save the whole training state there after every epoch.

    `checkpoint` is the run's BestCheckpoint, whose best epoch is saved with the state. An epoch whose loss
    is NaN is not saved, so the backup always holds the last healthy epoch.
    """

    def __init__(self, path, settings, checkpoint, history=None, stopped=False):
        super().__init__()
        self.path, self.settings, self.checkpoint = path, settings, checkpoint
        self.history = {name: list(values) for name, values in (history or {}).items()}
        self.stopped = stopped

    @property
    def epochs_done(self):
        return len(self.history.get("loss", []))

    def on_epoch_end(self, epoch, logs=None):
        if not math.isfinite(float(logs.get("loss", math.nan))):
            return
        for name, value in logs.items():
            self.history.setdefault(name, []).append(float(value))
        self.stopped = bool(getattr(self.model, "stop_training", False))
        if self.path is None:
            return
        checkpoint = self.checkpoint
        record = {"settings": self.settings, "epochs_done": self.epochs_done, "history": self.history,
                  "stopped": self.stopped, "best": checkpoint.best, "best_epoch": checkpoint.best_epoch}
        save_training_state(self.path, self.model, checkpoint.best_weights, record)
