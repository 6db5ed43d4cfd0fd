"""Generate labeled CAPTCHA images, save them and load them back (taught in notebook 01)."""

import contextlib
import hashlib
import importlib.metadata
import json
import math
import random
import signal
import types
import zipfile
from concurrent.futures import Executor, as_completed
from pathlib import Path

import captcha.image
import numpy as np
from tqdm.std import tqdm

from .files import atomic_write
from .labels import CHARSET, LABEL_LENGTH, check_charset, check_count

IMAGE_HEIGHT = 60
IMAGE_WIDTH = 160
DATASET_FORMAT = "ocr_helpers.dataset/1"
_FONT_SIZES_AT_HEIGHT_60 = (42, 50, 56)
CAPTCHA_WRITTEN_FOR = "0.7.1"  # the captcha version whose `captcha.image` draws every distortion from `secrets`


def seeded_secrets(rng):
    """Return a stand-in for the `secrets` module whose randbelow, randbits and choice draw from `rng`."""
    return types.SimpleNamespace(randbelow=rng.randrange, randbits=rng.getrandbits, choice=rng.choice)


@contextlib.contextmanager
def seeded_captcha(rng):
    """Make the captcha library draw its distortions from `rng` inside the block (its private `secrets`)."""
    original = getattr(captcha.image, "secrets", None)
    if original is None:
        raise ImportError(f"captcha.image has no `secrets` to seed: ocr_helpers was written for captcha "
                          f"{CAPTCHA_WRITTEN_FOR} and captcha {importlib.metadata.version('captcha')} is "
                          f"installed. Install the version the course pins: pip install "
                          f"captcha=={CAPTCHA_WRITTEN_FOR}")
    captcha.image.secrets = seeded_secrets(rng)
    try:
        yield
    finally:
        captcha.image.secrets = original


_generators = {}


def captcha_generator(height=IMAGE_HEIGHT, width=IMAGE_WIDTH):
    """Return a cached `ImageCaptcha` for this size, with font sizes scaled to the height."""
    if (height, width) not in _generators:
        font_sizes = tuple(round(size * height / 60) for size in _FONT_SIZES_AT_HEIGHT_60)
        _generators[height, width] = captcha.image.ImageCaptcha(width=width, height=height, font_sizes=font_sizes)
    return _generators[height, width]


def draw_char(rng, charset, focus_chars="", focus_share=0.0):
    """Draw one character: from `focus_chars` with probability `focus_share`, otherwise from all of `charset`."""
    if focus_share and rng.random() < focus_share:  # share 0 draws nothing extra, so datasets stay as they were
        return rng.choice(focus_chars)
    return rng.choice(charset)


def draw_sample(seed, index, charset=CHARSET, label_length=LABEL_LENGTH, height=IMAGE_HEIGHT, width=IMAGE_WIDTH,
                focus_chars="", focus_share=0.0):
    """Draw image `index` of the dataset `seed`: a uint8 grayscale array and its label."""
    rng = random.Random(f"ocr_helpers:{seed}:{index}")  # image `index` draws from (seed, index) alone
    label = "".join(draw_char(rng, charset, focus_chars, focus_share) for _ in range(label_length))
    with seeded_captcha(rng):
        image = captcha_generator(height, width).generate_image(label)
    return np.asarray(image.convert("L"), dtype=np.uint8), label


def draw_chunk(seed, start, stop, charset, label_length, height, width, focus_chars="", focus_share=0.0):
    """Draw images `start` to `stop` of the dataset `seed` (the unit of work of one process)."""
    samples = [draw_sample(seed, index, charset, label_length, height, width, focus_chars, focus_share)
               for index in range(start, stop)]
    return start, np.stack([image for image, _ in samples]), [label for _, label in samples]


def default_num_workers():
    """Return the number of CPU cores this process may use, counting affinity and container CPU quotas."""
    import loky  # imported here, so that `import ocr_helpers` stays fast

    return loky.cpu_count()


def check_focus(charset, focus_chars, focus_share):
    """Raise ValueError unless `focus_share` is a share (0..1) of characters drawn from `focus_chars`."""
    if not 0 <= focus_share <= 1:
        raise ValueError(f"focus_share is the share of characters drawn from focus_chars: give a number from 0 "
                         f"to 1, not {focus_share!r}.")
    unknown = sorted(set(focus_chars) - set(charset))
    if unknown:
        raise ValueError(f"focus_chars {focus_chars!r} has characters that are not in the character set "
                         f"{charset!r}: {''.join(unknown)!r}.")
    if focus_share and not focus_chars:
        raise ValueError(f"focus_share is {focus_share} but focus_chars is empty: name the characters to draw "
                         f"more often, for example focus_chars='0O'.")


def check_generation_arguments(num_samples, charset, label_length, height, width, focus_chars="", focus_share=0.0):
    """Raise a ValueError that says what to change if the generation arguments make no dataset."""
    check_count(num_samples, "num_samples")
    check_count(label_length, "label_length")
    check_focus(check_charset(charset), focus_chars, focus_share)
    if height < 8 or width < 8:
        raise ValueError(f"An image of {height}x{width} pixels is too small to draw text on: use at least 8x8.")


def generate_dataset(num_samples, seed=0, charset=CHARSET, label_length=LABEL_LENGTH,
                     height=IMAGE_HEIGHT, width=IMAGE_WIDTH, num_workers=None, progress=True,
                     focus_chars="", focus_share=0.0):
    """Generate `num_samples` CAPTCHAs in parallel: uint8 images (N, height, width) and label strings."""
    check_generation_arguments(num_samples, charset, label_length, height, width, focus_chars, focus_share)
    num_workers = max(1, min(num_workers or default_num_workers(), num_samples))
    chunk_size = max(1, min(250, math.ceil(num_samples / (4 * num_workers))))
    chunks = [(seed, start, min(start + chunk_size, num_samples), "".join(charset), label_length, height, width,
               focus_chars, focus_share) for start in range(0, num_samples, chunk_size)]
    images = np.empty((num_samples, height, width), dtype=np.uint8)
    labels = [""] * num_samples
    with contextlib.ExitStack() as stack:
        if num_workers == 1:
            results = (draw_chunk(*chunk) for chunk in chunks)
        else:
            pool = stack.enter_context(worker_pool(num_workers))  # on Ctrl-C or an error, stops the workers at once
            futures = [pool.submit(draw_chunk, *chunk) for chunk in chunks]
            results = (future.result() for future in as_completed(futures))
        bar = stack.enter_context(tqdm(total=num_samples, unit="img", disable=not progress, desc="Generating",
                                        mininterval=1.0))
        for start, chunk_images, chunk_labels in results:
            images[start:start + len(chunk_labels)] = chunk_images
            labels[start:start + len(chunk_labels)] = chunk_labels
            bar.update(len(chunk_labels))
    return images, labels


def ignore_interrupts():
    """Let Ctrl-C reach only the main process, which then stops the workers (run in each worker as it starts)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class WorkerPool(Executor):
    """A process pool whose `with` block, left on an exception (Ctrl-C, a closed stream), stops the workers at once."""

    def __init__(self, num_workers):
        import loky  # imported here, so that `import ocr_helpers` stays fast

        self.executor = loky.ProcessPoolExecutor(num_workers, initializer=ignore_interrupts)

    def submit(self, fn, /, *args, **kwargs):
        """Run fn(*args, **kwargs) in a worker; return its Future."""
        return self.executor.submit(fn, *args, **kwargs)

    def shutdown(self, wait=True, *, cancel_futures=False):
        """Stop the workers; with `cancel_futures`, at once, failing every future not yet done."""
        self.executor.shutdown(wait=wait, kill_workers=cancel_futures)

    def __exit__(self, exc_type, exc_value, traceback):
        self.shutdown(cancel_futures=exc_type is not None)
        return False


def worker_pool(num_workers):
    """Start worker processes for any caller: a notebook, any script, `python -c`, stdin, after TensorFlow."""
    # loky starts each worker as a fresh interpreter that never re-runs the caller's main module, which the
    # "spawn" and "forkserver" of multiprocessing do (failing for code on stdin, re-running an unguarded script),
    # and never forks a process whose threads (TensorFlow's) may hold locks, as "fork" does.
    check_count(num_workers, "num_workers")
    return WorkerPool(int(num_workers))


def generate_in_one_loop(num_samples, charset=CHARSET, label_length=LABEL_LENGTH):
    """The single-process loop common in tutorials, unseeded and with float pixels: a speed baseline only."""
    images, labels = [], []
    for _ in range(num_samples):
        label = "".join(random.choices(charset, k=label_length))
        image = captcha.image.ImageCaptcha(width=IMAGE_WIDTH, height=IMAGE_HEIGHT).generate_image(label)
        images.append(np.asarray(image.convert("L")) / 255.0)
        labels.append(label)
    return np.array(images), labels


def dataset_info(num_samples, seed, charset=CHARSET, label_length=LABEL_LENGTH, height=IMAGE_HEIGHT, width=IMAGE_WIDTH,
                 focus_chars="", focus_share=0.0):
    """Describe how a dataset was generated, so that a saved copy can be checked before reuse."""
    info = {"format": DATASET_FORMAT, "num_samples": int(num_samples), "seed": seed, "charset": charset,
            "label_length": int(label_length), "height": int(height), "width": int(width)}
    if focus_share:  # absent otherwise, so that files saved before focus_share existed still match
        info.update(focus_chars=focus_chars, focus_share=float(focus_share))
    return info


def check_one_label_per_image(images, labels):
    """Raise ValueError unless there are as many labels as images."""
    if len(labels) != len(images):
        raise ValueError(f"There are {len(images)} images but {len(labels)} labels: give one label per image.")


def save_dataset(path, images, labels, info=None):
    """Save images and labels to an uncompressed .npz file, atomically, with `info` describing them."""
    images = np.asarray(images)
    labels = list(labels)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(f"images must be a uint8 array of shape (N, height, width), got {images.dtype} {images.shape}.")
    check_one_label_per_image(images, labels)
    info = {"format": DATASET_FORMAT, **(info or {})}
    with atomic_write(path) as file:
        np.savez(file, images=images, labels=np.array(labels, dtype=str), info=np.array(json.dumps(info)))
    return Path(path)


def load_dataset(path, with_info=False):
    """Load (images, labels) saved by `save_dataset`; with `with_info`, also the dict describing them."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No dataset at {path}: run notebooks/01_generate_data.ipynb, or call "
                                f"oh.save_dataset(path, *oh.generate_dataset(num_samples)).")
    try:
        with np.load(path, allow_pickle=False) as saved:  # without pickle: a file cannot run code
            images, labels, info = saved["images"], saved["labels"].tolist(), json.loads(saved["info"].item())
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError, OSError) as error:
        raise ValueError(f"The dataset file {path} is truncated or corrupt ({type(error).__name__}: {error}): "
                         f"delete it and generate it again.") from error
    if info.get("format") != DATASET_FORMAT or images.ndim != 3 or len(images) != len(labels):
        raise ValueError(f"{path} is not a dataset saved by ocr_helpers.save_dataset: delete it and generate it again.")
    return (images, labels, info) if with_info else (images, labels)


def load_or_generate_dataset(path, num_samples, seed=0, charset=CHARSET, label_length=LABEL_LENGTH,
                             height=IMAGE_HEIGHT, width=IMAGE_WIDTH, progress=True, focus_chars="", focus_share=0.0):
    """Load the dataset at `path` if drawn with these arguments (or a longer one); else draw and save it."""
    wanted = dataset_info(num_samples, seed, charset, label_length, height, width, focus_chars, focus_share)
    path = Path(path)
    reason = f"no file at {path}"
    if path.is_file():
        try:
            images, labels, info = load_dataset(path, with_info=True)
        except ValueError as error:
            reason = str(error)
        else:
            if info == wanted:
                print(f"Loaded {len(images):,} images from {path}")
                return images, labels
            if info.get("num_samples", 0) > num_samples and {**info, "num_samples": num_samples} == wanted:
                print(f"Loaded the first {num_samples:,} of the {len(images):,} images in {path}")
                return images[:num_samples], labels[:num_samples]
            reason = f"{path} was generated with other arguments"
    print(f"Generating {num_samples:,} images ({reason})")
    images, labels = generate_dataset(num_samples, seed, charset, label_length, height, width, progress=progress,
                                      focus_chars=focus_chars, focus_share=focus_share)
    save_dataset(path, images, labels, wanted)
    return images, labels


def dataset_fingerprint(images, labels):
    """Return a short hash of images and labels, equal only for byte-identical datasets."""
    digest = hashlib.sha256(np.ascontiguousarray(images).tobytes())
    digest.update("\n".join(labels).encode())
    return digest.hexdigest()[:16]
