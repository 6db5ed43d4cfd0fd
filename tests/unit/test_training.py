import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

import ocr_helpers as oh


def tiny_model():
    keras.utils.set_random_seed(0)
    return oh.build_model(filters=(4, 8, 8), dense_units=8, rnn_units=4)


@pytest.fixture(scope="module")
def data():
    images, labels = oh.generate_dataset(24, seed=21, num_workers=1, progress=False)
    return images[:16], labels[:16], images[16:], labels[16:]


def test_reader_optimizer_averages_the_weights_only_when_asked():
    assert not oh.reader_optimizer(1e-3, 100).use_ema
    averaging = oh.reader_optimizer(1e-3, 100, ema_momentum=0.95)
    assert averaging.use_ema and averaging.ema_momentum == 0.95
    with pytest.raises(ValueError, match="ema_momentum must lie between 0 and 1"):
        oh.reader_optimizer(1e-3, 100, ema_momentum=1.5)


class SeenWeights(keras.callbacks.Callback):
    """Record the weights the callbacks see at each epoch's end."""

    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([weight.numpy() for weight in self.model.trainable_weights])


def train_seeing(data, ema_momentum):
    """Train the tiny model 2 epochs; return it, its history and the weights seen at each epoch's end."""
    train_images, train_labels, validation_images, validation_labels = data
    model, seen = tiny_model(), SeenWeights()
    history = oh.train(model, oh.array_dataset(train_images, train_labels, batch_size=8), validation_images,
                       validation_labels, epochs=2, learning_rate=1e-2, verbose=0, ema_momentum=ema_momentum,
                       callbacks=[seen])
    return model, history, seen.weights


def test_training_with_averaged_weights_reads_and_keeps_the_average(data):
    model, history, seen = train_seeing(data, ema_momentum=0.5)
    _, _, trained = train_seeing(data, ema_momentum=None)  # the same steps: averaging does not change training
    assert model.optimizer.use_ema
    assert any(not np.allclose(left, right) for left, right in zip(seen[0], trained[0])), \
        "the callbacks should read the average, not the weights being trained"
    best = int(np.argmax(history["val_accuracy"]))
    for kept, average in zip(model.trainable_weights, seen[best]):
        np.testing.assert_array_equal(kept.numpy(), average)


def test_schedule_warms_up_then_falls_to_zero():
    schedule = oh.warmup_cosine_schedule(1e-2, total_steps=100, warmup_steps=10)
    assert float(schedule(0)) == pytest.approx(1e-3)
    assert float(schedule(10)) == pytest.approx(1e-2)
    assert float(schedule(55)) == pytest.approx(5e-3, rel=1e-3)
    assert float(schedule(100)) == pytest.approx(0, abs=1e-9)
    with pytest.raises(ValueError, match="total_steps"):
        oh.warmup_cosine_schedule(1e-2, total_steps=10, warmup_steps=10)


def test_train_logs_reading_figures_prints_each_epoch_and_saves_a_model_that_reloads(data, tmp_path, capsys):
    train_images, train_labels, validation_images, validation_labels = data
    model = tiny_model()
    path = tmp_path / "model.keras"
    history = oh.train(model, oh.array_dataset(train_images, train_labels, batch_size=8), validation_images,
                       validation_labels, epochs=2, warmup_epochs=1, model_path=path)
    assert set(history) == {"loss", "val_loss", "val_accuracy", "val_cer"}
    assert len(history["loss"]) == 2 and history["loss"][1] < history["loss"][0]
    assert all(0 <= value <= 1 for value in history["val_accuracy"])
    printed = capsys.readouterr().out
    assert "Epoch 2/2" in printed and " - loss: " in printed and " - val_accuracy: " in printed
    reloaded = oh.load_model(path)
    assert oh.predict_text(reloaded, validation_images) == oh.predict_text(model, validation_images)
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"], "no training folder is left behind"


class EpochWeights(keras.callbacks.Callback):
    """Keep a copy of the weights at the end of every epoch."""

    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


def test_train_ends_with_the_best_epoch_not_the_last(data, monkeypatch):
    train_images, train_labels, validation_images, validation_labels = data
    scripted = iter([0.2, 0.5, 0.4])  # the accuracy "read" after each epoch
    monkeypatch.setattr(oh.training, "sequence_accuracy", lambda labels, predictions: next(scripted))
    model, recorder = tiny_model(), EpochWeights()
    history = oh.train(model, oh.array_dataset(train_images, train_labels, batch_size=8), validation_images,
                       validation_labels, epochs=3, verbose=0, callbacks=[recorder])
    assert history["val_accuracy"] == [0.2, 0.5, 0.4]
    for kept, second, last in zip(model.get_weights(), recorder.weights[1], recorder.weights[2]):
        np.testing.assert_array_equal(kept, second)
    assert any(not np.array_equal(second, last) for second, last in zip(recorder.weights[1], recorder.weights[2]))


def test_backup_dir_may_hold_braces_which_model_checkpoint_would_otherwise_format(data, tmp_path):
    train_images, train_labels, validation_images, validation_labels = data
    backup = tmp_path / "run {seed} {epoch}"

    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            assert (backup / oh.BEST_NAME).exists(), "the best epoch is saved under the folder's own name"
            self.model.stop_training = True

    history = oh.train(tiny_model(), oh.array_dataset(train_images, train_labels, batch_size=8), validation_images,
                       validation_labels, epochs=2, backup_dir=backup, verbose=0, callbacks=[StopAfterFirstEpoch()])
    assert len(history["loss"]) == 1
    assert not (tmp_path / "run {seed} 1").exists() and not backup.exists(), "finished: the folder was removed"


class PoisonInEpoch(keras.callbacks.Callback):
    """Make the model's output NaN from the start of epoch `epoch` (counted from 1)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            bias = self.model.get_layer("logits").bias
            bias.assign(np.full(bias.shape, np.nan, np.float32))


def test_nan_loss_stops_training_names_epoch_and_batch_and_keeps_what_was_saved(data, tmp_path):
    train_images, train_labels, validation_images, validation_labels = data
    path, backup = tmp_path / "model.keras", tmp_path / "backup"
    path.write_bytes(b"an earlier model")
    with pytest.raises(FloatingPointError, match=r"NaN or infinite in epoch 2 \(NaN or Inf loss encountered at "
                                                 r"batch 0.*model.keras was left as it was.*backup holds the 1 "
                                                 r"epochs before.*learning_rate"):
        oh.train(tiny_model(), oh.array_dataset(train_images, train_labels, batch_size=8), validation_images,
                 validation_labels, epochs=3, model_path=path, backup_dir=backup, verbose=0,
                 callbacks=[PoisonInEpoch(2)])
    assert path.read_bytes() == b"an earlier model"
    assert oh.epochs_done(backup) == 1, "the backup holds the healthy epoch, not the NaN one"
    best = oh.load_model(backup / oh.BEST_NAME)
    assert all(np.isfinite(weights).all() for weights in best.get_weights()), "the best epoch stays intact"


def test_patience_stops_when_reading_accuracy_does_not_improve(data, monkeypatch):
    train_images, train_labels, validation_images, validation_labels = data
    scripted = iter([0.2, 0.5, 0.4, 0.45, 0.3, 0.9, 0.95])  # the accuracy "read" after each epoch
    monkeypatch.setattr(oh.training, "sequence_accuracy", lambda labels, predictions: next(scripted))
    model = tiny_model()
    history = oh.train(model, oh.array_dataset(train_images, train_labels, batch_size=8), validation_images,
                       validation_labels, epochs=7, warmup_epochs=0, patience=2, verbose=0)
    assert history["val_accuracy"] == [0.2, 0.5, 0.4, 0.45], "best in epoch 2, then 2 epochs without"
    assert next(scripted) == 0.3, "epoch 5 never ran"


def test_train_refuses_labels_the_model_cannot_emit(data):
    train_images, train_labels, validation_images, _ = data
    narrow = oh.build_model(width=32, label_length=3, filters=(4, 8, 8), dense_units=8, rnn_units=4)
    with pytest.raises(ValueError, match="needs 9 time steps .* but the model emits 8"):
        oh.train(narrow, oh.array_dataset(train_images, train_labels, batch_size=8), validation_images[:, :, :32],
                 ["AAAAA"] * len(validation_images), epochs=2, verbose=0)
    with pytest.raises(ValueError, match=r"epochs \(1\) must exceed warmup_epochs \(1\)"):
        oh.train(narrow, oh.array_dataset(train_images, train_labels, batch_size=8), validation_images[:, :, :32],
                 ["AB"] * len(validation_images), epochs=1, verbose=0)


class InterruptInEpoch(keras.callbacks.Callback):
    """Raise KeyboardInterrupt, as Ctrl-C does, after the first batch of epoch `epoch` (counted from 1)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch, self.current = epoch, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch:
            raise KeyboardInterrupt


def stream(**options):
    return oh.stream_dataset(batch_size=8, seed=5, num_workers=1, batches_per_epoch=2, **options)


@pytest.mark.parametrize("ema_momentum", [None, 0.9])
def test_ctrl_c_on_a_stream_then_training_again_ends_like_an_uninterrupted_run(data, tmp_path, capsys, ema_momentum):
    _, _, validation_images, validation_labels = data
    settings = dict(epochs=3, learning_rate=1e-2, verbose=0, ema_momentum=ema_momentum)
    whole, recorder = tiny_model(), EpochWeights()
    expected = oh.train(whole, stream(), validation_images, validation_labels, callbacks=[recorder], **settings)
    with pytest.raises(KeyboardInterrupt):
        oh.train(tiny_model(), stream(), validation_images, validation_labels, backup_dir=tmp_path,
                 callbacks=[InterruptInEpoch(2)], **settings)
    assert "Interrupted. Finished epochs saved in" in capsys.readouterr().out
    resumed, resumed_recorder = tiny_model(), EpochWeights()
    history = oh.train(resumed, stream(), validation_images, validation_labels, backup_dir=tmp_path,
                       callbacks=[resumed_recorder], **settings)
    assert "1 of 3 epochs were done" in capsys.readouterr().out
    assert history == expected and len(history["loss"]) == 3 and len(set(history["loss"])) == 3
    assert len(resumed_recorder.weights) == 2, "the continued run trained epochs 2 and 3 only"
    for left, right in zip(resumed_recorder.weights[-1], recorder.weights[-1]):
        np.testing.assert_array_equal(left, right)
    assert not tmp_path.exists(), "a finished run removes its backup"


def test_a_backup_is_continued_only_with_the_same_settings(data, tmp_path):
    train_images, train_labels, validation_images, validation_labels = data
    batches = oh.array_dataset(train_images, train_labels, batch_size=8)
    with pytest.raises(KeyboardInterrupt):
        oh.train(tiny_model(), batches, validation_images, validation_labels, epochs=3, backup_dir=tmp_path,
                 verbose=0, callbacks=[InterruptInEpoch(2)])
    with pytest.raises(ValueError, match=r"other settings \(epochs 3 in the backup, 4 now\).*delete the folder"):
        oh.train(tiny_model(), batches, validation_images, validation_labels, epochs=4, backup_dir=tmp_path,
                 verbose=0)
    with pytest.raises(ValueError, match=r"batches_per_epoch 2 in the backup, 4 now; batch_size 8 in the backup, "
                                         r"4 now"):
        oh.train(tiny_model(), oh.array_dataset(train_images, train_labels, batch_size=4), validation_images,
                 validation_labels, epochs=3, backup_dir=tmp_path, verbose=0)
    with pytest.raises(ValueError, match=r"parameters \d+ in the backup, \d+ now"):
        oh.train(oh.build_model(filters=(4, 8, 16), dense_units=8, rnn_units=4), batches, validation_images,
                 validation_labels, epochs=3, backup_dir=tmp_path, verbose=0)
    for state in (tmp_path / oh.STATE_NAME).glob("latest.weights.h5*"):
        state.write_bytes(state.read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"training backup .* is truncated or corrupt.*delete the folder"):
        oh.train(tiny_model(), batches, validation_images, validation_labels, epochs=3, backup_dir=tmp_path,
                 verbose=0)


def test_train_needs_data_whose_epochs_can_start_anywhere(data, tmp_path):
    train_images, train_labels, validation_images, validation_labels = data
    endless = oh.stream_dataset(batch_size=8, seed=5, num_workers=1)
    plain = [(train_images[:8], oh.encode_labels(train_labels[:8]))]
    for dataset in endless, plain:
        with pytest.raises(ValueError, match=r"oh.array_dataset\(images, labels.*batches_per_epoch"):
            oh.train(tiny_model(), dataset, validation_images, validation_labels, epochs=2, verbose=0)


def test_repeatable_epochs_sets_the_data_epoch_and_the_dropout_state_from_the_epoch(data):
    train_images, train_labels, _, _ = data
    model, batches = tiny_model(), oh.array_dataset(train_images, train_labels, batch_size=8, seed=3)
    callback = oh.RepeatableEpochs(batches, seed=9)
    callback.set_model(model)
    callback.on_epoch_begin(4)
    assert batches.epoch == 4
    state = keras.ops.convert_to_numpy(model.get_layer("dropout").seed_generator.state)
    assert state.tolist() == [9, 4 << 20]


def test_repeatable_epochs_passes_over_a_dropout_of_rate_zero(data):
    train_images, train_labels, _, _ = data
    keras.utils.set_random_seed(0)
    model = oh.build_model(filters=(4, 8, 8), dense_units=8, rnn_units=4, dropout=0.0)  # Keras gives it no seed
    batches = oh.array_dataset(train_images, train_labels, batch_size=8, seed=3)
    callback = oh.RepeatableEpochs(batches, seed=9)
    callback.set_model(model)
    callback.on_epoch_begin(2)
    assert batches.epoch == 2


def test_recomputed_batch_statistics_make_inference_read_as_training_mode_does(data):
    train_images = data[0]
    keras.utils.set_random_seed(0)
    model = oh.build_model(filters=(4, 8, 8), dense_units=8, rnn_units=4, dropout=0.0)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in norms:  # running statistics far from the truth, as mid-run in notebook 06
        layer.moving_mean.assign(np.full(layer.moving_mean.shape, 5.0, np.float32))
    batch = train_images[:8]
    training_mode = keras.ops.convert_to_numpy(model(batch, training=True))
    assert not np.allclose(keras.ops.convert_to_numpy(model(batch, training=False)), training_mode, atol=1e-3)
    callback = oh.RecomputeBatchStatistics(batch, batch_size=8, num_batches=1)
    callback.set_model(model)
    callback.on_test_begin()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(batch, training=False)), training_mode, atol=1e-4)
    means = [keras.ops.convert_to_numpy(layer.moving_mean) for layer in norms]
    callback.on_epoch_end(0)  # once an epoch: the validation pass already recomputed them
    assert all(np.array_equal(mean, keras.ops.convert_to_numpy(layer.moving_mean)) for mean, layer in zip(means, norms))
