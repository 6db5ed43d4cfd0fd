"""Pictures the notebooks show (sample grids first, more as the series grows)."""

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
