"""Helpers for the CAPTCHA OCR course; modules that import matplotlib or Keras load on first use."""

import importlib

from .data import (IMAGE_HEIGHT, IMAGE_WIDTH, dataset_fingerprint, dataset_info, draw_sample, generate_dataset,
                   load_dataset, load_or_generate_dataset, save_dataset)
from .files import atomic_write
from .labels import (BLANK_INDEX, CHARSET, LABEL_LENGTH, char_to_index, decode_labels, encode_labels, index_to_char,
                     label_lengths, num_classes)

__version__ = "0.1.0"

_LAZY_NAMES = {
    **dict.fromkeys(["plot_samples", "plot_predictions", "plot_step_probabilities"], "plots"),
    **dict.fromkeys(["CharsetLogits", "NUM_CLASSES", "adapt_model", "model_charset", "build_model", "build_seed_model",
                     "output_time_steps", "required_time_steps"], "model"),
    **dict.fromkeys(["CTCLoss", "check_label_fits", "collapse_path", "compile_model", "ctc_forward", "ctc_loss",
                     "ctc_loss_numpy", "ctc_occupancy", "extend_with_blanks", "greedy_decode", "log_softmax",
                     "beam_search_decode"], "ctc"),
    **dict.fromkeys(["ArrayBatches", "array_dataset", "augment_batch", "fit_input",
                     "stream_batches", "stream_dataset"], "pipeline"),
    **dict.fromkeys(["character_error_rate", "confusions", "pair_mistakes", "predict_logits", "predict_text",
                     "sequence_accuracy"], "reading"),
    **dict.fromkeys(["MoveIntoPlace", "ReadingAccuracy", "RecomputeBatchStatistics", "RepeatableEpochs",
                     "SwapAveragedWeights", "load_or_train_reader", "reader_optimizer", "reading_rank", "run_settings",
                     "train", "training_callbacks", "warmup_cosine_schedule"], "training"),
    **dict.fromkeys(["load_model", "save_model"], "saving"),
    **dict.fromkeys(["OnnxReader", "export_onnx"], "exporting"),
    **dict.fromkeys(["emitting_steps", "greedy_decode_numpy"], "greedy"),
    **dict.fromkeys(["draw_real_looking", "export_folder", "fit_image", "load_folder",
                     "load_or_draw_practice", "split_labeled"], "folders"),
    **dict.fromkeys(["clear_training_folder", "read_log", "start_or_continue"], "resume"),
    **dict.fromkeys(["batches_per_second", "compare_readers", "compare_speeds", "fit_steps_per_second"], "speed"),
}


def __getattr__(name):
    if name in set(_LAZY_NAMES.values()):
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(f".{_LAZY_NAMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_NAMES) | set(_LAZY_NAMES.values()))
