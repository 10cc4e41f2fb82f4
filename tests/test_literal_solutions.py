"""A solution written the way each exercise's text says earns full marks (issue 15, part 1).

For every exercise, the functions of `benchmarks/exercise_mistakes.LITERAL` (the text's formulas
and hints followed line by line, e.g. exercise 05's grid from ``torch.linspace`` as the text
writes it) replace the solution's, all at once; the notebook must then pass every cell (its own
self-checks and the "compare with the library" cell) and every graded test. Run in this process
(`benchmarks/exercise_mutants.py`: cells by `exec`, the graded tests with an in-process student
whose calls go through the grader's wire format).
"""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("exercise_mutants_for_literal", ROOT / "benchmarks" / "exercise_mutants.py")
mutants = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = mutants  # dataclasses look their module up there
spec.loader.exec_module(mutants)
LITERAL = mutants.catalogue().LITERAL


@pytest.mark.parametrize("exercise", sorted(LITERAL))
def test_the_literal_solution_passes_every_cell_and_earns_full_marks(exercise):
    cells = mutants.code_cells(exercise)
    replacements = LITERAL[exercise]
    assert set(replacements) <= set(mutants.exercise_functions(cells)), "LITERAL names a function the student does not write"
    namespace, results = mutants.run_notebook(exercise, replacements, cells)
    for name in replacements:  # the literal version is the one that ran, not the solution's
        assert namespace[name].__code__.co_filename == f"<{exercise} {name} replaced>", name
    failed = [(r.index, r.message) for r in results if not r.ok]
    assert not failed, f"{exercise}: the literal solution fails cells {failed}"
    lost = [(o.name, o.kind, o.message) for o in mutants.run_graded(exercise, namespace) if not o.passed]
    assert not lost, f"{exercise}: the literal solution loses points in {lost}"


def test_every_exercise_has_a_literal_solution():
    solutions = sorted(p.stem for p in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(LITERAL) == solutions
