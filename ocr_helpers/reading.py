"""Read CAPTCHAs with a trained model and score the readings (taught in notebook 06)."""

import collections

import numpy as np

from .ctc import beam_search_decode, greedy_decode
from .greedy import reader_charset
from .pipeline import check_images


def predict_logits(model, images, batch_size=256):
    """Return the model's logits, shape (N, time_steps, classes), for uint8 images (N, height, width)."""
    images = check_images(images, *model.input_shape[1:3])
    chunks = [model.predict_on_batch(images[start:start + batch_size]) for start in range(0, len(images), batch_size)]
    return np.concatenate([np.asarray(chunk) for chunk in chunks])


def predict_text(model, images, batch_size=256, beam_width=None, charset=None):
    """Read uint8 images (N, height, width) and return one string per image, greedily or by beam search."""
    charset = reader_charset(model) if charset is None else charset
    logits = predict_logits(model, images, batch_size)
    if beam_width is None:
        return greedy_decode(logits, charset)
    return beam_search_decode(logits, beam_width, charset)


def sequence_accuracy(labels, predictions):
    """Return the share of predictions that equal their label exactly, every character right."""
    labels, predictions = check_pairs(labels, predictions)
    return float(np.mean([label == prediction for label, prediction in zip(labels, predictions)]))


def check_pairs(labels, predictions):
    """Return labels and predictions as lists after checking there is one prediction per label."""
    labels, predictions = list(labels), list(predictions)
    if len(labels) != len(predictions) or not labels:
        raise ValueError(f"Give one prediction per label (and at least one): got {len(labels)} labels and "
                         f"{len(predictions)} predictions.")
    return labels, predictions


def edit_costs(label, prediction):
    """Return the table whose cell (i, j) is the edit distance between label[:i] and prediction[:j]."""
    cost = np.zeros((len(label) + 1, len(prediction) + 1), dtype=int)
    cost[:, 0], cost[0, :] = np.arange(len(label) + 1), np.arange(len(prediction) + 1)
    for row in range(1, len(label) + 1):
        for column in range(1, len(prediction) + 1):
            cost[row, column] = min(cost[row - 1, column] + 1, cost[row, column - 1] + 1,
                                    cost[row - 1, column - 1] + (label[row - 1] != prediction[column - 1]))
    return cost


def character_error_rate(labels, predictions):
    """Return the edit distance summed over all pairs, divided by the number of label characters."""
    labels, predictions = check_pairs(labels, predictions)
    errors = sum(int(edit_costs(label, prediction)[-1, -1]) for label, prediction in zip(labels, predictions))
    return errors / max(1, sum(len(label) for label in labels))


def align(label, prediction):
    """Pair the characters of `label` and `prediction` along a cheapest edit path; a missing side is ''."""
    cost = edit_costs(label, prediction)
    pairs, row, column = [], len(label), len(prediction)
    while row or column:
        diagonal = row and column and cost[row - 1, column - 1] + (label[row - 1] != prediction[column - 1])
        if row and column and cost[row, column] == diagonal:
            pairs.append((label[row - 1], prediction[column - 1]))
            row, column = row - 1, column - 1
        elif row and cost[row, column] == cost[row - 1, column] + 1:
            pairs.append((label[row - 1], ""))
            row -= 1
        else:
            pairs.append(("", prediction[column - 1]))
            column -= 1
    return pairs[::-1]


def confusions(labels, predictions):
    """Count (true character, read character) mistakes over all pairs; '' marks a dropped or an extra character."""
    labels, predictions = check_pairs(labels, predictions)
    counts = collections.Counter()
    for label, prediction in zip(labels, predictions):
        counts.update(pair for pair in align(label, prediction) if pair[0] != pair[1])
    return counts


def pair_mistakes(counts, labels, pair=("0", "O")):
    """Return the mistakes in `counts` that swap the two characters of `pair`, and how often they occur in `labels`."""
    first, second = pair
    occurrences = sum(label.count(first) + label.count(second) for label in labels)
    return counts[(first, second)] + counts[(second, first)], occurrences
