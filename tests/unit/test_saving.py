import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

import ocr_helpers as oh


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = oh.compile_model(oh.build_model(filters=(4, 8, 8), dense_units=8, rnn_units=4))
    images = np.random.default_rng(0).integers(0, 256, (8, 60, 160), dtype=np.uint8)
    model.fit(images, oh.encode_labels(["AB12C"] * 8), batch_size=4, epochs=1, verbose=0)
    return model, images


def test_saved_model_reloads_in_safe_mode_with_the_ctc_loss(trained, tmp_path):
    model, images = trained
    path = oh.save_model(model, tmp_path / "model.keras")
    reloaded = oh.load_model(path)
    assert isinstance(reloaded.loss, oh.CTCLoss)
    np.testing.assert_allclose(reloaded.predict_on_batch(images), model.predict_on_batch(images), atol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"], "no temporary file may be left behind"


def test_plain_keras_loads_a_saved_model_once_the_course_layers_are_imported(trained, tmp_path):
    import ocr_helpers.ctc  # noqa: F401  (what docs/guide.md tells a reader who calls Keras directly)
    import ocr_helpers.model  # noqa: F401

    model, images = trained
    path = oh.save_model(model, tmp_path / "model.keras")
    reloaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(reloaded.get_layer("logits"), oh.CharsetLogits)
    assert reloaded.get_layer("logits").charset == oh.CHARSET
    np.testing.assert_allclose(reloaded.predict_on_batch(images), model.predict_on_batch(images), atol=1e-6)


def test_failed_save_keeps_the_earlier_file(trained, tmp_path, monkeypatch):
    model, _ = trained
    path = oh.save_model(model, tmp_path / "model.keras")
    before = path.read_bytes()

    def broken_save(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as file:
            file.write(b"half a model")
        raise OSError("disk full")

    monkeypatch.setattr(keras.Model, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        oh.save_model(model, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]


def test_load_model_explains_missing_corrupt_and_misnamed_files(trained, tmp_path):
    model, _ = trained
    with pytest.raises(FileNotFoundError, match="No model at .*train one first"):
        oh.load_model(tmp_path / "absent.keras")
    path = oh.save_model(model, tmp_path / "model.keras")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated or corrupt.*delete it"):
        oh.load_model(path)
    with pytest.raises(ValueError, match=r"\.keras"):
        oh.save_model(model, tmp_path / "model.h5")


def test_a_lambda_layer_model_does_not_load_in_safe_mode(tmp_path):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda t: 2 * t)(inputs))
    path = oh.save_model(model, tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match="safe_mode"):
        oh.load_model(path)


def test_the_charset_travels_inside_the_model_file(tmp_path):
    images, labels = oh.draw_real_looking(4, seed=3, charset="abc123", label_length=4, height=50, width=200)
    model = oh.build_model(height=50, width=200, charset="abc123", filters=(4, 8, 8), dense_units=8, rnn_units=4)
    reloaded = oh.load_model(oh.save_model(model, tmp_path / "lowercase.keras"))
    assert oh.model_charset(reloaded) == "abc123"
    readings = oh.predict_text(reloaded, images)
    assert readings == oh.predict_text(model, images) and set("".join(readings)) <= set("abc123")


def old_style_model():
    """Return a model as saved before this version: float images 0..1 in, a plain Dense output layer."""
    images = keras.Input((60, 160), name="images")
    x = keras.layers.Reshape((60, 160, 1))(images)
    x = keras.layers.Conv2D(4, 3, strides=(3, 8), padding="same")(x)
    x = keras.layers.Reshape((20, 20 * 4))(keras.layers.Permute((2, 1, 3))(x))
    return keras.Model(images, keras.layers.Dense(37, name="logits")(x))


def test_a_model_saved_without_rescaling_or_charset_loads_and_reads_uint8_images(tmp_path):
    keras.utils.set_random_seed(2)
    old = old_style_model()
    path = tmp_path / "old.keras"
    old.save(path)
    reloaded = oh.load_model(path)
    images = np.random.default_rng(1).integers(0, 256, (3, 60, 160), dtype=np.uint8)
    np.testing.assert_allclose(reloaded.predict_on_batch(images), old.predict_on_batch(images / np.float32(255)),
                               atol=1e-5)
    assert oh.model_charset(reloaded) == oh.CHARSET


def test_a_model_from_another_program_gets_a_message_naming_what_is_missing(tmp_path):
    inputs = keras.Input((50, 200, 3))
    color = keras.Model(inputs, keras.layers.Dense(20)(keras.layers.Reshape((50, 600))(inputs)))
    color.save(tmp_path / "color.keras")
    with pytest.raises(ValueError, match=r"takes inputs of shape \(None, 50, 200, 3\).*grayscale images"):
        oh.load_model(tmp_path / "color.keras")
    inputs = keras.Input((60, 160))
    other = keras.Model(inputs, keras.layers.Dense(20)(inputs))
    other.save(tmp_path / "other.keras")
    with pytest.raises(ValueError, match=r"carries no character set and has 20 output classes, not the 37"):
        oh.load_model(tmp_path / "other.keras")
