"""Train and read with the default model on each Keras backend, side by side in one run, and compare the readings.

    .venv/bin/python benchmarks/backend_speed.py                        # TensorFlow and JAX, 2 rounds each
    .venv/bin/python benchmarks/backend_speed.py --model-path artifacts/captcha_ocr.keras

A backend is fixed when Keras is imported, so each measurement runs in a fresh process with KERAS_BACKEND set,
the backends taking turns (round 1: TensorFlow, JAX; round 2: the same) so that a burst of load on a shared
machine hits both. Each process times the training (oh.compare_speeds) of a new oh.build_model() at batch
--batch-size (after a warm-up) and, with oh.compare_readers, the model file's predict_text on all --num-samples
new CAPTCHAs (seed 7000) in batches of 256, and one image at a time. The figures printed are medians over the
rounds. Without a model file, the first process trains the default model briefly (2 epochs of 4,000 images) so
that it reads something, and saves it to build/backend_speed.keras. Last, the readings of the same file
under each backend are compared.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("tensorflow", "jax")


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-path", type=Path, default=None, help="a .keras file (default: train one briefly)")
    parser.add_argument("--num-samples", type=int, default=2_000,
                        help="new CAPTCHAs read in each process (%(default)s)")
    parser.add_argument("--seed", type=int, default=7_000,
                        help="seed of those CAPTCHAs (%(default)s: notebook 06's test set)")
    parser.add_argument("--batch-size", type=int, default=32, help="training batch size (%(default)s)")
    parser.add_argument("--num-batches", type=int, default=40,
                        help="timed training batches in each process (%(default)s)")
    parser.add_argument("--num-rounds", type=int, default=2, help="rounds, each backend once a round (%(default)s)")
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "OUT"), help=argparse.SUPPRESS)
    return parser.parse_args()


def train_briefly(path):
    """Train the default model for 2 short epochs so that it reads something, and save it to `path`."""
    import keras
    import ocr_helpers as oh

    keras.utils.set_random_seed(0)
    images, labels = oh.generate_dataset(4_000, seed=42, progress=False)
    model = oh.build_model()
    oh.train(model, oh.array_dataset(images[:3_500], labels[:3_500], batch_size=32), images[3_500:],
             labels[3_500:], epochs=2, verbose=0)
    oh.save_model(model, path)


def child(arguments):
    """Measure one backend (the one KERAS_BACKEND names) and write the figures and readings to a JSON file."""
    import keras
    import ocr_helpers as oh

    model_path, out = map(Path, arguments.child)
    if not model_path.is_file():
        train_briefly(model_path)
    images, labels = oh.generate_dataset(arguments.num_samples, seed=arguments.seed, progress=False)
    fresh = oh.compile_model(oh.build_model())
    training, _ = oh.compare_speeds({"new": fresh}, images, oh.encode_labels(labels), arguments.batch_size,
                                    arguments.num_batches, num_rounds=1, warmup_batches=5)["new"]
    model = oh.load_model(model_path)
    readers = {"predict_text": lambda batch: oh.predict_text(model, batch)}
    batched, single = oh.compare_readers(readers, images, num_single_images=100)["predict_text"]
    readings = oh.predict_text(model, images)
    out.write_text(json.dumps({"backend": keras.backend.backend(), "training": training, "inference": batched,
                               "single_ms": 1000 * single, "readings": readings, "labels": labels}))


def measure(backend, model_path, arguments, folder):
    """Run one measurement of `backend` in a fresh process and return its figures."""
    out = Path(folder) / f"{backend}.json"
    command = [sys.executable, __file__, "--child", str(model_path), str(out), "--num-samples",
               str(arguments.num_samples), "--seed", str(arguments.seed), "--batch-size", str(arguments.batch_size),
               "--num-batches", str(arguments.num_batches)]
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    subprocess.run(command, env=env, check=True)
    return json.loads(out.read_text())


def main():
    arguments = parse_arguments()
    if arguments.child:
        return child(arguments)
    model_path = arguments.model_path or ROOT / "build" / "backend_speed.keras"
    if arguments.model_path is None:
        model_path.unlink(missing_ok=True)
        model_path.parent.mkdir(parents=True, exist_ok=True)
    results = {backend: [] for backend in BACKENDS}
    with tempfile.TemporaryDirectory() as folder:
        for round_number in range(arguments.num_rounds):
            for backend in BACKENDS:
                results[backend].append(measure(backend, model_path, arguments, folder))
                figures = results[backend][-1]
                print(f"round {round_number + 1}, {backend:10s}: training {figures['training']:6.0f} images/s, "
                      f"reading {figures['inference']:6.0f} images/s, one image {figures['single_ms']:.1f} ms",
                      flush=True)
    print(f"\n{platform.machine()}, {os.cpu_count()} cores; model {model_path.name}; median of {arguments.num_rounds} "
          f"rounds; training at batch {arguments.batch_size}, reading with oh.predict_text in batches of 256")
    for backend, runs in results.items():
        median = {name: float(np.median([run[name] for run in runs])) for name in ("training", "inference",
                                                                                   "single_ms")}
        print(f"{backend:10s} training {median['training']:6.0f} images/s   reading {median['inference']:6.0f} "
              f"images/s   one image {median['single_ms']:5.1f} ms")
    first, second = (results[backend][0] for backend in BACKENDS)
    labels, same = first["labels"], sum(a == b for a, b in zip(first["readings"], second["readings"]))
    accuracy = {backend: np.mean([a == b for a, b in zip(labels, results[backend][0]["readings"])])
                for backend in BACKENDS}
    print(f"Readings of the same file: {same:,} of {len(labels):,} strings identical on both backends; "
          + ", ".join(f"{backend} reads {value:.2%} right" for backend, value in accuracy.items()))
    return 0 if same == len(labels) else 1


if __name__ == "__main__":
    sys.exit(main())
