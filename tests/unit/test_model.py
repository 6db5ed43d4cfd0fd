import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

import ocr_helpers as oh


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return oh.build_model()


def test_build_model_maps_images_to_logits_over_width_steps(model):
    assert model.input_shape == (None, 60, 160) and model.input.dtype == "uint8"
    assert model.output_shape == (None, oh.output_time_steps(160), oh.num_classes()) == (None, 40, 37)
    logits = model.predict_on_batch(np.random.default_rng(0).integers(0, 256, (3, 60, 160), dtype=np.uint8))
    assert logits.shape == (3, 40, 37)
    assert not np.allclose(logits.sum(axis=-1), 1.0), "the model must return logits, not probabilities"
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in model.layers)


def test_time_axis_runs_along_the_width(model):
    """Changing only the right half of the image must leave the first time steps' forward features alone."""
    columns = keras.Model(model.input, model.get_layer("columns").output)
    images = np.random.default_rng(1).integers(0, 256, (1, 60, 160), dtype=np.uint8)
    changed = images.copy()
    changed[:, :, 120:] = 0
    before, after = columns.predict_on_batch(images), columns.predict_on_batch(changed)
    assert np.allclose(before[0, :10], after[0, :10]), "left columns should not see the right of the image"
    assert not np.allclose(before[0, -3:], after[0, -3:])


def test_build_model_keeps_sizes_as_keyword_parameters():
    model = oh.build_model(height=50, width=200, charset="abc123", filters=(8, 16, 24), dense_units=32, rnn_units=16)
    assert model.output_shape == (None, 50, 7) and oh.model_charset(model) == "abc123"
    assert model.get_layer("block3_conv").filters == 24


def test_batch_norm_momentum_reaches_every_batch_normalization_layer():
    def momenta(model):
        return [layer.momentum for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]

    blocks = 3 + oh.model.REFINE_BLOCKS  # one normalization after each convolution
    assert momenta(oh.build_model(filters=(4, 8, 8), dense_units=8, rnn_units=4)) == [0.99] * blocks
    assert momenta(oh.build_model(filters=(4, 8, 8), dense_units=8, rnn_units=4, batch_norm_momentum=0.9)) == [
        0.9] * blocks


def test_the_model_scales_pixels_itself():
    model = oh.build_model(filters=(4, 8, 8), dense_units=8, rnn_units=4)
    scaled = keras.Model(model.input, model.get_layer("scale_pixels").output)
    pixels = np.array([[[0, 51, 255] * 3] * 4], dtype=np.uint8)[:, :, :8]
    fitted = np.zeros((1, 60, 160), np.uint8)
    fitted[:, :4, :8] = pixels
    np.testing.assert_allclose(scaled.predict_on_batch(fitted)[0, 0, :3], [0.0, 0.2, 1.0], atol=1e-6)


def test_charset_logits_refuse_a_unit_count_that_does_not_match_the_charset():
    with pytest.raises(ValueError, match="5 units but the character set 'abc' needs 4"):
        oh.CharsetLogits("abc", units=5)
    layer = oh.CharsetLogits("xy", name="logits")
    assert layer.units == 3 and oh.CharsetLogits.from_config(layer.get_config()).charset == "xy"


def test_required_and_emitted_time_steps():
    assert oh.required_time_steps(5) == 9
    assert oh.output_time_steps(160) == 40  # the third block halves the height only
    assert oh.output_time_steps(161) == 41  # strided blocks round up: 161 -> 81 -> 41 -> 41
    assert oh.build_model(width=161).output_shape[1] == oh.output_time_steps(161)
    assert oh.output_time_steps(161, strided_blocks=1) == 40  # the pooling of the second block rounds down
    assert oh.build_model(width=161, strided_blocks=1).output_shape[1] == 40
    assert oh.output_time_steps(160, strided_blocks=0) == 40
    twenty = ((2, 2), (2, 2), (2, 2))
    assert oh.output_time_steps(161, twenty) == 21 and oh.output_time_steps(161, twenty, strided_blocks=2) == 20
    assert oh.build_model(width=161, pool_sizes=twenty, strided_blocks=2).output_shape[1] == 20


def test_too_narrow_input_names_width_steps_and_need():
    with pytest.raises(ValueError, match=r"32 pixels wide gives 8 time steps.*need 9.*at least 33 pixels"):
        oh.build_model(width=32)
    assert oh.build_model(width=33).output_shape[1] == 9, "the width the message names is wide enough"
    with pytest.raises(ValueError, match=r"gives 9 time steps.*7 characters need 13"):
        oh.build_model(width=36, label_length=7)
    twenty = ((2, 2), (2, 2), (2, 2))
    with pytest.raises(ValueError, match=r"64 pixels wide gives 8 time steps.*at least 65 pixels"):
        oh.build_model(width=64, pool_sizes=twenty)  # every block strided: each rounds the width up
    assert oh.output_time_steps(65, twenty) == 9
    with pytest.raises(ValueError, match=r"68 pixels wide gives 8 time steps.*at least 69 pixels"):
        oh.build_model(width=68, pool_sizes=twenty, strided_blocks=2)  # the last block pools: it rounds down
    assert oh.output_time_steps(69, twenty, strided_blocks=2) == 9


def test_seed_model_reads_along_the_width():
    model = oh.build_seed_model()
    assert model.output_shape == (None, 20, 37)
    assert model.get_layer("columns").output.shape[1:] == (20, 7 * 128), "each time step a column of 7 rows"


class FakeClock:
    """Stands in for the time module in ocr_helpers.speed: time moves by `advance`, and by `step` a reading."""

    def __init__(self):
        self.now, self.step = 100.0, 0.0

    def perf_counter(self):
        self.now += self.step
        return self.now

    def advance(self, seconds):
        self.now += seconds


class FakeModel:
    """A compiled model whose training step takes 20 ms and whose reading takes 10 ms on the fake clock."""

    optimizer = "adam"

    def __init__(self, clock):
        self.clock, self.batch_sizes = clock, []

    def train_on_batch(self, images, labels):
        self.batch_sizes.append(len(images))
        self.clock.advance(0.02)

    def predict_on_batch(self, images):
        self.batch_sizes.append(len(images))
        self.clock.advance(0.01)


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(oh.speed, "time", fake)
    return fake


def test_speed_helpers_time_only_the_timed_batches(clock):
    images, labels = np.zeros((8, 60, 160), dtype=np.uint8), oh.encode_labels(["AB12C"] * 8)
    model = FakeModel(clock)
    speeds = oh.compare_speeds({"m": model}, images, labels, batch_size=4, num_batches=2, num_rounds=1,
                               warmup_batches=1)
    assert speeds == {"m": (pytest.approx(200), pytest.approx(400))}
    assert model.batch_sizes == [4] * 6, "one warm-up batch and two timed ones, training then reading"
    assert oh.compare_speeds({"m": model}, images, labels, 4, 2, 3) == {"m": (pytest.approx(200), pytest.approx(400))}


def test_speed_helpers_check_their_input(model):
    images, labels = np.zeros((8, 60, 160), dtype=np.uint8), oh.encode_labels(["AB12C"] * 8)
    with pytest.raises(ValueError, match="Compile the model first"):
        oh.compare_speeds({"not compiled": model}, images, labels, batch_size=4)
    with pytest.raises(ValueError, match="needs 16 images, got 8"):
        oh.compare_speeds({"compiled": oh.compile_model(model)}, images, labels, batch_size=16)
    with pytest.raises(ValueError, match="Compile the model first"):
        oh.fit_steps_per_second(oh.build_model(), oh.array_dataset(images, ["AB12C"] * 8, batch_size=4))


def test_pipeline_rates_count_batches_and_training_steps(clock):
    def one_batch_every_20_ms():
        while True:
            clock.advance(0.02)
            yield None

    assert oh.batches_per_second(one_batch_every_20_ms(), num_batches=5) == pytest.approx(50)
    with pytest.raises(StopIteration):
        oh.batches_per_second(iter([1, 2]), num_batches=5)
    model = oh.compile_model(oh.build_model(filters=(4, 8, 8), dense_units=8, rnn_units=4))
    clock.step = 0.1  # every reading of the clock is a tenth of a second after the one before
    data = oh.array_dataset(np.zeros((32, 60, 160), np.uint8), ["AB12C"] * 32, batch_size=4)
    assert oh.fit_steps_per_second(model, data, num_batches=3, warmup_batches=2) == pytest.approx(10)


def test_refine_blocks_add_convolutions_that_keep_the_feature_map_size():
    plain, refined = oh.build_model(refine_blocks=0), oh.build_model(refine_blocks=2)
    assert [layer.name for layer in plain.layers if layer.name.startswith("refine")] == []
    assert refined.get_layer("block3_relu").output.shape == refined.get_layer("refine2_relu").output.shape
    assert refined.get_layer("refine2_conv").filters == oh.model.FILTERS[-1]
    assert refined.output_shape == plain.output_shape
    with pytest.raises(ValueError, match="refine_blocks must be 0 or more, not -1"):
        oh.build_model(refine_blocks=-1)
