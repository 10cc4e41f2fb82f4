"""`edu-gen assign`: solution notebooks -> exercise notebooks, and the staleness check."""

import ast
import json
import shutil
from pathlib import Path

import nbformat
import pytest

from edu_gen import cli
from edu_gen.grading import assign

ROOT = Path(__file__).resolve().parents[1]


def test_a_region_becomes_a_stub_that_names_its_function_and_keeps_the_hints():
    source = (
        "def f(x):\n"
        '    """Doc."""\n'
        "    ### BEGIN SOLUTION\n"
        "    ### HINT: square it\n"
        "    y = x ** 2\n"
        "    return y\n"
        "    ### END SOLUTION\n"
        "\n"
        "print(1)\n"
    )
    out = assign.strip_solutions(source)
    assert out == (
        "def f(x):\n"
        '    """Doc."""\n'
        "    # YOUR CODE HERE\n"
        "    # Hint: square it\n"
        '    raise NotImplementedError("f: write this part (see the hint above)")\n'
        "\n"
        "print(1)\n"
    )
    ast.parse(out)


def test_top_level_and_markdown_regions():
    assert assign.strip_solutions("### BEGIN SOLUTION\nx = 1\n### END SOLUTION") == (
        '# YOUR CODE HERE\nraise NotImplementedError("write this part")')
    assert assign.strip_solutions("Why?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION\n", markdown=True) == (
        "Why?\n*Your answer here.*\n")


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1\n", "has no"),
    ("x = 1\n### END SOLUTION\n", "without a"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "a second"),
])
def test_broken_markers_are_errors_that_say_where(source, message):
    with pytest.raises(assign.AssignError, match=message) as error:
        assign.strip_solutions(source, where="solutions/99_x.ipynb, cell 3")
    assert "solutions/99_x.ipynb, cell 3" in str(error.value)


def test_a_solution_without_regions_is_refused():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    with pytest.raises(assign.AssignError, match="nothing for the student to write"):
        assign.make_exercise(notebook, name="solutions/99_x.ipynb")


def _code(notebook):
    return [c for c in notebook.cells if c.cell_type == "code"]


def test_the_exercise_keeps_everything_but_the_solutions_and_the_outputs():
    solution = nbformat.read(ROOT / "solutions" / "01_losses_as_likelihood.ipynb", as_version=4)
    solution.cells[2].outputs = [nbformat.v4.new_output("stream", text="hello")]
    solution.cells[2].execution_count = 3
    exercise = assign.make_exercise(solution, name="solutions/01_losses_as_likelihood.ipynb")
    assert len(exercise.cells) == len(solution.cells)
    assert exercise.cells[0].source.startswith("# "), "the title comes first"
    bootstrap = _code(exercise)[0]
    assert "%pip install" in bootstrap.source and "remove-input" in bootstrap.metadata["tags"]
    assert all(c.outputs == [] and c.execution_count is None for c in _code(exercise))
    # no line of any solution region survives, and every region became a stub
    for before, after in zip(solution.cells, exercise.cells):
        if assign.BEGIN not in before.source:
            assert after.source == before.source
            continue
        lines = before.source.splitlines()
        inside, solution_lines = False, []
        for line in lines:
            if line.strip().startswith(assign.BEGIN):
                inside = True
            elif line.strip().startswith(assign.END):
                inside = False
            elif inside and not line.strip().startswith(assign.HINT) and line.strip():
                solution_lines.append(line)
        assert not set(solution_lines) & set(after.source.splitlines())
        assert after.source.count("raise NotImplementedError") == before.source.count(assign.BEGIN)
    for cell in _code(exercise)[1:]:
        ast.parse(cell.source)  # every cell but the bootstrap (a %pip magic) is plain Python


@pytest.fixture
def layout(tmp_path):
    shutil.copytree(ROOT / "solutions", tmp_path / "solutions")
    return tmp_path / "solutions", tmp_path / "exercises"


def test_assign_then_check_is_clean_and_assign_is_idempotent(layout):
    solutions, exercises = layout
    written = assign.assign(solutions, exercises)
    assert [p.name for p in written] == [p.name for p in sorted(solutions.glob("*.ipynb"))]
    assert assign.check(solutions, exercises) == []
    assert assign.assign(solutions, exercises) == []


def test_check_names_stale_missing_and_orphaned_exercises(layout, capsys):
    solutions, exercises = layout
    assign.assign(solutions, exercises)
    notebook = solutions / "01_losses_as_likelihood.ipynb"
    content = json.loads(notebook.read_text())
    content["cells"][0]["source"] = "# Exercises 1. A new title\n"
    notebook.write_text(json.dumps(content))
    shutil.copy(exercises / "01_losses_as_likelihood.ipynb", exercises / "99_orphan.ipynb")
    problems = assign.check(solutions, exercises)
    assert any("01_losses_as_likelihood.ipynb: stale" in p for p in problems)
    assert any("99_orphan.ipynb: has no solution" in p for p in problems)
    assert cli.main(["assign", "--check", "--solutions", str(solutions), "--exercises", str(exercises)]) == 1
    assert "01_losses_as_likelihood.ipynb: stale" in capsys.readouterr().err
    (exercises / "01_losses_as_likelihood.ipynb").unlink()
    assert any("01_losses_as_likelihood.ipynb: missing" in p for p in assign.check(solutions, exercises))
    assert cli.main(["assign", "--solutions", str(solutions), "--exercises", str(exercises)]) == 0
    assert [p for p in assign.check(solutions, exercises) if "orphan" not in p] == []


def test_a_missing_solutions_folder_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["assign", "--solutions", str(tmp_path / "nowhere"), "--exercises", str(tmp_path / "ex")]) == 1
    assert "no solutions folder" in capsys.readouterr().err


def test_the_repository_exercises_are_up_to_date(capsys):
    """What CI checks: `edu-gen assign --check` passes on the repository."""
    code = cli.main(["assign", "--check", "--solutions", str(ROOT / "solutions"), "--exercises", str(ROOT / "exercises")])
    assert code == 0, capsys.readouterr().err
