r"""Generative adversarial networks (Goodfellow et al., 2014) and DCGAN (Radford et al., 2016): everything under one name.

A generator G maps noise z ~ p(z) = N(0, I_d) to a sample G(z); a discriminator D returns the
probability that its input is real. The two play the game

    min_G max_D V(D, G) = E_{x ~ p_data}[log D(x)] + E_{z ~ p(z)}[log(1 - D(G(z)))]     (their eq. 1).

For a fixed G the best discriminator is D*(x) = p_data(x) / (p_data(x) + p_g(x)) and, at D*,
V = -log 4 + 2 JSD(p_data || p_g) (their Proposition 1 and Theorem 1), checked in the tests.

Every discriminator here returns a *logit* l(x), with D(x) = sigm(l(x)), and every loss is computed
from logits with `F.binary_cross_entropy_with_logits` (log D = -softplus(-l), log(1 - D) = -softplus(l)):
a sigmoid followed by a log loses every digit once D is within float precision of 0 or 1.

The code is in two files, read in this order; this module re-exports their public names, so a
chapter writes ``gan.GAN``, ``gan.update_discriminator``, ``gan.main_model``:

* `edu_gen.gan_model`: `GANConfig`; the parts (MLP and DCGAN generators and discriminators,
  packing); `GAN`, which checks that the two fit and draws samples; the losses
  (`discriminator_loss`, the saturating and non-saturating `generator_loss`, `value`);
* `edu_gen.gan_train`: one step of each player (`update_discriminator`, `update_generator`);
  `train_gan`, Goodfellow et al.'s Algorithm 1 with k discriminator steps per generator step; and
  the GAN chapter's DCGAN, shared with later chapters (`held_out_split`, `main_model_recipe`,
  `load_or_train_gan`, `main_model`).

Shapes are written (B, C, H, W); symbols follow the book's notation page (d the size of z).

Introduced in the chapter "Generative adversarial networks" (label ch-gan).
"""

from __future__ import annotations

from edu_gen.gan_model import (  # noqa: F401  (re-exported)
    GAN, GENERATOR_LOSSES, KINDS, DCGANDiscriminator, DCGANGenerator, GANConfig, MLPDiscriminator, MLPGenerator,
    discriminator_loss, generator_loss, value,
)
from edu_gen.gan_train import (  # noqa: F401  (re-exported)
    MAIN_MODEL_NAME, _check_finite, held_out_split, load_or_train_gan, main_model, main_model_recipe, train_gan,
    update_discriminator, update_generator,
)
