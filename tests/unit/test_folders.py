import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
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
    validation_images, validation_labels = loaded.images[16:], loaded.labels[16:]
    history = oh.train(model, data, validation_images, validation_labels, epochs=2, verbose=0)
    assert sorted({len(label) for label in validation_labels}) == [3, 4, 5]
    # Padded with 0 to 5 characters, each label must cost what the forward algorithm gives for it alone: a loss that
    # took the padding for characters, or every label for the longest, would be finite and still wrong.
    logits = oh.predict_logits(model, validation_images)
    encoded = oh.encode_labels(validation_labels, loaded.charset, 5)
    padded = keras.ops.convert_to_numpy(oh.CTCLoss(reduction=None)(encoded, logits))
    alone = [oh.ctc_loss_numpy(row[:len(label)], sample)
             for row, label, sample in zip(encoded, validation_labels, logits)]
    np.testing.assert_allclose(padded, alone, rtol=1e-4)
    every_label_full = oh.ctc_loss(encoded, logits, np.full(8, 5), np.full(8, logits.shape[1]))
    assert not np.allclose(keras.ops.convert_to_numpy(every_label_full), alone, rtol=1e-4), "the check can fail"
    best = int(np.argmax(history["val_rank"]))  # the epoch oh.train kept: fit averaged the same losses
    assert history["val_loss"][best] == pytest.approx(np.mean(alone), rel=1e-4)
    readings = oh.predict_text(model, validation_images)
    assert oh.model_charset(model) == loaded.charset == "789xyz"
    assert readings == oh.greedy_decode(logits, loaded.charset), "read with the folder's characters, not CHARSET's"


@pytest.fixture
def one_worker(monkeypatch):
    """Draw in this process: starting worker processes would take longer than drawing a few images."""
    monkeypatch.setattr(oh.data, "default_num_workers", lambda: 1)


def practice_state(folder):
    """Return {name: (inode, mtime, bytes)} of every file in `folder`, the record included."""
    return {path.name: (path.stat().st_ino, path.stat().st_mtime_ns, path.read_bytes()) for path in folder.iterdir()}


PRACTICE = dict(num_samples=4, seed=5, charset="abc123", label_length=4, height=30, width=100)


def test_the_practice_folder_is_drawn_once_with_a_record_and_then_reused(one_worker, tmp_path, capsys):
    folder = oh.load_or_draw_practice(tmp_path / "practice", **PRACTICE)
    assert "Drawing 4 practice CAPTCHAs" in capsys.readouterr().out
    record = json.loads((folder / ".practice.json").read_text())
    assert {key: record[key] for key in PRACTICE} == PRACTICE
    images, labels = oh.draw_real_looking(*PRACTICE.values())
    loaded = oh.load_folder(folder, height=30, width=100)
    assert sorted(loaded.labels) == sorted(labels) and loaded.problems == [], "the record is not read as an image"
    np.testing.assert_array_equal(loaded.images[np.argsort(loaded.labels)], images[np.argsort(labels)])
    before, inode = practice_state(folder), folder.stat().st_ino
    assert oh.load_or_draw_practice(tmp_path / "practice", **PRACTICE) == folder
    assert "Reusing the 4 practice CAPTCHAs" in capsys.readouterr().out
    assert practice_state(folder) == before and folder.stat().st_ino == inode, "reused, not drawn again"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["practice"]


@pytest.mark.parametrize("name, value, change", [("seed", 6, "seed 5 -> 6"), ("num_samples", 3, "num_samples 4 -> 3"),
                                                 ("charset", "xyz", "charset 'abc123' -> 'xyz'"),
                                                 ("label_length", 3, "label_length 4 -> 3"),
                                                 ("height", 40, "height 30 -> 40"), ("width", 90, "width 100 -> 90")])
def test_a_changed_argument_draws_the_practice_folder_again(one_worker, tmp_path, capsys, name, value, change):
    folder = oh.load_or_draw_practice(tmp_path / "practice", **PRACTICE)
    changed = {**PRACTICE, name: value}
    capsys.readouterr()
    oh.load_or_draw_practice(folder, **changed)
    assert f"(changed since it was drawn: {change})" in capsys.readouterr().out
    _, labels = oh.draw_real_looking(*changed.values())
    assert sorted(path.name for path in folder.glob("*.png")) == sorted(f"{label}.png" for label in labels)
    with Image.open(folder / f"{labels[0]}.png") as image:
        assert image.size == (changed["width"], changed["height"])
    assert {key: value for key, value in json.loads((folder / ".practice.json").read_text()).items()
            if key in changed} == changed
    assert sorted(path.name for path in tmp_path.iterdir()) == ["practice"], "no staging folder is left beside it"


def test_a_missing_or_unreadable_record_of_an_empty_or_drawn_folder_draws_it(one_worker, tmp_path, capsys):
    (tmp_path / "practice").mkdir()
    folder = oh.load_or_draw_practice(tmp_path / "practice", **PRACTICE)
    assert "(the folder is empty)" in capsys.readouterr().out and len(list(folder.glob("*.png"))) == 4
    (folder / ".practice.json").write_text("{half a rec")
    oh.load_or_draw_practice(folder, **PRACTICE)
    assert "unreadable or of another version" in capsys.readouterr().out
    assert json.loads((folder / ".practice.json").read_text())["seed"] == 5


def test_a_failure_half_way_through_a_redraw_leaves_the_old_folder_whole(one_worker, tmp_path, monkeypatch):
    folder = oh.load_or_draw_practice(tmp_path / "practice", **PRACTICE)
    before = practice_state(folder)
    written = []

    def write_then_fail(path, image, mode="RGB"):
        if len(written) == 2:
            raise OSError("No space left on device")
        written.append(path)
        original(path, image, mode)

    original = oh.folders.write_image
    monkeypatch.setattr(oh.folders, "write_image", write_then_fail)
    with pytest.raises(OSError, match="No space left"):
        oh.load_or_draw_practice(folder, **{**PRACTICE, "seed": 6})
    assert len(written) == 2 and all(path.parent != folder for path in written), "the new files went to staging"
    assert practice_state(folder) == before, "the old images and their record are as they were"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["practice"], "the staging folder is removed"


def test_a_folder_the_course_did_not_draw_is_refused_and_left_alone(tmp_path, monkeypatch):
    folder = tmp_path / "my_captchas"
    folder.mkdir()
    (folder / "2b827.png").write_bytes(b"my own image")
    monkeypatch.setattr(oh.folders, "draw_real_looking", lambda *arguments: pytest.fail("nothing may be drawn"))
    with pytest.raises(ValueError, match=r"my_captchas holds files but no record \.practice\.json.*folder = "):
        oh.load_or_draw_practice(folder, **PRACTICE)
    assert [path.name for path in folder.iterdir()] == ["2b827.png"]
    assert (folder / "2b827.png").read_bytes() == b"my own image"
    (tmp_path / "a_file").write_text("not a folder")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        oh.load_or_draw_practice(tmp_path / "a_file", **PRACTICE)
    with pytest.raises(ValueError, match="label_length must be a positive whole number"):
        oh.load_or_draw_practice(tmp_path / "new", **{**PRACTICE, "label_length": 0})
    assert not (tmp_path / "new").exists()
