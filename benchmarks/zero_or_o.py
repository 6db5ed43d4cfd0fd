"""How well can 0 and O be told apart in the captcha library's CAPTCHAs at all? Train on nothing else and see.

    .venv/bin/python benchmarks/zero_or_o.py                      # 60,000 CAPTCHAs of 0s and Os, 5 epochs
    .venv/bin/python benchmarks/zero_or_o.py --num-samples 120000 --epochs 8

Notebook 06's model sees a 0 or an O in about 17,000 places in its 60,000 training images (5 characters of 36
each), and most of its remaining mistakes are these two read as each other. Here every character of every image is
a 0 or an O, drawn by the same library with the same distortions (rotation, warp, squeeze, noise), so the same
model (oh.build_model with the character set "0O") sees 300,000 of them in 60,000 images, trained as notebook 06
trains (oh.train, which keeps the epoch that reads most validation CAPTCHAs right). The share of characters it
still gets wrong on 2,000 new such CAPTCHAs (seed 7000) estimates how many of them cannot be told apart: a floor
for any reader of the full character set, which has less practice on them. It prints the character error rate by
epoch and at the end, and the accuracy a 5-character reader of the full set would have if 0 and O were its only
mistakes, at that rate.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

import ocr_helpers as oh  # noqa: E402

CHARSET = "0O"


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-samples", type=int, default=60_000, help="training CAPTCHAs, drawn once")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    return parser.parse_args()


def main():
    arguments = parse_arguments()
    start = time.perf_counter()
    images, labels = oh.generate_dataset(arguments.num_samples, seed=1_000, charset=CHARSET, progress=False)
    validation_images, validation_labels = oh.generate_dataset(2_000, seed=43, charset=CHARSET, progress=False)
    test_images, test_labels = oh.generate_dataset(2_000, seed=7_000, charset=CHARSET, progress=False)
    print(f"Drew {len(images):,} + 4,000 CAPTCHAs of 0s and Os in {time.perf_counter() - start:.0f} s", flush=True)
    keras.utils.set_random_seed(42)
    model = oh.build_model(charset=CHARSET)
    train_data = oh.array_dataset(images, labels, batch_size=arguments.batch_size, seed=42, charset=CHARSET)
    epoch_line = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: print(
        f"  epoch {epoch + 1}: loss {logs['loss']:.3f}, validation character error rate {logs['val_cer']:.2%}",
        flush=True))
    start = time.perf_counter()
    oh.train(model, train_data, validation_images, validation_labels, arguments.epochs,
             learning_rate=arguments.learning_rate, verbose=0, callbacks=[epoch_line], seed=42)
    minutes = (time.perf_counter() - start) / 60
    predictions = oh.predict_text(model, test_images)
    rate = oh.character_error_rate(test_labels, predictions)
    share = 2 / len(oh.CHARSET)
    ceiling = (1 - share * rate) ** oh.LABEL_LENGTH
    print(f"{len(images):,} training CAPTCHAs ({len(images) * oh.LABEL_LENGTH:,} characters), {arguments.epochs} "
          f"epochs, {minutes:.1f} min: {rate:.2%} of the 10,000 characters of 2,000 new CAPTCHAs (seed 7000) read "
          f"wrong; {oh.sequence_accuracy(test_labels, predictions):.2%} of them read completely right.\n"
          f"At that rate, a reader of all {len(oh.CHARSET)} characters whose only mistakes were 0/O would read "
          f"{ceiling:.2%} of 5-character CAPTCHAs right ({share:.1%} of their characters are a 0 or an O).",
          flush=True)


if __name__ == "__main__":
    main()
