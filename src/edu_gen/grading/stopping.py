"""When the grader itself is stopped (SIGTERM, SIGINT, SIGHUP): the same cleanup as a normal end.

A grader that dies at once leaves what only it would have removed: its kernels and their
children, the run's cgroup folders (which then fail the next run's checks), its work folder. So
`edu-gen grade` installs `on_signals` around the batch: the first of these signals raises
`Stopped` in the grader's main thread, and the batch unwinds through the same ``finally``
blocks and context managers that end it normally (`submission.Submission.close`,
``Sandbox.__exit__``), then `grade.grade` writes what was finished and the command exits with
128 + the signal's number, as a shell reports a process ended by that signal.

Why an exception and not cleaning up inside the handler: the handler runs wherever the main
thread happens to be (half-way through killing a kernel, holding the sandbox's watch lock);
an exception unwinds from that very point through code written to clean up after it.

Why a subclass of KeyboardInterrupt: the grading tests run under ``pytest.main`` in this
process, and pytest records any other exception raised in a test as that test's failure and
carries on with the next one; at a KeyboardInterrupt it ends its session instead (and returns
``ExitCode.INTERRUPTED``, which `plugin` turns back into `Stopped` with `check`).

Only the first signal counts: later ones are ignored, so that the cleanup it started is never
cut short. A first signal can still land inside a cleanup of the normal flow (a kernel being
stopped after its notebook, the sandbox's ``__exit__``); so `grade.grade` ends, whatever
happened, by killing every process below it and removing the run's cgroups once more (both are
safe to repeat) inside `deferred`, which holds the exception until the block is done, as it
does while the results are written. Standard library only.
"""

from __future__ import annotations

import contextlib
import signal
import threading

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

_received: int | None = None  # the first signal, while `on_signals` is active
_raised = False  # Stopped was raised for it (by the handler or at the end of a deferred block)
_deferring = 0  # depth of nested `deferred` blocks


class Stopped(KeyboardInterrupt):
    """The grader received `signum` and is stopping.

    `graded` and `students` are set by `grade.grade` once it has written the results of the
    students it had finished (None: it stopped before grading anything).
    """

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
        self.graded: int | None = None
        self.students: int | None = None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_status(self) -> int:
        return 128 + self.signum  # what a shell reports for a process ended by this signal


def _handler(signum, frame) -> None:
    global _received, _raised
    if _received is not None:
        return  # already stopping: the cleanup under way must not be cut short
    _received = signum
    if _deferring == 0:
        _raised = True
        raise Stopped(signum)


@contextlib.contextmanager
def on_signals():
    """Within the block, SIGTERM, SIGINT and SIGHUP raise `Stopped` (once); the old handlers come back after.

    Python runs signal handlers in the main thread only: entered in another thread, it installs nothing.
    """
    global _received, _raised, _deferring
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _received, _raised, _deferring = None, False, 0
    previous = {signum: signal.signal(signum, _handler) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _received, _raised, _deferring = None, False, 0  # a later run in this process starts afresh


class deferred:
    """A block that a signal does not interrupt: `Stopped` is raised when the block ends instead.

    For cleanups that a normal end runs: a first signal arriving in the middle of one would
    otherwise leave it half done. Does nothing when `on_signals` is not active.
    """

    def __enter__(self) -> None:
        global _deferring
        _deferring += 1

    def __exit__(self, kind, value, traceback) -> None:
        global _deferring, _raised
        _deferring -= 1
        if _deferring == 0 and _received is not None and not _raised:
            _raised = True
            raise Stopped(_received)


def check() -> None:
    """Raise `Stopped` again if a signal was received: for code that swallowed it (pytest does)."""
    if _received is not None:
        raise Stopped(_received)
