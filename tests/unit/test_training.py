import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

import ocr_helpers as oh
from tiny import tiny_model


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
    best = int(np.argmax(history["val_rank"]))
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
    assert set(history) == {"loss", "val_loss", "val_accuracy", "val_cer", "val_rank"}
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


def test_averaged_weights_of_a_best_last_epoch_are_kept_and_saved_on_every_backend(data, monkeypatch, tmp_path):
    # Keras 3.15's SwapEMAWeights gave the average the weights' own JAX array after the last epoch; reading the
    # held-out images then freed it, and saving the best epoch failed with "Array has been deleted"
    train_images, train_labels, validation_images, validation_labels = data
    scripted = iter([0.2, 0.5])  # the last epoch is the best, so ModelCheckpoint saves after it
    monkeypatch.setattr(oh.training, "sequence_accuracy", lambda labels, predictions: next(scripted))
    model, seen, path = tiny_model(), SeenWeights(), tmp_path / "model.keras"
    oh.train(model, oh.array_dataset(train_images, train_labels, batch_size=8), validation_images, validation_labels,
             epochs=2, learning_rate=1e-2, verbose=0, ema_momentum=0.5, model_path=path, callbacks=[seen])
    for kept, saved, average in zip(model.trainable_weights, oh.load_model(path).trainable_weights, seen.weights[1]):
        np.testing.assert_array_equal(kept.numpy(), average)
        np.testing.assert_array_equal(saved.numpy(), average)


def test_a_tie_in_accuracy_goes_to_the_later_epoch(data, monkeypatch):
    train_images, train_labels, validation_images, validation_labels = data
    scripted = iter([0.2, 0.5, 0.5, 0.4])  # epochs 2 and 3 read as many images right
    monkeypatch.setattr(oh.training, "sequence_accuracy", lambda labels, predictions: next(scripted))
    model, recorder = tiny_model(), EpochWeights()
    history = oh.train(model, oh.array_dataset(train_images, train_labels, batch_size=8), validation_images,
                       validation_labels, epochs=4, verbose=0, callbacks=[recorder])
    assert history["val_accuracy"] == [0.2, 0.5, 0.5, 0.4]
    for weights, third in zip(model.get_weights(), recorder.weights[2]):
        np.testing.assert_array_equal(weights, third)


def test_the_rank_orders_ties_by_epoch_and_never_outweighs_one_image_even_in_float32():
    num_images, epochs = 2_000, 100
    ranks = [oh.reading_rank(0.5, epoch, epochs, num_images) for epoch in range(epochs)]
    assert all(later > earlier for earlier, later in zip(np.float32(ranks), np.float32(ranks[1:]))), \
        "ModelCheckpoint compares in float32: every later epoch must still rank higher"
    assert oh.reading_rank(0.5 + 1 / num_images, 0, epochs, num_images) > ranks[-1], "one image more right wins"
    assert oh.reading_rank(0.5, 7, 4, num_images) < oh.reading_rank(0.5 + 1 / num_images, 0, 4, num_images), \
        "an epoch past the planned ones (a continued run) still adds less than one image"


def test_backup_dir_may_hold_braces_which_model_checkpoint_would_otherwise_format(data, tmp_path):
    train_images, train_labels, validation_images, validation_labels = data
    backup = tmp_path / "run {seed} {epoch}"

    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            assert (backup / oh.resume.BEST_NAME).exists(), "the best epoch is saved under the folder's own name"
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
    assert oh.resume.epochs_done(backup) == 1, "the backup holds the healthy epoch, not the NaN one"
    best = oh.load_model(backup / oh.resume.BEST_NAME)
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
    assert list(tmp_path.iterdir()) == [], "a finished run removes its backup, and keeps the folder it did not make"


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
    for state in (tmp_path / oh.resume.STATE_NAME).glob("latest.weights.h5*"):
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


def test_repeatable_epochs_passes_over_a_dropout_of_rate_zero_and_reseeds_the_others(data):
    train_images, train_labels, _, _ = data
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16,))
    silent = keras.layers.Dropout(0.0, name="silent")(inputs)  # Keras gives a rate of 0 no seed generator
    model = keras.Model(inputs, keras.layers.Dropout(0.5, name="active")(silent))
    batches = oh.array_dataset(train_images, train_labels, batch_size=8, seed=3)
    callback = oh.RepeatableEpochs(batches, seed=9)
    callback.set_model(model)
    callback.on_epoch_begin(2)
    assert batches.epoch == 2
    state = keras.ops.convert_to_numpy(model.get_layer("active").seed_generator.state)
    assert state.tolist() == [9, 2 << 20], "the one dropout that draws is number 0: seed 9 + 0, epoch 2"


def dropout_masks(layer, seed, epoch, draws=3):
    """Return `draws` masks of a Dropout layer after reseeding it from (seed, epoch)."""
    oh.training.reseed_dropout(layer, seed, epoch)
    ones = np.ones((4, 32), np.float32)
    return [keras.ops.convert_to_numpy(layer(ones, training=True)) for _ in range(draws)]


def test_reseed_dropout_repeats_the_masks_of_the_same_seed_and_epoch_only():
    layer = keras.layers.Dropout(0.5, seed=1)
    first, again = dropout_masks(layer, 3, 5), dropout_masks(layer, 3, 5)
    other_epoch, other_seed = dropout_masks(layer, 3, 6), dropout_masks(layer, 4, 5)
    written_for = (f"oh.training.reseed_dropout sets Keras' SeedGenerator.state, as in Keras "
                   f"{oh.training.KERAS_WRITTEN_FOR}; this is Keras {keras.__version__}: check how its Dropout draws "
                   f"its masks")
    assert all(np.array_equal(left, right) for left, right in zip(first, again)), written_for
    assert not np.array_equal(first[0], first[1]), written_for
    assert not np.array_equal(first[0], other_epoch[0]) and not np.array_equal(first[0], other_seed[0]), written_for


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


def test_the_backup_epoch_is_read_from_keras_own_backup_files(data, tmp_path):
    train_images, train_labels, _, _ = data
    model = tiny_model()
    model.compile(optimizer="adam", loss=oh.CTCLoss())
    backup = keras.callbacks.BackupAndRestore(tmp_path / "state", delete_checkpoint=False)
    model.fit(oh.fit_input(oh.array_dataset(train_images, train_labels, batch_size=8)), epochs=2, verbose=0,
              shuffle=False, callbacks=[backup])
    assert oh.resume.backup_epoch(tmp_path / "state") == 2, (
        f"oh.resume.backup_epoch reads BackupAndRestore's training_metadata.json as Keras "
        f"{oh.resume.KERAS_WRITTEN_FOR} writes it; this is Keras {keras.__version__}: check its backup files "
        f"{sorted(path.name for path in (tmp_path / 'state').iterdir())}")
    assert oh.resume.backup_epoch(tmp_path / "nothing") is None


def train_into(data, backup_dir, model_path=None, epochs=2, callbacks=()):
    """Train the tiny model for `epochs` epochs with a backup in `backup_dir`; return its history."""
    train_images, train_labels, validation_images, validation_labels = data
    return oh.train(tiny_model(), oh.array_dataset(train_images, train_labels, batch_size=8), validation_images,
                    validation_labels, epochs=epochs, model_path=model_path, backup_dir=backup_dir, verbose=0,
                    callbacks=list(callbacks))


def test_a_backup_dir_holding_other_files_is_refused_before_training_and_left_as_it_was(data, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "thesis.txt").write_text("two years of work")
    (work / "notes").mkdir()
    with pytest.raises(ValueError, match=r"work holds files training did not write \(notes, thesis.txt\).*nothing "
                                         r"was touched.*folder of its own"):
        train_into(data, work, model_path=work / "reader.keras")
    assert sorted(path.name for path in work.iterdir()) == ["notes", "thesis.txt"]
    assert (work / "thesis.txt").read_text() == "two years of work"


def test_a_model_path_inside_backup_dir_survives_training_and_its_folder_is_kept(data, tmp_path):
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    (artifacts / "reader.keras").write_bytes(b"the model before")  # the model's own folder, its old file in it
    history = train_into(data, artifacts, model_path=artifacts / "reader.keras")
    assert len(history["loss"]) == 2
    assert [path.name for path in artifacts.iterdir()] == ["reader.keras"], "only training's own files are gone"
    assert oh.load_model(artifacts / "reader.keras").count_params() == tiny_model().count_params()


def test_a_folder_training_made_is_removed_and_one_it_found_is_kept_both_emptied_of_its_files(data, tmp_path):
    made, found = tmp_path / "made" / "backup", tmp_path / "found"
    found.mkdir()
    train_into(data, made)
    train_into(data, found)
    assert not made.exists() and (tmp_path / "made").is_dir(), "training removes the folder it made, not its parent"
    assert found.is_dir() and list(found.iterdir()) == []


def test_training_files_left_by_a_run_stopped_before_its_first_backup_are_replaced(data, tmp_path):
    (tmp_path / oh.resume.LOG_NAME).write_text("epoch,loss\n0,99\n")  # a run stopped in its first epoch left a log
    history = train_into(data, tmp_path)
    assert len(history["loss"]) == 2 and 99.0 not in history["loss"], "the old run's figures were not mixed in"


def write_fails_at(monkeypatch, target, name):
    """Make the writer `target` (an object and attribute) raise 'No space left on device' when writing `name`."""
    import errno

    owner, attribute = target
    original = getattr(owner, attribute)

    def full_disk(self, filepath, *args, **kwargs):
        if str(filepath).endswith(name):
            raise OSError(errno.ENOSPC, "No space left on device", str(filepath))
        return original(self, filepath, *args, **kwargs)

    monkeypatch.setattr(owner, attribute, full_disk)


@pytest.mark.parametrize("name, target", [
    ("latest.weights.h5", (keras.Model, "save_weights")),  # BackupAndRestore's backup of epoch 2
    ("best.partial.keras", (keras.Model, "save")),  # ModelCheckpoint's best epoch, before MoveIntoPlace
], ids=["backup", "best model"])
def test_a_full_disk_during_an_epoch_save_names_the_cause_and_keeps_the_last_good_backup(data, tmp_path,
                                                                                       monkeypatch, name, target):
    model_path = tmp_path / "model.keras"
    model_path.write_bytes(b"the previous model")
    scripted = iter([0.25, 0.5, 0.75])  # every epoch better than the one before: ModelCheckpoint saves each
    monkeypatch.setattr(oh.training, "sequence_accuracy", lambda labels, predictions: next(scripted))

    class FullDiskInEpoch2(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                write_fails_at(monkeypatch, target, name)

    with pytest.raises(OSError, match=rf"Training stopped in epoch 2: writing \S*{name} failed \(No space left on "
                                      rf"device\); \S*model.keras was left as it was; \S*backup holds the last good "
                                      rf"backup, 1 finished epochs") as raised:
        train_into(data, tmp_path / "backup", model_path=model_path, epochs=3, callbacks=[FullDiskInEpoch2()])
    assert raised.value.errno == 28 and "corrupt" not in str(raised.value)
    assert model_path.read_bytes() == b"the previous model"
    assert oh.resume.epochs_done(tmp_path / "backup") == 1
    monkeypatch.undo()
    history = train_into(data, tmp_path / "backup", model_path=model_path, epochs=3)  # space again: continue
    assert len(history["loss"]) == 3
    assert oh.load_model(model_path).count_params() == tiny_model().count_params()


def test_a_full_disk_while_saving_the_final_model_keeps_the_previous_one_and_the_backup(data, tmp_path, monkeypatch):
    model_path = tmp_path / "model.keras"
    model_path.write_bytes(b"the previous model")

    class FullDiskAtTheEnd(keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            write_fails_at(monkeypatch, (keras.Model, "save"), ".partial.keras")  # oh.save_model's temporary file

    with pytest.raises(OSError, match=r"Training stopped after the last epoch: writing .*partial.keras failed \(No "
                                      r"space left on device\); .*model.keras was left as it was; .*2 finished"):
        train_into(data, tmp_path / "backup", model_path=model_path, callbacks=[FullDiskAtTheEnd()])
    assert model_path.read_bytes() == b"the previous model"
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == [], "no half-written file"
    assert oh.resume.epochs_done(tmp_path / "backup") == 2 and (tmp_path / "backup" / oh.resume.BEST_NAME).is_file()


def test_read_log_skips_a_row_cut_short_by_a_full_disk(tmp_path):
    log = tmp_path / oh.resume.LOG_NAME
    log.write_text("epoch,loss,val_accuracy\n0,9.5,0.25\n1,4.25,0.5\n2,3.")  # the disk filled while writing epoch 3
    assert oh.read_log(log) == {"loss": [9.5, 4.25], "val_accuracy": [0.25, 0.5]}
    log.write_text("epoch,loss,val_accuracy\n0,9.5,0.25\n1,4.25,0.5\n1,4.0,0.75\n")  # epoch 2 again, after a stop
    assert oh.read_log(log) == {"loss": [9.5, 4.0], "val_accuracy": [0.25, 0.75]}


class FitStarted(Exception):
    """Raised by a stand-in for `fit`, to look at the model as fit would find it without training."""


def test_the_optimizer_is_built_before_fit_so_that_tensorflow_traces_the_first_step_once(data, monkeypatch):
    train_images, train_labels, validation_images, validation_labels = data
    model, seen = tiny_model(), []

    def fit(*args, **options):
        seen.append((model.optimizer.built, len(model.optimizer.variables)))
        raise FitStarted

    monkeypatch.setattr(model, "fit", fit)
    with pytest.raises(FitStarted):
        oh.train(model, oh.array_dataset(train_images, train_labels, batch_size=8), validation_images,
                 validation_labels, epochs=2, verbose=0)
    (built, num_variables), = seen
    assert built and num_variables > 2 * len(model.trainable_variables), "Adam's two moments of every weight"
    compiled = oh.compile_model(tiny_model())
    assert compiled.optimizer.built and len(compiled.optimizer.variables) > 2 * len(compiled.trainable_variables)
