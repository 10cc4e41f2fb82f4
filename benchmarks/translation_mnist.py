"""Conditional GAN, pix2pix and CycleGAN on MNIST: the conditional-GAN chapter's models, measured against known answers.

The chapter's experiments (book/10_conditional_gans.ipynb), from their one definition in
`edu_gen.translation_train` (`budget`, `chapter_cgan`, `chapter_pix2pix`, `chapter_cyclegan`; same cache
keys as the chapter, so either one reuses the other's trained models):

* cGAN: 1,000 samples per class (100 at ci); the chapter's digit classifier reads the requested class
  (`class_accuracy`); within-class diversity of the samples and of real test digits of each class. Also
  the chapter's earlier recipe with the same budget, to measure what the two conditioning choices buy:
  the label as constant input planes of D (not a projection discriminator) and W_c at PyTorch's default
  initialisation (not N(0, 1)) (`chapter_cgan(conditioning="planes", label_std=None)`; --all-recipes adds
  the two mixed ones).
* pix2pix on "lower half removed -> whole digit": mean L1 error against the true digit on test digits, the
  classifier's accuracy on the outputs and their variance across inputs, for the five rows of pix2pix's
  Table 1 (`translation_train.PIX2PIX_VARIANTS`), and for L1 + cGAN with PatchGANs of receptive field 8, 18
  and 38 pixels (its Table 2's sweep).
* CycleGAN on digits -> T(digits), T = `translation.invert` (1 - x), disjoint halves: mean |G(x) - T(x)|
  on test digits for lambda = 10, 1, 0, against G = identity; the class of T^-1(G(x)).

    python benchmarks/translation_mnist.py --scale book      # writes results/translation_mnist.txt

The last printed line is one JSON object with cgan_class_accuracy, pix2pix_l1_error (L1 + cGAN),
pix2pix_l1_only_error, cyclegan_error (lambda = 10), cyclegan_no_cycle_error (lambda = 0),
identity_baseline_error, train_seconds (the sum over models trained in this run; None when all came
from the cache), and the per-variant rows.
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _models import record  # noqa: E402

from edu_gen import data, metrics, runtime  # noqa: E402
from edu_gen import translation as tr  # noqa: E402
from edu_gen import translation_train as tt  # noqa: E402

SETTINGS = {"ci": dict(n_train=5_000, per_class=100, n_test=500),
            "book": dict(n_train=None, per_class=1_000, n_test=5_000),
            "full": dict(n_train=None, per_class=1_000, n_test=10_000)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=runtime.SCALES, default="book")
    parser.add_argument("--all-recipes", action="store_true", help="also the two mixed cGAN recipes (2 x the cGAN's time)")
    args = parser.parse_args()
    os.environ[runtime.SCALE_VARIABLE] = args.scale        # the cache keys follow the scale, as in the chapter
    runtime.setup(seed=0, quiet=True)
    s, steps = SETTINGS[args.scale], tt.budget(args.scale)
    started = time.perf_counter()

    train_x, train_y = data.images("mnist", "train", n=s["n_train"])
    test_x, test_y = data.images("mnist", "test")
    test_x, test_y = test_x[: s["n_test"]], test_y[: s["n_test"]]
    source = data.source("mnist")
    clf = metrics.book_classifier(train_x, train_y)                # the chapters' classifier (scale set above)
    seconds = []

    labels = torch.arange(10).repeat_interleave(s["per_class"])
    recipes = {}                                  # (D's conditioning, W_c's init std) -> accuracy; the chapter's first
    mixed = [("projection", None), ("planes", 1.0)] if args.all_recipes else []
    for conditioning, label_std in [("projection", 1.0), ("planes", None), *mixed]:
        cgan, history = tt.chapter_cgan(train_x, train_y, steps["cgan"], conditioning=conditioning, label_std=label_std)
        seconds.append(getattr(history, "seconds", None))
        samples, _ = cgan["G"].sample(labels, generator=torch.Generator().manual_seed(1))
        read = tt.class_accuracy(clf, samples, labels)
        recipes[f"{conditioning}, W_c {'N(0, 1)' if label_std else 'default'}"] = read
    cgan, _ = tt.chapter_cgan(train_x, train_y, steps["cgan"])         # the chapter's model (from the cache)
    samples, _ = cgan["G"].sample(labels, generator=torch.Generator().manual_seed(1))
    read = tt.class_accuracy(clf, samples, labels)
    diversity = [(tt.within_class_diversity(samples[labels == k][:100]), tt.within_class_diversity(test_x[test_y == k][:100]))
                 for k in range(10)]

    inputs, targets = tr.paired_task(train_x)
    test_in, test_target = tr.paired_task(test_x)

    def measure(out):
        return {"l1": (out - test_target).abs().mean().item(), "lower_half": (out - test_target)[..., 14:, :].abs().mean().item(),
                "upper_half": (out - test_target)[..., :14, :].abs().mean().item(),
                "accuracy": tt.class_accuracy(clf, out, test_y)["accuracy"], "variance": out.var(0).mean().item()}

    pix = {}
    for name in tt.PIX2PIX_VARIANTS:
        model, history = tt.chapter_pix2pix(name, inputs, targets, steps["pix2pix"])
        seconds.append(getattr(history, "seconds", None))
        with torch.no_grad():
            out = model["G"](test_in)
        pix[name] = measure(out)
    sweep = {}
    for layers in (1, 2, 3):
        model, history = tt.chapter_pix2pix("L1 + cGAN", inputs, targets, steps["pix2pix"], layers=layers)
        seconds.append(None if layers == 2 else getattr(history, "seconds", None))     # layers 2: the row above
        with torch.no_grad():
            out = model["G"](test_in)
        sweep[tr.receptive_field(model["D"])] = measure(out)

    blank = measure(test_in)                                        # the input unchanged: lower half left blank
    domains = tr.unpaired_domains(train_x, tr.invert, seed=0)
    truth = tr.invert(test_x)
    cycle = {}
    for lam in (10.0, 1.0, 0.0):
        model, history = tt.chapter_cyclegan(lam, domains["x"], domains["y"], steps["cyclegan"])
        seconds.append(getattr(history, "seconds", None))
        with torch.no_grad():
            gx = model["G"](test_x)
            fgx = model["F"](gx)
        cycle[lam] = {"error": (gx - truth).abs().mean().item(), "cycle_error": (fgx - test_x).abs().mean().item(),
                      "class_kept": tt.class_accuracy(clf, tr.invert(gx), test_y)["accuracy"]}
    identity = (test_x - truth).abs().mean().item()
    trained = [t for t in seconds if t is not None]

    busy = os.getloadavg()[0] > (os.cpu_count() or 1)
    lines = [f"# conditional GANs on {source}, scale {args.scale}, steps {steps}, learning rates {tt.LEARNING_RATES}"
             + (" (load above the core count: the seconds are not a clean timing)" if busy else ""),
             f"cGAN: classifier reads the requested class in {read['accuracy']:.3f} of {len(labels)} samples; per class "
             + " ".join(f"{a:.2f}" for a in read["per_class"].tolist())]
    lines += [f"cGAN recipe {name:28s} accuracy {r['accuracy']:.3f}  per class "
              + " ".join(f"{a:.2f}" for a in r["per_class"].tolist()) for name, r in recipes.items()]
    lines += ["cGAN within-class diversity (samples / real): " + " ".join(f"{a:.2f}/{b:.2f}" for a, b in diversity)]
    lines += [f"pix2pix {name:28s} L1 {r['l1']:.4f}  upper half {r['upper_half']:.4f}  lower half {r['lower_half']:.4f}  "
              f"classifier {r['accuracy']:.3f}  output variance {r['variance']:.4f}" for name, r in {**pix, "input unchanged": blank}.items()]
    lines += [f"pix2pix L1 + cGAN, receptive field {field:2d} px  L1 {r['l1']:.4f}  lower half {r['lower_half']:.4f}  "
              f"classifier {r['accuracy']:.3f}  output variance {r['variance']:.4f}" for field, r in sweep.items()]
    lines += [f"CycleGAN lambda {lam:4.1f}  |G(x) - T(x)| {r['error']:.4f}  class of T^-1(G(x)) {r['class_kept']:.3f}  "
              f"|F(G(x)) - x| {r['cycle_error']:.4f}" for lam, r in cycle.items()]
    lines.append(f"G = identity: |x - T(x)| {identity:.4f}")
    result = {"cgan_class_accuracy": read["accuracy"], "cgan_per_class": read["per_class"].tolist(),
              "cgan_classes_below_90": [k for k, a in enumerate(read["per_class"].tolist()) if a < 0.9],
              "cgan_recipes": {k: {"accuracy": r["accuracy"], "per_class": r["per_class"].tolist()} for k, r in recipes.items()},
              "pix2pix_l1_error": pix["L1 + cGAN"]["l1"], "pix2pix_blank_baseline_error": blank["l1"], "pix2pix_l1_only_error": pix["L1 alone"]["l1"],
              "cyclegan_error": cycle[10.0]["error"], "cyclegan_no_cycle_error": cycle[0.0]["error"],
              "identity_baseline_error": identity, "train_seconds": sum(trained) if trained else None,
              "total_seconds": time.perf_counter() - started, "load_average_1_5_15_min": os.getloadavg(), "pix2pix": pix,
              "pix2pix_blank": blank, "patch_sweep": {str(k): v for k, v in sweep.items()}, "cyclegan": {str(k): v for k, v in cycle.items()},
              "steps": steps, "learning_rates": tt.LEARNING_RATES, "scale": args.scale, "data": source, "n_train": len(train_x), "n_test": len(test_x),
              "machine": platform.machine(), "torch": torch.__version__}
    lines.append(json.dumps(result))
    record("translation_mnist" + ("" if args.scale == "book" else f"_{args.scale}"), lines)


if __name__ == "__main__":
    main()
