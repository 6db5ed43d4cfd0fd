"""Time notebook 08's three readers side by side: the Keras model, its SavedModel and its ONNX file.

    .venv/bin/python benchmarks/export_speed.py [--model-path artifacts/captcha_ocr.keras] [--num-rounds 5]

Exports the model into a temporary folder, draws 500 new CAPTCHAs (seed 8000, as notebook 08), checks that
the three read the same strings, then times each in turn within every round: images a second in batches of
256, and the median time of one image alone. Run it in a fresh process on a quiet machine.
"""

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

import ocr_helpers as oh  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-path", default="artifacts/captcha_ocr.keras",
                        help="the .keras model to export and time (%(default)s)")
    parser.add_argument("--num-samples", type=int, default=500, help="new CAPTCHAs read (seed 8000, %(default)s)")
    parser.add_argument("--num-rounds", type=int, default=5, help="rounds, every reader once a round (%(default)s)")
    parser.add_argument("--num-single-images", type=int, default=50,
                        help="images read one at a time in each round (%(default)s)")
    options = parser.parse_args()
    import tensorflow as tf

    model = oh.load_model(options.model_path, compile=False)
    images, labels = oh.generate_dataset(options.num_samples, seed=8_000, progress=False)
    with tempfile.TemporaryDirectory() as scratch:
        model.export(Path(scratch) / "saved_model", format="tf_saved_model", verbose=False)
        served = tf.saved_model.load(str(Path(scratch) / "saved_model"))
        onnx_reader = oh.OnnxReader(oh.export_onnx(model, Path(scratch) / "reader.onnx"))
        readers = {"Keras": model.predict_on_batch, "SavedModel": served.serve,
                   "ONNX Runtime": onnx_reader.predict_on_batch}
        texts = {name: oh.greedy_decode(np.asarray(read(images)), oh.model_charset(model))
                 for name, read in readers.items()}
        for name, read_texts in texts.items():
            same = sum(a == b for a, b in zip(read_texts, texts["Keras"]))
            print(f"{name:>13}: {same} of {len(images)} strings as Keras, "
                  f"{oh.sequence_accuracy(labels, read_texts):.2%} right")
        speeds = oh.compare_readers(readers, images, 256, options.num_rounds, options.num_single_images)
    print(f"{os.cpu_count()} logical CPUs; {options.num_rounds} rounds, medians")
    for name, (rate, latency) in speeds.items():
        print(f"{name:>13}: {rate:7,.0f} images/s in batches of 256, {latency * 1e3:5.2f} ms for one image")


if __name__ == "__main__":
    main()
