import os
import time

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
    assert model.input_shape == (None, 60, 160)
    assert model.output_shape == (None, oh.output_time_steps(160), oh.num_classes()) == (None, 20, 37)
    logits = model.predict_on_batch(np.random.default_rng(0).random((3, 60, 160), dtype=np.float32))
    assert logits.shape == (3, 20, 37)
    assert not np.allclose(logits.sum(axis=-1), 1.0), "the model must return logits, not probabilities"
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in model.layers)


def test_time_axis_runs_along_the_width(model):
    """Changing only the right half of the image must leave the first time steps' forward features alone."""
    columns = keras.Model(model.input, model.get_layer("columns").output)
    images = np.random.default_rng(1).random((1, 60, 160), dtype=np.float32)
    changed = images.copy()
    changed[:, :, 120:] = 0
    before, after = columns.predict_on_batch(images), columns.predict_on_batch(changed)
    assert np.allclose(before[0, :10], after[0, :10]), "left columns should not see the right of the image"
    assert not np.allclose(before[0, -3:], after[0, -3:])


def test_build_model_keeps_sizes_as_keyword_parameters():
    model = oh.build_model(height=50, width=200, num_classes=20, filters=(8, 16, 24), dense_units=32, rnn_units=16)
    assert model.output_shape == (None, 25, 20)
    assert model.get_layer("block3_conv").filters == 24


def test_required_and_emitted_time_steps():
    assert oh.required_time_steps(5) == 9
    assert oh.output_time_steps(160) == 20
    assert oh.output_time_steps(161) == 20  # strided blocks round up, the pooling rounds down
    assert oh.build_model(width=161).output_shape[1] == oh.output_time_steps(161)
    assert oh.output_time_steps(160, strided_blocks=0) == 20


def test_too_narrow_input_names_width_steps_and_need():
    with pytest.raises(ValueError, match=r"64 pixels wide gives 8 time steps.*need 9.*at least 72 pixels"):
        oh.build_model(width=64)
    with pytest.raises(ValueError, match=r"gives 9 time steps.*7 characters need 13"):
        oh.build_model(width=72, label_length=7)
    assert oh.build_model(width=72).output_shape[1] == 9


def test_seed_model_reads_rows_or_columns():
    assert oh.build_seed_model(time_axis="height").output_shape == (None, 7, 37)
    assert oh.build_seed_model(time_axis="width").output_shape == (None, 20, 37)
    with pytest.raises(ValueError, match="time_axis"):
        oh.build_seed_model(time_axis="depth")


def test_speed_helpers_measure_and_check_their_input(model):
    images = np.zeros((8, 60, 160), dtype=np.float32)
    labels = oh.encode_labels(["AB12C"] * 8)
    assert oh.inference_speed(model, images, batch_size=4, num_batches=2, warmup_batches=1) > 0
    with pytest.raises(ValueError, match="Compile the model first"):
        oh.training_speed(oh.build_model(), images, labels, batch_size=4)
    with pytest.raises(ValueError, match="needs 16 images, got 8"):
        oh.inference_speed(model, images, batch_size=16)
    speeds = oh.compare_speeds({"m": oh.compile_model(oh.build_model())}, images, labels, 4, 2, 1)
    assert set(speeds) == {"m"} and all(value > 0 for value in speeds["m"])


def test_pipeline_rates_count_batches_and_training_steps(model):
    def one_batch_every_20_ms():
        while True:
            time.sleep(0.02)
            yield None

    assert 20 < oh.batch_rate(one_batch_every_20_ms(), num_batches=5) <= 50
    with pytest.raises(StopIteration):
        oh.batch_rate(iter([1, 2]), num_batches=5)
    data = oh.array_dataset(np.zeros((16, 60, 160), np.uint8), ["AB12C"] * 16, batch_size=4).repeat()
    assert oh.fit_rate(oh.compile_model(oh.build_model()), data, num_batches=3, warmup_batches=2) > 0
    with pytest.raises(ValueError, match="Compile the model first"):
        oh.fit_rate(oh.build_model(), data)


def test_batch_norm_can_be_left_out_for_the_plateau_experiment():
    with_norm, without = oh.build_model(), oh.build_model(batch_norm=False)
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in with_norm.layers)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in without.layers)
    assert without.get_layer("block1_conv").use_bias and not with_norm.get_layer("block1_conv").use_bias
