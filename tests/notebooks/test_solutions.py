"""The worked solutions of every notebook's exercises: they match the exercises, and they run.

Each solutions notebook runs at small parameters after the series, in its build folder, so that it uses the data
and the models the series saved there. The TensorFlow half of the test command runs one of them and the JAX half
the others (SOLUTIONS_ON); test_every_solution_runs_on_one_backend checks that together they cover all.
"""

import re

import pytest

from nbpaths import (BACKEND, NOTEBOOKS, SOLUTION_TEST_PARAMETERS, SOLUTIONS, SOLUTIONS_ON, TEST_BUILD,
                     execute_solution, read_notebook)


def exercises_of(notebook):
    """Return the numbered exercises of a notebook's last cell, as {number: text}."""
    last = read_notebook(notebook).cells[-1].source
    section = last[last.index("## Exercises"):last.index("## References")]
    return {int(number): text.strip() for number, text in re.findall(r"^(\d+)\. (.+)$", section, re.MULTILINE)}


def solved_exercises(solution):
    """Return the exercises a solutions notebook answers, as {number: the quoted text}."""
    solved = {}
    for cell in read_notebook(solution).cells:
        found = re.match(r"## Exercise (\d+)\n\n> (.+)", cell.source, re.DOTALL)
        if cell.cell_type == "markdown" and found:
            solved[int(found[1])] = found[2].strip()
    return solved


def test_every_notebook_has_a_solutions_notebook():
    assert [path.name for path in SOLUTIONS] == [path.name for path in NOTEBOOKS]
    assert sorted(SOLUTION_TEST_PARAMETERS) == [path.stem for path in SOLUTIONS]


def test_every_solution_runs_on_one_backend():
    names = SOLUTIONS_ON["tensorflow"] + SOLUTIONS_ON["jax"]
    assert sorted(names) == [path.stem for path in SOLUTIONS] and len(set(names)) == len(names)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_every_exercise_has_a_worked_solution(notebook):
    exercises = exercises_of(notebook)
    solution = notebook.parents[1] / "solutions" / notebook.name
    assert exercises and solved_exercises(solution) == exercises
    assert f"](../solutions/{notebook.name})" in read_notebook(notebook).cells[-1].source


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_every_notebook_asks_for_code_in_an_exercise(notebook):
    # an exercise may say first when it is done (**In class**: or **Homework** (time):), then that it asks for code
    asks_for_code = r"(\*\*(In class|Homework)\*\*( \([^)]*\))?: )?\*\*Code:\*\*"
    assert any(re.match(asks_for_code, text) for text in exercises_of(notebook).values())


@pytest.mark.parametrize("solution", SOLUTIONS, ids=[path.stem for path in SOLUTIONS])
def test_solutions_notebook_is_clean_and_has_one_parameters_cell(solution):
    cells = read_notebook(solution).cells
    assert not [cell for cell in cells if cell.cell_type == "code" and (cell.outputs or cell.execution_count)]
    assert [i for i, cell in enumerate(cells) if "parameters" in cell.metadata.get("tags", [])] == [4]
    assert "TF_CPP_MIN_LOG_LEVEL" in cells[3].source and "import ocr_helpers as oh" in cells[3].source


ON_THIS_BACKEND = [path for path in SOLUTIONS if path.stem in SOLUTIONS_ON.get(BACKEND, [])]


@pytest.mark.parametrize("solution", ON_THIS_BACKEND, ids=[path.stem for path in ON_THIS_BACKEND])
def test_solutions_run_at_test_parameters(first_series, solution):
    failed = [name for name, error in first_series.items() if error is not None and name <= solution.stem]
    if failed:
        pytest.fail(f"notebooks {failed} failed, so the solutions of {solution.stem} have nothing to run on")
    execute_solution(solution, TEST_BUILD)
    executed = read_notebook(TEST_BUILD / "solutions" / solution.name)
    errors = [output for cell in executed.cells if cell.cell_type == "code" for output in cell.outputs
              if output.output_type == "error"]
    assert not errors
