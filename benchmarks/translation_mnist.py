"""Conditional GAN, pix2pix and CycleGAN on MNIST: the conditional-GAN chapter's models, measured against known answers.

The chapter's experiments (book/10_conditional_gans.ipynb), from their one definition in
`edu_gen.translation_train` (`budget`, `chapter_cgan`, `chapter_pix2pix`, `chapter_cyclegan`; same cache
keys as the chapter, so either one reuses the other's trained models):

* cGAN: 1,000 samples per class (100 at ci); the chapter's digit classifier reads the requested class
  (`class_accuracy`); within-class diversity of the samples and of real test digits of each class. Also
  the chapter's two earlier recipes with the same budget (seed 0), to measure what the conditioning choices
  buy: without the matching-aware D and with W_c from N(0, 1) (`chapter_cgan(mismatch=0.0, label_std=1.0)`),
  and besides the label as constant input planes of D (not a projection discriminator) with W_c at PyTorch's
  default initialisation (`chapter_cgan(mismatch=0.0, conditioning="planes", label_std=None)`);
  --all-recipes adds the two mixed ones. JSON: cgan_recipes, name -> accuracy, per_class and the changes of
  CGAN_RECIPE (the chapter's recipe first, changes {}).
* pix2pix on "lower half removed -> whole digit": mean L1 error against the true digit on test digits, the
  classifier's accuracy on the outputs and their variance across inputs, for the five rows of pix2pix's
  Table 1 (`translation_train.PIX2PIX_VARIANTS`), and for L1 + cGAN with PatchGANs of receptive field 8, 18
  and 38 pixels (its Table 2's sweep).
* CycleGAN on digits -> T(digits), T = `translation.invert` (1 - x), disjoint halves: mean |G(x) - T(x)|
  on test digits for lambda = 10, 1, 0, against G = identity; the class of T^-1(G(x)).

    python benchmarks/translation_mnist.py --scale book      # writes results/translation_mnist.txt
    python benchmarks/translation_mnist.py --scale book --cgan-seeds 4    # only the cGAN, seeds 0..3:
                                                              # results/translation_mnist_cgan_seeds.txt

With --cgan-seeds N the script trains only the chapter's cGAN recipe (`translation_train.CGAN_RECIPE`, with
--change's entries replaced) for N seeds and prints, per seed, the accuracy, each class's accuracy and the
within-class diversity over that of real digits (the chapter's measures), then the mean, min, max and spread.

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
    parser.add_argument("--cgan-seeds", type=int, default=0, metavar="N",
                        help="only the cGAN: train the chapter's recipe (translation_train.CGAN_RECIPE) for seeds 0..N-1 "
                             "and report each seed and the spread (writes results/translation_mnist_cgan_seeds*.txt)")
    parser.add_argument("--seed-start", type=int, default=0, help="with --cgan-seeds: the first seed")
    parser.add_argument("--change", nargs="*", default=[], metavar="KEY=VALUE",
                        help="with --cgan-seeds: entries of CGAN_RECIPE to change, VALUE read as JSON (loss=hinge "
                             "spectral_norm=true lr_d=4e-4 betas=[0,0.9]; mismatch=0.5: Reed et al.'s matching-aware "
                             "D); the result file's name gets a tag")
    parser.add_argument("--log-file", help="with --cgan-seeds: lines to add to the result file as '# log:' comments")
    parser.add_argument("--out", help="with --cgan-seeds: the result file's name under results/ (default: "
                                      "translation_mnist_cgan_seeds[_SCALE][_TAG of the changes].txt)")
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
    if args.cgan_seeds:
        return seed_study(args, train_x, train_y, test_x, test_y, clf, s, steps, source)
    seconds = []

    labels = torch.arange(10).repeat_interleave(s["per_class"])
    recipes = {}                          # recipe name -> (changes of CGAN_RECIPE, accuracy); the chapter's first
    earlier = [{"mismatch": 0.0, "label_std": 1.0}, {"mismatch": 0.0, "conditioning": "planes", "label_std": None}]
    mixed = [{"mismatch": 0.0, "label_std": None}, {"mismatch": 0.0, "conditioning": "planes", "label_std": 1.0}]
    for changes in [{}, *earlier, *(mixed if args.all_recipes else [])]:
        cgan, history = tt.chapter_cgan(train_x, train_y, steps["cgan"], **changes)
        seconds.append(getattr(history, "seconds", None))
        samples, _ = cgan["G"].sample(labels, generator=torch.Generator().manual_seed(1))
        recipes[recipe_name({**tt.CGAN_RECIPE, **changes})] = (changes, tt.class_accuracy(clf, samples, labels))
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
    lines += [f"cGAN recipe {name:50s} accuracy {r['accuracy']:.3f}  per class "
              + " ".join(f"{a:.2f}" for a in r["per_class"].tolist()) for name, (_, r) in recipes.items()]
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
              "cgan_recipes": {k: {"accuracy": r["accuracy"], "per_class": r["per_class"].tolist(), "changes": c}
                               for k, (c, r) in recipes.items()},
              "pix2pix_l1_error": pix["L1 + cGAN"]["l1"], "pix2pix_blank_baseline_error": blank["l1"], "pix2pix_l1_only_error": pix["L1 alone"]["l1"],
              "cyclegan_error": cycle[10.0]["error"], "cyclegan_no_cycle_error": cycle[0.0]["error"],
              "identity_baseline_error": identity, "train_seconds": sum(trained) if trained else None,
              "total_seconds": time.perf_counter() - started, "load_average_1_5_15_min": os.getloadavg(), "pix2pix": pix,
              "pix2pix_blank": blank, "patch_sweep": {str(k): v for k, v in sweep.items()}, "cyclegan": {str(k): v for k, v in cycle.items()},
              "steps": steps, "learning_rates": tt.LEARNING_RATES, "scale": args.scale, "data": source, "n_train": len(train_x), "n_test": len(test_x),
              "machine": platform.machine(), "torch": torch.__version__}
    lines.append(json.dumps(result))
    record("translation_mnist" + ("" if args.scale == "book" else f"_{args.scale}"), lines)


def recipe_name(recipe: dict) -> str:
    """A cGAN recipe's three conditioning choices in words, e.g. "projection, W_c N(0, 0.8^2), mismatch 0.5"."""
    init = "default" if recipe["label_std"] is None else f"N(0, {recipe['label_std']:g}^2)"
    return f"{recipe['conditioning']}, W_c {init}, mismatch {recipe['mismatch']:g}"


def _value(text: str):
    try:
        value = json.loads(text)
    except ValueError:
        value = text                                                    # a bare word: loss=hinge
    return tuple(value) if isinstance(value, list) else value


def seed_study(args, train_x, train_y, test_x, test_y, clf, s, steps, source) -> None:
    """The chapter's cGAN recipe (with --change's entries) for --cgan-seeds seeds: accuracy, per class, diversity.

    Per seed: the fraction of s["per_class"] samples per class that the classifier reads as requested (the
    samples drawn as the chapter draws them, generator seed 1), each class's fraction, and the within-class
    diversity of the first 100 samples of each class over that of 100 real test digits of the class, averaged
    over the classes (the chapter's measure); the CPU seconds of training (time.process_time; a cached model
    reports None). Then the mean, min, max and spread (max - min) over seeds.
    """
    if args.cgan_seeds < 1 or args.seed_start < 0:
        raise SystemExit(f"--cgan-seeds must be >= 1 and --seed-start >= 0, got {args.cgan_seeds} and {args.seed_start}")
    changes = dict(item.split("=", 1) for item in args.change)
    changes = {k: _value(v) for k, v in changes.items()}
    recipe = {**tt.CGAN_RECIPE, **changes}
    labels = torch.arange(10).repeat_interleave(s["per_class"])
    real = [tt.within_class_diversity(test_x[test_y == k][:100]) for k in range(10)]
    rows = {}
    for seed in range(args.seed_start, args.seed_start + args.cgan_seeds):
        cpu = time.process_time()
        cgan, history = tt.chapter_cgan(train_x, train_y, steps["cgan"], seed=seed, **changes)
        cpu = time.process_time() - cpu if getattr(history, "seconds", None) is not None else None
        samples, _ = cgan["G"].sample(labels, generator=torch.Generator().manual_seed(1))
        read = tt.class_accuracy(clf, samples, labels)
        ratio = [tt.within_class_diversity(samples[labels == k][:100]) / real[k] for k in range(10)]
        as_read = metrics.classifier_confidence(clf, samples)["label"].cpu()
        wrong = {}                                # class k -> the class its misread samples are most often read as
        for k in range(10):
            other = as_read[(labels == k) & (as_read != k)]
            if len(other):
                top = int(torch.bincount(other, minlength=10).argmax())
                wrong[k] = {"read_as": top, "fraction": round(float((other == top).sum()) / s["per_class"], 4)}
        rows[seed] = {"accuracy": read["accuracy"], "per_class": [round(a, 4) for a in read["per_class"].tolist()],
                      "misread_most_often_as": wrong,
                      "min_class_accuracy": float(read["per_class"].min()), "diversity_ratio": sum(ratio) / 10,
                      "diversity_ratio_per_class": [round(r, 3) for r in ratio], "train_cpu_seconds": cpu}
        print(json.dumps({"seed": seed, **rows[seed]}), flush=True)

    def spread(key):
        v = [r[key] for r in rows.values()]
        return {"mean": sum(v) / len(v), "min": min(v), "max": max(v), "spread": max(v) - min(v)}

    acc, low, div = spread("accuracy"), spread("min_class_accuracy"), spread("diversity_ratio")
    tag = "_".join(f"{k}-{v}" for k, v in changes.items()).replace(" ", "").replace("/", "-")
    name = "translation_mnist_cgan_seeds" + ("" if args.scale == "book" else f"_{args.scale}") + (f"_{tag}" if tag else "")
    name = args.out.removesuffix(".txt") if args.out else name
    path = HERE / "results" / f"{name}.txt"
    logs = [line for line in path.read_text().splitlines() if line.startswith("# log:")] if path.is_file() else []
    if args.log_file:
        logs += [f"# log: {line}" for line in Path(args.log_file).read_text().splitlines()
                 if line.strip() and f"# log: {line}" not in logs]
    threads = torch.get_num_threads()
    lines = [f"# the chapter's conditional GAN over seeds on {source}, scale {args.scale}, {steps['cgan']} generator steps, "
             f"{threads} thread(s), {s['per_class']} samples per class, diversity: first 100 samples per class / 100 real "
             "test digits of the class",
             f"# command: python benchmarks/translation_mnist.py --scale {args.scale} --cgan-seeds {args.cgan_seeds}"
             + (f" --seed-start {args.seed_start}" if args.seed_start else "") + (f" --change {' '.join(args.change)}" if changes else "")
             + (f" --out {args.out}" if args.out else ""),
             "# the same recipe whatever CGAN_RECIPE says later: --change " + " ".join(
                 f"{k}={json.dumps(list(v) if isinstance(v, tuple) else v).replace(' ', '')}" for k, v in recipe.items()),
             *logs]
    lines += [f"seed {seed}: accuracy {r['accuracy']:.3f}  per class " + " ".join(f"{a:.2f}" for a in r["per_class"])
              + f"  diversity / real {r['diversity_ratio']:.2f}"
              + "".join(f"  class {k} read as {w['read_as']} in {w['fraction']:.2f}" for k, w in r["misread_most_often_as"].items()
                        if r["per_class"][k] < 0.9)
              + (f"  train {r['train_cpu_seconds']:.0f} CPU-s" if r["train_cpu_seconds"] else "") for seed, r in rows.items()]
    lines.append(f"over {len(rows)} seeds: accuracy mean {acc['mean']:.3f}, min {acc['min']:.3f}, max {acc['max']:.3f} "
                 f"(spread {acc['spread']:.3f}); worst class per seed min {low['min']:.3f}, mean {low['mean']:.3f}; "
                 f"diversity / real mean {div['mean']:.2f}, min {div['min']:.2f}")
    lines.append(json.dumps({"cgan_seeds": {str(k): v for k, v in rows.items()}, "accuracy": acc, "min_class_accuracy": low,
                             "diversity_ratio": div, "recipe": {k: list(v) if isinstance(v, tuple) else v for k, v in recipe.items()},
                             "changes": {k: list(v) if isinstance(v, tuple) else v for k, v in changes.items()},
                             "steps": steps["cgan"], "per_class": s["per_class"], "scale": args.scale, "data": source,
                             "threads": threads, "n_train": len(train_x), "machine": platform.machine(), "torch": torch.__version__}))
    record(name, lines)


if __name__ == "__main__":
    main()
