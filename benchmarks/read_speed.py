"""Time `python3 run.py read` end to end on a folder of PNG files; print images per second.

    .venv/bin/python benchmarks/read_speed.py [--num-samples 2000] [--model-path artifacts/captcha_ocr.keras]
    .venv/bin/python benchmarks/read_speed.py --model-path artifacts/captcha_ocr.onnx   # notebook 08's export

Draws notebook 06's test CAPTCHAs (oh.generate_dataset(num_samples, seed=7000)), writes them as RGB PNG
files named after their text (oh.export_folder) into a temporary folder, and runs `run.py read` on the
folder with this Python: the time includes starting Python, importing Keras (or, for an .onnx model, ONNX
Runtime), loading the model, decoding and fitting every file and reading it. Then, in this process, it times
the command's read_files (tools/read_command.py) alone on the same files (the model loaded and warmed up) and
the decoding and fitting alone, and prints the share of the files read right (their names are the labels).
"""

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before Keras is imported (here, by package_seconds)

import ocr_helpers as oh

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import read_command  # noqa: E402  (the reading command's code)


def timed(function, *arguments, **options):
    start = time.perf_counter()
    result = function(*arguments, **options)
    return time.perf_counter() - start, result


def command_rows(folder, model):
    """Run `run.py read` on `folder`; return its stdout rows split at tabs."""
    done = subprocess.run([sys.executable, str(ROOT / "run.py"), "read", str(folder), "--model", str(model)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"run.py read exited with {done.returncode}:\n{done.stderr}")
    return [line.split("\t") for line in done.stdout.splitlines()]


def package_seconds(files, model_path):
    """Return the seconds read_command.read_files takes on `files`, and those of decoding and fitting them alone."""
    model = read_command.load_reader(model_path)  # a .keras model, or its ONNX export (notebook 08)
    read_command.read_files(model, files[:8])  # the first call builds the predict function
    reading, _ = timed(read_command.read_files, model, files)
    decoding, _ = timed(read_command.decode_files, files, *read_command.model_image_size(model))
    return reading, decoding


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-samples", type=int, default=2000,
                        help="CAPTCHAs written as PNG files and read (seed 7000, %(default)s)")
    parser.add_argument("--model-path", type=Path, default=ROOT / "artifacts" / "captcha_ocr.keras",
                        help="a .keras model or its .onnx export (%(default)s)")
    options = parser.parse_args()
    if not options.model_path.is_file():
        sys.exit(f"No model at {options.model_path}: run notebook 06 or `python3 run.py reports`, or give "
                 f"--model-path.")
    print(f"machine: {platform.processor() or platform.machine()}, {oh.data.default_num_workers()} cores usable, "
          f"Python {platform.python_version()}; model {options.model_path}")
    images, labels = oh.generate_dataset(options.num_samples, seed=7000, progress=False)
    with tempfile.TemporaryDirectory() as temporary:
        folder = oh.export_folder(Path(temporary) / "captchas", images, labels)
        files = sorted(folder.iterdir())
        seconds, rows = timed(command_rows, folder, options.model_path)
        reading, decoding = package_seconds(files, options.model_path)
    if len(rows) != len(files):
        raise RuntimeError(f"run.py read printed {len(rows)} rows for {len(files)} files.")
    right = sum(oh.folders.label_from_name(Path(file).name) == text for file, text, _ in rows)
    count = len(files)
    print(f"run.py read on {count:,} PNG files: {seconds:.1f} s end to end, {count / seconds:,.0f} images/s "
          f"(starting Python and {'ONNX Runtime' if options.model_path.suffix == '.onnx' else 'Keras'} and loading the "
          f"model included)")
    print(f"oh.read_files alone, the model loaded: {reading:.2f} s, {count / reading:,.0f} images/s "
          f"(decoding included); decoding and fitting alone: {decoding:.2f} s, {count / decoding:,.0f} images/s")
    print(f"read right: {right / count:.2%} of the files")


if __name__ == "__main__":
    main()
