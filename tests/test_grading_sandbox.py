"""`edu-gen grade --sandbox-user`: kernels run as an unprivileged user that can see no secrets.

Runs only as root (the grader must be root to start kernels as another user); CI runs as root.
The sandbox user is created when missing, as the README tells instructors to. One batch holds
the solution, the untouched exercise and the attacks that only a sandbox can stop: reading the
tests, the solutions, the output and other students' notebooks; a daemon that outlives grading;
a fork bomb; signalling the grader; writing outside the work folder.
"""

import hashlib
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import hostile

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root: the grader starts kernels as another user")

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "grading" / "tests"
SOLUTION = ROOT / "solutions" / f"{hostile.EXERCISE}.ipynb"
USER = "edu-gen-sandbox"


def _ensure_user() -> int:
    try:
        return pwd.getpwnam(USER).pw_uid
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER], check=True)
        return pwd.getpwnam(USER).pw_uid


def _processes_of(uid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == uid:
                if Path(f"/proc/{entry}/stat").read_text().split(") ")[1][0] not in "ZX":
                    found.append(int(entry))
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    uid = _ensure_user()
    base = tmp_path_factory.mktemp("sandbox")
    submissions, out = base / "submissions", base / "grades"
    canary_folder = Path(tempfile.mkdtemp(prefix="edu-gen-canary-", dir="/run"))  # root-owned, not a scratch folder
    canary_folder.chmod(0o755)
    canary = canary_folder / "canary.txt"
    canary.write_text("untouched\n")
    canary.chmod(0o644)
    secrets = [TESTS, TESTS / f"test_{hostile.EXERCISE}.py", SOLUTION, ROOT / ".git" / "HEAD", out,
               submissions / "a_solution" / f"{hostile.EXERCISE}.ipynb"]
    notebooks = {
        "a_solution": hostile.solution(), "b_untouched": hostile.exercise(),
        "read_secrets": hostile.read_secrets(secrets, SOLUTION), "detached_daemon": hostile.detached_daemon(out),
        "fork_bomb": hostile.fork_bomb(), "signal_grader": hostile.signal_grader(), "write_outside": hostile.write_outside(canary),
        "exhaust_memory": hostile.exhaust_memory(), "exit_in_cell": hostile.exit_in_cell(),
    }
    hostile.write_batch(submissions, notebooks)
    hostile.add_every_exercise(submissions / "a_solution", submissions / "b_untouched")
    command = [sys.executable, "-m", "edu_gen.cli", "grade", str(submissions), "--out", str(out), "--tests", str(TESTS),
               # no notebook here hangs; a fork bomb of 250 kernel-sized processes needs a few seconds
               "--timeout", "60", "--cell-timeout", "20", "--sandbox-user", USER]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    finished = time.monotonic()
    yield {"done": done, "out": out, "uid": uid, "canary": canary, "finished": finished,
           "summary": json.loads((out / "grades.json").read_text()) if done.returncode == 0 else None,
           "digest": {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.rglob("*") if p.is_file() and "logs" not in p.parts}}
    shutil.rmtree(canary_folder, ignore_errors=True)


def _log(batch, student):
    return (batch["out"] / "logs" / student / f"{hostile.EXERCISE}.log").read_text()


def test_the_batch_runs_and_the_sandbox_is_checked_first(batch):
    assert batch["done"].returncode == 0, batch["done"].stderr[-3000:]
    assert "sandbox: user edu-gen-sandbox" in batch["done"].stdout
    assert "WARNING" not in batch["done"].stderr


def test_every_solution_scores_full_marks_and_every_exercise_zero(batch):
    students, exercises = batch["summary"]["students"], batch["summary"]["exercises"]
    for exercise, tests in exercises.items():
        assert students["a_solution"]["notebooks"][exercise]["earned"] == sum(t["points"] for t in tests), exercise
    assert students["b_untouched"]["total"] == 0


@pytest.mark.parametrize("name", ["read_secrets", "detached_daemon", "fork_bomb", "signal_grader", "write_outside",
                                  "exhaust_memory", "exit_in_cell"])
def test_a_hostile_notebook_gains_no_points(batch, name):
    assert batch["summary"]["students"][name]["total"] == 0


def test_tests_solutions_output_and_other_students_are_unreadable(batch):
    log = _log(batch, "read_secrets")
    denied = re.findall(r"^DENIED (\S+)", log, flags=re.M)
    assert len(denied) == 7 and "READ " not in log, log[-3000:]
    # PermissionError where the folder is an unreadable mount; FileNotFoundError where the whole
    # tree is out of the kernel's view (a repository under /tmp, which the sandbox replaces)
    assert re.search(r"^no solution: (PermissionError|FileNotFoundError)$", log, flags=re.M), log[-3000:]
    assert "USED THE SOLUTION" not in log


def test_a_detached_daemon_dies_with_its_notebook(batch):
    log = _log(batch, "detached_daemon")
    assert "hostile daemon started" in log, "the daemon never started, so this test would prove nothing"
    time.sleep(max(0.0, batch["finished"] + 3 - time.monotonic()))
    now = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in batch["out"].rglob("*") if p.is_file() and "logs" not in p.parts}
    assert now == batch["digest"] and "REWROTE" not in _log(batch, "detached_daemon")
    assert _processes_of(batch["uid"]) == []


def test_a_fork_bomb_is_stopped_by_the_process_limit(batch):
    refused = re.search(r"fork refused after (\d+) children", _log(batch, "fork_bomb"))
    assert refused and int(refused.group(1)) < 256


def test_the_grader_cannot_be_signalled_and_nothing_outside_can_be_written(batch):
    log = _log(batch, "signal_grader")
    assert "KILLED" not in log and log.count("could not signal") == 2
    assert "could not write" in _log(batch, "write_outside") and batch["canary"].read_text() == "untouched\n"


def test_memory_is_limited_inside_the_sandbox(batch):
    refused = re.search(r"allocation refused after (\d+) GiB", _log(batch, "exhaust_memory"))
    assert refused and int(refused.group(1)) <= 4


def test_the_output_folder_is_private(batch):
    assert batch["out"].stat().st_mode & 0o077 == 0
