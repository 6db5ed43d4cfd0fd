"""Exports of notebook 08: the SavedModel and the ONNX file read what the Keras model reads; and the speed
helpers time exactly the calls they promise, checked on a fake clock."""

import keras
import numpy as np
import pytest

import ocr_helpers as oh

CHARSET = "AB12xyz"


@pytest.fixture(scope="module")
def reader():
    keras.utils.set_random_seed(1)
    model = oh.build_model(charset=CHARSET, filters=(4, 8, 8), dense_units=8, rnn_units=4)
    images = np.random.default_rng(1).integers(0, 256, (6, 60, 160), dtype=np.uint8)
    return model, images


@pytest.fixture(scope="module")
def onnx_file(reader, tmp_path_factory):
    return oh.export_onnx(reader[0], tmp_path_factory.mktemp("onnx") / "reader.onnx")


def test_onnx_reader_gives_the_keras_logits_and_texts(reader, onnx_file):
    model, images = reader
    exported = oh.OnnxReader(onnx_file)
    assert exported.charset == CHARSET and exported.input_shape == (None, 60, 160)
    np.testing.assert_allclose(exported.predict_on_batch(images), model.predict_on_batch(images), atol=1e-4)
    assert oh.predict_text(exported, images) == oh.predict_text(model, images)
    assert [path.name for path in onnx_file.parent.iterdir()] == ["reader.onnx"], "no temporary file left"


def test_saved_model_serves_the_keras_logits(reader, tmp_path):
    import tensorflow as tf

    model, images = reader
    model.export(tmp_path / "saved_model", format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "saved_model"))  # keep it: its variables live as long as it does
    served = loaded.serve(images)
    np.testing.assert_allclose(np.asarray(served), model.predict_on_batch(images), atol=1e-4)


def test_failed_export_keeps_the_earlier_file(reader, onnx_file, tmp_path, monkeypatch):
    path = tmp_path / "reader.onnx"
    path.write_bytes(onnx_file.read_bytes())

    def broken_write(model, partial):
        partial.write_bytes(b"half a graph")
        raise OSError("disk full")

    monkeypatch.setattr(oh.exporting, "write_onnx", broken_write)
    with pytest.raises(OSError, match="disk full"):
        oh.export_onnx(reader[0], path)
    assert path.read_bytes() == onnx_file.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["reader.onnx"]


def test_onnx_reader_names_what_is_wrong_with_a_file(onnx_file, tmp_path):
    with pytest.raises(ValueError, match=r"\.onnx"):
        oh.OnnxReader(tmp_path / "reader.keras")
    with pytest.raises(FileNotFoundError, match="export one"):
        oh.OnnxReader(tmp_path / "missing.onnx")
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(onnx_file.read_bytes()[:500])
    with pytest.raises(ValueError, match="cannot load"):
        oh.OnnxReader(cut)


def test_onnx_file_without_a_charset_is_refused(onnx_file, tmp_path):
    import onnx

    graph = onnx.load(onnx_file)
    del graph.metadata_props[:]
    onnx.save(graph, tmp_path / "bare.onnx")
    with pytest.raises(ValueError, match="no character set"):
        oh.OnnxReader(tmp_path / "bare.onnx")


def test_onnx_reader_refuses_images_of_another_size(onnx_file):
    with pytest.raises(ValueError, match="60"):
        oh.predict_text(oh.OnnxReader(onnx_file), np.zeros((2, 50, 200), np.uint8))


class FakeClock:
    """Stands in for the time module in ocr_helpers.speed: time moves only when a fake reader or model says so."""

    def __init__(self):
        self.now = 100.0

    def perf_counter(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(oh.speed, "time", fake)
    return fake


def scripted_reader(name, seconds, clock, calls):
    """A reader that logs (name, batch size) and takes the next of `seconds` on the fake clock at each call."""
    seconds = iter(seconds)

    def read(images):
        calls.append((name, len(images)))
        clock.advance(next(seconds))
        return images

    return read


def test_compare_readers_gives_the_median_rate_and_latency_of_the_timed_calls(clock):
    images, calls = np.zeros((6, 60, 160), np.uint8), []
    # a reader's calls: warm-ups on a batch and on one image (never timed), then in each of 3 rounds the
    # batches of 4 and 2 images and 2 single images
    steady = [9.0, 9.0] + [0.02, 0.01, 0.005, 0.005] * 3
    rounds = [(0.02, 0.01, 0.004, 0.006), (0.01, 0.005, 0.002, 0.003), (0.03, 0.03, 0.001, 0.010)]
    varying = [9.0, 9.0] + [seconds for one_round in rounds for seconds in one_round]
    readers = {"steady": scripted_reader("steady", steady, clock, calls),
               "varying": scripted_reader("varying", varying, clock, calls)}
    speeds = oh.compare_readers(readers, images, batch_size=4, num_rounds=3, num_single_images=2)
    warm_up = [("steady", 4), ("steady", 1), ("varying", 4), ("varying", 1)]
    one_round = [("steady", 4), ("steady", 2), ("steady", 1), ("steady", 1),
                 ("varying", 4), ("varying", 2), ("varying", 1), ("varying", 1)]
    assert calls == warm_up + one_round * 3, "every reader warmed up first, then the readers take turns each round"
    # 6 images in 0.03 s: 200 a second; the varying reader's rounds read 200, 400 and 100 images a second, and
    # its six single images take 4, 6, 2, 3, 1 and 10 ms: medians 200 and 3.5 ms (the means would be 233 and 4.3 ms)
    assert speeds == {"steady": (pytest.approx(200), pytest.approx(0.005)),
                      "varying": (pytest.approx(200), pytest.approx(0.0035))}


def test_compare_readers_checks_its_arguments():
    images = np.zeros((6, 60, 160), np.uint8)
    with pytest.raises(ValueError, match="A batch of 100 needs 100 images, got 6"):
        oh.compare_readers({"copy": np.copy}, images, batch_size=100)
    with pytest.raises(ValueError, match="num_rounds and num_single_images must be at least 1, got 0 and 2"):
        oh.compare_readers({"copy": np.copy}, images, batch_size=4, num_rounds=0, num_single_images=2)


class FakeFitModel:
    """A compiled model whose fit takes the next of `seconds` on the fake clock for each training step."""

    optimizer = "adam"

    def __init__(self, clock, seconds):
        self.clock, self.seconds, self.steps = clock, list(seconds), None

    def fit(self, data, epochs, steps_per_epoch, callbacks, **options):
        self.steps = steps_per_epoch
        for step, seconds in zip(range(steps_per_epoch), self.seconds):
            self.clock.advance(seconds)
            for callback in callbacks:
                callback.on_train_batch_end(step, {})


def test_fit_rate_times_the_steps_after_the_warm_up(clock):
    model = FakeFitModel(clock, [5.0, 0.1, 0.3, 0.1])  # a slow first step that builds the training step
    assert oh.fit_steps_per_second(model, data=None, num_batches=3, warmup_batches=1) == pytest.approx(3 / 0.5)
    assert model.steps == 4
    model = FakeFitModel(clock, [5.0, 2.0, 0.1, 0.3, 0.1])
    assert oh.fit_steps_per_second(model, data=None, num_batches=3, warmup_batches=2) == pytest.approx(3 / 0.5)


def test_fit_rate_refuses_no_warm_up_no_timed_batch_and_data_that_runs_out(clock):
    model = FakeFitModel(clock, [0.1] * 10)
    with pytest.raises(ValueError, match="warmup_batches must be at least 1, got 3 and 0"):
        oh.fit_steps_per_second(model, data=None, num_batches=3, warmup_batches=0)
    with pytest.raises(ValueError, match="warmup_batches must be at least 1, got 0 and 1"):
        oh.fit_steps_per_second(model, data=None, num_batches=0, warmup_batches=1)
    assert model.steps is None, "the arguments are checked before any training step"
    with pytest.raises(ValueError, match="ran out after 10 batches, but fit_steps_per_second needs .* = 12"):
        oh.fit_steps_per_second(model, data=None, num_batches=10, warmup_batches=2)
