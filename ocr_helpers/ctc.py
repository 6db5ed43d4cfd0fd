"""The CTC loss: a NumPy forward algorithm to learn from and the Keras loss that trains the model (notebook 04)."""

import keras
import numpy as np

from .greedy import collapse_path, log_softmax  # noqa: F401  (NumPy, taught here; kept there for reading)
from .labels import BLANK_INDEX, CHARSET, decode_labels, label_lengths


def extend_with_blanks(label, blank_index=BLANK_INDEX):
    """Return the label with a blank before, between and after its characters (length 2 * len(label) + 1)."""
    extended = [blank_index]
    for index in label:
        extended += [int(index), blank_index]
    return extended


def ctc_forward(label, logits, blank_index=BLANK_INDEX):
    """Return the forward table log alpha, shape (time_steps, 2 * len(label) + 1), for one label and its logits."""
    log_probs = log_softmax(logits)
    extended = extend_with_blanks(label, blank_index)
    num_steps, num_states = len(log_probs), len(extended)
    log_alpha = np.full((num_steps, num_states), -np.inf)
    log_alpha[0, 0] = log_probs[0, extended[0]]
    if num_states > 1:
        log_alpha[0, 1] = log_probs[0, extended[1]]
    for step in range(1, num_steps):
        for state in range(num_states):
            incoming = [log_alpha[step - 1, state]]
            if state >= 1:
                incoming.append(log_alpha[step - 1, state - 1])
            if state >= 2 and extended[state] != blank_index and extended[state] != extended[state - 2]:
                incoming.append(log_alpha[step - 1, state - 2])
            log_alpha[step, state] = np.logaddexp.reduce(incoming) + log_probs[step, extended[state]]
    return log_alpha


def label_log_probability(log_alpha):
    """Return log p(label) from a forward table: paths end in the last character or the last blank."""
    return float(np.logaddexp.reduce(log_alpha[-1, -2:]))


def ctc_loss_numpy(label, logits, blank_index=BLANK_INDEX):
    """Return the CTC loss (-log p(label | logits)) of one label by the forward algorithm."""
    return -label_log_probability(ctc_forward(label, logits, blank_index))


def check_logit_lengths(logit_lengths, logits):
    """Raise ValueError if a logit length exceeds the time steps the logits have (checked on concrete values only)."""
    try:
        lengths = np.asarray(logit_lengths)
    except (TypeError, NotImplementedError, ValueError):  # a symbolic tensor inside a compiled function
        return
    if lengths.size and lengths.dtype != object and int(lengths.max()) > logits.shape[1]:
        raise ValueError(f"logit_lengths go up to {int(lengths.max())} time steps but the logits have "
                         f"{logits.shape[1]}: take the lengths from the model's output (logits.shape[1]), not "
                         f"from the image size.")


def ctc_loss(labels, logits, label_lengths, logit_lengths):
    """Return one CTC loss per sample: keras.ops.ctc_loss with the blank at 0, refusing lengths past the logits."""
    logits = keras.ops.convert_to_tensor(logits, dtype="float32")
    check_logit_lengths(logit_lengths, logits)
    return keras.ops.ctc_loss(keras.ops.cast(labels, "int32"), logits, keras.ops.cast(label_lengths, "int32"),
                              keras.ops.cast(logit_lengths, "int32"), mask_index=BLANK_INDEX)


def time_steps_of(logits):
    """Return one length per sample, each the number of time steps the logits have."""
    return keras.ops.full((keras.ops.shape(logits)[0],), keras.ops.shape(logits)[1], dtype="int32")


@keras.saving.register_keras_serializable(package="ocr_helpers")
class CTCLoss(keras.losses.Loss):
    """CTC as a Keras loss: y_true is labels padded with 0, y_pred the model's logits over every time step."""

    def __init__(self, name="ctc_loss", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):  # label lengths counted from the padding (0), every time step of the logits
        label_lengths = keras.ops.sum(keras.ops.cast(keras.ops.not_equal(y_true, BLANK_INDEX), "int32"), axis=-1)
        return ctc_loss(keras.ops.cast(y_true, "int32"), y_pred, label_lengths, time_steps_of(y_pred))


def repeated_characters(encoded_labels):
    """Return, for each encoded label, how many characters equal the one before them (each needs a blank between)."""
    encoded_labels = np.asarray(encoded_labels)
    same_as_previous = encoded_labels[:, 1:] == encoded_labels[:, :-1]
    return np.sum(same_as_previous & (encoded_labels[:, 1:] != BLANK_INDEX), axis=1)


def time_steps_needed(encoded_labels):
    """Return the fewest time steps CTC needs for each encoded label: one per character, one per repeat."""
    return label_lengths(np.asarray(encoded_labels)) + repeated_characters(encoded_labels)


def check_label_fits(encoded_labels, num_steps):
    """Raise ValueError if a label needs more time steps than the model emits."""
    encoded_labels = np.asarray(encoded_labels)
    lengths, repeats = label_lengths(encoded_labels), repeated_characters(encoded_labels)
    needed = lengths + repeats
    worst = int(np.argmax(needed))
    if needed[worst] > num_steps:
        raise ValueError(f"Label number {worst} needs {int(needed[worst])} time steps ({int(lengths[worst])} "
                         f"characters and {int(repeats[worst])} repeats) but the model emits {num_steps}: build "
                         f"it for wider images or with less pooling along the width.")


def ctc_occupancy(label, logits, blank_index=BLANK_INDEX):
    """Return, for each time step and state of the extended label, the probability that a valid path passes there."""
    log_alpha = ctc_forward(label, logits, blank_index)
    log_beta = ctc_forward(label[::-1], np.asarray(logits)[::-1], blank_index)[::-1, ::-1]
    log_probs = log_softmax(logits)[:, extend_with_blanks(label, blank_index)]
    return np.exp(log_alpha + log_beta - log_probs - label_log_probability(log_alpha))


def compile_model(model, learning_rate=1e-3, optimizer=None):
    """Compile `model` with the CTC loss and `optimizer` (else Adam at `learning_rate`); labels padded with 0."""
    model.compile(optimizer=optimizer or keras.optimizers.Adam(learning_rate), loss=CTCLoss())
    model.optimizer.build(model.trainable_variables)  # made in fit's first step instead, TensorFlow traces it twice
    return model


def decode_text(logits, charset=CHARSET, **options):
    """Decode logits with keras.ops.ctc_decode(**options) and return the best reading of each sample as a string."""
    logits = keras.ops.convert_to_tensor(logits)
    decoded, _ = keras.ops.ctc_decode(logits, time_steps_of(logits), mask_index=BLANK_INDEX, **options)
    return decode_labels(np.maximum(keras.ops.convert_to_numpy(decoded[0]), BLANK_INDEX), charset)


def greedy_decode(logits, charset=CHARSET):
    """Read the best class at every time step, collapse repeats, drop blanks, and return the strings."""
    return decode_text(logits, charset, strategy="greedy")


def beam_search_decode(logits, beam_width=10, charset=CHARSET):
    """Keep the `beam_width` most probable labels while reading the steps, and return the best of each sample."""
    return decode_text(logits, charset, strategy="beam_search", beam_width=beam_width, top_paths=1)
