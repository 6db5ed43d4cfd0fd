"""Pictures the notebooks show: sample grids (01), time steps and the architecture (03), the CTC lattice (04)."""

import re

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


def plot_columns(image, num_steps, time_axis="width", title=None):
    """Draw an image with the num_steps bands a model reads as time steps, along its width or its height."""
    if time_axis not in ("width", "height"):
        raise ValueError(f"time_axis must be 'width' or 'height', not {time_axis!r}.")
    height, width = image.shape[:2]
    figure, axis = plt.subplots(figsize=(5, 2.2))
    axis.imshow(image, cmap="gray", vmin=0, vmax=255)
    size = (width if time_axis == "width" else height) / num_steps
    for step in range(num_steps):
        start = step * size
        if time_axis == "width":
            band = plt.Rectangle((start - 0.5, -0.5), size, height, alpha=0.25, color=f"C{step % 2}")
            axis.text(start + size / 2, height + 1, str(step), ha="center", va="top", fontsize=6)
        else:
            band = plt.Rectangle((-0.5, start - 0.5), width, size, alpha=0.25, color=f"C{step % 2}")
            axis.text(-2, start + size / 2, str(step), ha="right", va="center", fontsize=6)
        axis.add_patch(band)
    axis.set_xticks([])
    axis.set_yticks([])
    axis.set_title(title or f"{num_steps} time steps along the {time_axis}")
    return figure


def layer_groups(model):
    """Group a model's layers into blocks by name prefix (block1_conv, block1_norm, refine1_conv ... by block)."""
    groups = []
    for layer in model.layers[1:]:
        key = re.match(r"^(block\d+|refine\d+|seed\d+|columns)", layer.name)
        key = key.group(1) if key else layer.name
        if groups and groups[-1][0] == key:
            groups[-1][1].append(layer)
        else:
            groups.append((key, [layer]))
    return groups


def describe_layer(layer):
    """Name a layer's type with the settings that matter for the shapes (kernel, stride, pool, units)."""
    import keras  # here, so that notebook 01's sample grids do not load TensorFlow

    kind = type(layer).__name__.replace("InputLayer", "Input")
    if isinstance(layer, keras.layers.Conv2D):  # both strides: (2, 1) halves the height only
        strides = "" if tuple(layer.strides) == (1, 1) else f", stride {layer.strides[0]}×{layer.strides[1]}"
        return f"{kind} {layer.kernel_size[0]}×{layer.kernel_size[1]}{strides}"
    if isinstance(layer, keras.layers.MaxPooling2D):
        pool, strides = tuple(layer.pool_size), tuple(layer.strides)
        strides = "" if strides == pool else f", stride {strides[0]}×{strides[1]}"
        return f"{kind} {pool[0]}×{pool[1]}{strides}"
    if isinstance(layer, keras.layers.Bidirectional):
        return f"{kind}({type(layer.forward_layer).__name__} {layer.forward_layer.units})"
    if isinstance(layer, keras.layers.Dropout):
        return f"{kind} {layer.rate}"
    return kind


_GROUP_COLOURS = {"Conv2D": "#9ecae1", "Permute": "#d9d9d9", "Reshape": "#d9d9d9", "Dense": "#a1d99b",
                  "Dropout": "#a1d99b", "Bidirectional": "#fdae6b"}


def plot_architecture(model, title=None):
    """Draw a model as a column of blocks, each with its layers, output shape and parameter count."""
    groups = [("input", [model.layers[0]])] + layer_groups(model)
    figure, axis = plt.subplots(figsize=(7.5, 0.62 * len(groups) + 0.3))
    for row, (name, group) in enumerate(groups):
        y = len(groups) - 1 - row
        kinds = " → ".join(describe_layer(layer) for layer in group)
        shape = tuple(group[-1].output.shape[1:])
        parameters = sum(layer.count_params() for layer in group)
        colour = "#fc9272" if name == "logits" else _GROUP_COLOURS.get(type(group[0]).__name__, "#f0f0f0")
        axis.add_patch(plt.Rectangle((0, y - 0.36), 1, 0.72, facecolor=colour, edgecolor="#555555"))
        axis.text(0.02, y + 0.1, name, fontsize=9, fontweight="bold", va="center")
        axis.text(0.02, y - 0.17, kinds, fontsize=7, va="center", color="#333333")
        axis.text(0.98, y + 0.1, str(shape), fontsize=9, va="center", ha="right", fontfamily="monospace")
        axis.text(0.98, y - 0.17, f"{parameters:,} parameters" if parameters else "", fontsize=7, va="center",
                  ha="right", color="#333333")
        if row:
            axis.annotate("", xy=(0.5, y + 0.36), xytext=(0.5, y + 0.64), arrowprops=dict(arrowstyle="->"))
    axis.set_xlim(-0.01, 1.01)
    axis.set_ylim(-0.5, len(groups) - 0.5)
    axis.axis("off")
    axis.set_title(title or f"{model.name}: {model.count_params():,} parameters; shapes leave out the batch")
    figure.tight_layout()
    return figure


def plot_ctc_lattice(occupancy, symbols, blank="-", title=None):
    """Draw the CTC lattice: a node per (time step, extended-label symbol), shaded by how much probability passes."""
    num_steps, num_states = occupancy.shape
    figure, axis = plt.subplots(figsize=(1.0 + 0.75 * num_steps, 0.9 + 0.5 * num_states))
    for step in range(num_steps - 1):
        for state in range(num_states):
            targets = [state, state + 1]
            if state + 2 < num_states and symbols[state + 2] != blank and symbols[state + 2] != symbols[state]:
                targets.append(state + 2)
            for target in targets:
                if target < num_states and occupancy[step, state] > 0 and occupancy[step + 1, target] > 0:
                    weight = min(occupancy[step, state], occupancy[step + 1, target])
                    axis.plot([step, step + 1], [state, target], color="#3182bd", alpha=0.1 + 0.9 * weight,
                              linewidth=0.5 + 3 * weight, zorder=1)
    steps, states = np.meshgrid(np.arange(num_steps), np.arange(num_states), indexing="ij")
    possible = occupancy > 0
    nodes = axis.scatter(steps[possible], states[possible], c=occupancy[possible], cmap="Blues", vmin=0, vmax=1,
                         s=260, edgecolors="#555555", zorder=2)
    axis.scatter(steps[~possible], states[~possible], marker="x", color="#bbbbbb", s=40, zorder=2,
                 label="on no valid path")
    if (~possible).any():
        axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), fontsize=8, frameon=False)
    axis.set_xticks(range(num_steps))
    axis.set_xlabel("time step")
    axis.set_yticks(range(num_states), [f"{symbol}  ({state})" for state, symbol in enumerate(symbols)])
    axis.set_ylabel("state of the label with blanks")
    axis.invert_yaxis()
    figure.colorbar(nodes, ax=axis, label="share of the probability")
    axis.set_title(title or "Valid paths through the CTC lattice")
    figure.tight_layout()
    return figure


def plot_history(history, title=None):
    """Draw the training curves: losses on a log scale; held-out accuracy, and character error rate on its own axis."""
    history = getattr(history, "history", history)
    epochs = np.arange(1, len(history["loss"]) + 1)
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 3.4))
    loss_axis.plot(epochs, history["loss"], "o-", label="training (mean over the epoch)")
    if "val_loss" in history:
        loss_axis.plot(epochs, history["val_loss"], "o-", label="held-out (end of the epoch)")
    loss_axis.set_yscale("log")
    loss_axis.set_ylabel("CTC loss")
    loss_axis.legend()
    if "val_accuracy" in history:
        accuracy_axis.plot(epochs, 100 * np.asarray(history["val_accuracy"]), "o-", color="C0")
    accuracy_axis.set_ylabel("% of held-out CAPTCHAs read right", color="C0")
    if "val_cer" in history:  # a few percent at most once trained: on the accuracy's scale it would lie flat
        error_axis = accuracy_axis.twinx()
        error_axis.plot(epochs, 100 * np.asarray(history["val_cer"]), "s--", color="C3")
        error_axis.set_ylabel("character error rate (%)", color="C3")
    for axis in (loss_axis, accuracy_axis):
        axis.set_xlabel("epoch")
        axis.set_xticks(epochs)
        axis.grid(alpha=0.3)
    figure.suptitle(title or "Training curves")
    figure.tight_layout()
    return figure


def draw_reading(axis, label, prediction, y=1.04):
    """Write a prediction above an axis, each character green if right and red if wrong ('_' for a dropped one)."""
    from .reading import align  # here, so that the plots of notebook 01 need no decoding code

    x = 0.5 - 0.045 * len(align(label, prediction)) / 2
    for true_char, read_char in align(label, prediction):
        axis.text(x, y, read_char or "_", color="#2ca02c" if true_char == read_char else "#d62728",
                  transform=axis.transAxes, fontfamily="monospace", fontsize=12, fontweight="bold")
        x += 0.045


def plot_predictions(images, labels, predictions, num_rows=3, num_columns=4, title=None):
    """Draw images with what the model read above each: right characters green, mistakes red, the label below."""
    count = min(len(images), num_rows * num_columns)
    if count == 0:
        raise ValueError("There are no images to plot.")
    num_rows = int(np.ceil(count / num_columns))
    figure, axes = plt.subplots(num_rows, num_columns, squeeze=False, figsize=(2.4 * num_columns, 1.8 * num_rows))
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < count:
            axis.imshow(images[index], cmap="gray", vmin=0, vmax=255)
            draw_reading(axis, labels[index], predictions[index])
            if labels[index] != predictions[index]:
                axis.text(0.5, -0.08, f"label {labels[index]}", transform=axis.transAxes, ha="center", va="top",
                          fontfamily="monospace", fontsize=9, color="#555555")
    if title:
        figure.suptitle(title)
    figure.tight_layout(h_pad=1.5)  # room between a row's labels and the next row's readings
    return figure


def plot_confusions(counts, num_pairs=15, title=None):
    """Draw the most frequent mistakes as bars: 'O → 0' means an O was read as 0; '_' is a missing character."""
    pairs = counts.most_common(num_pairs)
    if not pairs:
        raise ValueError("There are no mistakes to plot: every reading was right.")
    names = [f"{true_char or '_'} → {read_char or '_'}" for (true_char, read_char), _ in pairs]
    figure, axis = plt.subplots(figsize=(6, 0.3 * len(pairs) + 1))
    axis.barh(names[::-1], [count for _, count in pairs][::-1], color="#d62728")
    axis.set_xlabel("times")
    axis.set_yticks(range(len(names)), names[::-1], fontfamily="monospace")
    axis.set_title(title or "Which characters are read as which")
    figure.tight_layout()
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
