import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
from PIL import Image

import ocr_helpers as oh


@pytest.fixture(scope="module")
def drawn():
    images, labels = oh.draw_real_looking(12, seed=5, charset="abcdefgh12345", label_length=4, height=50, width=200)
    assert len(set(labels)) == 12, "the tests below name files after these labels"
    return images, labels


def test_export_then_load_gives_the_labels_back_at_the_model_size(drawn, tmp_path):
    images, labels = drawn
    oh.export_folder(tmp_path / "set", images, labels)
    assert sorted(path.name for path in (tmp_path / "set").iterdir()) == sorted(f"{label}.png" for label in labels)
    loaded = oh.load_folder(tmp_path / "set")
    assert loaded.images.shape == (12, 60, 160) and loaded.images.dtype == np.uint8
    assert sorted(loaded.labels) == sorted(labels) and loaded.problems == []
    assert set(loaded.charset) <= set("abcdefgh12345")
    with pytest.raises(ValueError, match="is not empty"):
        oh.export_folder(tmp_path / "set", images, labels)


def test_fit_image_keeps_the_aspect_ratio_and_pads_with_the_background():
    image = np.full((50, 200), 230, np.uint8)
    image[:, 90:110] = 0  # a dark bar in the middle
    fitted = oh.fit_image(Image.fromarray(image).convert("RGB"), 60, 160)
    assert fitted.shape == (60, 160)
    rows = np.where((fitted < 100).any(axis=1))[0]
    columns = np.where((fitted < 100).any(axis=0))[0]
    assert rows.min() == 10 and rows.max() == 49, "200x50 scales to 160x40 and sits 10 rows down"
    assert 71 <= columns.min() <= 73 and 86 <= columns.max() <= 88, "the bar keeps its place and width, scaled by 0.8"
    assert fitted[0, 0] == 230 and fitted[-1, -1] == 230, "the padding takes the background colour"
    transparent = Image.new("RGBA", (80, 30), (0, 0, 0, 0))
    assert oh.fit_image(transparent, 60, 160).min() == 255, "transparent pixels count as white"
    assert oh.fit_image(Image.fromarray(np.full((300, 100), 7, np.uint16)), 60, 160).shape == (60, 160)


def test_bad_files_are_left_out_with_a_reason_and_strict_mode_refuses_them(drawn, tmp_path):
    images, labels = drawn
    folder = oh.export_folder(tmp_path / "set", images[:4], labels[:4])
    (folder / "notes.txt").write_text("not a captcha")
    (folder / "ab12.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    Image.fromarray(images[4]).save(folder / "IMG 0001 (copy).png")
    Image.fromarray(images[5]).save(folder / f"{labels[0]}_2.png")
    loaded = oh.load_folder(folder)
    problems = dict(loaded.problems)
    assert "not an image file (.txt;" in problems["notes.txt"]
    assert "cannot be decoded as an image" in problems["ab12.png"]
    assert "cannot be part of a label" in problems["IMG 0001 (copy).png"]
    assert len(loaded.labels) == 5 and loaded.repeated_labels == {labels[0]: [f"{labels[0]}.png", f"{labels[0]}_2.png"]}
    assert "Left out notes.txt" in loaded.summary() and "all are kept" in loaded.summary()
    with pytest.raises(ValueError, match=r"3 files in .* cannot be used \(strict mode\)[\s\S]*ab12.png"):
        oh.load_folder(folder, strict=True)


def test_labels_longer_than_the_model_can_emit_and_unknown_characters_are_named(drawn, tmp_path):
    images, _ = drawn
    folder = tmp_path / "set"
    folder.mkdir()
    for name, image in zip(["abc.png", "aabbcc.png", "xyz.png"], images):
        Image.fromarray(image).save(folder / name)
    loaded = oh.load_folder(folder, charset="abc", max_time_steps=7)
    problems = dict(loaded.problems)
    assert loaded.labels == ["abc"]
    assert "'aabbcc' needs 9 time steps and the model emits 7" in problems["aabbcc.png"]
    assert "holds 'xyz', which cannot be part of a label (allowed: 'abc')" in problems["xyz.png"]


def test_a_csv_gives_the_labels_and_names_missing_files(drawn, tmp_path):
    images, _ = drawn
    folder = tmp_path / "set"
    folder.mkdir()
    Image.fromarray(images[0]).save(folder / "0001.jpg")
    Image.fromarray(images[1]).save(folder / "0002.jpg")
    (tmp_path / "labels.csv").write_text("file,text\n0001.jpg,ab12\n0002.jpg,c3\n0003.jpg,zz\n")
    loaded = oh.load_folder(folder, labels_csv=tmp_path / "labels.csv")
    assert loaded.labels == ["ab12", "c3"] and loaded.files == ["0001.jpg", "0002.jpg"]
    assert "not in the folder" in dict(loaded.problems)["0003.jpg"]


def test_empty_or_missing_folders_say_what_to_put_there(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="is empty: put images named after their text"):
        oh.load_folder(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="No folder at"):
        oh.load_folder(tmp_path / "missing")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.txt").write_text("x")
    with pytest.raises(ValueError, match=r"None of the 1 files .* could be used[\s\S]*a.txt"):
        oh.load_folder(tmp_path / "junk")


def test_split_is_reproducible_and_keeps_copies_of_a_label_together():
    labels = [f"l{index % 40}" for index in range(100)]  # most labels carried by 2 or 3 images
    train, held_out = oh.split_labeled(labels, 0.2, seed=3)
    again_train, again_held_out = oh.split_labeled(labels, 0.2, seed=3)
    np.testing.assert_array_equal(held_out, again_held_out)
    assert not {labels[i] for i in train} & {labels[i] for i in held_out}
    assert sorted(np.concatenate([train, held_out])) == list(range(100))
    assert 18 <= len(held_out) <= 23
    assert not np.array_equal(oh.split_labeled(labels, 0.2, seed=4)[1], held_out)
    with pytest.raises(ValueError, match="held_out_fraction"):
        oh.split_labeled(labels, 1.5)


def test_adapt_model_keeps_the_trained_layers_and_starts_classes_from_matching_ones():
    model = oh.build_model(filters=(4, 8, 8), dense_units=8, rnn_units=4)
    adapted = oh.adapt_model(model, "ab7")
    assert adapted.output_shape == (None, 40, 4) and oh.model_charset(adapted) == "ab7"
    np.testing.assert_array_equal(adapted.get_layer("block1_conv").get_weights()[0],
                                  model.get_layer("block1_conv").get_weights()[0])
    old_kernel = model.get_layer("logits").get_weights()[0]
    new_kernel = adapted.get_layer("logits").get_weights()[0]
    old = oh.char_to_index()
    for new_index, old_index in [(0, 0), (1, old["A"]), (2, old["B"]), (3, old["7"])]:
        np.testing.assert_array_equal(new_kernel[:, new_index], old_kernel[:, old_index])
    adapted.get_layer("block1_conv").kernel.assign(adapted.get_layer("block1_conv").kernel * 0)
    assert np.abs(model.get_layer("block1_conv").get_weights()[0]).sum() > 0, "a copy: the original is untouched"


def test_labels_of_different_lengths_train_and_read_with_the_folders_charset(tmp_path):
    images, labels = oh.draw_real_looking(24, seed=8, charset="xyz789", label_length=5, height=50, width=200)
    labels = [label[:3 + index % 3] for index, label in enumerate(labels)]  # 3, 4 and 5 characters
    loaded = oh.load_folder(oh.export_folder(tmp_path / "set", images, labels))
    model = oh.build_model(charset=loaded.charset, filters=(4, 8, 8), dense_units=8, rnn_units=4)
    data = oh.array_dataset(loaded.images[:16], loaded.labels[:16], batch_size=8, charset=loaded.charset,
                            augment=True)
    history = oh.train(model, data, loaded.images[16:], loaded.labels[16:], epochs=2, verbose=0)
    assert len(history["loss"]) == 2 and all(np.isfinite(history["loss"]))
    readings = oh.predict_text(model, loaded.images[16:])
    assert len(readings) == 8 and all(set(text) <= set(loaded.charset) for text in readings)
