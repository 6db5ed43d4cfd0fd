import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
import tensorflow as tf

import ocr_helpers as oh


@pytest.fixture(scope="module")
def dataset():
    return oh.generate_dataset(20, seed=11, num_workers=1, progress=False)


def epoch_of(dataset):
    """Return one pass over a tf.data dataset as (images, encoded labels) arrays."""
    batches = [(images.numpy(), labels.numpy()) for images, labels in dataset]
    return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches]), len(batches)


def test_array_dataset_scales_encodes_and_covers_every_image_once_per_epoch(dataset):
    images, labels = dataset
    batches = oh.array_dataset(images, labels, batch_size=8, seed=3)
    epochs = [epoch_of(batches) for _ in range(2)]
    for epoch_images, epoch_labels, num_batches in epochs:
        assert num_batches == 3
        assert epoch_images.dtype == np.float32 and 0 <= epoch_images.min() and epoch_images.max() <= 1
        as_pixels = np.round(epoch_images * 255).astype(np.uint8)
        assert sorted(map(bytes, as_pixels)) == sorted(map(bytes, images)), "each image exactly once"
        by_image = {bytes(image): label for image, label in zip(images, labels)}
        assert [by_image[bytes(image)] for image in as_pixels] == oh.decode_labels(epoch_labels)
    assert not np.array_equal(epochs[0][1], epochs[1][1]), "the order changes between epochs"
    np.testing.assert_array_equal(epoch_of(oh.array_dataset(images, labels, batch_size=8, seed=3))[1], epochs[0][1])


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
        oh.check_images(np.zeros((60, 160), np.uint8))
    with pytest.raises(ValueError, match=r"\(N, 60, 160\).*got uint8 of shape \(2, 50, 200\)"):
        oh.check_images(np.zeros((2, 50, 200), np.uint8))
    assert oh.check_images(np.zeros((2, 50, 200), np.uint8), height=None, width=None).shape == (2, 50, 200)


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


def test_stream_dataset_gives_float_images_and_int_labels(dataset):
    images, labels = dataset
    batch_images, batch_labels = next(iter(oh.stream_dataset(batch_size=3, seed=11, num_workers=1)))
    assert batch_images.dtype.name == "float32" and batch_labels.dtype.name == "int32"
    np.testing.assert_allclose(batch_images.numpy(), images[:3] / 255, atol=1e-6)
    assert oh.decode_labels(batch_labels.numpy()) == labels[:3]
    with pytest.raises(ValueError, match="batch_size"):
        next(oh.stream_batches(batch_size=0))
    with pytest.raises(ValueError, match="repeats"):
        oh.stream_dataset(repeats=0)


def test_stream_dataset_with_repeats_uses_each_image_that_many_times(dataset):
    images, labels = dataset
    repeated = oh.stream_dataset(batch_size=4, seed=11, repeats=3, shuffle_buffer=12, num_workers=1)
    batches = [batch for _, batch in zip(range(6), repeated)]
    read = oh.decode_labels(np.concatenate([batch_labels.numpy() for _, batch_labels in batches]))
    assert len(read) == 24
    first = read[:12]
    assert first != sorted(first, key=labels.index), "repeats are shuffled, not back to back"
    assert all(read.count(label) <= 3 for label in set(read))
    assert set(read) <= set(labels[:12])


def test_stream_dataset_starts_part_way_exactly_where_the_stream_would_be():
    whole = [labels.numpy() for _, labels in oh.stream_dataset(batch_size=4, seed=3, num_workers=1).take(5)]
    later = [labels.numpy() for _, labels in oh.stream_dataset(batch_size=4, seed=3, first_batch=3,
                                                                num_workers=1).take(2)]
    np.testing.assert_array_equal(np.stack(later), np.stack(whole[3:]))
    with pytest.raises(ValueError, match="repeats=3 cannot start part-way"):
        oh.stream_dataset(batch_size=4, seed=3, repeats=3, first_batch=2)


def test_array_epochs_shuffles_each_epoch_by_seed_and_epoch_and_starts_at_any_batch(dataset):
    images, labels = dataset
    batches = [labels.numpy() for _, labels in oh.array_epochs(images, labels, batch_size=5, seed=4).take(12)]
    per_epoch = -(-len(images) // 5)
    first, second = np.concatenate(batches[:per_epoch]), np.concatenate(batches[per_epoch:2 * per_epoch])
    assert sorted(map(tuple, first)) == sorted(map(tuple, oh.encode_labels(labels))), "each image once an epoch"
    assert (first != second).any(), "the next epoch is shuffled differently"
    later = oh.array_epochs(images, labels, batch_size=5, seed=4, first_batch=per_epoch + 1)
    for expected, (_, got) in zip(batches[per_epoch + 1:], later.take(3)):
        np.testing.assert_array_equal(got.numpy(), expected)


def test_augmented_epochs_repeat_exactly_and_start_at_any_batch(dataset):
    images, labels = dataset
    whole = [batch.numpy() for batch, _ in oh.array_epochs(images, labels, batch_size=5, seed=4, augment=True).take(6)]
    plain = [batch.numpy() for batch, _ in oh.array_epochs(images, labels, batch_size=5, seed=4).take(6)]
    later = oh.array_epochs(images, labels, batch_size=5, seed=4, augment=True, first_batch=4)
    for expected, (got, _) in zip(whole[4:], later.take(2)):
        np.testing.assert_array_equal(got.numpy(), expected)
    assert all(np.abs(moved - still).mean() > 0.005 for moved, still in zip(whole, plain)), "every batch moves"
    assert all(np.abs(moved - still).mean() < 0.2 for moved, still in zip(whole, plain)), "but only a little"


def test_augment_batch_without_any_movement_gives_the_images_back(dataset):
    images, labels = dataset
    scaled = oh.scale_images(images[:4])
    still, _ = oh.pipeline.augment_batch(tf.constant(scaled), labels[:4], tf.constant([1, 2], tf.int64),
                                         max_shift=(0, 0), max_shrink=0, max_shear=0)
    np.testing.assert_allclose(still.numpy(), scaled, atol=1e-5)
