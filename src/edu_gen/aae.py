r"""The adversarial autoencoder (Makhzani, Shlens, Jaitly, Goodfellow and Frey, 2016): everything under one name.

A VAE keeps its codes near the prior with KL(q_phi(z|x) || p(z)), which needs the densities of
both. The AAE replaces that term by a GAN played on codes: a discriminator d_lambda(z) learns to
tell codes z ~ p(z) from codes z = q_phi(x) of data, and the encoder, playing the generator, learns
to fool it. Any prior that can be *sampled* works.

The code is in three files, one idea each, read in this order; this module re-exports their public
names, so a chapter writes ``aae.mixture_prior``, ``aae.AAE``, ``aae.SemiSupervisedAAE``:

* `edu_gen.aae_priors`: the priors as samplers with labels, their log densities, the component or
  segment of a code, and the MMD between codes and prior draws;
* `edu_gen.aae_model`: the parts, `AAEConfig`, `AAE`, the losses on codes, the three steps of an
  iteration, `vae_prior_loss` (a VAE with any prior) and `train_aae`;
* `edu_gen.aae_semi`: the semi-supervised AAE (a categorical and a style code, two discriminators,
  a classification phase).

Defined here: `held_out_split`, the chapter's training pool without the images that choose the
Parzen bandwidth; and the chapter's main model, the d = 8 AAE that its Parzen section scores and
later chapters reuse (`main_model_recipe`, `main_model`).

Introduced in the chapter "Adversarial autoencoders" (label ch-aae).
"""

from __future__ import annotations

import torch

from edu_gen.aae_model import (  # noqa: F401  (re-exported)
    AAE, AAEConfig, discriminator_loss, discriminator_step, generator_loss, generator_step, mlp, optimizers,
    load_or_train_aae, reconstruction_loss, reconstruction_step, train_aae, vae_prior_loss,
)
from edu_gen.aae_priors import (  # noqa: F401  (re-exported)
    GAUSSIAN_STD, MIXTURE_RADIAL_STD, MIXTURE_RADIUS, MIXTURE_TANGENTIAL_STD, NUM_COMPONENTS, PRIORS, ROLL_NOISE,
    ROLL_SCALE, ROLL_TURNS, gaussian_prior, mixture_component, mixture_prior, mmd, prior_log_density, sample_prior,
    swiss_roll_prior, swiss_roll_segment,
)
from edu_gen.aae_semi import SemiSupervisedAAE, train_semi_supervised  # noqa: F401  (re-exported)


def held_out_split(images: torch.Tensor, labels: torch.Tensor, source: str, n_train: int | None = None, seed: int = 0):
    """The training pool without the held-out images that choose the Parzen bandwidth, and those images.

    MNIST: training images 50,000-50,999 are held out (Goodfellow et al. 2014's validation images);
    the offline digits fallback: its last 200 training images. The rest, or a seeded subset of
    `n_train` of it, is the training set.

    Args:
        images: (N, 1, 28, 28) the whole training split. labels: (N,). source: ``"mnist"`` or ``"digits"``
            (`data.source`). n_train: keep a random subset of this many (None: all). seed: the subset's seed.

    Returns:
        train_x, train_y, held_x (the held-out images), held_index (their indices in `images`).

    Raises:
        ValueError: images and labels of different lengths, or too few images to hold any out.
    """
    if len(images) != len(labels):
        raise ValueError(f"labels must have one entry per image: {len(labels)} labels for {len(images)} images")
    held = torch.arange(50_000, 51_000) if source == "mnist" else torch.arange(len(images) - 200, len(images))
    if held.min() < 0 or held.max() >= len(images):
        raise ValueError(f"cannot hold out images {int(held[0])}-{int(held[-1])} of a split of {len(images)}")
    keep = torch.ones(len(images), dtype=torch.bool)
    keep[held] = False
    pool = torch.nonzero(keep).squeeze(1)
    if n_train is not None and n_train < len(pool):
        pool = pool[torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed))[:n_train]]
    return images[pool], labels[pool], images[held], held


# --------------------------------------------------------------------------------------------
# The AAE chapter's main model, shared with later chapters
# --------------------------------------------------------------------------------------------

MAIN_MODEL_NAME = "ch07_aae_parzen"


def main_model_recipe(scale: str | None = None) -> dict:
    """The recipe of the AAE chapter's main model at a scale: a d = 8 AAE with the prior N(0, 5^2 I).

    Its widths are the chapter's for every model (encoder and decoder: ci 64, book 256, full 1,000
    units, the paper's 1,000 at full; code discriminator: ci 32, book 128, full 1,000), and its
    budget ci 150, book 3,000, full 30,000 iterations of batches of 100.

    Args:
        scale: ``"ci"``, ``"book"`` or ``"full"``; None for the current one (`runtime.scale`).

    Returns:
        ``{"config": AAEConfig, "steps": int}``: the keyword arguments of `load_or_train_aae`
        besides the name and the images.

    Raises:
        ValueError: an unknown scale (or an EDU_GEN_SCALE that names none).
    """
    from edu_gen import runtime

    recipes = {"ci": (64, 32, 150), "book": (256, 128, 3_000), "full": (1_000, 1_000, 30_000)}   # widths, steps
    hidden, disc_hidden, steps = runtime.at_scale(recipes, scale)
    config = AAEConfig(latent_dim=8, hidden_dim=hidden, disc_hidden_dim=disc_hidden, prior="gaussian")
    return {"config": config, "steps": steps}


def main_model(images: torch.Tensor):
    """The AAE chapter's main model (`main_model_recipe` at the current scale), trained on `images` or loaded.

    Its samples (`AAE.sample`, decoder means) are what the chapter scores with the Parzen window.

    Args:
        images: the chapter's training pool, the first output of `held_out_split`
            (``held_out_split(*data.images("mnist", "train"), data.source("mnist"), N_TRAIN)[0]``),
            (N, 1, 28, 28) in [0, 1].

    Returns:
        (the AAE on the CPU in eval mode, History).

    Raises:
        ValueError: images not (N, 1, 28, 28) in [0, 1] with N >= 100 (as `train_aae`), or a bad EDU_GEN_SCALE.
    """
    return load_or_train_aae(MAIN_MODEL_NAME, images=images, **main_model_recipe())
