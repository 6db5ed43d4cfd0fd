"""Build the CRNN that reads a CAPTCHA column by column, and the seed tutorial's model (notebook 03)."""

import math

import keras
import numpy as np
from keras import layers

from .data import IMAGE_HEIGHT, IMAGE_WIDTH
from .labels import BLANK_INDEX, CHARSET, LABEL_LENGTH, char_to_index, check_charset, num_classes

NUM_CLASSES = num_classes()
FILTERS = (16, 32, 64)
DENSE_UNITS = 128
RNN_UNITS = 64
DROPOUT = 0.1  # before the GRU; 0.25 and 0 read less in notebook 06 (docs/measurements.md, issue 40 third round)
POOL_SIZES = ((2, 2), (2, 2), (2, 1))  # the third block halves the height only: 40 time steps (notebook 03)
STRIDED_BLOCKS = 3  # every block strides; notebook 03 times 2 (the third block pools) against it
REFINE_BLOCKS = 1  # 3x3 convolutions after the last block, at its resolution and width (notebook 03 measures it)
BATCH_NORM_MOMENTUM = 0.99  # Keras' default; notebook 06 measures what 0.9 changes
UNROLL = False  # a loop: unrolled, the 40 steps train ~5% faster on TensorFlow but build ~3x longer (notebook 03)


def required_time_steps(label_length):
    """Return the time steps CTC needs for any label of this length: one per character plus a blank between repeats."""
    return 2 * label_length - 1


def output_time_steps(width, pool_sizes=POOL_SIZES, strided_blocks=STRIDED_BLOCKS):
    """Return how many time steps build_model emits for an image this wide: strided blocks round up, pools down."""
    for block, (_, pool_width) in enumerate(pool_sizes):
        width = -(-width // pool_width) if block < strided_blocks else width // pool_width
    return width


def check_time_steps(width, label_length, pool_sizes=POOL_SIZES, strided_blocks=STRIDED_BLOCKS):
    """Raise ValueError unless an image this wide gives enough time steps for labels of this length."""
    emitted = output_time_steps(width, pool_sizes, strided_blocks)
    needed = required_time_steps(label_length)
    if emitted < needed:
        shrink = math.prod(pool_width for _, pool_width in pool_sizes)
        narrowest = next(wide for wide in range(width, needed * shrink + 1)
                         if output_time_steps(wide, pool_sizes, strided_blocks) >= needed)
        raise ValueError(f"An image {width} pixels wide gives {emitted} time steps, but labels of {label_length} "
                         f"characters need {needed} (one per character and a blank between repeated ones): make "
                         f"the images at least {narrowest} pixels wide, or pool less along the width.")
    return emitted


@keras.saving.register_keras_serializable(package="ocr_helpers")
class CharsetLogits(layers.Dense):
    """The output layer: one logit per character of `charset` plus the CTC blank (class 0), saved with the charset."""

    def __init__(self, charset=CHARSET, **kwargs):
        charset = check_charset(charset)
        units = kwargs.pop("units", num_classes(charset))
        if units != num_classes(charset):
            raise ValueError(f"CharsetLogits has {units} units but the character set {charset!r} needs "
                             f"{num_classes(charset)} (one per character and the blank).")
        super().__init__(units, **kwargs)
        self.charset = charset

    def get_config(self):
        return {**super().get_config(), "charset": self.charset}


def image_input(height, width):
    """Return the model's input, uint8 images (batch, height, width), and the same scaled to 0..1 with a channel."""
    images = keras.Input((height, width), dtype="uint8", name="images")
    x = layers.Rescaling(1 / 255, name="scale_pixels")(images)
    return images, layers.Reshape((height, width, 1), name="add_channel")(x)


def conv_block(x, filters, pool_size, name, strided=False, batch_norm=True, momentum=BATCH_NORM_MOMENTUM):
    """Apply a 3x3 convolution, batch normalization and ReLU, shrinking by pool_size with a stride or a max pool."""
    strides = pool_size if strided else 1
    x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=not batch_norm, name=f"{name}_conv")(x)
    if batch_norm:
        x = layers.BatchNormalization(momentum=momentum, name=f"{name}_norm")(x)
    x = layers.ReLU(name=f"{name}_relu")(x)
    if strided:
        return x
    return layers.MaxPooling2D(pool_size, name=f"{name}_pool")(x)


def image_to_columns(x, name="columns"):
    """Turn feature maps (batch, height, width, channels) into a sequence (batch, width, height * channels)."""
    _, height, width, channels = x.shape
    x = layers.Permute((2, 1, 3), name=f"{name}_width_first")(x)
    return layers.Reshape((width, height * channels), name=name)(x)


def build_model(height=IMAGE_HEIGHT, width=IMAGE_WIDTH, charset=CHARSET, label_length=LABEL_LENGTH,
                filters=FILTERS, dense_units=DENSE_UNITS, rnn_units=RNN_UNITS, dropout=DROPOUT,
                pool_sizes=POOL_SIZES, strided_blocks=STRIDED_BLOCKS, refine_blocks=REFINE_BLOCKS, batch_norm=True,
                batch_norm_momentum=BATCH_NORM_MOMENTUM, unroll=UNROLL, name="captcha_ocr"):
    """Build the CRNN: uint8 images (batch, height, width) in, logits (batch, time_steps, 1 + len(charset)) out."""
    if refine_blocks < 0:
        raise ValueError(f"refine_blocks must be 0 or more, not {refine_blocks}.")
    if len(filters) != len(pool_sizes):
        raise ValueError(f"Give one pool size per convolution block: {len(filters)} filters, "
                         f"{len(pool_sizes)} pool sizes.")
    check_time_steps(width, label_length, pool_sizes, strided_blocks)
    images, x = image_input(height, width)
    for block, (block_filters, pool_size) in enumerate(zip(filters, pool_sizes), start=1):
        x = conv_block(x, block_filters, pool_size, name=f"block{block}", strided=block <= strided_blocks,
                       batch_norm=batch_norm, momentum=batch_norm_momentum)
    for block in range(1, refine_blocks + 1):
        x = conv_block(x, filters[-1], (1, 1), name=f"refine{block}", strided=True, batch_norm=batch_norm,
                       momentum=batch_norm_momentum)
    x = image_to_columns(x)
    x = layers.Dense(dense_units, activation="relu", name="column_features")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Bidirectional(layers.GRU(rnn_units, return_sequences=True, unroll=unroll), name="read_columns")(x)
    logits = CharsetLogits(charset, name="logits")(x)
    return keras.Model(images, logits, name=name)


def build_seed_model(height=IMAGE_HEIGHT, width=IMAGE_WIDTH, charset=CHARSET):
    """Build the seed tutorial's CNN + two BiLSTMs, fixed to read along the width, returning logits (notebook 03)."""
    images, x = image_input(height, width)
    for block, block_filters in enumerate((32, 64, 128), start=1):
        x = layers.Conv2D(block_filters, 3, padding="same", activation="relu", name=f"seed{block}_conv")(x)
        x = layers.MaxPooling2D(2, name=f"seed{block}_pool")(x)
    x = layers.Bidirectional(layers.LSTM(128, return_sequences=True), name="seed_lstm1")(image_to_columns(x))
    x = layers.Bidirectional(layers.LSTM(64, return_sequences=True), name="seed_lstm2")(x)
    return keras.Model(images, CharsetLogits(charset, name="logits")(x), name="seed_model")


def matching_class(char, old_lookup):
    """Return the old class index of `char`, or of its other case, or None."""
    for candidate in (char, char.upper(), char.lower()):
        if candidate in old_lookup:
            return old_lookup[candidate]
    return None


def model_charset(model):
    """Return the character set a model reads: the one its CharsetLogits layer carries, else the default CHARSET."""
    carriers = [layer for layer in model.layers if isinstance(layer, CharsetLogits)]
    if carriers:
        return carriers[-1].charset
    classes = model.output_shape[-1]
    if classes != NUM_CLASSES:
        raise ValueError(f"The model {model.name!r} carries no character set and has {classes} output classes, "
                         f"not the {NUM_CLASSES} of the default one ({CHARSET!r} and the blank): it was not built "
                         f"with oh.build_model. Rebuild it with oh.build_model(charset=...) and copy its weights.")
    return CHARSET


def adapt_model(model, charset):
    """Return a copy of a trained model whose output layer reads `charset`, each class started from its old one."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    features = copy.get_layer("logits").input
    logits = CharsetLogits(charset, name="logits")
    adapted = keras.Model(copy.input, logits(features), name=f"{model.name}_adapted")
    kernel, bias = (np.array(weights) for weights in logits.get_weights())
    old_kernel, old_bias = model.get_layer("logits").get_weights()
    old_lookup = char_to_index(model_charset(model))
    pairs = [(BLANK_INDEX, BLANK_INDEX)] + [(new, matching_class(char, old_lookup))
                                            for char, new in char_to_index(charset).items()]
    for new, old in pairs:
        if old is not None:
            kernel[:, new], bias[new] = old_kernel[:, old], old_bias[old]
    logits.set_weights([kernel, bias])
    return adapted
