"""Overhead of `edu_gen.train.fit` against a bare PyTorch loop on the same model and data.

Both run on ONE torch thread and are timed in CPU seconds of the process (`time.process_time`):
with several threads, a thread that waits for a descheduled sibling spins and burns CPU, so
any other load on the machine inflated both clocks up to tenfold in trial runs; a single
thread's CPU time is barely disturbed. Wall-clock times are reported too.

Both loops run in one process, alternating, from identical initial weights and the same
batches; the bare loop does only forward, backward and step (no logging, no finiteness check),
so the ratio is the whole price of fit's history, NaN guard and progress machinery. Run:

    python benchmarks/train_overhead.py       # writes benchmarks/results/train_overhead.txt
"""

import copy
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _models import WORKLOADS, reconstruction_loss, record  # noqa: E402

from edu_gen import data, runtime, train  # noqa: E402


def bare_loop(model, loader, epochs):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(epochs):
        for batch in loader:
            loss = reconstruction_loss(model, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()


def edu_gen_fit(model, loader, epochs):
    train.fit(model, reconstruction_loss, loader, epochs=epochs, lr=1e-3, device="cpu", progress=False)


def main(rounds: int = 9, epochs: int = 2) -> None:
    runtime.tune_glibc_allocator()  # as runtime.setup() does in every chapter
    torch.set_num_threads(1)
    images = torch.rand(2048, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    lines = [
        "# edu_gen.train.fit vs a bare PyTorch loop: CPU seconds per epoch (median of alternating rounds)",
        f"# {time.strftime('%Y-%m-%d')} | {platform.machine()} | {torch.get_num_threads()} threads | torch {torch.__version__} | "
        f"rounds {rounds} x {epochs} epochs | 2048 images, batch 128 (16 steps per epoch)",
        "workload  bare_s   fit_s   overhead(fit/bare - 1)   (wall-clock: bare_s fit_s overhead)",
    ]
    for name, build in WORKLOADS.items():
        torch.manual_seed(0)
        initial = build()
        loader = data.loader(images, batch_size=128, shuffle=True, seed=0)
        times = {"bare": [], "fit": []}
        walls = {"bare": [], "fit": []}
        edu_gen_fit(copy.deepcopy(initial), loader, 1)  # warm-up of both paths
        bare_loop(copy.deepcopy(initial), loader, 1)
        for r in range(rounds):
            order = [("bare", bare_loop), ("fit", edu_gen_fit)]
            for label, loop in order if r % 2 == 0 else order[::-1]:  # alternate who goes first
                model = copy.deepcopy(initial)
                started, started_wall = time.process_time(), time.perf_counter()
                loop(model, loader, epochs)
                times[label].append((time.process_time() - started) / epochs)
                walls[label].append((time.perf_counter() - started_wall) / epochs)
        bare, fit = statistics.median(times["bare"]), statistics.median(times["fit"])
        wall_bare, wall_fit = statistics.median(walls["bare"]), statistics.median(walls["fit"])
        lines.append(
            f"{name:8s}  {bare:6.3f}  {fit:6.3f}  {100 * (fit / bare - 1):+6.1f}%"
            f"      wall: {wall_bare:6.3f} {wall_fit:6.3f} {100 * (wall_fit / wall_bare - 1):+6.1f}%"
        )
        print(lines[-1], flush=True)
    record("train_overhead", lines)


if __name__ == "__main__":
    main()
