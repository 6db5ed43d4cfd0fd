"""`python3 run.py read PATH...`: one `file<TAB>text<TAB>confidence` row per image, bad files listed at the end.

An untrained model reads garbage, but the same garbage as oh.predict_text on the same fitted images, which is
what these tests check. Most checks call tools/read_command.py's functions directly; the command line runs
as a subprocess four times: once with an ONNX export, once into a pipe closed after its first line.
"""

import csv
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
from PIL import Image

import ocr_helpers as oh

ROOT = Path(__file__).resolve().parents[2]
GOOD = ["a_rgb.png", "b_gray.png", "c_rgba.png", "d_wide.png", "E_UPPER.PNG"]


def load_run_py():
    """Import run.py as a module, to call its functions without a subprocess."""
    spec = importlib.util.spec_from_file_location("run_py", ROOT / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_py = load_run_py()
sys.path.insert(0, str(ROOT / "tools"))
import read_command  # noqa: E402


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = oh.build_model(filters=(4, 8, 8), dense_units=8, rnn_units=4)
    return oh.save_model(model, tmp_path_factory.mktemp("model") / "reader.keras")


@pytest.fixture(scope="module")
def model(model_path):
    return oh.load_model(model_path, compile=False)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A folder of good images of several modes and sizes, a corrupt PNG, a text file and a subfolder."""
    folder = tmp_path_factory.mktemp("captchas")
    images, _ = oh.generate_dataset(4, seed=11, progress=False)
    wide, _ = oh.draw_real_looking(1, seed=3)
    Image.fromarray(images[0]).convert("RGB").save(folder / "a_rgb.png")
    Image.fromarray(images[1]).save(folder / "b_gray.png")
    Image.fromarray(images[2]).convert("RGBA").save(folder / "c_rgba.png")
    Image.fromarray(wide[0]).convert("RGB").save(folder / "d_wide.png")
    Image.fromarray(images[3]).save(folder / "E_UPPER.PNG")
    (folder / "broken.png").write_bytes(np.random.default_rng(0).bytes(500))
    (folder / "notes.txt").write_text("not an image")
    (folder / "inner").mkdir()
    Image.fromarray(images[0]).save(folder / "inner" / "not_read.png")
    return folder


def fitted(model, paths):
    """Fit image files to the model's size as notebook 07 does."""
    height, width = model.input_shape[1:3]
    return np.stack([oh.fit_image(Image.open(path), height, width) for path in paths])


def test_image_paths_lists_a_folders_images_by_name_and_refuses_bad_paths(folder, tmp_path):
    assert [path.name for path in read_command.image_paths([folder])] == sorted(GOOD + ["broken.png"])
    assert read_command.image_paths([folder / "b_gray.png", folder, folder / "b_gray.png"])[0].name == "b_gray.png"
    assert len(read_command.image_paths([folder / "b_gray.png", folder])) == 6, "each file once"
    with pytest.raises(FileNotFoundError, match="No file or folder at .*missing.png"):
        read_command.image_paths([folder / "missing.png"])
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match=f"The folder {tmp_path / 'empty'} holds no image files"):
        read_command.image_paths([tmp_path / "empty"])


def test_confidence_is_the_product_of_the_greedy_steps_probabilities():
    logits = np.log(np.array([[[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]]]))
    assert read_command.confidences(logits) == pytest.approx([0.9 * 0.8 * 0.5])
    assert read_command.confidences(logits + 3.0) == pytest.approx([0.36]), "softmax ignores a shift of the logits"


def test_read_files_agrees_with_predict_text_on_the_fitted_images(model, folder):
    paths = read_command.image_paths([folder])
    rows, failures = read_command.read_files(model, paths, batch_size=4)
    good = [folder / name for name in sorted(GOOD)]
    assert [row[0] for row in rows] == [str(path) for path in good]
    images = fitted(model, good)
    assert [row[1] for row in rows] == oh.predict_text(model, images)
    sure = read_command.confidences(oh.predict_logits(model, images))
    assert [row[2] for row in rows] == pytest.approx(sure, rel=1e-4, abs=1e-12)
    assert all(0 <= row[2] <= 1 for row in rows)
    assert [name for name, _ in failures] == [str(folder / "broken.png")]
    assert "cannot be decoded as an image" in failures[0][1]
    one_batch, _ = read_command.read_files(model, paths, batch_size=256)
    assert [row[:2] for row in one_batch] == [row[:2] for row in rows], "batches do not change the readings"


def test_read_command_exit_codes_and_one_line_messages(model_path, folder, tmp_path, capsys):
    def read(*arguments):
        code = read_command.read_and_print(read_command.read_parser().parse_args([str(part) for part in arguments]))
        out, err = capsys.readouterr()
        return code, out.splitlines(), err.splitlines()

    code, out, err = read(folder / "a_rgb.png", folder / "d_wide.png", "--model", model_path)
    assert code == 0 and err == []
    assert [line.split("\t")[0] for line in out] == [str(folder / "a_rgb.png"), str(folder / "d_wide.png")]
    (tmp_path / "empty").mkdir()
    for arguments, message in [((folder, "--model", tmp_path / "none.keras"), "No model at .*none.keras"),
                               ((tmp_path / "empty", "--model", model_path), "The folder .*empty holds no image"),
                               ((tmp_path / "gone.png", "--model", model_path), "No file or folder at .*gone.png")]:
        code, out, err = read(*arguments)
        assert code == 2 and out == [] and len(err) == 1
        assert err[0].startswith("run.py read: ") and re.search(message, err[0])


def test_read_command_prints_tsv_writes_the_same_csv_and_lists_the_bad_file(model_path, model, folder, tmp_path):
    out_csv = tmp_path / "out" / "readings.csv"
    done = subprocess.run([sys.executable, str(ROOT / "run.py"), "read", str(folder), "--model", str(model_path),
                           "--csv", str(out_csv)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    rows = [line.split("\t") for line in done.stdout.splitlines()]
    assert [Path(row[0]).name for row in rows] == sorted(GOOD)
    assert all(len(row) == 3 and len(row[2]) == 6 and 0 <= float(row[2]) <= 1 for row in rows)
    assert [row[1] for row in rows] == oh.predict_text(model, fitted(model, [row[0] for row in rows]))
    with open(out_csv, newline="") as file:
        assert list(csv.reader(file)) == [["file", "text", "confidence"], *rows]
    assert f"could not read {folder / 'broken.png'}: cannot be decoded" in done.stderr
    assert "1 of 6 files could not be read" in done.stderr.splitlines()[-1]
    assert "notes.txt" not in done.stderr and "not_read" not in done.stdout


def test_read_command_from_outside_the_environment_shows_progress_on_stderr(model_path, folder, tmp_path):
    python = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    if not python.exists() or not run_py.STAMP.is_file() or run_py.STAMP.read_text() != run_py.install_stamp():
        pytest.skip("needs the Python .venv was made from, and .venv installed")
    many = tmp_path / "many"
    many.mkdir()
    picture = (folder / "b_gray.png").read_bytes()
    for index in range(read_command.PROGRESS_FROM + 1):
        (many / f"{index:03d}.png").write_bytes(picture)
    done = subprocess.run([str(python), str(ROOT / "run.py"), "read", str(many), "--model", str(model_path)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == read_command.PROGRESS_FROM + 1 and all(line.count("\t") == 2 for line in lines)
    assert len({line.split("\t", 1)[1] for line in lines}) == 1, "the same picture reads the same"
    assert "Reading" in done.stderr and "101/101" in done.stderr


def test_read_command_reads_an_onnx_export_like_its_keras_model_without_importing_keras(model, folder, tmp_path):
    onnx_path = oh.export_onnx(model, tmp_path / "reader.onnx")
    expected, _ = read_command.read_files(model, read_command.image_paths([folder]))
    probe = (f"import runpy, sys\nsys.argv = ['read_command.py', *sys.argv[1:]]\n"
             f"try:\n    runpy.run_path({str(ROOT / 'tools' / 'read_command.py')!r}, run_name='__main__')\n"
             f"finally:\n    print('keras imported' if 'keras' in sys.modules else 'no keras', file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", probe, str(folder), "--model", str(onnx_path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr  # broken.png
    rows = [line.split("\t") for line in done.stdout.splitlines()]
    assert [row[:2] for row in rows] == [[file, text] for file, text, _ in expected]
    assert [float(row[2]) for row in rows] == pytest.approx([sure for *_, sure in expected], abs=2e-4)
    assert done.stderr.splitlines()[-1] == "no keras"


def test_read_command_stops_quietly_when_its_pipe_closes_and_still_writes_the_csv(model_path, folder, tmp_path):
    many = tmp_path / "many"
    many.mkdir()
    picture = (folder / "b_gray.png").read_bytes()
    for index in range(600):  # rows of over 200 characters: 600 of them fill more than a pipe's 64 KiB
        (many / f"{index:03d}_{'x' * 200}.png").write_bytes(picture)
    out_csv = tmp_path / "readings.csv"
    pipe_out, pipe_in = os.pipe()
    first_line = "import sys\nsys.stdout.write(sys.stdin.readline())"  # `head -1`
    head = subprocess.Popen([sys.executable, "-c", first_line], stdin=pipe_out, stdout=subprocess.PIPE, text=True)
    reader = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "read", str(many), "--model", str(model_path),
                               "--csv", str(out_csv)], stdout=pipe_in, stderr=subprocess.PIPE, text=True)
    os.close(pipe_out), os.close(pipe_in)  # the pipe is the two processes' alone: it closes when `head` ends
    shown, _ = head.communicate(timeout=300)
    _, stderr = reader.communicate(timeout=300)
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert reader.returncode == read_command.PIPE_CLOSED, f"the pipe never closed on the reader:\n{stderr}"
    assert shown.split("\t")[0] == str(many / f"000_{'x' * 200}.png") and shown.count("\n") == 1
    with open(out_csv, newline="") as file:
        assert len(list(csv.reader(file))) == 1 + 600, "the CSV holds every row"
