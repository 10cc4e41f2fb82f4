"""One kernel process for one submission: start it, run code with a deadline, stop it.

The grader does not use jupyter_client's KernelManager: it starts the kernel process itself,
because it must choose *how* (as the sandbox user, in its own session, with resource limits)
and must notice at once when the process dies (a notebook that calls ``os._exit`` should cost
a fraction of a second, not a whole cell timeout). It then talks to the kernel with a
`BlockingKernelClient` over Unix sockets in the submission's work folder.

`Kernel.execute` is the only way code reaches the kernel. It waits for the kernel's "idle"
message for that request, and gives up at the deadline: it interrupts (SIGINT, which ipykernel
turns into KeyboardInterrupt), and if the kernel does not come back within a few seconds it
kills it. Everything the kernel sends is treated as untrusted data and capped in size.
"""

from __future__ import annotations

import os
import queue
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import zmq
from jupyter_client import BlockingKernelClient
from jupyter_client.connect import write_connection_file

from edu_gen.grading import processes
from edu_gen.grading import sandbox as sandboxing
from edu_gen.grading.wire import MIME

MAX_TEXT = 20_000  # characters of stdout/stderr kept per execution (for the instructor's log)
MAX_RESULT = 64 << 20  # characters of one JSON answer
MAX_MESSAGE = 96 << 20  # bytes of one message from the kernel; ZeroMQ drops a larger one
MAX_MALFORMED = 20  # unreadable messages tolerated per execution before the kernel is ended
INTERRUPT_GRACE = 3.0  # seconds a kernel gets to come back after SIGINT
MALFORMED = {"kind": "malformed"}  # what _next_message returns for a message it cannot read


def _text(value) -> str:
    """A field that should be text, as text: a hostile kernel may send anything there."""
    return value if isinstance(value, str) else ""


@dataclass
class Execution:
    """What one execute request produced.

    status: ``ok``, ``error`` (the code raised), ``timeout`` or ``died`` (the process ended).
    """

    status: str
    error_name: str = ""
    error_value: str = ""
    traceback: str = ""
    text: str = ""
    results: list[str] = field(default_factory=list)  # the last MIME display payload (at most one)
    seconds: float = 0.0


def describe_exit(returncode: int | None) -> str:
    """Why a kernel process ended, in words a student can act on.

    A fixed phrase per kind of ending, never the exit code or the signal's number: a notebook
    chooses those (``os._exit(n)``, ``os.kill(os.getpid(), n)``) and could spell out a hidden input
    with them (see the closed vocabulary in `edu_gen.grading.checks`).
    """
    if returncode is None:
        return "it stopped responding"
    if returncode >= 0:
        return "it exited (sys.exit, os._exit or a crash)"
    reasons = {
        signal.SIGKILL: "it was killed (out of memory, or a limit was hit)",
        signal.SIGXCPU: "it used up its CPU-time limit",
        signal.SIGXFSZ: "it wrote a file larger than the limit",
        signal.SIGSEGV: "it crashed (segmentation fault)",
        signal.SIGABRT: "it aborted",
    }
    return reasons.get(-returncode, "it was ended by a signal")


def kernel_environment(workdir: Path, token: str) -> dict[str, str]:
    """A small, explicit environment: nothing of the grader's (tokens, paths) leaks in.

    Notebooks are graded at the ``ci`` scale unless the grader's EDU_GEN_SCALE says otherwise:
    the grading tests call functions directly, so a notebook's own training loops only cost time.
    """
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(workdir / ".matplotlib"),
        "IPYTHONDIR": str(workdir / ".ipython"),
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": str(min(4, os.cpu_count() or 1)),
        "EDU_GEN_SCALE": os.environ.get("EDU_GEN_SCALE", "ci"),
        "EDU_GEN_KERNEL_TOKEN": token,
    }
    if "EDU_GEN_DATA" in os.environ:
        env["EDU_GEN_DATA"] = os.environ["EDU_GEN_DATA"]
    return env


class Kernel:
    """A Python kernel in its own process, started in `workdir`.

    Args:
        workdir: an empty folder for the kernel (its cwd, HOME and sockets); prepared by the
            caller (owned by the sandbox user when there is one).
        log_path: where the kernel process's own stdout and stderr go.
        sandbox: run as this sandbox's user; None runs with the grader's rights.
        limits: resource limits (without a sandbox they are applied right after the start).
    """

    def __init__(self, workdir: Path, *, log_path: Path, sandbox: sandboxing.Sandbox | None, limits: sandboxing.Limits):
        self.workdir, self.log_path, self.sandbox, self.limits = workdir, log_path, sandbox, limits
        self.token = secrets.token_hex(8)
        self.process: subprocess.Popen | None = None
        self.client: BlockingKernelClient | None = None
        self._keep: set[int] = set()
        self.killed_because: str | None = None  # set when the grader kills it at a timeout
        self._sandbox_init: int | None = None  # the host pid of the sandbox's first process (bwrap's init)

    def exit_reason(self) -> str:
        """Why the kernel process is gone, for the feedback."""
        if self.killed_because:
            return self.killed_because
        if self.sandbox is not None and self.process is not None:
            reason = self.sandbox.stopped_because(self.process)  # the notebook's memory cap in total (a cgroup)
            if reason:
                return reason
        return describe_exit(self.returncode)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        """The kernel's exit status; negative: the signal that ended it (bwrap reports 128 + signal)."""
        code = None if self.process is None else self.process.poll()
        if code is not None and self._sandbox_init is not None and code > 128:
            return -(code - 128)
        return code

    def _kernel_pid(self) -> int | None:
        """The kernel's own process: the sandbox init's child in a sandbox (bwrap does not forward signals)."""
        if self._sandbox_init is None:
            return self.process.pid
        for pid, fields in processes.processes():
            if int(fields[1]) == self._sandbox_init:
                return pid
        return None

    def start(self, timeout: float) -> None:
        """Start the kernel and wait until it answers. Raises RuntimeError when it does not.

        In a sandbox the kernel's sockets are in its own tmpfs (`sandboxing.SOCKETS`); the grader
        reaches them through ``/proc/PID/root`` of the sandbox, so the kernel writes nothing
        outside it.
        """
        connection = self.workdir / "kernel.json"
        inside = self.sandbox is not None
        write_connection_file(str(connection), transport="ipc", ip=sandboxing.SOCKETS if inside else str(self.workdir / "socket"),
                              key=secrets.token_hex(16).encode())
        self._keep = processes.descendants(os.getpid())
        with open(self.log_path, "ab") as log:
            if inside:
                if self.sandbox.as_root:  # the sandbox user reads it through its read-only bind
                    os.chown(connection, self.sandbox.uid, self.sandbox.gid)
                argv = [sys.executable, "-m", "ipykernel_launcher", "-f", sandboxing.CONNECTION, "--HistoryManager.enabled=False"]
                env = kernel_environment(Path(sandboxing.HOME), self.token)
                try:
                    started = self.sandbox.start(argv, env=env, stdout=log, connection=connection)
                except sandboxing.SandboxError as error:
                    raise RuntimeError(str(error)) from None
                self.process, sockets = started.process, str(started.root) + sandboxing.SOCKETS
                self._sandbox_init = started.child
            else:
                argv = [sys.executable, "-m", "ipykernel_launcher", "-f", str(connection), "--HistoryManager.enabled=False"]
                env = kernel_environment(self.workdir, self.token)
                self.process = subprocess.Popen(argv, cwd=self.workdir, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)
                sandboxing.apply_limits(self.process.pid, self.limits)
                sockets = None
        context = zmq.Context()
        context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE)  # default for every socket the client opens
        self.client = BlockingKernelClient(context=context)
        self.client.load_connection_file(str(connection))
        if sockets is not None:
            self.client.ip = sockets  # the same sockets, seen from outside the sandbox
        self.client.start_channels()
        deadline = time.monotonic() + timeout
        while True:  # wait_for_ready, but also watching the process
            if not self.alive:
                raise RuntimeError(f"the kernel did not start: {describe_exit(self.returncode)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the kernel did not start within {timeout:.0f} s")
            self.client.kernel_info()
            try:
                reply = self.client.get_shell_msg(timeout=0.5)
            except queue.Empty:
                continue
            except Exception:  # noqa: BLE001 - a malformed reply: ask again until the deadline
                continue
            if isinstance(reply, dict) and reply.get("msg_type") == "kernel_info_reply":
                break
        drain_until = time.monotonic() + 5.0
        while time.monotonic() < drain_until:  # the start-up status messages (bounded: a kernel may flood)
            if self._next_message() is None:
                break

    def execute(self, code: str, timeout: float, *, hard_deadline: float | None = None,
                store_history: bool = True) -> Execution:
        """Run `code`; wait at most `timeout` seconds. The kernel may be dead afterwards.

        After the timeout the kernel is interrupted and gets a few seconds to come back, but
        never past `hard_deadline` (a `time.monotonic()` value): then it is killed.
        """
        began = time.monotonic()
        if not self.alive:
            return Execution("died", seconds=0.0)
        message_id = self.client.execute(code, store_history=store_history, allow_stdin=False, stop_on_error=False)
        outcome = self._collect(message_id, began + timeout)
        if outcome.status == "timeout" and self.alive:
            grace = INTERRUPT_GRACE if hard_deadline is None else min(INTERRUPT_GRACE, hard_deadline - time.monotonic())
            late = Execution("timeout")
            if grace > 0:
                target = self._kernel_pid()
                if target is not None:
                    os.kill(target, signal.SIGINT)
                late = self._collect(message_id, time.monotonic() + grace)
            if late.status not in ("ok", "error"):
                self.process.kill()
                self.process.wait()
                self.killed_because = ("it did not stop when interrupted after a timeout, so the grader ended it" if grace > 0
                                       else "the notebook's time limit was used up, so the grader ended it")
        outcome.seconds = time.monotonic() - began
        return outcome

    def _next_message(self) -> dict | None:
        """The next iopub message as ``{"kind", "parent", "content"}``, `MALFORMED`, or None if none came.

        Everything here is untrusted: jupyter_client itself raises (TypeError, KeyError,
        ValueError, ...) on a message whose parts are not what the protocol says, for example
        when a notebook replaced its kernel's serialiser. Such a message counts as malformed,
        like one whose fields have the wrong types; the caller decides when enough is enough.
        """
        try:
            message = self.client.get_iopub_msg(timeout=0.05)
        except queue.Empty:
            return None
        except Exception:  # noqa: BLE001 - whatever jupyter_client raises on a malformed message
            return MALFORMED
        if not isinstance(message, dict):
            return MALFORMED
        kind, parent, content = message.get("msg_type"), message.get("parent_header"), message.get("content")
        if not isinstance(kind, str) or not isinstance(parent, dict) or not isinstance(content, dict):
            return MALFORMED
        return {"kind": kind, "parent": parent.get("msg_id"), "content": content}

    def _collect(self, message_id: str, deadline: float) -> Execution:
        outcome, text = Execution("ok"), []
        size, malformed = 0, 0
        while True:
            if not self.alive:
                outcome.status = "died"
                break
            if time.monotonic() > deadline:
                outcome.status = "timeout"
                break
            message = self._next_message()
            if message is None:
                continue
            if message is MALFORMED:
                malformed += 1
                if malformed > MAX_MALFORMED:  # a kernel that cannot speak the protocol is ended
                    self.process.kill()
                    self.process.wait()
                    self.killed_because = "it sent messages the grader could not read, so the grader ended it"
                    outcome.status = "died"
                    break
                continue
            if message["parent"] != message_id:
                continue  # another request's, or a forged one: ignored
            kind, content = message["kind"], message["content"]
            if kind == "status" and content.get("execution_state") == "idle":
                break
            if kind == "stream" and size < MAX_TEXT:
                text.append(_text(content.get("text"))[: MAX_TEXT - size])
                size += len(text[-1])
            elif kind == "error":
                outcome.status = "error"
                outcome.error_name = _text(content.get("ename"))[:100]
                outcome.error_value = _text(content.get("evalue"))[:2000]
                lines = content.get("traceback")
                lines = lines[:200] if isinstance(lines, list) else []
                outcome.traceback = "\n".join(_text(line)[:MAX_TEXT] for line in lines)[:MAX_TEXT]
            elif kind in ("display_data", "execute_result") and isinstance(content.get("data"), dict):
                payload = content["data"].get(MIME)
                if isinstance(payload, str) and len(payload) <= MAX_RESULT:
                    outcome.results = [payload]  # the last answer counts; keeping one bounds memory
        outcome.text = "".join(text)
        return outcome

    def stop(self) -> None:
        """Stop the kernel and kill every process it left behind."""
        if self.client is not None:
            self.client.stop_channels()
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            if self.sandbox is not None:
                self.sandbox.kill_all()
            processes.kill_leftovers(keep=self._keep, session=self.process.pid, token=self.token)
