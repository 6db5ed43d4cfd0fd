"""Read a folder of your own labeled CAPTCHAs, and draw a practice folder like one (notebook 07)."""

import collections
import csv
import dataclasses
import json
import string
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, UnidentifiedImageError

from .data import IMAGE_HEIGHT, IMAGE_WIDTH, check_generation_arguments, dataset_info, generate_dataset
from .files import atomic_folder, atomic_write
from .labels import encode_labels

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff")
LABEL_CHARACTERS = string.ascii_letters + string.digits
PRACTICE_CHARSET = "2345678bcdefgmnpwxy"
PRACTICE_RECORD = ".practice.json"  # hidden, so that load_folder does not take it for an image
PRACTICE_FORMAT = "ocr_helpers.practice/1"


@dataclasses.dataclass
class LabeledFolder:
    """Images read from a folder, their labels and file names, and every file left out with the reason."""

    images: np.ndarray
    labels: list
    files: list
    problems: list

    @property
    def charset(self):
        """Every character the labels use, sorted: the model's character set."""
        return charset_of(self.labels)

    @property
    def repeated_labels(self):
        """Return {label: [files]} for labels that more than one image carries (all are kept)."""
        files = collections.defaultdict(list)
        for label, name in zip(self.labels, self.files):
            files[label].append(name)
        return {label: names for label, names in files.items() if len(names) > 1}

    def summary(self):
        """Return a few lines saying what was loaded, what was left out and why."""
        lengths = sorted({len(label) for label in self.labels})
        lines = [f"Loaded {len(self.labels):,} images, {self.images.shape[2]}x{self.images.shape[1]} after fitting, "
                 f"labels of {'/'.join(map(str, lengths))} characters from {self.charset!r}."]
        repeated = self.repeated_labels
        if repeated:
            label, names = next(iter(repeated.items()))
            lines.append(f"{len(repeated)} labels are carried by more than one image (e.g. {label!r}: "
                         f"{', '.join(names)}): all are kept, and a split keeps them on the same side.")
        lines += [f"Left out {name}: {reason}" for name, reason in self.problems]
        return "\n".join(lines)


def charset_of(labels):
    """Return every character `labels` use, sorted, as one string."""
    return "".join(sorted(set("".join(labels))))


def label_from_name(name):
    """Return the label a file name carries: the name up to its first `_` or `.` (`2b827_2.png` -> `2b827`)."""
    return name.split(".")[0].split("_")[0]


def label_problem(label, charset=None):
    """Return why `label` cannot be a label (None if it can): empty, or holding characters it cannot hold."""
    if not label:
        return "the label is empty: name the file after its text, e.g. 2b827.png"
    allowed = LABEL_CHARACTERS if charset is None else charset
    wrong = sorted(set(label) - set(allowed))
    if wrong:
        return (f"the label {label!r} holds {''.join(wrong)!r}, which cannot be part of a label (allowed: "
                f"{'letters and digits' if charset is None else repr(charset)}): rename the file after its text")
    return None


def read_label_csv(path):
    """Return {file name: text} from a CSV file of `file,text` rows (a header row is skipped)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No labels file at {path}: give a CSV file of `file,text` rows, or None to read "
                                f"the labels from the file names.")
    with open(path, newline="", encoding="utf-8") as file:
        rows = [row for row in csv.reader(file) if row]
    if rows and rows[0][0].strip().lower() in ("file", "filename", "file_name", "name", "image", "path"):
        rows = rows[1:]
    bad = [index for index, row in enumerate(rows, start=1) if len(row) != 2]
    if bad:
        raise ValueError(f"{path}: rows {bad[:5]} do not have two columns (file, text).")
    return {name.strip(): text.strip() for name, text in rows}


def to_grayscale(image):
    """Return a PIL image as 8-bit grayscale, putting transparent parts on white."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA"))
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        values = np.asarray(image, dtype=np.float64)
        image = Image.fromarray(np.uint8(np.round(255 * values / max(values.max(), 1))))
    return image.convert("L")


def fit_image(image, height=IMAGE_HEIGHT, width=IMAGE_WIDTH):
    """Return `image` (PIL) as a uint8 (height, width) array: grayscale, scaled to fit, padded with its background."""
    gray = to_grayscale(image)
    scale = min(width / gray.width, height / gray.height)
    size = (max(1, min(width, round(gray.width * scale))), max(1, min(height, round(gray.height * scale))))
    pixels = np.asarray(gray.resize(size, Image.Resampling.LANCZOS))
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    canvas = np.full((height, width), int(np.median(border)), np.uint8)
    top, left = (height - size[1]) // 2, (width - size[0]) // 2
    canvas[top:top + size[1], left:left + size[0]] = pixels
    return canvas


def read_image(path, height, width):
    """Return the image at `path` fitted to (height, width), or raise ValueError saying it cannot be decoded."""
    try:
        with Image.open(path) as image:
            image.load()
            return fit_image(image, height, width)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ValueError(f"cannot be decoded as an image ({type(error).__name__}: {error}): the file is damaged "
                         f"or not an image; replace it or delete it") from error


def candidate_files(folder, labels_csv):
    """Return [(file name, label or None)] to read: every file of `folder`, or the rows of `labels_csv`."""
    if labels_csv is not None:
        return list(read_label_csv(labels_csv).items())
    names = sorted(path.name for path in folder.iterdir() if path.is_file() and not path.name.startswith("."))
    return [(name, None) for name in names]


def read_candidate(folder, name, label, height, width, charset):
    """Return (image, label) for one file, or raise ValueError with the reason it is left out."""
    path = folder / name
    if label is None and path.suffix.lower() not in IMAGE_SUFFIXES:
        raise ValueError(f"not an image file ({path.suffix or 'no suffix'}; expected one of "
                         f"{', '.join(IMAGE_SUFFIXES)}): move it out of the folder")
    if not path.is_file():
        raise ValueError("listed in the labels file but not in the folder: add it or remove its row")
    label = label_from_name(name) if label is None else label
    problem = label_problem(label, charset)
    if problem:
        raise ValueError(problem)
    return read_image(path, height, width), label


def check_lengths(labels, charset, max_time_steps):
    """Return the indices of labels that need more time steps than `max_time_steps`, with the steps each needs."""
    from .ctc import time_steps_needed  # imports TensorFlow, so only when lengths are checked

    needed = time_steps_needed(encode_labels(labels, charset, max(map(len, labels))))
    return [(index, int(steps)) for index, steps in enumerate(needed) if steps > max_time_steps]


def load_folder(folder, labels_csv=None, height=IMAGE_HEIGHT, width=IMAGE_WIDTH, charset=None,
                max_time_steps=None, strict=False):
    """Read a folder of labeled CAPTCHAs into a LabeledFolder, leaving out (or, `strict`, refusing) bad files."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"No folder at {folder}: give the folder that holds your labeled CAPTCHA images.")
    images, labels, files, problems = [], [], [], []
    candidates = candidate_files(folder, labels_csv)
    if not candidates:
        raise ValueError(f"The folder {folder} is empty: put images named after their text in it (2b827.png), "
                         f"or export generated ones with oh.export_folder.")
    for name, label in candidates:
        try:
            image, label = read_candidate(folder, name, label, height, width, charset)
        except ValueError as error:
            problems.append((name, str(error)))
            continue
        images.append(image)
        labels.append(label)
        files.append(name)
    if labels and max_time_steps is not None:
        too_long = dict(check_lengths(labels, charset or charset_of(labels), max_time_steps))
        problems += [(files[index], f"the label {labels[index]!r} needs {steps} time steps and the model emits "
                                    f"{max_time_steps}: leave it out, or build the model for wider images")
                     for index, steps in too_long.items()]
        keep = [index for index in range(len(labels)) if index not in too_long]
        images, labels, files = [images[i] for i in keep], [labels[i] for i in keep], [files[i] for i in keep]
    if problems and strict:
        raise ValueError(f"{len(problems)} files in {folder} cannot be used (strict mode):\n" +
                         "\n".join(f"  {name}: {reason}" for name, reason in problems))
    if not labels:
        raise ValueError(f"None of the {len(candidates)} files in {folder} could be used:\n" +
                         "\n".join(f"  {name}: {reason}" for name, reason in problems[:10]))
    return LabeledFolder(np.stack(images), labels, files, problems)


def split_labeled(labels, held_out_fraction=0.2, seed=0):
    """Return (train indices, held-out indices), reproducible from `seed`, every copy of a label on one side."""
    if not 0 < held_out_fraction < 1:
        raise ValueError(f"held_out_fraction must be between 0 and 1, got {held_out_fraction!r}.")
    groups = collections.defaultdict(list)
    for index, label in enumerate(labels):
        groups[label].append(index)
    order = np.random.default_rng(seed).permutation(sorted(groups))
    wanted, held_out = round(held_out_fraction * len(labels)), []
    for label in order:
        if len(held_out) >= wanted:
            break
        held_out += groups[label]
    held = set(held_out)
    if not held or len(held) == len(labels):
        raise ValueError(f"{len(labels)} images cannot be split into training and held-out images at "
                         f"{held_out_fraction:.0%}: give more images.")
    return np.array([i for i in range(len(labels)) if i not in held]), np.array(sorted(held))


def add_line_and_blur(images, seed=0, blur=1.0):
    """Draw a dark line across each image at random heights and blur it, as many real CAPTCHAs look."""
    rng = np.random.default_rng(seed)
    roughened = []
    for image in images:
        picture = Image.fromarray(image)
        height, width = image.shape
        left, right = rng.uniform(0.3 * height, 0.7 * height, size=2)
        ImageDraw.Draw(picture).line([(0, left), (width, right)], fill=int(rng.integers(20, 90)),
                                     width=int(rng.integers(2, 4)))
        roughened.append(np.asarray(picture.filter(ImageFilter.GaussianBlur(blur))))
    return np.stack(roughened)


def draw_real_looking(num_samples, seed=0, charset=PRACTICE_CHARSET, label_length=5, height=50, width=200):
    """Draw CAPTCHAs that look like a site's: another size and character set than notebook 01's, a line, a blur."""
    images, labels = generate_dataset(num_samples, seed, charset, label_length, height, width, progress=False)
    return add_line_and_blur(images, seed), labels


def write_image(path, image, mode="RGB"):
    """Write one uint8 image as a PNG file at `path`, converted to `mode`, atomically."""
    with atomic_write(path) as file:
        Image.fromarray(image).convert(mode).save(file, format="PNG")


def write_images(folder, images, labels, mode="RGB"):
    """Write each image into `folder` as a PNG named after its label (the second image of a label `2b827_2.png`)."""
    seen = collections.Counter()
    for image, label in zip(images, labels):
        seen[label] += 1
        name = label if seen[label] == 1 else f"{label}_{seen[label]}"
        write_image(Path(folder) / f"{name}.png", image, mode)


def export_folder(folder, images, labels, mode="RGB"):
    """Write each image as a PNG named after its label (`2b827.png`; the second image of a label `2b827_2.png`)."""
    folder = Path(folder)
    if folder.is_dir() and any(folder.iterdir()):
        raise ValueError(f"The folder {folder} is not empty: export into a new folder, so no file is overwritten.")
    write_images(folder, images, labels, mode)
    return folder


def redraw_reason(folder, wanted):
    """Return why the practice folder must be drawn, or None; ValueError for a folder not drawn here."""
    if not folder.exists():
        return "there is no folder yet"
    if not folder.is_dir():
        raise ValueError(f"{folder} is a file, not a folder: give practice_folder a path where a folder can be "
                         f"drawn, or move the file away.")
    if not (folder / PRACTICE_RECORD).is_file():
        if any(folder.iterdir()):
            raise ValueError(f"The folder {folder} holds files but no record {PRACTICE_RECORD}, so the course did "
                             f"not draw it and will not replace it. To train on these images, give it as your "
                             f"folder (notebook 07: folder = '{folder}'); to draw the practice set, give another "
                             f"path (practice_folder) or move the files away. A practice folder drawn by an older "
                             f"version of the course has no record either: delete it to have it drawn again.")
        return "the folder is empty"
    try:
        recorded = json.loads((folder / PRACTICE_RECORD).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        recorded = None
    if not isinstance(recorded, dict) or recorded.get("format") != PRACTICE_FORMAT:
        return f"its record {PRACTICE_RECORD} is unreadable or of another version"
    differences = [f"{name} {recorded.get(name)!r} -> {value!r}" for name, value in wanted.items()
                   if recorded.get(name) != value]
    return f"changed since it was drawn: {', '.join(differences)}" if differences else None


def draw_practice(folder, info):
    """Draw the practice CAPTCHAs `info` describes into `folder` with their record, all or nothing."""
    images, labels = draw_real_looking(info["num_samples"], info["seed"], info["charset"], info["label_length"],
                                       info["height"], info["width"])
    with atomic_folder(folder) as staged:
        write_images(staged, images, labels)
        with atomic_write(staged / PRACTICE_RECORD, "w") as file:
            json.dump(info, file, indent=1)


def load_or_draw_practice(folder, num_samples, seed=0, charset=PRACTICE_CHARSET, label_length=5, height=50,
                          width=200):
    """Return `folder` holding the practice CAPTCHAs these arguments describe, drawn again if one changed."""
    check_generation_arguments(num_samples, charset, label_length, height, width)
    folder = Path(folder)
    wanted = {**dataset_info(num_samples, seed, "".join(charset), label_length, height, width),
              "format": PRACTICE_FORMAT}  # how the folder is drawn, as its record holds it
    reason = redraw_reason(folder, wanted)
    if reason is None:
        print(f"Reusing the {num_samples:,} practice CAPTCHAs in {folder}: its record shows the same arguments")
        return folder
    print(f"Drawing {num_samples:,} practice CAPTCHAs into {folder} ({reason})")
    draw_practice(folder, wanted)
    return folder
