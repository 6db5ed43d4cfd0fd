"""The main job (tools/run_series.py) reports each notebook and stops clearly at a failure."""

import json
import os
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import run_series  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def write_notebook(path, *sources):
    cells = [new_markdown_cell(f"# Title of {path.stem}")] + [new_code_cell(source) for source in sources]
    cells[1].metadata["tags"] = ["parameters"]
    notebook = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                  "language": "python"}})
    nbformat.write(notebook, path)
    return path


def test_a_good_series_writes_reports_and_an_index(tmp_path):
    first = write_notebook(tmp_path / "01_first.ipynb", "print('hello from one')")
    second = write_notebook(tmp_path / "02_second.ipynb", "size = 2", "size * 21")
    output = tmp_path / "reports"
    assert run_series.run_series([first, second], output, {"size": 3}, cwd=tmp_path) == 0
    assert sorted(path.name for path in output.iterdir()) == [
        "01_first.html", "01_first.ipynb", "02_second.html", "02_second.ipynb", "index.html", "run_times.json"]
    executed = nbformat.read(output / "02_second.ipynb", as_version=4)
    assert executed.cells[-1].outputs[0]["data"]["text/plain"] == "63", "the parameter must be injected"
    index = (output / "index.html").read_text()
    assert "Title of 01_first" in index and "02_second.html" in index
    assert set(json.loads((output / "run_times.json").read_text())) == {"01_first", "02_second"}


def test_what_a_notebook_prints_shows_on_the_console_while_it_runs(tmp_path, capsys):
    loop = "import time\nfor epoch in range(1, 4):\n    print(f'Epoch {epoch}/3: loss {4 - epoch}', flush=True)"
    notebook = write_notebook(tmp_path / "06_train.ipynb", "x = 1", loop, "'a result, not a print'")
    assert run_series.run_series([notebook], tmp_path / "reports", {}, cwd=tmp_path) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  06_train | ")]
    assert lines == [f"  06_train | Epoch {epoch}/3: loss {4 - epoch}" for epoch in (1, 2, 3)]


def test_a_failing_notebook_names_the_cell_keeps_earlier_reports_and_returns_1(tmp_path, capsys):
    good = write_notebook(tmp_path / "01_good.ipynb", "1 + 1")
    output = tmp_path / "reports"
    assert run_series.run_series([good], output, {}, cwd=tmp_path) == 0
    report_before = (output / "01_good.html").read_bytes()
    bad = write_notebook(tmp_path / "02_bad.ipynb", "x = 1", "raise ValueError('the label 7k3px is bad')")
    never = write_notebook(tmp_path / "03_never.ipynb", "1")
    assert run_series.run_series([bad, never], output, {}, cwd=tmp_path) == 1
    message = capsys.readouterr().err
    assert "FAILED: 02_bad" in message and "at In [2], cell 3 of the notebook" in message
    assert "ValueError: the label 7k3px is bad" in message
    assert (output / "01_good.html").read_bytes() == report_before
    assert not (output / "02_bad.html").exists() and not (output / "03_never.ipynb").exists()
    assert (output / "failed" / "02_bad.ipynb").is_file()
    assert "failed at In [2]" in (output / "index.html").read_text()
    assert not [path for path in output.iterdir() if path.name.startswith(".running")]


def test_a_model_is_replaced_only_when_its_notebook_finishes(tmp_path):
    save = ("from pathlib import Path\nPath(artifacts_dir).mkdir(exist_ok=True)\n"
            "(Path(artifacts_dir) / 'model.keras').write_text(version)")
    parameters = "artifacts_dir = 'artifacts'\nversion = 'one'"
    trainer = write_notebook(tmp_path / "06_train.ipynb", parameters, save)
    output, artifacts = tmp_path / "reports", tmp_path / "artifacts"
    assert run_series.run_series([trainer], output, {}, cwd=tmp_path) == 0
    assert (artifacts / "model.keras").read_text() == "one"
    crashing = write_notebook(tmp_path / "06_train.ipynb", parameters.replace("one", "two"), save,
                              "raise RuntimeError('the kernel died after saving')")
    assert run_series.run_series([crashing], output, {}, cwd=tmp_path) == 1
    assert (artifacts / "model.keras").read_text() == "one", "the last good model stays"
    write_notebook(tmp_path / "06_train.ipynb", parameters, save)
    assert run_series.run_series([trainer], output, {"version": "three"}, cwd=tmp_path) == 0
    assert (artifacts / "model.keras").read_text() == "three"
    assert sorted(path.name for path in artifacts.iterdir()) == ["model.keras"]


def test_a_full_disk_while_writing_a_report_keeps_the_earlier_one_and_names_the_cause(tmp_path, capsys,
                                                                                     monkeypatch):
    import errno
    import shutil

    notebook = write_notebook(tmp_path / "01_first.ipynb", "version = 'one'", "print(version)")
    output = tmp_path / "reports"
    assert run_series.run_series([notebook], output, {}, cwd=tmp_path) == 0
    before = {path.name: path.read_bytes() for path in output.iterdir() if path.suffix in (".html", ".ipynb")}
    copy = shutil.copyfile

    def full_disk(source, destination, *args, **kwargs):
        if str(destination).endswith(".ipynb"):  # the report's first file
            copy(source, destination)  # all of it written but the last block, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device", str(destination))
        return copy(source, destination, *args, **kwargs)

    monkeypatch.setattr(run_series.shutil, "copyfile", full_disk)
    assert run_series.run_series([notebook], output, {"version": "two"}, cwd=tmp_path) == 1
    message = capsys.readouterr().err
    assert "FAILED: 01_first ran, but writing its report or models failed: [Errno 28] No space left" in message
    assert {name: (output / name).read_bytes() for name in before} == before, "the earlier report stays whole"
    assert not [path.name for path in output.iterdir() if path.name.startswith(".")], "no partial file is left"


def test_reports_link_to_html_show_the_final_folder_and_the_index_sums_each_notebook_up(tmp_path):
    import base64
    import io

    from PIL import Image

    png = io.BytesIO()
    Image.new("L", (8, 4), 128).save(png, format="PNG")
    cells = [new_markdown_cell("# Train it\n\nThen [07](07_next.ipynb)."),
             new_code_cell("artifacts_dir = 'artifacts'"),
             new_code_cell("import sys\nprint(f'saving to {artifacts_dir}')\nsys.stderr.write('\\r')"),
             new_code_cell("{'greedy': ('95.5% right', 'CER 1.0%')}"),
             new_code_cell(f"import base64\nfrom IPython.display import Image, display\n"
                           f"display(Image(data=base64.b64decode('{base64.b64encode(png.getvalue()).decode()}')))")]
    cells[1].metadata["tags"], cells[3].metadata["tags"] = ["parameters"], ["headline"]
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                      "language": "python"}}),
                   tmp_path / "06_train.ipynb")
    output = tmp_path / "reports"
    assert run_series.run_series([tmp_path / "06_train.ipynb"], output, {}, cwd=tmp_path) == 0
    report, page = (output / "06_train.ipynb").read_text(), (output / "06_train.html").read_text()
    assert ".running-" not in report and ".running-" not in page, "no temporary folder shows in a report"
    executed = nbformat.read(output / "06_train.ipynb", as_version=4)
    printed = [output.text for cell in executed.cells if cell.cell_type == "code" for output in cell.outputs
               if output.output_type == "stream"]
    assert printed == ["saving to artifacts\n"], "the final folder shows, and no empty stderr box"
    assert 'href="07_next.html"' in page and "07_next.ipynb" not in page
    index = (output / "index.html").read_text()
    assert "greedy: 95.5% right, CER 1.0%" in index and "Train it" in index and "src='thumbnails/06_train.png'" in index
    assert (output / "thumbnails" / "06_train.png").read_bytes() == png.getvalue()
    assert json.loads((output / "run_times.json").read_text())["06_train"]["status"] == "ran"


def add_markdown(path, text):
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(new_markdown_cell(text))
    nbformat.write(notebook, path)
    return path


def test_solutions_get_pages_and_links_between_reports_and_solutions_go_to_them(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "solutions").mkdir()
    lesson = add_markdown(write_notebook(tmp_path / "notebooks" / "01_first.ipynb", "1"),
                          "[the solutions](../solutions/01_first.ipynb)")
    solution = add_markdown(write_notebook(tmp_path / "solutions" / "01_first.ipynb", "answer = 6 * 7", "answer"),
                            "[back](../notebooks/01_first.ipynb)")
    output = tmp_path / "reports"
    assert run_series.run_series([lesson], output, {}, cwd=tmp_path / "notebooks") == 0
    assert run_series.write_solutions([solution], output, {}, execute=False) == 0
    assert 'href="solutions/01_first.html"' in (output / "01_first.html").read_text()
    assert 'href="../01_first.html"' in (output / "solutions" / "01_first.html").read_text()
    shown = nbformat.read(output / "solutions" / "01_first.ipynb", as_version=4)
    assert shown.cells[-2].outputs == [], "without --solutions, a solution is shown as it is"
    assert run_series.write_solutions([solution], output, {}, execute=True) == 0
    executed = nbformat.read(output / "solutions" / "01_first.ipynb", as_version=4)
    assert executed.cells[-2].outputs[0]["data"]["text/plain"] == "42"
    run_series.write_index(output, json.loads((output / "run_times.json").read_text()))
    assert "href='solutions/01_first.html'" in (output / "index.html").read_text()


def test_a_failing_solution_is_named_and_returns_1(tmp_path, capsys):
    (tmp_path / "solutions").mkdir()
    solution = write_notebook(tmp_path / "solutions" / "02_bad.ipynb", "x = 1", "raise ValueError('no answer')")
    assert run_series.write_solutions([solution], tmp_path / "reports", {}, execute=True) == 1
    assert "FAILED: solutions/02_bad" in capsys.readouterr().err
    assert (tmp_path / "reports" / "failed" / "solutions" / "02_bad.ipynb").is_file()
    assert not (tmp_path / "reports" / "solutions" / "02_bad.html").exists()


def test_the_quick_profile_sets_only_parameters_its_notebooks_declare():
    import papermill

    notebooks = {path.stem: path for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert set(run_series.QUICK) <= set(notebooks)
    for name, parameters in run_series.QUICK.items():
        declared = papermill.inspect_notebook(notebooks[name])
        assert set(parameters) <= set(declared), f"{name} has no parameter {set(parameters) - set(declared)}"
    # every notebook that loads notebook 01's training file asks for as many images as 01 drew, or it draws again
    sizes = {name: run_series.QUICK.get(name, {}).get("num_train_samples")
             for name, path in notebooks.items() if "num_train_samples" in papermill.inspect_notebook(path)}
    assert set(sizes.values()) == {run_series.QUICK_TRAIN_SAMPLES}, sizes


def test_a_profile_gives_each_notebook_its_own_parameters_and_the_common_ones_win(tmp_path):
    first = write_notebook(tmp_path / "01_first.ipynb", "size = 1\nname = 'one'", "size, name")
    output = tmp_path / "reports"
    profile = {"01_first": {"size": 5, "name": "profile"}, "02_other": {"size": 9}}
    assert run_series.run_series([first], output, {"name": "given"}, cwd=tmp_path, profile=profile) == 0
    executed = nbformat.read(output / "01_first.ipynb", as_version=4)
    assert executed.cells[-1].outputs[0]["data"]["text/plain"] == "(5, 'given')"


def test_tidy_drops_tensorflows_startup_log_and_keeps_other_warnings():
    startup = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
               "I0000 00:00:1796164637.505822    3294 port.cc:153] oneDNN custom operations are on. You may see "
               "slightly different numerical results. To turn them off, set `TF_ENABLE_ONEDNN_OPTS=0`.\n"
               "error: 'tfg.While' op body function argument #4 type 'tensor<20x32x12xf32>' is not compatible with "
               "corresponding operand type: 'tensor<40x32x12xf32>'\n"
               "E0000 00:00:1796220356.277153    2933 meta_optimizer.cc:967] tfg_optimizer{any(tfg-toposort)} failed: "
               "INVALID_ARGUMENT: MLIR Graph Optimizer failed: \n")
    cell = new_code_cell("import keras")
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text=startup),
                    nbformat.v4.new_output("stream", name="stdout", text=startup),
                    nbformat.v4.new_output("stream", name="stderr", text=startup + "UserWarning: a real one\n")]
    tidied = run_series.tidy(new_notebook(cells=[cell]), {})
    assert [(output.name, output.text) for output in tidied.cells[0].outputs] == [
        ("stdout", startup), ("stderr", "UserWarning: a real one\n")]


def test_the_index_names_the_machine_backend_versions_profile_and_total_minutes(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    notebook = write_notebook(tmp_path / "01_first.ipynb", "x = 1", "x")
    output = tmp_path / "reports"
    assert run_series.run_series([notebook], output, {}, cwd=tmp_path, profile=run_series.QUICK) == 0
    index = (output / "index.html").read_text()
    assert f"{os.cpu_count()} cores; Keras backend tensorflow; Keras {run_series.package_version('keras')}" in index
    assert run_series.cpu_model() in index and "captcha " in index
    assert "Profile: --quick (workshop)" in index and "Total run time: <b>" in index and " minutes</b>" in index


def test_the_console_shows_a_keras_epoch_once_not_every_step(capsys):
    echo = run_series.ConsoleEcho("04_ctc_loss")
    echo.write("Epoch 1/2\n")
    for step in range(1, 4):  # as Keras writes its bar into a notebook: bold counts, coloured bar
        echo.write(f"\r\x1b[1m{step}/3\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m1s\x1b[0m "
                   f"5ms/step - loss: {9 - step}.0")
    echo.write(" - val_loss: 5.0\nTrained\n")
    assert capsys.readouterr().out.splitlines() == [
        "  04_ctc_loss | Epoch 1/2", "  04_ctc_loss | 3/3 ━━━━━━━━━━━━━━━━━━━━ 1s 5ms/step - loss: 6.0 - val_loss: 5.0",
        "  04_ctc_loss | Trained"]


def test_reports_drop_progress_bars_and_show_the_injected_parameters_as_a_note(tmp_path):
    bar = "import sys\nprint('drawing: 100%|██████████| 96/96 [00:01<00:00, 75.2it/s]', file=sys.stderr)\nprint('kept')"
    notebook = write_notebook(tmp_path / "01_first.ipynb", "size = 2", bar)
    output = tmp_path / "reports"
    assert run_series.run_series([notebook], output, {"size": 3}, cwd=tmp_path) == 0
    executed = nbformat.read(output / "01_first.ipynb", as_version=4)
    streams = [output for cell in executed.cells if cell.cell_type == "code" for output in cell.outputs]
    assert [(output.name, output.text) for output in streams] == [("stdout", "kept\n")], "no stderr box is left"
    page = (output / "01_first.html").read_text()
    assert "This run&#39;s parameters" in page or "This run's parameters" in page
    assert "<code>size = 3</code>" in page


def test_links_to_the_docs_lead_there_from_wherever_the_reports_are_published(tmp_path):
    import re

    notebook = write_notebook(tmp_path / "01_first.ipynb", "x = 1")
    cells = nbformat.read(notebook, as_version=4)
    cells.cells.append(new_markdown_cell("See [the guide](../docs/guide.md#stop-continue-and-what-survives-a-fault)."))
    nbformat.write(cells, notebook)
    output = tmp_path / "somewhere" / "reports"
    assert run_series.run_series([notebook], output, {}, cwd=tmp_path) == 0
    targets = re.findall(r'href="([^"]*guide\.md)', (output / "01_first.html").read_text())
    assert targets and all((output / target).resolve() == ROOT / "docs" / "guide.md" for target in targets)
