"""The VAE chapter's recipe against pytorch/examples' VAE, at equal CPU time, by test negative log-likelihood.

A reader who wants a VAE on MNIST would otherwise copy pytorch/examples' ``vae/main.py``
(https://github.com/pytorch/examples, folder ``vae``). Its published settings, re-implemented here
line by line (no code copied):

* encoder: ``Linear(784, 400)``, ReLU, then two heads ``Linear(400, 20)`` for mu and log-variance;
* decoder: ``Linear(20, 400)``, ReLU, ``Linear(400, 784)``, sigmoid;
* loss: binary cross-entropy summed over pixels and over the batch, with the grey levels of MNIST
  (``transforms.ToTensor()``, values in [0, 1]) as targets, plus the analytic KL
  ``-0.5 * sum(1 + log_var - mu^2 - exp(log_var))``;
* Adam, lr 1e-3, batch 128, shuffled each epoch (the last, smaller batch kept), no schedule.

Here the decoder returns logits and the cross-entropy is computed from them (`likelihood.bernoulli_nll`,
log-sigmoid), which is the example's sigmoid followed by BCE in exact arithmetic without its clamping
of log 0; the data are the same 60,000 grey-level training digits for both recipes (`data.images`),
batched by `data.loader` instead of torchvision's per-image transform.

The book's recipe is the VAE chapter's main model as `vae.train_vae` trains it (`vae.MAIN_MODEL_CONFIG`,
`vae.binarized_loss`, batch and learning rate of `vae.load_or_train_vae` / `vae.train_vae`, dynamic
binarisation); `book_recipe` reads those settings from `edu_gen.vae`, and tests/test_vae_vs_examples.py
checks that `train_until` with them produces exactly the weights of `vae.train_vae`.

Protocol. Each recipe is trained once, on one thread, for the largest CPU-time budget; at every budget in
``--budgets`` (CPU seconds of this process, `time.process_time`, so that other jobs on the machine
matter less than for wall time) a copy of the weights is kept. Evaluation comes after training and is not
counted: every copy is scored by the importance-weighted bound ELBO_K of Burda et al. (2016)
(`vae.iwae_log_likelihood`, K = 1000) on the 1,000 binarised test digits of the VAE chapter (the same
`data.images` call, seed 0), with the same noise for every model; -ELBO_K is an estimate from above of the
test negative log-likelihood in nats. Each budget row also records the wall seconds and the steps.

    python benchmarks/vae_vs_examples.py                  # budgets 30 60 120 240 CPU-s; writes results/vae_vs_examples.txt + .png
    python benchmarks/vae_vs_examples.py --budgets 2 4 --k 10 --n-test 100 --n-train 2000   # a smoke test (prints only)

The last printed line is one JSON object: for each recipe its curve (CPU seconds -> nats) and the
wall seconds and steps at each budget, and ``cpu_time_ratio``: the CPU time the book's recipe needs to
reach the example's best value divided by the CPU time at which the example reached it (`time_to_reach`).
"""

import argparse
import inspect
import json
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _models import record, train_to_budgets  # noqa: E402

from edu_gen import data, likelihood, runtime, train, vae  # noqa: E402

BUDGETS = (30.0, 60.0, 120.0, 240.0)   # CPU seconds of training
K, N_TEST = 1000, 1000                 # the VAE chapter's evaluation at book scale (book/05_vae.ipynb)
EXAMPLE_SOURCE = "pytorch/examples, vae/main.py (github.com/pytorch/examples)"


# ---------------------------------------------------------------------------------------------
# pytorch/examples' VAE, from its published settings


class ExampleVAE(nn.Module):
    """784-400-20 encoder with two linear heads, 20-400-784 decoder, ReLU (pytorch/examples, vae/main.py).

    `encode` and `log_likelihood` have `vae.VAE`'s interface, so `vae.iwae_log_likelihood` scores it.
    """

    def __init__(self, latent_dim: int = 20, hidden_dim: int = 400):
        super().__init__()
        self.hidden = nn.Linear(784, hidden_dim)
        self.mu = nn.Linear(hidden_dim, latent_dim)
        self.log_var = nn.Linear(hidden_dim, latent_dim)
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, 784))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, 1, 28, 28) -> mu, log_var, (B, latent_dim) each."""
        h = torch.relu(self.hidden(x.flatten(1)))
        return self.mu(h), self.log_var(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, latent_dim) -> Bernoulli logits (B, 1, 28, 28); the example's sigmoid is applied inside the loss."""
        return self.decoder(z).view(-1, 1, 28, 28)

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x|z) in nats, (B,), for x in [0, 1] (a cross-entropy for grey levels)."""
        return -likelihood.bernoulli_nll(x, self.decode(z))


def example_loss(model: ExampleVAE, batch) -> torch.Tensor:
    """The example's loss: cross-entropy with the grey levels plus the analytic KL, summed over the batch."""
    x = batch[0]
    mu, log_var = model.encode(x)
    z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)
    recon = -model.log_likelihood(x, z).sum()
    kl = -0.5 * torch.sum(1 + log_var - mu.pow(2) - log_var.exp())
    return recon + kl


# ---------------------------------------------------------------------------------------------
# the two recipes as (model, loss, loader, optimiser)


@dataclass
class Recipe:
    name: str
    model: nn.Module
    loss: object            # loss(model, batch) -> a scalar tensor, or a dict with "loss"
    loader: object
    optimizer: torch.optim.Optimizer
    description: str
    schedule: object = None   # a learning-rate scheduler stepped after every optimiser step, or None
    averaged: object = None   # a torch.optim.swa_utils.AveragedModel updated after every step and scored, or None


def example_recipe(images: torch.Tensor, seed: int = 0) -> Recipe:
    torch.manual_seed(seed)
    model = ExampleVAE()
    loader = data.loader(images, batch_size=128, shuffle=True, seed=seed)
    return Recipe("examples", model, example_loss, loader, torch.optim.Adam(model.parameters(), lr=1e-3),
                  "MLP 784-400-20 / 20-400-784 ReLU, BCE on grey levels (summed), Adam lr 1e-3, batch 128")


def _default(function, name):
    return inspect.signature(function).parameters[name].default


CHANGES = {   # the variants book_recipe can try: name -> what it sets (the log of the results file records each one measured)
    "latent_dim": "d, the size of z (VAEConfig)",
    "hidden_dim": "the hidden layers' width (VAEConfig)",
    "hidden_layers": "1 (the example's depth: 784-h-2d / d-h-784) or 2 (the book's)",
    "activation": "the hidden nonlinearity: relu, tanh (VAEConfig), elu or softplus (swapped in here)",
    "init": "VAEConfig.init: default (PyTorch's) or kaiming (He et al., 2015: normal, std sqrt(2 / fan_in), zero "
            "biases; the output layers keep PyTorch's)",
    "decoder_bias": "VAEConfig.decoder_bias: default (PyTorch's) or data (vae.init_decoder_bias: the output layer's "
                    "bias at the logit of the training digits' mean grey level per pixel; the decoder starts at the "
                    "pixels' marginals)",
    "batch_size": "examples per step",
    "lr": "Adam's learning rate",
    "lr_half_life": "steps over which lr - lr_end halves, at every step (None: constant)",
    "lr_end": "the value the decaying learning rate tends to (default 0)",
    "lr_warmup": "steps of a linear learning-rate warm-up from lr / lr_warmup",
    "adam_beta1": "Adam's beta1 (default 0.9)",
    "adam_beta2": "Adam's beta2 (default 0.999)",
    "adam_eps": "Adam's eps (default 1e-8)",
    "kl_warmup": "steps over which the KL weight goes linearly from kl_start to 1 (Bowman et al., 2016); alone, "
                 "VAEConfig.kl_warmup (vae.KLWarmup, as vae.train_vae applies it)",
    "kl_start": "the KL weight at step 0 of kl_warmup (default 0; > 1 is the opposite of a warm-up)",
    "free_bits": "nats per latent dimension below which its batch-mean KL is not penalised (Kingma et al., 2016)",
    "binarize": "dynamic binarisation (True) or grey-level targets (False)",
    "ema": "VAEConfig.weight_average: decay of an exponential moving average of the weights, updated after every "
           "step and scored instead of the weights themselves (as train.fit's average; Polyak and Juditsky, 1992); "
           "None: off",
}


class BookLoss:
    """The book's loss, `vae.binarized_loss`, with the KL weight of a warm-up and free bits; counts its calls (steps).

    loss = mean_b recon_b + w(t) * sum_j max(free_bits, mean_b KL_bj), w(t) = kl_start + (1 - kl_start) *
    min(1, t / kl_warmup); with kl_warmup = 0 and free_bits = 0 it is the negative ELBO of `VAE.loss`.
    """

    def __init__(self, binarize: bool = True, kl_warmup: int = 0, kl_start: float = 0.0, free_bits: float = 0.0):
        self.binarize, self.kl_warmup, self.kl_start, self.free_bits = binarize, kl_warmup, kl_start, free_bits
        self.step = 0

    def kl_weight(self) -> float:
        if self.kl_warmup <= 0:
            return 1.0
        return self.kl_start + (1.0 - self.kl_start) * min(1.0, self.step / self.kl_warmup)

    def __call__(self, model, batch) -> dict:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        if self.binarize:
            x = torch.bernoulli(x)
        mu, log_var = model.encode(x)
        z = vae.reparameterize(mu, log_var)
        recon = -model.log_likelihood(x, z).mean()
        kl_per_dim = 0.5 * (mu.pow(2) + log_var.exp() - 1.0 - log_var).mean(0)     # (d,), nats
        kl = kl_per_dim.clamp(min=self.free_bits).sum() if self.free_bits > 0 else kl_per_dim.sum()
        weight = self.kl_weight()
        self.step += 1
        return {"loss": recon + weight * kl, "recon": recon, "kl": kl_per_dim.sum()}


def _one_hidden_layer(model: vae.VAE, activation) -> None:
    """Replace an MLP VAE's encoder and decoder by the example's depth: 784-h-2d and d-h-784 (one hidden layer)."""
    d, h = model.config.latent_dim, model.config.hidden_dim
    model.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, h), activation(), nn.Linear(h, 2 * d))
    model.decoder = nn.Sequential(nn.Linear(d, h), activation(), nn.Linear(h, 784), nn.Unflatten(1, (1, 28, 28)))


def _linears_of(part: nn.Sequential) -> list:
    return [m for m in part if isinstance(m, nn.Linear)]


def book_recipe(images: torch.Tensor, seed: int = 0, **changes) -> Recipe:
    """The VAE chapter's main model and training recipe, with every setting read from `edu_gen.vae`.

    `changes` tries a variant of it: any key of `CHANGES` (what each one sets). Without changes the loss, the KL
    warm-up and the weights' average are those of `vae.train_vae`, and so are the weights (a test checks it).

    Raises:
        ValueError: an unknown change, an unknown activation, init, decoder_bias or hidden_layers.
    """
    unknown = set(changes) - set(CHANGES)
    if unknown:
        raise ValueError(f"unknown change(s) of the book's recipe: {sorted(unknown)}; known: {sorted(CHANGES)}")
    extra_activations = {"elu": nn.ELU, "softplus": nn.Softplus}
    activation = changes.get("activation", vae.MAIN_MODEL_CONFIG.activation)
    if activation not in {**vae.ACTIVATIONS, **extra_activations}:
        raise ValueError(f"activation must be one of {sorted({**vae.ACTIVATIONS, **extra_activations})}, "
                         f"got {activation!r}")
    layers = changes.get("hidden_layers", 2)
    if layers not in (1, 2):
        raise ValueError(f"hidden_layers must be 1 or 2, got {layers!r}")
    config = vae.VAEConfig(**{**asdict(vae.MAIN_MODEL_CONFIG),    # VAEConfig refuses an unknown init or decoder_bias
                              **{k: changes[k] for k in ("latent_dim", "hidden_dim", "init", "decoder_bias", "kl_warmup")
                                 if k in changes},
                              **({"weight_average": changes["ema"]} if "ema" in changes else {}),
                              "activation": activation if activation in vae.ACTIVATIONS else "relu"})
    batch_size = changes.get("batch_size", _default(vae.load_or_train_vae, "batch_size"))  # what vae.main_model uses
    lr = changes.get("lr", _default(vae.train_vae, "lr"))
    half_life, lr_end, warmup = changes.get("lr_half_life"), changes.get("lr_end", 0.0), changes.get("lr_warmup", 0)
    binarize = changes.get("binarize", _default(vae.train_vae, "binarize"))
    torch.manual_seed(seed)                                        # as vae.load_or_train_vae, then vae.train_vae
    model = vae.VAE(config)
    act_class = extra_activations.get(activation) or vae.ACTIVATIONS[activation]
    if layers == 1:
        _one_hidden_layer(model, act_class)
    elif activation in extra_activations:                          # the same layers, another nonlinearity
        for part in (model.encoder, model.decoder):
            for i, module in enumerate(part):
                if isinstance(module, vae.ACTIVATIONS[config.activation]):
                    part[i] = act_class()
    if layers == 1 and config.init == "kaiming":                   # the new layers: He's init redrawn on them
        for part in (model.encoder, model.decoder):
            for m in _linears_of(part)[:-1]:
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
    if config.decoder_bias == "data":                              # as vae.train_vae does before its first step
        vae.init_decoder_bias(model, images)
    torch.manual_seed(seed)
    loader = data.loader(images, batch_size=batch_size, shuffle=True, seed=seed, drop_last=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=(changes.get("adam_beta1", 0.9),
                                 changes.get("adam_beta2", 0.999)), eps=changes.get("adam_eps", 1e-8))
    schedule = None
    if half_life is not None or warmup:
        floor = lr_end / lr

        def factor(step):
            decay = 1.0 if half_life is None else floor + (1.0 - floor) * 0.5 ** (step / half_life)
            return decay * (min(1.0, (step + 1) / warmup) if warmup else 1.0)

        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    loss_changes = {k: changes[k] for k in ("kl_start", "free_bits") if k in changes}
    if loss_changes:                                               # the warm-up of the config, and more
        loss = BookLoss(binarize, kl_warmup=config.kl_warmup, **loss_changes)
    else:
        loss = vae.binarized_loss if binarize else (lambda m, b: m.loss(b))
    if config.kl_warmup and not loss_changes:                      # as vae.train_vae does
        loss = vae.KLWarmup(loss, config.kl_warmup)
    averaged = None
    if config.weight_average is not None:                          # as train.fit does with vae.train_vae's average
        averaged = train.moving_average(model, config.weight_average)
    h, d = config.hidden_dim, config.latent_dim
    shape = f"784-{h}-{h}-{d} / {d}-{h}-{h}-784" if layers == 2 else f"784-{h}-{d} / {d}-{h}-784"
    others = {k: v for k, v in changes.items() if k not in ("latent_dim", "hidden_dim", "hidden_layers", "activation",
                                                             "batch_size", "lr", "binarize", "init", "decoder_bias",
                                                             "kl_warmup", "ema")}
    return Recipe("book", model, loss, loader, optimizer,
                  f"MLP {shape} {activation}, init {config.init}, decoder bias {config.decoder_bias}, "
                  f"{'dynamic binarisation' if binarize else 'grey-level targets'}, "
                  f"Adam lr {lr:g}, batch {batch_size}"
                  + (f", KL warm-up {config.kl_warmup} steps" if config.kl_warmup else "")
                  + (f", weights' moving average {config.weight_average:g}" if config.weight_average is not None else "")
                  + "".join(f", {k} {v}" for k, v in sorted(others.items())), schedule, averaged)


RECIPES = {"examples": example_recipe, "book": book_recipe}


# ---------------------------------------------------------------------------------------------
# training to CPU-time budgets, and the comparison of the curves


def train_until(recipe: Recipe, budgets=None, max_steps: int | None = None) -> list[dict]:
    """Train `recipe` until its CPU time passes each of `budgets` (seconds), or for `max_steps` steps.

    Returns one dict per budget (or one at the end, for `max_steps`): ``state`` (a copy of the
    weights), ``cpu_seconds`` and ``wall_seconds`` of training so far (copies not counted),
    ``steps`` (`_models.train_to_budgets`). The step is the one of `train.fit`: loss, zero_grad,
    backward, Adam step, then the schedule's step if the recipe has one, then the update of the weights'
    moving average if it has one (whose weights are then the ones copied: the model that is scored).
    """
    model, opt = recipe.model, recipe.optimizer

    def batches():
        while True:  # epoch after epoch, each reshuffled by the loader
            yield from recipe.loader

    stream = batches()

    def step(done, cpu):
        loss = recipe.loss(model, next(stream))
        loss = loss["loss"] if isinstance(loss, dict) else loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if recipe.schedule is not None:
            recipe.schedule.step()
        if recipe.averaged is not None:
            recipe.averaged.update_parameters(model)

    scored = model if recipe.averaged is None else recipe.averaged.module   # same layers, so same state-dict keys
    return train_to_budgets(step, scored, budgets, max_steps)


def evaluate(model: nn.Module, test_x: torch.Tensor, k: int, seed: int = 1) -> float:
    """-ELBO_K (nats), averaged over `test_x`, with the same noise (a generator seeded `seed`) for every model."""
    model.eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        log_px = torch.cat([vae.iwae_log_likelihood(model, xb, k, generator=g) for xb in test_x.split(100)])
    return -log_px.mean().item()


def time_to_reach(times, values, target):
    """The first CPU time at which the curve (times, values: nats, lower is better) reaches `target`.

    Between two budgets the curve is interpolated linearly in log(time); returns (seconds, kind) with kind
    ``"interpolated"``, ``"at most"`` (reached at the first budget already: the time is an upper bound) or
    ``"more than"`` (never reached: the largest budget is a lower bound).

    >>> time_to_reach([30, 60, 120], [100.0, 96.0, 94.0], 95.0)
    (84.85..., 'interpolated')
    """
    if len(times) != len(values) or not times:
        raise ValueError(f"times and values must be two lists of one length >= 1, got {len(times)} and {len(values)}")
    if values[0] <= target:
        return float(times[0]), "at most"
    for (t0, v0), (t1, v1) in zip(zip(times, values), zip(times[1:], values[1:])):
        if v1 <= target:
            frac = (v0 - target) / (v0 - v1)
            return float(math.exp(math.log(t0) + frac * (math.log(t1) - math.log(t0)))), "interpolated"
    return float(times[-1]), "more than"


def compare(curves: dict) -> dict:
    """cpu_time_ratio and the per-budget gaps from two curves {"examples"/"book": {"cpu": [...], "nats": [...]}}."""
    ex, book = curves["examples"], curves["book"]
    best = min(ex["nats"])
    t_ex = ex["cpu"][ex["nats"].index(best)]
    t_book, kind = time_to_reach(book["cpu"], book["nats"], best)
    gaps = [round(e - b, 3) for e, b in zip(ex["nats"], book["nats"])]
    return {"examples_best_nats": round(best, 3), "examples_cpu_seconds_to_best": round(t_ex, 1),
            "book_cpu_seconds_to_examples_best": round(t_book, 1), "book_time_kind": kind,
            "cpu_time_ratio": round(t_book / t_ex, 3),
            "book_ahead_nats": gaps, "book_ahead_min_nats": min(gaps)}


def run_recipe(name: str, changes: dict, budgets: list, k: int, n_test: int, n_train: int | None,
               seed: int = 0, max_steps: int | None = None) -> dict:
    """Train one recipe to its budgets, then score every kept copy; its curve, description, load averages, data sizes."""
    runtime.setup(seed=0, quiet=True)
    torch.set_num_threads(1)   # the protocol's one thread: two --parallel processes of 2 threads on 2 cores ran 10x slower
    train_x, _ = data.images("mnist", "train", n=n_train)
    test_x, _ = data.images("mnist", "test", n=n_test, binarize="stochastic", seed=0)   # the VAE chapter's digits
    recipe = RECIPES[name](train_x, seed=seed, **changes)   # the seed of the weights and of the shuffling
    load = [round(os.getloadavg()[0], 2)]
    kept = train_until(recipe, [] if max_steps else budgets, max_steps=max_steps)
    load.append(round(os.getloadavg()[0], 2))
    nats = []
    for snapshot in kept:
        recipe.model.load_state_dict(snapshot["state"])
        nats.append(round(evaluate(recipe.model, test_x, k), 3))
        print(f"{name}: {snapshot['cpu_seconds']:.1f} CPU-s ({snapshot['wall_seconds']:.1f} s wall, "
              f"{snapshot['steps']} steps): {nats[-1]:.3f} nats", flush=True)
    curve = {"cpu": [round(s["cpu_seconds"], 1) for s in kept], "nats": nats,
             "wall": [round(s["wall_seconds"], 1) for s in kept], "steps": [s["steps"] for s in kept]}
    return {"curve": curve, "description": recipe.description, "load": load, "n_train": len(train_x),
            "n_test": len(test_x), "threads": torch.get_num_threads()}


def parse_changes(items: list[str]) -> dict:
    """["lr=2e-3", "batch_size=64", "lr_half_life=none", "init=kaiming"] -> {"lr": 0.002, "batch_size": 64,
    "lr_half_life": None, "init": "kaiming"}: none, true, false, integers, reals, and otherwise the text."""
    changes = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--book expects KEY=VALUE items, got {item!r}")
        low = value.lower()
        if low in ("none", "true", "false"):
            changes[key] = None if low == "none" else low == "true"
        elif value.lstrip("-").isdigit():
            changes[key] = int(value)
        else:
            try:
                changes[key] = float(value)
            except ValueError:
                changes[key] = value          # a name: activation=elu, init=kaiming
    return changes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=list(BUDGETS), help="CPU seconds of training")
    parser.add_argument("--k", type=int, default=K)
    parser.add_argument("--n-test", type=int, default=N_TEST)
    parser.add_argument("--n-train", type=int, help="training digits (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the shuffling (test digits fixed)")
    parser.add_argument("--steps", type=int, help="train for this many steps instead of to the CPU-time budgets")
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--book", nargs="*", default=[], metavar="KEY=VALUE",
                        help="a variant of the book's recipe (see book_recipe), e.g. lr=2e-3 lr_half_life=5000")
    parser.add_argument("--parallel", action="store_true", help="train the recipes at once, one process each")
    parser.add_argument("--log-file", help="a text file whose lines (the log of the changes tried) go into the results file")
    args = parser.parse_args()
    runtime.setup(seed=0)
    budgets = [] if args.steps else sorted(args.budgets)
    jobs = [(name, parse_changes(args.book) if name == "book" else {}, budgets, args.k, args.n_test, args.n_train,
             args.seed, args.steps)
            for name in args.recipes]
    if args.parallel:   # one process per recipe: CPU time is counted per process, so they do not share a clock
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(len(jobs), mp_context=multiprocessing.get_context("spawn")) as pool:
            runs = list(pool.map(run_recipe, *zip(*jobs)))
    else:
        runs = [run_recipe(*job) for job in jobs]
    curves = {name: run["curve"] for name, run in zip(args.recipes, runs)}
    descriptions = {name: run["description"] for name, run in zip(args.recipes, runs)}
    load = {name: run["load"] for name, run in zip(args.recipes, runs)}
    n_train, n_test = runs[0]["n_train"], runs[0]["n_test"]

    result = {"budgets_cpu_seconds": budgets, "curves": curves, "k": args.k, "n_test": n_test,
              "n_train": n_train, "data": data.source("mnist"), "threads": max(run["threads"] for run in runs),
              "load_average_1min_before_after": load, "recipes": descriptions}
    if set(curves) == set(RECIPES):
        result.update(compare(curves))
    full = (not args.book and args.seed == 0 and not args.steps and budgets == list(BUDGETS) and args.k == K and args.n_test == N_TEST and args.n_train is None
            and set(curves) == set(RECIPES))
    command = "python benchmarks/vae_vs_examples.py " + " ".join(sys.argv[1:])
    lines = [
        "# The VAE chapter's recipe against pytorch/examples' VAE at equal CPU time: test -log p(x) by -ELBO_K (nats)",
        f"# {time.strftime('%Y-%m-%d %H:%M')} | {platform.machine()} | {result['threads']} thread(s) | "
        f"torch {torch.__version__} | data {result['data']}",
        f"# command: {command.strip()}",
        f"# evaluation: -ELBO_K, K = {args.k}, {n_test} test digits binarised once (seed 0), the same noise for all",
        f"# example: {EXAMPLE_SOURCE}: {descriptions.get('examples', '-')}",
        f"# book: {descriptions.get('book', '-')}",
        "# | recipe | CPU-s | wall s | steps | -log p(x) (nats) |",
    ]
    for name, c in curves.items():
        lines += [f"# | {name} | {cpu} | {wall} | {steps} | {v} |" for cpu, wall, steps, v
                  in zip(c["cpu"], c["wall"], c["steps"], c["nats"])]
    if args.log_file:
        lines += [f"# log: {line}" for line in Path(args.log_file).read_text().splitlines() if line.strip()]
    if "cpu_time_ratio" in result:
        lines.append(f"book ahead by {result['book_ahead_nats']} nats at the budgets {budgets} CPU-s; the book reaches "
                     f"the example's best {result['examples_best_nats']} nats in {result['book_time_kind']} "
                     f"{result['book_cpu_seconds_to_examples_best']} CPU-s, the example in "
                     f"{result['examples_cpu_seconds_to_best']}: ratio {result['cpu_time_ratio']}")
    lines.append(json.dumps(result))
    if full:
        plot(curves, HERE / "results" / "vae_vs_examples.png", args.k, n_test)
        record("vae_vs_examples", lines)
    else:
        print("\n".join(lines))


def plot(curves: dict, path: Path, k: int, n_test: int) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, c in curves.items():
        ax.plot(c["cpu"], c["nats"], marker="o", label=name)
    ax.set_xscale("log")
    ax.set_xlabel("training CPU seconds (one thread)")
    ax.set_ylabel(f"-ELBO_K, K = {k} (nats, {n_test} test digits)")
    ax.set_title("VAE on binarised MNIST: book vs pytorch/examples")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(exist_ok=True)
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
