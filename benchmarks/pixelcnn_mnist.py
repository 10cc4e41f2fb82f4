"""Exact test negative log-likelihood of the PixelCNN chapter's gated PixelCNN on binarised MNIST.

The chapter's model, recipe and test digits: the recipe is `pixelcnn.main_model_recipe`, which
book/08_pixelcnn.ipynb uses too (a `pixelcnn.GatedPixelCNN`, Adam, dynamic binarisation; trained afresh
here with `pixelcnn.train_pixelcnn`, as `pixelcnn.main_model` does, so that the training is timed), and
the test digits of the VAE chapter (the first N test digits of a seeded subset, binarised once with seed 0),
scored exactly with `pixelcnn.log_likelihood`. The VAE's number on the same digits is read from
`benchmarks/results/vae_mnist.txt` (written by `benchmarks/vae_mnist.py --scale book`: the VAE chapter's
model, budget, digits and K), so this script does not train a VAE again; `vae_nll_nats` is null when that
file is missing or was measured on other digits.

    python benchmarks/pixelcnn_mnist.py --scale book    # writes results/pixelcnn_mnist.txt
    python benchmarks/pixelcnn_mnist.py --scale ci      # a smoke test (prints only)

The last printed line is one JSON object: nll_nats, bits_per_dim, n_test, train_seconds, vae_nll_nats,
and the protocol. Reference: 81.30 nats for PixelCNN (van den Oord et al., 2016a, the MNIST results table), on the fixed
binarisation of Salakhutdinov and Murray (2008), all 10,000 test digits, the paper's model and budget.
"""

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _models import record  # noqa: E402

from edu_gen import data, metrics, pixelcnn, runtime, vae  # noqa: E402

# The chapter's data per scale (as book/08_pixelcnn.ipynb); the model, its steps, batch and learning rate are the
# chapter's recipe, `pixelcnn.main_model_recipe(scale)`, the one definition both use.
SETTINGS = {
    "ci": dict(n_train=5_000, n_test=200),
    "book": dict(n_train=None, n_test=1000),
    "full": dict(n_train=None, n_test=10_000),
}
REFERENCE = {
    "nll_nats": 81.30,
    "source": "van den Oord, Kalchbrenner and Kavukcuoglu (2016), Pixel Recurrent Neural Networks, MNIST results, PixelCNN",
    "model": "PixelCNN of the paper (masked convolutions, paper's size)",
    "budget": "the paper's (trained to convergence)",
    "binarization": "fixed (Salakhutdinov and Murray, 2008): every digit binarised once, train and test",
    "evaluation": "exact, all 10000 test digits",
}


def vae_result(n_test: int) -> tuple[float | None, str]:
    """The VAE chapter's NLL on the same test digits, from its benchmark's results file, if it matches."""
    path = HERE / "results" / "vae_mnist.txt"
    if not path.is_file():
        return None, "benchmarks/results/vae_mnist.txt is missing (run benchmarks/vae_mnist.py --scale book)"
    found = json.loads(path.read_text().strip().splitlines()[-1])
    if found.get("n_test") != n_test or found.get("scale") != "book":
        return None, f"benchmarks/results/vae_mnist.txt has scale {found.get('scale')}, n_test {found.get('n_test')}"
    return found["nll_nats"], f"benchmarks/results/vae_mnist.txt (IWAE k = {found['k']}, {found['n_test']} digits)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SETTINGS), default="book")
    args = parser.parse_args()
    s = {**SETTINGS[args.scale], **pixelcnn.main_model_recipe(args.scale)}   # config, steps, batch_size, lr
    rt = runtime.setup(seed=0)

    train_x, _ = data.images("mnist", "train", n=s["n_train"])
    test_bin, _ = data.images("mnist", "test", n=s["n_test"], binarize="stochastic", seed=0)
    config = s["config"]
    torch.manual_seed(0)  # pixelcnn.load_or_train_pixelcnn seeds 0 before building the model
    model = pixelcnn.GatedPixelCNN(config).to(rt.device)
    start, start_cpu = time.perf_counter(), time.process_time()
    pixelcnn.train_pixelcnn(model, train_x, steps=s["steps"], batch_size=s["batch_size"], lr=s["lr"], seed=0, progress=False)
    train_seconds, train_cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu

    model.eval()
    with torch.no_grad():
        log_px = torch.cat([pixelcnn.log_likelihood(model, xb.to(rt.device)).cpu() for xb in test_bin.split(100)])
    nll = -log_px.mean().item()
    vae_nll, vae_source = vae_result(len(test_bin)) if data.source("mnist") == "mnist" else (None, "not MNIST")
    source = data.source("mnist")
    run = {
        "model": f"gated PixelCNN, {config.layers + 1} gated layers of {config.channels} channels, first kernel "
                 f"{config.first_kernel}, then {config.kernel_size}",
        "budget": f"{s['steps']} steps of batch {s['batch_size']} = {s['steps'] * s['batch_size'] / len(train_x):.2f} passes over "
                  f"{len(train_x)} digits, Adam lr {s['lr']:g} for 70% of the steps then {s['lr'] / 5:g}, gradient norm clipped to 1",
        "binarization": "dynamic (training); test digits binarised once, Bernoulli(grey level), seed 0 (the VAE chapter's)",
        "evaluation": f"exact, {len(test_bin)} test digits",
        "data": source,
    }
    result = {
        "scale": args.scale,
        "nll_nats": round(nll, 3),
        "nll_se": round(log_px.std().item() / math.sqrt(len(log_px)), 3),
        "bits_per_dim": round(float(metrics.bits_per_dim(nll, 784)), 5),
        "n_test": len(test_bin),
        "train_steps": s["steps"],
        "train_seconds": round(train_seconds, 1),
        "train_cpu_seconds": round(train_cpu_seconds, 1),
        "vae_nll_nats": vae_nll,
        "vae_source": vae_source,
        "device": str(rt.device),
        "threads": torch.get_num_threads(),
        "reference_nll_nats": REFERENCE["nll_nats"],
        "protocol": run,
        "reference": REFERENCE,
    }
    h = vae.MAIN_MODEL_CONFIG.hidden_dim
    lines = [
        f"# Gated PixelCNN on dynamically binarised MNIST ({source}): exact test negative log-likelihood",
        f"# {time.strftime('%Y-%m-%d')} | {platform.machine()} | {result['threads']} threads | torch {torch.__version__} | "
        f"device {result['device']}",
        f"# command: python benchmarks/pixelcnn_mnist.py --scale {args.scale}",
        "# | run | -log p(x) (nats) | model | budget | binarisation | evaluation |",
        f"# | this run | {result['nll_nats']} | {run['model']} | {run['budget']} | {run['binarization']} | {run['evaluation']} |",
        f"# | VAE chapter (its benchmark) | {vae_nll} | MLP 784-{h}-{h}-{vae.MAIN_MODEL_CONFIG.latent_dim} | "
        f"{vae.main_model_steps('book')} steps of batch {vae.load_or_train_vae.__kwdefaults__['batch_size']} | dynamic | "
        f"IWAE, the same digits ({vae_source}) |",
        f"# | van den Oord et al. (2016a) | {REFERENCE['nll_nats']} | {REFERENCE['model']} | {REFERENCE['budget']} | "
        f"{REFERENCE['binarization']} | {REFERENCE['evaluation']} |",
        f"scale {args.scale}: {s['steps']} steps in {result['train_seconds']} s; on {result['n_test']} binarised test digits "
        f"-log p(x) = {result['nll_nats']} ± {result['nll_se']} nats = {result['bits_per_dim']} bits/dim (exact)",
        json.dumps(result),
    ]
    if args.scale == "ci":
        print("\n".join(lines))
    else:
        record("pixelcnn_mnist" + ("_full" if args.scale == "full" else ""), lines)


if __name__ == "__main__":
    main()
