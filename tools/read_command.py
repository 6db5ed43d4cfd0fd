"""`python3 run.py read PATH... [--model MODEL] [--csv OUT]`: print what a trained model reads in image files.

The whole reading command lives here; run.py starts it with the Python in .venv. Each file is fitted to the
model's input size the way notebook 07 fits a folder (`oh.fit_image`); a batch of files goes through the
model in one call and is decoded greedily in NumPy, so an ONNX file needs ONNX Runtime and NumPy alone.
"""

import argparse
import csv
import io
import os
import sys
from pathlib import Path

import numpy as np
from tqdm.std import tqdm

import ocr_helpers as oh
from ocr_helpers.files import atomic_write
from ocr_helpers.folders import IMAGE_SUFFIXES, candidate_files, read_image
from ocr_helpers.greedy import greedy_decode_numpy, log_softmax, reader_charset
from ocr_helpers.labels import check_count

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = ROOT / "artifacts" / "captcha_ocr.keras"  # notebook 06 saves it
PROGRESS_FROM = 100  # a progress bar on stderr for more files than this
PIPE_CLOSED = 141  # the exit code when stdout closes early (`| head`): 128 + SIGPIPE, as a shell gives `cat`
READING_HEADER = ("file", "text", "confidence")


def read_parser():
    """Return the parser of the command's arguments."""
    parser = argparse.ArgumentParser(
        prog="run.py read", description="Print what a trained model reads in CAPTCHA images of any size and colour "
        "mode: one `file<TAB>text<TAB>confidence` row per image on stdout. The confidence (0..1) is the product "
        "over time steps of the largest softmax probability, the probability of the path greedy decoding reads: "
        "check readings with a low one by hand. Files that cannot be decoded are listed on stderr at the end "
        "(exit code 1); a missing model, path or an empty folder stops at once (exit code 2). If stdout closes "
        "early (`| head`), the printing stops quietly, --csv is still written, and the exit code is 141.")
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="an image file, or a folder: its image files (not its subfolders') in name order")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help="the trained model (default: artifacts/captcha_ocr.keras, saved by notebook 06), or "
                        "its ONNX export (artifacts/captcha_ocr.onnx, notebook 08), read without Keras")
    parser.add_argument("--csv", type=Path, metavar="OUT",
                        help="also write the rows to this CSV file, with a file,text,confidence header")
    parser.add_argument("--batch-size", type=int, default=256, help="files decoded and read in one call (256)")
    return parser


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
    """Load a reader: an ONNX file (.onnx) into ONNX Runtime, which needs no Keras, else a .keras file into Keras."""
    return oh.OnnxReader(path) if Path(path).suffix == ".onnx" else oh.load_model(path, compile=False)


def confidences(logits):
    """Return, per image, the product over time steps of the greedy path's largest softmax probability (0..1)."""
    return np.exp(log_softmax(logits).max(axis=-1).sum(axis=-1))


def read_files(model, paths, batch_size=256, progress=False):
    """Return rows (file, text, confidence) read by `model` (Keras or oh.OnnxReader) and failures (file, reason)."""
    check_count(batch_size)
    height, width = model_image_size(model)
    paths = list(paths)
    rows, failures = [], []
    with tqdm(total=len(paths), unit="img", desc="Reading", disable=not progress, file=sys.stderr) as bar:
        for start in range(0, len(paths), batch_size):
            images, files, failed = decode_files(paths[start:start + batch_size], height, width)
            failures += failed
            if images:  # a file that cannot be decoded is listed in the failures; the others are still read
                logits = np.asarray(model.predict_on_batch(np.stack(images)))
                texts = greedy_decode_numpy(logits, reader_charset(model))
                rows += [(file, text, float(sure)) for file, text, sure in zip(files, texts, confidences(logits))]
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


def complain(message):
    """Print why the command stops, on one line of stderr, and return its exit code, 2."""
    print(f"run.py read: {message}", file=sys.stderr, flush=True)
    return 2


def print_rows(rows):
    """Print tab-separated rows on stdout; return False, quietly, if the reader of a pipe closed it (`| head`)."""
    try:
        for row in rows:
            print("\t".join(row))
        sys.stdout.flush()
    except BrokenPipeError:
        # what is left in stdout's buffer goes to os.devnull, so Python's flush at exit raises no second error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return False
    return True


def read_and_print(options):
    """Print a row for each image `options` name, then the files that could not be read; return the exit code."""
    try:
        paths = image_paths(options.paths)
        model = load_reader(options.model)
        rows, failures = read_files(model, paths, options.batch_size, progress=len(paths) > PROGRESS_FROM)
    except (OSError, ValueError) as error:
        return complain(error)
    printed = print_rows(reading_fields(row) for row in rows)
    if options.csv is not None:
        try:
            write_readings_csv(options.csv, rows)
        except OSError as error:
            return complain(f"cannot write the CSV file {options.csv}: {error}")
    for file, reason in failures:
        print(f"run.py read: could not read {file}: {reason}", file=sys.stderr)
    if failures:
        print(f"run.py read: {len(failures)} of {len(paths)} files could not be read (listed above); the other "
              f"{len(rows)} were read.", file=sys.stderr, flush=True)
    if not printed:
        return PIPE_CLOSED
    return 1 if failures else 0


def main(arguments):
    """Parse the arguments (usage errors and --help before Keras loads), then read and print."""
    parser = read_parser()
    options = parser.parse_args(arguments)
    if options.batch_size < 1:
        parser.error(f"--batch-size must be at least 1, got {options.batch_size}")
    return read_and_print(options)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
