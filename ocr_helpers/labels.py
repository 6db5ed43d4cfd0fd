"""Turn label strings into integer sequences for CTC and back (taught in notebook 02)."""

import numpy as np

CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LABEL_LENGTH = 5
BLANK_INDEX = 0


def check_charset(charset):
    """Return `charset` as a string after checking it is non-empty and has no repeated character."""
    charset = "".join(charset)
    if not charset:
        raise ValueError("The character set is empty: give at least one character, e.g. charset='0123456789'.")
    repeated = sorted({char for char in charset if charset.count(char) > 1})
    if repeated:
        raise ValueError(f"The character set repeats {repeated!r}: each character must appear once.")
    return charset


def char_to_index(charset=CHARSET):
    """Map each character to its index, starting at 1 because 0 is the CTC blank."""
    return {char: index for index, char in enumerate(check_charset(charset), start=BLANK_INDEX + 1)}


def index_to_char(charset=CHARSET):
    """Map each index from 1 back to its character (the inverse of `char_to_index`)."""
    return {index: char for char, index in char_to_index(charset).items()}


def num_classes(charset=CHARSET):
    """Return how many classes the model predicts: every character plus the blank."""
    return len(check_charset(charset)) + 1


def encode_labels(labels, charset=CHARSET, max_length=LABEL_LENGTH):
    """Encode label strings as an int32 array of shape (N, max_length), padded with 0."""
    if isinstance(labels, str):
        raise ValueError(f"encode_labels expects a list of labels, got the single string {labels!r}: pass [{labels!r}].")
    lookup = char_to_index(charset)
    labels = list(labels)
    encoded = np.zeros((len(labels), max_length), dtype=np.int32)
    for row, label in enumerate(labels):
        if not label:
            raise ValueError(f"Label number {row} is empty: every image needs at least one character.")
        if len(label) > max_length:
            raise ValueError(f"Label {label!r} (number {row}) has {len(label)} characters but max_length is "
                             f"{max_length}: raise max_length, and build the model to emit enough time steps for it.")
        for column, char in enumerate(label):
            if char not in lookup:
                raise ValueError(f"Label {label!r} (number {row}) has the character {char!r}, which is not in the "
                                 f"character set {''.join(lookup)!r}: fix the label or add {char!r} to charset.")
            encoded[row, column] = lookup[char]
    return encoded


def decode_labels(encoded, charset=CHARSET):
    """Decode an integer array of shape (N, max_length) back to strings, dropping 0 (blank and padding)."""
    encoded = np.asarray(encoded)
    if encoded.ndim != 2:
        raise ValueError(f"decode_labels expects a batch of shape (N, max_length), got shape {encoded.shape}: "
                         f"for one label pass encoded[None].")
    lookup = index_to_char(charset)
    bad = encoded[(encoded < 0) | (encoded > len(lookup))]
    if bad.size:
        raise ValueError(f"Index {int(bad[0])} is outside 0..{len(lookup)}: was this array encoded with another "
                         f"character set?")
    return ["".join(lookup[index] for index in row if index != BLANK_INDEX) for row in encoded.tolist()]


def label_lengths(encoded):
    """Return the number of characters in each encoded label (its entries that are not padding)."""
    return np.count_nonzero(np.asarray(encoded) != BLANK_INDEX, axis=-1).astype(np.int32)


def check_count(count, name="batch_size"):
    """Raise ValueError unless `count` (a batch size, a number of samples...) is a positive whole number."""
    if not isinstance(count, (int, np.integer)) or count <= 0:
        raise ValueError(f"{name} must be a positive whole number, got {count!r}.")
