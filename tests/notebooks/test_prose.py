"""The notebooks' prose types no figure of a run: a code cell prints it, so a report agrees with itself anywhere.

A percentage, a duration, a speed or a speed-up typed in markdown is a figure of one run on one machine; it goes
stale the day the code, the data or the machine changes (issue 39 found 134 of them). Figures of the course's
fixed design (image size, label length, characters, epochs of a parameter's default) are not of this kind and
are allowed below, each with its reason. Figures of other runs belong in docs/measurements.md.
"""

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))
MAX_WORDS_PER_NOTEBOOK = 1_500  # issue 39: a notebook's prose fits its part of a three-hour workshop
MAX_WORDS_IN_SERIES = 10_000

NUMBER = r"\d[\d,]*(?:\.\d+)?"
RUN_FIGURES = {
    "percentage": rf"{NUMBER}\s?(?:%|percent\b|per cent\b)",
    "duration": rf"{NUMBER}\s?(?:-|to|–)?\s?(?:{NUMBER}\s?)?(?:ms|milliseconds?|s|seconds?|sec|min|minutes?|h|hours?)\b",
    "speed": rf"{NUMBER}\s(?:images|steps|batches|CAPTCHAs|samples)(?:\s(?:a|per)\s|\s?/\s?)(?:second|s)\b"
             rf"|{NUMBER}\s?/s\b",
    "speed-up": rf"{NUMBER}\s?(?:x|×)(?!\s?\d)|{NUMBER}\stimes\s(?:as\s(?:fast|slow|long)|faster|slower)",
}

# Each allowance: (notebook stem or "*", exact text of the figure, why it is not a figure of a run).
ALLOWED = [
]
# Run times, the header's and the homework's too, are figures of a run: docs/workshop.md gives them, measured.
RUN_TIMES_LINK = "(../docs/workshop.md#run-times)"


def markdown_text(path):
    """Return the markdown of a notebook with code spans, code blocks and link targets left out."""
    text = "\n\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown")
    text = re.sub(r"```.*?```", " ", text, flags=re.DOTALL)
    text = re.sub(r"`[^`]*`", " ", text)
    return re.sub(r"\]\([^)]*\)", "]", text)


def typed_figures(path):
    """Return (kind, text) for every run figure typed in the notebook's markdown and not allowed above."""
    text = markdown_text(path)
    allowed = {figure for stem, figure, _ in ALLOWED if stem in ("*", path.stem)}
    found = []
    for kind, pattern in RUN_FIGURES.items():
        found += [(kind, match.group(0)) for match in re.finditer(pattern, text) if match.group(0) not in allowed]
    return found


def prose_words(path):
    """Return the number of words in the notebook's markdown, code blocks and spans included."""
    cells = nbformat.read(path, as_version=4).cells
    return sum(len(cell.source.split()) for cell in cells if cell.cell_type == "markdown")


def test_the_patterns_catch_the_figures_issue_39_found_and_pass_fixed_ones(tmp_path):
    samples = {"97.30% of them": "percentage", "in 8 minutes": "duration", "about 440 images a second": "speed",
               "2.7x as fast": "speed-up", "4 to 6 ms": "duration", "3,037 images/s": "speed",
               "2.7 times as fast": "speed-up"}
    for sample, kind in samples.items():
        assert [found for found, _ in
                [(k, m.group(0)) for k, p in RUN_FIGURES.items() for m in re.finditer(p, sample)]] == [kind], sample
    for fixed in ("images of 60×160 pixels", "5 characters", "blank index 0", "4 epochs", "the `97.3%` in code"):
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(fixed)])
        nbformat.write(notebook, tmp_path / "n.ipynb")
        assert typed_figures(tmp_path / "n.ipynb") == [], fixed


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_markdown_types_no_figure_of_a_run(path):
    found = typed_figures(path)
    assert not found, (f"{path.relative_to(ROOT)} types figures of a run in its markdown: {found}. Print them from "
                       f"a code cell, or move them to docs/measurements.md")


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda path: path.stem)
def test_a_notebook_has_at_most_1500_words_of_prose(path):
    assert prose_words(path) <= MAX_WORDS_PER_NOTEBOOK


def test_the_series_has_at_most_10000_words_of_prose():
    assert sum(map(prose_words, sorted((ROOT / "notebooks").glob("*.ipynb")))) <= MAX_WORDS_IN_SERIES


def test_each_header_names_the_workshop_profile_and_links_the_measured_run_times():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        header = nbformat.read(path, as_version=4).cells[0].source
        assert "--quick" in header, f"{path.name}'s header should name the workshop profile (run.py reports --quick)"
        assert RUN_TIMES_LINK in header, f"{path.name}'s header should link its run time in docs/workshop.md"
