"""Read new CAPTCHAs with a saved model, and time predict_text in batches and on one image.

    .venv/bin/python benchmarks/evaluate_model.py                       # artifacts/captcha_ocr.keras
    .venv/bin/python benchmarks/evaluate_model.py --model-path artifacts/long_run.keras --seed 9001

Draws --num-samples CAPTCHAs with --seed (default 9000: no notebook or benchmark trains or validates on it),
loads the model with oh.load_model (safe mode on) and prints the share read completely right, the character
error rate, the most frequent confusions, then predict_text's speed: images per second on all of them in
batches of 256 (median of --rounds), and the median time of one image over 200 calls (oh.reading_speed).
"""

import argparse
import os
import platform
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import ocr_helpers as oh  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-path", type=Path, default=ROOT / "artifacts" / "captcha_ocr.keras")
    parser.add_argument("--seed", type=int, default=9_000)
    parser.add_argument("--num-samples", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=5)
    return parser.parse_args()


def main():
    arguments = parse_arguments()
    model = oh.load_model(arguments.model_path)
    images, labels = oh.generate_dataset(arguments.num_samples, seed=arguments.seed, progress=False)
    predictions = oh.predict_text(model, images)
    print(f"{platform.machine()}, {os.cpu_count()} cores; {arguments.model_path.name}: "
          f"{oh.sequence_accuracy(labels, predictions):.2%} of {len(images):,} new CAPTCHAs (seed {arguments.seed}) "
          f"read completely right; character error rate {oh.character_error_rate(labels, predictions):.2%}",
          flush=True)
    print("Most frequent confusions (label → read):",
          ", ".join(f"{a or '_'}→{b or '_'} {n}" for (a, b), n in oh.confusions(labels, predictions).most_common(8)))
    batched, single = oh.reading_speed(model, images, num_rounds=arguments.rounds, num_single_images=200)
    print(f"predict_text: {batched:,.0f} images/s in batches of 256 (median of {arguments.rounds}); "
          f"one image {1000 * single:.1f} ms (median of 200)", flush=True)


if __name__ == "__main__":
    main()
