"""Execute the notebooks in order with papermill and write executed copies and HTML reports.

Called by `python3 run.py reports [options]`. Each notebook runs in a temporary folder: its report,
and the files it saves to its `artifacts_dir` (trained models), replace the previous ones only when
it has finished, so a failed run keeps the last good reports and models in place. On failure this
prints the notebook, the cell and the error and exits with 1.
"""

import argparse
import ast
import datetime
import html
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbconvert
import nbformat
import papermill
from nbconvert.preprocessors import CoalesceStreamsPreprocessor
from papermill.exceptions import PapermillExecutionError
from tqdm import tqdm

import ocr_helpers as oh

ROOT = Path(__file__).resolve().parents[1]


def parse_value(text):
    """Read a parameter value as JSON (numbers, true, null, lists) and otherwise as a string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def notebook_title(path):
    """Return the first heading of a notebook's first markdown cell."""
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("# ").strip()
    return path.stem


def write_text(path, text):
    with oh.atomic_write(path, "w") as file:
        file.write(text)


def write_index(output, runs):
    """Write index.html: one row a notebook with its title, run time and when it finished."""
    rows = "\n".join(
        f"<tr><td><a href='{html.escape(name)}.html'>{html.escape(name)}</a></td>"
        f"<td>{html.escape(run['title'])}</td><td style='text-align:right'>{run['seconds']:.0f} s</td>"
        f"<td>{html.escape(run['finished'])}</td><td><a href='{html.escape(name)}.ipynb'>ipynb</a></td></tr>"
        for name, run in sorted(runs.items())
    )
    total = sum(run["seconds"] for run in runs.values())
    write_text(output / "index.html", f"""<!doctype html>
<html><head><meta charset="utf-8"><title>CAPTCHA OCR course: reports</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.3em .8em;border-bottom:1px solid #ddd}}</style>
</head><body><h1>CAPTCHA OCR course: executed notebooks</h1>
<table><tr><th>Notebook</th><th>Topic</th><th>Run time</th><th>Finished</th><th></th></tr>
{rows}
</table><p>Total run time: {total:.0f} s. Made by <code>python3 run.py reports</code>.</p></body></html>
""")


def tidy_and_export(executed, name, folder):
    """Keep only the last state of each progress bar, then write `name`.ipynb and `name`.html into `folder`."""
    notebook = nbformat.read(executed, as_version=4)
    notebook, _ = CoalesceStreamsPreprocessor().preprocess(notebook, {})
    write_text(folder / f"{name}.ipynb", nbformat.writes(notebook))
    body, _ = nbconvert.HTMLExporter().from_notebook_node(notebook)
    write_text(folder / f"{name}.html", body)
    return [folder / f"{name}.ipynb", folder / f"{name}.html"]


def artifacts_destination(notebook, parameters, cwd):
    """Return the folder where `notebook` saves its artifacts (its `artifacts_dir` parameter), or None."""
    declared = papermill.inspect_notebook(notebook).get("artifacts_dir")
    if declared is None:
        return None
    value = parameters.get("artifacts_dir", ast.literal_eval(declared["default"]))
    return (Path(cwd) / value).resolve()


def publish(paths, folder):
    """Move finished files and folders (a SavedModel) into `folder`, each replacing its older copy."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in paths:
        staged, destination = folder / f".{source.name}.incoming", folder / source.name
        if source.is_dir():
            shutil.rmtree(staged, ignore_errors=True)
            shutil.copytree(source, staged)
            old = folder / f".{source.name}.old"
            shutil.rmtree(old, ignore_errors=True)
            if destination.exists():
                os.replace(destination, old)
            os.replace(staged, destination)
            shutil.rmtree(old, ignore_errors=True)
        else:
            shutil.copyfile(source, staged)
            os.replace(staged, destination)


class ConsoleEcho:
    """Print each line a notebook writes to its stdout on the console too, above papermill's progress bar, so a
    long cell (training) shows its progress while it runs: one line per epoch, not a bar frozen for minutes."""

    def __init__(self, name):
        self.prefix, self.pending = f"  {name} | ", ""

    def write(self, text):
        lines = (self.pending + text.replace("\r", "\n")).split("\n")
        self.pending = lines.pop()
        for line in filter(str.strip, lines):
            tqdm.write(self.prefix + line)

    def flush(self):
        pass


def explain_failure(name, error, partial):
    """Print which notebook and cell failed, with the error, and where the partial run is."""
    print(f"\nFAILED: {name}", file=sys.stderr)
    if isinstance(error, PapermillExecutionError):
        print(f"  at In [{error.exec_count}], cell {error.cell_index + 1} of the notebook:", file=sys.stderr)
        print("    " + "\n    ".join(error.source.splitlines()[:8]), file=sys.stderr)
        print(f"  {error.ename}: {error.evalue}", file=sys.stderr)
    else:
        print(f"  {type(error).__name__}: {error}", file=sys.stderr)
    print(f"  The partly executed notebook is at {partial}; earlier reports are unchanged.", file=sys.stderr)


def run_series(notebooks, output, parameters, cwd):
    """Execute `notebooks` in order; return 0 if all finished and 1 at the first failure."""
    output.mkdir(parents=True, exist_ok=True)
    times_path = output / "run_times.json"
    runs = json.loads(times_path.read_text()) if times_path.is_file() else {}
    series_start = time.perf_counter()
    for number, notebook in enumerate(notebooks, start=1):
        name = notebook.stem
        print(f"\n[{number}/{len(notebooks)}] {name}", flush=True)
        artifacts = artifacts_destination(notebook, parameters, cwd)
        with tempfile.TemporaryDirectory(dir=output, prefix=".running-") as scratch:
            scratch = Path(scratch)
            executed, staged_artifacts = scratch / notebook.name, scratch / "artifacts"
            notebook_parameters = dict(parameters, artifacts_dir=str(staged_artifacts)) if artifacts else parameters
            start = time.perf_counter()
            try:
                papermill.execute_notebook(notebook, executed, parameters=notebook_parameters, cwd=cwd,
                                           progress_bar=True, stdout_file=ConsoleEcho(name))
            except Exception as error:
                failed = output / "failed" / notebook.name
                if executed.exists():
                    publish([executed], failed.parent)
                explain_failure(name, error, failed)
                return 1
            seconds = time.perf_counter() - start
            publish(tidy_and_export(executed, name, scratch / "report"), output)
            if artifacts and staged_artifacts.is_dir():
                publish(sorted(staged_artifacts.iterdir()), artifacts)
        runs[name] = {"title": notebook_title(notebook), "seconds": seconds,
                      "finished": datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}
        write_text(times_path, json.dumps(runs, indent=2))
        write_index(output, runs)
        print(f"[{number}/{len(notebooks)}] {name} finished in {seconds:.0f} s -> {output / name}.html", flush=True)
    minutes = (time.perf_counter() - series_start) / 60
    print(f"\nAll {len(notebooks)} notebooks ran in {minutes:.1f} minutes. Open {output / 'index.html'}")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=ROOT / "reports", help="folder for the reports")
    parser.add_argument("--only", nargs="+", default=[], help="run only notebooks whose name contains one of these")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="override a parameter of every notebook run (value read as JSON if it can be)")
    options = parser.parse_args()
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if options.only:
        notebooks = [path for path in notebooks if any(part in path.stem for part in options.only)]
    if not notebooks:
        sys.exit(f"No notebook matches {options.only}; the notebooks are in {ROOT / 'notebooks'}.")
    parameters = {name: parse_value(value) for name, value in options.parameter}
    return run_series(notebooks, options.output.resolve(), parameters, cwd=ROOT / "notebooks")


if __name__ == "__main__":
    sys.exit(main())
