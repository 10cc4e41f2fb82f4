r"""Measuring generative models: nats and bits, a digit classifier for samples, disentanglement.

| piece                          | what it measures                                              |
|--------------------------------|---------------------------------------------------------------|
| `nats_to_bits`, `bits_per_dim` | the same log-likelihood in other units (1 nat = 1/ln 2 bits)   |
| `DigitClassifier`, `digit_classifier`, `book_classifier` | a small MNIST classifier, trained once and cached |
| `classifier_confidence`        | how confidently decoded samples read as digits                |
| `classifier_score`             | confident and varied: the Inception score, digit classifier    |
| `mutual_information_gap`       | how well single latents capture single known factors (MIG)     |
| `parzen_log_likelihood`, `parzen_select_sigma` | a sampler's Parzen-window log-likelihood (Goodfellow et al.'s protocol) |

Introduced in the chapter "The variational autoencoder" (label ch-vae); the Parzen protocol in the
adversarial autoencoder chapter.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from edu_gen._checks import number
from edu_gen.likelihood import kl_normal_std, log_mean_exp
from edu_gen.parzen import parzen_log_density


def nats_to_bits(nats: float | torch.Tensor) -> float | torch.Tensor:
    r"""Convert a log-likelihood from nats (natural log) to bits (log base 2): :math:`b = n / \ln 2`.

    Args:
        nats: a number or a tensor of any shape (the result keeps its shape, dtype and device).

    Raises:
        TypeError: nats is not a number or a tensor (Python's own error for the division).
    """
    return nats / math.log(2.0)


def bits_per_dim(nll_nats: float | torch.Tensor, num_dims: int) -> float | torch.Tensor:
    """A negative log-likelihood in nats per example -> bits per dimension (e.g. num_dims = 784 for MNIST).

    Args:
        nll_nats: a number or a tensor of any shape (kept, with its device).
        num_dims: D, the number of dimensions of one x, an int >= 1 (any integer kind).

    Raises:
        TypeError: num_dims is not an integer (bool included).
        ValueError: num_dims < 1.
    """
    num_dims = number(num_dims, "num_dims", "a positive int (the number of dimensions of x)", integer=True, minimum=1)
    return nats_to_bits(nll_nats) / num_dims


# --------------------------------------------------------------------------------------------
# A small digit classifier to score samples
# --------------------------------------------------------------------------------------------


class DigitClassifier(nn.Module):
    """(B, 1, 28, 28) in [0, 1] -> (B, 10) logits: an MLP 784-256-10, enough for ~97% on MNIST.

    Args:
        hidden_dim: the hidden layer's width, an int >= 1.
    """

    def __init__(self, hidden_dim: int = 256):
        super().__init__()
        hidden_dim = number(hidden_dim, "hidden_dim", "an int >= 1", integer=True, minimum=1)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, 1, 28, 28) -> logits (B, 10), on the model's device.

        Args:
            x: images, (B, 1, 28, 28).

        Raises:
            RuntimeError: x does not flatten to 784 values per image (torch's shape error).
        """
        return self.net(x)


def digit_classifier(images: torch.Tensor, labels: torch.Tensor, steps: int = 2000, seed: int = 0) -> DigitClassifier:
    """Train (or load from the cache) a `DigitClassifier` on images (N, 1, 28, 28) and labels (N,).

    Cached with `train.load_or_train`, keyed by a SHA-256 of the images and labels, the steps and the seed: two
    training sets of the same size (and the same label sum) never load each other's classifier.

    Args:
        images: (N, 1, 28, 28) in [0, 1]. labels: (N,) int64 digits 0-9.
        steps: optimiser steps. seed: seed of the initialisation and the shuffling.

    Returns:
        The trained classifier on the CPU, in eval mode.

    Raises:
        TypeError: images or labels is not a tensor.
        ValueError: images not (N, 1, 28, 28) or labels not (N,).
    """
    from edu_gen import data, train
    from edu_gen.likelihood import categorical_nll

    if not (isinstance(images, torch.Tensor) and isinstance(labels, torch.Tensor)):
        raise TypeError(f"images and labels must be tensors (N, 1, 28, 28) and (N,), got {type(images).__name__} "
                        f"and {type(labels).__name__}")
    if images.dim() != 4 or images.shape[1:] != (1, 28, 28) or labels.shape != (len(images),):
        raise ValueError(f"expected images (N, 1, 28, 28) and labels (N,), got {tuple(images.shape)} and {tuple(labels.shape)}")
    torch.manual_seed(seed)
    model = DigitClassifier()
    config = {"n": len(images), "steps": steps, "seed": seed, "data": train.data_digest(images, labels)}

    def train_fn(m):
        loader = data.loader(images, labels, batch_size=128, seed=seed, drop_last=True)
        epochs = math.ceil(steps / len(loader))
        return train.fit(m, lambda m, b: categorical_nll(b[1], m(b[0])).mean(), loader, epochs=epochs,
                         max_steps=steps, device="cpu", progress=False)

    train.load_or_train("digit_classifier", model, train_fn, config)
    return model.eval()


BOOK_CLASSIFIER_STEPS = {"ci": 300, "book": 2000, "full": 5000}   # the book's frozen classifier: steps per scale


def book_classifier(images: torch.Tensor, labels: torch.Tensor) -> DigitClassifier:
    """The book's frozen digit classifier: `digit_classifier` with `BOOK_CLASSIFIER_STEPS` at the current scale.

    The one place the chapters' classifier is defined: every chapter that scores samples with it
    calls this, so they all load one cached model (for the same training digits) instead of each
    pasting its budget. Chapter 5 ("The variational autoencoder", label ch-vae) trains it first.

    Args:
        images: the training digits (N, 1, 28, 28) in [0, 1]; the chapters pass
            ``data.images("mnist", "train", n=N_TRAIN)``'s images.
        labels: their classes, (N,) int64 in 0..9.

    Returns:
        The trained `DigitClassifier`, on the CPU, in eval mode.

    Raises:
        TypeError, ValueError: images not (N, 1, 28, 28) or labels not (N,) (as `digit_classifier`), or an
            EDU_GEN_SCALE that names no scale.
    """
    from edu_gen import runtime

    return digit_classifier(images, labels, steps=runtime.pick(**BOOK_CLASSIFIER_STEPS))


def _log_probabilities(classifier: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """log p(c|x), (N, 10), computed on the classifier's device (the images' when it has no parameters)."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1:] != (1, 28, 28):
        raise ValueError(f"expected images of shape (N, 1, 28, 28), got {getattr(images, 'shape', type(images).__name__)}")
    parameter = next(iter(classifier.parameters()), None) if isinstance(classifier, nn.Module) else None
    device = parameter.device if parameter is not None else images.device
    return torch.log_softmax(classifier(images.float().to(device)), dim=1)


@torch.no_grad()
def classifier_confidence(classifier: nn.Module, images: torch.Tensor) -> dict[str, torch.Tensor]:
    r"""How confidently a classifier reads images as digits.

    Returns per-image (N,) tensors: ``max_prob`` :math:`\max_c p(c \mid x)`, ``entropy``
    :math:`-\sum_c p(c \mid x)\log p(c \mid x)` in nats (0 = certain, :math:`\ln 10 \approx 2.30` = uniform),
    and ``label`` the arg max.

    Args:
        classifier: a module mapping (N, 1, 28, 28) to (N, 10) logits, e.g. `digit_classifier`'s.
        images: (N, 1, 28, 28); moved to the classifier's device.

    Returns:
        The three (N,) tensors, on the classifier's device (the images' when it has no parameters).

    Raises:
        ValueError: images is not a tensor of shape (N, 1, 28, 28).
    """
    log_p = _log_probabilities(classifier, images)                           # (N, 10)
    p = log_p.exp()
    return {"max_prob": p.max(1).values, "entropy": -(p * log_p).sum(1), "label": p.argmax(1)}


@torch.no_grad()
def classifier_score(classifier: nn.Module, images: torch.Tensor) -> float:
    r"""The Inception score of Salimans et al. (2016) with a digit classifier in place of Inception.

    .. math::
        \mathrm{score} = \exp\Big(\frac1N\sum_{i=1}^N \mathrm{KL}\big(p(c \mid x_i)\,\|\,\bar p(c)\big)\Big),
        \qquad \bar p(c) = \frac1N \sum_i p(c \mid x_i)

    Between 1 and 10: high when each image is classified confidently (sharp p(c|x)) and the
    classes are varied (flat mean p(c)). A model that decodes every code to the same confident
    digit scores 1, as does one whose images no class fits. The score does not depend on the order
    of the images.

    Args:
        classifier: as in `classifier_confidence`. images: (N, 1, 28, 28), N >= 1.

    Returns:
        A Python float in [1, 10].

    Raises:
        ValueError: images is not a tensor of shape (N, 1, 28, 28) with N >= 1.
    """
    log_p = _log_probabilities(classifier, images)                           # (N, 10)
    if len(log_p) == 0:
        raise ValueError("images must hold at least one image (N >= 1), got an empty batch")
    log_mean = log_mean_exp(log_p, dim=0)                                   # (10,) log p-bar(c)
    return float(torch.exp((log_p.exp() * (log_p - log_mean)).sum(1).mean()))


# --------------------------------------------------------------------------------------------
# Disentanglement: the mutual information gap (Chen et al., 2018)
# --------------------------------------------------------------------------------------------


def kl_per_latent(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    r"""The KL term split by latent coordinate, averaged over examples: (N, d) -> (d,) nats.

    .. math::
        \mathrm{KL}_j = \frac1N \sum_{i=1}^N \tfrac12\big(\mu_{ij}^2 + \sigma_{ij}^2 - 1 - \log\sigma_{ij}^2\big)

    A coordinate whose KL is near 0 carries no information about x (its q equals the prior): it is
    inactive. The d values sum to the mean of `likelihood.kl_normal_std`.

    Args:
        mu, log_var: the encoder's outputs for N examples, (N, d) each, N >= 1, floating point.

    Returns:
        (d,) nats, on mu's device; it does not depend on the order of the examples.

    Raises:
        TypeError: mu or log_var is not a floating-point tensor.
        ValueError: mu and log_var are not of one shape (N, d), or N = 0.
    """
    if mu.dim() != 2 or mu.shape != log_var.shape:
        raise ValueError(f"expected mu and log_var of the same shape (N, d), got {tuple(mu.shape)} and {tuple(log_var.shape)}")
    if len(mu) == 0:
        raise ValueError("expected at least one example (N >= 1) to average over, got mu of shape (0, d)")
    # Treat each coordinate j as its own one-dimensional Gaussian: kl_normal_std then sums over the N examples.
    return kl_normal_std(mu.T.unsqueeze(-1), log_var.T.unsqueeze(-1)) / len(mu)


def _discrete_mutual_information(a: torch.Tensor, b: torch.Tensor) -> float:
    """I(a; b) in nats from the joint histogram of two int64 vectors (N,)."""
    na, nb = int(a.max()) + 1, int(b.max()) + 1
    joint = torch.bincount(a * nb + b, minlength=na * nb).reshape(na, nb).double()
    joint = joint / joint.sum()
    pa, pb = joint.sum(1, keepdim=True), joint.sum(0, keepdim=True)
    nz = joint > 0
    return float((joint[nz] * (joint[nz] / (pa * pb).expand_as(joint)[nz]).log()).sum())


def _equal_count_bins(latents: torch.Tensor, bins: int) -> torch.Tensor:
    """(N, d) values -> (N, d) int64 bins in [0, bins - 1], about N / bins values per bin, per column.

    A value's bin is floor(bins * r / N), r the number of values of its column strictly below it
    (its rank, ties given their lowest rank): tied values share a bin whatever the row order, and
    the bins depend on the set of values only, not on the order of the rows.
    """
    n = latents.shape[0]
    ordered = latents.sort(0).values                                        # (N, d) each column sorted
    below = torch.stack([torch.searchsorted(ordered[:, j].contiguous(), latents[:, j].contiguous(), right=False)
                         for j in range(latents.shape[1])], 1)              # (N, d) values strictly below
    return below * bins // n


def mutual_information_gap(latents: torch.Tensor, factors: torch.Tensor, bins: int = 20) -> float:
    r"""The mutual information gap of Chen et al. (2018), in [0, 1].

    .. math::
        \mathrm{MIG} = \frac1M \sum_{m=1}^M \frac{I(z_{j^{(m)}}; v_m) - \max_{j \ne j^{(m)}} I(z_j; v_m)}{H(v_m)},
        \qquad j^{(m)} = \arg\max_j I(z_j; v_m)

    Each latent is discretised into `bins` equal-count bins by rank; tied values share a bin (a
    constant latent falls in one bin and carries no information), so the score does not depend on
    the order of the rows. Factors are discrete. A factor captured by one latent alone scores near
    1; a factor spread over two latents near 0. Factors with one value (zero entropy) are skipped.

    Args:
        latents: (N, d) finite codes, e.g. the encoder's means, N >= 2, d >= 2.
        factors: (N, M) int64 ground-truth values of M factors.
        bins: number of bins per latent, an int >= 2.

    Returns:
        A Python float in [0, 1] (up to rounding).

    Raises:
        TypeError: bins is not an integer (bool included).
        ValueError: shapes or dtypes as above, NaN or infinite latents, bins < 2, or every factor
            constant.
    """
    if latents.dim() != 2 or latents.shape[1] < 2:
        raise ValueError(f"latents must be (N, d) with d >= 2 latent coordinates, got {tuple(latents.shape)}")
    if factors.dim() != 2 or factors.shape[0] != latents.shape[0] or factors.dtype != torch.int64:
        raise ValueError(f"factors must be int64 (N, M), one column per factor, with N = {latents.shape[0]}, got {tuple(factors.shape)} {factors.dtype}")
    bins = number(bins, "bins", "an int >= 2 (bins per latent)", integer=True, minimum=2)
    if latents.shape[0] < 2:
        raise ValueError(f"latents must hold at least 2 examples (N >= 2), got {tuple(latents.shape)}")
    if not latents.is_floating_point() or not bool(torch.isfinite(latents).all()):
        raise ValueError(f"latents must be finite floating-point values, got dtype {latents.dtype} "
                         f"with {int((~torch.isfinite(latents.double())).sum())} NaN or infinite entries")
    codes = _equal_count_bins(latents, bins)                                # (N, d) bin of each value
    gaps = []
    for k in range(factors.shape[1]):
        v = factors[:, k] - factors[:, k].min()
        entropy = _discrete_mutual_information(v, v)                        # I(v; v) = H(v)
        if entropy <= 0:
            continue
        mi = sorted((_discrete_mutual_information(codes[:, j], v) for j in range(codes.shape[1])), reverse=True)
        gaps.append((mi[0] - mi[1]) / entropy)
    if not gaps:
        raise ValueError("every factor takes a single value; MIG is undefined")
    return float(sum(gaps) / len(gaps))


# --------------------------------------------------------------------------------------------
# The Parzen-window log-likelihood of a sampler (Breuleux et al., 2011; Goodfellow et al., 2014)
# --------------------------------------------------------------------------------------------

# The bandwidths Goodfellow et al. (2014) and Makhzani et al. (2016) try: numpy.logspace(-1, 0, 10).
PARZEN_SIGMAS = tuple(float(10.0 ** (-1 + i / 9)) for i in range(10))


def _flat_pair(samples, points, points_name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Both as (n, D) floating tensors of one dtype and device (the points'); D must agree."""
    samples, points = torch.as_tensor(samples), torch.as_tensor(points)
    if samples.dim() < 2 or points.dim() < 2:
        raise ValueError(f"samples and {points_name} must be (n, ...) batches of at least 2 dimensions, "
                         f"got shapes {tuple(samples.shape)} and {tuple(points.shape)}")
    samples, points = samples.flatten(1), points.flatten(1)
    if samples.shape[1] != points.shape[1]:
        raise ValueError(f"samples have {samples.shape[1]} values each but {points_name} have {points.shape[1]}: "
                         "they must be images of one size (D values each after flattening)")
    if not points.is_floating_point():
        points = points.to(torch.get_default_dtype())
    return samples.to(points.dtype).to(points.device), points


def parzen_log_likelihood(samples, test, sigma: float, batch_size: int = 1000) -> tuple[float, float]:
    r"""Mean log-likelihood of test points under a Parzen window fitted to a model's samples, ± its standard error.

    .. math::
        \hat p(x) = \frac1S \sum_{s=1}^S \mathcal N(x;\ \tilde x_s,\ \sigma^2 I), \qquad
        \mathrm{LL} = \frac1M \sum_{m=1}^M \log \hat p(x_m), \qquad
        \mathrm{SE} = \frac{\operatorname{std}_m \log \hat p(x_m)}{\sqrt M}

    The protocol of Goodfellow et al. (2014) and Makhzani et al. (2016): S = 10,000 samples
    :math:`\tilde x_s` of the model, sigma from `parzen_select_sigma` on held-out images, the
    mean over the 10,000 test images. A density of grey levels in [0, 1] per pixel, so the value is
    in nats, but it scores the *Parzen window*, not the model: Theis et al. (2016) show that it is
    a poor estimate of the model's log-likelihood in 784 dimensions, and that a model that only
    memorises training images can score well. Computed as in `parzen.parzen_log_density`: one
    matrix product and a logsumexp per batch, in the dtype of `test`. The standard error uses the
    sample standard deviation (ddof = 1; Goodfellow et al.'s script uses ddof = 0, a difference of
    1 part in 2M).

    Args:
        samples: (S, ...) model samples, e.g. (S, 1, 28, 28); flattened to (S, D).
        test: (M, ...) test images of the same D values each, M >= 2.
        sigma: the kernels' standard deviation, > 0, in the units of the images.
        batch_size: test images per matrix product (memory: batch_size x S).

    Returns:
        (mean, standard error), Python floats, in nats per image.

    Raises:
        ValueError: samples and test of different sizes D, fewer than 2 test images, NaN or
            infinite values, or sigma not a positive number.
    """
    sigma = number(sigma, "sigma", "a positive number (finite), the kernels' standard deviation", minimum=0.0, strict=True)
    samples, test = _flat_pair(samples, test, "test")
    if len(test) < 2:
        raise ValueError(f"test must hold at least 2 images for a standard error, got {len(test)}")
    log_p = parzen_log_density(test, samples, sigma, batch_size=batch_size)   # (M,) nats
    return float(log_p.mean()), float(log_p.std() / math.sqrt(len(log_p)))


def parzen_select_sigma(samples, valid, sigmas=PARZEN_SIGMAS, batch_size: int = 1000) -> tuple[float, torch.Tensor]:
    """The bandwidth sigma with the highest mean Parzen log-likelihood of held-out images.

    Goodfellow et al. (2014) choose sigma among numpy.logspace(-1, 0, 10) (`PARZEN_SIGMAS`) on
    a validation set: in the book, 1,000 training images kept out of training (MNIST training
    images 50,000-50,999).

    Args:
        samples: (S, ...) model samples. valid: (V, ...) held-out images, V >= 1, same D.
        sigmas: the candidate bandwidths, each > 0.
        batch_size: as in `parzen_log_likelihood`.

    Returns:
        The best sigma (float) and the mean validation log-likelihood of every candidate,
        (len(sigmas),) float64, in nats.

    Raises:
        ValueError: no candidate, a candidate that is not a positive number, or the inputs as
            in `parzen_log_likelihood`.
    """
    samples, valid = _flat_pair(samples, valid, "valid")
    sigmas = [number(s, f"sigmas[{i}]", "a positive number (finite)", minimum=0.0, strict=True) for i, s in enumerate(sigmas)]
    if not sigmas:
        raise ValueError("sigmas must hold at least one candidate bandwidth, got none")
    scores = torch.tensor([float(parzen_log_density(valid, samples, s, batch_size=batch_size).mean()) for s in sigmas],
                          dtype=torch.float64)
    return sigmas[int(scores.argmax())], scores
