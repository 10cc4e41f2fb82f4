"""Run a notebook once and print the seconds each code cell took, slowest first: where a chapter's time budget goes.

    EDU_GEN_SCALE=ci python scripts/cell_times.py book/03_autoencoders.ipynb [--top 15]

The notebook runs in a fresh kernel from its own folder, as the book build runs it; outputs are not written back.
Two numbers per cell: wall-clock seconds, which depend on this machine's present load (the last line says the load
average), so compare them within one run only; and the kernel's CPU seconds (user + system, its children included),
which hardly depend on the load when the kernel runs one thread (EDU_GEN_THREADS=1): on a shared machine, time with one
thread and compare CPU seconds.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


class _TimedClient(NotebookClient):
    """A NotebookClient that records each code cell's wall-clock time."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.times: list[tuple[float, float, int, str]] = []

    def kernel_cpu_seconds(self) -> float:
        """User + system CPU seconds of the kernel process and its waited-for children, from /proc (Linux); NaN elsewhere."""
        pid = getattr(getattr(self.km, "provisioner", None), "pid", None)
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError, TypeError):
            return float("nan")
        # after the name: state is field 3 of proc(5), so utime, stime, cutime, cstime (14-17) are 11-14 here
        return sum(int(tick) for tick in fields[11:15]) / os.sysconf("SC_CLK_TCK")

    async def async_execute_cell(self, cell, cell_index, *args, **kwargs):
        start, cpu = time.perf_counter(), self.kernel_cpu_seconds()
        result = await super().async_execute_cell(cell, cell_index, *args, **kwargs)
        if cell.cell_type == "code":
            first = next((line for line in cell.source.splitlines() if line.strip() and not line.startswith("#")), "")
            self.times.append((time.perf_counter() - start, self.kernel_cpu_seconds() - cpu, cell_index, first[:70]))
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--top", type=int, default=15, help="how many of the slowest cells to print")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell")
    args = parser.parse_args()
    if not args.notebook.is_file():
        parser.error(f"notebook: no such file {args.notebook}")
    nb = nbformat.read(args.notebook, as_version=4)
    client = _TimedClient(nb, timeout=args.timeout, kernel_name="python3",
                          resources={"metadata": {"path": str(args.notebook.parent)}})
    start = time.perf_counter()
    client.execute()
    total = time.perf_counter() - start
    cpu = sum(t[1] for t in client.times)
    print(f"{args.notebook}: {total:.1f} s in all ({cpu:.1f} CPU-s in its code cells), "
          f"scale {os.environ.get('EDU_GEN_SCALE', 'book')}, threads {os.environ.get('EDU_GEN_THREADS', 'default')}")
    for seconds, cpu_seconds, index, first in sorted(client.times, reverse=True)[:args.top]:
        print(f"{seconds:8.2f} s {cpu_seconds:8.2f} CPU-s  cell {index:3d}  {first}")
    print("load average:", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
