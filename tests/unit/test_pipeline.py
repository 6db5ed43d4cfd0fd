import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

import ocr_helpers as oh


@pytest.fixture(scope="module")
def dataset():
    return oh.generate_dataset(20, seed=11, num_workers=1, progress=False)


def epoch_of(batches):
    """Return one pass over a finite PyDataset as (images, encoded labels, number of batches), then end the epoch."""
    pairs = [batches[index] for index in range(len(batches))]
    batches.on_epoch_end()
    return np.concatenate([pair[0] for pair in pairs]), np.concatenate([pair[1] for pair in pairs]), len(pairs)


def first_batches(batches, count):
    """Return the first `count` batches of an endless PyDataset, as fit() reads them: by index from 0."""
    return [batches[index] for index in range(count)]


def test_array_dataset_keeps_uint8_encodes_and_covers_every_image_once_per_epoch(dataset):
    images, labels = dataset
    batches = oh.array_dataset(images, labels, batch_size=8, seed=3)
    assert isinstance(batches, oh.ArrayBatches) and len(batches) == 3
    epochs = [epoch_of(batches) for _ in range(2)]
    for epoch_images, epoch_labels, num_batches in epochs:
        assert num_batches == 3 and epoch_images.dtype == np.uint8
        assert sorted(map(bytes, epoch_images)) == sorted(map(bytes, images)), "each image exactly once"
        by_image = {bytes(image): label for image, label in zip(images, labels)}
        assert [by_image[bytes(image)] for image in epoch_images] == oh.decode_labels(epoch_labels)
    assert not np.array_equal(epochs[0][1], epochs[1][1]), "the order changes between epochs"
    np.testing.assert_array_equal(epoch_of(oh.array_dataset(images, labels, batch_size=8, seed=3))[1], epochs[0][1])
    with pytest.raises(IndexError):
        batches[3]


def test_array_dataset_without_shuffle_keeps_the_order(dataset):
    images, labels = dataset
    _, encoded, _ = epoch_of(oh.array_dataset(images, labels, batch_size=8, shuffle=False))
    np.testing.assert_array_equal(encoded, oh.encode_labels(labels))


def test_array_dataset_refuses_bad_input(dataset):
    images, labels = dataset
    with pytest.raises(ValueError, match="uint8 images of shape"):
        oh.array_dataset(images / 255.0, labels)
    with pytest.raises(ValueError, match="not in the character set"):
        oh.array_dataset(images[:1], ["AB?CD"])
    with pytest.raises(ValueError, match="20 images but 19 labels"):
        oh.array_dataset(images, labels[:19])
    with pytest.raises(ValueError, match="no images"):
        oh.array_dataset(images[:0], [])
    with pytest.raises(ValueError, match="batch_size"):
        oh.array_dataset(images, labels, batch_size=0)


def test_check_images_names_the_expected_shape():
    with pytest.raises(ValueError, match=r"\(N, 60, 160\).*got uint8 of shape \(60, 160\).*image\[None\]"):
        oh.pipeline.check_images(np.zeros((60, 160), np.uint8))
    with pytest.raises(ValueError, match=r"\(N, 60, 160\).*got uint8 of shape \(2, 50, 200\)"):
        oh.pipeline.check_images(np.zeros((2, 50, 200), np.uint8))
    with pytest.raises(ValueError, match=r"\(N, 60, 160\).*\(2, 60, 160, 3\): these have 3 channels.*grayscale"):
        oh.pipeline.check_images(np.zeros((2, 60, 160, 3), np.uint8))
    assert oh.pipeline.check_images(np.zeros((2, 50, 200), np.uint8), height=None, width=None).shape == (2, 50, 200)


def test_stream_continues_the_dataset_of_its_seed_and_never_repeats(dataset):
    images, labels = dataset
    stream = oh.stream_batches(batch_size=4, seed=11, num_workers=2)
    batches = [next(stream) for _ in range(5)]
    stream.close()
    streamed = np.concatenate([batch[0] for batch in batches])
    np.testing.assert_array_equal(streamed, images)
    assert oh.decode_labels(np.concatenate([batch[1] for batch in batches])) == labels
    single = oh.stream_batches(batch_size=4, seed=11, first_batch=4, num_workers=1)
    np.testing.assert_array_equal(next(single)[0], batches[4][0])
    single.close()


def test_stream_dataset_gives_uint8_images_and_int_labels(dataset):
    images, labels = dataset
    with oh.stream_dataset(batch_size=3, seed=11, num_workers=1) as stream:
        assert stream.num_batches is None, "endless: fit() needs steps_per_epoch"
        batch_images, batch_labels = stream[0]
        np.testing.assert_array_equal(stream[1][0], images[3:6])
    assert batch_images.dtype == np.uint8 and batch_labels.dtype == np.int32
    np.testing.assert_array_equal(batch_images, images[:3])
    assert oh.decode_labels(batch_labels) == labels[:3]
    with pytest.raises(ValueError, match="batch_size"):
        next(oh.stream_batches(batch_size=0))
    with pytest.raises(ValueError, match="repeats"):
        oh.stream_dataset(repeats=0)


def test_stream_dataset_draws_what_generate_dataset_draws_with_the_same_focus():
    images, labels = oh.generate_dataset(6, seed=11, num_workers=1, progress=False, focus_chars="0O",
                                         focus_share=0.5)
    with oh.stream_dataset(batch_size=3, seed=11, num_workers=1, focus_chars="0O", focus_share=0.5) as stream:
        (first_images, first_labels), (second_images, _) = stream[0], stream[1]
    np.testing.assert_array_equal(np.concatenate([first_images, second_images]), images)
    assert oh.decode_labels(first_labels) == labels[:3]
    with pytest.raises(ValueError, match="not in the character set"):
        oh.stream_dataset(focus_chars="0o", focus_share=0.5)


def test_stream_dataset_with_repeats_uses_each_image_that_many_times_in_a_block(dataset):
    images, labels = dataset
    with oh.stream_dataset(batch_size=4, seed=11, repeats=3, num_workers=1) as repeated:
        batches = first_batches(repeated, 9)
        read = oh.decode_labels(np.concatenate([batch_labels for _, batch_labels in batches]))
        assert len(read) == 36
        assert sorted(read) == sorted(labels[:12] * 3), "the first 3 x 3 batches use 12 new images 3 times each"
        assert read[:12] != labels[:12], "repeats are shuffled, not in drawing order"
        next_block = oh.generate_dataset(24, seed=11, num_workers=1, progress=False)[1][12:]
        assert set(oh.decode_labels(repeated[9][1])) <= set(next_block), "the next block draws images 12 to 23"
        with oh.stream_dataset(batch_size=4, seed=11, repeats=3, first_batch=7, num_workers=1) as later:
            np.testing.assert_array_equal(later[0][1], batches[7][1])
            np.testing.assert_array_equal(later[1][0], batches[8][0])


def test_stream_dataset_starts_part_way_exactly_where_the_stream_would_be():
    with oh.stream_dataset(batch_size=4, seed=3, num_workers=1) as stream:
        whole = [labels for _, labels in first_batches(stream, 5)]
    with oh.stream_dataset(batch_size=4, seed=3, first_batch=3, num_workers=1) as stream:
        later = [labels for _, labels in first_batches(stream, 2)]
    np.testing.assert_array_equal(np.stack(later), np.stack(whole[3:]))


def test_array_dataset_shuffles_each_epoch_by_seed_and_epoch_and_can_jump_to_any_epoch(dataset):
    images, labels = dataset
    batches = oh.array_dataset(images, labels, batch_size=5, seed=4)
    epochs = [epoch_of(batches)[1] for _ in range(3)]
    assert sorted(map(tuple, epochs[0])) == sorted(map(tuple, oh.encode_labels(labels))), "each image once an epoch"
    assert (epochs[0] != epochs[1]).any(), "the next epoch is shuffled differently"
    later = oh.array_dataset(images, labels, batch_size=5, seed=4)
    later.set_epoch(2)
    np.testing.assert_array_equal(epoch_of(later)[1], epochs[2])
    np.testing.assert_array_equal(epoch_of(later)[1], epoch_of(batches)[1])  # and both go on alike


def test_augmented_epochs_repeat_exactly_and_can_jump_to_any_epoch(dataset):
    images, labels = dataset
    augmented, still = (oh.array_dataset(images, labels, 5, seed=4, augment=augment) for augment in (True, False))
    whole = [epoch_of(augmented)[0] for _ in range(2)]
    plain = [epoch_of(still)[0] for _ in range(2)]
    later = oh.array_dataset(images, labels, batch_size=5, seed=4, augment=True)
    later.set_epoch(1)
    np.testing.assert_array_equal(epoch_of(later)[0], whole[1])
    assert all(moved.dtype == np.uint8 for moved in whole)
    differences = [np.abs(moved.astype(float) - unmoved) / 255 for moved, unmoved in zip(whole, plain)]
    assert all(difference.mean() > 0.005 for difference in differences), "every epoch moves"
    assert all(difference.mean() < 0.2 for difference in differences), "but only a little"


def test_stream_epochs_of_a_set_length_follow_each_other_and_can_jump_to_any_epoch():
    with oh.stream_dataset(batch_size=4, seed=3, num_workers=1) as stream:
        whole = [labels for _, labels in first_batches(stream, 6)]
    with oh.stream_dataset(batch_size=4, seed=3, num_workers=1, batches_per_epoch=2) as stream:
        assert len(stream) == 2 and stream.num_batches == 2
        first = epoch_of(stream)[1]
        stream.set_epoch(2)
        third = epoch_of(stream)[1]
        fourth = epoch_of(stream)[1]
    np.testing.assert_array_equal(first, np.concatenate(whole[:2]))
    np.testing.assert_array_equal(third, np.concatenate(whole[4:6]))
    assert len(fourth) == 8 and not np.array_equal(fourth, third), "epoch 4 draws batches 6 and 7"
    with pytest.raises(ValueError, match="batches_per_epoch must be a positive whole number"):
        oh.stream_dataset(batches_per_epoch=0)


def test_augment_batch_without_any_movement_gives_the_images_back(dataset):
    images, _ = dataset
    still = oh.augment_batch(images[:4], [1, 2], max_shift=(0, 0), max_shrink=0, max_shear=0)
    np.testing.assert_array_equal(still, images[:4])


def test_fit_input_gives_the_batches_of_the_epoch_the_data_is_at(dataset):
    images, labels = dataset
    batches = oh.array_dataset(images, labels, batch_size=6, seed=4, augment=True)
    fed = oh.fit_input(batches)
    if keras.backend.backend() != "tensorflow":
        assert fed is batches, "other backends read the PyDataset itself"
        return
    for epoch in (3, 0):
        batches.set_epoch(epoch)
        read = [tuple(np.asarray(array) for array in pair) for pair in fed]
        assert len(read) == len(batches) == 4
        for index, (image_batch, label_batch) in enumerate(read):
            expected_images, expected_labels = batches[index]
            assert image_batch.dtype == np.uint8 and label_batch.dtype == expected_labels.dtype
            np.testing.assert_array_equal(image_batch, expected_images)
            np.testing.assert_array_equal(label_batch, expected_labels)
    assert fed.element_spec[0].shape.as_list() == [None, 60, 160]
