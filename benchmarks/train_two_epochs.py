"""Train the course's model and the seed tutorial's model (fixed to read along the width) for two epochs each.

    .venv/bin/python benchmarks/train_two_epochs.py

Both read notebook 01's 20,000 training images (generated if data/train.npz is missing), with notebook 04's
defaults: batch size 32, Adam at 1e-3, the CTC loss of ocr_helpers. It prints the training loss after each
epoch, the validation loss, the share of the 2,000 validation images read completely right (greedy decoding),
the wall time and the training images per second.
"""

import argparse
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import ocr_helpers as oh  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=42, help="seed of the weights and the shuffling")
    parser.add_argument("--data-seed", type=int, default=42, help="notebook 01's training seed (validation: +1)")
    parser.add_argument("--models", nargs="+", default=["build_model", "seed_width"],
                        choices=["build_model", "seed_width"])
    parser.add_argument("--filters", default=None, help="filters of build_model's three blocks, e.g. 24,48,96")
    parser.add_argument("--no-batch-norm", action="store_true", help="build_model without batch normalization")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data")
    return parser.parse_args()


def train_and_report(name, build, arguments, train, validation):
    keras.utils.set_random_seed(arguments.seed)
    model = oh.compile_model(build(), arguments.learning_rate)
    start = time.perf_counter()
    history = model.fit(train[0], train[1], batch_size=arguments.batch_size, epochs=arguments.num_epochs,
                        validation_data=validation, verbose=2)
    seconds = time.perf_counter() - start
    predicted = oh.greedy_decode(model.predict(validation[0], batch_size=256, verbose=0))
    accuracy = np.mean(np.array(predicted) == np.array(oh.decode_labels(validation[1])))
    losses = ", ".join(f"{loss:.3f}" for loss in history.history["loss"])
    print(f"{name}: {model.count_params():,} parameters; training loss by epoch {losses}; "
          f"validation loss {history.history['val_loss'][-1]:.3f}; validation accuracy {accuracy:.1%}; "
          f"{seconds:.0f} s, {arguments.num_epochs * len(train[0]) / seconds:.0f} training images/s", flush=True)


def main():
    arguments = parse_arguments()
    images, labels = oh.load_or_generate_dataset(arguments.data_dir / "train.npz", 20_000, seed=arguments.data_seed)
    validation_images, validation_labels = oh.load_or_generate_dataset(arguments.data_dir / "validation.npz", 2_000,
                                                                       seed=arguments.data_seed + 1)
    train = images, oh.encode_labels(labels)  # uint8: the models scale the pixels themselves
    validation = validation_images, oh.encode_labels(validation_labels)
    print(f"{platform.machine()}, {os.cpu_count()} cores; {len(images):,} training images, "
          f"batch {arguments.batch_size}, Adam {arguments.learning_rate}, {arguments.num_epochs} epochs", flush=True)
    filters = tuple(int(value) for value in arguments.filters.split(",")) if arguments.filters else oh.model.FILTERS
    batch_norm = not arguments.no_batch_norm
    builders = {"build_model": lambda: oh.build_model(filters=filters, batch_norm=batch_norm),
                "seed_width": oh.build_seed_model}
    names = {"build_model": f"build_model(filters={filters}, batch_norm={batch_norm})",
             "seed_width": "seed model, read along the width"}
    for key in arguments.models:
        train_and_report(names[key], builders[key], arguments, train, validation)


if __name__ == "__main__":
    main()
