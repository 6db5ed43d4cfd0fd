import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import functools

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


def test_schedule_warms_up_then_falls_to_zero():
    schedule = oh.warmup_cosine_schedule(1e-2, total_steps=100, warmup_steps=10)
    assert float(schedule(0)) == pytest.approx(1e-3)
    assert float(schedule(10)) == pytest.approx(1e-2)
    assert float(schedule(55)) == pytest.approx(5e-3, rel=1e-3)
    assert float(schedule(100)) == pytest.approx(0, abs=1e-9)
    with pytest.raises(ValueError, match="total_steps"):
        oh.warmup_cosine_schedule(1e-2, total_steps=10, warmup_steps=10)


def test_train_logs_reading_figures_and_saves_a_model_that_reloads(data, tmp_path, capsys):
    train_images, train_labels, validation_images, validation_labels = data
    model = tiny_model()
    path = tmp_path / "model.keras"
    history = oh.train(model, oh.array_dataset(train_images, train_labels, batch_size=8), validation_images,
                       validation_labels, epochs=2, warmup_epochs=1, model_path=path)
    assert set(history.history) >= {"loss", "val_loss", "val_accuracy", "val_cer"}
    assert len(history.history["loss"]) == 2
    assert history.history["loss"][1] < history.history["loss"][0]
    assert all(0 <= value <= 1 for value in history.history["val_accuracy"])
    assert "Epoch 2/2: loss" in capsys.readouterr().out
    reloaded = oh.load_model(path)
    assert oh.predict_text(reloaded, validation_images) == oh.predict_text(model, validation_images)
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]


def test_best_checkpoint_keeps_the_best_epoch_not_the_last(tmp_path):
    model = tiny_model()
    checkpoint = oh.BestCheckpoint(tmp_path / "best.keras", monitor="val_accuracy")
    checkpoint.set_model(model)
    weights = model.get_weights()
    checkpoint.on_epoch_end(0, {"loss": 3.0, "val_accuracy": 0.5})
    model.set_weights([w + 1 for w in weights])
    checkpoint.on_epoch_end(1, {"loss": 2.0, "val_accuracy": 0.4})
    assert checkpoint.best_epoch == 1
    np.testing.assert_array_equal(checkpoint.best_weights[0], weights[0])
    np.testing.assert_array_equal(oh.load_model(tmp_path / "best.keras").get_weights()[0], weights[0])
    checkpoint.on_epoch_end(2, {"loss": float("nan"), "val_accuracy": 0.9})
    assert checkpoint.best_epoch == 1, "an epoch with a NaN loss is never kept"


def test_nan_loss_stops_training_and_keeps_the_earlier_model(data, tmp_path):
    train_images, train_labels, validation_images, validation_labels = data
    path = tmp_path / "model.keras"
    path.write_bytes(b"an earlier model")
    broken = tiny_model()
    logits = broken.get_layer("logits")
    logits.bias.assign(np.full(logits.bias.shape, np.nan, np.float32))  # every loss is NaN from the first batch
    with pytest.raises(FloatingPointError, match=r"NaN in epoch 1, batch 1.*model.keras was left as it was.*"
                                                 r"backup holds the 0 epochs before.*learning_rate"):
        oh.train(broken, functools.partial(oh.array_epochs, train_images, train_labels, batch_size=8),
                 validation_images, validation_labels, epochs=3, steps_per_epoch=2, model_path=path,
                 backup_dir=tmp_path / "backup", progress=False)
    assert path.read_bytes() == b"an earlier model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"], "no backup of a NaN epoch"


def test_patience_stops_when_reading_accuracy_does_not_improve(data, monkeypatch):
    train_images, train_labels, validation_images, validation_labels = data
    scripted = iter([0.2, 0.5, 0.4, 0.45, 0.3, 0.9, 0.95])  # the accuracy "read" after each epoch
    monkeypatch.setattr(oh.training, "sequence_accuracy", lambda labels, predictions: next(scripted))
    model = tiny_model()
    history = oh.train(model, oh.array_dataset(train_images, train_labels, batch_size=8), validation_images,
                       validation_labels, epochs=7, warmup_epochs=0, patience=2, progress=False)
    assert history.history["val_accuracy"] == [0.2, 0.5, 0.4, 0.45], "best in epoch 2, then 2 epochs without"
    assert next(scripted) == 0.3, "epoch 5 never ran"


def test_train_refuses_labels_the_model_cannot_emit(data):
    train_images, train_labels, validation_images, _ = data
    narrow = oh.build_model(width=64, label_length=3, filters=(4, 8, 8), dense_units=8, rnn_units=4)
    with pytest.raises(ValueError, match="needs 9 time steps .* but the model emits 8"):
        oh.train(narrow, oh.array_dataset(train_images, train_labels, batch_size=8), validation_images[:, :, :64],
                 ["AAAAA"] * len(validation_images), epochs=2, progress=False)
    with pytest.raises(ValueError, match=r"epochs \(1\) must exceed warmup_epochs \(1\)"):
        oh.train(narrow, oh.array_dataset(train_images, train_labels, batch_size=8), validation_images[:, :, :64],
                 ["AB"] * len(validation_images), epochs=1, progress=False)


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


def test_ctrl_c_on_a_stream_then_training_again_ends_like_an_uninterrupted_run(data, tmp_path, capsys):
    _, _, validation_images, validation_labels = data
    stream = functools.partial(oh.stream_dataset, batch_size=8, seed=5, num_workers=1)
    settings = dict(epochs=3, steps_per_epoch=2, learning_rate=1e-2, progress=False)
    whole = tiny_model()
    expected = oh.train(whole, stream, validation_images, validation_labels, **settings).history
    interrupted = tiny_model()
    with pytest.raises(KeyboardInterrupt):
        oh.train(interrupted, stream, validation_images, validation_labels, backup_dir=tmp_path,
                 callbacks=[InterruptInEpoch(2)], **settings)
    assert "Interrupted. Finished epochs saved in" in capsys.readouterr().out
    resumed = tiny_model()
    history = oh.train(resumed, stream, validation_images, validation_labels, backup_dir=tmp_path, **settings)
    assert "1 of 3 epochs were done" in capsys.readouterr().out
    assert history.history == expected and len(history.history["loss"]) == 3
    for left, right in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(left, right)


def test_a_backup_is_continued_only_with_the_same_settings(data, tmp_path):
    train_images, train_labels, validation_images, validation_labels = data
    batches = functools.partial(oh.array_epochs, train_images, train_labels, batch_size=8)
    settings = dict(steps_per_epoch=2, backup_dir=tmp_path, progress=False)
    with pytest.raises(KeyboardInterrupt):
        oh.train(tiny_model(), batches, validation_images, validation_labels, epochs=3,
                 callbacks=[InterruptInEpoch(2)], **settings)
    with pytest.raises(ValueError, match=r"other settings \(epochs 3 in the backup, 4 now\).*delete the folder"):
        oh.train(tiny_model(), batches, validation_images, validation_labels, epochs=4, **settings)
    state = oh.backup_path(tmp_path)
    state.write_bytes(state.read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"training backup .* is truncated or corrupt.*delete the folder"):
        oh.train(tiny_model(), batches, validation_images, validation_labels, epochs=3, **settings)


def test_a_resumable_run_needs_data_that_can_start_at_any_batch(data, tmp_path):
    train_images, train_labels, validation_images, validation_labels = data
    stream = oh.stream_dataset(batch_size=8, seed=5, num_workers=1)
    for dataset in stream, oh.array_dataset(train_images, train_labels, batch_size=8):
        with pytest.raises(ValueError, match=r"functools.partial\(oh.array_epochs.*functools.partial\(oh.stream"):
            oh.train(tiny_model(), dataset, validation_images, validation_labels, epochs=2, steps_per_epoch=2,
                     backup_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="set steps_per_epoch"):
        oh.train(tiny_model(), stream, validation_images, validation_labels, epochs=2, progress=False)
