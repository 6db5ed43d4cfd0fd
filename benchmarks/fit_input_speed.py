"""Time model.fit on a PyDataset handed to Keras as it is and through oh.fit_input, side by side in one run.

    .venv/bin/python benchmarks/fit_input_speed.py            # 3 rounds, 100 timed steps each, on TensorFlow

Each measurement runs in a fresh process (the two ways taking turns, so that a burst of load on a shared machine
hits both) and times oh.fit_steps_per_second of a new oh.build_model() on oh.array_dataset of random uint8 images
at batch --batch-size, after a warm-up. On TensorFlow, Keras wraps a PyDataset in tf.data.Dataset.from_generator;
oh.fit_input asks for each batch by index through tf.numpy_function instead. It prints every round and the medians.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

WAYS = ("PyDataset as it is", "oh.fit_input")


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-rounds", type=int, default=3,
                        help="rounds, each way once a round, each in a fresh process (%(default)s)")
    parser.add_argument("--num-batches", type=int, default=100,
                        help="timed training steps in each measurement (%(default)s)")
    parser.add_argument("--batch-size", type=int, default=32, help="training batch size (%(default)s)")
    parser.add_argument("--child", choices=WAYS, help=argparse.SUPPRESS)
    return parser.parse_args()


def measure(way, batch_size, timing_batches):
    """Return the images a second of one fit_steps_per_second measurement of `way`, in this process."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np

    import ocr_helpers as oh

    count = batch_size * (timing_batches + 10)
    images = np.random.default_rng(0).integers(0, 256, (count, oh.IMAGE_HEIGHT, oh.IMAGE_WIDTH), dtype=np.uint8)
    labels = ["".join(np.random.default_rng(index).choice(list(oh.CHARSET), oh.LABEL_LENGTH)) for index in range(count)]
    data = oh.array_dataset(images, labels, batch_size=batch_size)
    model = oh.compile_model(oh.build_model())
    fed = data if way == WAYS[0] else oh.fit_input(data)
    return batch_size * oh.fit_steps_per_second(model, fed, timing_batches, warmup_batches=5)


def main():
    args = parse_arguments()
    if args.child:
        print(json.dumps(measure(args.child, args.batch_size, args.num_batches)))
        return
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    print(f"Backend {backend}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, batch "
          f"{args.batch_size}, {args.num_batches} timed steps a measurement", flush=True)
    rates = {way: [] for way in WAYS}
    for round_number in range(1, args.num_rounds + 1):
        for way in WAYS:
            output = subprocess.run([sys.executable, __file__, "--child", way, "--batch-size", str(args.batch_size),
                                     "--num-batches", str(args.num_batches)],
                                    check=True, capture_output=True, text=True).stdout
            rates[way].append(float(output.strip().splitlines()[-1]))
            print(f"round {round_number}: {way}: {rates[way][-1]:.0f} images/s", flush=True)
    medians = {way: statistics.median(values) for way, values in rates.items()}
    for way, median in medians.items():
        print(f"median {way}: {median:.0f} images/s")
    print(f"oh.fit_input / PyDataset as it is: {medians[WAYS[1]] / medians[WAYS[0]]:.2f}x")


if __name__ == "__main__":
    main()
