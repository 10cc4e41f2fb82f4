"""The families compared on one data set: the chapters' own models, measured side by side (issue 21).

The models are the chapters' main models, loaded from the model cache through their library
definitions (trained at the current scale when the cache is empty, and then timed):

| row       | definition                 | likelihood column                                                |
|-----------|----------------------------|------------------------------------------------------------------|
| VAE       | `vae.main_model`           | IWAE bound (Burda et al., 2016): an upper bound on -log p(x)      |
| CVAE      | `cvae.main_model`          | none (it models p(x given y), not p(x)); Parzen of its samples    |
| AAE       | `aae.main_model`           | Parzen window of its samples (Goodfellow et al., 2014's protocol) |
| PixelCNN  | `pixelcnn.main_model`      | exact -log p(x)                                                   |
| DCGAN     | `gan.main_model`           | Parzen window of its samples                                      |

and two reference rows of real digits: MNIST test images and training images kept out of the
feature pool. Every row gets the Parzen value too, so that the table shows where the Parzen
estimate and the likelihood disagree (Theis et al., 2016).

Protocol (the JSON line's ``protocol`` holds it with the sizes of this run):

* likelihoods on the same test digits, binarised once (Bernoulli of the grey level, seed 0: the VAE
  chapter's digits); IWAE with K importance samples;
* Parzen: every row's S samples as centres, sigma chosen among `metrics.PARZEN_SIGMAS` on held-out
  test images (not the scored ones), the mean log-density of the grey test digits; in nats, but a
  property of the window, not of the model;
* sample quality in the book's digit classifier (`metrics.book_classifier`): Fréchet distance of the
  samples' features to those of a pool of training images, precision and recall (Kynkäänniemi et al.,
  2019, k = 3, S pool images as the real set), classes covered (at least a tenth of the fair share),
  mean distance of each sample to its nearest pool image (memorisation; the real rows give the scale);
  VAE, CVAE and AAE rows use decoder means (what their chapters show), PixelCNN draws binary images;
* cost: all trained parameters (encoder, decoder and discriminator where there is one), seconds of
  training in this run (null when the model came from the cache: run with ``--fresh`` to train and time
  every model), and seconds per 1,000 samples, timed on one draw of max(S, 1,000) samples in one batch (at
  least the issue's 1,000; the first S of them are the row's samples); wall-clock and CPU seconds
  (``time.process_time``: with one thread, about what an idle core would take), all on this machine, in
  one run, with the threads and the load average in the JSON line.

    EDU_GEN_THREADS=1 python benchmarks/compare_families.py --scale ci     # results/compare_families_ci.txt
    python benchmarks/compare_families.py --scale book                      # results/compare_families.txt

The last printed line is one JSON object: {"rows": [{"model", "log_likelihood_kind", "nll_nats",
"parzen_ll", "frechet", "precision", "recall", "classes_covered", "nearest_train_distance",
"parameters", "train_seconds", "train_cpu_seconds", "sample_seconds_per_1000", "sample_cpu_seconds_per_1000",
"budget"}, ...], "protocol": ..., "threads", "load_average": {"1 min", "5 min", "cores"}, ...}.
"""

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _models import record  # noqa: E402

from edu_gen import (aae, applications, cvae, data, gan, metrics, pixelcnn, runtime, sample_quality,  # noqa: E402
                     vae)

SETTINGS = {
    "ci": dict(n_train=5_000, n_test=200, n_valid=100, n_samples=200, n_pool=2_000, iwae_k=50),
    "book": dict(n_train=None, n_test=1_000, n_valid=1_000, n_samples=2_000, n_pool=10_000, iwae_k=500),
    "full": dict(n_train=None, n_test=9_000, n_valid=1_000, n_samples=10_000, n_pool=50_000, iwae_k=5_000),
}
PR_K = 3                                                    # Kynkäänniemi et al.'s k


def _timed_load(fn, *args):
    """fn(*args) with its output passed through, and its (wall-clock, CPU) seconds, or (None, None) when it
    loaded the model from the cache instead of training it."""
    buffer = io.StringIO()
    start, start_cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(buffer):
        out = fn(*args)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
    print(buffer.getvalue(), end="")
    if "edu_gen.train: loaded" in buffer.getvalue():
        return out, (None, None)
    return out, (round(seconds, 1), round(cpu_seconds, 1))


def _round(value, digits):
    return None if value is None else round(value, digits)


def _timed(fn):
    """fn() with its output, and its wall-clock and CPU seconds."""
    start, start_cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - start, time.process_time() - start_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=runtime.SCALES, default="book")
    parser.add_argument("--fresh", action="store_true", help="train every model in an empty cache (times every training)")
    args = parser.parse_args()
    os.environ[runtime.SCALE_VARIABLE] = args.scale            # the cache keys and recipes follow the scale
    if args.fresh:
        os.environ[runtime.CACHE_VARIABLE] = tempfile.mkdtemp(prefix="compare_families_")
    rt = runtime.setup(seed=0, quiet=True)
    s = SETTINGS[args.scale]
    started = time.perf_counter()

    # ---- the chapters' training sets, exactly as they load them (the cache keys hold their sizes)
    train_x, train_y = data.images("mnist", "train", n=s["n_train"])
    source = data.source("mnist")
    aae_x, _, _, _ = aae.held_out_split(*data.images("mnist", "train"), source, s["n_train"])
    gan_x, _ = gan.held_out_split(train_x)

    # ---- test digits: the scored ones (grey and binarised once, seed 0) and, disjoint, the held-out ones for sigma
    all_test, _ = data.images("mnist", "test")
    n_valid = min(s["n_valid"], len(all_test) // 3)
    n_test = min(s["n_test"], len(all_test) - n_valid)
    test_x, _ = data.images("mnist", "test", n=n_test, seed=0)
    test_bin, _ = data.images("mnist", "test", n=n_test, binarize="stochastic", seed=0)
    order = torch.randperm(len(all_test), generator=torch.Generator().manual_seed(0))   # as data.images(n=, seed=0)
    valid_x = all_test[order[n_test:n_test + n_valid]]

    # ---- the feature pool (real images the samples are compared with) and the training-images row
    n_samples = min(s["n_samples"], len(train_x) // 2)
    pool = train_x[:min(s["n_pool"], len(train_x) - n_samples)]
    held_train = train_x[len(pool):len(pool) + n_samples]
    clf = metrics.book_classifier(train_x, train_y)
    pool_features = sample_quality.classifier_features(clf, pool)

    models = {}
    models, train_seconds = {}, {}                             # name -> (wall-clock, CPU) seconds, or (None, None)
    (models["VAE"], train_seconds["VAE"]) = _timed_load(vae.main_model, train_x)
    (models["CVAE"], train_seconds["CVAE"]) = _timed_load(cvae.main_model, train_x, train_y)
    (models["AAE"], train_seconds["AAE"]) = _timed_load(aae.main_model, aae_x)
    (models["PixelCNN"], train_seconds["PixelCNN"]) = _timed_load(pixelcnn.main_model, train_x)
    (models["DCGAN"], train_seconds["DCGAN"]) = _timed_load(gan.main_model, gan_x)
    models = {name: pair[0].cpu().eval() for name, pair in models.items()}
    budgets = {
        "VAE": f"{vae.main_model_steps()} steps of 100 on {len(train_x)} digits",
        "CVAE": f"{cvae.main_model_recipe()['steps']} steps of {cvae.main_model_recipe()['batch_size']} on {len(train_x)} digits",
        "AAE": f"{aae.main_model_recipe()['steps']} iterations of 100 on {len(aae_x)} digits",
        "PixelCNN": f"{pixelcnn.main_model_recipe()['steps']} steps of {pixelcnn.main_model_recipe()['batch_size']} "
                    f"on {len(train_x)} digits",
        "DCGAN": f"{gan.main_model_recipe()['steps']} generator steps of {gan.main_model_recipe()['batch_size']} "
                 f"on {len(gan_x)} digits",
    }

    # ---- samples, same seed for every model: one timed draw of at least 1,000 in one batch, the first S measured
    n_draw = max(n_samples, 1_000)

    def draw(name: str) -> torch.Tensor:
        g = torch.Generator().manual_seed(2026)
        model = models[name]
        with torch.no_grad():
            if name == "CVAE":                                  # labels uniform over the 10 classes
                return model.sample(torch.arange(n_draw) % 10, generator=g)
            if name == "PixelCNN":
                return pixelcnn.sample(model, n_draw, generator=g, method="fast")
            return model.sample(n_draw, generator=g)

    samples, sample_seconds = {}, {}                          # name -> (wall-clock, CPU) seconds per 1,000 samples
    for name in models:
        images, seconds, cpu_seconds = _timed(lambda: draw(name))
        assert len(images) == n_draw, (name, len(images))
        samples[name] = images[:n_samples].float().clamp(0, 1).reshape(-1, 1, 28, 28)
        sample_seconds[name] = (round(1000 * seconds / n_draw, 4), round(1000 * cpu_seconds / n_draw, 4))

    # ---- likelihoods where defined
    nll, kinds = {}, {"VAE": "iwae_bound", "CVAE": "parzen", "AAE": "parzen", "PixelCNN": "exact", "DCGAN": "parzen"}
    with torch.no_grad():
        g = torch.Generator().manual_seed(0)
        log_px = torch.cat([vae.iwae_log_likelihood(models["VAE"], xb, s["iwae_k"], generator=g) for xb in test_bin.split(100)])
        nll["VAE"] = -float(log_px.mean())
        log_px = torch.cat([pixelcnn.log_likelihood(models["PixelCNN"], xb) for xb in test_bin.split(100)])
        nll["PixelCNN"] = -float(log_px.mean())

    # ---- every row: Parzen and the sample measures
    rows = []
    for name, images in [*samples.items(), ("MNIST test images", test_x), ("MNIST training images", held_train)]:
        if name == "MNIST test images":                     # its centres would be the scored digits themselves
            sigma = parzen_ll = parzen_se = None
        else:
            sigma, _ = metrics.parzen_select_sigma(images, valid_x)
            parzen_ll, parzen_se = metrics.parzen_log_likelihood(images, test_x, sigma)
        features = sample_quality.classifier_features(clf, images)
        pr = sample_quality.precision_recall(pool_features[:len(images)], features, k=PR_K)
        distance, _ = sample_quality.nearest_training(images, pool)
        real = name.startswith("MNIST")
        rows.append({
            "model": name,
            "log_likelihood_kind": None if real else kinds[name],
            "nll_nats": None if name not in nll else round(nll[name], 2),
            "parzen_ll": _round(parzen_ll, 1), "parzen_se": _round(parzen_se, 1), "parzen_sigma": _round(sigma, 3),
            "frechet": round(sample_quality.frechet_distance(features, pool_features), 3),
            "precision": round(pr["precision"], 3), "recall": round(pr["recall"], 3),
            "classes_covered": sample_quality.class_histogram(clf, images)["classes_covered"],
            "nearest_train_distance": round(float(distance.mean()), 3),
            "parameters": None if real else applications.count_parameters(models[name]),
            "train_seconds": None if real else train_seconds[name][0],
            "train_cpu_seconds": None if real else train_seconds[name][1],
            "sample_seconds_per_1000": None if real else sample_seconds[name][0],
            "sample_cpu_seconds_per_1000": None if real else sample_seconds[name][1],
            "budget": "the data" if real else budgets[name],
        })

    protocol = {
        "data": source, "scale": args.scale,
        "likelihood": f"{n_test} test digits binarised once (Bernoulli of the grey level, seed 0); IWAE K = {s['iwae_k']}",
        "parzen": f"{n_samples} samples as centres, sigma from {len(metrics.PARZEN_SIGMAS)} candidates on {n_valid} other "
                  f"test images, mean log-density of the {n_test} grey test digits",
        "sample_quality": f"{n_samples} samples per row; book classifier features; Fréchet to {len(pool)} training "
                          f"images; precision/recall k = {PR_K} against {n_samples} of them; nearest-image distance in "
                          f"pixels to the same {len(pool)}; VAE/CVAE/AAE decoder means, PixelCNN binary draws, DCGAN G(z)",
        "cost": f"all trained parameters; wall-clock and CPU seconds on {torch.get_num_threads()} threads (train: null if "
                f"loaded from the cache; samples: one draw of {n_draw} per model in one batch, per 1,000)",
    }
    header = f"{'row':22s} {'LL kind':10s} {'NLL':>7s} {'Parzen':>7s} {'Fréchet':>8s} {'prec.':>6s} {'recall':>6s} " \
             f"{'cls':>3s} {'NN dist':>7s} {'params':>9s} {'train s':>8s} {'CPU s':>7s} {'s/1000':>7s} {'CPU/1000':>8s}  budget"
    lines = [f"# The families compared on {source}, scale {args.scale} (issue 21); one run, one machine",
             f"# command: python benchmarks/compare_families.py --scale {args.scale}{' --fresh' if args.fresh else ''}",
             *[f"# {key}: {value}" for key, value in protocol.items()], header]

    def show(value, width, digits):
        return f"{'-':>{width}s}" if value is None else f"{value:{width}.{digits}f}" if isinstance(value, float) else f"{value:>{width}}"

    for r in rows:
        lines.append(f"{r['model']:22s} {(r['log_likelihood_kind'] or '-'):10s} {show(r['nll_nats'], 7, 2)} "
                     f"{show(r['parzen_ll'], 7, 1)} {show(r['frechet'], 8, 3)} {show(r['precision'], 6, 3)} "
                     f"{show(r['recall'], 6, 3)} {show(r['classes_covered'], 3, 0)} {show(r['nearest_train_distance'], 7, 3)} "
                     f"{show(r['parameters'], 9, 0)} {show(r['train_seconds'], 8, 1)} {show(r['train_cpu_seconds'], 7, 1)} "
                     f"{show(r['sample_seconds_per_1000'], 7, 3)} {show(r['sample_cpu_seconds_per_1000'], 8, 3)}  "
                     f"{r['budget']}")
    one, five, _ = os.getloadavg()                          # other work on the cores inflates the wall-clock seconds
    result = {"rows": rows, "protocol": protocol, "scale": args.scale, "data": source, "fresh": args.fresh,
              "threads": torch.get_num_threads(), "load_average": {"1 min": round(one, 2), "5 min": round(five, 2),
                                                                   "cores": os.cpu_count()}, "device": str(rt.device), "total_seconds": round(time.perf_counter() - started, 1),
              "machine": platform.machine(), "torch": torch.__version__}
    lines.append(json.dumps(result))
    record("compare_families" + ("" if args.scale == "book" else f"_{args.scale}"), lines)


if __name__ == "__main__":
    main()
