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
