"""Run a notebook once and print the seconds each code cell took, slowest first: where a chapter's time budget goes.

    EDU_GEN_SCALE=ci python scripts/cell_times.py book/03_autoencoders.ipynb [--top 15]

The notebook runs in a fresh kernel from its own folder, as the book build runs it; outputs are not written back.
Numbers are wall-clock seconds on this machine at its present load (the last line says the load average), so compare
them within one run only.
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
        self.times: list[tuple[float, int, str]] = []

    async def async_execute_cell(self, cell, cell_index, *args, **kwargs):
        start = time.perf_counter()
        result = await super().async_execute_cell(cell, cell_index, *args, **kwargs)
        if cell.cell_type == "code":
            first = next((line for line in cell.source.splitlines() if line.strip() and not line.startswith("#")), "")
            self.times.append((time.perf_counter() - start, cell_index, first[:70]))
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
    print(f"{args.notebook}: {total:.1f} s in all, scale {os.environ.get('EDU_GEN_SCALE', 'book')}")
    for seconds, index, first in sorted(client.times, reverse=True)[:args.top]:
        print(f"{seconds:8.2f} s  cell {index:3d}  {first}")
    print("load average:", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
