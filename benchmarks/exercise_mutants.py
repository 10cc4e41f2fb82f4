"""Classic student mistakes against the exercises' self-checks and graded tests (issue 15, part 2).

Each entry of the catalogue (`benchmarks/exercise_mistakes.py`) changes ONE function of a solution
notebook (`solutions/NN_*.ipynb`) the way a student might get it wrong (a transposed V in PCA, h
instead of h^2 in a Parzen window, ...), or writes it another correct way (another algorithm,
another dtype, the text's hints followed literally). For each entry this script runs the whole
notebook with that function replaced and records:

- whether the part's OWN self-check (the first code cell after the function's cell) fails, and
  with which message;
- whether only a LATER cell (another part's self-check, the "compare with the library" cell)
  fails;
- whether the GRADED tests (`grading/tests/test_NN_*.py`) take points off, and which.

A correct variant must pass every cell and every graded test.

Everything runs in this process, without a Jupyter kernel: the notebook's code cells are executed
with `exec` in one namespace named ``__main__`` (the Colab bootstrap cell, a ``%pip`` magic, is
skipped), and the graded tests get a stand-in for the grader's ``student`` fixture whose `call`
sends arguments and answers through `edu_gen.grading.wire` as the kernel does and whose
`names_used` is the kernel's own `wire.names_used`. That is about a hundred times faster than a
kernel per mutant, which is what lets CI run the whole catalogue (`tests/test_exercise_mutants.py`).

    EDU_GEN_THREADS=1 python benchmarks/exercise_mutants.py            # writes benchmarks/results/exercise_mutants.txt
    EDU_GEN_THREADS=1 python benchmarks/exercise_mutants.py 02_manifold_learning   # one exercise, no file written

The last line printed is one JSON object with the counts over all exercises: ``mistakes``,
``caught_by_graded``, ``caught_by_own_selfcheck``, ``caught_only_later``, ``caught_by_no_public_check``,
``correct_variants``, ``correct_variants_rejected`` (and per-exercise counts).
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import importlib.util
import io
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "exercise_mutants.txt"


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def catalogue():
    """The catalogue module (`benchmarks/exercise_mistakes.py`), loaded by path."""
    return _load(ROOT / "benchmarks" / "exercise_mistakes.py", "edu_gen_exercise_mistakes")


# --------------------------------------------------------------------------- the notebook


@dataclass
class Cell:
    index: int  # position among ALL the notebook's cells (as nbformat counts)
    source: str
    defines: list[str]  # top-level functions defined in the cell


def code_cells(exercise: str) -> list[Cell]:
    notebook = json.loads((ROOT / "solutions" / f"{exercise}.ipynb").read_text())
    cells = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        if "%pip" in source:  # the Colab bootstrap: edu_gen is installed here
            continue
        tree = ast.parse(source)
        defines = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
        cells.append(Cell(index, source, defines))
    return cells


def function_source(cells: list[Cell], name: str) -> str:
    """The source of the solution's ``def name`` (the last one in the notebook)."""
    found = None
    for cell in cells:
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                found = ast.get_source_segment(cell.source, node)
    if found is None:
        raise KeyError(f"no def {name} in the solution notebook")
    return found


def exercise_functions(cells: list[Cell]) -> list[str]:
    """The functions the student writes: those whose body holds a BEGIN SOLUTION region."""
    names = []
    for cell in cells:
        for name in cell.defines:
            if "### BEGIN SOLUTION" in function_source(cells, name):
                names.append(name)
    return names


def own_check(cells: list[Cell], function: str) -> int:
    """The notebook index of the function's own self-check: the first code cell after its def."""
    for position, cell in enumerate(cells):
        if function in cell.defines:
            return cells[position + 1].index
    raise KeyError(function)


def mutated_source(cells: list[Cell], entry: dict) -> str:
    """The replacement ``def`` of one catalogue entry: its `source`, or the solution's with `replace` applied."""
    if "source" in entry:
        return entry["source"]
    source = function_source(cells, entry["function"])
    for old, new in entry["replace"]:
        if old not in source:
            raise ValueError(f"{entry['exercise']} {entry['function']} ({entry['name']}): {old!r} is not in the solution")
        source = source.replace(old, new)
    return source


@dataclass
class CellResult:
    index: int
    ok: bool
    message: str = ""


def _message(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if isinstance(error, AssertionError):
        return text or "(a bare AssertionError: no message)"
    return f"{type(error).__name__}: {text}"[:200]


def run_notebook(exercise: str, replacements: dict[str, str], cells: list[Cell] | None = None):
    """Run the solution's code cells with some functions replaced; (namespace, one CellResult per cell).

    Each replacement (function name -> its new ``def`` source) is executed right after the cell
    that defines the function, so the cells below (its self-check first) see the new one. Every
    cell runs even after one failed, to find which cells notice a mistake.
    """
    cells = cells or code_cells(exercise)
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    results = []
    for cell in cells:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(cell.source, f"<{exercise} cell {cell.index}>", "exec"), namespace)
                for name in cell.defines:
                    if name in replacements:
                        exec(compile(replacements[name], f"<{exercise} {name} replaced>", "exec"), namespace)
        except Exception as error:  # noqa: BLE001 - a student's code raises anything
            results.append(CellResult(cell.index, False, _message(error)))
        else:
            results.append(CellResult(cell.index, True))
    return namespace, results


# --------------------------------------------------------------------------- the graded tests


class InProcessStudent:
    """The grading tests' ``student`` fixture, for a namespace in this process.

    Arguments and answers take the same trip through `edu_gen.grading.wire` as with a kernel (so
    the student's function gets fresh tensors and the test gets decoded ones), and a raised
    exception becomes the same `checks.RaisedError`.
    """

    def __init__(self, namespace: dict):
        self.namespace = namespace

    def call(self, name: str, *args, **kwargs):
        from edu_gen.grading import checks, wire

        function = self.namespace.get(name)
        if not callable(function):
            raise checks.NotDefined(f"no function named {name} is defined after running the notebook (was it renamed?)")
        call = wire.loads(wire.dumps({"args": list(args), "kwargs": kwargs}))
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                value = function(*call["args"], **call["kwargs"])
        except Exception as error:  # noqa: BLE001
            raise checks.RaisedError(f"{name} raised {checks.exception_name(type(error).__name__)}") from None
        try:
            return wire.loads(json.dumps(wire.encode(value), allow_nan=True))
        except (wire.WireError, TypeError, ValueError):
            raise checks.NoAnswer(f"the answer from {name} could not be read") from None

    def names_used(self, name: str) -> frozenset[str]:
        from edu_gen.grading import checks, wire

        if not callable(self.namespace.get(name)):
            raise checks.NotDefined(f"no function named {name} is defined after running the notebook (was it renamed?)")
        return frozenset(wire.names_used(self.namespace[name], self.namespace))


@dataclass
class TestOutcome:
    name: str
    points: float
    passed: bool
    kind: str = ""
    message: str = ""


_TEST_MODULES: dict[str, object] = {}


def graded_tests(exercise: str):
    if exercise not in _TEST_MODULES:
        _TEST_MODULES[exercise] = _load(ROOT / "grading" / "tests" / f"test_{exercise}.py", f"edu_gen_graded_{exercise}")
    module = _TEST_MODULES[exercise]
    return [(name, value) for name, value in vars(module).items() if name.startswith("test_") and callable(value)]


def run_graded(exercise: str, namespace: dict) -> list[TestOutcome]:
    from edu_gen.grading.plugin import classify

    student = InProcessStudent(namespace)
    outcomes = []
    for name, test in graded_tests(exercise):
        marks = [m for m in getattr(test, "pytestmark", []) if m.name == "points"]
        points = float(marks[0].args[0]) if marks else 1.0
        try:
            test(student)
        except Exception as error:  # noqa: BLE001
            kind, message = classify(error)
            outcomes.append(TestOutcome(name, points, False, kind, message))
        else:
            outcomes.append(TestOutcome(name, points, True))
    return outcomes


# --------------------------------------------------------------------------- one entry


@dataclass
class Verdict:
    entry: dict
    own: CellResult | None = None  # the function's own self-check
    later: list[CellResult] = field(default_factory=list)  # later cells that failed
    earlier: list[CellResult] = field(default_factory=list)  # cells up to the def that failed (should be none)
    graded: list[TestOutcome] = field(default_factory=list)  # failed graded tests
    points_lost: float = 0.0
    seconds: float = 0.0

    @property
    def caught_by_own(self) -> bool:
        return self.own is not None and not self.own.ok

    @property
    def caught_later(self) -> bool:
        return bool(self.later)

    @property
    def caught_by_graded(self) -> bool:
        return bool(self.graded)

    @property
    def rejected(self) -> bool:
        return self.caught_by_own or self.caught_later or self.caught_by_graded or bool(self.earlier)


def judge(exercise: str, replacements: dict[str, str], entry: dict, cells: list[Cell]) -> Verdict:
    start = time.perf_counter()
    namespace, results = run_notebook(exercise, replacements, cells)
    verdict = Verdict(entry)
    functions = list(replacements)
    own_indices = {own_check(cells, f) for f in functions}
    first_def = min(cell.index for cell in cells if set(cell.defines) & set(functions))
    for result in results:
        if result.index in own_indices:
            if verdict.own is None or (verdict.own.ok and not result.ok):
                verdict.own = result
        elif not result.ok:
            (verdict.earlier if result.index <= first_def else verdict.later).append(result)
    verdict.graded = [o for o in run_graded(exercise, namespace) if not o.passed]
    verdict.points_lost = sum(o.points for o in verdict.graded)
    verdict.seconds = time.perf_counter() - start
    return verdict


def baseline(exercise: str, cells: list[Cell]) -> None:
    """The unchanged solution must pass every cell and every graded test, or nothing here means anything."""
    namespace, results = run_notebook(exercise, {}, cells)
    failed = [r for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"{exercise}: the solution itself fails cell {failed[0].index}: {failed[0].message}")
    lost = [o for o in run_graded(exercise, namespace) if not o.passed]
    if lost:
        raise RuntimeError(f"{exercise}: the solution itself fails {lost[0].name}: {lost[0].message}")


# --------------------------------------------------------------------------- all of it


def entries_for(exercise: str | None = None) -> list[dict]:
    module = catalogue()
    entries = [dict(e, kind="mistake") for e in module.MISTAKES] + [dict(e, kind="correct") for e in module.CORRECT]
    entries += [dict(exercise=ex, function=f, name="the text's hints followed literally", source=source, kind="correct")
                for ex, functions in module.LITERAL.items() for f, source in functions.items()]
    return [e for e in entries if exercise is None or e["exercise"] == exercise]


def evaluate(exercises: list[str] | None = None, log=print) -> dict:
    """Run the catalogue; the summary dict (what the JSON line prints) with the verdicts under ``verdicts``."""
    from edu_gen import runtime

    runtime.set_threads()  # EDU_GEN_THREADS
    entries = entries_for()
    exercises = exercises or sorted({e["exercise"] for e in entries})
    verdicts: list[Verdict] = []
    for exercise in exercises:
        cells = code_cells(exercise)
        baseline(exercise, cells)
        known = set(exercise_functions(cells))
        for entry in (e for e in entries if e["exercise"] == exercise):
            if entry["function"] not in known:
                raise ValueError(f"{exercise}: the catalogue names {entry['function']}, which the student does not write")
            verdict = judge(exercise, {entry["function"]: mutated_source(cells, entry)}, entry, cells)
            verdicts.append(verdict)
            log(_line(verdict))
    return summarise(verdicts)


def summarise(verdicts: list[Verdict]) -> dict:
    def counts(vs: list[Verdict]) -> dict:
        mistakes = [v for v in vs if v.entry["kind"] == "mistake"]
        correct = [v for v in vs if v.entry["kind"] == "correct"]
        return {
            "mistakes": len(mistakes),
            "caught_by_graded": sum(v.caught_by_graded for v in mistakes),
            "caught_by_own_selfcheck": sum(v.caught_by_own for v in mistakes),
            "caught_only_later": sum((not v.caught_by_own) and v.caught_later for v in mistakes),
            "caught_by_no_public_check": sum(not (v.caught_by_own or v.caught_later) for v in mistakes),
            "correct_variants": len(correct),
            "correct_variants_rejected": sum(v.rejected for v in correct),
        }

    summary = counts(verdicts)
    summary["per_exercise"] = {ex: counts([v for v in verdicts if v.entry["exercise"] == ex])
                               for ex in sorted({v.entry["exercise"] for v in verdicts})}
    summary["verdicts"] = verdicts
    return summary


def _line(v: Verdict) -> str:
    e = v.entry
    if e["kind"] == "correct":
        status = "REJECTED" if v.rejected else "accepted"
        why = "; ".join([f"cell {r.index}: {r.message}" for r in ([v.own] if v.own and not v.own.ok else []) + v.earlier + v.later]
                        + [f"{o.name}: {o.message}" for o in v.graded])
        return f"  correct  {e['exercise']:<24} {e['function']:<28} {e['name']:<55} {status}{(' -- ' + why) if why else ''}"
    own = f"OWN ({v.own.message})" if v.caught_by_own else ("later only (" + v.later[0].message + f", cell {v.later[0].index})"
                                                            if v.caught_later else "NO PUBLIC CHECK")
    graded = f"graded -{v.points_lost:g} pts ({', '.join(o.name for o in v.graded)})" if v.graded else "GRADED: FULL MARKS"
    return f"  mistake  {e['exercise']:<24} {e['function']:<28} {e['name']:<55} {own}; {graded}"


def report(summary: dict) -> str:
    lines = ["Classic mistakes and correct variants against each exercise's checks (benchmarks/exercise_mutants.py)",
             "catalogue: benchmarks/exercise_mistakes.py; OWN = the part's own self-check cell fails (its message);",
             "later only = only a later cell fails; graded = points the graded tests take off (the failing tests).", ""]
    for exercise in summary["per_exercise"]:
        lines.append(f"{exercise}: {json.dumps(summary['per_exercise'][exercise])}")
        lines += [_line(v) for v in summary["verdicts"] if v.entry["exercise"] == exercise]
        lines.append("")
    lines.append(json.dumps({k: v for k, v in summary.items() if k not in ("verdicts",)}))
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    exercises = argv or None
    summary = evaluate(exercises)
    if exercises is None:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(report(summary))
    print(json.dumps({k: v for k, v in summary.items() if k != "verdicts"}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
