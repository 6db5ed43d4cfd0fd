"""Train on CAPTCHAs drawn on the fly for a long schedule, and follow the accuracy on 2,000 new CAPTCHAs by the minute.

    .venv/bin/python benchmarks/long_run.py                      # the long-run parameters of notebook 06

Training uses notebook 06's stream (seed 1000) and its schedule; the best epoch on notebook 01's validation set
(seed 43) is kept. After every epoch the script also reads 2,000 CAPTCHAs of seed 7000, which training and the
choice of epoch never use, and prints one line: minutes since the start, losses, validation and test accuracy.
It writes the curve to --curve (CSV) and the model to --model-path, prints how many character mistakes are 0
and O read as each other and the stability check of issue 13 (the largest fall of an epoch's accuracy below the
best epoch before it, after the first 20% of the epochs), then times predict_text on the test images.

The whole training state is saved to --backup-dir after every epoch: if the run is stopped (Ctrl-C, a kill, a
reboot), the same command continues from the last finished epoch and ends with the same model, and the curve
keeps its earlier rows. Its minutes then count training time only, not the time the run was stopped.

    .venv/bin/python benchmarks/long_run.py --plot docs/long_run.png --target 99   # draw the curve, train nothing
"""

import argparse
import csv
import json
import math
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import ocr_helpers as oh  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-epochs", type=int, default=14, help="epochs of the run (%(default)s)")
    parser.add_argument("--steps-per-epoch", type=int, default=2500, help="training batches an epoch (%(default)s)")
    parser.add_argument("--repeats", type=int, default=2, help="times each drawn image is used (oh.stream_dataset)")
    parser.add_argument("--batch-size", type=int, default=32, help="training batch size (%(default)s)")
    parser.add_argument("--learning-rate", type=float, default=2e-3,
                        help="peak step size of the schedule (%(default)s)")
    parser.add_argument("--warmup-epochs", type=int, default=1, help="epochs of warm-up (%(default)s)")
    parser.add_argument("--filters", default="16,32,64", help="filters of the three convolution blocks")
    parser.add_argument("--dense-units", type=int, default=oh.model.DENSE_UNITS,
                        help="units of the dense layer (%(default)s)")
    parser.add_argument("--rnn-units", type=int, default=oh.model.RNN_UNITS, help="units of the GRU (%(default)s)")
    parser.add_argument("--dropout", type=float, default=oh.model.DROPOUT,
                        help="dropout before the GRU (the stream never repeats an image, so less may do)")
    parser.add_argument("--model", type=json.loads, default={},
                        help="more keyword arguments of oh.build_model, as JSON, e.g. '{\"pool_sizes\": [[2, 2], [2, 2], [2, 1]]}'")
    parser.add_argument("--focus-share", type=float, default=0.25,
                        help="share of the streamed characters drawn from --focus-chars (oh.stream_dataset), as in "
                             "notebook 06; 0 for the even mix of the test images")
    parser.add_argument("--focus-chars", default="0O",
                        help="characters drawn more often with --focus-share (%(default)s)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the weights (validation set: seed + 1)")
    parser.add_argument("--stream-seed", type=int, default=1_000,
                        help="seed of the stream of training images (%(default)s)")
    parser.add_argument("--test-seed", type=int, default=7_000,
                        help="seed of the test CAPTCHAs (%(default)s: notebook 06's test set)")
    parser.add_argument("--num-workers", type=int, default=2, help="processes drawing the stream (%(default)s)")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data",
                        help="where notebook 01's validation set is, or is drawn (%(default)s)")
    parser.add_argument("--model-path", type=Path, default=ROOT / "artifacts" / "long_run.keras",
                        help="where the best epoch's model is saved (%(default)s)")
    parser.add_argument("--curve", type=Path, default=ROOT / "build" / "long_run.csv",
                        help="the CSV file of accuracy by the minute (%(default)s)")
    parser.add_argument("--plot", type=Path, help="draw the accuracy-by-minute curve of --curve into this PNG and stop")
    parser.add_argument("--target", type=float, default=99.5, help="with --plot: the accuracy to mark, in %%")
    parser.add_argument("--backup-dir", type=Path, default=ROOT / "build" / "long_run_backup",
                        help="where the training state is saved after every epoch")
    return parser.parse_args()


class TestCurve(keras.callbacks.Callback):
    """After every epoch, read the test images and record (minutes, losses, validation and test accuracy)."""

    def __init__(self, images, labels, path):
        super().__init__()
        self.images, self.labels, self.path, self.rows = images, labels, path, []

    def on_train_begin(self, logs=None):
        self.start, self.first_epoch = time.perf_counter(), True

    def on_epoch_begin(self, epoch, logs=None):
        if self.first_epoch and epoch > 0:  # a run continued from its backup: keep the rows of the finished epochs
            with open(self.path, newline="") as file:
                rows = list(csv.DictReader(file))[:epoch]
            self.rows = [{key: int(value) if key == "epoch" else float(value) for key, value in row.items()}
                         for row in rows]
            self.start -= 60 * self.rows[-1]["minutes"] if self.rows else 0
            if len(self.rows) < epoch:
                print(f"The curve holds {len(self.rows)} of the {epoch} finished epochs; minutes count from the "
                      f"last row it holds.", flush=True)
        self.first_epoch = False

    def on_epoch_end(self, epoch, logs=None):
        minutes = (time.perf_counter() - self.start) / 60
        accuracy = oh.sequence_accuracy(self.labels, oh.predict_text(self.model, self.images))
        self.rows.append({"epoch": epoch + 1, "minutes": round(minutes, 2), "loss": round(logs["loss"], 4),
                          "val_loss": round(logs["val_loss"], 4), "val_accuracy": round(logs["val_accuracy"], 4),
                          "test_accuracy": round(accuracy, 4)})
        print(", ".join(f"{key} {value}" for key, value in self.rows[-1].items()), flush=True)
        with oh.atomic_write(self.path, "w") as file:
            writer = csv.DictWriter(file, fieldnames=list(self.rows[0]))
            writer.writeheader()
            writer.writerows(self.rows)


def largest_drop(accuracies, warmup_share=0.2):
    """Return the largest fall of an epoch's accuracy below the best epoch before it, after the first 20%."""
    first = max(1, int(math.ceil(warmup_share * len(accuracies))))
    return max([max(accuracies[:epoch]) - accuracies[epoch] for epoch in range(first, len(accuracies))] + [0.0])


def plot_curve(curve, figure_path, target):
    """Draw the validation and test accuracy after each epoch of the CSV `curve` against minutes of training."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(curve) as file:
        rows = list(csv.DictReader(file))
    minutes = [float(row["minutes"]) for row in rows]
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for axis, low in zip(axes, (0, 90)):
        for name, label in (("test_accuracy", "2,000 new CAPTCHAs (seed 7000)"),
                            ("val_accuracy", "validation set (seed 43, chooses the epoch)")):
            axis.plot(minutes, [100 * float(row[name]) for row in rows], "o-", markersize=3, label=label)
        axis.axhline(target, color="#999999", linestyle="--", linewidth=1)
        axis.text(minutes[0], target + 0.15, f"{target}%", color="#666666", fontsize=8)
        axis.set_ylim(low, 100)
        axis.set_xlabel("minutes of training (2 cores, no GPU)")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("% read completely right")
    axes[0].set_title("Accuracy after each epoch")
    axes[1].set_title("The same, from 90%")
    axes[0].legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure_path.parent.mkdir(parents=True, exist_ok=True)
    with oh.atomic_write(figure_path) as file:
        figure.savefig(file, dpi=110, format=figure_path.suffix.lstrip("."))


def main():
    arguments = parse_arguments()
    if arguments.plot is not None:
        plot_curve(arguments.curve, arguments.plot, arguments.target)
        return
    validation_images, validation_labels = oh.load_or_generate_dataset(arguments.data_dir / "validation.npz", 2_000,
                                                                       seed=arguments.seed + 1)
    test_images, test_labels = oh.generate_dataset(2_000, seed=arguments.test_seed, progress=False)
    filters = tuple(int(value) for value in arguments.filters.split(","))
    keras.utils.set_random_seed(arguments.seed)
    model = oh.build_model(filters=filters, dense_units=arguments.dense_units, rnn_units=arguments.rnn_units,
                           dropout=arguments.dropout, **arguments.model)
    print(f"{platform.machine()}, {os.cpu_count()} cores; {model.count_params():,} parameters; "
          f"{arguments.num_epochs} epochs of {arguments.steps_per_epoch} batches of {arguments.batch_size}, "
          f"peak step size {arguments.learning_rate}", flush=True)
    curve = TestCurve(test_images, test_labels, arguments.curve)
    data = oh.stream_dataset(batch_size=arguments.batch_size, seed=arguments.stream_seed, repeats=arguments.repeats,
                             num_workers=arguments.num_workers, batches_per_epoch=arguments.steps_per_epoch,
                             focus_chars=arguments.focus_chars, focus_share=arguments.focus_share)
    start = time.perf_counter()
    oh.train(model, data, validation_images, validation_labels, epochs=arguments.num_epochs,
             learning_rate=arguments.learning_rate, warmup_epochs=arguments.warmup_epochs,
             model_path=arguments.model_path, backup_dir=arguments.backup_dir, verbose=0, callbacks=[curve])
    minutes = (time.perf_counter() - start) / 60
    predictions = oh.predict_text(model, test_images)
    print(f"Best epoch kept: {oh.sequence_accuracy(test_labels, predictions):.2%} of 2,000 new CAPTCHAs right, "
          f"character error rate {oh.character_error_rate(test_labels, predictions):.2%}; {minutes:.1f} min of "
          f"training", flush=True)
    counts = oh.confusions(test_labels, predictions)
    zero_o, zero_o_chars = oh.pair_mistakes(counts, test_labels, ("0", "O"))
    print(f"0 and O: {zero_o} of the {sum(counts.values())} character mistakes are 0 read as O or O read as 0, "
          f"{zero_o / max(1, zero_o_chars):.2%} of the {zero_o_chars} zeros and Os in the test labels", flush=True)
    drops = {name: largest_drop([row[name] for row in curve.rows]) for name in ("val_accuracy", "test_accuracy")}
    print(f"Stability (issue 13): the largest fall below the best epoch before it, after the first 20% of the "
          f"epochs: {drops['val_accuracy']:.2%} on the validation images, {drops['test_accuracy']:.2%} on the test "
          f"CAPTCHAs ({'within' if max(drops.values()) <= 0.03 else 'more than'} the 3 points allowed)", flush=True)
    model = oh.load_model(arguments.model_path)
    readers = {"predict_text": lambda images: oh.predict_text(model, images)}
    batched, single = oh.compare_readers(readers, test_images, num_single_images=100)["predict_text"]
    print(f"predict_text: {batched:,.0f} images/s in batches of 256; one image {1000 * single:.1f} ms "
          f"(median of 100)", flush=True)


if __name__ == "__main__":
    main()
