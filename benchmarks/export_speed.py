"""Time notebook 08's three readers side by side: the Keras model, its SavedModel and its ONNX file.

    .venv/bin/python benchmarks/export_speed.py [--model artifacts/captcha_ocr.keras] [--rounds 5]

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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="artifacts/captcha_ocr.keras")
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--single-images", type=int, default=50)
    options = parser.parse_args()
    import tensorflow as tf

    model = oh.load_model(options.model, compile=False)
    images, labels = oh.generate_dataset(options.images, seed=8_000, progress=False)
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
        speeds = oh.compare_readers(readers, images, 256, options.rounds, options.single_images)
    print(f"{os.cpu_count()} logical CPUs; {options.rounds} rounds, medians")
    for name, (rate, latency) in speeds.items():
        print(f"{name:>13}: {rate:7,.0f} images/s in batches of 256, {latency * 1e3:5.2f} ms for one image")


if __name__ == "__main__":
    main()
