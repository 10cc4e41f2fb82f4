"""The variational autoencoder, part 1: the reparameterised sample and the Monte Carlo ELBO.

Chapter 4 derives the evidence lower bound (ELBO) of a latent-variable model with a diagonal
Gaussian encoder q(z|x) = N(mu, diag exp(log_var)) and the prior p(z) = N(0, I):

    log p(x) >= ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z)).

This module holds the two pieces of that derivation a VAE needs: drawing z from q so that
gradients reach mu and log_var (`reparameterize`), and the ELBO estimated with L such draws
(`elbo`). The model itself (encoder, decoder, training) is built on these in Chapter 5.

Introduced in Chapter 4 (The evidence lower bound).
"""

from __future__ import annotations

from typing import Callable

import torch

from edu_gen.likelihood import kl_normal_std


def _check_gaussian_params(mu: torch.Tensor, log_var: torch.Tensor) -> None:
    for name, t in (("mu", mu), ("log_var", log_var)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
    if mu.shape != log_var.shape:
        raise ValueError(
            f"log_var must have mu's shape (B, latent_dim), one log-variance per mean; "
            f"got mu {tuple(mu.shape)} and log_var {tuple(log_var.shape)}"
        )
    if mu.dtype != log_var.dtype:
        raise TypeError(f"mu and log_var must share a dtype, got {mu.dtype} and {log_var.dtype}")
    if mu.dim() == 0:
        raise ValueError("expected mu of shape (B, latent_dim), got a scalar")


def reparameterize(
    mu: torch.Tensor, log_var: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""Draw z ~ N(mu, diag sigma^2) as a differentiable function of (mu, log_var).

    .. math::
        z = \mu + \sigma \odot \epsilon, \qquad \sigma = \exp(\tfrac12 \log\sigma^2),
        \qquad \epsilon \sim \mathcal N(0, I)

    The noise epsilon is the only random node, so gradients flow to mu and log_var
    (Kingma and Welling, 2014). Note the standard deviation sigma, not the variance: some
    lecture slides write mu + sigma^2 * eps, whose variance is sigma^4 (Chapter 4 checks it).

    Args:
        mu: means, (B, latent_dim) (any shape (B, ...) works).
        log_var: log-variances log sigma^2, same shape and dtype as mu.
        generator: optional torch.Generator for reproducible noise.

    Returns:
        z, shaped like mu.
    """
    _check_gaussian_params(mu, log_var)
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
    return mu + torch.exp(0.5 * log_var) * eps


def elbo(
    x: torch.Tensor,
    mu: torch.Tensor,
    log_var: torch.Tensor,
    log_likelihood: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    num_samples: int = 1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Monte Carlo estimate of the evidence lower bound, one value per example.

    .. math::
        \mathrm{ELBO}(x) \approx \frac1L \sum_{l=1}^L \log p(x \mid z^{(l)})
        - \mathrm{KL}\big(\mathcal N(\mu, \sigma^2) \,\|\, \mathcal N(0, I)\big),
        \qquad z^{(l)} = \mu + \sigma \odot \epsilon^{(l)}

    The reconstruction term is sampled (L = num_samples, usually 1); the KL term is exact
    (`likelihood.kl_normal_std`). The VAE loss is ``-elbo(...).mean()``.

    Args:
        x: data, (B, ...).
        mu, log_var: the encoder's output for x, (B, latent_dim) each.
        log_likelihood: ``log_likelihood(x, z) -> (B,)``, log p(x|z) in nats (for example
            ``lambda x, z: -likelihood.bernoulli_nll(x, decoder(z))``).
        num_samples: L >= 1, the number of draws of z per example.
        generator: optional torch.Generator for reproducible noise.

    Returns:
        (B,) ELBO estimates in nats (a lower bound on log p(x) on average).
    """
    _check_gaussian_params(mu, log_var)
    if not isinstance(x, torch.Tensor) or x.dim() == 0 or x.shape[0] != mu.shape[0]:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a tensor (B, ...) with mu's batch size B = {mu.shape[0]}, got {shape}")
    if not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive int, got {num_samples!r}")
    total = 0.0
    for _ in range(num_samples):
        log_px = log_likelihood(x, reparameterize(mu, log_var, generator))
        if log_px.shape != (x.shape[0],):
            raise ValueError(f"log_likelihood must return one value per example, shape ({x.shape[0]},), got {tuple(log_px.shape)}")
        total = total + log_px
    return total / num_samples - kl_normal_std(mu, log_var)
