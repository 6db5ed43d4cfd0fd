"""Look for the cause of the mid-run collapse of held-out accuracy (issue 13): one training run per variant.

    .venv/bin/python benchmarks/stability.py                          # every variant, notebook 06's defaults
    .venv/bin/python benchmarks/stability.py --variants baseline bn_momentum_0.9 --epochs 8

Each variant trains a new oh.build_model() with notebook 06's data and schedule (notebook 01's 20,000 images plus
the 20,000 of data/extra.npz, batch 32, warm-up for 1 epoch then cosine decay from 0.002) and changes one thing:

    baseline           as notebook 06
    bn_momentum_0.9    batch normalization's running statistics follow the weights 10x faster (Keras: 0.99)
    clipnorm_1         Adam with each gradient's norm clipped to 1
    ema                Adam keeping an exponential moving average of the weights (use_ema=True), which
                       keras.callbacks.SwapEMAWeights puts in place for each epoch's reading
    recompute_bn       batch normalization's running statistics set afresh from 100 training batches before each
                       epoch's reading (oh.RecomputeBatchStatistics; training itself is unchanged)
    strided_1          only the first convolution block strides; the second convolves at full size and pools
                       (finer features for telling 0 from O, at more computation)
    wide_filters       filters (24, 48, 96) instead of (16, 32, 64)

Join changes with "+" to combine them: --variants bn_momentum_0.9+clipnorm_1. Every epoch's figures go to
build/stability.csv (variant, epoch, minutes, loss, val_accuracy), for the before/after curves:

    .venv/bin/python benchmarks/stability.py --plot docs/stability.png   # draw the CSV's curves, train nothing

After every epoch it reads the 2,000 validation images (notebook 01, seed 43) in inference mode, and prints the
share read completely right; last, the largest drop below the best epoch before it, after the first 20% of
training (the stability check of issue 13), and the share of 2,000 new CAPTCHAs (seed 7000, notebook 06's test
set) that the last epoch reads. Each variant runs in the same process, one after the other, with the
same seed.
"""

import argparse
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import ocr_helpers as oh  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CHANGES = ("baseline", "bn_momentum_0.9", "clipnorm_1", "ema", "recompute_bn", "strided_1", "wide_filters")
VARIANTS = ("baseline", "bn_momentum_0.9", "clipnorm_1", "recompute_bn")


def variant_name(text):
    """Return `text` if it names changes joined by "+", each one of CHANGES."""
    unknown = [change for change in text.split("+") if change not in CHANGES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown change {unknown}; choose from {', '.join(CHANGES)}")
    return text


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), type=variant_name)
    parser.add_argument("--csv", type=Path, default=ROOT / "build" / "stability.csv")
    parser.add_argument("--plot", type=Path, help="draw the curves of --csv into this picture instead of training")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data")
    return parser.parse_args()


def load_data(data_dir, num_extra_samples=20_000, focus_chars="", focus_share=0.0):
    """Return notebook 01's 20,000 training images and labels plus the first `num_extra_samples` of data/extra.npz
    (seed 1000; with `focus_share`, data/extra_focus.npz), and notebook 01's validation set."""
    images, labels = oh.load_or_generate_dataset(data_dir / "train.npz", 20_000, seed=42, progress=False)
    if num_extra_samples:
        extra_path = data_dir / ("extra_focus.npz" if focus_share else "extra.npz")
        extra_images, extra_labels = oh.load_or_generate_dataset(extra_path, num_extra_samples, seed=1_000,
                                                                 progress=False, focus_chars=focus_chars,
                                                                 focus_share=focus_share)
        images, labels = np.concatenate([images, extra_images]), labels + extra_labels
    validation = oh.load_or_generate_dataset(data_dir / "validation.npz", 2_000, seed=43, progress=False)
    return images, labels, validation


def variant_model(variant, schedule):
    """Return a compiled oh.build_model() changed as `variant` says."""
    keras.utils.set_random_seed(42)
    changes = variant.split("+")
    shape = dict(strided_blocks=1) if "strided_1" in changes else {}
    shape.update(dict(filters=(24, 48, 96)) if "wide_filters" in changes else {})
    model = oh.build_model(**shape)
    if "bn_momentum_0.9" in changes:
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = 0.9
    options = {}
    options.update(dict(clipnorm=1.0) if "clipnorm_1" in changes else {})
    options.update(dict(use_ema=True) if "ema" in changes else {})
    model.compile(optimizer=keras.optimizers.Adam(schedule, **options), loss=oh.CTCLoss())
    return model


def largest_drop(accuracies, warmup_share=0.2):
    """Return the largest fall of an epoch's accuracy below the best epoch before it, after the first 20%."""
    first = max(1, int(np.ceil(warmup_share * len(accuracies))))
    return max([max(accuracies[:epoch]) - accuracies[epoch] for epoch in range(first, len(accuracies))] + [0.0])


class EpochRows(keras.callbacks.Callback):
    """Append one row per epoch to a CSV file: variant, epoch, minutes since the start, loss, val_accuracy."""

    def __init__(self, path, variant):
        super().__init__()
        self.path, self.variant = path, variant
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file():
            path.write_text("variant,epoch,minutes,loss,val_accuracy\n")

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        minutes = (time.perf_counter() - self.start) / 60
        with open(self.path, "a") as file:
            file.write(f"{self.variant},{epoch + 1},{minutes:.2f},{logs['loss']:.4f},{logs['val_accuracy']:.4f}\n")
        print(f"  {self.variant} epoch {epoch + 1}: loss {logs['loss']:.3f}, val_accuracy {logs['val_accuracy']:.4f} "
              f"({minutes:.1f} min)", flush=True)


def plot_curves(csv_path, figure_path):
    """Draw held-out accuracy against epochs for every variant in the CSV file, its last run of each."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(csv_path, newline="") as file:
        rows = list(csv.DictReader(file))
    curves = {}
    for row in rows:
        curve = curves.setdefault(row["variant"], {})
        curve[int(row["epoch"])] = 100 * float(row["val_accuracy"])
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for axis, low in zip(axes, (0, 80)):
        for variant, curve in curves.items():
            axis.plot(list(curve), list(curve.values()), "o-", markersize=4, label=variant)
        axis.set_ylim(low, 100)
        axis.set_xlabel("epoch (notebook 06's defaults, 1,250 batches of 32 each)")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("% of 2,000 validation images read right")
    axes[0].set_title("Held-out accuracy after each epoch")
    axes[1].set_title("The same, from 80%")
    axes[0].legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure_path.parent.mkdir(parents=True, exist_ok=True)
    with oh.atomic_write(figure_path) as file:
        figure.savefig(file, dpi=110, format=figure_path.suffix.lstrip("."))


def main():
    arguments = parse_arguments()
    if arguments.plot:
        return plot_curves(arguments.csv, arguments.plot)
    images, labels, (validation_images, validation_labels) = load_data(arguments.data_dir)
    test_images, test_labels = oh.generate_dataset(2_000, seed=7_000, progress=False)
    steps = -(-len(images) // arguments.batch_size)
    print(f"{platform.machine()}, {os.cpu_count()} cores, Keras on {keras.backend.backend()}; {len(images):,} "
          f"training images, {arguments.epochs} epochs of {steps} steps", flush=True)
    for variant in arguments.variants:
        schedule = oh.warmup_cosine_schedule(arguments.learning_rate, arguments.epochs * steps, steps)
        model = variant_model(variant, schedule)
        # with use_ema, read the averaged weights after each epoch, then swap the trained ones back
        callbacks = [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if "ema" in variant.split("+") else []
        if "recompute_bn" in variant.split("+"):
            callbacks.append(oh.RecomputeBatchStatistics(images[:100 * arguments.batch_size], arguments.batch_size))
        callbacks.append(oh.ReadingAccuracy(validation_images, validation_labels))
        callbacks.append(EpochRows(arguments.csv, variant))
        start = time.perf_counter()
        history = model.fit(oh.array_dataset(images, labels, batch_size=arguments.batch_size, seed=42),
                            epochs=arguments.epochs, callbacks=callbacks, shuffle=False, verbose=0)
        minutes = (time.perf_counter() - start) / 60
        accuracies = history.history["val_accuracy"]
        test_accuracy = oh.sequence_accuracy(test_labels, oh.predict_text(model, test_images))
        print(f"{variant:16s} accuracy by epoch {', '.join(f'{value:.3f}' for value in accuracies)}; training loss "
              f"{history.history['loss'][-1]:.3f}; largest drop after 20% {largest_drop(accuracies):.3f}; "
              f"last epoch reads {test_accuracy:.2%} of 2,000 new CAPTCHAs (seed 7000); {minutes:.1f} min",
              flush=True)


if __name__ == "__main__":
    main()
