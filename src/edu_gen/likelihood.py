"""Losses as negative log-likelihoods (chapter 1), and the Gaussian KL terms of the VAE (chapter 4).

Every function returns ONE value per example: a tensor of shape (B,) holding the exact negative
log-density (or divergence) in nats, constants included, summed over all non-batch dimensions.
Take ``.mean()`` for a mini-batch loss. Tests compare each with `torch.distributions`. An empty
batch (B = 0) gives an empty (0,) tensor (its ``.mean()`` is NaN: there is nothing to average),
and the result lies on the inputs' device.

Notation (the book's notation page): D is the number of dimensions summed over, sigma a standard
deviation (``log_var`` = log sigma^2), sigm the logistic sigmoid, lambda = sigm(logits) the mean
of a Bernoulli. A value is a negative log-likelihood in nats only when the distribution is
normalised for the data as given: `bernoulli_nll` on grey levels in (0, 1) is a cross-entropy,
not a likelihood (use `continuous_bernoulli_nll` there).

| distribution of x given the network output   | function                  | the usual name of the loss |
|----------------------------------------------|---------------------------|----------------------------|
| Gaussian N(x; mean, sigma^2), sigma^2 = exp(log_var) | `gaussian_nll`    | mean squared error         |
| Bernoulli(x; sigm(logits)), x in {0, 1}      | `bernoulli_nll`           | binary cross-entropy       |
| continuous Bernoulli, x in [0, 1]            | `continuous_bernoulli_nll`| BCE + a log-normaliser     |
| categorical(y; softmax(logits))              | `categorical_nll`         | cross-entropy              |

Introduced in Chapter 1 (Losses as maximum likelihood).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from edu_gen._checks import unit_interval

LOG_2PI = math.log(2 * math.pi)


def _check_floating(name: str, t: torch.Tensor) -> None:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")


def _check_same_shape(**tensors: torch.Tensor) -> None:
    shapes = {name: tuple(t.shape) for name, t in tensors.items()}
    if len(set(shapes.values())) != 1:
        listing = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(f"expected tensors of one shape (B, ...), got {listing}")


def _sum_per_example(t: torch.Tensor) -> torch.Tensor:
    """(B, ...) -> (B,): add up everything but the batch dimension; an empty batch (B = 0) gives (0,)."""
    if t.dim() == 0:
        raise ValueError("expected a batch of shape (B, ...), got a scalar")
    if t.dim() == 1:
        return t
    return t.flatten(1).sum(dim=1)


def gaussian_nll(x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor | float = 0.0) -> torch.Tensor:
    r"""Negative log-density of a diagonal Gaussian, one value per example.

    .. math::
        -\log \mathcal N(x; \mu, \sigma^2) = \sum_d \tfrac12\Big[\log 2\pi + \log\sigma_d^2
        + \frac{(x_d - \mu_d)^2}{\sigma_d^2}\Big]

    With ``log_var = 0`` (sigma = 1) this is half the summed squared error plus D/2 log 2 pi:
    mean squared error is maximum likelihood under a fixed-variance Gaussian.

    Args:
        x: data, (B, ...).
        mean: mu, same shape as x.
        log_var: log sigma^2 (sigma the standard deviation), a float or a tensor that
            broadcasts to x's shape (a network that predicts its own variance passes a tensor
            shaped like x).

    Returns:
        (B,) negative log-likelihoods in nats (a density: can be negative).

    Raises:
        TypeError: x or mean is not a floating-point tensor.
        ValueError: x and mean differ in shape, log_var does not broadcast to x, or x is a scalar.
    """
    _check_floating("x", x)
    _check_floating("mean", mean)
    _check_same_shape(x=x, mean=mean)
    log_var = torch.as_tensor(log_var, dtype=x.dtype, device=x.device)
    try:
        log_var = log_var.expand_as(x)
    except RuntimeError:
        raise ValueError(f"log_var of shape {tuple(log_var.shape)} does not broadcast to x's shape {tuple(x.shape)}") from None
    return _sum_per_example(0.5 * (LOG_2PI + log_var + (x - mean) ** 2 * torch.exp(-log_var)))


def bernoulli_nll(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    r"""Negative log-probability of binary data under independent Bernoullis, one value per example.

    .. math::
        -\log p(x) = -\sum_d \big[x_d \log \lambda_d + (1 - x_d) \log(1 - \lambda_d)\big],
        \quad \lambda = \operatorname{sigm}(\text{logits})

    This is binary cross-entropy. It is a negative log-likelihood only for x in {0, 1}; on grey
    levels in (0, 1) the same number is a cross-entropy (a reconstruction error), not the log of
    a normalised density: see `continuous_bernoulli_nll`. Computed from logits (log-sigmoid) so
    that it stays finite when lambda rounds to 0 or 1.

    Args:
        x: targets, (B, ...): binary {0, 1} for a likelihood; any value in [0, 1] is accepted.
        logits: log(lambda / (1 - lambda)), same shape as x.

    Returns:
        (B,) negative log-likelihoods in nats for binary x (cross-entropies in nats otherwise),
        on x's device; an empty batch (B = 0) gives an empty (0,) tensor.

    Raises:
        TypeError: x or logits is not a floating-point tensor.
        ValueError: x and logits differ in shape, x is a scalar, or x holds a value outside
            [0, 1] or a NaN (outside [0, 1] the formula goes negative: it is no probability).
    """
    _check_floating("x", x)
    _check_floating("logits", logits)
    _check_same_shape(x=x, logits=logits)
    unit_interval(x, "bernoulli_nll: x (the targets) must hold values")
    # x log sigmoid(l) + (1 - x) log sigmoid(-l), written in the stable form of BCE-with-logits
    return _sum_per_example(F.binary_cross_entropy_with_logits(logits, x, reduction="none"))


def continuous_bernoulli_log_norm(logits: torch.Tensor) -> torch.Tensor:
    r"""log C(lambda), the log-normaliser of the continuous Bernoulli, elementwise.

    .. math::
        C(\lambda) = \frac{2\,\operatorname{artanh}(1 - 2\lambda)}{1 - 2\lambda}
                   = \frac{\text{logits}}{\tanh(\text{logits}/2)} \quad (\lambda \ne \tfrac12), \qquad C(\tfrac12) = 2

    since 1 - 2 lambda = -tanh(logits / 2). Near lambda = 1/2 the ratio is 0/0, so a Taylor
    expansion is used for |logits| < 0.01:
    log C = log 2 + logits^2 / 12 - 7 logits^4 / 1440 + O(logits^6), whose next term
    (31 logits^6 / 90720) is below 4e-16 there.

    Args:
        logits: log(lambda / (1 - lambda)), any shape.

    Returns:
        log C(lambda), same shape as logits (at least log 2).

    Raises:
        TypeError: logits is not a floating-point tensor.
    """
    _check_floating("logits", logits)
    near_half = logits.abs() < 1e-2
    safe = torch.where(near_half, torch.ones_like(logits), logits)
    exact = torch.log(safe / torch.tanh(safe / 2))
    # the series of log(l / tanh(l / 2)) around l = 0, to fourth order
    taylor = math.log(2.0) + logits**2 / 12 - 7 * logits**4 / 1440
    return torch.where(near_half, taylor, exact)


def continuous_bernoulli_nll(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    r"""Negative log-density of grey levels x in [0, 1] under the continuous Bernoulli.

    .. math::
        -\log p(x) = \text{BCE}(x, \lambda) - \sum_d \log C(\lambda_d)

    The density lambda^x (1 - lambda)^(1 - x) does not integrate to 1 over [0, 1]; C(lambda)
    fixes that (Loaiza-Ganem and Cunningham, 2019). Binary cross-entropy on grey levels
    silently drops the log C term.

    Args:
        x: grey levels in [0, 1], (B, ...).
        logits: log(lambda / (1 - lambda)), same shape as x.

    Returns:
        (B,) negative log-likelihoods in nats (can be negative: it is a density), on x's device;
        an empty batch (B = 0) gives an empty (0,) tensor.

    Raises:
        TypeError, ValueError: as `bernoulli_nll` (x outside [0, 1] or NaN refused).
    """
    _check_floating("x", x)
    unit_interval(x, "continuous_bernoulli_nll: x (the grey levels) must hold values")
    return bernoulli_nll(x, logits) - _sum_per_example(continuous_bernoulli_log_norm(logits))


def categorical_nll(y: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    r"""Negative log-probability of class labels under a softmax, one value per example.

    .. math::
        -\log p(y) = -\log \operatorname{softmax}(\text{logits})_y
                   = -\text{logits}_y + \log \sum_k e^{\text{logits}_k}

    Args:
        y: integer labels, (B,) or (B, ...) for one label per position (a pixel, a token).
        logits: unnormalised log-probabilities, (B, K) or (B, K, ...).

    Returns:
        (B,) negative log-likelihoods in nats, summed over positions.

    Raises:
        TypeError: y is not int64, or logits is not floating-point.
        ValueError: the shapes do not pair up as (B, ...) and (B, K, ...), or a label lies
            outside [0, K - 1].
    """
    _check_floating("logits", logits)
    if y.dtype != torch.int64:
        raise TypeError(f"y must hold int64 class indices, got dtype {y.dtype}")
    if logits.dim() != y.dim() + 1 or logits.shape[0] != y.shape[0] or logits.shape[2:] != y.shape[1:]:
        raise ValueError(
            f"expected logits of shape (B, K, ...) for labels of shape (B, ...); "
            f"got logits {tuple(logits.shape)} and y {tuple(y.shape)}"
        )
    if y.numel() and y.device.type != "meta" and (y.min() < 0 or y.max() >= logits.shape[1]):
        raise ValueError(f"labels must lie in [0, {logits.shape[1] - 1}], got range [{int(y.min())}, {int(y.max())}]")
    return _sum_per_example(F.cross_entropy(logits, y, reduction="none"))


def kl_normal_std(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    r"""KL( N(mu, diag exp(log_var)) || N(0, I) ), one value per example.

    .. math::
        \mathrm{KL} = \tfrac12 \sum_j \big(\mu_j^2 + \sigma_j^2 - \log\sigma_j^2 - 1\big)

    The regulariser of the VAE (Kingma and Welling, 2014, appendix B), with sigma_j^2 =
    exp(log_var_j).

    Args:
        mu, log_var: (B, d) (or (B, ...)), the mean and log-variance of q.

    Returns:
        (B,) divergences in nats, summed over the latent dimensions.

    Raises:
        TypeError: an argument is not a floating-point tensor.
        ValueError: mu and log_var differ in shape.
    """
    _check_floating("mu", mu)
    _check_floating("log_var", log_var)
    _check_same_shape(mu=mu, log_var=log_var)
    return _sum_per_example(0.5 * (mu**2 + torch.exp(log_var) - log_var - 1))


def kl_normal_normal(
    mu1: torch.Tensor, log_var1: torch.Tensor, mu2: torch.Tensor, log_var2: torch.Tensor
) -> torch.Tensor:
    r"""KL( N(mu1, diag exp(log_var1)) || N(mu2, diag exp(log_var2)) ), one value per example.

    .. math::
        \mathrm{KL} = \tfrac12 \sum_j \Big(\log\frac{\sigma_{2j}^2}{\sigma_{1j}^2}
        + \frac{\sigma_{1j}^2 + (\mu_{1j} - \mu_{2j})^2}{\sigma_{2j}^2} - 1\Big)

    Args:
        mu1, log_var1, mu2, log_var2: (B, d) (or (B, ...)), all of one shape.

    Returns:
        (B,) divergences in nats.

    Raises:
        TypeError: an argument is not a floating-point tensor.
        ValueError: the four arguments differ in shape.
    """
    for name, t in (("mu1", mu1), ("log_var1", log_var1), ("mu2", mu2), ("log_var2", log_var2)):
        _check_floating(name, t)
    _check_same_shape(mu1=mu1, log_var1=log_var1, mu2=mu2, log_var2=log_var2)
    ratio = torch.exp(log_var1 - log_var2)
    return _sum_per_example(0.5 * (log_var2 - log_var1 + ratio + (mu1 - mu2) ** 2 * torch.exp(-log_var2) - 1))


def log_mean_exp(t: torch.Tensor, dim: int) -> torch.Tensor:
    r"""log( mean_i exp(t_i) ) along `dim`, computed stably: logsumexp(t) - log n.

    The estimator of importance-weighted log-likelihoods: log p(x) ~ log (1/K) sum_k w_k
    (Burda et al., 2016), with t the K log-weights log w_k.

    Args:
        t: log-values, any shape with a non-empty dimension `dim`.
        dim: the dimension to average over (removed from the result).

    Raises:
        TypeError: t is not a floating-point tensor.
        ValueError: dimension `dim` is empty.
    """
    _check_floating("t", t)
    n = t.shape[dim]
    if n == 0:
        raise ValueError(f"cannot average over an empty dimension {dim} of shape {tuple(t.shape)}")
    return torch.logsumexp(t, dim=dim) - math.log(n)
