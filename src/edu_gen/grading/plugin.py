"""The pytest side of grading: the ``points`` marker, the ``student`` fixture, the results.

Grading tests are plain pytest functions that take the ``student`` fixture::

    @pytest.mark.points(2)
    def test_gaussian_nll_matches_the_formula_on_hidden_inputs(student):
        "`gaussian_nll` equals ½‖x − μ‖² + (D/2) log 2π on hidden random inputs"
        x, mean = ...                                   # hidden inputs, made here
        got = student.call("gaussian_nll", x, mean)     # runs in the student's kernel
        assert_close(got, likelihood.gaussian_nll(x, mean), what="gaussian_nll(x, mean)")

The feedback names each test by the first line of its docstring (or its name, with the
underscores read as spaces). The grader runs the tests of one exercise against one submission
with `run_tests`, inside its own process, so that the comparisons happen where the student's
code cannot reach them. Run standalone (``pytest grading/tests``), the fixture runs the solution
notebook instead (or the notebooks in the folder named by ``EDU_GEN_SUBMISSION``), which checks
that the solutions earn every point.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from edu_gen.grading import checks, stopping

POINTS_MARKER = "points(n): how many points the test is worth (default 1)"


@dataclass(frozen=True)
class TestInfo:
    name: str  # the test function's name, with parameters: the CSV column
    description: str  # what the feedback calls it
    points: float


@dataclass(frozen=True)
class TestResult:
    test: TestInfo
    earned: float
    kind: str = ""  # empty when passed; otherwise what kind of problem (checks.Problem.kind, ...)
    message: str = ""  # safe to show to the student


class GradingTestsError(RuntimeError):
    """The grading tests themselves are broken (they do not import, or a marker is wrong)."""


def describe(item: pytest.Item) -> str:
    doc = getattr(item, "function", None).__doc__ if hasattr(item, "function") else None
    if doc and doc.strip():
        return doc.strip().splitlines()[0]
    return item.name.removeprefix("test_").replace("_", " ")


def points_of(item: pytest.Item) -> float:
    marker = item.get_closest_marker("points")
    if marker is None:
        return 1.0
    value = marker.args[0] if marker.args else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise GradingTestsError(f"{item.nodeid}: @pytest.mark.points needs a positive number, got {value!r}")
    return float(value)


def classify(error: BaseException) -> tuple[str, str]:
    """(kind, message) for a failed test; only what is safe to show to the student."""
    if isinstance(error, checks.Problem):
        return error.kind, str(error)
    if isinstance(error, AssertionError):  # the author's message only (pytest runs with --assert=plain)
        return "check failed", checks.scrub(str(error), limit=200)
    return "error in the check", f"the check stopped with {type(error).__name__}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", POINTS_MARKER)


class _Session:
    """The plugin object `run_tests` registers: holds the submission, records the results."""

    def __init__(self, submission):
        self.submission = submission
        self.tests: dict[str, TestInfo] = {}
        self.results: dict[str, TestResult] = {}

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            self.tests[item.nodeid] = TestInfo(item.name, describe(item), points_of(item))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = (yield).get_result()
        test = self.tests[item.nodeid]
        if report.when == "call" and report.passed:
            self.results[item.nodeid] = TestResult(test, test.points)
        elif report.failed and item.nodeid not in self.results:
            kind, message = classify(call.excinfo.value) if call.excinfo else ("error in the check", "")
            self.results[item.nodeid] = TestResult(test, 0.0, kind, message)
        elif report.skipped and item.nodeid not in self.results:
            self.results[item.nodeid] = TestResult(test, 0.0, "skipped", "")


def _pytest_args(test_file: Path, *extra: str) -> list[str]:
    """Run one test file in isolation from any project configuration around it (``-c`` an empty file)."""
    return [str(test_file), "-c", os.devnull, "--rootdir", str(test_file.parent), "--confcutdir", str(test_file.parent),
            "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:nbval", "-p", "no:randomly",
            "--assert=plain", "--import-mode=importlib", "-q", "--tb=long", "-W", "ignore::DeprecationWarning", *extra]


def collect(test_file: Path) -> list[TestInfo]:
    """The tests in one file, in order, with their points (the columns of grades.csv)."""
    session = _Session(None)
    output = _Output()
    with output:
        code = pytest.main(_pytest_args(test_file, "--collect-only"), plugins=[session, sys.modules[__name__]])
    if code == pytest.ExitCode.INTERRUPTED:
        stopping.check()  # the grader was stopped (see `run_tests`), the tests are not broken
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED) or not session.tests:
        raise GradingTestsError(f"could not collect grading tests from {test_file} (pytest exit code {code}):\n{output.text[-3000:]}")
    return list(session.tests.values())


def run_tests(test_file: Path, submission, log) -> list[TestResult]:
    """Run one exercise's tests against a submission; one result per collected test, in order."""
    session = _Session(submission)
    output = _Output()
    with output:
        code = pytest.main(_pytest_args(test_file), plugins=[session, sys.modules[__name__]])
    log.write(f"--- pytest {test_file.name} (exit code {code})\n{output.text}\n")
    if code == pytest.ExitCode.INTERRUPTED:  # pytest ends its session at the grader's own stop (and returns): stop too
        stopping.check()
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        raise GradingTestsError(f"the grading tests in {test_file} did not run (pytest exit code {code}); see the log")
    return [session.results.get(nodeid) or TestResult(info, 0.0, "not run") for nodeid, info in session.tests.items()]


class _Output(contextlib.redirect_stdout):
    """Capture what pytest prints (it goes to the instructor's log, not the terminal)."""

    def __init__(self):
        import io

        self._buffer = io.StringIO()
        super().__init__(self._buffer)

    @property
    def text(self) -> str:
        return self._buffer.getvalue()


def _grading_session(config: pytest.Config) -> _Session | None:
    for plugin in config.pluginmanager.get_plugins():
        if isinstance(plugin, _Session):
            return plugin
    return None


@pytest.fixture(scope="module")
def student(request: pytest.FixtureRequest):
    """The submission under test: call its functions with ``student.call(name, *args)``."""
    session = _grading_session(request.config)
    if session is not None:
        yield session.submission
        return
    yield from _standalone_submission(Path(request.node.path))


def _standalone_submission(test_file: Path):
    """Outside the grader: run the solution (or $EDU_GEN_SUBMISSION's notebook) in a kernel."""
    from edu_gen.grading.sandbox import Limits
    from edu_gen.grading.submission import Submission

    exercise = test_file.stem.removeprefix("test_")
    folder = Path(os.environ.get("EDU_GEN_SUBMISSION", test_file.parents[2] / "solutions"))
    notebook = folder if folder.suffix == ".ipynb" else folder / f"{exercise}.ipynb"
    with tempfile.TemporaryDirectory(prefix="edu-gen-standalone-") as temporary, open(Path(temporary) / "log.txt", "w") as log:
        submission = Submission(notebook, Path(temporary) / "work", log=log, sandbox=None, limits=Limits(),
                                timeout=600, cell_timeout=300)
        try:
            submission.run()
            yield submission
        finally:
            submission.close()
