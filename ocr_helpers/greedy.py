"""Greedy CTC decoding in NumPy alone, for readers run without Keras (an ONNX file in `run.py read`).

`collapse_path` and `log_softmax` are taught with the CTC loss in notebook 04 and live here so that reading
needs no Keras; `greedy_texts` gives the strings of `keras.ops.ctc_decode(..., strategy="greedy")`, as a
test checks.
"""

import numpy as np

from .labels import BLANK_INDEX, CHARSET, index_to_char


def collapse_path(path, blank_index=BLANK_INDEX):
    """Turn one path of class indices into the label it spells: merge repeats, then drop blanks."""
    merged = [index for step, index in enumerate(path) if step == 0 or index != path[step - 1]]
    return [index for index in merged if index != blank_index]


def log_softmax(logits):
    """Return log-probabilities over the last axis, computed stably."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def greedy_texts(logits, charset=CHARSET):
    """Read the best class at every time step, collapse repeats, drop blanks: one string per sample, in NumPy."""
    lookup = index_to_char(charset)
    return ["".join(lookup[index] for index in collapse_path(path.tolist()))
            for path in np.asarray(logits).argmax(axis=-1)]


def confidences(logits):
    """Return, per image, the product over time steps of the greedy path's largest softmax probability (0..1).

    It is the probability the model gives the single path that greedy decoding reads, so it is at most the
    probability of the text, and low when any step is unsure: a number to threshold on (e.g. check by hand
    every reading under 0.9).
    """
    return np.exp(log_softmax(logits).max(axis=-1).sum(axis=-1))
