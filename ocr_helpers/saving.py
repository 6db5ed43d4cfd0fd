"""Save a trained model atomically and load it back with Keras' safe mode on (taught in notebook 04)."""

import zipfile
from pathlib import Path

import keras

from .files import atomic_path
from . import ctc  # noqa: F401  (registers CTCLoss, so a compiled model loads without custom_objects)
from .model import model_charset


def check_model_path(path):
    """Return `path` as a Path after checking it ends in .keras, the only format saved here."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"Save models as .keras files, got {str(path)!r}: use a name such as 'captcha_ocr.keras'.")
    return path


def save_model(model, path):
    """Save `model` to a .keras file; a failed save leaves any earlier file at `path` untouched."""
    path = check_model_path(path)
    with atomic_path(path) as temporary:
        model.save(temporary)
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


def scales_its_pixels(model):
    """Return True if the model has a Rescaling layer, so it reads uint8 pixels 0..255 itself."""
    return any(isinstance(layer, keras.layers.Rescaling) for layer in model.layers)


def with_rescaling(model):
    """Return a model that takes uint8 images and scales them for `model`, saved before pixels were scaled inside."""
    images = keras.Input(model.input_shape[1:], dtype="uint8", name="images")
    scaled = keras.layers.Rescaling(1 / 255, name="scale_pixels")(images)
    return keras.Model(images, model(scaled), name=model.name)


def check_reader(model, path):
    """Raise ValueError unless `model` reads grayscale images (N, height, width) into logits (N, steps, classes)."""
    if len(model.input_shape) != 3 or len(model.output_shape) != 3:
        raise ValueError(f"The model in {path} takes inputs of shape {model.input_shape} and returns "
                         f"{model.output_shape}: a CAPTCHA reader here takes grayscale images (N, height, width) "
                         f"and returns logits (N, time_steps, classes). Was it made by another program?")
    try:
        model_charset(model)
    except ValueError as error:
        raise ValueError(f"The model in {path} cannot be used as a reader: {error}") from None


def load_model(path, compile=True):
    """Load a model saved by save_model with safe_mode on, wrapped to take uint8 images if it was saved before."""
    path = check_model_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No model at {path}: train one first (notebook 04 or 06, or "
                                f"`python3 run.py reports`), or check the path.")
    check_archive(path)
    try:
        model = keras.saving.load_model(path, compile=compile, safe_mode=True)
    except (zipfile.BadZipFile, EOFError, KeyError, OSError) as error:
        raise corrupt_model_error(path, f"{type(error).__name__}: {error}") from error
    check_reader(model, path)
    if getattr(model, "optimizer", None) is not None:
        # The file keeps the XLA choice of the backend it was compiled on (TensorFlow's is off for this model,
        # and JAX then runs every step eagerly, ~100x slower): compile again to let this backend choose.
        model.compile(optimizer=model.optimizer, loss=model.loss, jit_compile="auto")
    return model if scales_its_pixels(model) else with_rescaling(model)
