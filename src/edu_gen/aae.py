r"""The adversarial autoencoder (Makhzani, Shlens, Jaitly, Goodfellow and Frey, 2016).

A VAE keeps its codes near the prior with KL(q_phi(z|x) || p(z)), which needs the densities of
both. The AAE replaces that term by a GAN played on codes: a discriminator d_lambda(z) learns to
tell codes z ~ p(z) from codes z = q_phi(x) of data, and the encoder, playing the generator, learns
to fool it. Any prior that can be *sampled* works. One iteration has three steps (section 2):

1. reconstruction: update the encoder and decoder on -log p_theta(x | z = q_phi(x));
2. discriminator: update lambda on -log d_lambda(z_p) - log(1 - d_lambda(q_phi(x))), z_p ~ p(z);
3. generator: update phi on -log d_lambda(q_phi(x)), the non-saturating generator loss of
   Goodfellow et al. (2014, section 3), not the discriminator's loss.

Order of the module: the priors (samplers with their component or segment labels, and their log
densities for the Monte Carlo KL of a VAE), the parts and `AAEConfig`, `AAE`, the losses on codes,
the three steps and `train_aae`, then the semi-supervised AAE of section 5 (a categorical code and a
style code, two discriminators, a classification phase). Codes are (B, d); images (B, 1, 28, 28)
with grey levels in [0, 1], reconstructed through Bernoulli logits, so the reconstruction term is a
cross-entropy on grey levels, not a log-likelihood. Discriminators return logits; the losses use
`binary_cross_entropy_with_logits`, which is log d = -softplus(-a) computed without overflow.

Introduced in the chapter "Adversarial autoencoders" (label ch-aae).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from edu_gen._checks import number
from edu_gen.cvae import check_labels, one_hot
from edu_gen.vae import check_unit_interval, log_normal, reparameterize

PRIORS = ("gaussian", "mixture", "swiss_roll")
NUM_COMPONENTS = 10                     # mixture components and swiss-roll segments (one per digit)
GAUSSIAN_STD = 5.0                      # p(z) = N(0, 5^2 I), the lecture and Makhzani et al. (2016), section 2.1
MIXTURE_RADIUS, MIXTURE_RADIAL_STD, MIXTURE_TANGENTIAL_STD = 4.0, 0.5, 0.1
ROLL_TURNS, ROLL_SCALE, ROLL_NOISE = 1.5, 0.5, 0.1   # swiss roll: angle pi..pi(1 + 2 turns), radius = scale * angle


# --------------------------------------------------------------------------------------------
# Priors: samplers (with labels) and log densities
# --------------------------------------------------------------------------------------------


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


def _count(n, name: str = "n") -> int:
    return number(n, name, "an int >= 1 (how many codes to draw)", integer=True, minimum=1)


def _labels_or_draw(n: int, labels, generator) -> torch.Tensor:
    if labels is None:
        return torch.randint(NUM_COMPONENTS, (n,), generator=generator)
    return check_labels(labels, NUM_COMPONENTS, n, "labels")


def gaussian_prior(n: int, latent_dim: int = 2, std: float = GAUSSIAN_STD, generator=None) -> torch.Tensor:
    """n codes z ~ N(0, std^2 I_d), (n, d) float32 (the lecture and Makhzani et al. 2016, section 2.1: std 5).

    Args:
        n: how many codes. latent_dim: d. std: the standard deviation, > 0. generator: a torch.Generator.

    Raises:
        TypeError, ValueError: n or latent_dim not an int >= 1, std not a positive number.
    """
    n, d = _count(n), number(latent_dim, "latent_dim", "an int >= 1", integer=True, minimum=1)
    std = number(std, "std", "a positive number", minimum=0.0, strict=True)
    return std * torch.randn(n, d, generator=generator)


def mixture_prior(n: int, labels=None, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""n codes from the mixture of 10 Gaussians on a circle, with their component labels.

    Component k (chosen uniformly, or given by `labels`) has mean :math:`m_k = R(\cos a_k, \sin a_k)`,
    :math:`a_k = 2\pi k/10`, R = `MIXTURE_RADIUS`, and is elongated along its radius: standard deviation
    `MIXTURE_RADIAL_STD` along :math:`(\cos a_k, \sin a_k)` and `MIXTURE_TANGENTIAL_STD` across it, as
    the petals drawn by Makhzani et al. (2016).

    Args:
        n: how many codes. labels: (n,) ints in 0..9, the component of each code (the label-aware
            prior of section 2.3), or None to draw them. generator: a torch.Generator.

    Returns:
        z (n, 2) float32 and labels (n,) int64.

    Raises:
        TypeError, ValueError: n not an int >= 1; labels not (n,) integers in 0..9.
    """
    n = _count(n)
    k = _labels_or_draw(n, labels, generator)
    angle = 2 * math.pi * k.float() / NUM_COMPONENTS
    radial, across = torch.stack([angle.cos(), angle.sin()], 1), torch.stack([-angle.sin(), angle.cos()], 1)
    eps = torch.randn(n, 2, generator=generator)
    z = (MIXTURE_RADIUS + MIXTURE_RADIAL_STD * eps[:, :1]) * radial + MIXTURE_TANGENTIAL_STD * eps[:, 1:] * across
    return z, k


def _roll_curve(u: torch.Tensor) -> torch.Tensor:
    """Position u in [0, 1] along the roll -> its point on the curve, (..., 2)."""
    angle = math.pi * (1 + 2 * ROLL_TURNS * u)
    return ROLL_SCALE * angle.unsqueeze(-1) * torch.stack([angle.cos(), angle.sin()], -1)


def swiss_roll_prior(n: int, labels=None, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""n codes from a 2-D swiss roll, with their segment labels.

    u ~ U(0, 1) is the position along a spiral of angle :math:`\alpha = \pi(1 + 3u)` and radius
    :math:`0.5\,\alpha`; the code is that point plus N(0, 0.1^2 I) noise (the noise gives the prior a
    density, which the VAE's Monte Carlo KL needs). Segment k holds u in [k/10, (k+1)/10): the label.

    Args:
        n: how many codes. labels: (n,) ints in 0..9 to draw u within those segments, or None.
        generator: a torch.Generator.

    Returns:
        z (n, 2) float32 and labels (n,) int64.

    Raises:
        TypeError, ValueError: n not an int >= 1; labels not (n,) integers in 0..9.
    """
    n = _count(n)
    k = _labels_or_draw(n, labels, generator)
    u = (k.float() + torch.rand(n, generator=generator)) / NUM_COMPONENTS
    return _roll_curve(u) + ROLL_NOISE * torch.randn(n, 2, generator=generator), k


def sample_prior(name: str, n: int, labels=None, latent_dim: int = 2, generator=None):
    """Codes from the prior called `name` (one of `PRIORS`): (z (n, d), labels (n,) or None for the Gaussian).

    Args:
        name: ``"gaussian"``, ``"mixture"`` or ``"swiss_roll"``. n: how many. labels: (n,) components
            (mixture and roll only) or None. latent_dim: d (2 for the mixture and the roll). generator: a torch.Generator.

    Raises:
        ValueError: an unknown name, labels for the Gaussian (it has no components), latent_dim != 2
            for a 2-D prior, or what the sampler refuses.
    """
    if name == "gaussian":
        if labels is not None:
            raise ValueError("the gaussian prior has no components: labels must be None")
        return gaussian_prior(n, latent_dim, generator=generator), None
    if name in ("mixture", "swiss_roll") and latent_dim != 2:
        raise ValueError(f"the {name} prior is 2-dimensional: latent_dim must be 2, got {latent_dim!r}")
    if name == "mixture":
        return mixture_prior(n, labels, generator)
    if name == "swiss_roll":
        return swiss_roll_prior(n, labels, generator)
    raise ValueError(f"unknown prior {name!r}; expected one of {PRIORS}")


def _check_codes(z, d: int | None = 2) -> None:
    if not isinstance(z, torch.Tensor) or not z.is_floating_point() or z.dim() != 2 or (d is not None and z.shape[1] != d):
        got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
        raise ValueError(f"z must be a floating-point tensor of codes (n, {d or 'd'}), got {got}")


def _component_log_densities(z: torch.Tensor) -> torch.Tensor:
    """log N(z; m_k, R_k Sigma R_k^T) for each mixture component, (n, 10)."""
    angle = 2 * math.pi * torch.arange(NUM_COMPONENTS, device=z.device, dtype=z.dtype) / NUM_COMPONENTS
    diff = z.unsqueeze(1) - MIXTURE_RADIUS * torch.stack([angle.cos(), angle.sin()], 1)   # (n, 10, 2)
    along = diff[..., 0] * angle.cos() + diff[..., 1] * angle.sin()                       # radial coordinate
    across = -diff[..., 0] * angle.sin() + diff[..., 1] * angle.cos()                     # tangential coordinate
    s_r, s_t = MIXTURE_RADIAL_STD, MIXTURE_TANGENTIAL_STD
    return -0.5 * ((along / s_r) ** 2 + (across / s_t) ** 2) - math.log(2 * math.pi * s_r * s_t)


def mixture_component(z: torch.Tensor) -> torch.Tensor:
    """The most probable mixture component of each code (occupancy, label accuracy).

    Args:
        z: (n, 2) codes.

    Returns:
        (n,) int64 components in 0..9.

    Raises:
        ValueError: z is not a floating-point (n, 2) tensor.
    """
    _check_codes(z, 2)
    return _component_log_densities(z).argmax(1)


def swiss_roll_segment(z: torch.Tensor, roll_points: int = 1000) -> torch.Tensor:
    """The segment of the roll point nearest to each code (the position most likely to have produced it).

    Args:
        z: (n, 2) codes. roll_points: positions along the roll searched.

    Returns:
        (n,) int64 segments in 0..9.

    Raises:
        ValueError: z is not a floating-point (n, 2) tensor.
    """
    _check_codes(z, 2)
    u = (torch.arange(roll_points, device=z.device, dtype=z.dtype) + 0.5) / roll_points
    nearest = torch.cat([torch.cdist(c, _roll_curve(u)).argmin(1) for c in z.split(2000)])   # closest curve point
    return (u[nearest] * NUM_COMPONENTS).long().clamp(max=NUM_COMPONENTS - 1)


def mmd(a: torch.Tensor, b: torch.Tensor, bandwidth: float) -> float:
    r"""Squared maximum mean discrepancy between two samples, unbiased, Gaussian kernel (Gretton et al. 2012, eq. 3).

    .. math::
        \mathrm{MMD}^2_u = \tfrac{1}{n(n-1)}\sum_{i \ne j} k(a_i, a_j) + \tfrac{1}{m(m-1)}\sum_{i \ne j} k(b_i, b_j)
        - \tfrac{2}{nm}\sum_{i, j} k(a_i, b_j), \qquad k(u, v) = \exp\big(-\lVert u - v\rVert^2 / (2 h^2)\big)

    Args:
        a: (n, d), b: (m, d) samples, n, m >= 2. bandwidth: h > 0, in the units of the codes.

    Returns:
        A float; 0 in expectation when both come from one distribution (it can be slightly negative).

    Raises:
        ValueError: shapes that are not (n, d) and (m, d) with n, m >= 2, or h not a positive number.
    """
    h = number(bandwidth, "bandwidth", "a positive number (the kernel's width)", minimum=0.0, strict=True)
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(f"a and b must be (n, d) and (m, d) with n, m >= 2, got {tuple(a.shape)} and {tuple(b.shape)}")
    a, b = a.double(), b.double()
    k = lambda u, v: torch.exp(-torch.cdist(u, v).pow(2) / (2 * h * h))  # noqa: E731
    n, m = len(a), len(b)
    k_aa, k_bb = k(a, a), k(b, b)
    return float((k_aa.sum() - k_aa.diagonal().sum()) / (n * (n - 1)) + (k_bb.sum() - k_bb.diagonal().sum()) / (m * (m - 1))
                 - 2 * k(a, b).mean())


def prior_log_density(name: str, z: torch.Tensor, roll_points: int = 1000) -> torch.Tensor:
    r"""log p(z) of each code, (n,), in nats per code, for the prior `name`.

    Gaussian: closed form. Mixture: :math:`\log \frac1{10}\sum_k \mathcal N(z; m_k, R_k \Sigma R_k^\top)` by
    logsumexp. Swiss roll: :math:`\log \int_0^1 \mathcal N(z; c(u), 0.1^2 I)\,du`, approximated by the
    midpoint rule on `roll_points` positions (spacing along the curve at most 0.06, 0.6 noise standard
    deviations; the rule's error on such smooth bumps is exponentially small, and the test integrates it to 1).

    Args:
        name: one of `PRIORS`. z: (n, 2) codes ((n, d) for the Gaussian). roll_points: the roll's quadrature points.

    Raises:
        ValueError: an unknown name, or z not (n, 2) floating point ((n, d) for the Gaussian).
    """
    if name not in PRIORS:
        raise ValueError(f"unknown prior {name!r}; expected one of {PRIORS}")
    _check_codes(z, None if name == "gaussian" else 2)
    if name == "gaussian":
        var = GAUSSIAN_STD ** 2
        return -0.5 * (z.pow(2).sum(1) / var + z.shape[1] * math.log(2 * math.pi * var))
    if name == "mixture":
        return torch.logsumexp(_component_log_densities(z), 1) - math.log(NUM_COMPONENTS)
    u = (torch.arange(roll_points, device=z.device, dtype=z.dtype) + 0.5) / roll_points
    sq = torch.cdist(z, _roll_curve(u)).pow(2)                                              # (n, points), one matmul
    log_n = -0.5 * sq / ROLL_NOISE ** 2 - math.log(2 * math.pi * ROLL_NOISE ** 2)
    return torch.logsumexp(log_n, 1) - math.log(roll_points)


# --------------------------------------------------------------------------------------------
# Parts and the model
# --------------------------------------------------------------------------------------------


def mlp(in_dim: int, hidden_dim: int, out_dim: int, batch_norm: bool = False) -> nn.Sequential:
    """Two hidden ReLU layers: (B, in_dim) -> (B, out_dim); with `batch_norm`, BatchNorm1d after each hidden layer.

    Args:
        in_dim, hidden_dim, out_dim: the widths. batch_norm: add BatchNorm1d (the code discriminator's ablation).

    Raises:
        RuntimeError, ValueError: from torch, for non-positive widths.
    """
    norm = (lambda: nn.BatchNorm1d(hidden_dim)) if batch_norm else nn.Identity
    return nn.Sequential(nn.Linear(in_dim, hidden_dim), norm(), nn.ReLU(),
                         nn.Linear(hidden_dim, hidden_dim), norm(), nn.ReLU(), nn.Linear(hidden_dim, out_dim))


@dataclass(frozen=True)
class AAEConfig:
    """Everything that fixes an AAE's architecture; saved in its checkpoints.

    Attributes:
        latent_dim: d (2 for the figures; the mixture and swiss roll are 2-D).
        hidden_dim: width of the encoder's and decoder's two hidden layers (the paper: 1000).
        disc_hidden_dim: width of the code discriminator's two hidden layers.
        prior: one of `PRIORS`.
        label_aware: the discriminator also sees e_y, the one-hot class of a data code or the
            component of a prior code (section 2.3): class k is sent to component k.
        supervised: the decoder also sees e_y, so z holds the style only (section 4).
        batch_norm: BatchNorm1d in the code discriminator (the chapter's ablation; off by default).
    """

    latent_dim: int = 2
    hidden_dim: int = 512
    disc_hidden_dim: int = 256
    prior: str = "gaussian"
    label_aware: bool = False
    supervised: bool = False
    batch_norm: bool = False

    def __post_init__(self):
        for name in ("latent_dim", "hidden_dim", "disc_hidden_dim"):
            object.__setattr__(self, name, number(getattr(self, name), name, "an int >= 1", integer=True, minimum=1))
        if self.prior not in PRIORS:
            raise ValueError(f"unknown prior {self.prior!r}; expected one of {PRIORS}")
        if self.prior != "gaussian" and self.latent_dim != 2:
            raise ValueError(f"the {self.prior} prior is 2-dimensional: latent_dim must be 2, got {self.latent_dim}")
        if self.label_aware and self.prior == "gaussian":
            raise ValueError("label_aware needs a prior with components ('mixture' or 'swiss_roll'), got 'gaussian'")


class AAE(nn.Module):
    r"""Deterministic encoder :math:`z = q_\phi(x)`, Bernoulli-logit decoder, and code discriminator :math:`d_\lambda`.

    The encoder (B, 1, 28, 28) -> (B, d), the decoder (B, d [+ C]) -> (B, 1, 28, 28) logits, the
    discriminator (B, d [+ C]) -> (B,) logits on *codes*, never on images.

    Args:
        config: an `AAEConfig`.
    """

    def __init__(self, config: AAEConfig = AAEConfig()):
        super().__init__()
        self.config, c = config, config
        self.encoder = nn.Sequential(nn.Flatten(), mlp(784, c.hidden_dim, c.latent_dim))          # (B, 784) -> (B, d)
        self.decoder = nn.Sequential(mlp(c.latent_dim + NUM_COMPONENTS * c.supervised, c.hidden_dim, 784),
                                     nn.Unflatten(1, (1, 28, 28)))                                 # -> (B, 1, 28, 28)
        self.discriminator = mlp(c.latent_dim + NUM_COMPONENTS * c.label_aware, c.disc_hidden_dim, 1, c.batch_norm)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 1, 28, 28) in [0, 1] -> codes (B, d).

        Args:
            x: the images.

        Raises:
            TypeError, ValueError: x not a floating-point (B, 1, 28, 28) tensor in [0, 1].
        """
        check_unit_interval(x, "AAE.encode")
        return self.encoder(x)

    def _with_label(self, z: torch.Tensor, y, needed: bool, who: str) -> torch.Tensor:
        if not needed:
            return z
        if y is None:
            raise ValueError(f"{who} needs the labels y (B,) of this model ({'label_aware' if who == 'discriminate' else 'supervised'})")
        return torch.cat([z, one_hot(check_labels(y, NUM_COMPONENTS, len(z)), NUM_COMPONENTS).to(z)], 1)

    def decode(self, z: torch.Tensor, y=None) -> torch.Tensor:
        """Codes (B, d) [and labels (B,) when supervised] -> Bernoulli logits (B, 1, 28, 28).

        Args:
            z: (B, d) codes. y: (B,) classes 0..9, needed by a supervised model, ignored otherwise.

        Raises:
            ValueError: z not (B, d); y missing for a supervised model, or not (B,) integers in 0..9.
        """
        _check_codes(z, self.config.latent_dim)
        return self.decoder(self._with_label(z, y, self.config.supervised, "decode"))

    def discriminate(self, z: torch.Tensor, y=None) -> torch.Tensor:
        r"""Codes (B, d) [and labels (B,) when label_aware] -> logits (B,) of :math:`d_\lambda(z)` = P(z came from p(z)).

        Args:
            z: (B, d) codes. y: (B,) components or classes 0..9, needed by a label-aware model, ignored otherwise.

        Raises:
            ValueError: z not (B, d); y missing for a label-aware model, or not (B,) integers in 0..9.
        """
        _check_codes(z, self.config.latent_dim)
        return self.discriminator(self._with_label(z, y, self.config.label_aware, "discriminate")).squeeze(1)

    @torch.no_grad()
    def sample(self, n: int, labels=None, generator=None) -> torch.Tensor:
        """Decoder means sigm(g(z)), z ~ p(z): (n, 1, 28, 28) on the model's device.

        Means, not Bernoulli samples: what the Parzen protocol's papers use as "samples".

        Args:
            n: how many. labels: (n,) classes 0..9: the prior's components (a mixture or roll prior)
                and, for a supervised model, the decoder's classes; None draws them uniformly.
            generator: a torch.Generator for z (and the drawn labels).

        Raises:
            ValueError: n not an int >= 1, labels not (n,) integers in 0..9.
        """
        c = self.config
        z, k = sample_prior(c.prior, n, None if c.prior == "gaussian" else labels, c.latent_dim, generator)
        if c.supervised:
            k = check_labels(labels, NUM_COMPONENTS, len(z), "labels") if labels is not None else (
                k if k is not None else torch.randint(NUM_COMPONENTS, (len(z),), generator=generator))
        device = next(self.parameters()).device
        return torch.sigmoid(self.decode(z.to(device), k.to(device) if c.supervised else None))


# --------------------------------------------------------------------------------------------
# Losses on codes and the three steps
# --------------------------------------------------------------------------------------------


def reconstruction_loss(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of grey levels x under Bernoulli logits, summed over pixels, mean over the batch (nats per image).

    A reconstruction error, not a log-likelihood: x holds grey levels, not binary pixels.

    Args:
        logits: (B, 1, 28, 28). x: (B, 1, 28, 28) in [0, 1].

    Raises:
        ValueError: shapes that differ (torch).
    """
    return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    r""":math:`-\frac1B\sum_i [\log d(z_i) + \log(1 - d(q_\phi(x_i)))]`: the negative of the lecture's V_i, mean over the batch.

    Args:
        real_logits: (B,) logits of prior codes. fake_logits: (B',) logits of the encoder's codes.

    Raises:
        Nothing of its own (torch refuses non-tensors).
    """
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    r""":math:`-\frac1B\sum_i \log d(q_\phi(x_i))`: the non-saturating generator loss (Goodfellow et al. 2014, section 3).

    Not the discriminator's loss (the lecture's slide says so for step 3): it maximises log d of the
    encoder's codes instead of minimising log(1 - d), which saturates when d rejects them.

    Args:
        fake_logits: (B,) logits of the encoder's codes.

    Raises:
        Nothing of its own (torch refuses non-tensors).
    """
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def optimizers(model: AAE, lr: float = 1e-3, adversarial_lr: float = 1e-3) -> dict[str, torch.optim.Optimizer]:
    """Adam for each step: ``ae`` (encoder + decoder), ``disc`` (discriminator), ``gen`` (encoder only).

    Args:
        model: an `AAE`. lr: the reconstruction's learning rate. adversarial_lr: the discriminator's and
            the generator's (betas (0.5, 0.999), the usual GAN setting).

    Raises:
        ValueError: a negative learning rate (torch).
    """
    adam = lambda params, rate: torch.optim.Adam(params, lr=rate, betas=(0.5, 0.999))  # noqa: E731  (GAN practice)
    return {"ae": adam([*model.encoder.parameters(), *model.decoder.parameters()], lr),
            "disc": adam(model.discriminator.parameters(), adversarial_lr),
            "gen": adam(model.encoder.parameters(), adversarial_lr)}


def _update(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> float:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)   # no gradient is left for another step's parameters
    return float(loss.detach())


def reconstruction_step(model: AAE, optimizer, x: torch.Tensor, y=None) -> float:
    """Step 1: update phi, theta on the reconstruction cross-entropy of x; returns it (nats per image).

    Args:
        model: an `AAE`. optimizer: its ``optimizers(model)["ae"]``. x: (B, 1, 28, 28) in [0, 1].
        y: (B,) classes, for a supervised model.

    Raises:
        TypeError, ValueError: as `AAE.encode` and `AAE.decode`.
    """
    return _update(optimizer, reconstruction_loss(model.decode(model.encode(x), y), x))


def discriminator_step(model: AAE, optimizer, x: torch.Tensor, z_prior: torch.Tensor, y=None, y_prior=None) -> float:
    """Step 2: update lambda on `discriminator_loss`, z_prior ~ p(z) against q_phi(x); the encoder is not touched.

    Args:
        model: an `AAE`. optimizer: ``optimizers(model)["disc"]``. x: (B, 1, 28, 28) in [0, 1].
        z_prior: (B', d) prior draws. y, y_prior: (B,) classes and (B',) components, for a label-aware model.

    Raises:
        TypeError, ValueError: as `AAE.encode` and `AAE.discriminate`.
    """
    with torch.no_grad():
        z_data = model.encode(x)                 # a constant here: no gradient reaches phi
    return _update(optimizer, discriminator_loss(model.discriminate(z_prior, y_prior), model.discriminate(z_data, y)))


def generator_step(model: AAE, optimizer, x: torch.Tensor, y=None) -> float:
    """Step 3: update phi (the optimizer holds the encoder only) on `generator_loss`; lambda is not stepped.

    Args:
        model: an `AAE`. optimizer: ``optimizers(model)["gen"]``. x: (B, 1, 28, 28) in [0, 1].
        y: (B,) classes, for a label-aware model.

    Raises:
        TypeError, ValueError: as `AAE.encode` and `AAE.discriminate`.
    """
    return _update(optimizer, generator_loss(model.discriminate(model.encode(x), y)))


def vae_prior_loss(model, x: torch.Tensor, prior: str) -> dict[str, torch.Tensor]:
    r"""A `vae.VAE`'s negative ELBO with the prior `prior`, its KL estimated by one Monte Carlo draw.

    .. math::
        \mathrm{KL}\big(q_\phi(z \mid x)\,\|\,p(z)\big) \approx \log q_\phi(z \mid x) - \log p(z), \qquad z \sim q_\phi(z \mid x)

    unbiased for the KL, needing only log p(z) (`prior_log_density`): no closed form exists for
    the mixture or the swiss roll. x (B, 1, 28, 28) grey levels, so recon is a cross-entropy.
    Returns the batch means ``loss``, ``recon``, ``kl`` (nats per image).

    Args:
        model: a `vae.VAE` with latent_dim 2 (any d for the Gaussian). x: (B, 1, 28, 28) in [0, 1]. prior: one of `PRIORS`.

    Raises:
        ValueError: an unknown prior, or codes of the wrong size for it.
    """
    mu, log_var = model.encode(x)
    z = reparameterize(mu, log_var)
    kl = (log_normal(z, mu, log_var) - prior_log_density(prior, z)).mean()
    recon = reconstruction_loss(model.decode(z), x)
    return {"loss": recon + kl, "recon": recon, "kl": kl}


def _batches(n: int, batch_size: int, generator):
    while True:
        order = torch.randperm(n, generator=generator)
        for start in range(0, n - batch_size + 1, batch_size):
            yield order[start:start + batch_size]


def train_aae(model: AAE, images: torch.Tensor, labels=None, *, steps: int, batch_size: int = 100, lr: float = 1e-3,
              adversarial_lr: float = 1e-3, seed: int = 0):
    """The three steps, `steps` times, on images (N, 1, 28, 28) in [0, 1] [with labels (N,)]; returns a `train.History`.

    Labels are needed when the model is label_aware (data codes carry their class, prior codes
    their component) or supervised (the decoder sees the class). Runs on the model's device.
    The History holds recon, disc, gen (and their sum, loss) per step, and ``seconds``.

    Args:
        model: an `AAE`. images: (N, 1, 28, 28). labels: (N,) classes 0..9 or None.
        steps: iterations, >= 1. batch_size: images (and prior draws) per step. lr, adversarial_lr:
            as `optimizers`. seed: the batches', the prior draws' and torch's seed.

    Raises:
        ValueError: images not (N, 1, 28, 28) in [0, 1] with N >= batch_size; labels missing when needed.
    """
    from edu_gen import train

    check_unit_interval(images, "train_aae")
    steps, batch_size = number(steps, "steps", "an int >= 1", integer=True, minimum=1), number(batch_size, "batch_size", "an int >= 1", integer=True, minimum=1)
    if len(images) < batch_size:
        raise ValueError(f"images hold {len(images)} examples, fewer than one batch of {batch_size}")
    c = model.config
    if (c.label_aware or c.supervised) and labels is None:
        raise ValueError("this model is label_aware or supervised: train_aae needs labels (N,)")
    if labels is not None:
        labels = check_labels(labels, NUM_COMPONENTS, len(images), "labels")
    device, generator = next(model.parameters()).device, torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    opt, history, start = optimizers(model, lr, adversarial_lr), train.History(), time.perf_counter()
    model.train()
    for step, index in zip(range(1, steps + 1), _batches(len(images), batch_size, generator)):
        x = images[index].to(device)
        y = labels[index].to(device) if labels is not None else None
        z_prior, y_prior = sample_prior(c.prior, batch_size, None, c.latent_dim, generator)
        y_prior = y_prior.to(device) if (c.label_aware and y_prior is not None) else None
        recon = reconstruction_step(model, opt["ae"], x, y if c.supervised else None)
        disc = discriminator_step(model, opt["disc"], x, z_prior.to(device), y if c.label_aware else None, y_prior)
        gen = generator_step(model, opt["gen"], x, y if c.label_aware else None)
        if not all(math.isfinite(v) for v in (recon, disc, gen)):
            raise train.NonFiniteLossError(f"step {step}: recon {recon}, disc {disc}, gen {gen}")
        history.log(step, loss=recon + disc + gen, recon=recon, disc=disc, gen=gen)
    history.seconds = time.perf_counter() - start
    return history


# --------------------------------------------------------------------------------------------
# Semi-supervised AAE (section 5)
# --------------------------------------------------------------------------------------------


class SemiSupervisedAAE(nn.Module):
    """Encoder with a categorical head q(y|x) (B, C) and a style head z (B, d); decoder on [softmax y, z];
    one discriminator on y against one-hot Cat(C) draws, one on z against N(0, I_d) (Makhzani et al. 2016, section 5).

    Args:
        latent_dim: d, the style code's size. hidden_dim: the encoder's and decoder's width.
        disc_hidden_dim: the two discriminators' width.
    """

    def __init__(self, latent_dim: int = 10, hidden_dim: int = 512, disc_hidden_dim: int = 256):
        super().__init__()
        self.config = AAEConfig(latent_dim=latent_dim, hidden_dim=hidden_dim, disc_hidden_dim=disc_hidden_dim)
        self.trunk = nn.Sequential(nn.Flatten(), mlp(784, hidden_dim, hidden_dim)[:-1])         # (B, hidden)
        self.class_head, self.style_head = nn.Linear(hidden_dim, NUM_COMPONENTS), nn.Linear(hidden_dim, latent_dim)
        self.decoder = nn.Sequential(mlp(NUM_COMPONENTS + latent_dim, hidden_dim, 784), nn.Unflatten(1, (1, 28, 28)))
        self.disc_class, self.disc_style = mlp(NUM_COMPONENTS, disc_hidden_dim, 1), mlp(latent_dim, disc_hidden_dim, 1)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (B, 1, 28, 28) in [0, 1] -> class logits (B, C) and style z (B, d).

        Args:
            x: the images.

        Raises:
            TypeError, ValueError: x not a floating-point (B, 1, 28, 28) tensor in [0, 1].
        """
        check_unit_interval(x, "SemiSupervisedAAE.encode")
        h = self.trunk(x)
        return self.class_head(h), self.style_head(h)

    @torch.no_grad()
    def classify(self, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """The arg max of q(y|x) for images x (B, 1, 28, 28), computed on the model's device: (B,) int64 on the CPU.

        Args:
            x: the images. batch_size: images per forward pass.

        Raises:
            TypeError, ValueError: as `encode`.
        """
        device = next(self.parameters()).device
        return torch.cat([self.encode(x[i:i + batch_size].to(device))[0].argmax(1).cpu() for i in range(0, len(x), batch_size)])


def train_semi_supervised(model: SemiSupervisedAAE, images, x_labelled, y_labelled, *, steps: int, batch_size: int = 100,
                          lr: float = 1e-3, adversarial_lr: float = 1e-3, seed: int = 0):
    """Per step: reconstruction, both discriminators, the encoder as generator of both codes, then the
    semi-supervised classification phase (cross-entropy of q(y|x) on a labelled batch). Returns a History.

    Args:
        model: a `SemiSupervisedAAE`. images: (N, 1, 28, 28) in [0, 1], all the training images.
        x_labelled: (L, 1, 28, 28), y_labelled: (L,) the labelled ones. steps, batch_size, lr,
        adversarial_lr, seed: as `train_aae`.

    Raises:
        TypeError, ValueError: images not in [0, 1], labels not (L,) integers in 0..9.
    """
    from edu_gen import train

    check_unit_interval(images, "train_semi_supervised")
    y_labelled = check_labels(y_labelled, NUM_COMPONENTS, len(x_labelled), "y_labelled")
    device, generator = next(model.parameters()).device, torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    adam = lambda params, rate: torch.optim.Adam(params, lr=rate, betas=(0.5, 0.999))  # noqa: E731
    encoder = [*model.trunk.parameters(), *model.class_head.parameters(), *model.style_head.parameters()]
    opt = {"ae": adam([*encoder, *model.decoder.parameters()], lr), "gen": adam(encoder, adversarial_lr),
           "disc": adam([*model.disc_class.parameters(), *model.disc_style.parameters()], adversarial_lr),
           "clf": adam([*model.trunk.parameters(), *model.class_head.parameters()], lr)}
    history, start, d = train.History(), time.perf_counter(), model.config.latent_dim
    model.train()
    for step, index in zip(range(1, steps + 1), _batches(len(images), batch_size, generator)):
        x = images[index].to(device)
        logits, z = model.encode(x)
        recon = _update(opt["ae"], reconstruction_loss(model.decoder(torch.cat([logits.softmax(1), z], 1)), x))
        with torch.no_grad():
            logits, z = model.encode(x)
        y_prior = F.one_hot(torch.randint(NUM_COMPONENTS, (batch_size,), generator=generator), NUM_COMPONENTS).float().to(device)
        z_prior = torch.randn(batch_size, d, generator=generator).to(device)
        disc = _update(opt["disc"], discriminator_loss(model.disc_class(y_prior).squeeze(1), model.disc_class(logits.softmax(1)).squeeze(1))
                       + discriminator_loss(model.disc_style(z_prior).squeeze(1), model.disc_style(z).squeeze(1)))
        logits, z = model.encode(x)
        gen = _update(opt["gen"], generator_loss(model.disc_class(logits.softmax(1)).squeeze(1))
                      + generator_loss(model.disc_style(z).squeeze(1)))
        pick = torch.randint(len(x_labelled), (batch_size,), generator=generator)
        clf = _update(opt["clf"], F.cross_entropy(model.encode(x_labelled[pick].to(device))[0], y_labelled[pick].to(device)))
        history.log(step, loss=recon + disc + gen + clf, recon=recon, disc=disc, gen=gen, clf=clf)
    history.seconds = time.perf_counter() - start
    return history
