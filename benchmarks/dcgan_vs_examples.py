"""The GAN chapter's DCGAN against pytorch/examples' DCGAN, at equal CPU time, by the digit classifier's measures.

A reader who wants a DCGAN on MNIST would otherwise copy pytorch/examples' ``dcgan/main.py``
(https://github.com/pytorch/examples, folder ``dcgan``), itself the architecture of Radford, Metz and
Chintala (2016, "Unsupervised representation learning with deep convolutional generative adversarial
networks"). Its published settings with ``--dataset mnist``, re-implemented here (no code copied):

* data: MNIST through ``transforms.Resize(64)`` (bilinear), ``ToTensor()`` and ``Normalize((0.5,), (0.5,))``:
  64 x 64 images in [-1, 1], one channel (nc = 1); batches of 64, shuffled each epoch, the last smaller
  batch kept;
* generator (ngf = 64, nz = 100): z (B, 100, 1, 1) -> ConvTranspose2d(100, 512, 4, 1, 0) -> 4 x 4, then
  (512 -> 256), (256 -> 128), (128 -> 64) with ConvTranspose2d(4, 2, 1) to 32 x 32, each followed by
  BatchNorm2d and ReLU, and ConvTranspose2d(64, 1, 4, 2, 1) and tanh to 64 x 64; no biases;
* discriminator (ndf = 64): Conv2d(1, 64, 4, 2, 1) and LeakyReLU(0.2), then (64 -> 128), (128 -> 256),
  (256 -> 512) with Conv2d(4, 2, 1), BatchNorm2d and LeakyReLU(0.2), to 4 x 4, and Conv2d(512, 1, 4, 1, 0)
  with a sigmoid; no biases;
* initialisation: convolution weights from N(0, 0.02^2), batch-norm scales from N(1, 0.02^2) and shifts 0;
* loss: ``nn.BCELoss`` on the sigmoid's output; per batch, D takes one Adam step on the real batch
  (label 1) and on G(z) detached (label 0), two backward passes summed, then G takes one Adam step on
  BCE(D(G(z)), 1) with the same G(z) (the non-saturating loss), D already updated;
* Adam, lr 2e-4, betas (0.5, 0.999), for both networks.

Departures, all for the comparison: the images are the GAN chapter's 28 x 28 training digits
(`gan.held_out_split`, the same 50,000 for both recipes), resized in each batch by bilinear interpolation
(`F.interpolate`, half-pixel centres, what torchvision's Resize does, without its rounding to 8 bits);
generated 64 x 64 images are mapped back to [0, 1] and resized to 28 x 28 (bilinear with antialiasing, as
torchvision's Resize on a tensor) for the classifier, which reads 28 x 28 digits. The example never puts
G in eval mode, so its samples (its ``netG(fixed_noise)`` grids) are drawn with batch-norm statistics of
each batch of 64 noise vectors; that is how its samples are scored here (column ``frechet``), and the same
weights in eval mode (running statistics) are scored too (``frechet_eval``).

The book's recipe is the GAN chapter's main model as `gan.main_model` trains it: the networks of
`gan.main_model_recipe` (the same at every scale), its batch size, k and the loss of `gan.load_or_train_gan`,
Adam's settings of `gan.train_gan`, one step being `gan.update_discriminator` k times and
`gan.update_generator` once, with `gan.train_gan`'s seeding; tests/test_dcgan_vs_examples.py checks that
the steps give exactly `gan.train_gan`'s weights. Only the number of steps is replaced by the CPU budget.

Protocol. Each recipe is trained once, on one thread, for the largest CPU-time budget; at every budget
(CPU seconds of this process, `time.process_time`) a copy of the weights is kept (`_models.train_to_budgets`).
Scoring comes after training and is not counted: every copy draws ``--n-samples`` samples (noise seed 3, as
the chapter), and the chapter's measures in its classifier (`metrics.book_classifier`, the VAE chapter's
MLP) are computed with the library's functions: the Fréchet distance of the classifier's 256 hidden
features to those of as many of the GAN's training images (`sample_quality.frechet_distance`, as
book/09_gan.ipynb), and the classes covered (`sample_quality.class_histogram`: classes with at least a
tenth of their fair share), the KL divergence of the class histogram to uniform and the mean confidence.
The same measures of as many MNIST test images give the floor (the ``reference`` row).

    python benchmarks/dcgan_vs_examples.py           # budgets 30 60 120 CPU-s; writes results/dcgan_vs_examples.txt
    python benchmarks/dcgan_vs_examples.py --budgets 2 4 --n-samples 200 --n-train 2000   # a smoke test (prints only)

The last printed line is one JSON object: for each recipe its curve (CPU seconds -> Fréchet distance,
classes covered, and the rest at each budget, with wall seconds and steps), the reference row, and
``cpu_time_ratio``: the CPU time the book's recipe needs to reach the example's best Fréchet distance
divided by the CPU time at which the example reached it (`vae_vs_examples.time_to_reach`, in log time).
"""

import argparse
import copy
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _models import record, train_to_budgets  # noqa: E402
from vae_vs_examples import _default, compare as compare_nats  # noqa: E402

from edu_gen import data, gan, metrics, runtime, sample_quality  # noqa: E402

# CPU seconds of training: 30, 60, 120, not the VAE's 240 as well: on 2026-12-01 the 2 shared cores (load 13)
# gave a session about a third of a core, too little for 240 CPU-s per recipe and the scoring
BUDGETS = (30.0, 60.0, 120.0)
N_SAMPLES = 2_000                # samples (and training images, and test images) per measure
SAMPLE_SEED = 3                  # the chapter's noise seed for its measured samples
EXAMPLE_SOURCE = ("pytorch/examples, dcgan/main.py (github.com/pytorch/examples), after Radford, Metz and Chintala "
                  "(2016)")


# ---------------------------------------------------------------------------------------------
# pytorch/examples' DCGAN, from its published settings


class ExampleGenerator(nn.Sequential):
    """z (B, nz, 1, 1) -> (B, nc, 64, 64) in [-1, 1]: five transposed convolutions (pytorch/examples, dcgan/main.py)."""

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 1):
        layers, width = [nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False)], ngf * 8    # (B, 512, 4, 4)
        while width > ngf:                                                                  # 8, 16, 32 pixels
            layers += [nn.BatchNorm2d(width), nn.ReLU(True), nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False)]
            width //= 2
        layers += [nn.BatchNorm2d(ngf), nn.ReLU(True), nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()]
        super().__init__(*layers)
        self.nz = nz


class ExampleDiscriminator(nn.Sequential):
    """x (B, nc, 64, 64) -> D(x) (B,) in (0, 1): five strided convolutions and a sigmoid (pytorch/examples)."""

    def __init__(self, ndf: int = 64, nc: int = 1):
        layers, width = [nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)], ndf   # 32 x 32
        while width < ndf * 8:                                                                        # 16, 8, 4
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2),
                       nn.LeakyReLU(0.2, inplace=True)]
            width *= 2
        layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=False), nn.Sigmoid()]                            # 1 x 1
        super().__init__(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x).view(-1)


def example_init(module: nn.Module) -> None:
    """The example's ``weights_init``: convolutions N(0, 0.02^2); batch norm scales N(1, 0.02^2), shifts 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class ExampleDCGAN(nn.Module):
    """The example's two networks in one module (so one state dict holds both)."""

    def __init__(self, nz: int = 100, ngf: int = 64, ndf: int = 64, nc: int = 1):
        super().__init__()
        self.generator, self.discriminator = ExampleGenerator(nz, ngf, nc), ExampleDiscriminator(ndf, nc)
        self.generator.apply(example_init)
        self.discriminator.apply(example_init)


def to_example_input(images: torch.Tensor) -> torch.Tensor:
    """(B, 1, 28, 28) grey levels in [0, 1] -> (B, 1, 64, 64) in [-1, 1]: the example's Resize(64) and Normalize(0.5, 0.5)."""
    return F.interpolate(images, size=(64, 64), mode="bilinear", align_corners=False) * 2 - 1


def from_example_output(images: torch.Tensor) -> torch.Tensor:
    """(B, 1, 64, 64) in [-1, 1] -> (B, 1, 28, 28) in [0, 1]: undo Normalize, then a bilinear antialiased resize."""
    x = (images + 1) / 2
    return F.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)


# ---------------------------------------------------------------------------------------------
# the two recipes as (model, one training step, sampler)


@dataclass
class Recipe:
    name: str
    model: nn.Module
    step: object             # step(steps done, CPU seconds) -> None: one step of training
    sample: object           # sample(model, n, generator, mode) -> (n, 1, 28, 28) in [0, 1]
    description: str
    modes: tuple = ("own",)  # ways of drawing samples, the first one the recipe's own


def _cycle(loader):
    while True:
        yield from loader


def example_recipe(images: torch.Tensor, seed: int = 0) -> Recipe:
    """pytorch/examples' DCGAN recipe on `images` (N, 1, 28, 28) in [0, 1], resized in each batch."""
    torch.manual_seed(seed)
    model = ExampleDCGAN()
    netG, netD = model.generator, model.discriminator
    criterion = nn.BCELoss()
    opt_d = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    batches = _cycle(data.loader(images, batch_size=64, shuffle=True, seed=seed))

    def step(steps, cpu):
        real = to_example_input(next(batches)[0])
        b = len(real)
        netD.zero_grad()                                          # (1) D: maximise log D(x) + log(1 - D(G(z)))
        criterion(netD(real), torch.ones(b)).backward()
        fake = netG(torch.randn(b, netG.nz, 1, 1))
        criterion(netD(fake.detach()), torch.zeros(b)).backward()
        opt_d.step()
        netG.zero_grad()                                          # (2) G: maximise log D(G(z)), the same G(z)
        criterion(netD(fake), torch.ones(b)).backward()
        opt_g.step()

    return Recipe("examples", model, step, sample_example,
                  "64x64 DCGAN ngf = ndf = 64, nz = 100, BatchNorm, BCE, Adam 2e-4 beta1 0.5, batch 64; "
                  "28x28 digits resized to 64 (bilinear), samples resized back to 28 (bilinear, antialiased)",
                  modes=("train", "eval"))


@torch.no_grad()
def sample_example(model: ExampleDCGAN, n: int, generator: torch.Generator, mode: str = "train") -> torch.Tensor:
    """n samples at 28 x 28 in [0, 1]; mode "train": batch statistics of batches of 64 noise vectors, as the example
    draws its grids (netG never in eval mode); "eval": batch norm's running statistics."""
    netG = copy.deepcopy(model.generator).train(mode == "train")   # a copy: train mode updates running statistics
    z = torch.randn(n, netG.nz, 1, 1, generator=generator)
    return torch.cat([from_example_output(netG(zb)) for zb in z.split(64)])


def book_recipe(images: torch.Tensor, seed: int = 0) -> Recipe:
    """The GAN chapter's DCGAN and its training step, every setting read from `edu_gen.gan` (only the steps are not)."""
    recipe = gan.main_model_recipe("book")                         # the networks are the same at every scale
    config, batch_size = recipe["config"], recipe["batch_size"]
    k, loss = _default(gan.load_or_train_gan, "k"), _default(gan.load_or_train_gan, "loss")
    lr, betas = _default(gan.train_gan, "lr"), _default(gan.train_gan, "betas")
    torch.manual_seed(seed)                                        # as gan.load_or_train_gan, then gan.train_gan
    model = gan.GAN(config)
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=lr, betas=betas)
    opt_g = torch.optim.Adam(model.generator.parameters(), lr=lr, betas=betas)

    def step(steps, cpu):
        for _ in range(k):
            real = images[torch.randint(len(images), (batch_size,), generator=g)]
            gan.update_discriminator(model, real, opt_d, generator=g, step=steps)
        gan.update_generator(model, batch_size, opt_g, loss, generator=g, step=steps)

    c = config.channels
    return Recipe("book", model, step, lambda m, n, generator, mode="own": m.sample(n, generator=generator),
                  f"28x28 DCGAN channels {c}/{2 * c}, z of {config.latent_dim}, BatchNorm, {loss} loss from logits, "
                  f"k = {k}, Adam {lr:g} betas {betas}, batch {batch_size} drawn with replacement")


RECIPES = {"examples": example_recipe, "book": book_recipe}


# ---------------------------------------------------------------------------------------------
# scoring, and the comparison of the curves


def measure(clf, images: torch.Tensor, reference_features: torch.Tensor) -> dict:
    """The chapter's measures of `images` (N, 1, 28, 28) in [0, 1]: Fréchet distance, classes covered, KL, confidence."""
    h = sample_quality.class_histogram(clf, images)
    frechet = sample_quality.frechet_distance(sample_quality.classifier_features(clf, images), reference_features)
    return {"frechet": round(frechet, 3), "classes_covered": h["classes_covered"],
            "kl_to_uniform": round(h["kl_to_uniform"], 4), "confidence": round(h["confidence"], 4)}


def compare(curves: dict) -> dict:
    """`vae_vs_examples.compare` on the Fréchet distances (lower is better), its keys named for them."""
    as_nats = {name: {"cpu": c["cpu"], "nats": c["frechet"]} for name, c in curves.items()}
    return {key.replace("nats", "frechet"): value for key, value in compare_nats(as_nats).items()}


def run_recipe(name: str, budgets: list, n_samples: int, n_train: int | None) -> dict:
    """Train one recipe to its budgets, then score every kept copy: its curve, description, load averages."""
    runtime.setup(seed=0, quiet=True)
    train_x, train_y = data.images("mnist", "train", n=n_train)
    gan_x, _ = gan.held_out_split(train_x)                        # the GAN chapter's 50,000 training digits
    recipe = RECIPES[name](gan_x)
    load = [round(os.getloadavg()[0], 2)]
    kept = train_to_budgets(recipe.step, recipe.model, budgets)
    load.append(round(os.getloadavg()[0], 2))

    clf = metrics.book_classifier(train_x, train_y)               # the chapter's classifier (cached)
    n = min(n_samples, len(gan_x))
    reference_features = sample_quality.classifier_features(clf, gan_x[:n])
    rows = []
    for snapshot in kept:
        recipe.model.load_state_dict(snapshot["state"])
        recipe.model.eval()
        row = {}
        for mode in recipe.modes:
            images = recipe.sample(recipe.model, n, torch.Generator().manual_seed(SAMPLE_SEED), mode)
            measured = measure(clf, images, reference_features)
            row.update(measured if mode == recipe.modes[0] else {f"{k}_{mode}": v for k, v in measured.items()})
        rows.append(row)
        print(f"{name}: {snapshot['cpu_seconds']:.1f} CPU-s ({snapshot['wall_seconds']:.1f} s wall, "
              f"{snapshot['steps']} steps): {row}", flush=True)
    curve = {"cpu": [round(s["cpu_seconds"], 1) for s in kept], **{key: [r[key] for r in rows] for key in rows[0]},
             "wall": [round(s["wall_seconds"], 1) for s in kept], "steps": [s["steps"] for s in kept]}
    test_x, _ = data.images("mnist", "test", n=n, seed=0)
    reference = measure(clf, test_x, reference_features)
    return {"curve": curve, "description": recipe.description, "load": load, "n_train": len(gan_x), "n_samples": n,
            "reference": reference, "parameters": sum(p.numel() for p in recipe.model.parameters())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=list(BUDGETS), help="CPU seconds of training")
    parser.add_argument("--n-samples", type=int, default=N_SAMPLES)
    parser.add_argument("--n-train", type=int, help="training digits before the chapter's split (default: all)")
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--parallel", action="store_true", help="train the recipes at once, one process each")
    args = parser.parse_args()
    runtime.setup(seed=0)
    budgets = sorted(args.budgets)
    jobs = [(name, budgets, args.n_samples, args.n_train) for name in args.recipes]
    if args.parallel:   # CPU time is counted per process, so the recipes do not share a clock
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(len(jobs), mp_context=multiprocessing.get_context("spawn")) as pool:
            runs = dict(zip(args.recipes, pool.map(run_recipe, *zip(*jobs))))
    else:
        runs = {name: run_recipe(*job) for name, job in zip(args.recipes, jobs)}
    curves = {name: run["curve"] for name, run in runs.items()}
    first = next(iter(runs.values()))
    result = {"budgets_cpu_seconds": budgets, "curves": curves, "reference_test_images": first["reference"],
              "n_samples": first["n_samples"], "n_train": first["n_train"], "data": data.source("mnist"),
              "threads": torch.get_num_threads(),
              "load_average_1min_before_after": {name: run["load"] for name, run in runs.items()},
              "recipes": {name: run["description"] for name, run in runs.items()},
              "parameters": {name: run["parameters"] for name, run in runs.items()}}
    if set(curves) == set(RECIPES):
        result.update(compare(curves))
    full = budgets == list(BUDGETS) and args.n_samples == N_SAMPLES and args.n_train is None and set(curves) == set(RECIPES)
    n = first["n_samples"]
    lines = [
        "# The GAN chapter's DCGAN against pytorch/examples' DCGAN at equal CPU time: the digit classifier's measures",
        f"# {time.strftime('%Y-%m-%d %H:%M')} | {platform.machine()} | {torch.get_num_threads()} thread(s) | "
        f"torch {torch.__version__} | data {result['data']} | {first['n_train']} training digits",
        f"# command: python benchmarks/dcgan_vs_examples.py {' '.join(sys.argv[1:])}".rstrip(),
        f"# evaluation: {n} samples (noise seed {SAMPLE_SEED}) per copy; book classifier (metrics.book_classifier); "
        f"Fréchet distance of its 256 features to {n} training digits; classes covered (>= a tenth of the fair share)",
        f"# example: {EXAMPLE_SOURCE}: {result['recipes'].get('examples', '-')}; its samples with batch statistics "
        "(batches of 64, as it draws them: frechet) and with running statistics (eval)",
        f"# book: gan.main_model_recipe + gan.train_gan's step: {result['recipes'].get('book', '-')}",
        f"# parameters (G + D): {result['parameters']}",
        "# | recipe | CPU-s | wall s | steps | Fréchet | classes | KL unif | conf. | Fréchet eval | classes eval |",
    ]
    for name, c in curves.items():
        for i in range(len(c["cpu"])):
            lines.append(f"# | {name} | {c['cpu'][i]} | {c['wall'][i]} | {c['steps'][i]} | {c['frechet'][i]} | "
                         f"{c['classes_covered'][i]} | {c['kl_to_uniform'][i]} | {c['confidence'][i]} | "
                         f"{c.get('frechet_eval', ['-'] * len(c['cpu']))[i]} | "
                         f"{c.get('classes_covered_eval', ['-'] * len(c['cpu']))[i]} |")
    ref = result["reference_test_images"]
    lines.append(f"# | {n} MNIST test images (the floor) | - | - | - | {ref['frechet']} | {ref['classes_covered']} | "
                 f"{ref['kl_to_uniform']} | {ref['confidence']} | - | - |")
    if "cpu_time_ratio" in result:
        lines.append(f"book ahead by {result['book_ahead_frechet']} (Fréchet) at the budgets {budgets} CPU-s; the book "
                     f"reaches the example's best {result['examples_best_frechet']} in {result['book_time_kind']} "
                     f"{result['book_cpu_seconds_to_examples_best']} CPU-s, the example in "
                     f"{result['examples_cpu_seconds_to_best']}: ratio {result['cpu_time_ratio']}")
    lines.append(json.dumps(result))
    if full:
        record("dcgan_vs_examples", lines)
    else:
        print("\n".join(lines))


if __name__ == "__main__":
    main()
