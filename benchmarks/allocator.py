"""Does glibc's allocator setting (mallopt M_MMAP_THRESHOLD / M_TRIM_THRESHOLD) speed up training here?

mallopt changes the whole process and cannot be undone cleanly, so each measurement runs in a
fresh subprocess, with and without the setting, alternating, several rounds; the ratio of the
median step times is reported, in CPU seconds of the process (`time.process_time`, all threads:
less disturbed by other load on the machine than wall time) and in wall-clock seconds. Run:

    python benchmarks/allocator.py            # writes benchmarks/results/allocator.txt
"""

import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _models import record  # noqa: E402

WORKER = r"""
import json, sys, time, torch
sys.path.insert(0, {here!r})
from _models import WORKLOADS, batches, reconstruction_loss
from edu_gen import runtime
if {tuned}:
    assert runtime.tune_glibc_allocator()
torch.manual_seed(0)
model = WORKLOADS[{name!r}]()
optimizer = torch.optim.Adam(model.parameters(), 1e-3)
data = batches(8)
def step(x):
    loss = reconstruction_loss(model, x)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
for x in data[:3]:
    step(x)  # warm-up
started, started_wall = time.process_time(), time.perf_counter()
for i in range({steps}):
    step(data[i % len(data)])
print(json.dumps([(time.process_time() - started) / {steps}, (time.perf_counter() - started_wall) / {steps}]))
"""


def time_step(name: str, tuned: bool, steps: int) -> list[float]:
    code = WORKER.format(here=str(HERE), tuned=tuned, name=name, steps=steps)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(rounds: int = 5) -> None:
    import torch

    lines = [
        "# glibc allocator setting: CPU milliseconds per training step, default vs tuned (median of alternating runs)",
        f"# {time.strftime('%Y-%m-%d')} | {platform.machine()} | {torch.get_num_threads()} threads | torch {torch.__version__} | rounds {rounds}",
        "workload  default_ms  tuned_ms  speedup(default/tuned)   (wall-clock: default_ms tuned_ms speedup)",
    ]
    for name, steps in (("mlp", 60), ("conv", 20)):
        default, tuned = [], []
        for _ in range(rounds):
            default.append(time_step(name, False, steps))
            tuned.append(time_step(name, True, steps))
        d, t = (statistics.median(r[0] for r in runs) for runs in (default, tuned))
        wd, wt = (statistics.median(r[1] for r in runs) for runs in (default, tuned))
        lines.append(f"{name:8s}  {1e3 * d:10.2f}  {1e3 * t:8.2f}  {d / t:6.2f}      wall: {1e3 * wd:8.2f} {1e3 * wt:8.2f} {wd / wt:5.2f}")
        print(lines[-1], flush=True)
    record("allocator", lines)


if __name__ == "__main__":
    main()
