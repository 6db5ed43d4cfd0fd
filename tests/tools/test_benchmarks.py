"""The benchmarks: one script a question, one argument style, and a --help that says what each measures.

Read from the scripts' source, without running them (each would import Keras and measure for minutes).
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "benchmarks").glob("*.py"))
# one name for one thing: a model file is --model-path, a count is --num-…; the left-hand names were in use once
RETIRED_FLAGS = {"--rounds": "--num-rounds", "--timing-batches": "--num-batches", "--images": "--num-samples",
                 "--num-images": "--num-samples", "--single-images": "--num-single-images", "--epochs": "--num-epochs"}


def parser_calls(tree, function):
    """Return the calls of `parser.<function>` or `argparse.<function>` in a parsed script."""
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute) and node.func.attr == function]


def test_nine_benchmarks_at_most_each_listed_once_in_the_measurements():
    (table,) = [part for part in (ROOT / "docs" / "measurements.md").read_text().split("\n## ")
                if part.startswith("The benchmarks\n")]
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert 0 < len(SCRIPTS) <= 9
    listed = {path.name: sum(f"`benchmarks/{path.name}`" in row for row in rows) for path in SCRIPTS}
    assert all(count == 1 for count in listed.values()), f"rows of each script in the table: {listed}"


@pytest.mark.parametrize("path", SCRIPTS, ids=[path.stem for path in SCRIPTS])
def test_a_benchmark_says_what_it_measures_and_names_its_options_in_one_style(path):
    tree = ast.parse(path.read_text())
    usage = ast.get_docstring(tree)
    assert usage and f"benchmarks/{path.name}" in usage, "the docstring opens with what it measures and a command"
    (parser,) = parser_calls(tree, "ArgumentParser")
    description = {keyword.arg: keyword.value for keyword in parser.keywords}.get("description")
    assert isinstance(description, ast.Name) and description.id == "__doc__", "--help shows the whole docstring"
    for call in parser_calls(tree, "add_argument"):
        flag = call.args[0].value
        keywords = {keyword.arg for keyword in call.keywords}
        assert "help" in keywords, f"{flag} has no help text"
        assert flag not in RETIRED_FLAGS, f"{flag} is called {RETIRED_FLAGS[flag]} in the other benchmarks"
        if flag == "--model":
            assert "type" in keywords, "--model is build_model's keyword arguments as JSON; a file is --model-path"
