"""A small training run for the fault tests: `python training_run.py OUT [--pause-in-epoch K]`.

It draws and saves a small dataset, trains the tests' tiny model (tests/unit/tiny.py, without the GRU) for 5 epochs
with a backup in OUT/backup, and writes OUT/model.keras, OUT/final_state.npz (last epoch's variables and the
optimizer's), OUT/history.json and OUT/logits.npy. With --pause-in-epoch K it stops, in the middle of epoch K, to
wait for the test to kill it, after touching OUT/paused. With --pause-in-save NAME [--from-epoch K] it stops in the
middle of the first save (by Keras or oh.save_model) of a file whose name holds NAME, from epoch K on, after writing
half a file there, as a kill during the write would leave it.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import ocr_helpers as oh  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from tiny import tiny_model  # noqa: E402  (the model oh.train's other tests train)

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
            wait_forever(self.marker)


def wait_forever(marker):
    """Touch `marker`, for the test to see, and wait to be killed."""
    marker.touch()
    while True:
        time.sleep(0.1)


class PauseInSave(keras.callbacks.Callback):
    """Pause half-way through the first save of a file whose name holds `name`, from epoch `from_epoch` on."""

    def __init__(self, name, from_epoch, marker):
        super().__init__()
        self.name, self.from_epoch, self.marker, self.current = name, from_epoch, marker, 0
        for method in ("save", "save_weights"):
            self.trap(method)

    def trap(self, method):
        original = getattr(keras.Model, method)

        def save(model, filepath, *args, **kwargs):
            if self.name in Path(filepath).name and self.current >= self.from_epoch:
                Path(filepath).write_bytes(b"half a file")
                wait_forever(self.marker)
            return original(model, filepath, *args, **kwargs)

        setattr(keras.Model, method, save)

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch + 1

    def on_train_end(self, logs=None):
        self.current = NUM_EPOCHS + 1  # the final model's save comes after training ends


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
    parser.add_argument("--pause-in-save")
    parser.add_argument("--from-epoch", type=int, default=1)
    arguments = parser.parse_args()
    out = arguments.out
    keras.utils.set_random_seed(0)
    images, labels = oh.generate_dataset(80, seed=31, num_workers=1, progress=False)
    oh.save_dataset(out / "data.npz", images, labels)
    model = tiny_model()
    callbacks = [SaveFinalState(out / "final_state.npz")]
    if arguments.pause_in_epoch is not None:
        callbacks.append(PauseInEpoch(arguments.pause_in_epoch, out / "paused"))
    if arguments.pause_in_save is not None:
        callbacks.append(PauseInSave(arguments.pause_in_save, arguments.from_epoch, out / "paused"))
    batches = oh.array_dataset(images[:64], labels[:64], batch_size=8, seed=0)
    history = oh.train(model, batches, images[64:], labels[64:], epochs=NUM_EPOCHS, learning_rate=1e-2,
                       model_path=out / "model.keras", backup_dir=out / "backup", verbose=0, callbacks=callbacks)
    with oh.atomic_write(out / "history.json", "w") as file:
        json.dump(history, file)
    np.save(out / "logits.npy", oh.predict_logits(model, images[64:]))


if __name__ == "__main__":
    main()
