"""Semi-supervised MNIST with 100 labels (10 per class): M1+M2 against a labels-only classifier.

The semi-supervised chapter's experiment (book/06_cvae.ipynb, section "Semi-supervised MNIST with 100
labels"), with its settings per scale:

* M1: the VAE chapter's main model (MLP 784-400-400-20, ReLU, Bernoulli decoder, dynamic binarisation,
  Adam lr 1e-3, batch 100; book: 15,000 steps), trained without labels, loaded from the model cache
  when the VAE chapter or `benchmarks/vae_mnist.py` trained it with the same settings.
* M1+M2: `cvae.M2` on M1's encoder means (20 numbers per digit), Gaussian decoder, d = 10, one hidden
  layer of 200 units, alpha = 0.1 N / N_labelled, 100 labelled + 100 unlabelled digits per step
  (book: 3,000 steps).
* Baselines: the digit-classifier MLP (784-256-10) trained on the 100 labelled digits alone (200
  passes), and logistic regression on M1's codes of the 100 labelled digits (500 passes, lr 1e-2).
* Label draws: `data.labelled_subset(train_y, 10, seed)` for seed = 0, 1, ... (book: 3 draws).
* Evaluation: test error (1 - accuracy) of the arg max of q(y|x) on the 10,000 MNIST test digits.

    python benchmarks/semi_supervised_mnist.py --scale book   # writes results/semi_supervised_mnist.txt

The last printed line is one JSON object: model, n_labels, test_error, test_error_sd, n_draws,
baseline_error (labels only), linear_m1_error, train_seconds (M1+M2 training only; M1 excluded), ...
Reference: Kingma et al. (2014), Table 1, N = 100: M2 11.97 (± 1.71), M1+M2 3.33 (± 0.14)% test error.
"""

import argparse
import json
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _models import record  # noqa: E402

from edu_gen import cvae, data, likelihood, metrics, runtime, train, vae  # noqa: E402

SETTINGS = {
    "ci": dict(n_train=5_000, m1_steps=300, steps=300, draws=1),
    "book": dict(n_train=None, m1_steps=15_000, steps=3_000, draws=3),
    "full": dict(n_train=None, m1_steps=300_000, steps=50_000, draws=10),
}
PER_CLASS, BATCH = 10, 100
REFERENCE = {"M2": (11.97, 1.71), "M1+M2": (3.33, 0.14),
             "source": "Kingma, Rezende, Mohamed and Welling (2014), Table 1, N = 100",
             "protocol": "trained to convergence, 50,000 training digits, 10,000 test digits"}


def m1_model(train_x, steps):
    """The VAE chapter's main model with its recipe and cache key (so its cached weights are reused)."""
    torch.manual_seed(0)
    config = vae.VAEConfig(latent_dim=20)
    model = vae.VAE(config)
    key = {**asdict(config), "model": "VAE", "n": len(train_x), "steps": steps, "binarize": True, "seed": 0, "batch_size": 100}
    train.load_or_train("ch05_vae_z20", model, lambda m: vae.train_vae(m, train_x, steps=steps, batch_size=100), key)
    return model.eval()


def fit_classifier(build, inputs, labels, epochs, lr, seed):
    """Seed, then build the model (as the chapter does, so the initial weights match), then train it on CPU."""
    torch.manual_seed(seed)
    model = build()
    loader = data.loader(inputs, labels, batch_size=BATCH, seed=seed)
    train.fit(model, lambda m, b: likelihood.categorical_nll(b[1], m(b[0])).mean(), loader, epochs=epochs, lr=lr,
              progress=False, device="cpu")
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=runtime.SCALES, default="book")
    parser.add_argument("--draws", type=int, help="label draws (default: the scale's)")
    args = parser.parse_args()
    import os

    os.environ[runtime.SCALE_VARIABLE] = args.scale       # the cache keys and the chapter's settings follow the scale
    runtime.setup(seed=0, quiet=True)
    s = SETTINGS[args.scale]
    draws = args.draws or s["draws"]
    train_x, train_y = data.images("mnist", "train", n=s["n_train"])
    test_x, test_y = data.images("mnist", "test")
    source = data.source("mnist")
    m1 = m1_model(train_x, s["m1_steps"])
    with torch.no_grad():
        train_codes = torch.cat([m1.encode(b)[0] for b in train_x.split(2000)])
        test_codes = torch.cat([m1.encode(b)[0] for b in test_x.split(2000)])
    alpha = 0.1 * len(train_x) / (10 * PER_CLASS)
    config = cvae.CVAEConfig(input_shape=(20,), latent_dim=10, hidden_dim=200, likelihood="gaussian", alpha=alpha)
    error = lambda predicted: (predicted.cpu() != test_y).float().mean().item()
    errors = {"M1+M2": [], "labels only": [], "linear on M1": []}
    seconds = 0.0
    for seed in range(draws):
        index = data.labelled_subset(train_y, PER_CLASS, seed=seed)
        clf = fit_classifier(metrics.DigitClassifier, train_x[index], train_y[index], 200, 1e-3, seed)
        errors["labels only"].append(error(clf(test_x).argmax(1)))
        lin = fit_classifier(lambda: torch.nn.Linear(20, 10), train_codes[index], train_y[index], 500, 1e-2, seed)
        errors["linear on M1"].append(error(lin(test_codes).argmax(1)))
        torch.manual_seed(seed)
        model = cvae.M2(config)
        start = time.perf_counter()
        cvae.train_m2(model, train_codes[index], train_y[index], train_codes, steps=s["steps"], batch_size=BATCH,
                      seed=seed, progress=False)
        seconds += time.perf_counter() - start
        model.eval()
        errors["M1+M2"].append(error(torch.cat([model.classify(b.to(next(model.parameters()).device)) for b in test_codes.split(2000)])))
        print(f"draw {seed}: " + ", ".join(f"{k} {v[-1]:.2%}" for k, v in errors.items()), flush=True)

    stats = {k: (torch.tensor(v).mean().item(), torch.tensor(v).std().item() if len(v) > 1 else float("nan"))
             for k, v in errors.items()}
    result = {
        "model": "M1+M2", "n_labels": 10 * PER_CLASS, "test_error": stats["M1+M2"][0], "test_error_sd": stats["M1+M2"][1],
        "n_draws": draws, "baseline_error": stats["labels only"][0], "baseline_error_sd": stats["labels only"][1],
        "linear_m1_error": stats["linear on M1"][0], "train_seconds": seconds, "train_steps": s["steps"],
        "errors": errors, "scale": args.scale, "data": source, "n_train": len(train_x), "n_test": len(test_x),
        "alpha": alpha, "config": asdict(config), "device": str(runtime.device()),
        "reference": REFERENCE, "machine": platform.machine(), "torch": torch.__version__,
    }
    lines = [f"semi-supervised {source}, {10 * PER_CLASS} labels, scale {args.scale}, {draws} label draws "
             f"(run on a shared machine: the seconds are not a clean timing)",
             f"{'model':14s} {'test error (%)':>18s}  protocol"]
    for k, (m, sd) in stats.items():
        lines.append(f"{k:14s} {100 * m:8.2f} ± {100 * sd:5.2f}     this run: {len(train_x)} train, {len(test_x)} test")
    for k in ("M2", "M1+M2"):
        lines.append(f"{k + ' (paper)':14s} {REFERENCE[k][0]:8.2f} ± {REFERENCE[k][1]:5.2f}     {REFERENCE['protocol']}")
    lines.append(json.dumps(result))
    if args.draws is None:
        record("semi_supervised_mnist" + ("" if args.scale == "book" else f"_{args.scale}"), lines)
    else:
        print("\n".join(lines))


if __name__ == "__main__":
    main()
