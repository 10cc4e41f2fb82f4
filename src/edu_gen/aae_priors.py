r"""The adversarial autoencoder's priors: samplers with labels, log densities, and how codes are measured against them.

Three 2-D priors of Makhzani et al. (2016) and the lecture: N(0, 5^2 I) (any d), a mixture of 10
Gaussians on a circle (section 2.1, figure 2) and a swiss roll cut into 10 segments (section 2.3). Each
sampler returns the codes with their component (segment) labels, which the label-aware AAE needs. The log
densities are for the VAE's Monte Carlo KL (the AAE itself never evaluates log p(z)); `mixture_component`
and `swiss_roll_segment` read a code's component; `mmd` compares a sample of codes with prior draws.

Part of `edu_gen.aae` (which re-exports every name here). Introduced in the chapter "Adversarial
autoencoders" (label ch-aae).
"""

from __future__ import annotations

import math

import torch

from edu_gen._checks import number
from edu_gen.cvae import check_labels

PRIORS = ("gaussian", "mixture", "swiss_roll")
NUM_COMPONENTS = 10                     # mixture components and swiss-roll segments (one per digit)
GAUSSIAN_STD = 5.0                      # p(z) = N(0, 5^2 I), the lecture and Makhzani et al. (2016), section 2.1
MIXTURE_RADIUS, MIXTURE_RADIAL_STD, MIXTURE_TANGENTIAL_STD = 4.0, 0.5, 0.1
ROLL_TURNS, ROLL_SCALE, ROLL_NOISE = 1.5, 0.5, 0.1   # swiss roll: angle pi..pi(1 + 2 turns), radius = scale * angle


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
