import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import collections
import time

import keras
import numpy as np
import pytest

import ocr_helpers as oh


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return oh.build_model(filters=(4, 8, 8), dense_units=8, rnn_units=4)


def test_edit_distance_and_character_error_rate():
    assert oh.edit_distance("ABCDE", "ABCDE") == 0
    assert oh.edit_distance("ABCDE", "ABXDE") == 1
    assert oh.edit_distance("ABCDE", "ABDE") == 1
    assert oh.edit_distance("ABCDE", "") == 5
    assert oh.edit_distance("AB", "BA") == 2
    assert oh.character_error_rate(["ABCDE", "12345"], ["ABCDE", "1234"]) == pytest.approx(0.1)
    assert oh.sequence_accuracy(["ABCDE", "12345"], ["ABCDE", "1234"]) == 0.5
    with pytest.raises(ValueError, match="one prediction per label"):
        oh.sequence_accuracy(["ABCDE"], [])


def test_confusions_pair_each_character_along_the_cheapest_edit():
    assert oh.align("AB0DE", "ABODE") == [("A", "A"), ("B", "B"), ("0", "O"), ("D", "D"), ("E", "E")]
    assert oh.align("ABCDE", "ABDE") == [("A", "A"), ("B", "B"), ("C", ""), ("D", "D"), ("E", "E")]
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
    images, _ = oh.generate_dataset(5, seed=2, num_workers=1, progress=False)
    texts = oh.predict_text(model, images, batch_size=2)
    assert len(texts) == 5 and all(isinstance(text, str) and len(text) <= model.output_shape[1] for text in texts)
    assert set("".join(texts)) <= set(oh.CHARSET)
    assert oh.predict_text(model, images[3:4]) == texts[3:4]
    assert texts == oh.greedy_decode(model.predict(images, verbose=0))


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



def test_reading_speed_times_batches_and_single_images(monkeypatch):
    calls = []

    def fake_predict_text(model, images):
        calls.append(len(images))
        time.sleep(0.01)
        return [""] * len(images)

    monkeypatch.setattr(oh.reading, "predict_text", fake_predict_text)
    batched, single = oh.reading_speed(None, np.zeros((40, 60, 160), np.uint8), num_rounds=2, num_single_images=3)
    assert calls == [1, 40, 40, 1, 1, 1], "a warm-up, the rounds on every image, then one image at a time"
    assert 1_000 < batched <= 4_000 and 0.01 <= single < 0.05
