"""The `edu-gen` command.

    edu-gen info                 versions, device, scale, where data and checkpoints live
    edu-gen data [--name mnist]  check that a data set loads (and whether it falls back)
    edu-gen assign [--check]     solutions/NN_name.ipynb -> exercises/NN_name.ipynb (or check they agree)
    edu-gen grade SUBMISSIONS/ --out GRADES/ [--sandbox | --sandbox-user USER]
                                 grade one folder per student; grades.csv, feedback/, logs/

Exercises and grading are described in DESIGN.md section 7 and the README.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _info(args) -> int:
    import platform

    import torch

    import edu_gen
    from edu_gen import _compat, runtime

    print(f"edu_gen      {edu_gen.__version__}")
    print(f"python       {platform.python_version()}")
    print(f"torch        {torch.__version__}")
    print(f"torchvision  {_compat.torchvision.__version__}" + (" (compiled operators missing; datasets, transforms and make_grid work)" if _compat.OPERATORS_MISSING else ""))
    print(f"device       {runtime.device()}")
    print(f"scale        {runtime.scale()}  (EDU_GEN_SCALE)")
    print(f"data         {runtime.data_root()}  (EDU_GEN_DATA)")
    print(f"checkpoints  {runtime.cache_root() / 'checkpoints'}  (EDU_GEN_CACHE)")
    return 0


def _data(args) -> int:
    from edu_gen import data

    for split in ("train", "test"):
        x, y = data.images(args.name, split)
        print(f"{args.name} {split}: images {tuple(x.shape)} {x.dtype} in [{x.min():.1f}, {x.max():.1f}], labels {tuple(y.shape)} {y.dtype}")
    return 0


def _assign(args) -> int:
    from edu_gen.grading import assign

    try:
        if args.check:
            problems = assign.check(args.solutions, args.exercises)
            for line in problems:
                print(line, file=sys.stderr)
            if problems:
                print(f"{len(problems)} exercise notebook(s) out of date; run `edu-gen assign`", file=sys.stderr)
                return 1
            print(f"{args.exercises}/ is up to date with {args.solutions}/")
            return 0
        written = assign.assign(args.solutions, args.exercises)
    except assign.AssignError as error:
        print(f"edu-gen assign: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    print(f"{len(written)} exercise notebook(s) written" if written else f"{args.exercises}/ was already up to date")
    return 0


def _grade(args) -> int:
    from edu_gen.grading import grade, plugin, processes, sandbox, stopping

    options = grade.Options(timeout=args.timeout, cell_timeout=args.cell_timeout, memory_mb=args.memory_mb,
                            total_memory_mb=args.total_memory_mb, disk_mb=args.disk_mb, sandbox=args.sandbox, sandbox_user=args.sandbox_user, solutions=args.solutions,
                            exercises=tuple(args.exercises) if args.exercises else None)
    started = time.monotonic()
    # standard error as it is now, for the line that says the grader was stopped: pytest, which runs each notebook's
    # tests in this process, redirects file descriptor 2 meanwhile, and a stop could cut its restoring short
    terminal = processes.own_stream(2) or sys.stderr
    try:
        with stopping.on_signals():  # SIGTERM, SIGINT, SIGHUP: the normal end's cleanup, then what was graded
            summary = grade.grade(args.submissions, args.out, args.tests, options)
    except stopping.Stopped as stop:
        if stop.graded is None:
            done = "nothing was graded or written"
        else:
            done = (f"{stop.graded} of {stop.students} students were graded before it, written to {args.out}"
                    + ("; summary.md and grades.json mark the run incomplete" if stop.graded < stop.students else ""))
        print(f"edu-gen grade: stopped by {stop.name}; cleaned up as at a normal end (every kernel and process of the "
              f"batch killed, its work folder and any cgroups removed); {done}", file=terminal, flush=True)
        return stop.exit_status
    except (grade.GradingInputError, sandbox.SandboxError, plugin.GradingTestsError) as error:
        print(f"edu-gen grade: {error}", file=sys.stderr)
        return 1
    finally:
        if terminal is not sys.stderr:
            terminal.close()
    notebooks = sum(len(s["notebooks"]) for s in summary["students"].values())
    print(f"graded {len(summary['students'])} students, {notebooks} notebooks in {time.monotonic() - started:.1f} s: "
          f"{args.out / 'grades.csv'}, class summary {args.out / 'summary.md'}, feedback in {args.out / 'feedback'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="edu-gen", description="Tools of the edu-gen book.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="versions, device, scale and folders").set_defaults(run=_info)
    data_parser = commands.add_parser("data", help="load a data set and describe it")
    data_parser.add_argument("--name", default="mnist", choices=["mnist", "fashion_mnist", "digits"])
    data_parser.set_defaults(run=_data)

    assign_parser = commands.add_parser("assign", help="make exercises/ from solutions/ (or --check that they agree)")
    assign_parser.add_argument("--solutions", type=Path, default=Path("solutions"), help="default: ./solutions")
    assign_parser.add_argument("--exercises", type=Path, default=Path("exercises"), help="default: ./exercises")
    assign_parser.add_argument("--check", action="store_true", help="write nothing; exit 1 and name the stale files")
    assign_parser.set_defaults(run=_assign)

    grade_parser = commands.add_parser("grade", help="grade a folder of submissions (one folder per student)")
    grade_parser.add_argument("submissions", type=Path, help="SUBMISSIONS/STUDENT/NN_name.ipynb")
    grade_parser.add_argument("--out", type=Path, required=True, help="where grades.csv, feedback/ and logs/ go")
    grade_parser.add_argument("--tests", type=Path, default=Path("grading/tests"), help="default: ./grading/tests")
    grade_parser.add_argument("--solutions", type=Path, default=None,
                              help="hidden from submissions too (default: the solutions/ next to grading/)")
    grade_parser.add_argument("--timeout", type=float, default=300.0, help="seconds per notebook, all in (default 300)")
    grade_parser.add_argument("--cell-timeout", type=float, default=60.0, help="seconds per cell or call (default 60)")
    grade_parser.add_argument("--memory-mb", type=int, default=4096, help="address-space limit per kernel (default 4096)")
    grade_parser.add_argument("--total-memory-mb", type=int, default=3072,
                              help="with a sandbox, where a cgroup can be made: memory of a notebook's processes together, "
                                   "its files in /tmp included; reaching it stops the whole notebook (default 3072)")
    grade_parser.add_argument("--exercises", nargs="+", metavar="NN_name", default=None,
                              help="grade only these exercises (e.g. 02_manifold_learning, or just 02); totals "
                                   "are over them (default: every exercise in --tests)")
    grade_parser.add_argument("--disk-mb", type=int, default=1024,
                              help="with a sandbox: space a kernel may write in total, /tmp and /dev/shm included (default 1024; it is memory)")
    grade_parser.add_argument("--sandbox", action="store_true",
                              help="run each kernel in a bubblewrap sandbox (as an ordinary user; as root use --sandbox-user)")
    grade_parser.add_argument("--sandbox-user", default=None,
                              help="as root: run each kernel in a bubblewrap sandbox as this unprivileged user")
    grade_parser.set_defaults(run=_grade)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
