"""Helpers for the CAPTCHA OCR course: each piece is taught in the notebook its module names.

Modules that import matplotlib or Keras load on first use, so that the worker
processes of `generate_dataset` start in a fraction of a second.
"""

import importlib

from .data import (IMAGE_HEIGHT, IMAGE_WIDTH, dataset_fingerprint, dataset_info, draw_sample, generate_dataset,
                   load_dataset, load_or_generate_dataset, save_dataset)
from .files import atomic_write
from .labels import (BLANK_INDEX, CHARSET, LABEL_LENGTH, char_to_index, check_charset, decode_labels, encode_labels,
                     index_to_char, label_lengths, num_classes)

__version__ = "0.1.0"

_LAZY_NAMES = {
    **dict.fromkeys(["plot_samples", "plot_architecture", "plot_columns", "plot_ctc_lattice", "plot_history",
                     "plot_predictions", "plot_confusions", "plot_step_probabilities"], "plots"),
    **dict.fromkeys(["CharsetLogits", "NUM_CLASSES", "adapt_model", "model_charset", "build_model", "build_seed_model", "check_time_steps", "output_time_steps",
                     "required_time_steps"], "model"),
    **dict.fromkeys(["CTCLoss", "check_label_fits", "collapse_path", "compile_model", "ctc_forward", "ctc_loss",
                     "ctc_loss_numpy", "ctc_occupancy", "extend_with_blanks", "greedy_decode", "log_softmax",
                     "beam_search_decode", "decode_text", "time_steps_needed"], "ctc"),
    **dict.fromkeys(["ArrayBatches", "StreamBatches", "array_dataset", "augment_batch",
                     "check_images", "fit_input", "stream_batches", "stream_dataset"], "pipeline"),
    **dict.fromkeys(["align", "character_error_rate", "confusions", "edit_distance", "pair_mistakes",
                     "predict_logits", "predict_text", "sequence_accuracy"], "reading"),
    **dict.fromkeys(["CLIPNORM", "MoveIntoPlace", "ReadingAccuracy", "RecomputeBatchStatistics", "RepeatableEpochs",
                     "load_or_train_reader", "reader_optimizer", "reseed_dropout", "train", "training_callbacks",
                     "warmup_cosine_schedule"], "training"),
    **dict.fromkeys(["load_model", "save_model"], "saving"),
    **dict.fromkeys(["OnnxReader", "export_onnx"], "exporting"),
    **dict.fromkeys(["image_paths", "load_reader", "read_files", "reading_fields", "write_readings_csv"],
                    "files_reading"),
    **dict.fromkeys(["confidences", "greedy_texts"], "greedy"),
    **dict.fromkeys(["LabeledFolder", "add_line_and_blur", "draw_real_looking", "export_folder", "fit_image",
                     "load_folder", "load_or_draw_practice", "read_label_csv", "split_labeled"], "folders"),
    **dict.fromkeys(["BEST_NAME", "LOG_NAME", "STAGED_BEST_NAME", "STATE_NAME", "check_training_folder",
                     "clear_training_folder", "epochs_done", "has_backup", "read_log", "start_or_continue"], "resume"),
    **dict.fromkeys(["batch_rate", "compare_readers", "compare_speeds", "fit_rate", "inference_speed",
                     "reading_speed", "training_speed"],
                    "speed"),
}


def __getattr__(name):
    if name in set(_LAZY_NAMES.values()):
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(f".{_LAZY_NAMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_NAMES) | set(_LAZY_NAMES.values()))
