"""The tiny model that the tests of oh.train's bookkeeping train: tests/unit/test_training.py and tests/faults."""

import keras

import ocr_helpers as oh


def tiny_model():
    """The course's model at its smallest and without its GRU: these tests check oh.train's bookkeeping, and tracing
    the GRU's gradient is most of the seconds a small oh.train takes on TensorFlow (the notebooks train the GRU)."""
    keras.utils.set_random_seed(0)
    images, x = oh.model.image_input(oh.IMAGE_HEIGHT, oh.IMAGE_WIDTH)
    for block, (filters, pool_size) in enumerate(zip((4, 8, 8), oh.model.POOL_SIZES), start=1):
        x = oh.model.conv_block(x, filters, pool_size, name=f"block{block}", strided=True)
    x = keras.layers.Dense(8, activation="relu", name="column_features")(oh.model.image_to_columns(x))
    x = keras.layers.Dropout(oh.model.DROPOUT, name="dropout")(x)
    return keras.Model(images, oh.CharsetLogits(name="logits")(x), name="tiny")
