"""Read image files of any size with a trained model, and say how sure it is (`python3 run.py read`).

Each file is fitted to the model's input size the way notebook 07 fits a folder (`oh.read_image`, which
calls `oh.fit_image`: grayscale, scaled to fit with its aspect ratio kept, padded with its background);
then a batch of files goes through the model in one call and is decoded greedily, in NumPy. Keras is
imported only to load a .keras model; an ONNX file exported by notebook 08 is read with ONNX Runtime and
NumPy alone, which start in a fraction of the time.
"""

import csv
import io
import sys
from pathlib import Path

import numpy as np
from tqdm.std import tqdm

from .exporting import reader_charset
from .files import atomic_write
from .greedy import confidences, greedy_texts
from .folders import IMAGE_SUFFIXES, candidate_files, read_image
from .labels import check_batch_size

READING_HEADER = ("file", "text", "confidence")


def folder_images(folder):
    """Return the image files of `folder` sorted by name (not its subfolders'); ValueError, naming it, if none."""
    names = [name for name, _ in candidate_files(folder, None) if Path(name).suffix.lower() in IMAGE_SUFFIXES]
    if not names:
        raise ValueError(f"The folder {folder} holds no image files ({' '.join(IMAGE_SUFFIXES)}; subfolders are "
                         f"not searched): give a folder of CAPTCHA images, or the image files themselves.")
    return [folder / name for name in names]


def image_paths(paths):
    """Return the image files `paths` name, in order and each once: a file as given, a folder's image files."""
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found += folder_images(path)
        elif path.exists():
            found.append(path)
        else:
            raise FileNotFoundError(f"No file or folder at {path}: check the path; give image files, or folders "
                                    f"that hold them.")
    if not found:
        raise ValueError("No paths given: name at least one image file or folder of images.")
    return list(dict.fromkeys(found))


def model_image_size(model):
    """Return the (height, width) of the images `model` reads, from its input shape."""
    height, width = model.input_shape[1:3]
    if height is None or width is None:
        raise ValueError(f"The model {model.name!r} takes images of shape {model.input_shape[1:]}: files are "
                         f"fitted to the model's size, so build it for a fixed height and width.")
    return height, width


def decode_files(paths, height, width):
    """Return (images, files read, failures (file, reason)) for image files fitted to (height, width)."""
    images, files, failures = [], [], []
    for path in paths:
        try:
            images.append(read_image(path, height, width))
            files.append(str(path))
        except ValueError as error:
            failures.append((str(path), str(error)))
    return images, files, failures


def load_reader(path):
    """Load a reader for `read_files`: an ONNX file (.onnx) into ONNX Runtime, else a .keras file into Keras."""
    from .exporting import OnnxReader

    if Path(path).suffix == ".onnx":
        return OnnxReader(path)
    from .saving import load_model

    return load_model(path, compile=False)


def read_images(model, images):
    """Return (greedy texts, confidences) of fitted uint8 images (N, height, width): one `predict` call."""
    logits = np.asarray(model.predict_on_batch(np.stack(images)))
    return greedy_texts(logits, reader_charset(model)), confidences(logits)


def read_files(model, paths, batch_size=256, progress=False):
    """Read image files with `model` (a Keras model or an oh.OnnxReader); return rows (file, text, confidence)
    and failures (file, reason).

    `batch_size` files are decoded, then read in one call; the text is the greedy reading, the confidence
    the product over time steps of the greedy path's largest softmax probability (see `confidences`). A
    file that cannot be decoded is left out of the rows and listed in the failures with the reason; the
    other files are still read. `progress` shows a bar on stderr.
    """
    check_batch_size(batch_size)
    height, width = model_image_size(model)
    paths = list(paths)
    rows, failures = [], []
    with tqdm(total=len(paths), unit="img", desc="Reading", disable=not progress, file=sys.stderr) as bar:
        for start in range(0, len(paths), batch_size):
            images, files, failed = decode_files(paths[start:start + batch_size], height, width)
            failures += failed
            if images:
                texts, sure = read_images(model, images)
                rows += [(file, text, float(confidence)) for file, text, confidence in zip(files, texts, sure)]
            bar.update(len(files) + len(failed))
    return rows, failures


def reading_fields(row):
    """Return a row (file, text, confidence) as the strings printed and written: confidence with 4 decimals."""
    file, text, confidence = row
    return str(file), text, f"{confidence:.4f}"


def write_readings_csv(path, rows):
    """Write rows (file, text, confidence) to a CSV file with a `file,text,confidence` header, atomically."""
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(READING_HEADER)
    writer.writerows(reading_fields(row) for row in rows)
    with atomic_write(path) as file:
        file.write(table.getvalue().encode("utf-8"))
    return Path(path)
