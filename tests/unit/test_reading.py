import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import collections

import keras
import numpy as np
import pytest

import ocr_helpers as oh


SPELLED = "AB1"  # the spelling model's characters; class 0 is the blank


def spelling_model():
    """A reader of 60x160 images whose time steps are the image columns: a column with a white pixel in row r
    reads SPELLED[r], a column without one the blank."""
    images = keras.Input((60, 160), dtype="uint8")
    columns = keras.layers.Permute((2, 1))(keras.layers.Rescaling(1 / 255)(images))  # (160 time steps, 60 rows)
    output = oh.CharsetLogits(SPELLED, name="logits")
    model = keras.Model(images, output(columns))
    kernel = np.zeros((60, 1 + len(SPELLED)), np.float32)
    kernel[np.arange(len(SPELLED)), np.arange(1, 1 + len(SPELLED))] = 40.0  # a white pixel in row r: character r
    output.set_weights([kernel, np.array([20.0] + [0.0] * len(SPELLED), np.float32)])  # else the blank, all but sure
    return model


def spelled_image(text):
    """A 60x160 uint8 image the spelling model reads as `text`: each character three columns wide, gaps between."""
    image = np.zeros((60, 160), np.uint8)
    for position, char in enumerate(text):
        image[SPELLED.index(char), 10 + 6 * position:13 + 6 * position] = 255
    return image


@pytest.fixture(scope="module")
def model():
    return spelling_model()


def test_edit_distance_and_character_error_rate():
    assert oh.reading.edit_costs("ABCDE", "ABCDE")[-1, -1] == 0
    assert oh.reading.edit_costs("ABCDE", "ABXDE")[-1, -1] == 1
    assert oh.reading.edit_costs("ABCDE", "ABDE")[-1, -1] == 1
    assert oh.reading.edit_costs("ABCDE", "")[-1, -1] == 5
    assert oh.reading.edit_costs("AB", "BA")[-1, -1] == 2
    assert oh.character_error_rate(["ABCDE", "12345"], ["ABCDE", "1234"]) == pytest.approx(0.1)
    assert oh.sequence_accuracy(["ABCDE", "12345"], ["ABCDE", "1234"]) == 0.5
    with pytest.raises(ValueError, match="one prediction per label"):
        oh.sequence_accuracy(["ABCDE"], [])


def test_confusions_pair_each_character_along_the_cheapest_edit():
    assert oh.reading.align("AB0DE", "ABODE") == [("A", "A"), ("B", "B"), ("0", "O"), ("D", "D"), ("E", "E")]
    assert oh.reading.align("ABCDE", "ABDE") == [("A", "A"), ("B", "B"), ("C", ""), ("D", "D"), ("E", "E")]
    counts = oh.confusions(["AB0DE", "0O000", "ABCDE"], ["ABODE", "0000", "ABCDE"])
    assert counts == collections.Counter({("0", "O"): 1, ("O", ""): 1})
    labels = ["O0O0A", "ABCDE"]
    counts = oh.confusions(labels, ["000OA", "ABCOE"])  # O read as 0 twice, 0 read as O once, D read as O
    assert oh.pair_mistakes(counts, labels, ("0", "O")) == (3, 4)
    assert oh.pair_mistakes(counts, labels, ("D", "O")) == (1, 3)


def test_beam_search_finds_the_label_greedy_decoding_misses():
    # Each step: blank 0.6, A 0.4. Greedy reads blank twice (""), p = 0.36;
    # the paths AA, A-, -A all spell "A": p = 0.16 + 0.24 + 0.24 = 0.64.
    logits = np.log(np.array([[[0.6, 0.4], [0.6, 0.4]]], dtype=np.float32))
    assert oh.greedy_decode(logits, charset="A") == [""]
    assert oh.beam_search_decode(logits, beam_width=4, charset="A") == ["A"]


def test_predict_text_reads_a_batch_and_one_image(model):
    texts = ["AB1", "1BA", "AAB", "", "B11A"]
    images = np.stack([spelled_image(text) for text in texts])
    logits = oh.predict_logits(model, images, batch_size=2)
    assert logits.shape == (5, 160, 4)
    assert list(logits[0, 10]) == pytest.approx([20, 40, 0, 0]), "column 10 of 'AB1' is an A"
    assert oh.predict_text(model, images, batch_size=2) == texts
    assert oh.predict_text(model, images[2:3]) == ["AAB"]
    assert oh.predict_text(model, images, beam_width=3) == texts, "the logits leave no doubt, so beams agree"
    assert oh.predict_text(model, images, charset="XYZ") == ["XYZ", "ZYX", "XXY", "", "YZZX"], "a charset given wins"


def test_predict_text_passes_the_beam_width_and_reads_the_models_own_charset():
    # Every step: blank 0.6, "A" 0.4, so greedy decoding reads nothing, but many paths spell "A"s.
    model = oh.build_model(charset="A", filters=(4, 8, 8), dense_units=8, rnn_units=4)
    logits = model.get_layer("logits")
    logits.kernel.assign(np.zeros(logits.kernel.shape, np.float32))
    logits.bias.assign(np.log([0.6, 0.4]).astype(np.float32))
    images = np.zeros((2, 60, 160), np.uint8)
    assert oh.predict_text(model, images) == ["", ""]
    beam = oh.predict_text(model, images, beam_width=5)
    assert beam[0] == beam[1] and beam[0] and set(beam[0]) == {"A"}


def test_predict_text_refuses_wrong_size_and_dtype(model):
    with pytest.raises(ValueError, match=r"uint8 images of shape \(N, 60, 160\).*float64 of shape \(2, 60, 160\)"):
        oh.predict_text(model, np.zeros((2, 60, 160)))
    with pytest.raises(ValueError, match=r"\(N, 60, 160\).*shape \(1, 64, 128\)"):
        oh.predict_text(model, np.zeros((1, 64, 128), np.uint8))
    with pytest.raises(ValueError, match=r"shape \(60, 160\).*image\[None\]"):
        oh.predict_text(model, np.zeros((60, 160), np.uint8))
    with pytest.raises(ValueError, match=r"\(N, 60, 160\).*\(2, 60, 160, 3\): these have 3 channels"):
        oh.predict_text(model, np.zeros((2, 60, 160, 3), np.uint8))

