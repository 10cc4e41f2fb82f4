r"""How much the 2D code layout of the VAE chapter's autoencoder and VAE moves from one training seed to another.

The lecture shows the 2D codes of 5,000 test digits for an AE and a VAE, animated over six trainings, and says
that for generation a stable location of the learned manifold is good. This script measures the stability: it
trains the VAE chapter's two d = 2 compared models (`vae.compared_model(2, ...)`, the VAE, and with
``deterministic=True`` the autoencoder of the same network), each from seeds 0, ..., S - 1 with the chapter's
recipe and budget at the chosen scale, encodes the same test digits with each (the encoder's mean), and compares
every pair of seeds:

* **Procrustes disparity** (`scipy.spatial.procrustes`): both code sets are centred and scaled to unit Frobenius
  norm, the second is rotated or reflected and rescaled to fit the first as well as it can, and the sum of squared
  differences that remains is reported: 0 for layouts equal up to a similarity, about 1 for unrelated ones.
* **Neighbour agreement** (rotation-free): for each digit, the fraction of its k nearest neighbours in one layout
  that are also among its k nearest in the other, averaged over the digits; 1 for layouts equal up to any
  similarity, about k / (n - 1) by chance.
* **Centroid correlation** (rotation-free): the Pearson correlation of the 45 distances between the ten classes'
  mean codes in one layout with the same 45 in the other; 1 when the classes are arranged alike, up to a similarity.

Two references are printed beside them: the disparity of a layout against another seed's layout with the digits
shuffled (what unrelated layouts of the same shape give) and the chance level of the neighbour agreement.

The models: seed 0 is the chapter's own model (the same cache key, so a cached one is loaded). `compared_model`
below passes exactly what `vae.compared_model` passes to `vae.load_or_train_vae`, plus the seed
(tests/test_latent_layout_stability.py checks this), so the recipe is the chapter's and is not written twice.

Run (one thread; writes benchmarks/results/latent_layout_stability.txt, the JSON object on its last line):

    EDU_GEN_DATA=/path/to/data EDU_GEN_THREADS=1 python benchmarks/latent_layout_stability.py --scale book
    python benchmarks/latent_layout_stability.py --scale ci --seeds 2 --no-record    # a quick look; writes nothing
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import time
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path

import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _models import record  # noqa: E402

N_TRAIN = {"ci": 5_000, "book": None, "full": None}   # the VAE chapter's N_TRAIN (None: all 60,000 training digits)
N_TEST = {"ci": 1_000, "book": 5_000, "full": 5_000}  # the chapter's N_SHOW: test digits in its 2D scatter
NEIGHBOURS = 10


# --------------------------------------------------------------------------------------------
# The measures (pure functions of two code sets)
# --------------------------------------------------------------------------------------------


def _check_pair(a: torch.Tensor, b: torch.Tensor, who: str) -> None:
    for name, z in (("first", a), ("second", b)):
        if not isinstance(z, torch.Tensor) or z.dim() != 2 or len(z) < 3:
            raise ValueError(f"{who} expects two code sets (N, d) with N >= 3, got the {name} as "
                             f"{tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__}")
    if a.shape != b.shape:
        raise ValueError(f"{who} expects the same digits' codes in both sets, got shapes {tuple(a.shape)} and {tuple(b.shape)}")


def procrustes_disparity(a: torch.Tensor, b: torch.Tensor) -> float:
    r"""Procrustes disparity of two layouts of the same points, in [0, 1].

    Both are centred and scaled to :math:`\|A\|_F = \|B\|_F = 1`; then :math:`\min_{R^\top R = I,\,s}\|A - sBR\|_F^2`
    over rotations and reflections R and scales s, which is :math:`1 - (\sum_i \sigma_i)^2` with
    :math:`\sigma_i` the singular values of :math:`A^\top B` (`scipy.spatial.procrustes`, Gower 1975).

    Args:
        a, b: (N, d) codes of the same N points (row i of both is point i), N >= 3.

    Returns:
        0 when b is a rotated, reflected, scaled and shifted copy of a; near 1 for unrelated layouts.

    Raises:
        ValueError: shapes differ or are not (N, d) with N >= 3; a layout with no spread (scipy's error).
    """
    from scipy.spatial import procrustes

    _check_pair(a, b, "procrustes_disparity")
    return float(procrustes(a.double().numpy(), b.double().numpy())[2])


def neighbour_agreement(a: torch.Tensor, b: torch.Tensor, k: int = NEIGHBOURS) -> float:
    """Mean fraction of each point's k nearest neighbours in `a` that are also among its k nearest in `b`.

    Euclidean distances, the point itself excluded. Unchanged by any rotation, reflection, scaling or shift of
    either layout (each keeps its own neighbours), so no alignment is needed.

    Args:
        a, b: (N, d) codes of the same N points, N >= 3. k: neighbours per point, 1 <= k < N.

    Returns:
        A number in [0, 1]: 1 when every neighbourhood is the same; k / (N - 1) expected for unrelated layouts.

    Raises:
        ValueError: bad shapes, or k not an integer in [1, N - 1].
    """
    _check_pair(a, b, "neighbour_agreement")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k < len(a):
        raise ValueError(f"neighbour_agreement: k must be an integer in [1, {len(a) - 1}], got {k!r}")

    def neighbours(z: torch.Tensor) -> torch.Tensor:            # (N, k) indices
        distances = torch.cdist(z.double(), z.double())          # (N, N)
        distances.fill_diagonal_(float("inf"))                    # a point is not its own neighbour
        return distances.topk(k, largest=False).indices

    na, nb = neighbours(a), neighbours(b)
    shared = (na[:, :, None] == nb[:, None, :]).any(2).sum(1)   # (N,) neighbours in both lists
    return shared.double().mean().item() / k


def centroid_correlation(a: torch.Tensor, b: torch.Tensor, labels: torch.Tensor) -> float:
    """Pearson correlation of the distances between class centroids in `a` with the same distances in `b`.

    Args:
        a, b: (N, d) codes of the same N points. labels: (N,) integer classes, at least 3 of them present.

    Returns:
        A number in [-1, 1]: 1 when the class means are arranged alike up to a rotation, reflection, scale and shift.

    Raises:
        ValueError: bad shapes, labels not (N,), or fewer than 3 classes (too few distances to correlate).
    """
    _check_pair(a, b, "centroid_correlation")
    if not isinstance(labels, torch.Tensor) or labels.shape != (len(a),):
        raise ValueError(f"centroid_correlation expects labels of shape ({len(a)},), got "
                         f"{tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__}")
    classes = labels.unique()
    if len(classes) < 3:
        raise ValueError(f"centroid_correlation needs at least 3 classes, got {len(classes)}")
    pairs = torch.triu_indices(len(classes), len(classes), offset=1)

    def distances(z: torch.Tensor) -> torch.Tensor:             # (C (C - 1) / 2,)
        centroids = torch.stack([z[labels == c].double().mean(0) for c in classes])
        return torch.cdist(centroids, centroids)[pairs[0], pairs[1]]

    return torch.corrcoef(torch.stack([distances(a), distances(b)]))[0, 1].item()


def compare_layouts(codes: list[torch.Tensor], labels: torch.Tensor, k: int = NEIGHBOURS) -> dict:
    """Every pair of seeds' layouts by the three measures; keys of the per-pair dicts are "i-j" (seed indices).

    Args:
        codes: S >= 2 code sets (N, d) of the same test digits, one per seed. labels: (N,). k: as `neighbour_agreement`.

    Returns:
        {"disparity": {pair: value}, "disparity_mean", "neighbour_agreement": {...}, "neighbour_agreement_mean",
        "centroid_correlation": {...}, "centroid_correlation_mean"}.

    Raises:
        ValueError: fewer than two code sets, or as the measures.
    """
    if len(codes) < 2:
        raise ValueError(f"compare_layouts needs the codes of at least two seeds, got {len(codes)}")
    out: dict = {"disparity": {}, "neighbour_agreement": {}, "centroid_correlation": {}}
    for i, j in itertools.combinations(range(len(codes)), 2):
        pair = f"{i}-{j}"
        out["disparity"][pair] = round(procrustes_disparity(codes[i], codes[j]), 4)
        out["neighbour_agreement"][pair] = round(neighbour_agreement(codes[i], codes[j], k), 4)
        out["centroid_correlation"][pair] = round(centroid_correlation(codes[i], codes[j], labels), 4)
    for measure in ("disparity", "neighbour_agreement", "centroid_correlation"):
        values = list(out[measure].values())
        out[f"{measure}_mean"] = round(sum(values) / len(values), 4)
    return out


# --------------------------------------------------------------------------------------------
# The models: the VAE chapter's compared models, from any seed
# --------------------------------------------------------------------------------------------


def compared_model(latent_dim: int, images: torch.Tensor, *, deterministic: bool = False, seed: int = 0):
    """`vae.compared_model` trained from `seed`: the same name, config, budget and class, passed to
    `vae.load_or_train_vae`, which takes the seed (in the initial weights, the batches and the cache key).

    Seed 0 is the VAE chapter's model itself (the same cache key). Unlike `vae.compared_model` this never returns
    the main model in its place (that shortcut applies only to d = 20 VAEs at the ci scale).

    Args:
        latent_dim: the code size d >= 1. images: training digits (N, 1, 28, 28) in [0, 1].
        deterministic: the autoencoder (`vae.DeterministicAE`) instead of the VAE. seed: an integer >= 0.

    Returns:
        The model in eval mode.

    Raises:
        ValueError: seed not an integer >= 0, or as `vae.compared_model`.
    """
    from edu_gen import vae

    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim < 1:
        raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}")
    kind = "ae" if deterministic else "vae"
    return vae.load_or_train_vae(f"ch05_{kind}_z{latent_dim}_compared", replace(vae.MAIN_MODEL_CONFIG, latent_dim=latent_dim),
                                 images, vae.compared_model_steps(),
                                 model_class=vae.DeterministicAE if deterministic else vae.VAE, seed=seed)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(N_TEST), default="book")
    parser.add_argument("--seeds", type=int, default=3, help="train seeds 0, ..., SEEDS - 1 (at least 2)")
    parser.add_argument("--k", type=int, default=NEIGHBOURS, help="neighbours per digit in the neighbour agreement")
    parser.add_argument("--no-record", action="store_true", help="print only; write no result file")
    args = parser.parse_args()
    if args.seeds < 2:
        parser.error(f"--seeds must be at least 2 (pairs of seeds are compared), got {args.seeds}")
    os.environ["EDU_GEN_SCALE"] = args.scale     # the chapter's budget and cache keys read the scale from here

    from edu_gen import data, runtime, vae

    runtime.setup(seed=0)
    train_x, _ = data.images("mnist", "train", n=N_TRAIN[args.scale])
    test_x, test_y = data.images("mnist", "test")
    n_test = N_TEST[args.scale]
    shown, labels = test_x[:n_test], test_y[:n_test]
    steps = vae.compared_model_steps()
    models, codes, train_cpu = {"AE": True, "VAE": False}, {}, {}
    for name, deterministic in models.items():
        codes[name], train_cpu[name] = [], []
        for seed in range(args.seeds):
            start = time.process_time()
            model = compared_model(2, train_x, deterministic=deterministic, seed=seed)
            train_cpu[name].append(round(time.process_time() - start, 1))   # ~0 when loaded from the cache
            with torch.no_grad():
                codes[name].append(model.encode(shown)[0])                 # (n_test, 2): the encoder's mean
            print(f"{name} seed {seed}: code std {codes[name][-1].std(0).mean():.3f}, {train_cpu[name][-1]} CPU-s", flush=True)

    results = {}
    for name in models:
        results[name] = compare_layouts(codes[name], labels, args.k)
        results[name]["code_std"] = [round(z.std(0).mean().item(), 3) for z in codes[name]]
        results[name]["train_cpu_seconds"] = train_cpu[name]
    # references: unrelated layouts of the same shape (seed 1's codes, digits shuffled) and the neighbours' chance level
    shuffle = torch.randperm(n_test, generator=torch.Generator().manual_seed(0))
    reference = {name: round(procrustes_disparity(codes[name][0], codes[name][1][shuffle]), 4) for name in models}
    config = replace(vae.MAIN_MODEL_CONFIG, latent_dim=2)
    summary = {
        "scale": args.scale, "data": data.source("mnist"), "n_train": len(train_x), "n_test": n_test,
        "seeds": list(range(args.seeds)), "k": args.k, "steps": steps, "batch_size": 100,
        "recipe": {"config": asdict(config), "name": "vae.compared_model(2, ...) and (2, ..., deterministic=True)"},
        "models": results,
        "reference": {"disparity_shuffled": reference, "neighbour_agreement_chance": round(args.k / (n_test - 1), 4)},
        "threads": torch.get_num_threads(),
    }
    lines = [
        "# Seed-to-seed stability of the 2D code layout of the VAE chapter's compared AE and VAE (d = 2)",
        f"# {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC | {platform.machine()} | {torch.get_num_threads()} thread(s) | "
        f"torch {torch.__version__} | data {data.source('mnist')}",
        f"# command: python benchmarks/latent_layout_stability.py --scale {args.scale} --seeds {args.seeds} --k {args.k}",
        f"# recipe: {steps} steps of batch 100 on {len(train_x)} training digits, init {config.init}, decoder bias "
        f"{config.decoder_bias}; codes = encoder means of the first {n_test} test digits",
        f"# {'model':5s} {'pair':>5s} {'disparity':>10s} {'neighbours':>11s} {'centroids':>10s}",
    ]
    for name in models:
        r = results[name]
        for pair in r["disparity"]:
            lines.append(f"  {name:5s} {pair:>5s} {r['disparity'][pair]:10.4f} {r['neighbour_agreement'][pair]:11.4f} "
                         f"{r['centroid_correlation'][pair]:10.4f}")
        lines.append(f"  {name:5s} {'mean':>5s} {r['disparity_mean']:10.4f} {r['neighbour_agreement_mean']:11.4f} "
                     f"{r['centroid_correlation_mean']:10.4f}")
    lines.append(f"  references: disparity of seed 0 against seed 1 with the digits shuffled: "
                 + ", ".join(f"{k} {v:.4f}" for k, v in reference.items())
                 + f"; neighbour agreement by chance k / (n - 1) = {args.k / (n_test - 1):.4f}")
    lines.append(json.dumps(summary))
    if args.no_record:
        print("\n".join(lines))
    else:
        record("latent_layout_stability", lines)


if __name__ == "__main__":
    main()
