"""Train the model with `model.fit` and Keras' own callbacks, as notebook 06 builds it in cells."""

import contextlib
import tempfile
from pathlib import Path

import keras

from .ctc import check_label_fits, compile_model
from .labels import encode_labels
from .model import build_model, model_charset
from .pipeline import array_dataset, fit_input
from .files import move_into_place
from .reading import character_error_rate, predict_text, sequence_accuracy
from .resume import (BEST_NAME, LOG_NAME, STAGED_BEST_NAME, STATE_NAME, clear_training_folder, epochs_done,
                     has_backup, read_log, start_or_continue)
from .saving import check_model_path, load_model, save_model

STATISTICS_BATCHES = 100  # training batches (an epoch's at most) that set batch normalization's statistics anew
CLIPNORM = None  # or a number: a longer gradient is scaled down to it (measured in notebook 06: it did not help)
KERAS_WRITTEN_FOR = "3.15"  # the Keras whose private parts `reseed_dropout` and `SwapAveragedWeights` reach into


def reseed_dropout(layer, seed, epoch):
    """Set a Dropout layer's random state to one made from (seed, epoch), through its `state` variable."""
    state = layer.seed_generator.state
    state.assign(keras.ops.convert_to_tensor([seed, epoch << 20], dtype=state.dtype))


def warmup_cosine_schedule(learning_rate, total_steps, warmup_steps=0):
    """Rise linearly from learning_rate / 10 over `warmup_steps`, then fall along a cosine to 0 at `total_steps`."""
    if total_steps <= warmup_steps:
        raise ValueError(f"total_steps ({total_steps}) must exceed warmup_steps ({warmup_steps}): train for longer.")
    return keras.optimizers.schedules.CosineDecay(learning_rate / 10, total_steps - warmup_steps,
                                                  warmup_target=learning_rate, warmup_steps=warmup_steps)


def reader_optimizer(learning_rate, total_steps, warmup_steps=0, clipnorm=CLIPNORM, ema_momentum=None):
    """Return Adam on the warm-up-then-cosine schedule, with optional gradient clipping and weight averaging."""
    if ema_momentum is not None and not 0 < ema_momentum < 1:
        raise ValueError(f"ema_momentum must lie between 0 and 1 (0.99 averages about the last 100 steps), "
                         f"not {ema_momentum}.")
    return keras.optimizers.Adam(warmup_cosine_schedule(learning_rate, total_steps, warmup_steps), clipnorm=clipnorm,
                                 use_ema=ema_momentum is not None, ema_momentum=ema_momentum or 0.99)


def reading_rank(accuracy, epoch, epochs, num_images):
    """Return what the best epoch is chosen by: the accuracy on `num_images`, and of equal ones the later epoch's."""
    return accuracy + (epoch + 1) / (num_images * (max(epochs, epoch + 1) + 1))  # less than one image more right


class ReadingAccuracy(keras.callbacks.Callback):
    """Read the held-out images after every epoch; log `val_accuracy` (whole CAPTCHAs), `val_cer` and `val_rank`."""

    def __init__(self, images, labels, charset=None):
        super().__init__()
        self.images, self.labels, self.charset = images, list(labels), charset

    def on_epoch_end(self, epoch, logs=None):
        predictions = predict_text(self.model, self.images, charset=self.charset)
        logs["val_accuracy"] = sequence_accuracy(self.labels, predictions)
        logs["val_cer"] = character_error_rate(self.labels, predictions)
        epochs = (self.params or {}).get("epochs", epoch + 1)  # fit gives callbacks its settings
        logs["val_rank"] = reading_rank(logs["val_accuracy"], epoch, epochs, len(self.labels))


class RecomputeBatchStatistics(keras.callbacks.Callback):
    """Before each epoch's reading, set batch normalization's statistics from `num_batches` batches of `images`."""

    def __init__(self, images, batch_size=32, num_batches=100):
        super().__init__()
        self.images, self.batch_size, self.num_batches = images, batch_size, num_batches
        self.recomputed = False

    def on_epoch_begin(self, epoch, logs=None):
        self.recomputed = False

    def on_test_begin(self, logs=None):  # fit's validation pass
        self.recompute()

    def on_epoch_end(self, epoch, logs=None):  # for a fit without validation data
        self.recompute()

    def recompute(self):
        """Average the inputs' statistics of every BatchNormalization layer over the batches, once an epoch."""
        if self.recomputed:
            return
        norms = [layer for layer in self.model.layers if isinstance(layer, keras.layers.BatchNormalization)]
        inputs = keras.Model(self.model.input, [layer.input for layer in norms])
        sums = [[0.0, 0.0] for _ in norms]
        starts = range(0, min(len(self.images), self.batch_size * self.num_batches), self.batch_size)
        for start in starts:
            batch = self.images[start:start + self.batch_size]
            for total, features in zip(sums, inputs(batch, training=True)):  # each batch's own statistics upstream
                mean, variance = keras.ops.moments(features, axes=[0, 1, 2])
                total[0] += keras.ops.convert_to_numpy(mean)
                total[1] += keras.ops.convert_to_numpy(variance)
        for layer, (mean, variance) in zip(norms, sums):
            layer.moving_mean.assign(mean / len(starts))
            layer.moving_variance.assign(variance / len(starts))
        self.recomputed = True


class MoveIntoPlace(keras.callbacks.Callback):
    """After every epoch, move the file written at `staged` (if any) onto `path`, once complete."""

    def __init__(self, staged, path):
        super().__init__()
        self.staged, self.path = Path(staged), Path(path)

    def on_epoch_end(self, epoch, logs=None):
        if self.staged.is_file():
            move_into_place(self.staged, self.path)


class RepeatableEpochs(keras.callbacks.Callback):
    """At the start of epoch e, give the data and every dropout layer epoch e's random state, from (seed, e)."""

    def __init__(self, data, seed=0):
        super().__init__()
        self.data, self.seed, self.epoch = data, seed, None  # None until the first epoch begins

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.data.set_epoch(epoch)
        dropouts = [layer for layer in self.model.layers  # a rate of 0 draws nothing and has no seed generator
                    if isinstance(layer, keras.layers.Dropout) and layer.rate > 0]
        for number, layer in enumerate(dropouts):
            reseed_dropout(layer, self.seed + number, epoch)


class SwapAveragedWeights(keras.callbacks.SwapEMAWeights):
    """Keras' `SwapEMAWeights`, whose average keeps its own copy of the last epoch's weights on JAX too."""

    def _backend_finalize_ema_values(self, optimizer):  # Keras 3.15 shares one array, which the next `predict` deletes
        for weight, average in zip(optimizer._trainable_variables, optimizer._model_variables_moving_average):
            average.assign(keras.ops.copy(weight))


def training_callbacks(folder, train_data, validation_images, validation_labels, charset=None, seed=0,
                       best_so_far=None, backup=True, patience=None, ema=False, extra=()):
    """Return the callbacks of notebook 06's training, writing into `folder`, in the order they must run."""
    folder = Path(folder)
    statistics_batches = min(STATISTICS_BATCHES, len(train_data))  # no more than an epoch holds
    state = [keras.callbacks.BackupAndRestore(folder / STATE_NAME, double_checkpoint=True, delete_checkpoint=False)
             ] if backup else []  # kept until the final model is saved: clear_training_folder deletes it
    callbacks = [
        RepeatableEpochs(train_data, seed),
        keras.callbacks.TerminateOnNaN(raise_error=True),
        *(state + [SwapAveragedWeights(swap_on_epoch=True)] if ema else []),
        RecomputeBatchStatistics(train_data.first_images(statistics_batches * train_data.batch_size),
                                 train_data.batch_size, statistics_batches),
        ReadingAccuracy(validation_images, validation_labels, charset),
        keras.callbacks.ModelCheckpoint(literal_filepath(folder / STAGED_BEST_NAME), monitor="val_rank",
                                        mode="max", save_best_only=True, initial_value_threshold=best_so_far),
        MoveIntoPlace(folder / STAGED_BEST_NAME, folder / BEST_NAME),
        keras.callbacks.CSVLogger(folder / LOG_NAME, append=True),
    ]
    if patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=patience))
    callbacks += list(extra)
    return callbacks if ema else callbacks + state


def literal_filepath(path):
    """Return `path` as ModelCheckpoint's `filepath`, which it formats: braces in folder names are kept as they are."""
    return str(path).replace("{", "{{").replace("}", "}}")


@contextlib.contextmanager
def training_folder(backup_dir):
    """Yield `backup_dir` as a Path, or a temporary folder, deleted afterwards, when it is None."""
    if backup_dir is not None:
        yield Path(backup_dir)
        return
    with tempfile.TemporaryDirectory(prefix="ocr-training-") as folder:
        yield Path(folder) / "run"


def check_training_data(train_data, epochs, warmup_epochs):
    """Return the number of batches in an epoch of `train_data`, after checking it can be trained on."""
    if epochs <= warmup_epochs:
        raise ValueError(f"epochs ({epochs}) must exceed warmup_epochs ({warmup_epochs}): the step size would "
                         f"never come down. Train for more epochs or set warmup_epochs=0.")
    try:
        steps = len(train_data) if hasattr(train_data, "set_epoch") else 0
    except TypeError:
        steps = 0
    if steps <= 0:
        raise ValueError("train_data must be one epoch of batches that can start at any epoch: "
                         "oh.array_dataset(images, labels, ...) for saved images, or "
                         "oh.stream_dataset(..., batches_per_epoch=...) for the stream.")
    return steps


def run_settings(model, train_data, epochs, learning_rate, warmup_epochs, clipnorm, ema_momentum, charset, seed):
    """Return the settings a backup must have been made with to be continued (`start_or_continue` checks them)."""
    return {"epochs": epochs, "batches_per_epoch": len(train_data), "batch_size": train_data.batch_size,
            "learning_rate": learning_rate, "warmup_epochs": warmup_epochs, "clipnorm": clipnorm,
            "ema_momentum": ema_momentum, "parameters": model.count_params(), "charset": charset, "seed": seed}


def train(model, train_data, validation_images, validation_labels, epochs, learning_rate=2e-3, warmup_epochs=1,
          model_path=None, backup_dir=None, patience=None, verbose=2, callbacks=(), charset=None, seed=0,
          clipnorm=CLIPNORM, ema_momentum=None):
    """Train `model` on `train_data` as notebook 06 does; return {figure: [value per epoch]}."""
    steps = check_training_data(train_data, epochs, warmup_epochs)
    charset = model_charset(model) if charset is None else charset
    label_length = max(map(len, validation_labels))
    check_label_fits(encode_labels(validation_labels, charset, label_length), model.output_shape[1])
    model_path = None if model_path is None else check_model_path(model_path)
    compile_model(model, optimizer=reader_optimizer(learning_rate, epochs * steps, warmup_epochs * steps, clipnorm,
                                                    ema_momentum))
    settings = run_settings(model, train_data, epochs, learning_rate, warmup_epochs, clipnorm, ema_momentum, charset,
                            seed)
    validation = array_dataset(validation_images, validation_labels, batch_size=256, shuffle=False, charset=charset,
                               label_length=label_length)
    with training_folder(backup_dir) as folder:
        best_so_far = start_or_continue(folder, settings, keep=[model_path])
        if has_backup(folder):
            print(f"Continuing the training saved in {folder}: {epochs_done(folder)} of {epochs} epochs were done.",
                  flush=True)
        chain = training_callbacks(folder, train_data, validation_images, validation_labels, charset, seed,
                                   best_so_far, backup=backup_dir is not None, patience=patience,
                                   ema=ema_momentum is not None, extra=callbacks)
        try:
            model.fit(fit_input(train_data), epochs=epochs, validation_data=fit_input(validation),
                      callbacks=chain, shuffle=False, verbose=verbose)  # the data shuffle themselves
        except KeyboardInterrupt:
            if backup_dir is not None:
                print(f"Interrupted. Finished epochs saved in {backup_dir}: {epochs_done(folder)} of {epochs}. Run "
                      f"this again with the same settings to continue from there.", flush=True)
            raise
        except RuntimeError as error:
            if "NaN or Inf loss" not in str(error):
                raise
            raise nan_error(chain[0].epoch + 1, error, learning_rate, model_path, backup_dir, epochs_done(folder))
        except OSError as error:
            if restoring_failed(error, chain[0].epoch is not None, folder):
                raise ValueError(f"The training backup in {folder} is truncated or corrupt and could not be "
                                 f"loaded ({error}): delete the folder {folder} to train from the first epoch "
                                 f"again.") from error
            raise write_error(error, chain[0].epoch, model_path, backup_dir, epochs_done(folder)) from error
        history = read_log(folder / LOG_NAME)
        try:
            if (folder / BEST_NAME).is_file():  # the best epoch's weights, then the model saved if asked
                model.set_weights(load_model(folder / BEST_NAME, compile=False).get_weights())
            if model_path is not None:
                save_model(model, model_path)
        except OSError as error:
            raise write_error(error, None, model_path, backup_dir, epochs_done(folder)) from error
        clear_training_folder(folder)  # finished: the next run with this backup_dir starts afresh
    return history


def restoring_failed(error, started, folder):
    """Return True if `error` came from BackupAndRestore loading the backup in `folder` before epoch 1."""
    state = Path(folder) / STATE_NAME
    return (not started and has_backup(folder)
            and (error.filename is None or Path(error.filename).resolve().parent == state.resolve()))


def write_error(error, epoch, model_path, backup_dir, epochs_done):
    """Return the OSError for a file that could not be written, saying when, why, and what was kept."""
    when = "after the last epoch" if epoch is None else f"in epoch {epoch + 1}"
    file = f" {error.filename}" if error.filename else ""
    kept = "no model was saved" if model_path is None else f"{model_path} was left as it was"
    if backup_dir is not None:
        kept += (f"; {backup_dir} holds the last good backup, {epochs_done} finished epochs: free some space or fix "
                 f"the permission, then run this again to continue from there")
    message = f"Training stopped {when}: writing{file} failed ({error.strerror or error}); {kept}"
    return OSError(error.errno, message) if error.errno else OSError(message)


def nan_error(epoch, error, learning_rate, model_path, backup_dir, epochs_done):
    """Return the FloatingPointError for a NaN loss, saying where, what was kept and what to change."""
    kept = "no model was saved" if model_path is None else f"{model_path} was left as it was"
    if backup_dir is not None:
        kept += f"; {backup_dir} holds the {epochs_done} epochs before (delete it to start again)"
    return FloatingPointError(f"The training loss became NaN or infinite in epoch {epoch} ({error}); training "
                              f"stopped and {kept}. Lower learning_rate (it was {learning_rate}) or check the data "
                              f"for NaN.")


def load_or_train_reader(model_path, data_dir, seed=0, num_samples=20_000, epochs=3):
    """Load notebook 06's model from `model_path`; if it is missing, train a short stand-in on notebook 01's data."""
    from .data import load_or_generate_dataset

    if Path(model_path).is_file():
        return load_model(model_path)
    print(f"No model at {model_path}: training one for {epochs} epochs on notebook 01's images "
          f"(notebook 06 trains a better one)")
    images, labels = load_or_generate_dataset(Path(data_dir) / "train.npz", num_samples, seed=seed)
    keras.utils.set_random_seed(seed)
    model = build_model()
    train(model, array_dataset(images, labels, seed=seed), images[:500], labels[:500], epochs=epochs, verbose=0)
    return model
