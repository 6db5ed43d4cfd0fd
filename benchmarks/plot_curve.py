"""Draw the accuracy-against-minutes curve that benchmarks/long_run.py wrote, for the README.

    .venv/bin/python benchmarks/plot_curve.py build/long_run.csv docs/long_run.png
"""

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import ocr_helpers as oh  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("curve", type=Path)
    parser.add_argument("figure", type=Path)
    parser.add_argument("--target", type=float, default=98.5, help="accuracy to mark with a line, in %%")
    arguments = parser.parse_args()
    with open(arguments.curve) as file:
        rows = list(csv.DictReader(file))
    minutes = [float(row["minutes"]) for row in rows]
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for axis, low in zip(axes, (0, 90)):
        for name, label in (("test_accuracy", "2,000 new CAPTCHAs (seed 7000)"),
                            ("val_accuracy", "validation set (seed 43, chooses the epoch)")):
            axis.plot(minutes, [100 * float(row[name]) for row in rows], "o-", markersize=3, label=label)
        axis.axhline(arguments.target, color="#999999", linestyle="--", linewidth=1)
        axis.text(minutes[0], arguments.target + 0.15, f"{arguments.target}%", color="#666666", fontsize=8)
        axis.set_ylim(low, 100)
        axis.set_xlabel("minutes of training (2 cores, no GPU)")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("% read completely right")
    axes[0].set_title("Accuracy after each epoch")
    axes[1].set_title("The same, from 90%")
    axes[0].legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    arguments.figure.parent.mkdir(parents=True, exist_ok=True)
    with oh.atomic_write(arguments.figure) as file:
        figure.savefig(file, dpi=110, format=arguments.figure.suffix.lstrip("."))


if __name__ == "__main__":
    main()
