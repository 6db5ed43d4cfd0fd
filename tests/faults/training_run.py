"""A small training run for the fault tests: `python training_run.py OUT [--pause-in-epoch K]`.

It draws and saves a small dataset, trains a tiny model for 5 epochs with a backup in OUT/backup, and
writes OUT/model.keras, OUT/final_state.npz (last epoch's variables and the optimizer's),
OUT/history.json and OUT/logits.npy. With --pause-in-epoch K it stops, in the
middle of epoch K, to wait for the test to kill it, after touching OUT/paused.
"""

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import ocr_helpers as oh  # noqa: E402

NUM_EPOCHS = 5


class PauseInEpoch(keras.callbacks.Callback):
    """Wait forever after the second batch of epoch `epoch` (counted from 1), once OUT/paused is written."""

    def __init__(self, epoch, marker):
        super().__init__()
        self.epoch, self.marker, self.current = epoch, marker, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == 1:
            self.marker.touch()
            while True:
                time.sleep(0.1)


class SaveFinalState(keras.callbacks.Callback):
    """When training ends, save the last epoch's weights and the optimizer's variables (before the best are restored)."""

    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_train_end(self, logs=None):
        arrays = [keras.ops.convert_to_numpy(v) for v in self.model.variables + self.model.optimizer.variables]
        np.savez(self.path, *arrays)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--pause-in-epoch", type=int)
    arguments = parser.parse_args()
    out = arguments.out
    keras.utils.set_random_seed(0)
    images, labels = oh.generate_dataset(80, seed=31, num_workers=1, progress=False)
    oh.save_dataset(out / "data.npz", images, labels)
    model = oh.build_model(filters=(4, 8, 8), dense_units=8, rnn_units=4)
    callbacks = [SaveFinalState(out / "final_state.npz")]
    if arguments.pause_in_epoch is not None:
        callbacks.append(PauseInEpoch(arguments.pause_in_epoch, out / "paused"))
    batches = oh.array_dataset(images[:64], labels[:64], batch_size=8, seed=0)
    history = oh.train(model, batches, images[64:], labels[64:], epochs=NUM_EPOCHS, learning_rate=1e-2,
                       model_path=out / "model.keras", backup_dir=out / "backup", verbose=0, callbacks=callbacks)
    with oh.atomic_write(out / "history.json", "w") as file:
        json.dump(history, file)
    np.save(out / "logits.npy", oh.predict_logits(model, images[64:]))


if __name__ == "__main__":
    main()
