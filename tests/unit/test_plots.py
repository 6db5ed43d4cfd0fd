import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib.pyplot as plt
import numpy as np
import pytest

import ocr_helpers as oh


def test_plot_predictions_colours_each_character_by_whether_it_is_right():
    images = np.zeros((2, 60, 160), dtype=np.uint8)
    figure = oh.plot_predictions(images, ["AB0DE", "12345"], ["ABODE", "12345"], num_rows=1, num_columns=2)
    wrong_axis, right_axis = figure.axes
    colours = {text.get_text(): text.get_color() for text in wrong_axis.texts if len(text.get_text()) == 1}
    assert colours["O"] == "#d62728" and colours["A"] == "#2ca02c"
    assert any(text.get_text() == "label AB0DE" for text in wrong_axis.texts)
    assert not any(text.get_text().startswith("label") for text in right_axis.texts)
    plt.close(figure)
    with pytest.raises(ValueError, match="no images"):
        oh.plot_predictions(images[:0], [], [])


def test_plot_step_probabilities_shows_the_blank_and_the_characters_that_fire():
    probabilities = np.zeros((20, 37))
    probabilities[:, 0] = 1.0
    probabilities[3] = 0
    probabilities[3, oh.char_to_index()["7"]] = 1.0
    figure = oh.plot_step_probabilities(np.zeros((60, 160), np.uint8), probabilities, oh.CHARSET)
    image_axis, probability_axis = figure.axes[:2]
    assert [label.get_text() for label in probability_axis.get_yticklabels()] == ["blank", "7"]
    assert [text.get_text() for text in image_axis.texts].count("7") == 1
    plt.close(figure)


def test_plot_step_probabilities_puts_every_step_under_the_columns_it_reads():
    probabilities = np.full((20, 37), 0.1)
    figure = oh.plot_step_probabilities(np.zeros((60, 160), np.uint8), probabilities, oh.CHARSET)
    figure.canvas.draw()  # apply the axes' aspect ratios, as showing or saving the figure does
    image_axis, probability_axis = figure.axes[:2]
    image_box, probability_box = image_axis.get_position(), probability_axis.get_position()
    assert image_box.x0 == pytest.approx(probability_box.x0) and image_box.x1 == pytest.approx(probability_box.x1)
    assert image_axis.images[0].get_extent()[:2] == probability_axis.images[0].get_extent()[:2] == [0, 160]
    image_inches = image_box.height * figure.get_figheight()
    assert image_inches / (image_box.width * figure.get_figwidth()) == pytest.approx(60 / 160, rel=0.02)
    row_inches = probability_box.height * figure.get_figheight() / 37
    assert row_inches >= 0.2, "each class's row tall enough for its label"
    plt.close(figure)

