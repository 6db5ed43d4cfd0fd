"""Compare the training and inference speed of the course's model and the seed tutorial's (read along the width).

    .venv/bin/python benchmarks/model_speed.py                        # the two models at their defaults
    .venv/bin/python benchmarks/model_speed.py --variant 24,48,96 ...  # also time build_model with other filters
    .venv/bin/python benchmarks/model_speed.py --strided-blocks 2      # also time two strided blocks, one pooling
    .venv/bin/python benchmarks/model_speed.py --refine-blocks 0       # also time the model without its refine block
    .venv/bin/python benchmarks/model_speed.py --third-pool-width 2    # also time 20 time steps instead of 40
    .venv/bin/python benchmarks/model_speed.py --unrolled-rnn          # also time the GRU unrolled, not a loop

Both models get the same images, labels, batch size, optimizer and loss; they are timed in turn for several
rounds and the median is printed, so a burst of load on the machine hits both. The first column is the seconds
of each model's first training step, which builds (traces and compiles) its training function: what a notebook
or a test that trains briefly pays again in every new process.
"""

import argparse
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
    parser.add_argument("--batch-size", type=int, default=32, help="notebook 04's training batch size")
    parser.add_argument("--num-batches", type=int, default=40, help="timed batches per round")
    parser.add_argument("--num-rounds", type=int, default=3, help="rounds, every model once a round (%(default)s)")
    parser.add_argument("--variant", action="append", default=[],
                        help="filters of another build_model to time, e.g. 24,48,96 (repeatable)")
    parser.add_argument("--all-pooling", action="store_true", help="also time build_model with no strided block")
    parser.add_argument("--strided-blocks", type=int, action="append", default=[],
                        help="also time build_model with this many strided blocks, e.g. 2 (repeatable)")
    parser.add_argument("--refine-blocks", type=int, action="append", default=[],
                        help="also time build_model with this many refine blocks, e.g. 0 (repeatable)")
    parser.add_argument("--third-pool-width", type=int, action="append", default=[],
                        help="also time build_model whose third block shrinks the width this many times, e.g. 2 "
                             "for 20 time steps (repeatable)")
    parser.add_argument("--unrolled-rnn", action="store_true", help="also time build_model(unroll=True)")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "validation.npz",
                        help="the images timed, notebook 01's validation set (%(default)s)")
    return parser.parse_args()


def first_step_seconds(model, images, encoded, batch_size):
    """Return the seconds of a compiled model's first training step, which builds its training function."""
    start = time.perf_counter()
    model.train_on_batch(images[:batch_size], encoded[:batch_size])
    return time.perf_counter() - start


def main():
    arguments = parse_arguments()
    keras.utils.set_random_seed(0)
    images, labels = oh.load_or_generate_dataset(arguments.data, 2_000, seed=43)
    encoded = oh.encode_labels(labels)  # the models take the uint8 images as they are
    models = {"seed, read along the width": oh.compile_model(oh.build_seed_model()),
              "build_model()": oh.compile_model(oh.build_model())}
    for variant in arguments.variant:
        filters = tuple(int(value) for value in variant.split(","))
        models[f"build_model(filters={filters})"] = oh.compile_model(oh.build_model(filters=filters))
    for strided_blocks in [0] * arguments.all_pooling + arguments.strided_blocks:
        models[f"build_model(strided_blocks={strided_blocks})"] = oh.compile_model(
            oh.build_model(strided_blocks=strided_blocks))
    for refine_blocks in arguments.refine_blocks:
        models[f"build_model(refine_blocks={refine_blocks})"] = oh.compile_model(
            oh.build_model(refine_blocks=refine_blocks))
    for pool_width in arguments.third_pool_width:
        pool_sizes = (*oh.model.POOL_SIZES[:2], (2, pool_width))
        models[f"build_model(pool_sizes={pool_sizes})"] = oh.compile_model(oh.build_model(pool_sizes=pool_sizes))
    if arguments.unrolled_rnn:
        models["build_model(unroll=True)"] = oh.compile_model(oh.build_model(unroll=True))
    first_steps = {name: first_step_seconds(model, images, encoded, arguments.batch_size)
                   for name, model in models.items()}
    speeds = oh.compare_speeds(models, images, encoded, arguments.batch_size, arguments.num_batches,
                               arguments.num_rounds)
    print(f"{platform.machine()}, {os.cpu_count()} cores, batch {arguments.batch_size}, "
          f"median of {arguments.num_rounds} rounds of {arguments.num_batches} batches")
    print(f"{'model':40s} {'parameters':>10s} {'first step s':>12s} {'train img/s':>12s} {'infer img/s':>12s}")
    seed_training = speeds["seed, read along the width"][0]
    for name, (training, inference) in speeds.items():
        print(f"{name:40s} {models[name].count_params():10,d} {first_steps[name]:12.1f} {training:12.0f} "
              f"{inference:12.0f}"
              f"   ({training / seed_training:.1f}x the seed in training)")


if __name__ == "__main__":
    main()
