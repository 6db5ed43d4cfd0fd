"""Run the whole series a second time from nothing and check that every notebook prints the same outputs.

nbval checks each notebook against a re-run of itself, with the data of the first run in place. This checks the
series end to end, as two runs of `python3 run.py test` in a row would: new data, new models, new backups, in
order, and every output equal to the first run's except in cells tagged nbval-ignore-output (timings).
"""

import configparser
import re

import pytest

from nbpaths import NOTEBOOKS, ROOT, TEST_BUILD, execute_series, read_notebook

AGAIN = TEST_BUILD.with_name(f"{TEST_BUILD.name}-again")
SANITIZE = ROOT / "tests" / "notebooks" / "sanitize.cfg"


def sanitizers():
    """Return the (pattern, replacement) pairs of sanitize.cfg, the ones nbval applies."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(SANITIZE)
    return [(re.compile(config[section]["regex"]), config[section]["replace"]) for section in config.sections()]


def output_texts(notebook_path):
    """Return {cell index: [stdout, stderr, results...]} for every code cell whose outputs must repeat."""
    rules = sanitizers()

    def clean(text):
        for pattern, replacement in rules:
            text = pattern.sub(replacement, text)
        return text

    outputs = {}
    for index, cell in enumerate(read_notebook(notebook_path).cells):
        if cell.cell_type != "code" or "nbval-ignore-output" in cell.metadata.get("tags", []):
            continue
        streams = {"stdout": "", "stderr": ""}  # a stream may arrive in more pieces in one run than another
        for output in cell.outputs:
            if output.output_type == "stream":
                streams[output.name] += output.text
        results = [{kind: value if kind.startswith("image/") else clean(value)
                    for kind, value in output.get("data", {}).items()}
                   for output in cell.outputs if output.output_type != "stream"]
        outputs[index] = [clean(streams["stdout"]), clean(streams["stderr"]), *results]
    return outputs


@pytest.fixture(scope="module")
def second_run(first_series):
    """Run the series again from nothing, after the first run (the session's, made on demand)."""
    failed = {name: error for name, error in first_series.items() if error is not None}
    if failed:
        pytest.fail(f"the first run of the series failed in {sorted(failed)}; see test_execute.py")
    second = execute_series(AGAIN)
    failed = {name: error for name, error in second.items() if error is not None}
    if failed:
        pytest.fail(f"the second run of the series failed in {sorted(failed)}: {next(iter(failed.values()))}")
    return AGAIN


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_a_second_run_of_the_series_prints_the_same_outputs(second_run, notebook):
    first, again = output_texts(TEST_BUILD / notebook.name), output_texts(second_run / notebook.name)
    differing = [index for index in first if first[index] != again.get(index)]
    assert not differing, (f"{notebook.name}: cells {differing} printed other outputs in the second run, e.g. "
                           f"{first[differing[0]]!r:.300} against {again.get(differing[0])!r:.300}")
    assert any(any(output) for output in first.values()), "the comparison must have outputs to compare"
