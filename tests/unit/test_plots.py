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
    assert [name for name, _ in groups][:4] == ["add_channel", "block1", "block2", "block3"]
    figure = oh.plot_architecture(model)
    texts = [text.get_text() for text in figure.axes[0].texts]
    assert "(20, 37)" in texts and "(60, 160)" in texts
    assert len(figure.axes[0].patches) == len(groups) + 1
    plt.close(figure)


def test_plot_ctc_lattice_shades_one_node_per_step_and_state():
    occupancy = oh.ctc_occupancy([1, 2], np.zeros((5, 3), dtype=np.float32))
    figure = oh.plot_ctc_lattice(occupancy, ["-", "a", "-", "b", "-"])
    possible, impossible = figure.axes[0].collections[:2]
    assert len(possible.get_offsets()) == np.count_nonzero(occupancy) < 5 * 5
    assert len(possible.get_offsets()) + len(impossible.get_offsets()) == 5 * 5
    plt.close(figure)
