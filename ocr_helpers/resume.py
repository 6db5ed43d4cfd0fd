"""Continue an interrupted training where it stopped, with Keras' own callbacks (notebook 06)."""

import csv
import json
import math
import shutil
from pathlib import Path

from .files import atomic_write

STATE_NAME = "state"  # BackupAndRestore's own folder, kept until the final model is saved
BEST_NAME = "best.keras"
STAGED_BEST_NAME = "best.partial.keras"  # ModelCheckpoint writes here; MoveIntoPlace moves it onto best.keras
LOG_NAME = "epochs.csv"
SETTINGS_NAME = "settings.json"
TRAINING_NAMES = (STATE_NAME, BEST_NAME, STAGED_BEST_NAME, LOG_NAME, SETTINGS_NAME)  # all that training writes
MADE_KEY = "made_folder"  # in settings.json: True if training made the folder, so it may delete it when done
KERAS_WRITTEN_FOR = "3.15"  # the Keras whose BackupAndRestore files `backup_epoch` reads


def backup_epoch(state_folder):
    """Return the epochs a BackupAndRestore folder holds, from Keras' `training_metadata.json`, or None."""
    path = Path(state_folder) / "training_metadata.json"  # Keras 3.15's own file, undocumented: a unit test checks it
    return json.loads(path.read_text())["epoch"] if path.is_file() else None


def is_training_entry(name):
    """Return True if a file or folder called `name` is one training writes (or a half-written copy of one)."""
    return name in TRAINING_NAMES or (name.startswith(f".{SETTINGS_NAME}.") and name.endswith(".partial"))


def check_training_folder(folder, keep=()):
    """Raise ValueError if `folder` holds anything but training's own files and the paths in `keep`."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"The training folder {folder} is a file: give backup_dir a folder of its own.")
    if not folder.is_dir():
        return
    kept = {Path(path).resolve() for path in keep if path is not None}
    unknown = sorted(entry.name for entry in folder.iterdir()
                     if not is_training_entry(entry.name) and entry.resolve() not in kept)
    if unknown:
        more = f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
        raise ValueError(f"The training folder {folder} holds files training did not write "
                         f"({', '.join(unknown[:3])}{more}). Training keeps its backup there and deletes it when "
                         f"done, so nothing was touched: give backup_dir a folder of its own, such as "
                         f"{folder / 'training_backup'}.")


def check_same_settings(saved, wanted, folder):
    """Raise ValueError naming each setting that differs between a backup and the run that wants to continue it."""
    differences = [f"{name} {saved.get(name)!r} in the backup, {value!r} now"
                   for name, value in wanted.items() if saved.get(name) != value]
    if differences:
        raise ValueError(f"The training backup in {folder} was made with other settings ({'; '.join(differences)}). "
                         f"Continue it with the same settings, or delete the folder {folder} to start again.")


def has_backup(folder):
    """Return True if `folder` holds a BackupAndRestore backup of at least one finished epoch."""
    return backup_epoch(Path(folder) / STATE_NAME) is not None


def read_log(path):
    """Return {column: [value per epoch]} from a CSVLogger file, keeping the last whole row written for each epoch."""
    path = Path(path)
    if not path.is_file():
        return {}
    with open(path, newline="") as file:
        rows = {int(row["epoch"]): row for row in csv.DictReader(file)
                if None not in row.values() and "" not in row.values()}  # a row cut short by a full disk: skipped
    columns = {}
    for epoch in sorted(rows):
        for name, value in rows[epoch].items():
            if name != "epoch":
                columns.setdefault(name, []).append(float(value))
    return columns


def read_settings(folder):
    """Return the settings recorded in `folder`, or {} if there are none."""
    path = Path(folder) / SETTINGS_NAME
    return json.loads(path.read_text()) if path.is_file() else {}


def start_or_continue(folder, settings, monitor="val_rank", keep=()):
    """Prepare `folder` for a run with `settings`; return the best `monitor` value of the epochs done, or None."""
    folder = Path(folder)
    check_training_folder(folder, keep)
    if has_backup(folder):
        check_same_settings(read_settings(folder), settings, folder)
        if (folder / STAGED_BEST_NAME).exists():  # the run stopped while saving a best epoch: that save is lost
            (folder / STAGED_BEST_NAME).unlink()
        values = [value for value in read_log(folder / LOG_NAME).get(monitor, []) if math.isfinite(value)]
        return max(values, default=None)
    made = not folder.exists() or read_settings(folder).get(MADE_KEY, False)
    delete_training_files(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_write(folder / SETTINGS_NAME, "w") as file:
        json.dump(dict(settings, **{MADE_KEY: made}), file, indent=1)
    return None


def delete_training_files(folder):
    """Delete the files training writes in `folder`, the backup first and the settings last, nothing else."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    for entry in sorted(folder.iterdir(), key=lambda entry: {STATE_NAME: 0, SETTINGS_NAME: 2}.get(entry.name, 1)):
        if not is_training_entry(entry.name):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def clear_training_folder(folder):
    """Delete what training wrote in `folder`, and the folder if training made it and it is left empty."""
    folder = Path(folder)
    made = read_settings(folder).get(MADE_KEY, False)
    delete_training_files(folder)
    if made and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def epochs_done(folder):
    """Return how many epochs the backup in `folder` holds (0 without one)."""
    return backup_epoch(Path(folder) / STATE_NAME) or 0
