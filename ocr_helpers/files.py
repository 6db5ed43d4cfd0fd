"""Write files and folders beside their target and move them into place once complete (standard library only)."""

import contextlib
import os
import secrets
import shutil
from pathlib import Path


def partial_path(path, suffix=""):
    """Return a new hidden path beside `path` for its unfinished copy (ending in `suffix`, e.g. '.keras')."""
    path = Path(path)
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial{suffix}")


def sync_file(path):
    """Flush a file's data to the disk, so a power cut after the rename cannot leave it empty."""
    with open(path, "rb") as file:
        os.fsync(file.fileno())


def move_into_place(temporary, path):
    """Flush the finished file `temporary` to the disk and move it onto `path` in one step."""
    sync_file(temporary)
    os.replace(temporary, path)


@contextlib.contextmanager
def atomic_path(path, suffix=None):
    """Yield a temporary path beside `path` for a library to write to; move it onto `path` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = partial_path(path, path.suffix if suffix is None else suffix)
    try:
        yield temporary
        if not temporary.is_file():
            raise FileNotFoundError(f"nothing was written to {temporary}, so {path} was left as it was")
        move_into_place(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file beside `path` with `mode`; move it onto `path` if the block succeeds."""
    if "w" not in mode:
        raise ValueError(f"atomic_write writes a file anew: mode must contain 'w', got {mode!r}")
    with atomic_path(path) as temporary:
        with open(temporary, mode) as file:  # open applies the umask itself: nothing here reads or changes it
            yield file


@contextlib.contextmanager
def atomic_folder(path):
    """Yield an empty temporary folder beside `path` to fill; put it in `path`'s place if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = partial_path(path)
    staged.mkdir()
    try:
        yield staged
        old = staged.with_name(staged.name + ".old")
        if path.exists():
            os.replace(path, old)
        os.replace(staged, path)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
