"""Continue an interrupted training where it stopped, with Keras' own callbacks (taught in notebook 06).

A training folder holds what `keras.callbacks.BackupAndRestore` saves after every epoch (in `state/`: the
weights and the optimizer), the best epoch that `ModelCheckpoint` keeps (`best.keras`), the figures of every
epoch that `CSVLogger` appends (`epochs.csv`), and the settings the run was started with (`settings.json`), so
that a backup is never continued with other ones.
"""

import csv
import json
import math
import shutil
from pathlib import Path

from .files import atomic_write

STATE_NAME = "state"  # BackupAndRestore's own folder, which it deletes when training ends
BEST_NAME = "best.keras"
LOG_NAME = "epochs.csv"
SETTINGS_NAME = "settings.json"


def check_same_settings(saved, wanted, folder):
    """Raise ValueError naming each setting that differs between a backup and the run that wants to continue it."""
    differences = [f"{name} {saved.get(name)!r} in the backup, {value!r} now"
                   for name, value in wanted.items() if saved.get(name) != value]
    if differences:
        raise ValueError(f"The training backup in {folder} was made with other settings ({'; '.join(differences)}). "
                         f"Continue it with the same settings, or delete the folder {folder} to start again.")


def has_backup(folder):
    """Return True if `folder` holds a BackupAndRestore backup of at least one finished epoch."""
    return (Path(folder) / STATE_NAME / "training_metadata.json").is_file()


def read_log(path):
    """Return {column: [value per epoch]} from a CSVLogger file, keeping the last row written for each epoch."""
    path = Path(path)
    if not path.is_file():
        return {}
    with open(path, newline="") as file:
        rows = {int(row["epoch"]): row for row in csv.DictReader(file)}
    columns = {}
    for epoch in sorted(rows):
        for name, value in rows[epoch].items():
            if name != "epoch":
                columns.setdefault(name, []).append(float(value))
    return columns


def start_or_continue(folder, settings, monitor="val_accuracy"):
    """Prepare `folder` for a run with `settings`; return the best `monitor` value of the epochs already done.

    With a backup in the folder, check that it was made with the same settings and return the best value its
    epochs reached (for ModelCheckpoint's initial_value_threshold), or None. Without one, start afresh: empty
    the folder, record the settings, and return None.
    """
    folder = Path(folder)
    settings_path = folder / SETTINGS_NAME
    if has_backup(folder):
        saved = json.loads(settings_path.read_text()) if settings_path.is_file() else {}
        check_same_settings(saved, settings, folder)
        values = [value for value in read_log(folder / LOG_NAME).get(monitor, []) if math.isfinite(value)]
        return max(values, default=None)
    if folder.is_dir():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    with atomic_write(settings_path, "w") as file:
        json.dump(settings, file, indent=1)
    return None


def epochs_done(folder):
    """Return how many epochs the backup in `folder` holds (0 without one)."""
    path = Path(folder) / STATE_NAME / "training_metadata.json"
    return json.loads(path.read_text())["epoch"] if path.is_file() else 0
