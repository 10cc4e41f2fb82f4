r"""Training a GAN: one step of each player, Goodfellow et al.'s Algorithm 1, and the GAN chapter's DCGAN.

Part two of `edu_gen.gan` (the networks and losses are in `edu_gen.gan_model`). In order:
`update_discriminator` and `update_generator`, one step of each player (d2l's ``update_D`` and
``update_G``); `train_gan`, the loop of k discriminator steps per generator step; and the chapter's
trained model, shared with later chapters: `held_out_split` (the images it trains on), its recipe
per scale (`main_model_recipe`), `load_or_train_gan` (the recipe and the cache key, written once)
and `main_model`.

Introduced in the chapter "Generative adversarial networks" (label ch-gan).
"""

from __future__ import annotations

import time
from dataclasses import asdict

import torch

from edu_gen._checks import number
from edu_gen.gan_model import GAN, GENERATOR_LOSSES, GANConfig, _batch, discriminator_loss, generator_loss
from edu_gen.train import History, NonFiniteLossError

# --------------------------------------------------------------------------------------------
# One step of each player (Goodfellow et al., Algorithm 1)
# --------------------------------------------------------------------------------------------


def _check_finite(loss: torch.Tensor, network: str, step: int) -> None:
    if not torch.isfinite(loss):
        raise NonFiniteLossError(f"the {network}'s loss is {loss.item()} at step {step}; common causes: a learning "
                                 "rate that is too high, or a sigmoid and log written out instead of logits")


def update_discriminator(gan: GAN, real: torch.Tensor, optimizer: torch.optim.Optimizer,
                         generator: torch.Generator | None = None, step: int = 0) -> dict[str, float]:
    """One ascent step of D on V: real examples (B, *data_shape) against B fresh samples of G.

    G's samples are detached, so G's parameters receive no gradient and do not change. Real and
    fake go through D in two separate calls (batch norm sees one kind per batch).

    Args:
        gan: the model (trained in place).
        real: (B, *data_shape) real examples, on the model's device, B >= 1 (a multiple of pack).
        optimizer: an optimiser over D's parameters (only these should be in it).
        generator: a CPU torch.Generator for reproducible z. step: the step number, for messages.

    Returns:
        {"d_loss" (nats), "d_real": mean D(x), "d_fake": mean D(G(z))}, floats.

    Raises:
        TypeError, ValueError: real is not a floating-point (B, *data_shape) tensor.
        NonFiniteLossError: the loss is NaN or infinite (names the discriminator and the step).
    """
    real = _batch(real, "real", gan.config.data_shape, "real examples")
    z = torch.randn(len(real), gan.latent_dim, generator=generator).to(real.device)
    with torch.no_grad():
        fake = gan.generator(z)                                                 # (B, *data_shape), no graph to G
    real_logits, fake_logits = gan.discriminator(real), gan.discriminator(fake)
    loss = discriminator_loss(real_logits, fake_logits)
    _check_finite(loss, "discriminator", step)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return {"d_loss": loss.item(), "d_real": torch.sigmoid(real_logits).mean().item(),
            "d_fake": torch.sigmoid(fake_logits).mean().item()}


def update_generator(gan: GAN, batch_size: int, optimizer: torch.optim.Optimizer, loss: str = "non_saturating",
                     generator: torch.Generator | None = None, step: int = 0) -> dict[str, float]:
    """One descent step of G: B fresh samples judged by D, G's loss (`generator_loss`) backpropagated through D.

    Only `optimizer` (over G's parameters) steps; the gradients this leaves on D are cleared, so
    D's parameters do not change.

    Args:
        gan: the model (trained in place).
        batch_size: B, the number of fresh samples, an int >= 1 (a multiple of pack).
        optimizer: an optimiser over G's parameters.
        loss: "saturating" or "non_saturating" (`generator_loss`).
        generator: a CPU torch.Generator for reproducible z. step: the step number, for messages.

    Returns:
        {"g_loss" (nats), "g_grad_norm": the norm of the gradient over all of G's parameters}, floats.

    Raises:
        TypeError, ValueError: batch_size not an int >= 1, or an unknown loss.
        NonFiniteLossError: the loss is NaN or infinite (names the generator and the step).
    """
    batch_size = number(batch_size, "batch_size", "an int >= 1 (samples per generator step)", integer=True, minimum=1)
    if loss not in GENERATOR_LOSSES:
        raise ValueError(f"loss must be one of {GENERATOR_LOSSES}, got {loss!r}")
    device = next(gan.generator.parameters()).device
    z = torch.randn(batch_size, gan.latent_dim, generator=generator).to(device)
    g_loss = generator_loss(gan.discriminator(gan.generator(z)), loss)
    _check_finite(g_loss, "generator", step)
    optimizer.zero_grad(set_to_none=True)
    g_loss.backward()
    norm = torch.sqrt(sum((p.grad**2).sum() for p in gan.generator.parameters() if p.grad is not None))
    optimizer.step()
    gan.discriminator.zero_grad(set_to_none=True)
    return {"g_loss": g_loss.item(), "g_grad_norm": norm.item()}


def train_gan(gan: GAN, images: torch.Tensor, *, steps: int, batch_size: int = 64, k: int = 1,
              loss: str = "non_saturating", lr: float = 2e-4, betas: tuple = (0.5, 0.999), seed: int = 0,
              device: torch.device | str | None = None, progress: bool | None = None) -> History:
    """Goodfellow et al.'s Algorithm 1: `steps` generator steps, each after k discriminator steps.

    Its own loop, not `train.fit`: fit minimises one loss of one model with one optimiser, while a
    GAN alternates two optimisers on two losses (k steps of D, then one of G). Both use Adam with
    the DCGAN settings (lr 2e-4, beta1 = 0.5: Radford et al. found the default 0.9 unstable).
    Real mini-batches are drawn uniformly with replacement from `images` with a seeded generator.

    Args:
        gan: the model, trained in place and moved to `device` (default `runtime.device()`).
        images: (N, *data_shape) training examples, N >= batch_size.
        steps: generator steps, >= 1. batch_size: B, >= 1 (a multiple of the config's pack).
        k: discriminator steps per generator step, an int >= 1.
        loss: the generator's loss, "saturating" or "non_saturating".
        lr, betas: Adam's settings for both players. seed: seeds z and the mini-batches.
        progress: a progress bar (None: as `train.fit`).

    With ``config.snapshots = T``, G(z) of the model's fixed `snapshot_noise` is stored in
    ``gan.snapshots[t]`` after steps (t + 1) * steps // T, t = 0..T-1.

    Returns:
        A History with d_loss, d_real, d_fake (last of the k steps), g_loss, g_grad_norm per step;
        ``history.seconds`` the wall time.

    Raises:
        ValueError: k < 1, steps < 1, an unknown loss, or images that do not match the config.
        NonFiniteLossError: a loss became NaN or infinite (names the network and the step).
    """
    from tqdm.auto import tqdm

    from edu_gen import runtime
    from edu_gen.train import _show_progress

    k = number(k, "k", "an int >= 1 (discriminator steps per generator step)", integer=True, minimum=1)
    steps = number(steps, "steps", "an int >= 1 (generator steps)", integer=True, minimum=1)
    batch_size = number(batch_size, "batch_size", "an int >= 1", integer=True, minimum=1)
    if loss not in GENERATOR_LOSSES:
        raise ValueError(f"loss must be one of {GENERATOR_LOSSES}, got {loss!r}")
    if tuple(images.shape[1:]) != gan.config.data_shape or len(images) < batch_size:
        raise ValueError(f"images must be (N, {', '.join(map(str, gan.config.data_shape))}) with N >= batch_size "
                         f"= {batch_size}, got {tuple(images.shape)}")
    device = torch.device(device) if device is not None else runtime.device()
    gan.to(device).train()
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    opt_d = torch.optim.Adam(gan.discriminator.parameters(), lr=lr, betas=betas)
    opt_g = torch.optim.Adam(gan.generator.parameters(), lr=lr, betas=betas)
    history, started = History(), time.perf_counter()
    every = max(steps // max(gan.config.snapshots, 1), 1)                  # steps between snapshots
    for step in tqdm(range(steps), disable=not _show_progress(progress), leave=False, desc="GAN"):
        for _ in range(k):                                                      # k ascent steps of D
            real = images[torch.randint(len(images), (batch_size,), generator=g)].to(device)
            d = update_discriminator(gan, real, opt_d, generator=g, step=step)
        history.log(step, **d, **update_generator(gan, batch_size, opt_g, loss, generator=g, step=step))
        if gan.config.snapshots and (step + 1) % every == 0 and (step + 1) // every <= gan.config.snapshots:
            gan.generator.eval()                                                # a grid of the fixed noise, kept in the model
            with torch.no_grad():
                gan.snapshots[(step + 1) // every - 1] = gan.generator(gan.snapshot_noise)
            gan.generator.train()
    gan.eval()
    history.seconds = time.perf_counter() - started
    return history


# --------------------------------------------------------------------------------------------
# The GAN chapter's DCGAN, shared with later chapters
# --------------------------------------------------------------------------------------------

MAIN_MODEL_NAME = "ch09_dcgan"


def held_out_split(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The GAN chapter's split of its training digits: the images the DCGAN trains on, and those held out.

    The last min(1,000, N // 10) images are held out (they choose the Parzen bandwidth); the GAN
    trains on the first 50,000 of the rest (the protocol of Goodfellow et al., 2014).

    Args:
        images: the training digits, (N, 1, 28, 28), N >= 10 (the chapter's
            ``data.images("mnist", "train", n=N_TRAIN)``).

    Returns:
        (train_images, held_out_images): views of `images`, (min(N - H, 50,000), 1, 28, 28) and
        (H, 1, 28, 28), H = min(1,000, N // 10).

    Raises:
        TypeError: images is not a tensor.
        ValueError: images is not (N, 1, 28, 28) with N >= 10.
    """
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a tensor (N, 1, 28, 28), got {type(images).__name__}")
    if images.dim() != 4 or tuple(images.shape[1:]) != (1, 28, 28) or len(images) < 10:
        raise ValueError(f"images must be (N, 1, 28, 28) with N >= 10 (a tenth is held out), got {tuple(images.shape)}")
    held = min(1_000, len(images) // 10)
    return images[: len(images) - held][:50_000], images[len(images) - held:]


def main_model_recipe(scale: str | None = None) -> dict:
    """The DCGAN's recipe at a scale: the networks and the generator steps (batch 64, k = 1, non-saturating loss).

    ci: 40 steps (its samples are still noise: a smoke test), book: 1,500, full: 20,000. The
    networks are small at every scale (16 and 32 channels, z of size 64) and keep 4 grids of
    samples taken during training (`GANConfig.snapshots`).

    Args:
        scale: ``"ci"``, ``"book"`` or ``"full"``; None for the current one (`runtime.scale`).

    Returns:
        ``{"config": GANConfig, "steps": int, "batch_size": int}``: the keyword arguments of
        `load_or_train_gan` besides the name and the images.

    Raises:
        ValueError: an unknown scale (or an EDU_GEN_SCALE that names none).
    """
    from edu_gen import runtime

    steps = runtime.at_scale({"ci": 40, "book": 1_500, "full": 20_000}, scale)
    return {"config": GANConfig(kind="dcgan", latent_dim=64, channels=16, snapshots=4), "steps": steps,
            "batch_size": 64}


def load_or_train_gan(name: str, config: GANConfig, images: torch.Tensor, steps: int, *, batch_size: int = 64,
                      k: int = 1, loss: str = "non_saturating", seed: int = 0) -> tuple[GAN, History]:
    """Build ``GAN(config)`` from `seed`, then load it from the model cache or train it with `train_gan`.

    The one place where the recipe and the cache key of a chapter's GAN are written: a later
    chapter that calls `main_model` with the same images loads the GAN chapter's weights, and a
    change of recipe here changes the key everywhere at once.

    Args:
        name: the cache name. config: a `GANConfig`. images: (N, *config.data_shape) training
            examples. steps, batch_size, k, loss, seed: as `train_gan`.

    Returns:
        (the GAN on the CPU in eval mode, the History of its training; it trains on `runtime.device()`).

    Raises:
        TypeError: config is not a `GANConfig`, or seed is not an integer.
        ValueError: as `train_gan` (images that do not match the config, bad steps, k or loss), or seed < 0.
    """
    from edu_gen import train

    if not isinstance(config, GANConfig):
        raise TypeError(f"config must be a GANConfig, got {type(config).__name__}")
    seed = number(seed, "seed", "an int >= 0", integer=True, minimum=0)
    torch.manual_seed(seed)
    model = GAN(config)
    key = {**asdict(config), "n": len(images), "steps": steps, "batch_size": batch_size, "k": k, "loss": loss,
           "seed": seed}
    history = train.load_or_train(name, model, lambda m: train_gan(m, images, steps=steps, batch_size=batch_size,
                                                                   k=k, loss=loss, seed=seed), key)
    return model.cpu().eval(), history


def main_model(images: torch.Tensor, seed: int = 0) -> tuple[GAN, History]:
    """The GAN chapter's DCGAN (`main_model_recipe` at the current scale), trained on `images` or loaded.

    Args:
        images: the first part of `held_out_split` of the chapter's training digits, (N, 1, 28, 28)
            in [0, 1].
        seed: the initial weights', the noise's and the batches' seed; 0 is the chapter's model, another
            seed trains (and caches) a run of its own with the same recipe, for a spread over seeds.

    Returns:
        (the GAN on the CPU in eval mode, History).

    Raises:
        TypeError, ValueError: images that are not (N, 1, 28, 28) with N >= 64, a seed that is not an int, or a
            bad EDU_GEN_SCALE.
    """
    return load_or_train_gan(MAIN_MODEL_NAME, images=images, seed=seed, **main_model_recipe())
