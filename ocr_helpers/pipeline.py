"""Feed the model batches as PyDatasets whose batch k of epoch e depends on (seed, e, k) alone (notebook 05)."""

import itertools

import keras
import numpy as np

from .data import (IMAGE_HEIGHT, IMAGE_WIDTH, check_focus, check_one_label_per_image, default_num_workers, draw_chunk,
                   worker_pool)
from .labels import CHARSET, LABEL_LENGTH, check_charset, check_count, encode_labels


def check_images(images, height=IMAGE_HEIGHT, width=IMAGE_WIDTH):
    """Return `images` as an array after checking they are uint8 with shape (N, height, width); None allows any size."""
    images = np.asarray(images)
    size_matches = images.ndim == 3 and height in (None, images.shape[1]) and width in (None, images.shape[2])
    if images.dtype != np.uint8 or not size_matches:
        hint = ("for one image pass image[None], and convert a PIL image with np.asarray(image.convert('L'))"
                if images.ndim != 4 else
                f"these have {images.shape[-1]} channels; the model reads grayscale, so convert them with "
                f"np.asarray(Image.fromarray(image).convert('L')) or oh.fit_image")
        raise ValueError(f"Expected uint8 images of shape (N, {height or 'height'}, {width or 'width'}), "
                         f"as oh.generate_dataset makes them, got {images.dtype} of shape {images.shape}: {hint}.")
    if len(images) == 0:
        raise ValueError("There are no images: give at least one.")
    return images


def checked_arrays(images, labels, batch_size, charset, label_length):
    """Return (images, encoded labels) after checking the images, the labels and the batch size."""
    images = check_images(images, height=None, width=None)
    check_count(batch_size)
    encoded = encode_labels(labels, charset, label_length)
    check_one_label_per_image(images, encoded)
    return images, encoded


def augment_batch(images, seed, max_shift=(0.025, 0.06), max_shrink=0.15, max_shear=0.15):
    """Shift, shrink and shear each uint8 image of a batch a little, reproducibly from `seed`."""
    height, width = images.shape[1:3]
    draws = np.random.default_rng(seed).uniform(-1.0, 1.0, size=(len(images), 4)).astype(np.float32)
    inverse_zoom = 1 / (1 - max_shrink * (draws[:, 0] + 1) / 2)
    shift_x, shift_y = max_shift[0] * width * draws[:, 1], max_shift[1] * height * draws[:, 2]
    shear = max_shear * draws[:, 3]
    centre_x, centre_y = width / 2, height / 2
    zeros = np.zeros_like(shear)
    transforms = np.stack([inverse_zoom, shear, centre_x * (1 - inverse_zoom) - shear * centre_y - shift_x,
                           zeros, inverse_zoom, centre_y * (1 - inverse_zoom) - shift_y, zeros, zeros], axis=1)
    moved = keras.ops.image.affine_transform(images[..., None].astype(np.float32), transforms, fill_mode="nearest")
    return np.clip(np.round(keras.ops.convert_to_numpy(moved)[..., 0]), 0, 255).astype(np.uint8)


class EpochBatches(keras.utils.PyDataset):
    """A PyDataset whose batches depend on the epoch: `fit` moves it on, and `set_epoch` puts it at any epoch."""

    epoch = 0

    def set_epoch(self, epoch):
        """Give the batches of epoch `epoch` (counted from 0) from now on."""
        self.epoch = epoch

    def on_epoch_end(self):
        self.epoch += 1


class ArrayBatches(EpochBatches):
    """Batches (uint8 images, encoded labels) of arrays in memory, epoch e shuffled (and augmented) by (seed, e)."""

    def __init__(self, images, encoded, batch_size=32, seed=0, shuffle=True, augment=False, **kwargs):
        super().__init__(**kwargs)
        self.images, self.encoded, self.batch_size, self.seed = images, encoded, batch_size, seed
        self.shuffle, self.augment, self.orders = shuffle, augment, {}

    def __len__(self):
        return -(-len(self.images) // self.batch_size)

    def first_images(self, count):
        """Return the first `count` images, unshuffled and unaugmented (for oh.RecomputeBatchStatistics)."""
        return self.images[:count]

    def order(self, epoch):
        """Return the order of the rows in `epoch` (kept for the current epoch only)."""
        if epoch not in self.orders:
            rng = np.random.default_rng([self.seed, epoch])
            self.orders = {epoch: rng.permutation(len(self.images)) if self.shuffle else np.arange(len(self.images))}
        return self.orders[epoch]

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch {index} of an epoch of {len(self)} batches.")
        rows = self.order(self.epoch)[index * self.batch_size:(index + 1) * self.batch_size]
        images = self.images[rows]
        if self.augment:
            images = augment_batch(images, [self.seed, 1, self.epoch, index])
        return images, self.encoded[rows]


def array_dataset(images, labels, batch_size=32, shuffle=True, seed=0, augment=False, charset=CHARSET,
                  label_length=LABEL_LENGTH):
    """Return a saved dataset as a PyDataset of batches, epoch e shuffled (and augmented) by (seed, e)."""
    images, encoded = checked_arrays(images, labels, batch_size, charset, label_length)
    return ArrayBatches(images, encoded, batch_size, seed, shuffle, augment)


def fit_input(data, prefetch=2):
    """Return `data` as `fit` reads it fastest: on TensorFlow a tf.data pipeline asking for batch k, else itself."""
    if keras.backend.backend() != "tensorflow":
        return data
    # Keras' own route, tf.data's from_generator, slowed every later fit on some 2-core machines (TensorFlow issue
    # #56258, docs/measurements.md); asking for batch k by its index keeps set_epoch's batches and avoids it
    import tensorflow as tf  # only on TensorFlow, which then is loaded already

    first = data[0]
    specs = [tf.TensorSpec((None, *array.shape[1:]), tf.as_dtype(array.dtype)) for array in first]

    def batch(index):
        return tuple(data[int(index)])

    def fetch(index):
        arrays = tf.numpy_function(batch, [index], [spec.dtype for spec in specs], stateful=True)
        return tuple(tf.ensure_shape(array, spec.shape) for array, spec in zip(arrays, specs))

    return tf.data.Dataset.range(len(data)).map(fetch).prefetch(prefetch)


class StreamBatches(EpochBatches):
    """New CAPTCHAs forever as a PyDataset: batch k holds images k * batch_size onwards of dataset `seed`."""

    def __init__(self, batch_size=32, seed=0, first_batch=0, repeats=1, charset=CHARSET, label_length=LABEL_LENGTH,
                 height=IMAGE_HEIGHT, width=IMAGE_WIDTH, num_workers=None, prefetch=None, batches_per_epoch=None,
                 focus_chars="", focus_share=0.0, **kwargs):
        super().__init__(**kwargs)
        check_count(batch_size)
        check_count(repeats, "repeats")
        if batches_per_epoch is not None:
            check_count(batches_per_epoch, "batches_per_epoch")
        self.batches_per_epoch = batches_per_epoch
        self.batch_size, self.seed, self.first_batch, self.repeats = batch_size, seed, first_batch, repeats
        charset = check_charset(charset)
        check_focus(charset, focus_chars, focus_share)
        self.drawing = (charset, label_length, height, width, focus_chars, focus_share)
        self.num_workers = num_workers or default_num_workers()
        self.prefetch = prefetch or 4 * self.num_workers
        self.pool, self.pending, self.block = None, {}, (None, None)

    @property
    def num_batches(self):
        return self.batches_per_epoch

    def __len__(self):
        if self.batches_per_epoch is None:
            raise TypeError("A stream without batches_per_epoch has no length: give fit() steps_per_epoch.")
        return self.batches_per_epoch

    def first_images(self, count):
        """Return the stream's first `count` images, drawn here (for oh.RecomputeBatchStatistics)."""
        return draw_chunk(self.seed, 0, count, *self.drawing)[1]

    def draw(self, number):
        """Return drawn batch `number` (images, encoded labels), keeping the next `prefetch` batches in the works."""
        if self.pool is None:
            self.pool = worker_pool(self.num_workers)
        for ahead in range(number, number + self.prefetch):
            if ahead not in self.pending:
                start = ahead * self.batch_size
                self.pending[ahead] = self.pool.submit(draw_chunk, self.seed, start, start + self.batch_size,
                                                       *self.drawing)
        _, images, labels = self.pending[number].result()
        for old in [key for key in self.pending if key < number - 2 or key >= number + 2 * self.prefetch]:
            del self.pending[old]  # a batch still being drawn finishes unread; close() stops the workers
        return images, encode_labels(labels, self.drawing[0], self.drawing[1])

    def block_arrays(self, block):
        """Return the images and labels of a block of repeats newly drawn batches, and their order of use."""
        if self.block[0] != block:
            drawn = [self.draw(block * self.repeats + part) for part in range(self.repeats)]
            images, encoded = (np.concatenate(arrays) for arrays in zip(*drawn))
            uses = np.tile(np.arange(len(images)), self.repeats)
            self.block = block, (images, encoded, np.random.default_rng([self.seed, block]).permutation(uses))
        return self.block[1]

    def __getitem__(self, index):
        step = self.first_batch + index + self.epoch * (self.batches_per_epoch or 0)
        if self.repeats == 1:
            return self.draw(step)
        block, position = divmod(step, self.repeats * self.repeats)
        images, encoded, order = self.block_arrays(block)
        rows = order[position * self.batch_size:(position + 1) * self.batch_size]
        return images[rows], encoded[rows]

    def close(self):
        """Stop the worker processes and drop the batches drawn ahead."""
        self.pending = {}
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        if hasattr(self, "pending"):  # not if __init__ failed
            self.close()


def stream_dataset(batch_size=32, seed=0, repeats=1, first_batch=0, charset=CHARSET, label_length=LABEL_LENGTH,
                   height=IMAGE_HEIGHT, width=IMAGE_WIDTH, num_workers=None, batches_per_epoch=None,
                   focus_chars="", focus_share=0.0):
    """Return a stream of new CAPTCHAs as a PyDataset for `fit`, epoch e being batches e * batches_per_epoch on."""
    return StreamBatches(batch_size, seed, first_batch, repeats, charset, label_length, height, width, num_workers,
                         batches_per_epoch=batches_per_epoch, focus_chars=focus_chars, focus_share=focus_share)


def stream_batches(batch_size=32, seed=0, first_batch=0, charset=CHARSET, label_length=LABEL_LENGTH,
                   height=IMAGE_HEIGHT, width=IMAGE_WIDTH, num_workers=None, prefetch=None):
    """Yield batches (uint8 images, encoded labels) of new CAPTCHAs forever: batch k depends on (seed, k) alone."""
    with StreamBatches(batch_size, seed, first_batch, 1, charset, label_length, height, width, num_workers,
                       prefetch) as stream:
        for index in itertools.count():
            yield stream[index]
