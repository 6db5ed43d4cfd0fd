"""Time CAPTCHA generation and dataset loading; print the figures the README quotes.

    .venv/bin/python benchmarks/generation_speed.py [--num-samples 10000]

Compares the common single-process loop (a new ImageCaptcha per image, pixels as floats)
with oh.generate_dataset on one worker and on every core, times what starting the worker
processes costs every parallel call, then saves the dataset and times oh.load_dataset on it
(best of three loads).
"""

import argparse
import platform
import tempfile
import time
from pathlib import Path

import ocr_helpers as oh


def timed(function, *arguments, **options):
    start = time.perf_counter()
    result = function(*arguments, **options)
    return time.perf_counter() - start, result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-samples", type=int, default=10_000, help="CAPTCHAs drawn by each way (%(default)s)")
    options = parser.parse_args()
    count = options.num_samples
    cores = oh.data.default_num_workers()
    print(f"machine: {platform.processor() or platform.machine()}, {cores} cores usable, Python {platform.python_version()}")

    loop_seconds, _ = timed(oh.data.generate_in_one_loop, count)
    one_seconds, _ = timed(oh.generate_dataset, count, seed=0, num_workers=1, progress=False)
    pool_seconds, (images, labels) = timed(oh.generate_dataset, count, seed=0, progress=False)
    rows = [("single-process loop (baseline)", loop_seconds), ("oh.generate_dataset, 1 worker", one_seconds),
            (f"oh.generate_dataset, {cores} workers", pool_seconds)]
    for name, seconds in rows:
        print(f"{name:36s} {seconds:6.1f} s  {1000 * seconds / count:5.2f} ms/image  "
              f"{loop_seconds / seconds:4.2f}x the baseline")
    startup_seconds = min(timed(oh.generate_dataset, cores, seed=0, progress=False)[0] for _ in range(3))
    print(f"starting {cores} workers (oh.generate_dataset of {cores} images, best of 3): {startup_seconds:.2f} s")

    with tempfile.TemporaryDirectory() as folder:
        path = oh.save_dataset(Path(folder) / "set.npz", images, labels)
        load_seconds = min(timed(oh.load_dataset, path)[0] for _ in range(3))
        print(f"oh.load_dataset of {count:,} images ({path.stat().st_size / 2**20:.0f} MiB): {load_seconds:.2f} s")


if __name__ == "__main__":
    main()
