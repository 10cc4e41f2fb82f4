"""Finding and killing the processes a submission left behind (standard library only).

A notebook can start processes that outlive its kernel: a ``subprocess.Popen`` it forgot, or a
daemon that forks twice and calls ``setsid`` on purpose so that it leaves the kernel's session
and process group. Two facts make them findable:

* the grader registers as a *child subreaper* (`become_subreaper`): an orphaned process is
  re-parented to its nearest subreaper ancestor instead of init, so everything a kernel started
  stays a descendant of the grader, however it detached itself;
* every kernel gets a random token in its environment, which children inherit.

`kill_leftovers` kills, until none is left, the descendants of the grader that did not exist
before the kernel started, the kernel's session, and every process holding the token; it reaps
the zombies among its own children. In a sandbox, `sandbox.Sandbox.kill_all` also kills
every process left in the sandboxes' PID namespaces (as root: every process of the sandbox user),
which nothing inside can leave.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36


def own_stream(fd: int):
    """A copy of this process's file descriptor `fd` (1: standard output, 2: standard error) as it is now, or None.

    What the grader prints must reach the instructor even while a notebook's grading tests run:
    pytest, which runs them in this process, captures file descriptors 1 and 2 itself (``dup2``
    onto temporary files) for the length of each test, so a line printed then to
    ``sys.__stdout__`` or ``sys.__stderr__`` ends up in that test's captured output, never on
    the terminal. A duplicate made beforehand still points where the stream pointed.
    Line-buffered text; the caller closes it. None when there is no such stream (a daemon with it closed).
    """
    try:
        copy = os.dup(fd)
    except OSError:
        return None
    return os.fdopen(copy, "w", encoding="utf-8", buffering=1)


def become_subreaper() -> None:
    """Orphaned descendants of this process are re-parented to it (not to init): none can hide."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def processes() -> list[tuple[int, list[str]]]:
    """(pid, fields of /proc/pid/stat after the command name) for every process."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                text = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            found.append((int(entry), text[text.rindex(")") + 2:].split()))
    return found


def owner(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def is_zombie(pid: int) -> bool:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # gone
    return text[text.rindex(")") + 2] in "ZX"


def descendants(root: int) -> set[int]:
    """Every live process below `root` in the process tree."""
    children: dict[int, list[int]] = {}
    for pid, fields in processes():
        children.setdefault(int(fields[1]), []).append(pid)
    found, stack = set(), [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _with_token(token: str) -> set[int]:
    marker = f"EDU_GEN_KERNEL_TOKEN={token}".encode()
    found = set()
    for pid, _ in processes():
        try:
            if marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                found.add(pid)
        except OSError:
            continue
    return found


def kill_leftovers(*, keep: set[int], session: int | None = None, token: str | None = None) -> int:
    """Kill descendants of this process not in `keep`, the kernel's `session`, and `token` holders.

    Returns the number of processes killed. Zombies among our children are reaped.
    """
    killed, me = 0, os.getpid()
    for _ in range(200):
        found = descendants(me) - keep
        if session is not None:
            found |= {pid for pid, fields in processes() if int(fields[3]) == session}
        if token is not None:
            found |= _with_token(token)
        found.discard(me)
        for pid in sorted(found):
            if is_zombie(pid):
                reap(pid)
                continue
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
            reap(pid)
        if not [pid for pid in found if not is_zombie(pid)]:
            return killed
        time.sleep(0.02)
    raise RuntimeError("leftover processes survive SIGKILL")


def reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child: its own parent (or init) reaps it


def kill_and_reap(pid: int) -> None:
    """SIGKILL `pid` if it is still there and we may, then reap it if it is our child (gone or not ours: nothing)."""
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    reap(pid)
