"""The analytic contractive penalty against the autograd Jacobian (torch.func), at batch 128.

Encoder: one sigmoid layer 784 -> 1000, as in Rifai et al. (2011). Both are timed in one
process, alternating, on ONE torch thread, in CPU seconds (`time.process_time`; see
train_overhead.py for why), forward only (the penalty's value), median of the repeats. Run:

    python benchmarks/contractive.py       # writes benchmarks/results/contractive.txt
"""

import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from _models import record  # noqa: E402

from edu_gen import autoencoders, contractive  # noqa: E402

BATCH, CODE, REPEATS = 128, 1000, 5


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    encoder = autoencoders.Autoencoder(autoencoders.AEConfig(hidden_dims=(), code_dim=CODE)).encoder
    x = torch.rand(BATCH, 1, 28, 28)
    times = {"analytic": [], "autograd": []}
    with torch.no_grad():
        for _ in range(REPEATS):
            for name, fn in (("analytic", contractive.contractive_penalty), ("autograd", contractive.jacobian_penalty)):
                start = time.process_time()
                value = fn(encoder, x)
                times[name].append(time.process_time() - start)
                if name == "analytic":
                    reference = value
                else:
                    max_rel = ((value - reference).abs() / reference).max().item()
    analytic, autograd = statistics.median(times["analytic"]), statistics.median(times["autograd"])
    record("contractive", [
        f"# benchmarks/contractive.py  (torch {torch.__version__}, {platform.processor() or platform.machine()}, 1 thread, CPU seconds, median of {REPEATS})",
        f"encoder 784 -> {CODE} sigmoid, batch {BATCH}",
        f"analytic sum_j (h_j(1-h_j))^2 ||W_j||^2 : {analytic * 1e3:9.2f} ms",
        f"autograd ||J||_F^2 (torch.func vmap/jacrev): {autograd * 1e3:9.2f} ms",
        f"speed-up: {autograd / analytic:.0f}x   max relative difference: {max_rel:.1e}",
    ])


if __name__ == "__main__":
    main()
