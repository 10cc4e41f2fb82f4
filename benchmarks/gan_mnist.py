"""DCGAN on MNIST: the GAN chapter's model, measured by the digit classifier and the Parzen protocol.

The chapter's experiment (book/09_gan.ipynb, sections "DCGAN on MNIST" and "The Parzen-window
log-likelihood and its critique"), with its settings per scale:

* Model: the chapter's DCGAN, `gan.main_model` (its recipe `gan.main_model_recipe`: `GANConfig(kind="dcgan",
  latent_dim=64, channels=16, snapshots=4)`, non-saturating loss, k = 1, batch 64, Adam 2e-4 with beta1 = 0.5;
  book: 1,500 generator steps), trained on the first 50,000 MNIST training images (`gan.held_out_split`: the
  last 1,000 of the 60,000 held out to choose sigma). The chapter calls the same function, so either one reuses
  the other's trained model and the two cannot drift apart.
* Classifier: `metrics.book_classifier`, the chapter's (book: 2,000 steps on all 60,000).
* Measures on 10,000 samples (book): classes covered (at least a tenth of the fair share), KL of the
  class histogram to uniform, mean confidence, Fréchet distance of the classifier's features to those of
  10,000 training images; the same for 10,000 test images (the reference row).
* Parzen: sigma from logspace(-1, 0, 10) on the 1,000 held-out images, mean log-density of the 10,000
  test images +- standard error (Goodfellow et al., 2014), for the samples and, as Theis et al.'s
  critique, for 10,000 training images and for k-means centres of the training images.

    python benchmarks/gan_mnist.py --scale book      # writes results/gan_mnist.txt

The last printed line is one JSON object with parzen_ll, parzen_se, parzen_sigma, classes_covered,
kl_to_uniform, confidence, frechet_distance, reference_frechet_distance, train_seconds (None when the
model came from the cache), and the critique's rows.
Reference: Goodfellow et al. (2014), Table 1: adversarial nets 225 +- 2 nats on MNIST.
"""

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _models import record  # noqa: E402

from edu_gen import data, gan, metrics, runtime, sample_quality  # noqa: E402

SETTINGS = {
    "ci": dict(n_train=5_000, n_samples=1_000, k_means=100),       # the model's recipe: gan.main_model_recipe
    "book": dict(n_train=None, n_samples=10_000, k_means=1_000),
    "full": dict(n_train=None, n_samples=10_000, k_means=10_000),
}
REFERENCE = {"GAN": (225, 2), "source": "Goodfellow et al. (2014), Table 1",
             "protocol": "MLP GAN, MNIST, Parzen window on generated samples, sigma by validation, 10,000 test images"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=runtime.SCALES, default="book")
    args = parser.parse_args()
    os.environ[runtime.SCALE_VARIABLE] = args.scale        # the cache keys follow the scale, as in the chapter
    runtime.setup(seed=0, quiet=True)
    s = SETTINGS[args.scale]
    recipe = gan.main_model_recipe()

    train_x, train_y = data.images("mnist", "train", n=s["n_train"])
    test_x, _ = data.images("mnist", "test")
    source = data.source("mnist")
    gan_x, valid_x = gan.held_out_split(train_x)

    started = time.perf_counter()
    model, history = gan.main_model(gan_x)                 # the chapter's model, trained or loaded (on the CPU)
    train_seconds = getattr(history, "seconds", None)

    clf = metrics.book_classifier(train_x, train_y)
    samples = model.sample(s["n_samples"], generator=torch.Generator().manual_seed(3))
    reference = test_x[: s["n_samples"]]
    train_features = sample_quality.classifier_features(clf, gan_x[: s["n_samples"]])
    measured = {}
    for name, images in (("samples", samples), ("test", reference)):
        h = sample_quality.class_histogram(clf, images)
        measured[name] = {"classes_covered": h["classes_covered"], "kl_to_uniform": h["kl_to_uniform"],
                          "confidence": h["confidence"], "counts": h["counts"].tolist(),
                          "frechet": sample_quality.frechet_distance(sample_quality.classifier_features(clf, images), train_features)}

    from sklearn.cluster import MiniBatchKMeans

    kmeans = MiniBatchKMeans(n_clusters=min(s["k_means"], len(gan_x) // 2), batch_size=2048, n_init=1, random_state=0)
    kmeans.fit(gan_x.flatten(1).numpy())
    centres = torch.tensor(kmeans.cluster_centers_, dtype=torch.float32).reshape(-1, 1, 28, 28)
    parzen = {}
    for name, points in (("samples", samples), ("training images", gan_x[: s["n_samples"]]), (f"k-means {len(centres)}", centres)):
        sigma, _ = metrics.parzen_select_sigma(points, valid_x)
        ll, se = metrics.parzen_log_likelihood(points, test_x[: s["n_samples"]], sigma)
        parzen[name] = {"ll": ll, "se": se, "sigma": sigma, "centres": len(points)}
    total = time.perf_counter() - started

    lines = [f"# DCGAN on {source}, scale {args.scale}, {recipe['steps']} generator steps of {recipe['batch_size']} "
             "(run on a shared machine: "
             "the seconds are not a clean timing)",
             f"{'row':24s} {'classes':>7s} {'KL unif':>8s} {'conf.':>6s} {'Fréchet':>8s}"]
    for name, m in measured.items():
        lines.append(f"{name:24s} {m['classes_covered']:7d} {m['kl_to_uniform']:8.3f} {m['confidence']:6.3f} {m['frechet']:8.2f}")
    lines.append(f"{'Parzen row':24s} {'LL':>7s} {'SE':>5s} {'sigma':>6s}  protocol")
    for name, p in parzen.items():
        lines.append(f"{name:24s} {p['ll']:7.1f} {p['se']:5.1f} {p['sigma']:6.3f}  this run: {p['centres']} centres, "
                     f"{min(s['n_samples'], len(test_x))} test images, sigma on {len(valid_x)} held-out")
    lines.append(f"{'GAN (paper)':24s} {225:7.1f} {2:5.1f} {'':6s}  {REFERENCE['protocol']}")
    result = {"parzen_ll": parzen["samples"]["ll"], "parzen_se": parzen["samples"]["se"], "parzen_sigma": parzen["samples"]["sigma"],
              "classes_covered": measured["samples"]["classes_covered"], "kl_to_uniform": measured["samples"]["kl_to_uniform"],
              "confidence": measured["samples"]["confidence"], "frechet_distance": measured["samples"]["frechet"],
              "reference_frechet_distance": measured["test"]["frechet"], "reference": measured["test"],
              "train_seconds": train_seconds, "total_seconds": total, "train_steps": recipe["steps"], "parzen": parzen,
              "scale": args.scale, "data": source, "n_train": len(gan_x), "config": asdict(recipe["config"]),
              "paper": REFERENCE, "machine": platform.machine(), "torch": torch.__version__}
    lines.append(json.dumps(result))
    record("gan_mnist" + ("" if args.scale == "book" else f"_{args.scale}"), lines)


if __name__ == "__main__":
    main()
