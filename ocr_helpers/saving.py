"""Save a trained model atomically and load it back with Keras' safe mode on (taught in notebook 04)."""

import contextlib
import os
import tempfile
import zipfile
from pathlib import Path

import keras

from .files import FILE_MODE
from . import ctc  # noqa: F401  (registers CTCLoss, so a compiled model loads without custom_objects)


def check_model_path(path):
    """Return `path` as a Path after checking it ends in .keras, the only format saved here."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"Save models as .keras files, got {str(path)!r}: use a name such as 'captcha_ocr.keras'.")
    return path


def save_model(model, path):
    """Save `model` to a .keras file; a failed save leaves any earlier file at `path` untouched."""
    path = check_model_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".partial.keras", dir=path.parent)
    os.close(descriptor)
    try:
        model.save(temporary)
        with open(temporary, "rb") as file:
            os.fsync(file.fileno())
        os.chmod(temporary, FILE_MODE)  # mkstemp makes files private; give the usual permissions
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise
    return path


def corrupt_model_error(path, detail):
    """Return the ValueError for a model file that cannot be read back, saying to delete it and save it again."""
    return ValueError(f"The model file {path} is truncated or corrupt ({detail}): "
                      f"delete it and save or train the model again.")


def check_archive(path):
    """Raise ValueError if the .keras file is not a complete zip archive whose checksums all match."""
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        damaged = f"{type(error).__name__}: {error}"
    if damaged is not None:
        raise corrupt_model_error(path, f"bad entry: {damaged}")


def load_model(path, compile=True):
    """Load a model saved by save_model, with safe_mode on, so no Python code hidden in the file can run."""
    path = check_model_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No model at {path}: train one first (notebook 04 or 06, or "
                                f"`python3 run.py reports`), or check the path.")
    check_archive(path)
    try:
        return keras.saving.load_model(path, compile=compile, safe_mode=True)
    except (zipfile.BadZipFile, EOFError, KeyError, OSError) as error:
        raise corrupt_model_error(path, f"{type(error).__name__}: {error}") from error
