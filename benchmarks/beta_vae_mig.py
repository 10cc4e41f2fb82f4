"""How much of a beta-VAE's disentanglement score is beta, and how much is the random seed?

Trains the chapter-5 beta-VAE (MLP, 6 latents, 256 hidden units, grey-level targets) on
`data.shapes()` for each beta in {1, 4, 10} and several seeds, and reports per beta the mutual
information gap (MIG, Chen et al. 2018), the number of active latents (mean KL above 0.1 nats),
and the reconstruction and KL terms. The chapter trains one seed per beta; this script shows the
spread that one run hides.

    python benchmarks/beta_vae_mig.py                 # book settings, 5 seeds, ~4 min on 2 CPU cores
    python benchmarks/beta_vae_mig.py --seeds 2 --steps 300   # a quick look

With the default settings it writes benchmarks/results/beta_vae_mig.txt; the last printed line is one JSON object.
"""

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _models import record  # noqa: E402

from edu_gen import data, metrics, runtime, vae  # noqa: E402

BETAS = (1.0, 4.0, 10.0)
STEPS_BOOK = 2_500  # BETA_STEPS at book scale in book/05_vae.ipynb


def run(beta: float, seed: int, steps: int, images: torch.Tensor, factors: torch.Tensor) -> dict:
    torch.manual_seed(seed)
    model = vae.VAE(vae.VAEConfig(latent_dim=6, hidden_dim=256, beta=beta))
    vae.train_vae(model, images, steps=steps, seed=seed, binarize=False, progress=False)
    model.eval()
    with torch.no_grad():
        mu, log_var = model.encode(images)
        kl_per_latent = metrics.kl_per_latent(mu, log_var)
        terms = {k: v.mean().item() for k, v in model.negative_elbo(images).items()}
    return {
        "mig": metrics.mutual_information_gap(mu, factors),
        "active": int((kl_per_latent > 0.1).sum()),
        "recon": terms["recon"],
        "kl": terms["kl"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=STEPS_BOOK)
    args = parser.parse_args()
    runtime.setup(seed=0)
    images, factors = data.shapes()
    start = time.perf_counter()
    results = {b: [run(b, s, args.steps, images, factors) for s in range(args.seeds)] for b in BETAS}
    seconds = time.perf_counter() - start

    lines = [
        "# beta-VAE on data.shapes(): MIG, active latents, recon and KL per beta, over seeds",
        f"# {time.strftime('%Y-%m-%d')} | {platform.machine()} | {torch.get_num_threads()} threads | torch {torch.__version__}",
        f"# command: python benchmarks/beta_vae_mig.py --seeds {args.seeds} --steps {args.steps}   ({seconds:.0f} s)",
        f"{'beta':>5s} {'MIG mean':>9s} {'MIG sd':>7s} {'MIG min':>8s} {'MIG max':>8s} {'active':>7s} {'recon':>7s} {'KL':>6s}   MIG per seed",
    ]
    summary = {}
    for b, runs in results.items():
        migs = [r["mig"] for r in runs]
        sd = statistics.stdev(migs) if len(migs) > 1 else 0.0
        summary[str(b)] = {
            "mig_mean": round(statistics.mean(migs), 4), "mig_sd": round(sd, 4),
            "active_mean": statistics.mean(r["active"] for r in runs),
            "recon_mean": round(statistics.mean(r["recon"] for r in runs), 2),
            "kl_mean": round(statistics.mean(r["kl"] for r in runs), 2),
        }
        lines.append(
            f"{b:5g} {statistics.mean(migs):9.3f} {sd:7.3f} {min(migs):8.3f} {max(migs):8.3f} "
            f"{summary[str(b)]['active_mean']:7.1f} {summary[str(b)]['recon_mean']:7.1f} {summary[str(b)]['kl_mean']:6.1f}   "
            + " ".join(f"{m:.3f}" for m in migs)
        )
    lines.append(json.dumps({"seeds": args.seeds, "steps": args.steps, "seconds": round(seconds, 1), "by_beta": summary}))
    if (args.seeds, args.steps) == (5, STEPS_BOOK):
        record("beta_vae_mig", lines)
    else:  # a quick look must not overwrite the recorded result
        print("\n".join(lines))


if __name__ == "__main__":
    main()
