import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib.pyplot as plt
import numpy as np
import pytest

import ocr_helpers as oh


def test_plot_columns_draws_one_band_per_time_step():
    image = np.zeros((60, 160), dtype=np.uint8)
    for axis_name, steps in (("width", 20), ("height", 7)):
        figure = oh.plot_columns(image, steps, time_axis=axis_name)
        assert len(figure.axes[0].patches) == steps
        plt.close(figure)
    with pytest.raises(ValueError, match="time_axis"):
        oh.plot_columns(image, 3, time_axis="diagonal")


def test_plot_architecture_has_a_box_per_block_with_its_shape():
    model = oh.build_model()
    groups = oh.plots.layer_groups(model)
    assert [name for name, _ in groups][:5] == ["scale_pixels", "add_channel", "block1", "block2", "block3"]
    figure = oh.plot_architecture(model)
    texts = [text.get_text() for text in figure.axes[0].texts]
    assert "(40, 37)" in texts and "(60, 160)" in texts
    assert len(figure.axes[0].patches) == len(groups) + 1
    plt.close(figure)


def test_plot_architecture_names_both_strides_of_a_block_that_halves_the_height_only():
    def block_label(figure, name):
        texts = [text.get_text() for text in figure.axes[0].texts]
        return texts[texts.index(name) + 1]  # the line under the block's name lists its layers

    strided = oh.plot_architecture(oh.build_model())
    assert block_label(strided, "block1").startswith("Conv2D 3×3, stride 2×2 →")
    assert block_label(strided, "block3").startswith("Conv2D 3×3, stride 2×1 →")
    assert "stride" not in block_label(strided, "refine1")
    pooled = oh.plot_architecture(oh.build_model(strided_blocks=2))
    assert block_label(pooled, "block3").endswith("→ MaxPooling2D 2×1")
    plt.close(strided)
    plt.close(pooled)


def test_plot_ctc_lattice_shades_one_node_per_step_and_state():
    occupancy = oh.ctc_occupancy([1, 2], np.zeros((5, 3), dtype=np.float32))
    figure = oh.plot_ctc_lattice(occupancy, ["-", "a", "-", "b", "-"])
    possible, impossible = figure.axes[0].collections[:2]
    assert len(possible.get_offsets()) == np.count_nonzero(occupancy) < 5 * 5
    assert len(possible.get_offsets()) + len(impossible.get_offsets()) == 5 * 5
    plt.close(figure)


def test_plot_history_draws_losses_and_reading_figures():
    history = {"loss": [9.0, 1.0, 0.5], "val_loss": [8.0, 1.2, 0.6], "val_accuracy": [0.0, 0.5, 0.9],
               "val_cer": [1.0, 0.2, 0.02]}
    figure = oh.plot_history(history)
    loss_axis, accuracy_axis, error_axis = figure.axes
    assert len(loss_axis.lines) == 2 and len(accuracy_axis.lines) == 1 and len(error_axis.lines) == 1
    np.testing.assert_allclose(accuracy_axis.lines[0].get_ydata(), [0, 50, 90])
    np.testing.assert_allclose(error_axis.lines[0].get_ydata(), [100, 20, 2])
    assert "error" in error_axis.get_ylabel() and "read right" in accuracy_axis.get_ylabel()
    plt.close(figure)
    figure = oh.plot_history({name: values for name, values in history.items() if name != "val_cer"})
    assert len(figure.axes) == 2  # no empty error axis when the run did not record one
    plt.close(figure)


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


def test_plot_confusions_draws_the_most_frequent_pairs_first():
    counts = oh.confusions(["AB0DE", "0O000", "A0CDE"], ["ABODE", "0000", "AOCDE"])
    figure = oh.plot_confusions(counts)
    bars = figure.axes[0].patches
    assert [bar.get_width() for bar in bars] == [1, 2]
    assert [label.get_text() for label in figure.axes[0].get_yticklabels()] == ["O → _", "0 → O"]
    plt.close(figure)
    with pytest.raises(ValueError, match="no mistakes"):
        oh.plot_confusions(oh.confusions(["A"], ["A"]))


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

