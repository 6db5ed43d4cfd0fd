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
    images = np.random.default_rng(0).random((8, 60, 160), dtype=np.float32)
    model.fit(images, oh.encode_labels(["AB12C"] * 8), batch_size=4, epochs=1, verbose=0)
    return model, images


def test_saved_model_reloads_in_safe_mode_with_the_ctc_loss(trained, tmp_path):
    model, images = trained
    path = oh.save_model(model, tmp_path / "model.keras")
    reloaded = oh.load_model(path)
    assert isinstance(reloaded.loss, oh.CTCLoss)
    np.testing.assert_allclose(reloaded.predict_on_batch(images), model.predict_on_batch(images), atol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"], "no temporary file may be left behind"


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
