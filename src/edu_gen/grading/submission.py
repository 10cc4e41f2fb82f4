"""One student's notebook, executed in its own kernel: the ``student`` handle grading tests call.

`Submission.run` reads the notebook (a broken file is a reason, not a crash), copies it into a
fresh work folder, starts a kernel there and runs every code cell in order, each with the cell
timeout, all within the notebook's total timeout. A cell that raises does not stop the run: a
student who could not finish part 2 still gets the points for part 3. A kernel that dies ends
the run; what it could not answer scores zero, with the reason.

A grading test then calls ``student.call("gaussian_nll", x, mean)``: the arguments go to the
kernel as JSON, the kernel calls the function, and the answer comes back as JSON that the
grader decodes into fresh tensors (`wire`). Every way this can fail raises a `checks.Problem`
whose message is safe to show to the student.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from edu_gen.grading import checks, wire
from edu_gen.grading.kernel import Kernel, describe_exit
from edu_gen.grading.sandbox import Limits, Sandbox

START_TIMEOUT = 60.0  # seconds for a kernel to come up (within the notebook's own timeout)
# Run in each fresh kernel before the notebook's first cell, within START_TIMEOUT: the libraries every exercise
# imports. `import torch` takes 2-3 CPU-s, and 10 s or more of wall time on a loaded machine, which the cell timeout
# would otherwise charge to the student's first cell (a correct notebook could lose points for the machine's load).
# Imported into a throwaway namespace, so the notebook still needs its own imports: a forgotten `import torch` fails
# as it would in a fresh kernel. A library that is not installed is skipped (the notebook's own import says so).
_WARM_UP_BODY = """\
import importlib.util
for name in ("numpy", "torch"):
    if importlib.util.find_spec(name) is not None:
        __import__(name)
"""
WARM_UP = f"exec({_WARM_UP_BODY!r}, {{}})"  # run in a namespace of its own: the notebook's gets no name from it
MAX_NOTEBOOK_BYTES = 20 << 20  # a larger file is refused before it is parsed (exercises are ~100 kB)
MAX_PARSED_SOURCE = 2 << 20  # characters of code the grader parses per notebook (a syntax tree takes ~100x the text)


class UnsafeSubmission(ValueError):
    """A submitted path that the grader will not read: a link, a special file, too large."""


def read_untrusted(path: Path, limit: int = MAX_NOTEBOOK_BYTES) -> bytes:
    """The bytes of a submitted notebook, read as hostile input.

    Neither the student's folder nor the notebook may be a symbolic link (a link to the
    solutions would be graded as the student's work), and the notebook must be a regular file:
    a FIFO or a device such as ``/proc/kmsg`` could block the grader forever. The file is opened
    with ``O_NOFOLLOW | O_NONBLOCK`` relative to the folder opened with ``O_NOFOLLOW``, so a
    link swapped in between two checks is refused too, and at most `limit` bytes are read.

    Raises:
        UnsafeSubmission: with a reason that may be shown to the student.
    """
    try:
        folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        raise UnsafeSubmission("the student's folder is a link or not a folder") from None
    try:
        try:
            fd = os.open(path.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder)
        except OSError:
            raise UnsafeSubmission("the notebook is a link or cannot be opened") from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise UnsafeSubmission("the notebook is not a regular file")
            if info.st_size > limit:
                raise UnsafeSubmission(f"the notebook is larger than {limit >> 20} MB")
            chunks, size = [], 0
            while size <= limit:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            if size > limit:
                raise UnsafeSubmission(f"the notebook is larger than {limit >> 20} MB")
            return b"".join(chunks)
        finally:
            os.close(fd)
    finally:
        os.close(folder)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # colours in IPython's tracebacks


@dataclass
class CellProblem:
    """A code cell that raised, timed out or ended the kernel, for the feedback."""

    cell: int  # 1-based, counting all cells (markdown too) from the top of the notebook
    kind: str  # "raised", "timed out", "kernel stopped", "skipped"
    detail: str  # in the grader's closed vocabulary (see `checks`)
    first_line: str = ""  # the cell's first non-empty line: how a student finds it in Jupyter or Colab


@dataclass
class RunReport:
    cells_run: int = 0
    cells_total: int = 0
    problems: list[CellProblem] = field(default_factory=list)
    not_run: str | None = None  # why the notebook could not be run at all
    seconds: float = 0.0


class Submission:
    """A notebook and the kernel that ran it.

    Args:
        notebook: the student's .ipynb file (never modified; a copy is run).
        workdir: a folder that does not exist yet; the kernel runs there.
        log: an open text file for the instructor's log of this notebook.
        sandbox: run the kernel as this sandbox's user (None: with the grader's rights).
        limits: resource limits of the kernel.
        timeout: seconds for everything: start, cells and all the grading calls.
        cell_timeout: seconds for one cell or one call.
    """

    def __init__(self, notebook: Path, workdir: Path, *, log, sandbox: Sandbox | None, limits: Limits,
                 timeout: float, cell_timeout: float):
        self.notebook, self.workdir, self.log, self.sandbox, self.limits = notebook, workdir, log, sandbox, limits
        self.timeout, self.cell_timeout = timeout, cell_timeout
        self.report = RunReport()
        self.kernel: Kernel | None = None
        self.cells: list = []
        self._trees: list | None = None  # (cell, syntax tree) of the code cells, parsed once on first use
        self._deadline = 0.0

    # ------------------------------------------------------------------ running the notebook

    def run(self) -> RunReport:
        began = time.monotonic()
        self._deadline = began + self.timeout
        try:
            content = read_untrusted(Path(self.notebook))
        except UnsafeSubmission as reason:
            self.report.not_run = str(reason)
            self._write_log(f"refused {self.notebook}: {reason}")
            return self.report
        try:  # parsed once, here; the cells are kept for the whole grading of this notebook
            self.cells = list(nbformat.reads(content.decode("utf-8"), as_version=4).cells)
        except Exception as error:  # noqa: BLE001 - decoding, JSON and schema errors
            self.report.not_run = "the file is not a valid notebook"
            self._write_log(f"could not read {self.notebook}: {error!r}")
            return self.report
        if self.sandbox is not None:
            self.sandbox.prepare_workdir(self.workdir)
        else:
            self.workdir.mkdir(mode=0o700)
        (self.workdir / "submission.ipynb").write_bytes(content)
        self.kernel = Kernel(self.workdir, log_path=self.workdir.parent / f"{self.workdir.name}.kernel.log",
                             sandbox=self.sandbox, limits=self.limits)
        start_deadline = time.monotonic() + min(START_TIMEOUT, self._remaining())
        try:
            self.kernel.start(timeout=start_deadline - time.monotonic())
        except RuntimeError as error:
            self.report.not_run = str(error)
            self._write_log(f"kernel start failed: {error}")
            return self.report
        warm = self.kernel.execute(WARM_UP, timeout=max(0.0, start_deadline - time.monotonic()),
                                   hard_deadline=self._deadline, store_history=False)
        self._write_log(f"--- warm-up (numpy, torch): {warm.status} in {warm.seconds:.2f} s\n{warm.text}{warm.traceback}")
        if warm.status != "ok" and self._remaining() > 0:  # the grader's environment, not the student's code
            self.report.not_run = (f"the kernel could not import numpy and torch within {START_TIMEOUT:.0f} s of its start "
                                   f"({warm.status})" + (f": {self.kernel.exit_reason()}" if not self.kernel.alive else ""))
            return self.report
        self._run_cells()  # if the warm-up used up the notebook's time limit, this records it for the first cell
        self.report.seconds = time.monotonic() - began
        return self.report

    def _run_cells(self) -> None:
        code_cells = [(number, cell) for number, cell in enumerate(self.cells, start=1) if cell.get("cell_type") == "code"]
        self.report.cells_total = len(code_cells)
        for number, cell in code_cells:
            if not isinstance(cell.get("source"), str):  # JSON that nbformat read but its schema forbids
                self.report.problems.append(CellProblem(number, "skipped", "its source is not text"))
                continue
            first_line = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")[:70]
            if self._remaining() <= 0:
                self.report.problems.append(CellProblem(number, "timed out", f"the notebook's time limit ({self.timeout:.0f} s) was used up"))
                return
            cut_by_deadline = self._remaining() < self.cell_timeout
            result = self.kernel.execute(cell.source, timeout=min(self.cell_timeout, self._remaining()),
                                         hard_deadline=self._deadline)
            self.report.cells_run += 1
            self._write_log(f"--- cell {number}: {result.status} in {result.seconds:.2f} s\n{result.text}{result.traceback}")
            if result.status == "error":  # the name only if Python's own; never the message
                self.report.problems.append(CellProblem(number, "raised", checks.exception_name(result.error_name), first_line))
            elif result.status == "timeout":
                self.report.problems.append(CellProblem(number, "timed out", (
                    f"the notebook's time limit ({self.timeout:.0f} s) was used up during this cell" if cut_by_deadline
                    else f"it ran longer than {self.cell_timeout:.0f} s and was interrupted"), first_line))
            if not self.kernel.alive:
                self.report.problems.append(CellProblem(number, "kernel stopped", self.kernel.exit_reason(), first_line))
                return

    def _remaining(self) -> float:
        return self._deadline - time.monotonic()

    def _write_log(self, text: str) -> None:
        self.log.write(_ANSI.sub("", text).rstrip() + "\n")
        self.log.flush()

    def close(self) -> None:
        """Stop the kernel, kill its leftovers, delete the work folder."""
        if self.kernel is not None:
            self.kernel.stop()
            kernel_log = self.workdir.parent / f"{self.workdir.name}.kernel.log"
            if kernel_log.is_file():  # up to the file-size limit (256 MB): only its end is read
                with open(kernel_log, "rb") as file:
                    file.seek(max(0, file.seek(0, os.SEEK_END) - 20_000))
                    tail = file.read().decode(errors="replace")
                self._write_log("--- the kernel process's own output\n" + tail)
                kernel_log.unlink()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # ------------------------------------------------------------------ what the tests use

    def call(self, name: str, *args, **kwargs):
        """Call the student's function `name` in the kernel; return its decoded answer.

        Arguments must be encodable by `wire` (tensors, arrays, numbers, strings, lists, ...).

        Raises:
            checks.Problem: one of NotRun, KernelDied, TimedOut, NotDefined, RaisedError,
                NoAnswer, each with a message that is safe to show.
        """
        payload = wire.dumps({"args": list(args), "kwargs": kwargs})
        code = (f"from edu_gen.grading.wire import kernel_call as __edu_gen_kernel_call\n"
                f"__edu_gen_kernel_call({name!r}, {payload!r})\ndel __edu_gen_kernel_call")
        return _answer(name, self._ask_kernel(name, code, "called", "calling"))

    def _ask_kernel(self, name: str, code: str, done: str, doing: str) -> str:
        """Run one grader request in the kernel; the text of its answer, or a `checks.Problem`.

        `done` and `doing` name the request in the messages ("called" / "calling").
        """
        if self.report.not_run is not None:
            raise checks.NotRun("see above")
        if self.kernel is None or not self.kernel.alive:
            raise checks.KernelDied(f"the kernel had stopped, so {name} could not be {done}: "
                                    + (self.kernel.exit_reason() if self.kernel else describe_exit(None)))
        if self._remaining() <= 0:
            raise checks.TimedOut(f"the notebook's time limit ({self.timeout:.0f} s) was used up before {name} could be {done}")
        result = self.kernel.execute(code, timeout=min(self.cell_timeout, self._remaining()),
                                     hard_deadline=self._deadline, store_history=False)
        self._write_log(f"--- {doing} {name}: {result.status} in {result.seconds:.2f} s\n{result.text}{result.traceback}")
        if result.status == "timeout":
            raise checks.TimedOut(f"{name} did not return within {min(self.cell_timeout, self.timeout):.0f} s")
        if result.status == "died":
            raise checks.KernelDied(f"the kernel stopped while {doing} {name}: {self.kernel.exit_reason()}")
        if not result.results:
            raise checks.NoAnswer(f"{doing} {name} gave no answer (did the notebook change how cells run or display?)")
        return result.results[-1]

    def names_used(self, name: str) -> frozenset[str]:
        """The names the kernel's function `name` really uses, transitively (`wire.names_used`).

        Asked of the kernel, about the object a call would run: rebinding, decorators and
        magics cannot hide a call from it, and a local variable is not a call. A submission can
        still lie about it (the kernel answers); the README says so.

        Raises:
            checks.Problem: as `call` does (the function is missing, the kernel stopped, ...).
        """
        code = (f"from edu_gen.grading.wire import kernel_names as __edu_gen_kernel_names\n"
                f"__edu_gen_kernel_names({name!r})\ndel __edu_gen_kernel_names")
        text = self._ask_kernel(name, code, "inspected", "inspecting")
        names = _answer(name, text)
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise checks.NoAnswer(f"the inspection of {name} could not be read")
        return frozenset(names)

    def _parsed_cells(self) -> list:
        """(cell, syntax tree) of the code cells that are plain Python, parsed once per notebook.

        Only the first `MAX_PARSED_SOURCE` characters of code are parsed: a multi-megabyte cell
        would otherwise cost the grader gigabytes (issue 14); exercises hold ~100 kB.
        """
        if self._trees is None:
            self._trees, parsed = [], 0
            for cell in self.cells:
                if cell.get("cell_type") != "code" or not isinstance(cell.get("source"), str):
                    continue
                parsed += len(cell.source)
                if parsed > MAX_PARSED_SOURCE:  # the grader's own work per notebook is bounded
                    self._write_log(f"--- code past the first {MAX_PARSED_SOURCE >> 20} MB is not parsed by the grader")
                    break
                try:
                    self._trees.append((cell, ast.parse(cell.source)))
                except (SyntaxError, ValueError, RecursionError, MemoryError):
                    continue
        return self._trees

    def source_of(self, name: str) -> str | None:
        """The source of the last top-level ``def name`` in the notebook's code cells, or None.

        Read from the notebook file by the grader: the kernel has no say in it. Cells that are
        not plain Python (magics) are skipped.
        """
        found = None
        for cell, tree in self._parsed_cells():
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
                    found = (cell, node)
        # the segment of the last one only: taking each costs a pass over its cell (quadratic in a cell of many defs)
        return None if found is None else ast.get_source_segment(found[0].source, found[1])


def _answer(name: str, text: str):
    """Decode the kernel's answer envelope; every malformed case is the student's problem."""
    try:
        envelope = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise checks.NoAnswer(f"the answer from {name} could not be read") from None
    if not isinstance(envelope, dict) or len(envelope) != 1:
        raise checks.NoAnswer(f"the answer from {name} could not be read")
    (kind, body), = envelope.items()
    if kind == "missing":
        raise checks.NotDefined(f"no function named {name} is defined after running the notebook (was it renamed?)")
    if kind == "raised" and isinstance(body, dict):
        # Closed vocabulary (checks module docstring): the exception's name only if it is one of
        # Python's own, and never its message, which the function could build from its inputs.
        error_type = checks.exception_name(body.get("type"))
        if error_type == "NotImplementedError":
            raise checks.RaisedError(f"{name} raised NotImplementedError: it has not been written yet")
        raise checks.RaisedError(f"{name} raised {error_type}")
    if kind == "ok":
        try:
            return wire.decode(body)
        except (wire.WireError, RecursionError, TypeError, ValueError, RuntimeError):
            raise checks.NoAnswer(f"the answer from {name} could not be read") from None
    raise checks.NoAnswer(f"the answer from {name} could not be read")
