"""Greedy CTC decoding in NumPy alone, so that reading an ONNX file needs no Keras (`run.py read`)."""

import numpy as np

from .labels import BLANK_INDEX, CHARSET, index_to_char


def emitting_steps(path, blank_index=BLANK_INDEX):
    """Return the steps at which a path of class indices starts each character it spells."""
    return [step for step, index in enumerate(path) if index != blank_index and (step == 0 or index != path[step - 1])]


def collapse_path(path, blank_index=BLANK_INDEX):
    """Turn one path of class indices into the label it spells: merge repeats, then drop blanks."""
    return [path[step] for step in emitting_steps(path, blank_index)]


def log_softmax(logits):
    """Return log-probabilities over the last axis, computed stably."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def greedy_decode_numpy(logits, charset=CHARSET):
    """Return the strings `greedy_decode` reads (best class a step, repeats merged, blanks dropped), in NumPy."""
    lookup = index_to_char(charset)
    return ["".join(lookup[index] for index in collapse_path(path.tolist()))
            for path in np.asarray(logits).argmax(axis=-1)]


def reader_charset(reader):
    """Return the characters a reader reads: its own `charset` (an oh.OnnxReader's), else its output layer's."""
    charset = getattr(reader, "charset", None)
    if charset is None:  # a Keras model: Keras is loaded already
        from .model import model_charset

        charset = model_charset(reader)
    return charset
