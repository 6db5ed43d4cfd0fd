"""Train the model: a learning-rate schedule, reading accuracy on held-out images, a checkpoint (notebook 06)."""

import math
import time

import keras
from tqdm.std import tqdm

from .ctc import CTCLoss, check_label_fits
from .data import dataset_fingerprint
from .labels import encode_labels
from .model import model_charset
from .pipeline import array_dataset
from .reading import character_error_rate, predict_text, sequence_accuracy
from .resume import TrainingBackup, backup_path, restore_training_state
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

    def __init__(self, images, labels, charset=None):
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
    """Keep the weights of the epoch with the best `monitor`, saving them to `path` (if given) each time it improves,
    and stop training once `patience` epochs have passed without a better one."""

    def __init__(self, path=None, monitor="val_accuracy", mode="max", patience=None):
        super().__init__()
        self.path = None if path is None else check_model_path(path)
        self.monitor, self.sign, self.patience = monitor, 1 if mode == "max" else -1, patience
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
        if self.patience is not None and epoch + 1 - self.best_epoch >= self.patience:
            self.model.stop_training = True


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


def batches_per_epoch(train_data, steps_per_epoch):
    """Return the number of batches an epoch takes from `train_data`: steps_per_epoch, or one pass over it."""
    if steps_per_epoch:
        return steps_per_epoch
    try:
        batches = 0 if callable(train_data) else len(train_data)
    except TypeError:
        batches = 0
    if batches <= 0:
        raise ValueError("train_data has no length that makes an epoch (it is a function, a stream or empty): "
                         "set steps_per_epoch, the number of batches an epoch takes.")
    return batches


def training_batches(train_data, first_batch, resumable):
    """Return the batches to train on, starting at batch `first_batch`.

    `train_data` is either a dataset that fit() takes (a PyDataset such as oh.array_dataset(...), or a
    tf.data.Dataset), or a function of `first_batch` returning the endless run of batches from there on, such
    as functools.partial(oh.array_epochs, images, labels, seed=...) or functools.partial(oh.stream_dataset,
    seed=...). Only a function lets a stopped run continue exactly: a dataset reshuffled every epoch gives
    other batches once it has been read before.
    """
    if callable(train_data):
        return train_data(first_batch=first_batch)
    if resumable:
        raise ValueError("A run with a backup_dir must be able to restart its data at any batch: pass "
                         "functools.partial(oh.array_epochs, images, labels, batch_size=..., seed=...) for saved "
                         "images, or functools.partial(oh.stream_dataset, batch_size=..., seed=...) for the stream.")
    return train_data


def continue_from_backup(model, state_path, settings, checkpoint):
    """Load the backup at `state_path`, if there is one, into `model` and `checkpoint`; return its record or {}."""
    if state_path is None or not state_path.is_file():
        return {}
    record = restore_training_state(model, state_path, settings)
    checkpoint.best, checkpoint.best_epoch, checkpoint.best_weights = (record["best"], record["best_epoch"],
                                                                       record["best_weights"])
    print(f"Continuing the training saved in {state_path.parent}: {record['epochs_done']} of {settings['epochs']} "
          f"epochs were done.", flush=True)
    return record


def train(model, train_data, validation_images, validation_labels, epochs, steps_per_epoch=None,
          learning_rate=2e-3, warmup_epochs=1, model_path=None, backup_dir=None, patience=None, progress=True,
          callbacks=(), charset=None):
    """Train `model` on `train_data`: a PyDataset such as oh.array_dataset(...), or a function of first_batch
    such as functools.partial(oh.array_epochs, ...) or functools.partial(oh.stream_dataset, ...), which a run with
    a `backup_dir` needs. Returns a Keras History with loss, val_loss, val_accuracy and val_cer per epoch.

    Adam follows a warm-up-then-cosine schedule; after every epoch the held-out images are read and the best
    epoch is kept. With `backup_dir`, the whole training state is saved there after every epoch, and a later
    call with the same settings continues from the last finished epoch, ending with the same weights as a run
    that was never stopped. `model_path` is written, atomically, only once training has finished, so a killed
    or failed run leaves the previous model in place. Training stops early after `patience` epochs without a
    better `val_accuracy`, and raises FloatingPointError, saving nothing, if the loss becomes NaN.
    """
    if epochs <= warmup_epochs:
        raise ValueError(f"epochs ({epochs}) must exceed warmup_epochs ({warmup_epochs}): the step size would "
                         f"never come down. Train for more epochs or set warmup_epochs=0.")
    charset = model_charset(model) if charset is None else charset
    label_length = max(map(len, validation_labels))
    check_label_fits(encode_labels(validation_labels, charset, label_length), model.output_shape[1])
    model_path = None if model_path is None else check_model_path(model_path)
    state_path = None if backup_dir is None else backup_path(backup_dir)
    steps_per_epoch = batches_per_epoch(train_data, steps_per_epoch)
    compile_for_training(model, learning_rate, epochs * steps_per_epoch, warmup_epochs * steps_per_epoch)
    settings = {"epochs": epochs, "steps_per_epoch": steps_per_epoch, "learning_rate": learning_rate,
                "warmup_epochs": warmup_epochs, "patience": patience, "parameters": model.count_params(),
                "charset": charset, "validation": dataset_fingerprint(validation_images, list(validation_labels))}
    checkpoint = BestCheckpoint(patience=patience)
    record = continue_from_backup(model, state_path, settings, checkpoint)
    backup = TrainingBackup(state_path, settings, checkpoint, record.get("history"), record.get("stopped", False))
    initial_epoch = epochs if backup.stopped else backup.epochs_done
    data = training_batches(train_data, initial_epoch * steps_per_epoch, resumable=state_path is not None)
    stop_on_nan = StopOnNaN()
    chain = [stop_on_nan, ReadingAccuracy(validation_images, validation_labels, charset), checkpoint, backup]
    if progress:
        chain.append(TrainingProgress())
    validation = array_dataset(validation_images, validation_labels, batch_size=256, shuffle=False, charset=charset,
                               label_length=label_length)
    try:
        history = model.fit(data, epochs=epochs, initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch,
                            validation_data=validation, callbacks=chain + list(callbacks), shuffle=False, verbose=0)
    except KeyboardInterrupt:
        if state_path is not None:
            print(f"Interrupted. Finished epochs saved in {backup_dir}: {backup.epochs_done} of {epochs}. Run this "
                  f"again with the same settings to continue from there.", flush=True)
        raise
    if stop_on_nan.failed_at is not None:
        raise nan_error(stop_on_nan.failed_at, learning_rate, model_path, backup_dir, backup.epochs_done)
    finish_training(model, checkpoint, model_path, state_path)
    history.history, history.epoch = backup.history, list(range(backup.epochs_done))
    return history


def finish_training(model, checkpoint, model_path, state_path):
    """Put the best epoch's weights back, save the model if asked, and delete the backup, now finished with."""
    if checkpoint.best_weights is not None:
        model.set_weights(checkpoint.best_weights)
    if model_path is not None:
        save_model(model, model_path)
    if state_path is not None:
        state_path.unlink(missing_ok=True)
        if not any(state_path.parent.iterdir()):
            state_path.parent.rmdir()


def nan_error(failed_at, learning_rate, model_path, backup_dir, epochs_done):
    """Return the FloatingPointError for a NaN loss, saying what was kept and what to change."""
    epoch, batch = failed_at
    kept = "no model was saved" if model_path is None else f"{model_path} was left as it was"
    if backup_dir is not None:
        kept += f"; {backup_dir} holds the {epochs_done} epochs before (delete it to start again)"
    return FloatingPointError(f"The training loss became NaN in epoch {epoch}, batch {batch}; training stopped and "
                              f"{kept}. Lower learning_rate (it was {learning_rate}) or check the data for NaN.")
