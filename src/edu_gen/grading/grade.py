"""The batch: grade every student's notebooks, then write grades.csv, feedback and logs.

    SUBMISSIONS/                      OUT/
      alice/01_losses_as_likelihood.ipynb   grades.csv         one row per student
      bob/01_losses_as_likelihood.ipynb     grades.json        the same, with every message and time
                                          feedback/alice.md  what passed and failed, and why
                                          logs/alice/01_losses_as_likelihood.log   for the instructor

Exercises are the grading test files, ``grading/tests/test_NN_name.py`` for ``NN_name.ipynb``.
Each notebook runs in its own kernel (`submission`), one after the other; whatever goes wrong
in one (a crash, a hang, a file that is not a notebook) is recorded as that notebook's reason
and the batch goes on. Every process a notebook left behind is killed before the next one
starts, and again before any result is written.

Stopped itself (SIGTERM, SIGINT or SIGHUP to ``edu-gen grade``: `stopping`), the grader runs the
same cleanup and writes the students it had finished, marked incomplete.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import edu_gen
from edu_gen.grading import plugin
from edu_gen.grading import processes
from edu_gen.grading import sandbox as sandboxing
from edu_gen.grading import stopping
from edu_gen.grading.plugin import TestInfo, TestResult
from edu_gen.grading.submission import RunReport, Submission

NO_SANDBOX_WARNING = (
    "WARNING: no --sandbox: submissions run with the grader's own rights ({who}). A hostile notebook can read "
    "the tests and solutions, change files and signal the grader. Grade untrusted submissions with --sandbox "
    "(as root: --sandbox-user USER); see README, 'Exercises and grading'.")


GRADER_FAILED = "the grader could not grade this notebook (the instructor's log says why)"


class GradingInputError(ValueError):
    """The folders given to the grader are not what it expects."""


@dataclass(frozen=True)
class Options:
    timeout: float = 300.0  # seconds per notebook: start, every cell and every grading call
    cell_timeout: float = 60.0  # seconds per cell and per grading call
    memory_mb: int = 4096  # address-space limit of a kernel
    total_memory_mb: int = 3072  # with a sandbox and a cgroup: memory of a notebook's processes together
    disk_mb: int = 1024  # the sandbox's tmpfs: everything a kernel may write (memory, not disk)
    sandbox: bool = False  # bubblewrap sandbox per kernel (as an ordinary user; as root give sandbox_user)
    sandbox_user: str | None = None  # as root: the user kernels run as (implies sandbox)
    solutions: Path | None = None  # hidden from kernels; default: the solutions/ next to grading/
    exercises: tuple[str, ...] | None = None  # grade only these (names or their NN prefixes); None: all


@dataclass
class NotebookGrade:
    exercise: str
    results: list[TestResult]
    run: RunReport | None  # None: not submitted
    seconds: float = 0.0


def find_students(submissions: Path) -> list[Path]:
    if not submissions.is_dir():
        raise GradingInputError(f"no submissions folder at {submissions} (expected one folder per student)")
    # a link to a folder counts as a student (whose notebooks are then refused, with the reason)
    students = sorted(p for p in submissions.iterdir() if (p.is_dir() or p.is_symlink()) and not p.name.startswith("."))
    if not students:
        loose = sorted(p.name for p in submissions.glob("*.ipynb"))
        hint = f"; it holds notebooks ({', '.join(loose[:3])}) but they must be in a folder named after each student" if loose else ""
        raise GradingInputError(f"no student folders in {submissions}{hint}")
    return students


def find_exercises(tests: Path, only: tuple[str, ...] | None = None) -> dict[str, tuple[Path, list[TestInfo]]]:
    """The exercises whose grading tests are in `tests`, or only those named in `only`.

    `only` holds exercise names (``02_manifold_learning``) or their number prefixes (``02``).

    Raises:
        GradingInputError: no tests, or a name in `only` that matches no exercise.
    """
    if not tests.is_dir():
        raise GradingInputError(f"no grading tests folder at {tests}")
    files = sorted(tests.glob("test_*.py"))
    if not files:
        raise GradingInputError(f"no grading tests (test_NN_name.py) in {tests}")
    names = [f.stem.removeprefix("test_") for f in files]
    if only is not None:
        chosen = set()
        for wanted in only:
            matches = [n for n in names if n == wanted or n.split("_", 1)[0] == wanted]
            if not matches:
                raise GradingInputError(f"--exercises: no exercise {wanted!r} in {tests}; expected one of {', '.join(names)}")
            chosen.update(matches)
        files = [f for f, n in zip(files, names) if n in chosen]
    return {f.stem.removeprefix("test_"): (f, plugin.collect(f)) for f in files}


def test_files(exercises) -> list[Path]:
    """All grading test files next to the chosen exercises' (to tell a misnamed notebook from an unchosen one)."""
    folders = {test_file.parent for test_file, _ in exercises.values()}
    return sorted(f for folder in folders for f in folder.glob("test_*.py"))


def _repository_secrets(tests: Path, solutions: Path | None) -> list[Path]:
    """The solutions and the repository's history: both hold the answers."""
    found = [solutions if solutions is not None else tests.parent.parent / "solutions"]
    for folder in [tests, *tests.parents]:
        if (folder / ".git").exists():
            found.append(folder / ".git")
            break
    return found


def _needed_by_kernels() -> list[Path]:
    needed = [Path(sys.base_prefix), Path(sys.prefix), Path(edu_gen.__file__).resolve().parents[1]]
    if "EDU_GEN_DATA" in os.environ:
        needed.append(Path(os.environ["EDU_GEN_DATA"]))
    return needed


def grade(submissions: Path, out: Path, tests: Path, options: Options = Options(), *, echo=print) -> dict:
    """Grade every student folder in `submissions` against the tests in `tests`; write `out`.

    Returns:
        The content of grades.json: ``{"exercises": {...}, "students": {...}}``.

    Raises:
        GradingInputError: a folder is missing or empty.
        sandboxing.SandboxError: the sandbox cannot be set up safely.
        plugin.GradingTestsError: the grading tests themselves are broken.
        stopping.Stopped: the grader was stopped by a signal (under `stopping.on_signals`, as the command runs
            it) or a KeyboardInterrupt: every process of the batch is gone, and the students it had finished are
            written (``graded`` of ``students``), with grades.json's "incomplete" and summary.md's first line
            saying so.
    """
    for name in ("timeout", "cell_timeout", "memory_mb", "total_memory_mb", "disk_mb"):
        value = getattr(options, name)
        if not value > 0:  # also refuses NaN
            raise GradingInputError(f"--{name.replace('_', '-')} must be a positive number, got {value!r}")
    submissions, out, tests = submissions.resolve(), out.resolve(), tests.resolve()
    students, exercises = find_students(submissions), find_exercises(tests, options.exercises)
    if out == submissions or submissions in out.parents:
        raise GradingInputError("the output folder must not be inside the submissions folder")
    out.mkdir(parents=True, exist_ok=True)
    limits = sandboxing.Limits(memory_mb=options.memory_mb, total_memory_mb=options.total_memory_mb, disk_mb=options.disk_mb,
                               cpu_seconds=int(options.timeout * (os.cpu_count() or 1)) + 60)
    # filled one notebook at a time: when the grader is stopped (stopping.Stopped), what it finished is kept
    grades: dict[str, dict[str, NotebookGrade]] = {}
    ignored: dict[str, list[str]] = {}
    stopped: stopping.Stopped | None = None
    keep, work, sandbox = processes.descendants(os.getpid()), None, None
    try:
        try:
            work = Path(tempfile.mkdtemp(prefix="edu-gen-grade-"))
            processes.become_subreaper()  # orphans of a kernel come back to us, to be killed and reaped
            if not options.sandbox and options.sandbox_user is None:
                echo(NO_SANDBOX_WARNING.format(who="root!" if os.geteuid() == 0 else f"uid {os.geteuid()}"), file=sys.stderr)
                _grade_all(students, exercises, out, work, None, limits, options, echo, grades, ignored)
            else:
                out.chmod(0o700)
                hide = [tests, out, submissions, *_repository_secrets(tests, options.solutions)]
                sandbox = sandboxing.Sandbox(options.sandbox_user, hide=hide, needed=_needed_by_kernels(), limits=limits)
                with sandbox:  # holds the user for this run; on leaving, kills every process it has
                    report = sandbox.probe(sys.executable, work / "probe")
                    shutil.rmtree(work / "probe")
                    echo(f"sandbox: {sandbox.description}; {report['scratch_mb']} MB to write")
                    _grade_all(students, exercises, out, work, sandbox, limits, options, echo, grades, ignored)
        finally:
            with stopping.deferred():  # a signal arriving now is acted on once this is done
                processes.kill_leftovers(keep=keep)  # once more, before any result is written, with or without a sandbox
                if sandbox is not None:
                    sandbox.remove_cgroups()  # again: a signal may have cut the sandbox's own removal short
                if work is not None:
                    shutil.rmtree(work, ignore_errors=True)
    except KeyboardInterrupt as error:  # a Stopped from the command's signal handler, or a Ctrl-C in a Python session
        stopped = error if isinstance(error, stopping.Stopped) else stopping.Stopped(signal.SIGINT)
    finished = {student: notebooks for student, notebooks in grades.items() if len(notebooks) == len(exercises)}
    with stopping.deferred():  # the files are written whole even if a signal comes now
        summary = _summary(exercises, finished, {student: ignored[student] for student in finished})
        if len(finished) < len(students):
            summary["incomplete"] = {"stopped_by": stopped.name, "graded": len(finished), "students": len(students),
                                     "not_graded": [s.name for s in students if s.name not in finished]}
        _write_csv(out / "grades.csv", exercises, finished)
        # ASCII JSON: a student's folder name with undecodable bytes (surrogates) cannot break it
        (out / "grades.json").write_text(json.dumps(summary, indent=1, ensure_ascii=True) + "\n", encoding="utf-8")
        _write_feedback(out / "feedback", exercises, finished, ignored)
        _write_class_summary(out / "summary.md", exercises, finished, summary.get("incomplete"))
    if stopped is not None:
        stopped.graded, stopped.students = len(finished), len(students)
        raise stopped
    return summary


def _grade_all(students: list[Path], exercises, out: Path, work: Path, sandbox, limits, options: Options, echo,
               grades: dict[str, dict[str, NotebookGrade]], ignored: dict[str, list[str]]) -> None:
    """Every student's every exercise, one notebook at a time, into `grades` and `ignored` (the notebooks not graded).

    They are filled as it goes (not returned at the end), so that a stop keeps what was finished.
    """
    known = {f.stem.removeprefix("test_") for f in test_files(exercises)}  # every exercise, graded or not
    for index, student in enumerate(students):
        grades[student.name] = {}
        ignored[student.name] = [] if student.is_symlink() else sorted(
            p.name for p in student.glob("*.ipynb") if p.stem not in known)
        for exercise, (test_file, tests_info) in exercises.items():
            log_path = out / "logs" / student.name / f"{exercise}.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "w", encoding="utf-8", errors="backslashreplace") as log:
                began = time.monotonic()
                try:  # the one boundary around a notebook: nothing in it may end the batch
                    notebook = _grade_notebook(student / f"{exercise}.ipynb", exercise, test_file, tests_info,
                                               work / f"work-{index:04d}-{exercise}", log, sandbox, limits, options)
                except Exception:  # noqa: BLE001 - any failure is this notebook's zero, with the reason
                    log.write("--- the grader could not grade this notebook:\n" + traceback.format_exc())
                    results = [TestResult(t, 0.0, "not graded", GRADER_FAILED) for t in tests_info]
                    notebook = NotebookGrade(exercise, results, RunReport(not_run=GRADER_FAILED),
                                             time.monotonic() - began)
            stopping.check()  # a stop that pytest turned into a failed check must not be recorded as this grade
            grades[student.name][exercise] = notebook
            earned, possible = sum(r.earned for r in notebook.results), sum(t.points for t in tests_info)
            echo(f"{student.name}/{exercise}.ipynb: {_number(earned)}/{_number(possible)} points ({notebook.seconds:.1f} s)")


def _grade_notebook(path: Path, exercise: str, test_file: Path, tests_info: list[TestInfo], workdir: Path, log,
                    sandbox, limits, options: Options) -> NotebookGrade:
    began = time.monotonic()
    if not os.path.lexists(path):  # lexists: a link is "submitted" (and then refused), not absent
        results = [TestResult(t, 0.0, "not submitted", "see above") for t in tests_info]
        return NotebookGrade(exercise, results, None)
    submission = Submission(path, workdir, log=log, sandbox=sandbox, limits=limits,
                            timeout=options.timeout, cell_timeout=options.cell_timeout)
    try:
        run = submission.run()
        results = plugin.run_tests(test_file, submission, log)
    finally:
        submission.close()
    return NotebookGrade(exercise, results, run, time.monotonic() - began)


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _write_csv(path: Path, exercises, grades) -> None:
    header = ["student"]
    for exercise, (_, tests_info) in exercises.items():
        header += [f"{exercise}/{t.name}" for t in tests_info] + [exercise]
    header += ["total", "max"]
    maximum = sum(t.points for _, tests_info in exercises.values() for t in tests_info)
    with open(path, "w", newline="", encoding="utf-8", errors="backslashreplace") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        for student, notebooks in grades.items():
            row, total = [student], 0.0
            for exercise in exercises:
                earned = [r.earned for r in notebooks[exercise].results]
                row += [_number(e) for e in earned] + [_number(sum(earned))]
                total += sum(earned)
            writer.writerow(row + [_number(total), _number(maximum)])


def _summary(exercises, grades, ignored) -> dict:
    return {
        "exercises": {name: [{"test": t.name, "description": t.description, "points": t.points} for t in tests_info]
                      for name, (_, tests_info) in exercises.items()},
        "students": {
            student: {
                "total": sum(r.earned for g in notebooks.values() for r in g.results),
                "ignored_notebooks": ignored[student],
                "notebooks": {exercise: {
                    "seconds": round(g.seconds, 2),
                    "earned": sum(r.earned for r in g.results),
                    "not_run": None if g.run is None else g.run.not_run,
                    "cell_problems": [] if g.run is None else [vars(p) for p in g.run.problems],
                    "tests": [{"test": r.test.name, "earned": r.earned, "kind": r.kind, "message": r.message} for r in g.results],
                } for exercise, g in notebooks.items()},
            } for student, notebooks in grades.items()
        },
    }


def _write_feedback(folder: Path, exercises, grades, ignored) -> None:
    folder.mkdir(exist_ok=True)
    for student, notebooks in grades.items():
        total = sum(r.earned for g in notebooks.values() for r in g.results)
        maximum = sum(t.points for _, tests_info in exercises.values() for t in tests_info)
        lines = [f"# Feedback for {_quote(student)}", "", f"**Total: {_number(total)} / {_number(maximum)} points**", ""]
        for name in ignored[student]:
            lines.append(f"- Not graded: {_quote(name)} is not an exercise name (expected: "
                         + ", ".join(f"`{e}.ipynb`" for e in exercises) + ").")
        for exercise, grade_ in notebooks.items():
            earned, possible = sum(r.earned for r in grade_.results), sum(r.test.points for r in grade_.results)
            lines += ["", f"## {exercise}: {_number(earned)} / {_number(possible)}", ""]
            lines += _run_lines(grade_.run, exercise)
            lines += ["| points | check | result |", "|---|---|---|"]
            for r in grade_.results:
                verdict = "passed" if not r.kind else f"**{r.kind}**" + (f": {r.message}" if r.message else "")
                lines.append(f"| {_number(r.earned)} / {_number(r.test.points)} | {_cell(r.test.description)} | {_cell(verdict)} |")
        (folder / f"{student}.md").write_text("\n".join(lines) + "\n", encoding="utf-8", errors="backslashreplace")


def class_summary(exercises, grades) -> dict:
    """Per exercise: how the class did, and which checks most students failed.

    Only submitted notebooks count (a missing notebook is reported as such, not as failed checks).
    Returns ``{exercise: {"students", "submitted", "not_run", "mean", "median", "full_marks", "zero",
    "max", "checks": [{"test", "description", "points", "failed", "kinds"}, ...]}}`` with the checks
    ordered by how many submitted notebooks failed them (most first); ``kinds`` counts the kinds of
    problem (the grader's own words: "wrong values", "timed out", ...).
    """
    result = {}
    for exercise, (_, tests_info) in exercises.items():
        submitted = [notebooks[exercise] for notebooks in grades.values() if notebooks[exercise].run is not None]
        scores = sorted(sum(r.earned for r in g.results) for g in submitted)
        maximum = sum(t.points for t in tests_info)
        checks = []
        for index, test in enumerate(tests_info):
            failed = [g.results[index] for g in submitted if g.results[index].earned < test.points]
            kinds: dict[str, int] = {}
            for r in failed:
                kinds[r.kind or "part of the points"] = kinds.get(r.kind or "part of the points", 0) + 1
            checks.append({"test": test.name, "description": test.description, "points": test.points,
                           "failed": len(failed), "kinds": dict(sorted(kinds.items(), key=lambda kv: -kv[1]))})
        checks.sort(key=lambda c: -c["failed"])  # stable: equal counts keep the test file's order
        middle = len(scores) // 2
        result[exercise] = {
            "students": len(grades), "submitted": len(submitted),
            "not_run": sum(g.run.not_run is not None for g in submitted),
            "mean": sum(scores) / len(scores) if scores else None,
            "median": (scores[middle] if len(scores) % 2 else (scores[middle - 1] + scores[middle]) / 2) if scores else None,
            "full_marks": sum(score == maximum for score in scores), "zero": sum(score == 0 for score in scores),
            "max": maximum, "checks": checks,
        }
    return result


def _write_class_summary(path: Path, exercises, grades, incomplete: dict | None = None) -> None:
    """summary.md: one section per exercise that an instructor can read in a minute (no student's name in it).

    `incomplete` (grades.json's entry of that name): the grader was stopped; the first line says so.
    """
    lines = ["# Class summary", ""]
    if incomplete is not None:
        lines += [f"**INCOMPLETE: grading was stopped by {incomplete['stopped_by']} after {incomplete['graded']} of "
                  f"{incomplete['students']} students. Only they are in grades.csv and feedback/; grades.json names the "
                  "others. Grade again to finish.**", ""]
    lines += [f"{len(grades)} students. Scores count submitted notebooks only.", ""]
    for exercise, info in class_summary(exercises, grades).items():
        lines += [f"## {exercise} (out of {_number(info['max'])} points)", ""]
        if not info["submitted"]:
            lines += ["Nobody submitted it.", ""]
            continue
        lines += [f"- submitted by {info['submitted']} of {info['students']} students"
                  + (f"; {info['not_run']} could not be run at all" if info["not_run"] else ""),
                  f"- mean {info['mean']:.1f}, median {_number(info['median'])}; full marks {info['full_marks']}, "
                  f"zero {info['zero']}", "",
                  "| failed by | check | points | how it failed |", "|---|---|---|---|"]
        for check in info["checks"]:
            how = ", ".join(f"{kind} ({count})" for kind, count in check["kinds"].items()) or "-"
            lines.append(f"| {check['failed']} of {info['submitted']} | {_cell(check['description'])} | "
                         f"{_number(check['points'])} | {_cell(how)} |")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def _run_lines(run: RunReport | None, exercise: str) -> list[str]:
    if run is None:
        return [f"Not submitted: no `{exercise}.ipynb` in your folder.", ""]
    if run.not_run is not None:
        return [f"The notebook could not be run: {run.not_run}.", ""]
    if run.problems:
        lines = [f"Your notebook has {run.cells_total} code cells; {run.cells_run} were run, and "
                 f"{len(run.problems)} of them had a problem:"]
    else:
        lines = [f"Your notebook's {run.cells_total} code cells all ran without an error."]
    for problem in run.problems[:10]:
        where = f"the cell that starts {_quote(problem.first_line)}" if problem.first_line else f"cell {problem.cell}"
        lines.append(f"- {where[0].upper()}{where[1:]} (cell {problem.cell} from the top) {problem.kind}: {_cell(problem.detail)}")
    if len(run.problems) > 10:
        lines.append(f"- ... and {len(run.problems) - 10} more cells with problems")
    return lines + [""]


def _cell(text: str) -> str:
    """Text that cannot break a Markdown table row (nor start a new line)."""
    return "".join(c if c.isprintable() else " " for c in text).replace("|", "\\|")


def _quote(name: str) -> str:
    """A name the submission chose (a folder or file name) as inert Markdown: one line, in code."""
    printable = "".join(c if c.isprintable() else "?" for c in name)[:80]
    return "`" + printable.replace("`", "'") + "`"
