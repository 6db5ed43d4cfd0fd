"""Feed the model batches: from a saved dataset, or drawn fresh while it trains (taught in notebook 05)."""

import collections

import keras
import numpy as np
import tensorflow as tf

from .data import IMAGE_HEIGHT, IMAGE_WIDTH, check_one_label_per_image, default_num_workers, draw_chunk, worker_pool
from .labels import CHARSET, LABEL_LENGTH, check_charset, encode_labels


def check_images(images, height=IMAGE_HEIGHT, width=IMAGE_WIDTH):
    """Return `images` as an array after checking they are uint8 with shape (N, height, width); None allows any size."""
    images = np.asarray(images)
    size_matches = images.ndim == 3 and height in (None, images.shape[1]) and width in (None, images.shape[2])
    if images.dtype != np.uint8 or not size_matches:
        raise ValueError(
            f"Expected uint8 images of shape (N, {height or 'height'}, {width or 'width'}), "
            f"as oh.generate_dataset makes them, "
            f"got {images.dtype} of shape {images.shape}: for one image pass image[None], and convert "
            f"a PIL image with np.asarray(image.convert('L'))."
        )
    if len(images) == 0:
        raise ValueError("There are no images: give at least one.")
    return images


def scale_images(images):
    """Turn uint8 pixels 0..255 into the float32 values 0..1 the model reads."""
    return np.asarray(images, dtype=np.float32) / np.float32(255)


def scale_batch(images, labels):
    """Turn a batch of uint8 images into the float32 values 0..1 the model reads, inside a tf.data pipeline."""
    return tf.cast(images, tf.float32) / 255, labels


def check_batch_size(batch_size):
    """Raise ValueError unless batch_size is a positive whole number."""
    if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive whole number, got {batch_size!r}.")


def checked_arrays(images, labels, batch_size, charset, label_length):
    """Return (images, encoded labels) after checking the images, the labels and the batch size."""
    images = check_images(images, height=None, width=None)
    check_batch_size(batch_size)
    encoded = encode_labels(labels, charset, label_length)
    check_one_label_per_image(images, encoded)
    return images, encoded


def array_dataset(images, labels, batch_size=32, shuffle=True, seed=0, charset=CHARSET, label_length=LABEL_LENGTH):
    """Return a tf.data.Dataset of a saved dataset's batches, scaled to 0..1 and reshuffled every epoch."""
    images, encoded = checked_arrays(images, labels, batch_size, charset, label_length)
    dataset = tf.data.Dataset.from_tensor_slices((images, encoded))
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).map(scale_batch).prefetch(2)


def augment_batch(images, labels, seed, max_shift=(0.025, 0.06), max_shrink=0.15, max_shear=0.15):
    """Shift, shrink and shear each image of a batch a little, at random but reproducibly from `seed` (a pair).

    Shifts are up to `max_shift` of the width and of the height, images shrink by up to `max_shrink` (never
    grow, which would push characters at the edges out), shears go up to `max_shear`; the border pixels extend
    into the space that opens up, so no frame appears.
    """
    count = tf.shape(images)[0]
    height, width = float(images.shape[1]), float(images.shape[2])
    draws = tf.random.stateless_uniform((count, 4), seed=seed, minval=-1.0, maxval=1.0)
    inverse_zoom = 1 / (1 - max_shrink * (draws[:, 0] + 1) / 2)
    shift_x, shift_y = max_shift[0] * width * draws[:, 1], max_shift[1] * height * draws[:, 2]
    shear = max_shear * draws[:, 3]
    centre_x, centre_y = width / 2, height / 2
    zeros = tf.zeros_like(shear)
    transforms = tf.stack([inverse_zoom, shear, centre_x * (1 - inverse_zoom) - shear * centre_y - shift_x,
                           zeros, inverse_zoom, centre_y * (1 - inverse_zoom) - shift_y, zeros, zeros], axis=1)
    moved = keras.ops.image.affine_transform(images[..., None], transforms, fill_mode="nearest")
    return moved[..., 0], labels


def array_epochs(images, labels, batch_size=32, seed=0, first_batch=0, augment=False, charset=CHARSET,
                 label_length=LABEL_LENGTH):
    """Return an endless tf.data.Dataset of a saved dataset's batches, epoch after epoch, from batch `first_batch` on.

    Epoch e is shuffled by the seed pair (seed, e) alone, so batch k is the same however the dataset was used
    before: a stopped run can start again at the batch where it stopped (train_data=functools.partial(...)).
    With `augment`, batch k is also shifted, zoomed and sheared at random, from seeds derived from (seed, k).
    """
    images, encoded = checked_arrays(images, labels, batch_size, charset, label_length)
    batches_per_epoch = -(-len(images) // batch_size)
    first_epoch, skip = divmod(first_batch, batches_per_epoch)
    images, encoded = tf.constant(images), tf.constant(encoded)

    def epoch_order(epoch):
        order = tf.random.experimental.stateless_shuffle(tf.range(len(images)), seed=tf.stack([seed, epoch]))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    orders = tf.data.Dataset.range(first_epoch, np.iinfo(np.int64).max).flat_map(epoch_order).skip(skip)
    batches = orders.map(lambda index: (tf.gather(images, index), tf.gather(encoded, index))).map(scale_batch)
    if augment:
        augment_seed = tf.constant([seed, 1], tf.int64)
        batches = batches.enumerate(start=first_batch).map(
            lambda step, batch: augment_batch(*batch, tf.random.experimental.stateless_fold_in(augment_seed, step)))
    return batches.prefetch(2)


def stream_batches(batch_size=32, seed=0, first_batch=0, charset=CHARSET, label_length=LABEL_LENGTH,
                   height=IMAGE_HEIGHT, width=IMAGE_WIDTH, num_workers=None, prefetch=None):
    """Yield batches (uint8 images, encoded labels) of new CAPTCHAs forever, drawn in parallel: batch k holds
    images k * batch_size onwards of dataset `seed`, so the stream is the same on every run and never repeats."""
    charset = check_charset(charset)
    check_batch_size(batch_size)
    num_workers = num_workers or default_num_workers()
    prefetch = prefetch or 4 * num_workers
    with worker_pool(num_workers) as pool:
        pending = collections.deque()
        next_batch = first_batch
        try:
            while True:
                while len(pending) < prefetch:
                    start = next_batch * batch_size
                    pending.append(pool.submit(draw_chunk, seed, start, start + batch_size, charset, label_length,
                                               height, width))
                    next_batch += 1
                _, images, labels = pending.popleft().result()
                yield images, encode_labels(labels, charset, label_length)
        finally:
            for future in pending:
                future.cancel()


def stream_dataset(batch_size=32, seed=0, repeats=1, shuffle_buffer=10_000, first_batch=0, charset=CHARSET,
                   label_length=LABEL_LENGTH, height=IMAGE_HEIGHT, width=IMAGE_WIDTH, num_workers=None):
    """Wrap `stream_batches` in a tf.data.Dataset, for model.fit(dataset, steps_per_epoch=..., epochs=...).

    With `repeats` above 1, each drawn image is used that many times, at random places in a window of
    `shuffle_buffer` images: drawing an image costs more than a training step on it, so this trains on more
    batches a second while still never running out of new images. `first_batch` starts the stream part-way,
    exactly where an interrupted run stopped; that is possible with `repeats=1` only, since the shuffle
    window's contents are not saved.
    """
    if not isinstance(repeats, (int, np.integer)) or repeats < 1:
        raise ValueError(f"repeats must be a whole number of at least 1, got {repeats!r}.")
    if first_batch and repeats > 1:
        raise ValueError(f"A stream with repeats={repeats} cannot start part-way (first_batch={first_batch}): its "
                         f"shuffle window is not saved. Use repeats=1 for a run you may need to continue.")
    signature = (tf.TensorSpec((None, height, width), tf.uint8), tf.TensorSpec((None, label_length), tf.int32))
    dataset = tf.data.Dataset.from_generator(
        lambda: stream_batches(batch_size, seed, first_batch, charset, label_length, height, width, num_workers),
        output_signature=signature,
    )
    if repeats > 1:
        dataset = (dataset.unbatch()
                   .flat_map(lambda image, label: tf.data.Dataset.from_tensors((image, label)).repeat(repeats))
                   .shuffle(shuffle_buffer, seed=seed)
                   .batch(batch_size))
    return dataset.map(scale_batch).prefetch(2)
