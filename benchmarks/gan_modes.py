"""Mode collapse on the toy sets of the GAN chapter: modes covered over several seeds, plain GAN against PacGAN.

The chapter's toy experiment (book/09_gan.ipynb, section "Mode collapse on toy sets") with more seeds:
a ring of 8 Gaussians (radius 2) and a 5 x 5 grid (spacing 2), standard deviation 0.05; an MLP GAN with
two hidden layers of 64 units, d = 8, batch 256, Adam 3e-3 with beta1 = 0.5, k = 1; the plain GAN with the
non-saturating and the saturating loss, and PacGAN (the discriminator judges 2 samples at once).
Measured on 2,500 samples per run with `sample_quality.mode_coverage` (high quality: within 3 sd of a
centre; covered: at least a tenth of the fair share of high-quality samples).

    python benchmarks/gan_modes.py --scale book      # writes results/gan_modes.txt

The last printed line is one JSON object: per set and variant, the modes covered per seed, how many
seeds covered every mode, and the high-quality fractions.
"""

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _models import record  # noqa: E402

from edu_gen import data, gan, runtime, sample_quality  # noqa: E402

SETTINGS = {"ci": dict(steps=200, seeds=2), "book": dict(steps=1_000, seeds=10), "full": dict(steps=5_000, seeds=20)}
TOY = gan.GANConfig(kind="mlp", data_shape=(2,), latent_dim=8, hidden_dim=64, image_output="linear")
STD = 0.05
SETS = {"ring": lambda n, seed: data.ring_2d(n, num_modes=8, radius=2.0, std=STD, seed=seed),
        "grid": lambda n, seed: data.grid_2d(n, size=5, spacing=2.0, std=STD, seed=seed)}
VARIANTS = {"plain": {}, "saturating": {"loss": "saturating"}, "packed": {"pack": 2}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=runtime.SCALES, default="book")
    args = parser.parse_args()
    os.environ[runtime.SCALE_VARIABLE] = args.scale
    runtime.setup(seed=0, quiet=True)
    s = SETTINGS[args.scale]
    started = time.perf_counter()
    results = {}
    for name, sampler in SETS.items():
        xs, mode = sampler(50_000, 0)
        centres = torch.stack([xs[mode == k].mean(0) for k in range(int(mode.max()) + 1)])
        for variant, options in VARIANTS.items():
            covered, quality = [], []
            for seed in range(s["seeds"]):
                torch.manual_seed(seed)
                model = gan.GAN(replace(TOY, pack=options.get("pack", 1)))
                train_x, _ = sampler(20_000, 100 + seed)
                gan.train_gan(model, train_x, steps=s["steps"], batch_size=256, lr=3e-3, loss=options.get("loss", "non_saturating"),
                              seed=seed, device="cpu", progress=False)
                m = sample_quality.mode_coverage(model.sample(2_500, generator=torch.Generator().manual_seed(seed)), centres, STD)
                covered.append(m["modes_covered"])
                quality.append(m["high_quality"])
            results[f"{name}/{variant}"] = {"modes": len(centres), "covered": covered,
                                           "all_covered": sum(c == len(centres) for c in covered), "high_quality": quality}
    lines = [f"# toy mode collapse, scale {args.scale}, {s['steps']} generator steps, {s['seeds']} seeds per row "
             "(run on a shared machine)",
             f"{'set/variant':18s} {'all modes covered':>18s}  {'mean covered':>12s}  {'high quality (mean)':>19s}  covered per seed"]
    for key, r in results.items():
        lines.append(f"{key:18s} {r['all_covered']:>11d} of {len(r['covered']):<4d} {sum(r['covered']) / len(r['covered']):12.1f}  "
                     f"{sum(r['high_quality']) / len(r['high_quality']):19.2f}  {r['covered']}")
    lines.append(json.dumps({"results": results, "scale": args.scale, "steps": s["steps"], "config": asdict(TOY),
                             "seconds": time.perf_counter() - started, "machine": platform.machine(), "torch": torch.__version__}))
    record("gan_modes" + ("" if args.scale == "book" else f"_{args.scale}"), lines)


if __name__ == "__main__":
    main()
