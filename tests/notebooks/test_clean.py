"""Committed notebooks are sources: no outputs, no execution counts, one parameters cell."""

import sys

import nbformat

from nbpaths import NOTEBOOKS, ROOT, read_notebook

sys.path.insert(0, str(ROOT / "tools"))
import colab  # noqa: E402


def test_the_series_is_numbered_without_gaps():
    numbers = [int(path.name[:2]) for path in NOTEBOOKS]
    assert numbers[:2] == [1, 2] and numbers == list(range(1, len(numbers) + 1))


def test_notebook_carries_no_outputs_or_execution_counts(notebook_path):
    dirty = [index for index, cell in enumerate(read_notebook(notebook_path).cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, f"{notebook_path.name}: cells {dirty} carry outputs; clear them before committing"


def test_notebook_has_no_machine_specific_metadata(notebook_path):
    notebook = read_notebook(notebook_path)
    assert set(notebook.metadata) <= {"kernelspec", "language_info"}
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    for cell in notebook.cells:
        assert set(cell.metadata) <= {"tags"}, f"{notebook_path.name}: cell metadata {dict(cell.metadata)}"


def test_notebook_has_exactly_one_parameters_cell_after_its_setup(notebook_path):
    cells = read_notebook(notebook_path).cells
    tagged = [index for index, cell in enumerate(cells) if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{notebook_path.name}: parameters cells at {tagged}"
    setup = next(index for index, cell in enumerate(cells)
                 if cell.cell_type == "code" and "install" not in cell.metadata.get("tags", []))
    assert "import ocr_helpers as oh" in cells[setup].source and setup < tagged[0]
    assert "TF_CPP_MIN_LOG_LEVEL" in cells[setup].source


def test_notebook_opens_with_a_title_and_ends_with_a_link_to_the_next(notebook_path):
    cells = read_notebook(notebook_path).cells
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# ")
    assert cells[-1].cell_type == "markdown" and "## Summary" in cells[-1].source
    assert "## Exercises" in cells[-1].source and "**Next:**" in cells[-1].source


def test_the_next_line_links_to_the_next_notebook(notebook_path):
    following = [path for path in NOTEBOOKS if path.name > notebook_path.name][:1]
    if following:
        assert f"]({following[0].name})" in read_notebook(notebook_path).cells[-1].source


def test_each_notebook_ends_with_references_that_link_to_their_sources(notebook_path):
    last = read_notebook(notebook_path).cells[-1].source
    references = last[last.index("## References"):last.index("**Next:**")]
    assert references.count("](https://") >= 2


def test_every_notebook_and_solution_has_a_colab_link_and_the_install_cell_first():
    url = colab.repository()
    for path in colab.course_notebooks():
        notebook = read_notebook(path)
        expected = colab.with_colab(read_notebook(path), path, url)
        assert nbformat.writes(notebook) == nbformat.writes(expected), f"run tools/colab.py: {path.name} is stale"
        assert notebook.cells[1].metadata["tags"] == ["install"]
        assert f"/blob/main/{path.parent.name}/{path.name})" in notebook.cells[0].source
