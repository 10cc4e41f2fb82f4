"""The variational autoencoder, part 1: the reparameterised sample and the Monte Carlo ELBO.

Chapter 4 derives the evidence lower bound (ELBO) of a latent-variable model with a diagonal
Gaussian encoder q(z|x) = N(mu, diag exp(log_var)) and the prior p(z) = N(0, I):

    log p(x) >= ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z)).

This module holds the two pieces of that derivation a VAE needs: drawing z from q so that
gradients reach mu and log_var (`reparameterize`), and the ELBO estimated with L such draws
(`elbo`).

Chapter 5 builds the model on them, in this order: `VAEConfig`, the MLP and convolutional
encoders and decoders, `VAE` (forward, loss, sample), `iwae_log_likelihood`, the
importance-weighted estimate of log p(x) used to report test NLL as the papers do, the
training recipe `train_vae` (dynamic binarisation), and `DeterministicAE`, the same networks
without noise or KL, for comparison.

Introduced in Chapter 4 (The evidence lower bound); the model in Chapter 5 (The variational autoencoder).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from edu_gen.likelihood import bernoulli_nll, gaussian_nll, kl_normal_std, log_mean_exp


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


# --------------------------------------------------------------------------------------------
# Chapter 5: the model. Parts (encoders, decoders) -> model -> loss -> sampling -> evaluation.
# --------------------------------------------------------------------------------------------

ARCHITECTURES = ("mlp", "conv")


@dataclass(frozen=True)
class VAEConfig:
    """Everything that fixes a VAE's architecture and loss; saved in its checkpoints.

    Attributes:
        latent_dim: size of z. 2 gives a latent space one can draw; 20 reconstructs better.
        hidden_dim: width of the MLP's hidden layers (ignored by the conv architecture).
        architecture: ``"mlp"`` (two hidden layers) or ``"conv"`` (two strided convolutions).
        beta: weight of the KL term (1 is the VAE; > 1 the beta-VAE of Higgins et al., 2017).
    """

    latent_dim: int = 20
    hidden_dim: int = 400
    architecture: str = "mlp"
    beta: float = 1.0

    def __post_init__(self):
        if isinstance(self.latent_dim, bool) or not isinstance(self.latent_dim, int) or self.latent_dim < 1:
            raise ValueError(f"latent_dim must be an int >= 1 (the size of z), got {self.latent_dim!r}")
        if isinstance(self.hidden_dim, bool) or not isinstance(self.hidden_dim, int) or self.hidden_dim < 1:
            raise ValueError(f"hidden_dim must be an int >= 1, got {self.hidden_dim!r}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}")
        if not (isinstance(self.beta, (int, float)) and self.beta >= 0):
            raise ValueError(f"beta must be a number >= 0 (the KL weight), got {self.beta!r}")


def mlp_encoder(latent_dim: int, hidden_dim: int) -> nn.Module:
    """(B, 1, 28, 28) -> (B, 2 * latent_dim): the means and log-variances side by side."""
    return nn.Sequential(
        nn.Flatten(),                                   # (B, 784)
        nn.Linear(784, hidden_dim), nn.ReLU(),
        nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
        nn.Linear(hidden_dim, 2 * latent_dim),          # (B, 2 * latent_dim)
    )


def mlp_decoder(latent_dim: int, hidden_dim: int) -> nn.Module:
    """(B, latent_dim) -> (B, 1, 28, 28) Bernoulli logits."""
    return nn.Sequential(
        nn.Linear(latent_dim, hidden_dim), nn.ReLU(),
        nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
        nn.Linear(hidden_dim, 784),
        nn.Unflatten(1, (1, 28, 28)),                   # (B, 1, 28, 28)
    )


def conv_encoder(latent_dim: int) -> nn.Module:
    """(B, 1, 28, 28) -> (B, 2 * latent_dim) with two stride-2 convolutions."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 4, stride=2, padding=1), nn.ReLU(),    # 28x28 => 14x14
        nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.ReLU(),   # 14x14 => 7x7
        nn.Flatten(),                                           # (B, 64 * 7 * 7)
        nn.Linear(64 * 7 * 7, 2 * latent_dim),
    )


def conv_decoder(latent_dim: int) -> nn.Module:
    """(B, latent_dim) -> (B, 1, 28, 28) Bernoulli logits, mirroring `conv_encoder`."""
    return nn.Sequential(
        nn.Linear(latent_dim, 64 * 7 * 7), nn.ReLU(),
        nn.Unflatten(1, (64, 7, 7)),
        nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), nn.ReLU(),  # 7x7 => 14x14
        nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1),              # 14x14 => 28x28
    )


def check_unit_interval(x: torch.Tensor, who: str) -> None:
    """A Bernoulli decoder models pixels in [0, 1]; refuse anything else with a clear message."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"{who} expects a floating-point tensor (B, 1, 28, 28), got {type(x).__name__}")
    if x.dim() != 4 or tuple(x.shape[1:]) != (1, 28, 28):
        raise ValueError(f"{who} expects images of shape (B, 1, 28, 28), got {tuple(x.shape)}")
    lo, hi = x.min().item(), x.max().item()
    if lo < 0.0 or hi > 1.0:
        raise ValueError(
            f"{who}: a Bernoulli decoder needs pixel values in [0, 1], got values in [{lo:.3g}, {hi:.3g}]"
        )


class VAE(nn.Module):
    r"""The variational autoencoder of Kingma and Welling (2014) with a Bernoulli decoder.

    .. math::
        q_\phi(z \mid x) = \mathcal N(\mu_\phi(x), \operatorname{diag}\sigma^2_\phi(x)), \quad
        p(z) = \mathcal N(0, I), \quad p_\theta(x \mid z) = \prod_d \mathrm{Bernoulli}(x_d; \sigma(f_\theta(z)_d))

    The loss is the negative ELBO of Chapter 4, with the KL weighted by ``config.beta``:
    :math:`\mathrm{recon} + \beta\,\mathrm{KL}`, recon = :math:`-\log p_\theta(x \mid z)`, z reparameterised.

    Introduced in Chapter 5 (The variational autoencoder).
    """

    def __init__(self, config: VAEConfig = VAEConfig()):
        super().__init__()
        self.config = config
        d, h = config.latent_dim, config.hidden_dim
        if config.architecture == "mlp":
            self.encoder, self.decoder = mlp_encoder(d, h), mlp_decoder(d, h)
        else:
            self.encoder, self.decoder = conv_encoder(d), conv_decoder(d)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, 1, 28, 28) -> mu (B, latent_dim), log_var (B, latent_dim)."""
        mu, log_var = self.encoder(x).chunk(2, dim=1)
        return mu, log_var

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, latent_dim) -> Bernoulli logits (B, 1, 28, 28)."""
        if z.dim() != 2 or z.shape[1] != self.config.latent_dim:
            raise ValueError(f"decode expects z of shape (B, {self.config.latent_dim}), got {tuple(z.shape)}")
        return self.decoder(z)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        """x (B, 1, 28, 28) -> (logits (B, 1, 28, 28), mu, log_var), one reparameterised z per example."""
        mu, log_var = self.encode(x)
        z = reparameterize(mu, log_var, generator)
        return self.decode(z), mu, log_var

    def negative_elbo(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Per-example terms (B,): recon = -log p(x|z), kl, and loss = recon + beta * kl (nats)."""
        check_unit_interval(x, "VAE.loss")
        logits, mu, log_var = self(x, generator)
        recon = bernoulli_nll(x, logits)                # (B,)
        kl = kl_normal_std(mu, log_var)                 # (B,) closed form (Kingma and Welling, 2014, App. B)
        return {"recon": recon, "kl": kl, "loss": recon + self.config.beta * kl}

    def loss(self, batch, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Mean over the batch of `negative_elbo`'s terms; `batch` is x or a tuple (x, ...) from a loader."""
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return {name: value.mean() for name, value in self.negative_elbo(x, generator).items()}

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, mean: bool = True) -> torch.Tensor:
        """Decode n draws z ~ N(0, I): pixel probabilities (mean=True) or binary pixels, (n, 1, 28, 28)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        device = next(self.parameters()).device
        z = torch.randn(n, self.config.latent_dim, generator=generator).to(device)
        probs = torch.sigmoid(self.decode(z))
        if mean:
            return probs
        return torch.bernoulli(probs.cpu(), generator=generator).to(device)


def log_normal(z: torch.Tensor, mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag exp(log_var)) summed over the last dimension; any leading shape, e.g. (k, B, D) -> (k, B).

    mu and log_var broadcast to z's shape. The density itself is `likelihood.gaussian_nll`'s.
    """
    def rows(t: torch.Tensor) -> torch.Tensor:
        return t.expand_as(z).reshape(-1, z.shape[-1])  # (everything before the last dim, D)

    return -gaussian_nll(rows(z), rows(mu), rows(log_var)).reshape(z.shape[:-1])


@torch.no_grad()
def iwae_log_likelihood(
    model: VAE, x: torch.Tensor, k: int, generator: torch.Generator | None = None, chunk: int = 250
) -> torch.Tensor:
    r"""The importance-weighted estimate of log p(x) (Burda et al., 2016), one value per example.

    .. math::
        \log p(x) \ge \mathcal L_k(x) = \mathbb E\Big[\log \frac1k \sum_{i=1}^k
        \frac{p(x \mid z_i)\,p(z_i)}{q(z_i \mid x)}\Big], \qquad z_i \sim q(z \mid x)

    :math:`\mathcal L_1` is the ELBO, and :math:`\mathcal L_k \le \mathcal L_{k'}` for :math:`k < k'`;
    the bound tends to log p(x) as k grows. Computed with log-sum-exp, the k draws in chunks.

    Args:
        model: a VAE.
        x: binary (or [0, 1]) images (B, 1, 28, 28).
        k: number of importance samples, >= 1.
        generator: for reproducible draws.
        chunk: importance samples evaluated at once (memory: B * chunk * 784 floats).

    Returns:
        (B,) estimates of log p(x) in nats.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k (the number of importance samples) must be an int >= 1, got {k!r}")
    check_unit_interval(x, "iwae_log_likelihood")
    device = next(model.parameters()).device
    x = x.to(device)
    mu, log_var = model.encode(x)                                        # (B, D) each
    B, D = mu.shape
    log_w = []
    for start in range(0, k, chunk):
        m = min(chunk, k - start)
        eps = torch.randn(m, B, D, generator=generator).to(device)
        z = mu + torch.exp(0.5 * log_var) * eps                          # (m, B, D)
        logits = model.decode(z.reshape(m * B, D))                       # (m * B, 1, 28, 28)
        log_px_z = -bernoulli_nll(x.repeat(m, 1, 1, 1), logits).reshape(m, B)
        log_pz = log_normal(z, torch.zeros_like(z), torch.zeros_like(z))  # (m, B)
        log_qz = log_normal(z, mu, log_var)                               # (m, B)
        log_w.append(log_px_z + log_pz - log_qz)
    log_w = torch.cat(log_w, dim=0)                                       # (k, B)
    return log_mean_exp(log_w, dim=0)                                   # log (1/k) sum_j w_j


def binarized_loss(model: VAE, batch) -> dict[str, torch.Tensor]:
    """`model.loss` on a fresh stochastic binarisation of the grey-level batch (dynamic binarisation).

    Each step sees new binary pixels x_d ~ Bernoulli(grey level), as in Burda et al. (2016); this
    regularises and matches the binarised MNIST on which test NLLs are reported.
    """
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    return model.loss(torch.bernoulli(x))


def train_vae(model: VAE, images: torch.Tensor, *, steps: int, batch_size: int = 100, lr: float = 1e-3,
              seed: int = 0, binarize: bool = True, progress: bool | None = None):
    """Train with Adam for `steps` steps on `images` (N, 1, 28, 28) in [0, 1]; returns the History.

    The chapter's recipe, shared by the notebook and `benchmarks/vae_mnist.py`. With `binarize`,
    each batch is binarised afresh (`binarized_loss`); otherwise the grey levels are the targets.
    """
    from edu_gen import data, train  # a light import here keeps vae.py free of data at import

    torch.manual_seed(seed)
    loader = data.loader(images, batch_size=batch_size, shuffle=True, seed=seed, drop_last=True)
    epochs = math.ceil(steps / len(loader))
    loss_fn = binarized_loss if binarize else (lambda m, b: m.loss(b))
    return train.fit(model, loss_fn, loader, epochs=epochs, max_steps=steps, lr=lr, progress=progress)


class DeterministicAE(VAE):
    """The same encoder and decoder as `VAE` with z = mu and no KL: a plain autoencoder.

    Chapter 5 trains it beside the VAE so that the latent-space figures differ only by the
    noise and the KL term. ``negative_elbo`` returns recon, kl = 0 and loss = recon; it is not an ELBO.
    """

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        mu, log_var = self.encode(x)
        return self.decode(mu), mu, log_var

    def negative_elbo(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        check_unit_interval(x, "DeterministicAE.loss")
        logits, mu, _ = self(x)
        recon = bernoulli_nll(x, logits)
        return {"recon": recon, "kl": torch.zeros_like(recon), "loss": recon}
