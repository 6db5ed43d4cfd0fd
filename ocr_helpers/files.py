"""Write files and folders so that a half-written one never stands where a finished one should.

Every writer of the course goes through this module (run.py loads it by its path, before the package's
environment exists, so it uses the standard library only). Each function writes beside its target, under a
hidden name ending in `.partial`, and moves the result onto the target in one `os.replace` only once it is
complete: a crash, a full disk or a Ctrl-C leaves the earlier file or folder as it was, and at worst a hidden
`.partial` beside it.
"""

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
    """Yield a temporary path beside `path` for a library that writes a file by name (Keras, ONNX); move the
    file onto `path` only if the block succeeds. The temporary name keeps `path`'s suffix unless `suffix` is given.
    """
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
    """Open a temporary file beside `path` with `mode` ('wb' or 'w'); move it onto `path` if the block succeeds.

    The file gets the permissions of any new file (0o666 less the process umask), as open() gives.
    """
    if "w" not in mode:
        raise ValueError(f"atomic_write writes a file anew: mode must contain 'w', got {mode!r}")
    with atomic_path(path) as temporary:
        with open(temporary, mode) as file:  # open applies the umask itself: nothing here reads or changes it
            yield file


@contextlib.contextmanager
def atomic_folder(path):
    """Yield an empty temporary folder beside `path` to fill; put it in `path`'s place if the block succeeds.

    The old folder is renamed aside, the new one renamed in, then the old one deleted: a crash between the two
    renames (microseconds) leaves `path` missing and the old folder whole, as `.NAME.*.partial.old` beside it.
    """
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
