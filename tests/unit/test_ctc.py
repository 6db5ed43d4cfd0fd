import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import itertools

import keras
import numpy as np
import pytest

import ocr_helpers as oh


def brute_force_loss(label, logits):
    """-log of the summed probability of every path that collapses to the label."""
    probs = np.exp(oh.log_softmax(logits))
    total = sum(np.prod(probs[np.arange(len(path)), path])
                for path in itertools.product(range(probs.shape[1]), repeat=len(probs))
                if oh.collapse_path(list(path)) == list(label))
    return -np.log(total)


HAND_MADE = {  # label, logits (time steps x classes, blank at 0)
    "two different characters": ([1, 2], [[2.0, 0.5, -1.0], [0.1, 1.5, 0.3], [0.0, -0.5, 2.0], [1.0, 0.0, 0.2]]),
    "repeated character": ([1, 1], [[0.3, 1.2, -0.4], [1.1, 0.2, 0.0], [-0.2, 1.7, 0.5], [0.4, 0.9, -1.0]]),
    "blank-only path": ([], [[1.5, 0.1, -0.3], [0.7, 0.2, 0.9], [2.0, -1.0, 0.0]]),
    "tight fit": ([2, 1, 2], [[0.0, 0.5, 1.0], [0.2, 1.0, 0.1], [-0.3, 0.0, 0.8]]),
}


@pytest.mark.parametrize("case", HAND_MADE, ids=list(HAND_MADE))
def test_numpy_forward_algorithm_matches_brute_force_and_keras(case):
    label, logits = HAND_MADE[case]
    logits = np.array(logits, dtype=np.float32)
    numpy_loss = oh.ctc_loss_numpy(label, logits)
    padded = np.array([label + [0] * (3 - len(label))], dtype=np.int32)
    keras_loss = float(keras.ops.ctc_loss(padded, logits[None], [len(label)], [len(logits)], mask_index=0)[0])
    package_loss = float(oh.ctc_loss(padded, logits[None], [len(label)], [len(logits)])[0])
    assert numpy_loss == pytest.approx(brute_force_loss(label, logits), abs=1e-9)
    assert numpy_loss == pytest.approx(keras_loss, abs=1e-4)
    assert package_loss == pytest.approx(keras_loss, abs=1e-4)


def loss_gradient(labels, logits, lengths, steps):
    """Return the gradient of the summed oh.ctc_loss with respect to the logits, on whichever backend runs."""
    if keras.backend.backend() == "jax":
        import jax

        return np.asarray(jax.grad(lambda x: oh.ctc_loss(labels, x, lengths, steps).sum())(logits))
    import tensorflow as tf

    variable = tf.Variable(logits)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(oh.ctc_loss(labels, variable, lengths, steps))
    return tape.gradient(total, variable).numpy()


def expected_gradient(label, logits, steps):
    """Return softmax minus the CTC occupancy of each class: the gradient of the loss over the first `steps`."""
    gradient = np.zeros_like(logits, dtype=np.float64)
    occupancy = oh.ctc_occupancy(label, logits[:steps])
    gradient[:steps] = np.exp(oh.log_softmax(logits[:steps]))
    for state, index in enumerate(oh.extend_with_blanks(label)):
        gradient[:steps, index] -= occupancy[:, state]
    return gradient


def test_package_ctc_loss_matches_the_forward_algorithm_in_value_and_gradient():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(5, 12, 6)).astype("float32") * 2
    labels = np.array([[1, 2, 3, 4], [5, 5, 5, 0], [0, 0, 0, 0], [2, 0, 0, 0], [1, 2, 1, 2]], dtype=np.int32)
    lengths, steps = np.array([4, 3, 0, 1, 4]), np.array([12, 12, 7, 12, 9])
    samples = list(zip(labels, logits, lengths, steps))
    losses = keras.ops.convert_to_numpy(oh.ctc_loss(labels, logits, lengths, steps))
    np.testing.assert_allclose(losses, [oh.ctc_loss_numpy(label[:length], sample[:step])
                                        for label, sample, length, step in samples], rtol=1e-4)
    gradient = loss_gradient(labels, logits, lengths, steps)
    for index, (label, sample, length, step) in enumerate(samples):
        np.testing.assert_allclose(gradient[index], expected_gradient(list(label[:length]), sample, step), atol=1e-4)


def test_ctc_loss_ignores_labels_beyond_their_length():
    logits = np.random.default_rng(4).normal(size=(1, 8, 5)).astype("float32")
    a = float(oh.ctc_loss([[1, 2, 0]], logits, [2], [8])[0])
    b = float(oh.ctc_loss([[1, 2, 4]], logits, [2], [8])[0])
    assert a == pytest.approx(b)


def test_ctc_loss_class_takes_lengths_from_padding_and_time_axis():
    logits = np.random.default_rng(5).normal(size=(3, 10, 37)).astype("float32")
    labels = oh.encode_labels(["AB", "A12", "ZZZZZ"])
    expected = np.mean(oh.ctc_loss(labels, logits, oh.label_lengths(labels), [10, 10, 10]))
    assert float(oh.CTCLoss()(labels, logits)) == pytest.approx(float(expected), rel=1e-5)


def test_collapse_and_extend():
    assert oh.collapse_path([0, 3, 3, 0, 3, 5, 5, 0]) == [3, 3, 5]
    assert oh.collapse_path([0, 0, 0]) == []
    assert oh.emitting_steps([0, 3, 3, 0, 3, 5, 5, 0]) == [1, 4, 5], "where each character of 3, 3, 5 starts"
    assert oh.emitting_steps([2, 2, 0]) == [0]
    assert oh.extend_with_blanks([4, 4]) == [0, 4, 0, 4, 0]


def test_occupancy_sums_to_one_at_every_step_and_respects_the_lattice():
    logits = np.random.default_rng(6).normal(size=(7, 4)).astype("float32")
    occupancy = oh.ctc_occupancy([1, 2, 2], logits)
    assert occupancy.shape == (7, 7)
    np.testing.assert_allclose(occupancy.sum(axis=1), 1.0, rtol=1e-9)
    assert occupancy[0, 2:].max() == 0  # a path starts in the first blank or the first character
    assert occupancy[-1, :-2].max() == 0  # and ends in the last character or the last blank


def test_check_label_fits_counts_repeats():
    oh.check_label_fits(oh.encode_labels(["ABCDE", "AABCD"]), 6)
    with pytest.raises(ValueError, match=r"Label number 1 needs 9 time steps \(5 characters and 4 repeats\)"):
        oh.check_label_fits(oh.encode_labels(["ABCDE", "AAAAA"]), 8)


def test_greedy_decode_collapses_the_best_path():
    logits = np.full((2, 8, 37), -5.0, dtype=np.float32)
    logits[:, :, 0] = 5.0
    for step, char in [(1, "A"), (2, "A"), (4, "A"), (6, "7")]:
        logits[0, step, oh.char_to_index()[char]] = 9.0
    assert oh.greedy_decode(logits) == ["AA7", ""]


def test_ctc_loss_refuses_logit_lengths_longer_than_the_logits():
    logits = np.zeros((1, 7, 37), dtype=np.float32)
    with pytest.raises(ValueError, match="logit_lengths go up to 40 time steps but the logits have 7"):
        oh.ctc_loss(oh.encode_labels(["7K3PX"]), logits, [5], [40])


def test_greedy_texts_in_numpy_read_what_keras_ctc_decode_reads():
    logits = np.random.default_rng(3).normal(size=(64, 20, 5)).astype(np.float32)
    logits[:, ::3, 0] += 2.0  # blanks between characters, as a trained model emits them
    texts = oh.greedy_decode_numpy(logits, "AB1x")
    assert texts == oh.greedy_decode(logits, "AB1x")
    assert len(set(texts)) > 30 and all(set(text) <= set("AB1x") for text in texts)
