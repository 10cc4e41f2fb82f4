"""Grade a class of submissions end to end: time per notebook, the grader's peak memory.

A class of S students (``--students``, default 20), each handing in every exercise (S x the
number of exercises in ``solutions/``; 10 students x 11 exercises = 110 notebooks). Of every five students

- two hand in every solution (correct: full marks expected);
- one hands in every exercise untouched (blank: zero);
- one hands in every solution with one graded function broken (partly correct: between);
- one is hostile: each of their notebooks is that exercise's blank notebook plus one of
  the attacks of tests/hostile (patched comparisons, cells blanked by an input transformer,
  forged answers, os._exit, a hang, memory exhaustion, a detached daemon, a reader of the
  tests and solutions, a replaced kernel serialiser, an output flood, every route by which a
  hidden input could reach the feedback), all scoring zero.

The class is graded twice: without a sandbox, then in the bubblewrap sandbox: as root with
``--sandbox-user edu-gen-sandbox`` (created if missing), otherwise with ``--sandbox``. The grader's peak resident
memory is read from /proc/PID/status (VmHWM) while it runs. Prints one JSON object last:
``{"notebooks", "modes": {MODE: {"total_s", "per_notebook_s", "grader_peak_mb", "completed",
"scores_as_expected"}}}``. Run:

    python benchmarks/grading_batch.py [--students 20]   # writes benchmarks/results/grading_batch.txt
"""

import argparse
import copy
import itertools
import csv
import json
import os
import platform
import pwd
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat

HERE = Path(__file__).parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))

import hostile  # noqa: E402
from _models import record  # noqa: E402

SANDBOX_USER = "edu-gen-sandbox"
EXERCISES = sorted(p.stem for p in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
# one graded function per exercise, replaced by a wrong version of the right shape (partly correct)
BROKEN = {
    "01_losses_as_likelihood": "def gaussian_nll(x, mean):\n    return 0.5 * ((x - mean) ** 2).reshape(len(x), -1).sum(dim=1)",
    "02_manifold_learning": "def parzen_log_density(x, centers, bandwidth):\n    return torch.zeros(len(x), dtype=x.dtype)",
    "03_autoencoders": "def mask_noise(x, level, generator=None):\n    return x",
    "04_elbo": "def kl_to_standard_normal(mu, log_var):\n    return 0.5 * (mu ** 2).sum(dim=-1)",
    "05_vae": "def negative_elbo(*args, **kwargs):\n    raise ValueError('not finished')",
    # forgets the entropy term of U(x)
    "06_cvae": "def unlabelled_bound(labelled_losses, class_logits):\n    return (torch.softmax(class_logits, 1) * labelled_losses).sum(1)",
    # the saturating loss where the exercise asks for the non-saturating one
    "07_aae": "def generator_loss(fake_logits):\n    return -torch.nn.functional.softplus(fake_logits).mean()",
    # the mean over pixels where the per-image sum is asked for
    "08_pixelcnn": "def image_nll(x, logits):\n    return torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction='none').flatten(1).mean(1)",
    # real and fake targets swapped
    "09_gan": "def discriminator_loss(real_logits, fake_logits):\n    f = torch.nn.functional.binary_cross_entropy_with_logits\n    return f(real_logits, torch.zeros_like(real_logits)) + f(fake_logits, torch.ones_like(fake_logits))",
    # a squared error where the cycle loss is L1
    "10_conditional_gans": "def cycle_consistency_loss(x, x_cycled, y, y_cycled):\n    return ((x_cycled - x) ** 2).mean() + ((y_cycled - y) ** 2).mean()",
    # ties counted as outlier wins where they count one half
    "11_comparison": "def auroc(scores_in, scores_out):\n    return (scores_out[:, None] >= scores_in[None, :]).double().mean()",
}
missing = set(EXERCISES) - set(BROKEN)
assert not missing, f"BROKEN has no partly-wrong version for exercises {sorted(missing)}"


def _read(folder: str, exercise: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / folder / f"{exercise}.ipynb", as_version=4)


def _attacks(out: Path, spill: Path) -> list[list[str]]:
    """The attack cells of each hostile builder (what it adds to the chapter-1 notebook)."""
    base = len(hostile.exercise().cells)
    builders = [hostile.patch_comparisons(), hostile.blank_later_cells(), hostile.forge_answers(), hostile.exit_in_cell(),
                hostile.hang_in_cell(), hostile.exhaust_memory(), hostile.detached_daemon(out),
                hostile.read_secrets([ROOT / "grading" / "tests", ROOT / "solutions"],
                                     ROOT / "solutions" / "01_losses_as_likelihood.ipynb"),
                hostile.break_serializer(), hostile.flood_output(), hostile.leak_inputs(spill),
                hostile.patch_builtins(), hostile.always_equal(), hostile.hang_in_call(), hostile.exit_in_call(),
                hostile.blank_later_cells(), hostile.forge_answers(), hostile.patch_comparisons(),
                hostile.exhaust_memory(), hostile.break_serializer()]
    return [[c.source for c in nb.cells[base:]] for nb in builders]


def _kind(i: int, size: int) -> str:
    """Student i's kind in a class of `size`: the first 2/5 correct, then 1/5 blank, 1/5 partly correct, the rest hostile."""
    fifth = size / 5
    return "correct" if i < 2 * fifth else "blank" if i < 3 * fifth else "partly" if i < 4 * fifth else "hostile"


def a_class(out: Path, spill: Path, size: int = 20) -> tuple[dict[str, dict[str, nbformat.NotebookNode]], dict[str, str]]:
    """(students -> exercise -> notebook, student -> expected outcome) for a class of `size` students."""
    students, expected = {}, {}
    # the hostile students x every exercise; the attacks are reused in turn when there are more notebooks
    attacks = itertools.cycle(_attacks(out, spill))
    for i in range(size):
        kind = _kind(i, size)
        name = f"{kind}_{i:02d}"
        expected[name] = kind
        students[name] = {}
        for exercise in EXERCISES:
            if kind == "correct":
                notebook = _read("solutions", exercise)
            elif kind == "blank":
                notebook = _read("exercises", exercise)
            elif kind == "partly":
                notebook = copy.deepcopy(_read("solutions", exercise))
                notebook.cells.append(nbformat.v4.new_code_cell("import torch\n" + BROKEN[exercise]))
            else:
                notebook = copy.deepcopy(_read("exercises", exercise))
                notebook.cells += [nbformat.v4.new_code_cell(s) for s in next(attacks)]
            students[name][exercise] = notebook
    return students, expected


def _watch_peak(process: subprocess.Popen, peak: list[int]) -> None:
    """Read the grader's VmHWM (peak resident set, kB) every 0.2 s until it exits."""
    status = Path(f"/proc/{process.pid}/status")
    while process.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak[0] = max(peak[0], int(line.split()[1]))
        except OSError:
            break
        time.sleep(0.2)


def grade_once(sandbox: str | None, size: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        submissions, out, spill = Path(tmp) / "submissions", Path(tmp) / "grades", Path(tmp) / "spill.txt"
        students, expected = a_class(out, spill, size)
        for student, notebooks in students.items():
            (submissions / student).mkdir(parents=True)
            for exercise, notebook in notebooks.items():
                nbformat.write(notebook, submissions / student / f"{exercise}.ipynb")
        command = [sys.executable, "-m", "edu_gen.cli", "grade", str(submissions), "--out", str(out),
                   "--timeout", "120", "--cell-timeout", "10"]
        if sandbox == "--sandbox-user":
            command += ["--sandbox-user", SANDBOX_USER]
        elif sandbox == "--sandbox":
            command += ["--sandbox"]
        peak = [0]
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        watcher = threading.Thread(target=_watch_peak, args=(process, peak), daemon=True)
        watcher.start()
        stdout, stderr = process.communicate()
        seconds = time.perf_counter() - started
        completed = process.returncode == 0 and (out / "grades.csv").is_file()
        rows = {row["student"]: row for row in csv.DictReader(open(out / "grades.csv"))} if completed else {}
        # cells of each student's notebooks that hit --cell-timeout (from the grader's logs): on a loaded machine a
        # correct notebook's first cell (import torch) can take longer than the 10 s this batch allows
        cell_timeouts = {student: sum(log.read_text(errors="replace").count(": timeout in ")
                                      for log in (out / "logs" / student).glob("*.log"))
                         for student in students if (out / "logs" / student).is_dir()}
        leaked = []
        if completed and spill.is_file():
            digits = set(spill.read_text().split())
            leaked = [f.name for f in (out / "feedback").glob("*.md") if any(d in f.read_text() for d in digits)]
    notebooks = sum(len(n) for n in students.values())
    totals = {s: float(r["total"]) for s, r in rows.items()}
    full = float(next(iter(rows.values()))["max"]) if rows else 0.0
    wrong = [s for s, kind in expected.items() if s not in totals or not {
        "correct": totals.get(s) == full, "blank": totals.get(s) == 0, "hostile": totals.get(s) == 0,
        "partly": 0 < totals.get(s, 0) < full}[kind]]
    return {"total_s": round(seconds, 1), "per_notebook_s": round(seconds / notebooks, 2),
            "grader_peak_mb": round(peak[0] / 1024, 1), "completed": completed,
            "scores_as_expected": not wrong and not leaked, "unexpected": wrong, "leaked_into_feedback": leaked,
            "cell_timeouts_of_unexpected": {s: cell_timeouts.get(s, 0) for s in wrong},
            "scores": {s: totals.get(s) for s in sorted(expected)}, "max": full, "notebooks": notebooks,
            # every test's points for the partly-correct students, whose notebooks are identical: see `partly_disagreements`
            "partly_columns": {s: {k: v for k, v in r.items() if k not in ("student", "total", "max")}
                               for s, r in rows.items() if expected.get(s) == "partly"},
            "cell_timeouts": cell_timeouts,
            "stderr_tail": "" if completed else stderr[-2000:]}


def partly_disagreements(results: dict[str, dict]) -> list[str]:
    """The grades.csv columns in which identical notebooks got different points, over all students and modes.

    The partly-correct students hand in the same notebooks, so a grader that means what it says gives them the
    same points in every test, with or without the sandbox. `results` maps a mode to `grade_once`'s dict.
    """
    seen: dict[str, set[str]] = {}
    for r in results.values():
        for columns in r["partly_columns"].values():
            for column, points in columns.items():
                seen.setdefault(column, set()).add(points)
    return sorted(column for column, points in seen.items() if len(points) > 1)


def main() -> int:
    parser = argparse.ArgumentParser(description="Grade a class end to end, without and with the sandbox.")
    parser.add_argument("--students", type=int, default=20, help="class size, at least 5 (one of each kind)")
    size = parser.parse_args().students
    if size < 5:
        parser.error(f"--students must be at least 5 (one student of each kind), got {size}")
    modes = {"no sandbox": None}
    if os.geteuid() != 0:
        modes["--sandbox"] = "--sandbox"  # bubblewrap as the ordinary user
    else:
        try:
            pwd.getpwnam(SANDBOX_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SANDBOX_USER], check=True)
        modes["--sandbox-user"] = "--sandbox-user"  # bubblewrap, kernels as that user
    results = {mode: grade_once(sandbox, size) for mode, sandbox in modes.items()}
    kinds = [_kind(i, size) for i in range(size)]
    counts = ", ".join(f"{kinds.count(k)} {k}" for k in ("correct", "blank", "partly", "hostile"))
    notebooks = next(iter(results.values()))["notebooks"]
    lines = [f"# edu-gen grade on a class of {size} students x {len(EXERCISES)} exercises = {notebooks} notebooks "
             f"({counts} students), end to end",
             f"# {time.strftime('%Y-%m-%d')} | {platform.machine()} | {os.cpu_count()} cores | --timeout 120 --cell-timeout 10",
             f"# command: python benchmarks/grading_batch.py --students {size} (as root: --sandbox-user mode; otherwise --sandbox)"]
    for mode, r in results.items():
        lines.append(f"{mode}: total_s {r['total_s']}  per_notebook_s {r['per_notebook_s']}  grader_peak_mb {r['grader_peak_mb']}  "
                     f"completed {r['completed']}  scores_as_expected {r['scores_as_expected']}")
        lines.append(f"  scores (max {r['max']:g}): " + ", ".join(f"{s} {v:g}" if v is not None else f"{s} -" for s, v in r["scores"].items()))
        if not r["scores_as_expected"]:
            lines.append(f"  UNEXPECTED: {r['unexpected']} (cells that hit the cell timeout: {r['cell_timeouts_of_unexpected']}) "
                         f"leaked: {r['leaked_into_feedback']} {r['stderr_tail']}")
    disagree = partly_disagreements(results)
    lines.append(f"partly-correct students (identical notebooks), tests whose points differ between students or modes: "
                 f"{disagree or 'none'}; cells that hit the cell timeout, per mode and student: "
                 + "; ".join(f"{m}: {r['cell_timeouts']}" for m, r in results.items()))
    summary = {"notebooks": notebooks, "partly_identical": not disagree, "modes": {m: {k: r[k] for k in ("total_s", "per_notebook_s", "grader_peak_mb",
                                                                          "completed", "scores_as_expected")}
                                                 for m, r in results.items()}}
    lines.append(json.dumps(summary))
    record("grading_batch", lines)
    return 0 if all(r["completed"] and r["scores_as_expected"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
