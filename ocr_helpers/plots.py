"""Pictures several notebooks show: sample grids, readings with their mistakes, and per-step probabilities."""

import matplotlib.pyplot as plt
import numpy as np


def plot_samples(images, labels, num_rows=3, num_columns=4, title=None):
    """Draw the first num_rows * num_columns images in a grid, each titled with its label."""
    count = min(len(images), num_rows * num_columns)
    if count == 0:
        raise ValueError("There are no images to plot.")
    num_rows = int(np.ceil(count / num_columns))
    title_lines = max(str(label).count("\n") + 1 for label in labels[:count])
    figure, axes = plt.subplots(num_rows, num_columns, squeeze=False,
                                figsize=(2.4 * num_columns, (0.9 + 0.3 * title_lines) * num_rows + 0.4))
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < count:
            axis.imshow(images[index], cmap="gray", vmin=0, vmax=255)
            axis.set_title(labels[index], fontfamily="monospace")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def plot_predictions(images, labels, predictions, num_rows=3, num_columns=4, title=None):
    """Draw images with what the model read above each: right characters green, mistakes red, the label below."""
    from .reading import align  # here, so that the plots of notebook 01 need no decoding code

    count = min(len(images), num_rows * num_columns)
    if count == 0:
        raise ValueError("There are no images to plot.")
    num_rows = int(np.ceil(count / num_columns))
    figure, axes = plt.subplots(num_rows, num_columns, squeeze=False, figsize=(2.4 * num_columns, 1.8 * num_rows))
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < count:
            axis.imshow(images[index], cmap="gray", vmin=0, vmax=255)
            pairs = align(labels[index], predictions[index])  # a dropped character is read as '_'
            for position, (true_char, read_char) in enumerate(pairs):
                axis.text(0.5 + 0.045 * (position - len(pairs) / 2), 1.04, read_char or "_", transform=axis.transAxes,
                          color="#2ca02c" if true_char == read_char else "#d62728", fontfamily="monospace",
                          fontsize=12, fontweight="bold")
            if labels[index] != predictions[index]:
                axis.text(0.5, -0.08, f"label {labels[index]}", transform=axis.transAxes, ha="center", va="top",
                          fontfamily="monospace", fontsize=9, color="#555555")
    if title:
        figure.suptitle(title)
    figure.tight_layout(h_pad=1.5)  # room between a row's labels and the next row's readings
    return figure


STEP_PLOT_AXES_INCHES = 6.0  # width of the image and of the probabilities under it
STEP_PLOT_ROW_INCHES = 0.24  # height of one class's row of probabilities


def plot_step_probabilities(image, probabilities, charset, blank="-", min_probability=0.05, title=None):
    """Draw an image above its per-step class probabilities, aligned so each step sits under the columns it reads."""
    num_steps = len(probabilities)
    symbols = blank + charset
    shown = [index for index in range(len(symbols)) if index == 0 or probabilities[:, index].max() >= min_probability]
    width = image.shape[1]
    axes_inches, image_inches = STEP_PLOT_AXES_INCHES, STEP_PLOT_AXES_INCHES * image.shape[0] / width
    rows_inches = STEP_PLOT_ROW_INCHES * len(shown)  # one readable label per row
    left, right, top, gap, bottom = 0.8, 1.1, 0.65, 0.1, 0.55  # margins in inches: labels, colour bar, title
    figure = plt.figure(figsize=(left + axes_inches + right, top + image_inches + gap + rows_inches + bottom))
    size = figure.get_size_inches()

    def box(x, y, w, h):
        """Return a rectangle given in inches from the bottom left, in figure fractions."""
        return [x / size[0], y / size[1], w / size[0], h / size[1]]

    # the image and the probabilities get the same left and right edges, so step k sits under its columns
    image_axis = figure.add_axes(box(left, bottom + rows_inches + gap, axes_inches, image_inches))
    probability_axis = figure.add_axes(box(left, bottom, axes_inches, rows_inches), sharex=image_axis)
    colour_axis = figure.add_axes(box(left + axes_inches + 0.2, bottom, 0.15, rows_inches + gap + image_inches))
    image_axis.imshow(image, cmap="gray", vmin=0, vmax=255, extent=(0, width, image.shape[0], 0), aspect="auto")
    image_axis.tick_params(labelbottom=False)
    image_axis.set_yticks([])
    best = probabilities.argmax(axis=1)
    for step in range(num_steps):
        image_axis.text((step + 0.5) * width / num_steps, -2, symbols[best[step]], ha="center", va="bottom",
                        fontfamily="monospace", fontsize=9,
                        color="#999999" if best[step] == 0 else "#08519c")  # blue: red means "wrong" in the grids
    cells = probability_axis.imshow(probabilities[:, shown].T, aspect="auto", cmap="Blues", vmin=0, vmax=1,
                                    extent=(0, width, len(shown), 0), interpolation="nearest")
    probability_axis.set_yticks(np.arange(len(shown)) + 0.5, ["blank" if index == 0 else symbols[index]
                                                               for index in shown], fontfamily="monospace")
    probability_axis.set_xticks((np.arange(num_steps) + 0.5) * width / num_steps,
                                [str(step) for step in range(num_steps)], fontsize=7)
    probability_axis.set_xlabel(f"time step (each reads {width / num_steps:.0f} pixel columns)")
    figure.colorbar(cells, cax=colour_axis, label="probability")
    image_axis.set_title(title or "Where each character fires, and where the blank wins", pad=16)
    return figure
