"""Measure how fast a model trains and reads, and how fast a pipeline delivers batches (notebooks 03, 05 and 08)."""

import time

import keras
import numpy as np


def check_batches(images, batch_size, num_batches):
    """Raise ValueError unless `images` holds at least one batch of batch_size and num_batches is positive."""
    if batch_size < 1 or num_batches < 1:
        raise ValueError(f"batch_size and num_batches must be at least 1, got {batch_size} and {num_batches}.")
    if len(images) < batch_size:
        raise ValueError(f"A batch of {batch_size} needs {batch_size} images, got {len(images)}: "
                         f"pass more images or a smaller batch_size.")


def check_compiled(model):
    """Raise ValueError unless the model has been compiled, so it can take training steps."""
    if getattr(model, "optimizer", None) is None:
        raise ValueError("Compile the model first (model.compile(optimizer=..., loss=oh.CTCLoss())).")


def time_batches(run_batch, images, labels, batch_size, num_batches, warmup_batches):
    """Call run_batch on warm-up batches, then return the images per second over num_batches timed ones."""
    distinct_batches = len(images) // batch_size

    def batch(index):
        start = (index % distinct_batches) * batch_size
        return images[start:start + batch_size], None if labels is None else labels[start:start + batch_size]

    for index in range(warmup_batches):
        run_batch(*batch(index))
    start = time.perf_counter()
    for index in range(num_batches):
        run_batch(*batch(index))
    return batch_size * num_batches / (time.perf_counter() - start)


def compare_speeds(models, images, labels, batch_size=64, num_batches=10, num_rounds=3, warmup_batches=3):
    """Time each compiled model in turn for num_rounds rounds; return {name: (training, inference) images/s medians}."""
    check_batches(images, batch_size, num_batches)
    for model in models.values():
        check_compiled(model)
    timings = {name: ([], []) for name in models}
    for _ in range(num_rounds):
        for name, model in models.items():
            timings[name][0].append(time_batches(model.train_on_batch, images, labels, batch_size, num_batches,
                                                 warmup_batches))
            timings[name][1].append(time_batches(lambda x, _: model.predict_on_batch(x), images, None, batch_size,
                                                 num_batches, warmup_batches))
    return {name: (float(np.median(train)), float(np.median(infer))) for name, (train, infer) in timings.items()}


def batches_per_second(batches, num_batches=10, warmup_batches=1):
    """Return how many batches a second the iterator `batches` delivers, after a warm-up."""
    batches = iter(batches)
    for _ in range(warmup_batches):
        next(batches)
    start = time.perf_counter()
    for _ in range(num_batches):
        next(batches)
    return num_batches / (time.perf_counter() - start)


def fit_steps_per_second(model, data, num_batches=20, warmup_batches=5):
    """Return training steps a second of model.fit on `data`, timed in one call after `warmup_batches`."""
    check_fit_batches(num_batches, warmup_batches)
    check_compiled(model)
    times = []
    clock = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: times.append(time.perf_counter()))
    model.fit(data, epochs=1, steps_per_epoch=warmup_batches + num_batches, callbacks=[clock], shuffle=False,
              verbose=0)
    if len(times) < warmup_batches + num_batches:
        raise ValueError(f"`data` ran out after {len(times)} batches, but fit_steps_per_second needs warmup_batches + "
                         f"num_batches = {warmup_batches + num_batches}: give more data or time fewer batches.")
    return num_batches / (times[-1] - times[warmup_batches - 1])


def check_fit_batches(num_batches, warmup_batches):
    """Raise ValueError unless fit_steps_per_second has a warm-up batch to start its clock at and a batch to time."""
    if num_batches < 1 or warmup_batches < 1:
        raise ValueError(f"num_batches and warmup_batches must be at least 1, got {num_batches} and {warmup_batches}: "
                         f"fit_steps_per_second starts its clock when the last warm-up batch ends (the first batch "
                         f"also builds the training step) and needs a batch to time.")


def time_call(read, images):
    """Return the seconds one call read(images) takes."""
    start = time.perf_counter()
    read(images)
    return time.perf_counter() - start


def compare_readers(readers, images, batch_size=256, num_rounds=3, num_single_images=50):
    """Time functions from images to logits in turns; return {name: (images/s in batches, median s for one)}."""
    check_batches(images, batch_size, 1)
    if num_rounds < 1 or num_single_images < 1:
        raise ValueError(f"num_rounds and num_single_images must be at least 1, got {num_rounds} and "
                         f"{num_single_images}.")
    batches = [images[start:start + batch_size] for start in range(0, len(images), batch_size)]
    singles = [image[None] for image in images[:num_single_images]]
    for read in readers.values():  # warm up every reader on both shapes before any is timed
        read(batches[0]), read(singles[0])
    rates, latencies = ({name: [] for name in readers} for _ in range(2))
    for _ in range(num_rounds):
        for name, read in readers.items():
            rates[name].append(len(images) / sum(time_call(read, batch) for batch in batches))
            latencies[name] += [time_call(read, single) for single in singles]
    return {name: (float(np.median(rates[name])), float(np.median(latencies[name]))) for name in readers}
