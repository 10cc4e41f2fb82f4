"""The PixelCNN chapter's gated PixelCNN against the smallest public PyTorch PixelCNN, at equal CPU time, by exact NLL.

Which example. A reader looking for a small PixelCNN on MNIST in PyTorch finds jzbontar/pixelcnn-pytorch
(https://github.com/jzbontar/pixelcnn-pytorch, ``main.py``, one file of about 80 lines): it is the one
most often copied (other public repositories cite it as the source of their ``MaskedConv2d``) and the
smallest complete recipe (model, data, loss, optimiser, training loop, sampling) we found; it implements the
masked convolutions of van den Oord, Kalchbrenner and Kavukcuoglu (2016, "Pixel recurrent neural
networks", section 3.5). Its published settings (the repository's last version), re-implemented here (no
code copied):

* 8 masked 7 x 7 convolutions of 64 channels, without bias, stride 1, padding 3: the first with mask 'A'
  (the centre pixel and everything after it in raster order cut), the other 7 with mask 'B' (the centre
  kept); each followed by BatchNorm2d and ReLU; the mask is applied by multiplying the weights in place
  at every forward pass;
* a 1 x 1 convolution (with bias) to the output; cross-entropy averaged over pixels and images;
* Adam with PyTorch's defaults (lr 1e-3), batches of 128 shuffled each epoch (the last, smaller one
  kept), no schedule, no clipping; evaluation in eval mode (batch norm's running statistics).

Departure, stated: the example models 256 grey levels with a 256-way softmax (``Conv2d(64, 256, 1)``,
``F.cross_entropy`` against ``x * 255``). The book's protocol is binarised MNIST, so its output here is one
Bernoulli logit per pixel (``Conv2d(64, 1, 1)``, binary cross-entropy from logits averaged over pixels and
images: the same loss for two classes) and its inputs are binary images, dynamically binarised
(Bernoulli of the grey level at every step) as the book's recipe trains. Everything else is the example's.
In training mode batch norm's statistics mix all the pixels of the batch, so a pixel's own value reaches
its logit through them (a leak of order 1 / (128 x 784)); in eval mode, where the likelihood is computed,
the model is exactly causal (tests/test_pixelcnn_vs_examples.py checks it).

The book's recipe is the PixelCNN chapter's main model at ``book``: `pixelcnn.main_model_recipe("book")`
(a `GatedPixelCNN` of 16 channels, 4 + 1 gated layers, 7 x 7 first layer; batch 32; lr 6e-3) trained as
`pixelcnn.train_pixelcnn` does: Adam, gradients clipped to norm 1, dynamic binarisation, the first 70 % of
the training at lr and the rest at lr / 5, with a fresh pass over the data at the switch. Its schedule
depends on the length of the training, so here the switch comes at 70 % of each budget's CPU time and
every budget is a run of its own (the example has no schedule: one run, a copy at each budget);
tests/test_pixelcnn_vs_examples.py checks that the steps give exactly `train_pixelcnn`'s weights when the
switch is at 70 % of a number of steps.

Protocol. One thread; CPU seconds of this process (`time.process_time`), copies not counted
(`_models.train_to_budgets`). Scoring after training, not counted: the exact test negative log-likelihood
(`pixelcnn.log_likelihood`, a normalised distribution of binary images) of the VAE chapter's 1,000
binarised test digits (``data.images("mnist", "test", n=1000, binarize="stochastic", seed=0)``), in nats.

    python benchmarks/pixelcnn_vs_examples.py       # budgets 30 60 120 CPU-s; writes results/pixelcnn_vs_examples.txt
    python benchmarks/pixelcnn_vs_examples.py --budgets 2 4 --n-test 100 --n-train 2000   # a smoke test (prints only)

The last printed line is one JSON object: each recipe's curve (CPU seconds -> nats, with wall seconds and
steps), and ``cpu_time_ratio``, the CPU time the book's recipe needs to reach the example's best value
divided by the CPU time at which the example reached it (`vae_vs_examples.compare`, in log time).
"""

import argparse
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
from vae_vs_examples import compare  # noqa: E402

from edu_gen import data, pixelcnn, runtime  # noqa: E402

# CPU seconds of training: 30, 60, 120, not the VAE's 240 as well: on 2026-12-01 the 2 shared cores (load 13)
# gave a session about a third of a core, too little for 240 CPU-s per recipe and the scoring
BUDGETS = (30.0, 60.0, 120.0)
N_TEST = 1000                    # the VAE chapter's binarised test digits
EXAMPLE_SOURCE = "jzbontar/pixelcnn-pytorch, main.py (github.com/jzbontar/pixelcnn-pytorch)"
# train_pixelcnn's two stages and its clipping (literals in its body; the test checks the weights it gives)
FIRST_STAGE, SECOND_STAGE_LR_FACTOR, CLIP_NORM = 0.7, 1 / 5, 1.0


# ---------------------------------------------------------------------------------------------
# jzbontar/pixelcnn-pytorch, from its published settings


class ExampleMaskedConv2d(nn.Conv2d):
    """A convolution whose weights are multiplied in place by a raster mask at every forward pass (the example's way).

    Mask 'A' cuts the centre of the kernel and what follows it in its row, and every row below; 'B' keeps the centre.
    """

    def __init__(self, mask_type: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if mask_type not in ("A", "B"):
            raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
        kh, kw = self.weight.shape[2:]
        mask = torch.ones_like(self.weight)
        mask[:, :, kh // 2, kw // 2 + (mask_type == "B"):] = 0
        mask[:, :, kh // 2 + 1:] = 0
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            self.weight.mul_(self.mask)
        return super().forward(x)


class ExamplePixelCNN(nn.Sequential):
    """x (B, 1, H, W) -> Bernoulli logits (B, 1, H, W): 8 masked 7 x 7 convolutions of 64 channels with batch norm
    and ReLU, then a 1 x 1 convolution (the example's 256 outputs replaced by one logit)."""

    def __init__(self, channels: int = 64, layers: int = 8, kernel_size: int = 7, outputs: int = 1):
        modules = []
        for i in range(layers):
            modules += [ExampleMaskedConv2d("A" if i == 0 else "B", 1 if i == 0 else channels, channels, kernel_size,
                                            1, kernel_size // 2, bias=False), nn.BatchNorm2d(channels), nn.ReLU(True)]
        super().__init__(*modules, nn.Conv2d(channels, outputs, 1))


def example_loss(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The example's cross-entropy for two classes: BCE from logits, averaged over pixels and images (binary x)."""
    return F.binary_cross_entropy_with_logits(model(x), x)


# ---------------------------------------------------------------------------------------------
# the two recipes as (model, one training step)


@dataclass
class Recipe:
    name: str
    model: nn.Module
    step: object          # step(steps done, CPU seconds) -> None
    optimizer: torch.optim.Optimizer
    description: str


def _cycle(loader):
    while True:
        yield from loader


def example_recipe(images: torch.Tensor, seed: int = 0) -> Recipe:
    """jzbontar/pixelcnn-pytorch's recipe (Bernoulli head) on `images` (N, 1, 28, 28) grey levels, binarised per batch."""
    torch.manual_seed(seed)
    model = ExamplePixelCNN()
    optimizer = torch.optim.Adam(model.parameters())
    batches = _cycle(data.loader(images, batch_size=128, shuffle=True, seed=seed))

    def step(steps, cpu):
        loss = example_loss(model, torch.bernoulli(next(batches)[0]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return Recipe("examples", model, step, optimizer,
                  "8 masked 7x7 convs of 64 channels (1 'A' + 7 'B'), BatchNorm, ReLU, 1x1 conv to 1 Bernoulli logit "
                  "(the example: 256-way softmax), BCE mean, Adam lr 1e-3, batch 128, dynamic binarisation")


def book_recipe(images: torch.Tensor, seed: int = 0, *, budget: float | None = None, steps: int | None = None) -> Recipe:
    """The PixelCNN chapter's model and `train_pixelcnn`'s training, the switch to lr / 5 at 70 % of `budget` CPU
    seconds or of `steps` steps (exactly one of the two)."""
    if (budget is None) == (steps is None):
        raise ValueError(f"give exactly one of budget (CPU seconds) and steps, got budget={budget}, steps={steps}")
    recipe = pixelcnn.main_model_recipe("book")
    config, batch_size, lr = recipe["config"], recipe["batch_size"], recipe["lr"]
    torch.manual_seed(seed)                                         # as load_or_train_pixelcnn, then train_pixelcnn
    model = pixelcnn.GatedPixelCNN(config)
    torch.manual_seed(seed)
    loader = data.loader(images, batch_size=batch_size, shuffle=True, seed=seed, drop_last=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    first = max(1, round(FIRST_STAGE * steps)) if steps is not None else None
    state = {"second": False, "batches": _cycle(loader)}

    def step(done, cpu):
        if not state["second"] and (done >= first if steps is not None else cpu >= FIRST_STAGE * budget):
            state["second"], state["batches"] = True, _cycle(loader)   # train.fit's second call: a fresh pass
            for group in optimizer.param_groups:
                group["lr"] = lr * SECOND_STAGE_LR_FACTOR
        loss = pixelcnn.binarized_nll(model, next(state["batches"]))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
        optimizer.step()

    c = config
    return Recipe("book", model, step, optimizer,
                  f"gated PixelCNN {c.channels} channels, {c.layers} + 1 gated layers, first kernel {c.first_kernel}, "
                  f"kernel {c.kernel_size}, Adam lr {lr:g} then {lr * SECOND_STAGE_LR_FACTOR:g} for the last 30 % of "
                  f"the budget, clip {CLIP_NORM}, batch {batch_size}, dynamic binarisation")


# ---------------------------------------------------------------------------------------------
# training, scoring, comparing


def evaluate(model: nn.Module, test_x: torch.Tensor) -> float:
    """The exact test NLL in nats per image, eval mode, batches of 100."""
    model.eval()
    with torch.no_grad():
        return -torch.cat([pixelcnn.log_likelihood(model, xb) for xb in test_x.split(100)]).mean().item()


def _setup(n_train, n_test):
    runtime.setup(seed=0, quiet=True)
    train_x, _ = data.images("mnist", "train", n=n_train)
    test_x, _ = data.images("mnist", "test", n=n_test, binarize="stochastic", seed=0)   # the VAE chapter's digits
    return train_x, test_x


def run(name: str, budgets: list, n_test: int, n_train: int | None) -> dict:
    """Train `name` to `budgets` (the example: one run; the book: one run per budget) and score every copy."""
    train_x, test_x = _setup(n_train, n_test)
    load = [round(os.getloadavg()[0], 2)]
    if name == "examples":
        recipe = example_recipe(train_x)
        kept = [(recipe, snapshot) for snapshot in train_to_budgets(recipe.step, recipe.model, budgets)]
    else:
        kept = []
        for budget in budgets:
            recipe = book_recipe(train_x, budget=budget)
            kept += [(recipe, snapshot) for snapshot in train_to_budgets(recipe.step, recipe.model, [budget])]
    load.append(round(os.getloadavg()[0], 2))
    curve = {"cpu": [], "nats": [], "wall": [], "steps": [], "eval_cpu": []}
    for recipe, snapshot in kept:
        recipe.model.load_state_dict(snapshot["state"])
        started = time.process_time()
        nats = round(evaluate(recipe.model, test_x), 3)
        curve["eval_cpu"].append(round(time.process_time() - started, 1))
        curve["cpu"].append(round(snapshot["cpu_seconds"], 1))
        curve["nats"].append(nats)
        curve["wall"].append(round(snapshot["wall_seconds"], 1))
        curve["steps"].append(snapshot["steps"])
        print(f"{name}: {snapshot['cpu_seconds']:.1f} CPU-s ({snapshot['wall_seconds']:.1f} s wall, {snapshot['steps']} "
              f"steps): {nats:.3f} nats", flush=True)
    return {"curve": curve, "description": recipe.description, "load": load, "n_train": len(train_x),
            "n_test": len(test_x), "parameters": sum(p.numel() for p in recipe.model.parameters())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=list(BUDGETS), help="CPU seconds of training")
    parser.add_argument("--n-test", type=int, default=N_TEST)
    parser.add_argument("--n-train", type=int, help="training digits (default: all)")
    parser.add_argument("--recipes", nargs="+", default=["examples", "book"], choices=["examples", "book"])
    parser.add_argument("--parallel", action="store_true", help="train the recipes at once, one process each")
    args = parser.parse_args()
    runtime.setup(seed=0)
    budgets = sorted(args.budgets)
    jobs = [(name, budgets, args.n_test, args.n_train) for name in args.recipes]
    if args.parallel:   # CPU time is counted per process, so the recipes do not share a clock
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(len(jobs), mp_context=multiprocessing.get_context("spawn")) as pool:
            runs = dict(zip(args.recipes, pool.map(run, *zip(*jobs))))
    else:
        runs = {name: run(*job) for name, job in zip(args.recipes, jobs)}
    curves = {name: r["curve"] for name, r in runs.items()}
    first = next(iter(runs.values()))
    result = {"budgets_cpu_seconds": budgets, "curves": curves, "n_test": first["n_test"], "n_train": first["n_train"],
              "data": data.source("mnist"), "threads": torch.get_num_threads(),
              "load_average_1min_before_after": {name: r["load"] for name, r in runs.items()},
              "recipes": {name: r["description"] for name, r in runs.items()},
              "parameters": {name: r["parameters"] for name, r in runs.items()}}
    if set(curves) == {"examples", "book"}:
        result.update(compare(curves))
    full = budgets == list(BUDGETS) and args.n_test == N_TEST and args.n_train is None and set(curves) == {"examples", "book"}
    lines = [
        "# The PixelCNN chapter's gated PixelCNN against jzbontar/pixelcnn-pytorch at equal CPU time: exact test NLL (nats)",
        f"# {time.strftime('%Y-%m-%d %H:%M')} | {platform.machine()} | {torch.get_num_threads()} thread(s) | "
        f"torch {torch.__version__} | data {result['data']} | {first['n_train']} training digits",
        f"# command: python benchmarks/pixelcnn_vs_examples.py {' '.join(sys.argv[1:])}".rstrip(),
        f"# evaluation: exact -log p(x) (pixelcnn.log_likelihood) of {first['n_test']} test digits binarised once (seed 0)",
        f"# example: {EXAMPLE_SOURCE}: {result['recipes'].get('examples', '-')}; one run, a copy at each budget",
        f"# book: pixelcnn.main_model_recipe('book') + train_pixelcnn's steps: {result['recipes'].get('book', '-')}; "
        "one run per budget (its schedule depends on the length)",
        f"# parameters: {result['parameters']}",
        "# | recipe | CPU-s | wall s | steps | -log p(x) (nats) | scoring CPU-s |",
    ]
    for name, c in curves.items():
        lines += [f"# | {name} | {cpu} | {wall} | {steps} | {v} | {e} |" for cpu, wall, steps, v, e
                  in zip(c["cpu"], c["wall"], c["steps"], c["nats"], c["eval_cpu"])]
    if "cpu_time_ratio" in result:
        lines.append(f"book ahead by {result['book_ahead_nats']} nats at the budgets {budgets} CPU-s; the book reaches "
                     f"the example's best {result['examples_best_nats']} nats in {result['book_time_kind']} "
                     f"{result['book_cpu_seconds_to_examples_best']} CPU-s, the example in "
                     f"{result['examples_cpu_seconds_to_best']}: ratio {result['cpu_time_ratio']}")
    lines.append(json.dumps(result))
    if full:
        record("pixelcnn_vs_examples", lines)
    else:
        print("\n".join(lines))


if __name__ == "__main__":
    main()
