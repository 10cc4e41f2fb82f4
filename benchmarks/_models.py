"""The two workloads the benchmarks time: an MLP step and a small conv-net step on MNIST-sized batches."""

import torch
from torch import nn


def mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 784))


def convnet() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),  # (B, 32, 28, 28)
        nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),  # (B, 64, 14, 14)
        nn.Conv2d(64, 64, 3, stride=2, padding=1), nn.ReLU(),  # (B, 64, 7, 7)
        nn.Flatten(), nn.Linear(64 * 7 * 7, 784),
    )


WORKLOADS = {"mlp": mlp, "conv": convnet}


def batches(num_batches: int, batch_size: int = 128, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(batch_size, 1, 28, 28, generator=g) for _ in range(num_batches)]


def reconstruction_loss(model, batch):
    """A fixed loss for timing: reconstruct the (flattened) input."""
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    return nn.functional.mse_loss(model(x), x.flatten(1))


def record(name: str, lines: list[str]) -> None:
    """Write a benchmark's table to benchmarks/results/NAME.txt and print it.

    A line with the machine's load averages is added after the table's header comments: a run
    timed while other jobs shared the cores (load well above the thread count) is not a
    measurement of the code alone, and the file says so itself.
    """
    import os
    from pathlib import Path

    one, five, _ = os.getloadavg()
    header = [line for line in lines if line.startswith("#")]
    load = f"# load average when written: {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"
    lines = header + [load] + lines[len(header):] if lines[:len(header)] == header else [load] + lines
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / f"{name}.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def train_to_budgets(step, model, budgets=None, max_steps: int | None = None) -> list[dict]:
    """Call ``step(steps, cpu_seconds)`` until this process's CPU time passes each of `budgets`, or `max_steps` times.

    `step` makes one training step of a recipe (whatever that is: one optimiser step, or a discriminator and a
    generator step); it is told the steps done so far and the CPU seconds of training so far (for a recipe whose
    schedule depends on them). CPU time is `time.process_time` of this process (one thread: about what an idle
    core would take, whatever else runs on the machine); the copies are not counted.

    Args:
        step: a callable (steps done, CPU seconds so far) -> anything.
        model: the module whose `state_dict` is copied at every budget; put in training mode first.
        budgets: CPU seconds, any order; ignored when `max_steps` is given.
        max_steps: stop after this many steps instead, keeping one copy at the end.

    Returns:
        One dict per budget (or one at the end, for `max_steps`): ``state`` (a deep copy of the state dict),
        ``steps``, ``cpu_seconds`` and ``wall_seconds`` of training so far.

    Raises:
        ValueError: neither budgets nor max_steps, or max_steps < 1.
    """
    import copy
    import time

    budgets = sorted(budgets or [])
    if max_steps is None and not budgets:
        raise ValueError("train_to_budgets needs budgets (CPU seconds) or max_steps, got neither")
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    model.train()
    kept, steps, excluded_cpu, excluded_wall = [], 0, 0.0, 0.0
    start_cpu, start_wall = time.process_time(), time.perf_counter()

    def keep():
        nonlocal excluded_cpu, excluded_wall
        c, w = time.process_time(), time.perf_counter()
        kept.append({"state": copy.deepcopy(model.state_dict()), "steps": steps,
                     "cpu_seconds": c - start_cpu - excluded_cpu, "wall_seconds": w - start_wall - excluded_wall})
        excluded_cpu += time.process_time() - c
        excluded_wall += time.perf_counter() - w

    while True:
        cpu = time.process_time() - start_cpu - excluded_cpu
        if max_steps is None:
            while budgets and cpu >= budgets[0]:
                keep()
                budgets.pop(0)
            if not budgets:
                return kept
        elif steps >= max_steps:
            keep()
            return kept
        step(steps, cpu)
        steps += 1
