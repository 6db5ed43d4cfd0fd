"""The course's one atomic writer: a file or folder is whole or as it was, even when the process is killed."""

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import pytest

import ocr_helpers.files as files


def test_atomic_write_replaces_the_file_only_when_the_block_succeeds(tmp_path):
    path = tmp_path / "sub" / "data.txt"
    with files.atomic_write(path, "w") as file:
        file.write("first")
    assert path.read_text() == "first"
    with pytest.raises(RuntimeError):
        with files.atomic_write(path, "w") as file:
            file.write("second, half")
            raise RuntimeError("the disk is full")
    assert path.read_text() == "first"
    assert sorted(entry.name for entry in path.parent.iterdir()) == ["data.txt"], "no .partial left behind"


def test_atomic_write_gives_the_permissions_of_a_new_file_and_leaves_the_umask_alone(tmp_path):
    before = os.umask(0o027)
    try:
        with files.atomic_write(tmp_path / "private.txt", "w") as file:
            file.write("x")
        assert stat.S_IMODE((tmp_path / "private.txt").stat().st_mode) == 0o640
        assert os.umask(0o027) == 0o027, "the umask is unchanged"
    finally:
        os.umask(before)


def test_atomic_write_refuses_a_mode_that_does_not_write_anew(tmp_path):
    with pytest.raises(ValueError, match="mode must contain 'w', got 'a'"):
        with files.atomic_write(tmp_path / "log.csv", "a"):
            pass


def test_atomic_path_keeps_the_suffix_and_refuses_a_block_that_wrote_nothing(tmp_path):
    path = tmp_path / "model.keras"
    with files.atomic_path(path) as temporary:
        assert temporary.parent == tmp_path and temporary.name.startswith(".model.keras.")
        assert temporary.suffix == ".keras", "Keras and ONNX choose their format by the suffix"
        temporary.write_bytes(b"model")
    assert path.read_bytes() == b"model"
    with pytest.raises(FileNotFoundError, match="nothing was written"):
        with files.atomic_path(path):
            pass
    assert path.read_bytes() == b"model"


def test_atomic_folder_swaps_the_whole_folder_or_nothing(tmp_path):
    path = tmp_path / "practice"
    with files.atomic_folder(path) as staged:
        (staged / "a.png").write_bytes(b"a")
    with pytest.raises(RuntimeError):
        with files.atomic_folder(path) as staged:
            (staged / "b.png").write_bytes(b"b")
            raise RuntimeError("stopped half-way")
    assert [entry.name for entry in path.iterdir()] == ["a.png"]
    with files.atomic_folder(path) as staged:
        (staged / "c.png").write_bytes(b"c")
    assert [entry.name for entry in path.iterdir()] == ["c.png"]
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["practice"], "no staged or old folder left"


CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[2])
    import files
    target = Path(sys.argv[1])
    with files.atomic_write(target / "file.txt", "w") as file:
        file.write("new, half")
        file.flush()
        with files.atomic_folder(target / "folder") as staged:
            (staged / "new.txt").write_text("new")
            (target / "ready").touch()
            time.sleep(60)
""")


def test_a_process_killed_while_writing_leaves_the_old_file_and_folder_whole(tmp_path):
    (tmp_path / "file.txt").write_text("old")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "old.txt").write_text("old")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), os.path.dirname(files.__file__)])
    for _ in range(600):  # waits for the child to reach its sleep, however slow it is to start
        if (tmp_path / "ready").exists() or child.poll() is not None:
            break
        time.sleep(0.1)
    assert child.poll() is None, "the child ended before it was killed"
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert (tmp_path / "file.txt").read_text() == "old"
    assert [entry.name for entry in (tmp_path / "folder").iterdir()] == ["old.txt"]
    leftovers = [entry.name for entry in tmp_path.iterdir() if entry.name.startswith(".")]
    assert len(leftovers) == 2 and all(".partial" in name for name in leftovers), "only hidden partial copies"
