"""Train one model as notebook 06 does at its defaults, with one thing changed, and read fresh CAPTCHAs with it.

    .venv/bin/python benchmarks/train_variants.py --name default
    .venv/bin/python benchmarks/train_variants.py --name pooled_third --model '{"strided_blocks": 2}'
    .venv/bin/python benchmarks/train_variants.py --name no_refine --model '{"refine_blocks": 0}'
    .venv/bin/python benchmarks/train_variants.py --name wider --model '{"filters": [24, 48, 96], "rnn_units": 96}'
    .venv/bin/python benchmarks/train_variants.py --name batch_64 --batch-size 64 --learning-rate 3e-3
    .venv/bin/python benchmarks/train_variants.py --name no_focus --focus-share 0
    .venv/bin/python benchmarks/train_variants.py --name steps20 --num-epochs 5 --model '{"pool_sizes": [[2, 2], [2, 2], [2, 2]]}'

Notebook 06's defaults: oh.build_model(), notebook 01's 20,000 images and the 28,000 of data/extra_focus.npz, 4 epochs
at batch 32, Adam warming up for 1 epoch to 4e-3 then cosine decay and averaging the weights (use_ema, momentum
0.99; --ema-momentum 0 for none), batch normalization's statistics recomputed
from 100 training batches before each reading, the model fed through oh.fit_input. `--model` passes keyword
arguments to oh.build_model as JSON. After every epoch it prints the share of the 2,000 validation images
(notebook 01, seed 43) read completely right and the minutes so far; at the end, the share of 2,000 new CAPTCHAs
(seed 7000, notebook 06's test set) read by the epoch kept (oh.train, as notebook 06: the best on validation, of
equals the later), the training speed and the stability check of issue 13
(the largest drop below the best epoch before, after the first 20% of training), and how many of its character
mistakes read a 0 as an O or the other way. It then reads --num-check-samples more (seed 9000, drawn once into
check.npz of --data-dir), with the standard error of that share: 2,000 CAPTCHAs at 97% move by about 0.4 points from one
sample to the next, so differences between runs smaller than that need the larger set (or more seeds) to show.
`--focus-share` draws that share of the extra images' characters from `--focus-chars` (oh.generate_dataset's
focus_share), saved to data/extra_focus.npz. One row per run is appended to build/train_variants.csv. Run
variants one after the other, not side by side: two runs share the 2 cores.
"""

import argparse
import csv
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import ocr_helpers as oh  # noqa: E402
from long_run import largest_drop  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


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


def standard_error(share, count):
    """Return the standard error of a share measured on `count` independent images (binomial)."""
    return (share * (1 - share) / count) ** 0.5


def check_csv(path, header):
    """Raise ValueError before any training if the CSV file at `path` exists with other columns than `header`."""
    if path.is_file():
        with open(path, newline="") as file:
            found = next(csv.reader(file), None)
        if found != header:
            raise ValueError(f"{path} holds rows with other columns ({found}); this run would write {header}: "
                             f"give --csv a new file, so that no row is mixed up.")


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True, help="what the run is called in the output and the CSV file")
    parser.add_argument("--model", type=json.loads, default={}, help="keyword arguments of oh.build_model, as JSON")
    parser.add_argument("--num-epochs", type=int, default=4, help="epochs of training (%(default)s)")
    parser.add_argument("--num-extra-samples", type=int, default=28_000,
                        help="images of data/extra_focus.npz (seed 1000; data/extra.npz at --focus-share 0) to add; "
                             "notebook 06 adds 28,000")
    parser.add_argument("--batch-size", type=int, default=32, help="training batch size (%(default)s)")
    parser.add_argument("--learning-rate", type=float, default=4e-3,
                        help="peak step size of the schedule (%(default)s)")
    parser.add_argument("--warmup-epochs", type=float, default=1, help="epochs of warm-up (%(default)s)")
    parser.add_argument("--focus-share", type=float, default=0.25,
                        help="share of the extra images' characters drawn from --focus-chars (data/extra_focus.npz)")
    parser.add_argument("--focus-chars", default="0O",
                        help="characters drawn more often with --focus-share (%(default)s)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the weights, the shuffling and the dropout")
    parser.add_argument("--ema-momentum", type=float, default=0.99,
                        help="average the weights (Adam's use_ema) with this momentum and read the average, as "
                             "notebook 06 does; 0 for none")
    parser.add_argument("--augment", action="store_true", help="shift, shrink and shear the training batches")
    parser.add_argument("--model-path", type=Path, help="where to save the kept model (.keras), if anywhere")
    parser.add_argument("--num-check-samples", type=int, default=10_000,
                        help="CAPTCHAs of seed 9000 (check.npz in --data-dir) read at the end, beside the test "
                             "set; 0 for none (%(default)s)")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data",
                        help="where notebook 01's datasets are (%(default)s)")
    parser.add_argument("--csv", type=Path, default=ROOT / "build" / "train_variants.csv",
                        help="the CSV file each run appends its figures to (%(default)s)")
    return parser.parse_args()


class EpochLine(keras.callbacks.Callback):
    """Print each epoch's loss, held-out accuracy and the minutes since training began."""

    def __init__(self, name):
        super().__init__()
        self.name = name

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        minutes = (time.perf_counter() - self.start) / 60
        print(f"  {self.name} epoch {epoch + 1}: loss {logs['loss']:.3f}, val_accuracy {logs['val_accuracy']:.4f} "
              f"({minutes:.2f} min)", flush=True)


CSV_HEADER = ["name", "settings", "val_accuracy_by_epoch", "test_accuracy", "minutes", "check_accuracy"]


def main():
    arguments = parse_arguments()
    check_csv(arguments.csv, CSV_HEADER)
    if arguments.num_check_samples < 0:
        raise ValueError(f"--num-check-samples must be 0 (none) or more, not {arguments.num_check_samples}.")
    images, labels, (validation_images, validation_labels) = load_data(arguments.data_dir,
                                                                        arguments.num_extra_samples,
                                                                        arguments.focus_chars, arguments.focus_share)
    test_images, test_labels = oh.generate_dataset(2_000, seed=7_000, progress=False)
    keras.utils.set_random_seed(arguments.seed)
    model = oh.build_model(**arguments.model)
    train_data = oh.array_dataset(images, labels, batch_size=arguments.batch_size, seed=arguments.seed,
                                  augment=arguments.augment)
    steps = len(train_data)
    print(f"{platform.machine()}, {os.cpu_count()} cores, Keras on {keras.backend.backend()}; {arguments.name}: "
          f"{model.count_params():,} parameters, {len(images):,} training images, {arguments.num_epochs} epochs of "
          f"{steps} steps", flush=True)
    start = time.perf_counter()
    history = oh.train(model, train_data, validation_images, validation_labels, arguments.num_epochs,
                       arguments.learning_rate, arguments.warmup_epochs, model_path=arguments.model_path, verbose=0,
                       callbacks=[EpochLine(arguments.name)], seed=arguments.seed,
                       ema_momentum=arguments.ema_momentum or None)  # 0 on the command line: no average
    minutes = (time.perf_counter() - start) / 60
    accuracies = history["val_accuracy"]
    predictions = oh.predict_text(model, test_images)
    test_accuracy = oh.sequence_accuracy(test_labels, predictions)
    counts = oh.confusions(test_labels, predictions)
    zero_o, zero_o_chars = oh.pair_mistakes(counts, test_labels, ("0", "O"))
    print(f"{arguments.name}: {sum(counts.values())} character mistakes on the test CAPTCHAs, {zero_o} of them 0/O "
          f"(of {zero_o_chars} zeros and Os)", flush=True)
    speed = arguments.num_epochs * steps * arguments.batch_size / (60 * minutes)
    print(f"{arguments.name}: validation by epoch {', '.join(f'{value:.4f}' for value in accuracies)}; "
          f"{test_accuracy:.2%} ± {standard_error(test_accuracy, len(test_labels)):.2%} of 2,000 new CAPTCHAs "
          f"(seed 7000) read right; {minutes:.2f} min of training, {speed:.0f} images/s; largest drop after 20%: "
          f"{largest_drop(accuracies):.4f}", flush=True)
    check_accuracy = ""
    if arguments.num_check_samples:
        check_images, check_labels = oh.load_or_generate_dataset(arguments.data_dir / "check.npz",
                                                                 arguments.num_check_samples, seed=9_000,
                                                                 progress=False)
        check_predictions = oh.predict_text(model, check_images)
        share = oh.sequence_accuracy(check_labels, check_predictions)
        check_zero_o, _ = oh.pair_mistakes(oh.confusions(check_labels, check_predictions), check_labels)
        print(f"{arguments.name}: {share:.2%} ± {standard_error(share, len(check_labels)):.2%} of "
              f"{len(check_labels):,} more (seed 9000) read right, {check_zero_o} 0/O mistakes", flush=True)
        check_accuracy = f"{share:.4f}"
    arguments.csv.parent.mkdir(parents=True, exist_ok=True)
    new_file = not arguments.csv.is_file()
    settings = json.dumps({key: value for key, value in vars(arguments).items()
                           if key not in ("csv", "data_dir", "model_path")})
    with open(arguments.csv, "a", newline="") as file:
        writer = csv.writer(file)
        if new_file:
            writer.writerow(CSV_HEADER)
        writer.writerow([arguments.name, settings, " ".join(f"{value:.4f}" for value in accuracies),
                         f"{test_accuracy:.4f}", f"{minutes:.2f}", check_accuracy])


if __name__ == "__main__":
    main()
