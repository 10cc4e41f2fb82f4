"""Solution notebook -> exercise notebook: the one source of every exercise.

An instructor writes ``solutions/NN_name.ipynb`` as a normal, runnable notebook (nbval runs it
in CI, so the solutions are known to pass their own self-checks). The code a student should
write sits between two marker lines::

    def gaussian_nll(x, mean):
        ### BEGIN SOLUTION
        ### HINT: square the error, sum over every non-batch dimension
        squared_error = ...
        return ...
        ### END SOLUTION

`make_exercise` replaces each region by a stub that fails loudly until it is written::

    def gaussian_nll(x, mean):
        # YOUR CODE HERE
        # Hint: square the error, sum over every non-batch dimension
        raise NotImplementedError("gaussian_nll: write this part (see the hint above)")

Markdown cells may hold regions too (a written answer); they become "*Your answer here.*".
Outputs and execution counts are cleared; every other cell, the Colab bootstrap cell included,
is kept as it is. The result depends only on the solution notebook, so ``assign --check`` can
regenerate every exercise in memory and compare it with the file on disk byte for byte.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

BEGIN, END, HINT = "### BEGIN SOLUTION", "### END SOLUTION", "### HINT:"
_DEF = re.compile(r"^(\s*)(?:async\s+)?def\s+(\w+)\s*\(")


class AssignError(ValueError):
    """A solution notebook whose markers cannot be turned into an exercise."""


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _enclosing_function(lines: list[str], index: int) -> str | None:
    """The name of the nearest ``def`` above line `index` that encloses it (by indentation)."""
    depth = len(_indent(lines[index]))
    for line in reversed(lines[:index]):
        match = _DEF.match(line)
        if match and len(match.group(1)) < depth:
            return match.group(2)
    return None


def strip_solutions(source: str, *, markdown: bool = False, where: str = "a cell") -> str:
    """Replace every BEGIN/END SOLUTION region of one cell's source by its exercise stub.

    Args:
        source: the cell's text.
        markdown: whether the cell is Markdown (the region becomes a prompt for an answer).
        where: how to name the cell in error messages, e.g. ``"solutions/01_x.ipynb, cell 7"``.
    """
    lines, out, index = source.splitlines(), [], 0
    while index < len(lines):
        line = lines[index]
        if line.strip().startswith(END):
            raise AssignError(f"{where}: '{END}' without a '{BEGIN}' above it (line {index + 1})")
        if not line.strip().startswith(BEGIN):
            out.append(line)
            index += 1
            continue
        start, hints = index, []
        index += 1
        while index < len(lines) and not lines[index].strip().startswith(END):
            if lines[index].strip().startswith(BEGIN):
                raise AssignError(f"{where}: a second '{BEGIN}' before '{END}' (line {index + 1})")
            if lines[index].strip().startswith(HINT):
                hints.append(lines[index].strip()[len(HINT):].strip())
            index += 1
        if index == len(lines):
            raise AssignError(f"{where}: '{BEGIN}' on line {start + 1} has no '{END}'")
        index += 1  # skip the END line
        out.extend(_stub(lines, start, hints, markdown))
    return "\n".join(out) + ("\n" if source.endswith("\n") else "")


def _stub(lines: list[str], start: int, hints: list[str], markdown: bool) -> list[str]:
    if markdown:
        return ["*Your answer here.*"] + [f"*Hint: {hint}*" for hint in hints]
    indent = _indent(lines[start])
    function = _enclosing_function(lines, start)
    message = f"{function}: write this part" if function else "write this part"
    if hints:
        message += " (see the hint above)"
    # json.dumps gives a valid Python string literal (double quotes, escapes), unicode kept
    return ([f"{indent}# YOUR CODE HERE"] + [f"{indent}# Hint: {hint}" for hint in hints]
            + [f"{indent}raise NotImplementedError({json.dumps(message, ensure_ascii=False)})"])


def make_exercise(solution: nbformat.NotebookNode, *, name: str) -> nbformat.NotebookNode:
    """The exercise notebook for one solution notebook (a new object; the input is unchanged).

    Args:
        solution: the solution notebook, as read by `nbformat.read`.
        name: its path relative to the repository, for messages and the exercise's metadata.
    """
    exercise = nbformat.from_dict(json.loads(json.dumps(solution)))  # a deep copy
    regions = 0
    for number, cell in enumerate(exercise.cells, start=1):
        where = f"{name}, cell {number}"
        if cell.cell_type in ("code", "markdown") and BEGIN in cell.source:
            regions += cell.source.count(BEGIN)
            cell.source = strip_solutions(cell.source, markdown=cell.cell_type == "markdown", where=where)
        elif END in cell.source:
            raise AssignError(f"{where}: '{END}' without a '{BEGIN}'")
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata = {key: value for key, value in cell.metadata.items() if key in ("tags", "editable", "deletable")}
    if regions == 0:
        raise AssignError(f"{name} has no '{BEGIN}' region: nothing for the student to write")
    exercise.metadata = {key: value for key, value in solution.metadata.items() if key in ("kernelspec", "language_info")}
    exercise.metadata["edu_gen"] = {"generated_from": name, "note": "made by `edu-gen assign`; edit the solution, not this file"}
    return exercise


def exercise_text(solution_path: Path, *, name: str | None = None) -> str:
    """The exact text `assign` writes for one solution notebook."""
    try:
        solution = nbformat.read(solution_path, as_version=4)
    except Exception as error:  # noqa: BLE001 - nbformat raises several kinds for a broken file
        raise AssignError(f"{solution_path} is not a readable notebook: {error}") from None
    exercise = make_exercise(solution, name=name or solution_path.name)
    nbformat.validate(exercise)
    return nbformat.writes(exercise) + "\n"


def _pairs(solutions: Path, exercises: Path) -> list[tuple[Path, Path, str]]:
    if not solutions.is_dir():
        raise AssignError(f"no solutions folder at {solutions}")
    found = sorted(solutions.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise AssignError(f"no solution notebooks (NN_name.ipynb) in {solutions}")
    return [(path, exercises / path.name, f"{solutions.name}/{path.name}") for path in found]


def assign(solutions: Path, exercises: Path) -> list[Path]:
    """Write ``exercises/NN_name.ipynb`` for every ``solutions/NN_name.ipynb``; return the files written."""
    exercises.mkdir(parents=True, exist_ok=True)
    written = []
    for solution, exercise, name in _pairs(solutions, exercises):
        text = exercise_text(solution, name=name)
        if not exercise.is_file() or exercise.read_text(encoding="utf-8") != text:
            exercise.write_text(text, encoding="utf-8")
            written.append(exercise)
    return written


def check(solutions: Path, exercises: Path) -> list[str]:
    """What `assign` would change, one line per file; an empty list when exercises/ is up to date."""
    problems = []
    expected = set()
    for solution, exercise, name in _pairs(solutions, exercises):
        expected.add(exercise.name)
        if not exercise.is_file():
            problems.append(f"{exercise}: missing (made from {name})")
        elif exercise.read_text(encoding="utf-8") != exercise_text(solution, name=name):
            problems.append(f"{exercise}: stale (differs from what {name} gives)")
    if exercises.is_dir():
        for orphan in sorted(exercises.glob("*.ipynb")):
            if orphan.name not in expected:
                problems.append(f"{orphan}: has no solution notebook {solutions / orphan.name}")
    return problems
