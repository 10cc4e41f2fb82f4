"""The adversarial autoencoder on MNIST: Parzen-window log-likelihood, prior match, semi-supervised error.

The AAE chapter's experiments (book/07_aae.ipynb), with its settings per scale and its model-cache keys
(a model the chapter trained is loaded, not retrained):

* Parzen: the chapter's main model, `aae.main_model` (the chapter calls it too, so the two share one recipe
  and one cached model): an AAE with d = 8 and p(z) = N(0, 5^2 I) (`aae.AAE`, encoder and decoder
  784-H-H, code discriminator d-H'-H'-1, Adam betas (0.5, 0.999), lr 1e-3 for every step), 10,000 decoder means as samples,
  sigma from numpy.logspace(-1, 0, 10) chosen on MNIST training images 50,000-50,999 (held out from
  training), the mean log-density of the 10,000 test images ± its standard error (Goodfellow et al.
  2014; Makhzani et al. 2016, Table 1). `ci` reduces the protocol and says so.
* prior_mmd: the 2-D AAE with the mixture of 10 Gaussians; unbiased MMD^2 between 1,000 test codes
  and 1,000 prior draws, Gaussian kernel of width h = 1.
* semi_supervised_error: the semi-supervised AAE with 100 labels (`data.labelled_subset(train_y, 10, 0)`),
  test error on the 10,000 test digits.

    python benchmarks/aae_mnist.py --scale book   # writes results/aae_mnist.txt

The last printed line is one JSON object with parzen_ll, parzen_se, sigma, n_samples, prior_mmd,
semi_supervised_error, train_seconds (training of the models trained in this run; 0 when all were cached).
"""

import argparse
import json
import platform
import sys
from pathlib import Path

import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _models import record  # noqa: E402

from edu_gen import aae, data, metrics, runtime, train  # noqa: E402

SETTINGS = {   # as book/07_aae.ipynb's knobs; the widths and the Parzen model come from aae.main_model_recipe
    "ci": dict(n_train=5_000, steps=150, semi_steps=100, n_samples=500, n_test=300, n_valid=200),
    "book": dict(n_train=None, steps=1_500, semi_steps=2_000, n_samples=10_000, n_test=10_000, n_valid=1_000),
    "full": dict(n_train=None, steps=20_000, semi_steps=30_000, n_samples=10_000, n_test=10_000, n_valid=1_000),
}
PAPER = {"AAE": (340, 2), "GMMN+AE": (282, 2), "GAN": (225, 2), "Deep GSN": (214, 1.1), "DBN": (138, 2), "Stacked CAE": (121, 1.6),
         "source": "Makhzani et al. (2016), Table 1; Goodfellow et al. (2014), Table 1",
         "protocol": "10,000 samples; sigma on a validation set; 10,000 MNIST test images"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=runtime.SCALES, default="book")
    args = parser.parse_args()
    import os

    os.environ[runtime.SCALE_VARIABLE] = args.scale        # the cache keys follow the scale, as in the chapter
    rt = runtime.setup(seed=0, quiet=True)
    s = SETTINGS[args.scale]
    recipe = aae.main_model_recipe()                    # the chapter's main model; its widths are every model's
    hidden, disc_hidden = recipe["config"].hidden_dim, recipe["config"].disc_hidden_dim
    all_x, all_y = data.images("mnist", "train")
    test_x, test_y = data.images("mnist", "test")
    source = data.source("mnist")
    train_x, train_y, held_x, held = aae.held_out_split(all_x, all_y, source, s["n_train"])
    valid_x = held_x[:s["n_valid"]]
    seconds = 0.0

    def trained(name, config, steps, labels=None):
        nonlocal seconds
        model, history = aae.load_or_train_aae(name, config, train_x, steps, labels=labels)   # as the chapter
        seconds += getattr(history, "seconds", 0.0)      # the training time; a cached model has none
        return model.to(rt.device)

    # Parzen
    p_model, history = aae.main_model(train_x)         # the chapter's d = 8 AAE, trained or loaded
    seconds += getattr(history, "seconds", 0.0)
    p_model = p_model.to(rt.device)
    samples = p_model.sample(s["n_samples"], generator=torch.Generator().manual_seed(4)).cpu()
    sigma, scores = metrics.parzen_select_sigma(samples, valid_x)
    test_p = test_x[:s["n_test"]]
    ll, se = metrics.parzen_log_likelihood(samples, test_p, sigma)

    # prior match, mixture prior
    m_config = aae.AAEConfig(hidden_dim=hidden, disc_hidden_dim=disc_hidden, prior="mixture")
    m_model = trained("ch07_aae_mixture", m_config, s["steps"])
    n_mmd = min(1000, len(test_x))
    with torch.no_grad():
        z = m_model.encode(test_x[:n_mmd].to(rt.device)).cpu()
    prior_z, _ = aae.sample_prior("mixture", n_mmd, generator=torch.Generator().manual_seed(1))
    prior_mmd = aae.mmd(z, prior_z, 1.0)
    occupancy = (torch.bincount(aae.mixture_component(z), minlength=10).float() / n_mmd).tolist()

    # semi-supervised, label draw 0
    index = data.labelled_subset(train_y, 10, seed=0)
    torch.manual_seed(0)
    semi = aae.SemiSupervisedAAE(latent_dim=10, hidden_dim=hidden, disc_hidden_dim=disc_hidden).to(rt.device)
    history = train.load_or_train("ch07_semi_aae_draw0", semi,
                                  lambda m: aae.train_semi_supervised(m, train_x, train_x[index], train_y[index],
                                                                      steps=s["semi_steps"], seed=0),
                                  {"hidden": hidden, "steps": s["semi_steps"], "n": len(train_x), "draw": 0})
    seconds += getattr(history, "seconds", 0.0)
    semi_error = float((semi.eval().classify(test_x) != test_y).float().mean())

    full_protocol = (s["n_samples"], len(test_p), len(valid_x)) == (10_000, 10_000, 1_000)
    result = {
        "parzen_ll": ll, "parzen_se": se, "sigma": sigma, "n_samples": s["n_samples"], "n_test": len(test_p),
        "n_valid": len(valid_x), "protocol": "full" if full_protocol else "reduced", "sigma_scores": scores.tolist(),
        "prior_mmd": prior_mmd, "prior_mmd_kernel": "Gaussian, h = 1, 1,000 test codes vs 1,000 draws, mixture prior",
        "mixture_occupancy": occupancy, "semi_supervised_error": semi_error, "n_labels": 100,
        "train_seconds": seconds, "scale": args.scale, "data": source, "n_train": len(train_x),
        "held_out": [int(held[0]), int(held[-1])], "settings": s, "device": str(rt.device),
        "reference": PAPER, "machine": platform.machine(), "torch": torch.__version__,
    }
    lines = [f"adversarial autoencoder, {source}, scale {args.scale} (run on a shared machine: the seconds are not a clean timing)",
             f"Parzen protocol: {s['n_samples']} samples, sigma {sigma:.3f} chosen on {len(valid_x)} held-out training images "
             f"({int(held[0])}-{int(held[-1])}), {len(test_p)} test images" + ("" if full_protocol else " (REDUCED)"),
             f"{'model':20s} {'Parzen LL (nats)':>18s}  protocol",
             f"{'AAE (this run)':20s} {ll:10.1f} ± {se:5.1f}  d = 8, {recipe['steps']} iterations, {len(train_x)} train"]
    for k in ("AAE", "GMMN+AE", "GAN", "Deep GSN", "DBN", "Stacked CAE"):
        lines.append(f"{k + ' (paper)':20s} {PAPER[k][0]:10.0f} ± {PAPER[k][1]:5.1f}  {PAPER['protocol']}")
    lines.append(f"mixture prior: MMD^2 {prior_mmd:.4f} (Gaussian kernel h = 1); semi-supervised AAE, 100 labels: "
                 f"test error {semi_error:.2%}")
    lines.append(json.dumps(result))
    record("aae_mnist" + ("" if args.scale == "book" else f"_{args.scale}"), lines)


if __name__ == "__main__":
    main()
