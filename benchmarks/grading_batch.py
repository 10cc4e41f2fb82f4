"""Grade a class of 20 mixed submissions end to end and time it.

6 correct, 4 partly wrong, 3 untouched and 7 hostile notebooks (patched comparisons, cells
blanked by an input transformer, os._exit inside a graded call, a detached daemon, a reader of
the tests and solutions, memory exhaustion, a cell that hangs), built by tests/hostile. As
root it grades with ``--sandbox-user edu-gen-sandbox`` (created if missing); otherwise without
the sandbox. Checks the scores and writes the time per notebook. Run:

    python benchmarks/grading_batch.py        # writes benchmarks/results/grading_batch.txt
"""

import csv
import os
import platform
import pwd
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))

import hostile  # noqa: E402
from _models import record  # noqa: E402

SANDBOX_USER = "edu-gen-sandbox"


def class_of_twenty(out: Path) -> dict:
    notebooks = {f"correct_{i}": hostile.solution() for i in range(6)}
    notebooks |= {f"wrong_{i}": hostile.partly_wrong() for i in range(4)}
    notebooks |= {f"untouched_{i}": hostile.exercise() for i in range(3)}
    notebooks |= {
        "hostile_comparisons": hostile.patch_comparisons(),
        "hostile_blank_cells": hostile.blank_later_cells(),
        "hostile_exit_in_call": hostile.exit_in_call(),
        "hostile_daemon": hostile.detached_daemon(out),
        "hostile_reader": hostile.read_secrets(
            [ROOT / "grading" / "tests", ROOT / "solutions"], ROOT / "solutions" / "01_losses_as_likelihood.ipynb"
        ),
        "hostile_memory": hostile.exhaust_memory(),
        "hostile_hang": hostile.hang_in_cell(),
    }
    return notebooks


def main() -> int:
    sandbox = os.geteuid() == 0
    if sandbox:
        try:
            pwd.getpwnam(SANDBOX_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SANDBOX_USER], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        submissions, out = Path(tmp) / "submissions", Path(tmp) / "grades"
        notebooks = class_of_twenty(out)
        hostile.write_batch(submissions, notebooks)
        command = [sys.executable, "-m", "edu_gen.cli", "grade", str(submissions), "--out", str(out), "--cell-timeout", "10"]
        if sandbox:
            command += ["--sandbox-user", SANDBOX_USER]
        started = time.perf_counter()
        subprocess.run(command, check=True, cwd=ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        rows = {row["student"]: row for row in csv.DictReader(open(out / "grades.csv"))}
    total = {student: float(row["total"]) for student, row in rows.items()}
    full = max(total[s] for s in rows if s.startswith("correct"))  # every test of exercise 01 passed
    problems = [s for s in rows if s.startswith("correct") and not total[s] == full > 0]
    problems += [s for s in rows if s.startswith(("untouched", "hostile")) and total[s] != 0]
    problems += [s for s in rows if s.startswith("wrong") and not 0 < total[s] < full]
    lines = [
        "# edu-gen grade on 20 mixed submissions (6 correct, 4 partly wrong, 3 untouched, 7 hostile), end to end",
        f"# {time.strftime('%Y-%m-%d')} | {platform.machine()} | {os.cpu_count()} cores | "
        f"{'--sandbox-user ' + SANDBOX_USER if sandbox else 'no sandbox (not root)'} | --cell-timeout 10",
        f"notebooks {len(notebooks)}  total_s {seconds:.1f}  per_notebook_s {seconds / len(notebooks):.2f}",
        "scores: " + ", ".join(f"{s} {rows[s]['total']}" for s in sorted(rows)),
        "scores as expected" if not problems else f"UNEXPECTED SCORES: {problems}",
    ]
    record("grading_batch", lines)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
