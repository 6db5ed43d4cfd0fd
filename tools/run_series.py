"""Execute the notebooks in order with papermill and write executed copies and HTML reports.

Called by `python3 run.py reports [options]`. Each notebook runs in a temporary folder: its report,
and the files it saves to its `artifacts_dir` (trained models), replace the previous ones only when
it has finished, so a failed run keeps the last good reports and models in place. On failure this
prints the notebook, the cell and the error and exits with 1.
"""

import argparse
import ast
import base64
import datetime
import html
import importlib.metadata
import json
import os
import platform
import re
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


# `run.py reports --quick`: the series in a workshop, with shorter training and timing. Its notebooks train on the
# first 8,000 of notebook 01's training images (a file of the defaults' 20,000 serves them too: the first images
# of a dataset do not depend on its size). Measured in docs/measurements.md.
QUICK_TRAIN_SAMPLES = 8_000
QUICK = {
    "01_generate_data": dict(num_train_samples=QUICK_TRAIN_SAMPLES, benchmark_samples=200),
    "02_encode_labels": dict(num_train_samples=QUICK_TRAIN_SAMPLES),
    "03_build_model": dict(num_timing_batches=3, num_timing_rounds=1),
    "04_ctc_loss": dict(num_train_samples=QUICK_TRAIN_SAMPLES, num_epochs=2),
    "05_data_pipeline": dict(num_train_samples=QUICK_TRAIN_SAMPLES, num_timing_batches=5),
    "06_train_and_decode": dict(num_train_samples=QUICK_TRAIN_SAMPLES, num_extra_samples=4_000, num_epochs=2,
                                warmup_epochs=0.3, learning_rate=3e-3, beam_width=3),
    "07_your_own_captchas": dict(num_epochs=8),
    # two epochs, because notebook 08's schedule warms up for one
    "08_export_and_scale": dict(num_train_samples=QUICK_TRAIN_SAMPLES, num_check_samples=256, num_rounds=1,
                                num_single_images=10, num_epochs=2, num_parallel_samples=800),
}


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


HEADLINE_TAG = "headline"  # a cell whose short text output sums up the notebook in the index
PICTURE_TAG = "main-picture"  # the cell whose picture is the notebook's thumbnail (else its first picture)
# In the HTML copies, links to a notebook of the series or to a solutions notebook go to that one's HTML copy:
# reports/NN_name.html and reports/solutions/NN_name.html.
NOTEBOOK_LINKS = [
    (re.compile(r'href="(\d\d_[\w-]+)\.ipynb'), r'href="\1.html'),
    (re.compile(r'href="\.\./solutions/(\d\d_[\w-]+)\.ipynb'), r'href="solutions/\1.html'),
    (re.compile(r'href="\.\./notebooks/(\d\d_[\w-]+)\.ipynb'), r'href="../\1.html'),
]


def tagged_outputs(notebook, tag):
    """Return the outputs of the cells tagged `tag`, in order."""
    return [output for cell in notebook.cells if tag in cell.metadata.get("tags", []) for output in cell.outputs]


def headline(notebook):
    """Return the plain-text result of the notebook's `headline` cells, or ''."""
    texts = [output.get("data", {}).get("text/plain", "") if output.output_type != "stream"
             else output.text if output.name == "stdout" else ""  # not a progress bar on stderr
             for output in tagged_outputs(notebook, HEADLINE_TAG)]
    return " ".join(readable(text.strip()) for text in texts if text.strip())


def readable(text):
    """Return a printed Python value as a person would write it: a dict as `key: value; ...`, no quotes."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text

    def show(item):
        if isinstance(item, dict):
            return "; ".join(f"{show(key)}: {show(entry)}" for key, entry in item.items())
        if isinstance(item, (tuple, list)):
            return ", ".join(map(show, item))
        return str(item)

    return show(value)


def main_picture(notebook):
    """Return the PNG bytes of the notebook's main picture (its `main-picture` cell, else its first), or None."""
    every = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    for output in tagged_outputs(notebook, PICTURE_TAG) + every:
        picture = output.get("data", {}).get("image/png")
        if picture:
            return base64.b64decode(picture)
    return None


def summarize(notebook, name, output):
    """Return the index's headline and thumbnail (written to thumbnails/`name`.png) of an executed notebook."""
    picture, thumbnail = main_picture(notebook), None
    if picture is not None:
        thumbnail = f"thumbnails/{name}.png"
        (output / "thumbnails").mkdir(exist_ok=True)
        with oh.atomic_write(output / thumbnail) as file:
            file.write(picture)
    return {"headline": headline(notebook), "thumbnail": thumbnail}


def cpu_model():
    """Return the processor's model name (from /proc/cpuinfo on Linux), or the platform's word for it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_version(*names):
    """Return the installed version of the first of `names` installed, or None."""
    for name in names:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def machine_summary():
    """Return one line on what ran the series: processor, cores, Keras backend and the libraries' versions."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    versions = {"Keras": package_version("keras"), "TensorFlow": package_version("tensorflow-cpu", "tensorflow"),
                "JAX": package_version("jax") if backend == "jax" else None, "captcha": package_version("captcha"),
                "Python": platform.python_version()}
    listed = ", ".join(f"{name} {version}" for name, version in versions.items() if version)
    return f"{cpu_model()}, {os.cpu_count()} cores; Keras backend {backend}; {listed}"


def write_index(output, runs):
    """Write index.html: the machine, then one row a notebook with its title, status, profile, run time, headline
    result and thumbnail (a click shows the picture at full size)."""
    def row(name, run):
        picture = (f"<a href='{html.escape(run['thumbnail'])}'><img src='{html.escape(run['thumbnail'])}' "
                   f"alt='main picture of {html.escape(name)}' title='click to enlarge'></a>"
                   if run.get("thumbnail") else "")
        status = html.escape(run.get("status", "ran"))
        return (f"<tr><td><a href='{html.escape(name)}.html'>{html.escape(run['title'])}</a>"
                f"<div class='name'>{html.escape(name)} · <a href='{html.escape(name)}.ipynb'>ipynb</a></div></td>"
                f"<td class='{'bad' if status.startswith('failed') else 'good'}'>{status}<div class='name'>"
                f"{html.escape(run['finished'])} · {html.escape(run.get('profile', 'defaults'))}</div></td>"
                f"<td class='time'>{run['seconds'] / 60:.1f} min</td>"
                f"<td>{html.escape(run.get('headline', ''))}</td><td>{picture}</td></tr>")

    rows = "\n".join(row(name, run) for name, run in sorted(runs.items()))
    total = sum(run["seconds"] for run in runs.values())
    profiles = " and ".join(sorted({run.get("profile", "defaults") for run in runs.values()}))
    write_text(output / "index.html", f"""<!doctype html>
<html><head><meta charset="utf-8"><title>CAPTCHA OCR course: reports</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:75em}}td,th{{padding:.4em .8em;border-bottom:1px solid #ddd;
vertical-align:top;text-align:left}}img{{width:24em}}.name{{color:#777;font-size:.85em}}.time{{text-align:right}}
.good{{color:#1a7f37}}.bad{{color:#cf222e}}</style>
</head><body><h1>CAPTCHA OCR course: executed notebooks</h1>
<p>Ran on {html.escape(machine_summary())}. Profile: {html.escape(profiles)}
(<code>python3 run.py reports</code> runs the defaults, <code>python3 run.py reports --quick</code> the workshop
profile). Total run time: <b>{total / 60:.1f} minutes</b>.</p>
<table><tr><th>Notebook</th><th>Status</th><th>Run time</th><th>Result</th><th>Main picture</th></tr>
{rows}
</table>{solutions_list(output)}
</body></html>
""")


# TensorFlow's C++ log from before its logging starts, which TF_CPP_MIN_LOG_LEVEL cannot silence: on CPUs where
# oneDNN's custom operations are on (CPUs with AVX-512), `import tensorflow` in the reports' kernel prints these.
# Also the message of its graph optimizer, printed by MLIR whatever the log level, when two models with different
# numbers of time steps train in one process (notebook 03 times 20 against 40): their CTC loops share a function
# name, so one optimization pass is skipped, and training goes on (notebook 03 says so where it happens).
STARTUP_LOG = re.compile(r"(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
                         r"|[IWEF]\d{4} \d\d:\d\d:[\d.]+ +\d+ \w+\.cc:\d+\] [^\n]*"
                         r"|error: 'tfg\.While' op body function argument #\d+ type [^\n]*)\n")


TQDM_BAR = re.compile(r"[^\n]*\d+%\|[^\n]*\n?")  # a progress bar's line on stderr: its timings are noise in a report


def tidy(notebook, replacements):
    """Coalesce each progress bar to its last state, drop TensorFlow's startup log and empty stream boxes, and
    replace each key of `replacements` (a temporary path) by its value everywhere: sources, outputs and
    papermill's metadata."""
    notebook, _ = CoalesceStreamsPreprocessor().preprocess(notebook, {})
    for cell in notebook.cells:
        if cell.cell_type == "code":
            for output in cell.outputs:
                if output.output_type == "stream" and output.name == "stderr":
                    output.text = TQDM_BAR.sub("", STARTUP_LOG.sub("", output.text))
            cell.outputs = [output for output in cell.outputs
                            if output.output_type != "stream" or output.text.replace("\r", "").strip()]
    text = nbformat.writes(notebook)
    for old, new in replacements.items():
        text = text.replace(json.dumps(old)[1:-1], json.dumps(new)[1:-1])
    return nbformat.reads(text, as_version=4)


def with_parameters_shown(notebook):
    """Return a copy of `notebook` whose papermill-injected cell is a markdown note listing the run's parameters."""
    notebook = nbformat.from_dict(json.loads(json.dumps(notebook)))
    for index, cell in enumerate(notebook.cells):
        if "injected-parameters" in cell.metadata.get("tags", []):
            lines = [line for line in cell.source.splitlines() if line.strip() and not line.startswith("#")]
            listed = "\n".join(f"- `{line.strip()}`" for line in lines)
            notebook.cells[index] = nbformat.v4.new_markdown_cell(
                f"**This run's parameters** (given by `run.py`, they replace the defaults above):\n\n{listed}")
    return notebook


def tidy_and_export(executed, name, folder, replacements=None, published_in=None):
    """Tidy the executed notebook (see `tidy`), then write `name`.ipynb and `name`.html into `folder`.

    In the HTML copy, links to another notebook of the series, or to a solutions notebook, go to its HTML copy,
    and links to the docs (`../docs/...`) lead there from `published_in`, the folder the copy will be published
    in (`folder`'s parent by default).
    """
    notebook = tidy(nbformat.read(executed, as_version=4), replacements or {})
    write_text(folder / f"{name}.ipynb", nbformat.writes(notebook))
    body, _ = nbconvert.HTMLExporter().from_notebook_node(with_parameters_shown(notebook))
    for pattern, replacement in NOTEBOOK_LINKS:
        body = pattern.sub(replacement, body)
    docs = Path(os.path.relpath(ROOT / "docs", Path(published_in or Path(folder).parent).resolve())).as_posix()
    body = body.replace('href="../docs/', f'href="{docs}/')
    write_text(folder / f"{name}.html", body)
    return [folder / f"{name}.ipynb", folder / f"{name}.html"]


def artifacts_setting(notebook, parameters):
    """Return the `artifacts_dir` the notebook runs with (given, or its default), or None if it has none."""
    declared = papermill.inspect_notebook(notebook).get("artifacts_dir")
    if declared is None:
        return None
    return str(parameters.get("artifacts_dir", ast.literal_eval(declared["default"])))


def artifacts_destination(notebook, parameters, cwd):
    """Return the folder where `notebook` saves its artifacts (its `artifacts_dir` parameter), or None."""
    value = artifacts_setting(notebook, parameters)
    return None if value is None else (Path(cwd) / value).resolve()


def publish(paths, folder):
    """Move finished files and folders (a SavedModel) into `folder`, each replacing its older copy."""
    for source in paths:
        if source.is_dir():
            with oh.files.atomic_folder(folder / source.name) as staged:
                shutil.copytree(source, staged, dirs_exist_ok=True)
        else:
            with oh.files.atomic_path(folder / source.name) as staged:
                shutil.copyfile(source, staged)


KERAS_PROGRESS = re.compile(r"^\s*(\d+)/(\d+) ━")  # Keras' progress bar: `  12/625 ━━━━━━━━ 3s 5ms/step`
ANSI_STYLE = re.compile(r"\x1b\[[0-9;]*m")  # Keras writes its bar in bold and colours, even into a notebook


def unfinished_progress(line):
    """Return True for a line of Keras' progress bar before the end of its epoch (the console shows the last)."""
    match = KERAS_PROGRESS.match(line)
    return match is not None and match.group(1) != match.group(2)


class ConsoleEcho:
    """Print each line a notebook writes to its stdout on the console too, above papermill's progress bar, so a
    long cell (training) shows its progress while it runs: one line per epoch, not a bar frozen for minutes."""

    def __init__(self, name):
        self.prefix, self.pending = f"  {name} | ", ""

    def write(self, text):
        lines = ANSI_STYLE.sub("", self.pending + text.replace("\r", "\n").replace("\b", "")).split("\n")
        self.pending = lines.pop()
        for line in filter(str.strip, lines):
            if not unfinished_progress(line):
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


def execute_notebook(notebook, executed, parameters, cwd, label, failed_folder):
    """Run `notebook` into `executed`, echoing its prints on the console; return None, or the error it raised,
    after keeping the partly run copy in `failed_folder` and saying where it failed."""
    try:
        papermill.execute_notebook(notebook, executed, parameters=parameters, cwd=cwd, progress_bar=True,
                                   stdout_file=ConsoleEcho(label))
    except Exception as error:  # noqa: BLE001  (reported, and the caller stops)
        if executed.exists():
            publish([executed], failed_folder)
        explain_failure(label, error, failed_folder / notebook.name)
        return error
    return None


def run_series(notebooks, output, parameters, cwd, profile=None):
    """Execute `notebooks` in order; return 0 if all finished and 1 at the first failure.

    `parameters` go to every notebook; `profile` maps a notebook's name to parameters of its own (QUICK), which
    `parameters` override."""
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
            notebook_parameters = {**(profile or {}).get(name, {}), **parameters}
            if artifacts:
                notebook_parameters["artifacts_dir"] = str(staged_artifacts)
            start = time.perf_counter()
            error = execute_notebook(notebook, executed, notebook_parameters, cwd, name, output / "failed")
            if error is not None:
                cell = getattr(error, "exec_count", None)
                runs[name] = dict(runs.get(name, {}), title=notebook_title(notebook),
                                  seconds=time.perf_counter() - start, thumbnail=None, headline="",
                                  status=f"failed at In [{cell}]" if cell else "failed",
                                  finished=datetime.datetime.now().strftime("%Y-%m-%d %H:%M"))
                write_text(times_path, json.dumps(runs, indent=2))
                write_index(output, runs)
                return 1
            seconds = time.perf_counter() - start
            # the report shows the folder the models end up in, not the temporary one they were saved to
            shown = {str(staged_artifacts): artifacts_setting(notebook, parameters)} if artifacts else {}
            shown[str(scratch)] = str(output)
            try:
                publish(tidy_and_export(executed, name, scratch / "report", shown, published_in=output), output)
                if artifacts and staged_artifacts.is_dir():
                    publish(sorted(staged_artifacts.iterdir()), artifacts)
            except OSError as error:
                print(f"\nFAILED: {name} ran, but writing its report or models failed: {error}. The reports and "
                      f"models written before are as they were; free some space and run it again.", file=sys.stderr)
                return 1
        runs[name] = {"title": notebook_title(notebook), "seconds": seconds, "status": "ran",
                      "finished": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
                      "profile": "--quick (workshop)" if profile else "defaults",
                      **summarize(nbformat.read(output / f"{name}.ipynb", as_version=4), name, output)}
        write_text(times_path, json.dumps(runs, indent=2))
        write_index(output, runs)
        print(f"[{number}/{len(notebooks)}] {name} finished in {seconds:.0f} s -> {output / name}.html", flush=True)
    minutes = (time.perf_counter() - series_start) / 60
    print(f"\nAll {len(notebooks)} notebooks ran in {minutes:.1f} minutes. Open {output / 'index.html'}")
    return 0


def write_solutions(solutions, output, parameters, execute):
    """Write reports/solutions/: each solutions notebook executed (`execute`) or, by default, as it is, so that the
    reports' links to the solutions always open a page. Return 0, or 1 if an executed one failed."""
    folder = output / "solutions"
    output.mkdir(parents=True, exist_ok=True)
    for number, solution in enumerate(solutions, start=1):
        name = solution.stem
        with tempfile.TemporaryDirectory(dir=output, prefix=".running-") as scratch:
            source = solution
            if execute:
                print(f"\n[solutions {number}/{len(solutions)}] {name}", flush=True)
                source = Path(scratch) / solution.name
                start = time.perf_counter()
                if execute_notebook(solution, source, parameters, solution.parent, f"solutions/{name}",
                                    output / "failed" / "solutions") is not None:
                    return 1
                print(f"[solutions {number}/{len(solutions)}] {name} finished in {time.perf_counter() - start:.0f} s "
                      f"-> {folder / name}.html", flush=True)
            report = tidy_and_export(source, name, Path(scratch) / "report", {scratch: str(folder)}, folder)
            publish(report, folder)
    return 0


def solutions_list(output):
    """Return the index's paragraph of links to the solutions pages, or "" if there are none yet."""
    pages = sorted((output / "solutions").glob("*.html"))
    if not pages:
        return ""
    links = ", ".join(f"<a href='solutions/{html.escape(page.name)}'>{html.escape(page.stem[:2])}</a>"
                      for page in pages)
    return (f"<p>Worked solutions of the exercises: {links} (executed by <code>python3 run.py reports --solutions"
            f"</code>, otherwise shown without outputs).</p>")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=ROOT / "reports", help="folder for the reports")
    parser.add_argument("--only", nargs="+", default=[], help="run only notebooks whose name contains one of these")
    parser.add_argument("--quick", action="store_true", help="the workshop profile: shorter training and timing in "
                        "each notebook (QUICK in tools/run_series.py), for a series in minutes")
    parser.add_argument("--solutions", action="store_true",
                        help="also execute the worked solutions (solutions/), after the series, into "
                        "reports/solutions/")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="override a parameter of every notebook run (value read as JSON if it can be)")
    options = parser.parse_args()
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if options.only:
        notebooks = [path for path in notebooks if any(part in path.stem for part in options.only)]
    if not notebooks:
        sys.exit(f"No notebook matches {options.only}; the notebooks are in {ROOT / 'notebooks'}.")
    parameters = {name: parse_value(value) for name, value in options.parameter}
    output = options.output.resolve()
    code = run_series(notebooks, output, parameters, cwd=ROOT / "notebooks", profile=QUICK if options.quick else None)
    if code == 0:
        solutions = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
        if options.only:
            solutions = [path for path in solutions if any(part in path.stem for part in options.only)]
        code = write_solutions(solutions, output, parameters, execute=options.solutions)
        runs = json.loads((output / "run_times.json").read_text())
        write_index(output, runs)
    return code


if __name__ == "__main__":
    sys.exit(main())
