"""`edu-gen grade` stopped by a signal leaves nothing behind and keeps what it graded (`grading.stopping`).

The end-to-end tests grade a batch of three students through the real command: the first is
graded in full, the grader is stopped during the second (while pytest runs its tests, or while
its kernel starts in the sandbox), the third is never reached. The grader runs under a small
watcher that is a child subreaper (`_WATCH`): every process of the batch that outlives the grader,
however it detached itself, is re-parented to the watcher, which lists it; so "nothing left" is
checked exactly, not against a guess of what to look for. The trigger is polled for (a process
that exists only once the moment has come), never slept for.

The unit tests check the pieces without a kernel: the handler, a deferred block, and that a stop
arriving during the grading tests ends pytest's session instead of failing one check after another.
"""

import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import hostile
from edu_gen.grading import plugin, processes, stopping

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "grading" / "tests"
SANDBOX_USER = "edu-gen-signals"  # its own sandbox user: another grading run (the sandbox tests) holds edu-gen-sandbox's lock
MARK = "edu-gen-stopped-batch"  # in the command line of the daemon the stopped notebook starts
WAIT = 300  # seconds to wait for the moment to signal: the first student's whole grading comes before it, under load

# Runs the grader as its child and, as a child subreaper, inherits every process of the batch that
# outlives it; writes {"grader": pid} as soon as it started, then {"code": ..., "left": [...]}.
_WATCH = r"""
import json, os, subprocess, sys
from pathlib import Path
from edu_gen.grading import processes
report = Path(sys.argv[1])
processes.become_subreaper()
grader = subprocess.Popen(sys.argv[2:])
report.write_text(json.dumps({"grader": grader.pid}))
code = grader.wait()  # its orphans are ours by now: the kernel re-parents them before it reports the exit
left = []
for pid in sorted(processes.descendants(os.getpid())):
    if not processes.is_zombie(pid):
        try:
            left.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
processes.kill_leftovers(keep=set())  # whatever the grader left, the next test must not find it
report.write_text(json.dumps({"grader": grader.pid, "code": code, "left": left}))
"""

# gaussian_nll, as the first grading test calls it: starts a daemon that leaves the kernel's session, then hangs
_HANG_IN_A_TEST = f"""
import os, time

def gaussian_nll(x, mean):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv("/bin/sh", ["/bin/sh", "-c", "sleep 600; : {MARK}"])
        os._exit(0)
    os.wait()
    time.sleep(600)
"""


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _cgroups_of(grader: int) -> list[str]:
    """The cgroup folders (v1 and v2) of the grader `grader`: the Sandbox names them edu-gen-grade-PID-..."""
    return [os.path.join(folder, name) for folder, subfolders, _ in os.walk("/sys/fs/cgroup")
            for name in subfolders if name.startswith(f"edu-gen-grade-{grader}-")]


def _stop_mid_batch(tmp_path: Path, trigger, second, options: list[str], signum=signal.SIGTERM) -> dict:
    """Grade a_first (the solution), b_stopped (`second`) and c_never; send `signum` once `trigger(cmdline)` holds
    for a process below the grader. Returns the grader's output, exit code, leftovers and the command lines seen."""
    submissions, out = tmp_path / "submissions", tmp_path / "grades"
    hostile.write_batch(submissions, {"a_first": hostile.solution(), "b_stopped": second, "c_never": hostile.solution()})
    report = tmp_path / "watch.json"
    command = [sys.executable, "-m", "edu_gen.cli", "grade", str(submissions), "--out", str(out), "--tests", str(TESTS),
               "--exercises", hostile.EXERCISE, "--timeout", "600", "--cell-timeout", "300", *options]
    watcher = subprocess.Popen([sys.executable, "-c", _WATCH, str(report), *command], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    seen: dict[int, str] = {}
    try:
        deadline = time.monotonic() + WAIT
        while not report.exists() or not report.read_text():
            assert time.monotonic() < deadline and watcher.poll() is None, "the watcher did not start the grader"
            time.sleep(0.05)
        grader = json.loads(report.read_text())["grader"]
        while not any(trigger(line) for line in seen.values()):
            if watcher.poll() is not None or time.monotonic() > deadline:
                if watcher.poll() is None:
                    os.kill(grader, signal.SIGKILL)  # the watcher then kills what it left
                pytest.fail("the moment to stop the grader never came:\n" + watcher.communicate(timeout=120)[1][-3000:])
            seen.update({pid: _cmdline(pid) for pid in processes.descendants(grader)})
            time.sleep(0.05)
        os.kill(grader, signum)
        stdout, stderr = watcher.communicate(timeout=120)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    result = json.loads(report.read_text())
    return {**result, "stdout": stdout, "stderr": stderr, "out": out, "seen": seen}


def _check_what_was_kept(run: dict, signum=signal.SIGTERM) -> None:
    """The conventional status, one line naming the signal, nothing left, and the first student's grades kept."""
    name = signal.Signals(signum).name
    assert run["code"] == 128 + signum, (run["code"], run["stderr"][-3000:])
    lines = [line for line in run["stderr"].splitlines() if "stopped by" in line]
    assert len(lines) == 1 and lines[0].startswith(f"edu-gen grade: stopped by {name}; cleaned up"), run["stderr"][-3000:]
    assert lines[0].endswith(f"1 of 3 students were graded before it, written to {run['out']}; summary.md and grades.json "
                             "mark the run incomplete"), lines[0]
    assert run["left"] == [], run["left"]
    works = {m.group(1) for line in run["seen"].values() for m in [re.search(r"(\S*/edu-gen-grade-[^/\s]+)/work-", line)] if m}
    assert works and not any(os.path.exists(work) for work in works), works  # the grader's work folder is gone
    out = run["out"]
    rows = list(csv.reader((out / "grades.csv").open()))
    assert [row[0] for row in rows[1:]] == ["a_first"] and rows[1][-2:] == ["14", "14"], rows
    summary = json.loads((out / "grades.json").read_text())
    assert summary["incomplete"] == {"stopped_by": name, "graded": 1, "students": 3, "not_graded": ["b_stopped", "c_never"]}
    assert list(summary["students"]) == ["a_first"] and summary["students"]["a_first"]["total"] == 14
    assert (out / "summary.md").read_text().split("\n")[2].startswith(f"**INCOMPLETE: grading was stopped by {name} after 1 of 3")
    assert sorted(p.name for p in (out / "feedback").iterdir()) == ["a_first.md"]


def test_stopped_while_the_grading_tests_run_a_notebook(tmp_path):
    """Without a sandbox; SIGTERM while a grading test waits for a call that hangs, after it started a daemon.

    Watched fail with the handler removed from the command (no `stopping.on_signals` in cli._grade): the
    grader died of the signal (status -15, the first assertion).
    """
    run = _stop_mid_batch(tmp_path, lambda line: MARK in line, hostile.with_cells(hostile.solution(), _HANG_IN_A_TEST), [])
    assert any(MARK in line for line in run["seen"].values())  # the daemon was there to be killed
    _check_what_was_kept(run)
    log = (run["out"] / "logs" / "b_stopped" / f"{hostile.EXERCISE}.log").read_text()
    assert re.search(r"pytest test_\S+ \(exit code (2|ExitCode.INTERRUPTED)\)", log), log[-3000:]  # its session ended


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed")
def test_stopped_while_a_sandboxed_kernel_starts(tmp_path):
    """As root with --sandbox-user; SIGTERM as soon as the second student's sandbox exists (its kernel is starting).

    Also: no process of the sandbox user is left, and none of the grader's cgroup folders.
    """
    if os.geteuid() != 0:
        pytest.skip("--sandbox-user needs root")
    from test_grading_sandbox import _ensure_user, _live_processes_of

    uid = _ensure_user(SANDBOX_USER).pw_uid
    run = _stop_mid_batch(tmp_path, lambda line: "bwrap" in line and "/work-0001-" in line, hostile.solution(),
                          ["--sandbox-user", SANDBOX_USER])
    _check_what_was_kept(run)
    assert _live_processes_of(uid) == []
    assert _cgroups_of(run["grader"]) == []
    if "(cgroup v" not in run["stdout"]:  # everything else above holds without cgroups; this part needs them
        pytest.skip("the grader could make no cgroup here, so their removal was not tested: " + run["stdout"][:300])


# ----------------------------------------------------------------------------- the pieces, without a kernel


def test_the_first_signal_raises_stopped_later_ones_are_ignored_and_the_old_handlers_come_back():
    before = signal.getsignal(signal.SIGHUP)
    with stopping.on_signals():
        with pytest.raises(stopping.Stopped) as stop:
            signal.raise_signal(signal.SIGHUP)
        assert (stop.value.signum, stop.value.name, stop.value.exit_status) == (signal.SIGHUP, "SIGHUP", 129)
        assert isinstance(stop.value, KeyboardInterrupt)  # what pytest ends its session at
        signal.raise_signal(signal.SIGTERM)  # the cleanup the first one started must not be cut short
        with pytest.raises(stopping.Stopped):
            stopping.check()  # where something swallowed it, it is raised again
    assert signal.getsignal(signal.SIGHUP) is before


def test_a_deferred_block_finishes_before_the_stop():
    with stopping.on_signals():
        done = []
        with pytest.raises(stopping.Stopped) as stop:
            with stopping.deferred():
                signal.raise_signal(signal.SIGINT)
                done.append("the rest of the cleanup")
        assert done == ["the rest of the cleanup"] and stop.value.exit_status == 130
    with stopping.deferred():  # without on_signals: nothing to do
        pass


_TWO_CHECKS = """
import signal
from pathlib import Path

def test_first(student):
    signal.raise_signal(signal.SIGTERM)

def test_second(student):
    Path(__file__).with_name("second_ran").touch()
"""


def test_a_stop_during_the_grading_tests_ends_them_and_reaches_the_grader(tmp_path):
    """pytest ends its session at the stop (no second check runs) and `run_tests` raises it again.

    Watched fail without the INTERRUPTED check in `plugin.run_tests`: GradingTestsError instead, which
    the batch records as one notebook's zero and goes on.
    """
    (tmp_path / "test_two_checks.py").write_text(_TWO_CHECKS)
    with stopping.on_signals(), pytest.raises(stopping.Stopped) as stop:
        plugin.run_tests(tmp_path / "test_two_checks.py", None, io.StringIO())
    assert stop.value.signum == signal.SIGTERM
    assert not (tmp_path / "second_ran").exists()


def test_a_stop_while_the_sandbox_makes_its_cgroups_leaves_none_behind(monkeypatch):
    """A signal just after the run's cgroup folder is made, before ``Sandbox.__enter__`` has returned.

    ``__exit__`` never runs then (``__enter__`` did not return), so only grade.grade's last
    `remove_cgroups` can remove the folder, and only if the sandbox holds it. Watched fail without the
    deferred block around ``Cgroups(...)`` in ``__enter__`` (sandbox.cgroups was None, the folder stayed).
    """
    from edu_gen.grading import sandbox as sandboxing
    from test_grading_sandbox import _ensure_user

    if os.geteuid() != 0:
        pytest.skip("an ordinary user cannot make cgroups here")
    _ensure_user(SANDBOX_USER)
    made: list[Path] = []
    make_runs = sandboxing.Cgroups._make_runs

    def make_runs_then_signal(self, name):
        make_runs(self, name)
        made.extend(self.runs.values())
        signal.raise_signal(signal.SIGTERM)  # its handler runs here, in the main thread, before __init__ returns

    monkeypatch.setattr(sandboxing.Cgroups, "_make_runs", make_runs_then_signal)
    box = sandboxing.Sandbox(SANDBOX_USER, hide=[], needed=[], limits=sandboxing.Limits())
    try:
        with stopping.on_signals(), pytest.raises(stopping.Stopped):
            with box:
                pytest.fail("the body must not run: the stop comes first")
        if not made:
            pytest.skip("no cgroup can be made here")
        box.remove_cgroups()  # what grade.grade does at its end, whatever happened
        assert [folder for folder in made if folder.exists()] == []
    finally:
        for folder in made:
            if folder.exists():
                folder.rmdir()
        if box._lock is not None:
            box._lock.close()


def test_a_stop_while_a_kernels_cgroup_is_made_leaves_none_behind(monkeypatch):
    """A signal between the mkdir of a kernel's cgroup and the end of `Cgroups.make`: `remove` still finds it.

    Watched fail with the folder recorded after its mkdir (as it was): `remove` left the kernel's folder and
    could not remove the run's.
    """
    from edu_gen.grading.sandbox import Cgroups

    if os.geteuid() != 0:
        pytest.skip("an ordinary user cannot make cgroups here")
    cgroups = Cgroups(200, 64, f"edu-gen-grade-test-{os.getpid()}")
    if cgroups.problem is not None:
        pytest.skip(f"no cgroup can be made here: {cgroups.problem}")
    made: list[Path] = []
    mkdir = Path.mkdir

    def mkdir_then_stop(self, *args, **kwargs):
        mkdir(self, *args, **kwargs)
        if self.name.startswith("kernel-"):
            made.append(self)
            raise stopping.Stopped(signal.SIGTERM)  # as the handler would, right after the folder exists

    try:
        with monkeypatch.context() as patch:
            patch.setattr(Path, "mkdir", mkdir_then_stop)
            with pytest.raises(stopping.Stopped):
                cgroups.make()
        assert made and cgroups.remove() == []
        assert [folder for folder in [*made, *cgroups.runs.values()] if folder.exists()] == []
    finally:
        for folder in made:
            if folder.exists():
                folder.rmdir()
        cgroups.remove()
