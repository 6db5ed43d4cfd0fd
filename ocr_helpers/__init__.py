"""Helpers for the CAPTCHA OCR course: each piece is taught in the notebook its module names.

Modules that import matplotlib (and, later, Keras) load on first use, so that the worker
processes of `generate_dataset` start in a fraction of a second.
"""

import importlib

from .data import (IMAGE_HEIGHT, IMAGE_WIDTH, dataset_fingerprint, dataset_info, draw_sample, generate_dataset,
                   load_dataset, load_or_generate_dataset, save_dataset)
from .files import atomic_write
from .labels import (BLANK_INDEX, CHARSET, LABEL_LENGTH, char_to_index, check_charset, decode_labels, encode_labels,
                     index_to_char, label_lengths, num_classes)

__version__ = "0.1.0"

_LAZY_NAMES = {"plot_samples": "plots"}


def __getattr__(name):
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(f".{_LAZY_NAMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_NAMES))
