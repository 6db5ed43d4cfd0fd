"""Export a trained reader to ONNX with its character set, and read it in ONNX Runtime (notebook 08)."""

import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from .files import atomic_path

CHARSET_KEY = "charset"  # the ONNX metadata entry that holds the model's character set


def check_onnx_path(path):
    """Return `path` as a Path after checking it ends in .onnx."""
    path = Path(path)
    if path.suffix != ".onnx":
        raise ValueError(f"Give ONNX files a name ending in .onnx, got {str(path)!r}: for example "
                         f"'captcha_ocr.onnx'.")
    return path


def write_onnx(model, onnx_path):
    """Write the logits model to `onnx_path` with Keras' own `model.export`, on TensorFlow in a TensorFlow process."""
    import keras

    if keras.backend.backend() == "tensorflow":
        (images,) = model.inputs  # a signature, so that a model loaded and not yet called exports too
        signature = [keras.InputSpec(shape=images.shape, dtype=images.dtype, name="images")]
        with warnings.catch_warnings():  # Keras' tf2onnx patch asks NumPy for `np.object`, which warns
            warnings.simplefilter("ignore", FutureWarning)
            model.export(onnx_path, format="onnx", verbose=False, input_signature=signature)
        return
    from .saving import save_model

    with tempfile.TemporaryDirectory() as scratch:  # converted by `main` below in a TensorFlow process
        keras_path = save_model(model, Path(scratch) / "reader.keras")
        done = subprocess.run([sys.executable, "-m", "ocr_helpers.exporting", str(keras_path), str(onnx_path)],
                              env=dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3"),
                              capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"Converting {keras_path} to ONNX on TensorFlow failed:\n{done.stderr[-2000:]}")


def export_onnx(model, path):
    """Export a reader to an ONNX file that carries its character set, whole or not at all; return the path."""
    import onnx

    from .model import model_charset

    path = check_onnx_path(path)
    charset = model_charset(model)
    with atomic_path(path) as partial:
        write_onnx(model, partial)
        graph = onnx.load(partial)
        onnx.helper.set_model_props(graph, {CHARSET_KEY: charset})
        onnx.save(graph, partial)
    return path


class OnnxReader:
    """A reader exported by `export_onnx`, run by ONNX Runtime: a `charset`, and logits from `predict_on_batch`."""

    def __init__(self, path, threads=None):
        import onnxruntime

        path = check_onnx_path(path)
        if not path.is_file():
            raise FileNotFoundError(f"No ONNX file at {path}: export one with oh.export_onnx(model, path) "
                                    f"(notebook 08), or check the path.")
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only: no notes about initializers it removed
        if threads is not None:
            options.intra_op_num_threads = threads
        try:
            self.session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        except Exception as error:  # noqa: BLE001  (onnxruntime raises its own exception types)
            raise ValueError(f"ONNX Runtime cannot load {path} ({type(error).__name__}): is it a complete file "
                             f"written by oh.export_onnx? Export it again.") from error
        metadata = self.session.get_modelmeta().custom_metadata_map
        if CHARSET_KEY not in metadata:
            raise ValueError(f"The ONNX file {path} carries no character set: export it with oh.export_onnx, "
                             f"which stores it, rather than with model.export alone.")
        self.path, self.name, self.charset = path, path.stem, metadata[CHARSET_KEY]
        (self.input,) = self.session.get_inputs()
        self.input_shape = (None, *self.input.shape[1:])

    def predict_on_batch(self, images):
        """Return the logits (N, time_steps, classes) of uint8 images (N, height, width)."""
        return self.session.run(None, {self.input.name: np.asarray(images, dtype=np.uint8)})[0]

    def __repr__(self):
        return f"OnnxReader({str(self.path)!r}, charset={self.charset!r})"


def main(keras_path, onnx_path):
    """Convert a .keras reader to ONNX with `model.export`; run with KERAS_BACKEND=tensorflow."""
    from .saving import load_model

    write_onnx(load_model(keras_path, compile=False), onnx_path)


if __name__ == "__main__":
    main(*sys.argv[1:])
