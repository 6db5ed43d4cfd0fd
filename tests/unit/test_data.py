import importlib.metadata
import inspect
import os
import random
import secrets
import zipfile

import captcha.image
import numpy as np
import pytest

import ocr_helpers as oh


@pytest.fixture(scope="module")
def small_dataset():
    return oh.generate_dataset(24, seed=7, num_workers=1, progress=False)


def test_generate_dataset_returns_grayscale_uint8_images_and_labels(small_dataset):
    images, labels = small_dataset
    assert images.shape == (24, oh.IMAGE_HEIGHT, oh.IMAGE_WIDTH) == (24, 60, 160)
    assert images.dtype == np.uint8
    assert len(labels) == 24 and all(len(label) == 5 and set(label) <= set(oh.CHARSET) for label in labels)
    assert images.std() > 10, "images should hold drawn text, not a flat background"
    assert len(set(labels)) == 24


def test_same_seed_gives_byte_identical_data_whatever_the_number_of_workers(small_dataset):
    images, labels = small_dataset
    for workers in (2, 3):
        other_images, other_labels = oh.generate_dataset(24, seed=7, num_workers=workers, progress=False)
        assert other_images.tobytes() == images.tobytes() and other_labels == labels


def test_another_seed_gives_other_images(small_dataset):
    images, labels = small_dataset
    other_images, other_labels = oh.generate_dataset(24, seed=8, num_workers=1, progress=False)
    assert not np.array_equal(other_images, images) and other_labels != labels


def test_a_smaller_dataset_is_a_prefix_of_a_larger_one(small_dataset):
    images, labels = small_dataset
    first_images, first_labels = oh.generate_dataset(5, seed=7, num_workers=1, progress=False)
    assert np.array_equal(first_images, images[:5]) and first_labels == labels[:5]


def test_size_charset_and_label_length_are_parameters():
    images, labels = oh.generate_dataset(6, seed=1, charset="abc", label_length=3, height=50, width=200,
                                         num_workers=1, progress=False)
    assert images.shape == (6, 50, 200)
    assert all(len(label) == 3 and set(label) <= set("abc") for label in labels)


@pytest.mark.parametrize("arguments, message", [
    (dict(num_samples=0), "num_samples must be a positive"),
    (dict(num_samples=-3), "num_samples must be a positive"),
    (dict(num_samples=4, charset=""), "character set is empty"),
    (dict(num_samples=4, label_length=0), "label_length must be a positive whole number"),
    (dict(num_samples=2.5), "positive whole number"),
    (dict(num_samples=4, charset="AAB"), "repeats"),
    (dict(num_samples=4, height=4), "too small"),
])
def test_generate_dataset_refuses_arguments_that_make_no_dataset(arguments, message):
    with pytest.raises(ValueError, match=message):
        oh.generate_dataset(**arguments, progress=False)


def test_save_and_load_round_trip(tmp_path, small_dataset):
    images, labels = small_dataset
    path = oh.save_dataset(tmp_path / "set.npz", images, labels, oh.dataset_info(24, 7))
    loaded_images, loaded_labels, info = oh.load_dataset(path, with_info=True)
    assert np.array_equal(loaded_images, images) and loaded_labels == labels
    assert info["seed"] == 7 and info["num_samples"] == 24
    assert [name for name in os.listdir(tmp_path)] == ["set.npz"], "no temporary file may be left behind"


def test_loading_a_missing_file_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="01_generate_data"):
        oh.load_dataset(tmp_path / "nothing.npz")


def test_loading_a_truncated_file_says_to_regenerate_it(tmp_path, small_dataset):
    path = oh.save_dataset(tmp_path / "set.npz", *small_dataset)
    data = path.read_bytes()
    for cut in (len(data) // 2, 1000, 10):
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="truncated or corrupt.*delete it and generate it again"):
            oh.load_dataset(path)


def test_loading_a_file_with_a_flipped_byte_is_detected(tmp_path, small_dataset):
    path = oh.save_dataset(tmp_path / "set.npz", *small_dataset)
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="truncated or corrupt"):
        oh.load_dataset(path)


def test_a_failed_save_leaves_the_previous_file_in_place(tmp_path, small_dataset):
    images, labels = small_dataset
    path = oh.save_dataset(tmp_path / "set.npz", images, labels)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="one label per image"):
        oh.save_dataset(path, images, labels[:-1])
    with pytest.raises(ValueError, match="uint8"):
        oh.save_dataset(path, images.astype(np.float32), labels)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["set.npz"]


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    path = tmp_path / "file.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with oh.atomic_write(path, "w") as file:
            file.write("half of the new")
            raise RuntimeError("the kernel died")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["file.txt"]


def test_focus_share_draws_that_share_of_the_characters_from_focus_chars():
    _, labels = oh.generate_dataset(200, seed=5, num_workers=1, progress=False, focus_chars="0O", focus_share=0.5)
    share = sum(label.count("0") + label.count("O") for label in labels) / (5 * len(labels))
    assert 0.45 < share < 0.6, f"half from '0O' and 2/36 of the other half is about 0.53, got {share:.3f}"
    _, only_pair = oh.generate_dataset(10, seed=5, num_workers=1, progress=False, focus_chars="0O", focus_share=1)
    assert all(set(label) <= set("0O") for label in only_pair)


def test_a_focus_share_of_zero_draws_the_labels_as_before(small_dataset):
    import random

    _, labels = small_dataset
    generators = [random.Random(f"ocr_helpers:7:{index}") for index in range(24)]
    before = ["".join(rng.choice(oh.CHARSET) for _ in range(5)) for rng in generators]
    assert labels == before, "focus_share=0 must not draw from the generator, or every saved dataset changes"


@pytest.mark.parametrize("arguments, message", [
    (dict(focus_chars="0O", focus_share=1.5), "from 0 to 1"),
    (dict(focus_chars="0o", focus_share=0.2), "not in the character set .*'o'"),
    (dict(focus_share=0.2), "focus_chars is empty"),
])
def test_generate_dataset_refuses_a_focus_it_cannot_draw(arguments, message):
    with pytest.raises(ValueError, match=message):
        oh.generate_dataset(4, **arguments, progress=False)


def test_load_or_generate_tells_a_focused_file_from_a_plain_one(tmp_path, capsys):
    path = tmp_path / "extra.npz"
    oh.load_or_generate_dataset(path, 6, seed=3, progress=False)
    assert "focus_share" not in oh.load_dataset(path, with_info=True)[2], "plain files keep their old description"
    capsys.readouterr()
    _, labels = oh.load_or_generate_dataset(path, 6, seed=3, progress=False, focus_chars="0O", focus_share=1)
    assert "generated with other arguments" in capsys.readouterr().out
    assert all(set(label) <= set("0O") for label in labels)
    oh.load_or_generate_dataset(path, 6, seed=3, progress=False, focus_chars="0O", focus_share=1)
    assert "Loaded 6 images" in capsys.readouterr().out


def test_load_or_generate_reuses_a_matching_file_and_regenerates_otherwise(tmp_path, capsys):
    path = tmp_path / "train.npz"
    images, labels = oh.load_or_generate_dataset(path, 6, seed=3, progress=False)
    assert "Generating 6 images (no file at" in capsys.readouterr().out
    again_images, again_labels = oh.load_or_generate_dataset(path, 6, seed=3, progress=False)
    assert "Loaded 6 images" in capsys.readouterr().out
    assert np.array_equal(again_images, images) and again_labels == labels
    other_images, _ = oh.load_or_generate_dataset(path, 6, seed=4, progress=False)
    assert "generated with other arguments" in capsys.readouterr().out
    assert not np.array_equal(other_images, images)
    path.write_bytes(path.read_bytes()[:500])
    oh.load_or_generate_dataset(path, 6, seed=4, progress=False)
    assert "truncated or corrupt" in capsys.readouterr().out
    assert oh.load_dataset(path)[0].shape == (6, 60, 160)


def test_load_or_generate_takes_the_first_images_of_a_larger_file_with_the_same_seed(tmp_path, capsys):
    path = tmp_path / "extra.npz"
    images, labels = oh.load_or_generate_dataset(path, 6, seed=3, progress=False)
    capsys.readouterr()
    first_images, first_labels = oh.load_or_generate_dataset(path, 4, seed=3, progress=False)
    assert "Loaded the first 4 of the 6 images" in capsys.readouterr().out
    assert np.array_equal(first_images, images[:4]) and first_labels == labels[:4]
    assert np.array_equal(first_images, oh.generate_dataset(4, seed=3, progress=False)[0]), "the same as drawn anew"
    assert len(oh.load_dataset(path)[0]) == 6, "the larger file is kept"
    oh.load_or_generate_dataset(path, 4, seed=3, label_length=4, progress=False)
    assert "generated with other arguments" in capsys.readouterr().out
    oh.load_or_generate_dataset(path, 5, seed=3, label_length=4, progress=False)
    assert "generated with other arguments" in capsys.readouterr().out, "a smaller file is drawn again"


def test_plot_samples_draws_one_titled_axis_per_image(small_dataset):
    images, labels = small_dataset
    figure = oh.plot_samples(images, labels, num_rows=2, num_columns=3)
    titles = [axis.get_title() for axis in figure.axes]
    assert titles == labels[:6]
    with pytest.raises(ValueError, match="no images"):
        oh.plot_samples(images[:0], [])


def test_the_seeded_stand_in_still_steers_the_captcha_library():
    """oh.data.seeded_captcha reaches into the library: check, on the installed version, what it relies on."""
    versions = (f"ocr_helpers.data was written for captcha {oh.data.CAPTCHA_WRITTEN_FOR} and captcha "
                f"{importlib.metadata.version('captcha')} is installed")
    assert inspect.ismodule(getattr(captcha.image, "secrets", None)), (
        f"{versions}: captcha.image no longer has the module attribute `secrets` that seeded_captcha replaces")
    generator = oh.data.captcha_generator()

    def draw(seed=None):
        if seed is None:
            return np.asarray(generator.generate_image("ab12C"))
        with oh.data.seeded_captcha(random.Random(seed)):
            return np.asarray(generator.generate_image("ab12C"))

    assert np.array_equal(draw(seed=1), draw(seed=1)), (
        f"{versions}: the same seed drew different images, so the library draws from something else than "
        f"`captcha.image.secrets`: change seeded_captcha to seed that")
    assert not np.array_equal(draw(seed=1), draw(seed=2)), f"{versions}: two seeds drew the same image"
    assert not np.array_equal(draw(), draw()), (
        f"{versions}: without the stand-in the library drew the same image twice, so it no longer draws at random "
        f"from `secrets`")
    assert captcha.image.secrets is secrets, "seeded_captcha must put the real module back"
