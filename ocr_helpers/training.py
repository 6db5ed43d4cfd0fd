"""Train the model: a learning-rate schedule, reading accuracy on held-out images, a checkpoint (notebook 06)."""

import math
import time

import keras
from tqdm.std import tqdm

from .ctc import CTCLoss, check_label_fits
from .labels import CHARSET, encode_labels
from .pipeline import array_dataset
from .reading import character_error_rate, predict_text, sequence_accuracy
from .saving import check_model_path, save_model


def warmup_cosine_schedule(learning_rate, total_steps, warmup_steps=0):
    """Rise linearly from learning_rate / 10 over `warmup_steps`, then fall along a cosine to 0 at `total_steps`."""
    if total_steps <= warmup_steps:
        raise ValueError(f"total_steps ({total_steps}) must exceed warmup_steps ({warmup_steps}): train for longer.")
    return keras.optimizers.schedules.CosineDecay(learning_rate / 10, total_steps - warmup_steps,
                                                  warmup_target=learning_rate, warmup_steps=warmup_steps)


def compile_for_training(model, learning_rate, total_steps, warmup_steps=0):
    """Compile `model` with Adam on the warm-up-then-cosine schedule and the CTC loss."""
    schedule = warmup_cosine_schedule(learning_rate, total_steps, warmup_steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=CTCLoss())
    return model


class ReadingAccuracy(keras.callbacks.Callback):
    """Read the held-out images after every epoch and log `val_accuracy` (whole CAPTCHAs) and `val_cer`."""

    def __init__(self, images, labels, charset=CHARSET):
        super().__init__()
        self.images, self.labels, self.charset = images, list(labels), charset

    def on_epoch_end(self, epoch, logs=None):
        predictions = predict_text(self.model, self.images, charset=self.charset)
        logs["val_accuracy"] = sequence_accuracy(self.labels, predictions)
        logs["val_cer"] = character_error_rate(self.labels, predictions)


class StopOnNaN(keras.callbacks.Callback):
    """Stop training at the first batch whose loss is NaN or infinite, and remember where that happened."""

    def __init__(self):
        super().__init__()
        self.epoch, self.failed_at = 0, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.failed_at is None and not math.isfinite(float(logs["loss"])):
            self.failed_at = (self.epoch + 1, batch + 1)
            self.model.stop_training = True


class BestCheckpoint(keras.callbacks.Callback):
    """Keep the weights of the epoch with the best `monitor`, saving them to `path` (if given) each time it improves."""

    def __init__(self, path=None, monitor="val_accuracy", mode="max"):
        super().__init__()
        self.path = None if path is None else check_model_path(path)
        self.monitor, self.sign = monitor, 1 if mode == "max" else -1
        self.best, self.best_epoch, self.best_weights = -math.inf, None, None

    def on_epoch_end(self, epoch, logs=None):
        value, loss = logs.get(self.monitor), logs.get("loss")
        stopped = getattr(self.model, "stop_training", False)
        if value is None or not math.isfinite(value) or not math.isfinite(loss) or stopped:
            return
        if self.sign * value > self.best:
            self.best, self.best_epoch = self.sign * value, epoch + 1
            self.best_weights = self.model.get_weights()
            if self.path is not None:
                save_model(self.model, self.path)


class TrainingProgress(keras.callbacks.Callback):
    """Draw a progress bar during each epoch, then print one line with the epoch's figures."""

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.bar = tqdm(total=self.params["steps"], desc=f"Epoch {epoch + 1}/{self.params['epochs']}",
                        unit="batch", mininterval=2.0, leave=False)

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update(1)
        if self.bar.n % 50 == 0:
            self.bar.set_postfix(loss=f"{float(logs['loss']):.3f}", refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        self.bar.close()
        figures = ", ".join(f"{name} {logs[name]:.4f}" for name in ("loss", "val_loss", "val_accuracy", "val_cer")
                            if name in logs)
        minutes = (time.perf_counter() - self.start) / 60
        print(f"Epoch {epoch + 1}/{self.params['epochs']}: {figures} ({minutes:.1f} min)", flush=True)


def train(model, train_data, validation_images, validation_labels, epochs, steps_per_epoch=None,
          learning_rate=2e-3, warmup_epochs=1, model_path=None, patience=None, progress=True, callbacks=()):
    """Train `model` on `train_data`, batches of scaled images and encoded labels (tf.data.Dataset or PyDataset).

    Adam follows a warm-up-then-cosine schedule; after every epoch the held-out images are read and the best
    epoch is kept (and saved atomically to `model_path`). Training stops early after `patience` epochs without
    a better `val_accuracy`, and raises FloatingPointError, saving nothing more, if the loss becomes NaN.
    Returns the Keras History, whose `history` has loss, val_loss, val_accuracy and val_cer per epoch.
    """
    if epochs <= warmup_epochs:
        raise ValueError(f"epochs ({epochs}) must exceed warmup_epochs ({warmup_epochs}): the step size would "
                         f"never come down. Train for more epochs or set warmup_epochs=0.")
    check_label_fits(encode_labels(validation_labels), model.output_shape[1])
    steps_per_epoch = steps_per_epoch or len(train_data)
    compile_for_training(model, learning_rate, epochs * steps_per_epoch, warmup_epochs * steps_per_epoch)
    stop_on_nan, checkpoint = StopOnNaN(), BestCheckpoint(model_path)
    chain = [stop_on_nan, ReadingAccuracy(validation_images, validation_labels), checkpoint]
    if patience is not None:
        chain.append(keras.callbacks.EarlyStopping("val_accuracy", patience=patience, mode="max"))
    if progress:
        chain.append(TrainingProgress())
    validation = array_dataset(validation_images, validation_labels, batch_size=256, shuffle=False)
    history = model.fit(train_data, epochs=epochs, steps_per_epoch=steps_per_epoch, validation_data=validation,
                        callbacks=chain + list(callbacks), shuffle=False, verbose=0)
    if stop_on_nan.failed_at is not None:
        epoch, batch = stop_on_nan.failed_at
        kept = f"{model_path} still holds epoch {checkpoint.best_epoch}" if checkpoint.best_epoch and model_path \
            else "no model was saved"
        raise FloatingPointError(f"The training loss became NaN in epoch {epoch}, batch {batch}; training stopped and "
                                 f"{kept}. Lower learning_rate (it was {learning_rate}) or check the data for NaN.")
    if checkpoint.best_weights is not None:
        model.set_weights(checkpoint.best_weights)
    return history
