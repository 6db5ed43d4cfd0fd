"""Exports of notebook 08: the SavedModel and the ONNX file read what the Keras model reads."""

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


def test_speeds_are_compared_for_every_reader(reader):
    model, images = reader
    speeds = oh.compare_readers({"keras": model.predict_on_batch, "numpy": lambda x: x * 2}, images,
                                batch_size=4, num_rounds=2, num_single_images=2)
    assert set(speeds) == {"keras", "numpy"}
    assert all(rate > 0 and 0 < latency < 10 for rate, latency in speeds.values())
    with pytest.raises(ValueError, match="batch"):
        oh.compare_readers({"keras": model.predict_on_batch}, images, batch_size=100)
