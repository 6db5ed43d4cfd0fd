"""Run notebook 07 at its defaults on an exported folder of practice CAPTCHAs, and print what it measured.

    .venv/bin/python benchmarks/own_captchas.py                                   # 200x50, 5 of 19 characters
    .venv/bin/python benchmarks/own_captchas.py --height 40 --width 150 --label-length 4 --charset 0123456789abcdef

It draws the folder with oh.draw_real_looking (a line and a blur over the text), writes it with
oh.export_folder into build/, executes notebooks/07_your_own_captchas.ipynb on it with papermill
(`folder` set, every other parameter at its default), and prints the notebook's wall time, the two
training times and the held-out figures of the model trained from scratch and of the fine-tuned one.
"""

import argparse
import os
import platform
import shutil
import time
from pathlib import Path

import nbformat
import papermill

import ocr_helpers as oh

ROOT = Path(__file__).resolve().parents[1]


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-samples", type=int, default=500, help="CAPTCHAs in the exported folder (%(default)s)")
    parser.add_argument("--height", type=int, default=50, help="their height in pixels (%(default)s)")
    parser.add_argument("--width", type=int, default=200, help="their width in pixels (%(default)s)")
    parser.add_argument("--charset", default="2345678bcdefgmnpwxy", help="their characters (%(default)s)")
    parser.add_argument("--label-length", type=int, default=5, help="characters in each (%(default)s)")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the folder (%(default)s)")
    return parser.parse_args()


def printed(notebook, starts_with):
    """Return the text a code cell of an executed notebook printed or showed, found by how its source starts."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.source.startswith(starts_with):
            return "".join(output.get("text", "") or output.get("data", {}).get("text/plain", "")
                           for output in cell.outputs).strip()
    raise ValueError(f"No cell starting with {starts_with!r}: has notebook 07 changed?")


def main():
    arguments = parse_arguments()
    name = f"{arguments.width}x{arguments.height}_{arguments.label_length}_of_{len(arguments.charset)}"
    folder = ROOT / "build" / "own_captchas" / name
    shutil.rmtree(folder, ignore_errors=True)
    images, labels = oh.draw_real_looking(arguments.num_samples, arguments.seed, arguments.charset,
                                          arguments.label_length, arguments.height, arguments.width)
    oh.export_folder(folder, images, labels)
    output = folder.parent / f"{name}.ipynb"
    start = time.perf_counter()
    papermill.execute_notebook(ROOT / "notebooks" / "07_your_own_captchas.ipynb", output,
                               parameters={"folder": str(folder)}, cwd=ROOT / "notebooks", progress_bar=False)
    minutes = (time.perf_counter() - start) / 60
    executed = nbformat.read(output, as_version=4)
    print(f"{platform.machine()}, {os.cpu_count()} cores; {arguments.num_samples} CAPTCHAs {arguments.width}x"
          f"{arguments.height}, {arguments.label_length} characters of {arguments.charset!r}")
    print(f"notebook 07 ran in {minutes:.1f} min; executed copy: {output}")
    print(printed(executed, "keras.utils.set_random_seed(seed)\nscratch_model"))
    print(printed(executed, "start = time.perf_counter()\nfinetuned_history"))
    print(printed(executed, "readings = "))


if __name__ == "__main__":
    main()
