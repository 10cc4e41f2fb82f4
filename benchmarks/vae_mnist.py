"""Test NLL of the chapter-5 VAE on binarised MNIST, measured as in Burda et al. (2016).

Trains `edu_gen.vae.VAE` with the chapter's settings (MLP 784-400-400-20, Bernoulli decoder,
dynamic binarisation, Adam 1e-3, batch 100) and reports the importance-weighted estimate of
log p(x) on stochastically binarised test digits (fixed seed), next to the ELBO on the same digits.

    python benchmarks/vae_mnist.py --scale book   # ~2 min on 2 CPU cores; writes results/vae_mnist.txt
    python benchmarks/vae_mnist.py --scale full   # the whole test set at k = 5000 (use a GPU)
    python benchmarks/vae_mnist.py --scale book --k 5000 --n-test 10000   # book training, the paper's evaluation

The last printed line is one JSON object: nll_nats, elbo_nats, k, n_test, train_seconds, ...
Reference: 86.76 nats for a one-stochastic-layer VAE at k = 5000 after 3280 passes, 3^i at each of eight
learning rates, i = 0..7 (Burda et al., 2016, Table 1).
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _models import record  # noqa: E402

from edu_gen import data, runtime, vae  # noqa: E402

# The chapter's settings (book/05_vae.ipynb uses the same numbers through runtime.pick).
SETTINGS = {
    "ci": dict(steps=300, k=100, n_test=200),
    "book": dict(steps=15_000, k=1000, n_test=1000),
    "full": dict(steps=300_000, k=5000, n_test=10_000),
}
CONFIG = vae.VAEConfig(latent_dim=20, hidden_dim=400, architecture="mlp")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SETTINGS), default="book")
    parser.add_argument("--k", type=int, help="override the scale's number of importance samples")
    parser.add_argument("--n-test", type=int, help="override the scale's number of test digits (10000 = all)")
    args = parser.parse_args()
    s = dict(SETTINGS[args.scale])
    overrides = {key: value for key, value in (("k", args.k), ("n_test", args.n_test)) if value is not None}
    s.update(overrides)
    rt = runtime.setup(seed=0)

    train_x, _ = data.images("mnist", "train")
    test_x, _ = data.images("mnist", "test", n=s["n_test"], binarize="stochastic", seed=0)
    torch.manual_seed(0)  # the same initial weights as the chapter's model (its trained() seeds 0 too)
    model = vae.VAE(CONFIG).to(rt.device)
    start, start_cpu = time.perf_counter(), time.process_time()
    vae.train_vae(model, train_x, steps=s["steps"], seed=0, progress=False)
    train_seconds, train_cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu

    model.eval()
    start = time.perf_counter()
    g = torch.Generator().manual_seed(1)
    elbos, iwaes = [], []
    with torch.no_grad():
        for xb in test_x.split(100):
            xb = xb.to(rt.device)
            elbos.append(-model.negative_elbo(xb, generator=g)["loss"].cpu())
            iwaes.append(vae.iwae_log_likelihood(model, xb, s["k"], generator=g).cpu())
    eval_seconds = time.perf_counter() - start
    result = {
        "scale": args.scale,
        "nll_nats": round(-torch.cat(iwaes).mean().item(), 3),
        "elbo_nats": round(torch.cat(elbos).mean().item(), 3),
        "k": s["k"],
        "n_test": len(test_x),
        "train_steps": s["steps"],
        "train_seconds": round(train_seconds, 1),
        "train_cpu_seconds": round(train_cpu_seconds, 1),  # wall time is inflated when other jobs share the CPU
        "eval_seconds": round(eval_seconds, 1),
        "device": str(rt.device),
        "threads": torch.get_num_threads(),
        "reference_nll_nats": 86.76,
    }
    lines = [
        "# VAE (MLP 784-400-400-20, Bernoulli) on dynamically binarised MNIST: test NLL by IWAE (Burda et al., 2016)",
        f"# {time.strftime('%Y-%m-%d')} | {platform.machine()} | {result['threads']} threads | torch {torch.__version__} | "
        f"device {result['device']}",
        f"# command: python benchmarks/vae_mnist.py --scale {args.scale}"
        + "".join(f" --{key.replace('_', '-')} {value}" for key, value in overrides.items()),
        f"scale {args.scale}: {s['steps']} steps in {result['train_seconds']} s; on {result['n_test']} binarised test digits "
        f"-log p(x) ~ {result['nll_nats']} nats (IWAE, k={s['k']}), -ELBO {-result['elbo_nats']:.3f} nats; "
        f"the paper's one-layer VAE: 86.76 nats (k=5000, long training)",
        json.dumps(result),
    ]
    if args.scale == "ci":
        print("\n".join(lines))
    else:  # the chapter's settings keep their own file; an override writes next to it
        record("vae_mnist" + "".join(f"_{key}{value}" for key, value in overrides.items()), lines)


if __name__ == "__main__":
    main()
