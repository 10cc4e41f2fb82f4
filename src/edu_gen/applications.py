r"""What generative models are for, measured: retrieval, outlier detection, debiasing, and the cost column.

| piece                     | what it measures or makes                                                        |
|---------------------------|----------------------------------------------------------------------------------|
| `precision_at_k`          | retrieval with codes: the share of a query's k nearest neighbours of its class     |
| `auroc`                   | an outlier score's area under the ROC curve (the Mann-Whitney U statistic)         |
| `typicality_score`        | distance of an NLL from the typical NLL of the data (Nalisnick et al., 2019b)      |
| `inverse_density_weights` | sampling weights that favour examples with rare codes (Amini et al., 2019)        |
| `count_parameters`        | the number of parameters of a model, for the cost column of the comparison        |

Timing (training seconds, seconds per 1,000 samples) is measured in `benchmarks/compare_families.py`
only, where one run times every model on the same machine.

Introduced in the chapter "The families compared" (label ch-comparison).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from edu_gen._checks import _describe, number


def _real_finite_double(t: torch.Tensor, name: str) -> torch.Tensor:
    """`t` in float64 after refusing booleans, complex numbers, NaN and infinities (each error names `name`)."""
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"{name} must hold real numbers, got dtype {t.dtype}")
    t = t.double()
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite, got {int((~torch.isfinite(t)).sum())} NaN or infinite values")
    return t


def _finite_vector(values, name: str, min_length: int = 1) -> torch.Tensor:
    v = torch.as_tensor(values)
    if v.dim() != 1 or len(v) < min_length:
        raise ValueError(f"{name} must be a 1-d tensor of at least {min_length} values, got shape {tuple(v.shape)}")
    return _real_finite_double(v, name)


def _codes(codes, name: str = "codes") -> torch.Tensor:
    c = torch.as_tensor(codes)
    if c.dim() != 2 or len(c) == 0 or c.shape[1] == 0:
        raise ValueError(f"{name} must be an (N, D) tensor with N, D >= 1, got shape {tuple(c.shape)}")
    return _real_finite_double(c, name)


# --------------------------------------------------------------------------------------------
# Retrieval with codes
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def precision_at_k(codes: torch.Tensor, labels: torch.Tensor, k: int = 10, batch_size: int = 1000) -> float:
    r"""Leave-one-out retrieval: the mean share of each row's k nearest other rows that have its label.

    .. math::
        \text{precision@}k = \frac1N \sum_{i=1}^N \frac1k \sum_{j \in \mathrm{NN}_k(i)} [\,y_j = y_i\,]

    with :math:`\mathrm{NN}_k(i)` the k rows nearest to row i in Euclidean distance, row i itself
    left out. Every row is a query and the rest is the database, as in the retrieval experiments of
    Hinton & Salakhutdinov (2006) with autoencoder codes. Ties are handled as their expected value
    under a random order: when several rows share the k-th smallest distance and only some of them
    fit in the k, each of them counts by the share that fits. So the result does not depend on the
    order of the rows (binary images in pixel space have many equal distances). Computed in float64.

    Args:
        codes: (N, D) real numbers: pixels (``images.flatten(1)``), PCA or encoder codes.
        labels: (N,) integer classes.
        k: neighbours retrieved per query, an int from 1 to N - 1.
        batch_size: queries compared at once (memory: batch_size x N floats), an int >= 1.

    Returns:
        precision@k, a float in [0, 1].

    Raises:
        ValueError: codes not (N, D), labels not (N,), non-finite codes, or k outside 1..N-1.
        TypeError: labels not integers, codes not real numbers, or k or batch_size not an int.
    """
    c = _codes(codes)
    y = torch.as_tensor(labels)
    if y.shape != (len(c),):
        raise ValueError(f"labels must be ({len(c)},), one class per row of codes, got shape {tuple(y.shape)}")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"labels must be integer classes, got dtype {y.dtype}")
    k = number(k, "k", f"an int from 1 to N - 1 = {len(c) - 1} (neighbours per query)", integer=True, minimum=1,
               maximum=len(c) - 1)
    batch_size = number(batch_size, "batch_size", "an int >= 1 (queries compared at once)", integer=True, minimum=1)
    norms = (c * c).sum(1)
    total = 0.0
    for start in range(0, len(c), batch_size):
        q = c[start:start + batch_size]
        d = (norms[start:start + batch_size, None] + norms[None] - 2 * q @ c.T).clamp(min=0)   # (B, N) squared
        d[torch.arange(len(q)), torch.arange(start, start + len(q))] = math.inf            # leave the query out
        same = y[None] == y[start:start + batch_size, None]                                 # (B, N)
        kth = d.kthvalue(k, dim=1).values[:, None]                                          # the k-th distance
        closer, tied = d < kth, d == kth
        # all rows strictly closer are retrieved; the k - |closer| remaining places go to the tied rows in equal shares
        share = (k - closer.sum(1)).double() / tied.sum(1)
        hits = (closer & same).sum(1) + share * (tied & same).sum(1)
        total += float(hits.sum()) / k
    return total / len(c)


# --------------------------------------------------------------------------------------------
# Outlier detection
# --------------------------------------------------------------------------------------------


def auroc(scores_in: torch.Tensor, scores_out: torch.Tensor) -> float:
    r"""The area under the ROC curve of an outlier score: how often an outlier scores above an inlier.

    .. math::
        \mathrm{AUROC} = \frac{1}{n_\text{in}\, n_\text{out}} \sum_{i,o} \Big([\,s_o > s_i\,] + \tfrac12 [\,s_o = s_i\,]\Big)
        = \frac{U}{n_\text{in}\, n_\text{out}}

    the Mann-Whitney U statistic of the outliers' scores, normalised; a tie counts one half, as the
    average rank gives it. 1 separates perfectly, 0.5 is chance, below 0.5 the score ranks the
    wrong way round. A higher score must mean *more outlying*: with a density model, pass the
    negative log-likelihood -log p(x) (or `typicality_score`). Equal to scikit-learn's
    ``roc_auc_score`` with the outliers as the positive class. Each outlier's rank among the
    inliers is found by binary search, so it costs O((n_in + n_out) log n_in).

    Args:
        scores_in: (n_in,) outlier scores of in-distribution examples (e.g. MNIST test digits), n_in >= 1.
        scores_out: (n_out,) outlier scores of out-of-distribution examples, n_out >= 1.

    Returns:
        AUROC, a float in [0, 1].

    Raises:
        ValueError: a score set that is not 1-d, is empty, or holds NaN or infinite values.
        TypeError: scores that are not real numbers.
    """
    inliers = _finite_vector(scores_in, "scores_in").sort().values
    outliers = _finite_vector(scores_out, "scores_out")
    below = torch.searchsorted(inliers, outliers, side="left")           # inliers scoring strictly less
    not_above = torch.searchsorted(inliers, outliers, side="right")      # ... or equal
    u = float(below.double().sum() + 0.5 * (not_above - below).double().sum())
    return u / (len(inliers) * len(outliers))


def typicality_score(nll: torch.Tensor, reference_nll: torch.Tensor) -> torch.Tensor:
    r"""How far an example's negative log-likelihood lies from the typical one: :math:`|\,-\log p(x) - \hat H\,|`.

    A density model of digits can give an out-of-distribution image a *higher* likelihood than
    the digits themselves, when it is simpler (nearly blank; Nalisnick et al., 2019a), so
    -log p(x) alone ranks it as the least outlying. In high dimensions the data do not lie where
    the density is highest but in its *typical set*, where -log p(x) is close to the entropy H.
    Nalisnick et al. (2019b, "Detecting out-of-distribution inputs to deep generative models using
    typicality") test whether a batch's mean NLL lies within a distance of the entropy, estimated
    by the mean NLL of the training data, with a threshold from a bootstrap on validation data; this
    is their statistic for a single example (a batch of one, which they report to be weak), with
    :math:`\hat H` the mean over the reference examples given. Too likely and too unlikely are both
    flagged. Use it as the score of `auroc`.

    Args:
        nll: (N,) negative log-likelihoods -log p(x) of the examples to score, in nats.
        reference_nll: (R,) the same model's NLLs of held-out in-distribution examples (R >= 1), whose
            mean estimates H.

    Returns:
        (N,) float64 scores >= 0, in nats (higher = more outlying).

    Raises:
        ValueError: not 1-d, empty, or NaN or infinite values.
        TypeError: values that are not real numbers.
    """
    return (_finite_vector(nll, "nll") - _finite_vector(reference_nll, "reference_nll").mean()).abs()


# --------------------------------------------------------------------------------------------
# Debiasing by latent density
# --------------------------------------------------------------------------------------------


def inverse_density_weights(codes: torch.Tensor, bins: int = 10, alpha: float = 0.01) -> torch.Tensor:
    r"""Sampling weights that make rare codes as likely to be drawn as common ones (Amini et al., 2019).

    .. math::
        w(x) \propto \prod_{i=1}^d \frac{1}{\hat Q_i(\mu_i(x)) + \alpha}

    (their equation for the debiasing VAE's resampling probabilities, which they write W(x) with
    latents z_i(x); the book writes w(x) and the code coordinates :math:`\mu_i(x)`, its notation page),
    with :math:`\hat Q_i` a histogram of coordinate i over the N codes: here the *share* of the N codes
    in :math:`\mu_i(x)`'s bin, with
    `bins` equal-width bins from the smallest to the largest value (a probability, so `alpha` is
    unitless; the paper does not fix the histogram's units). alpha -> infinity gives equal weights;
    alpha -> 0 weighs each example by the inverse of its (per-latent, independent) density.
    Computed in log space (d factors of up to 1 / alpha overflow a float for large d) and
    normalised to sum to 1. Pass the encoder means mu(x) of the training examples, as the paper does.

    Args:
        codes: (N, d) latent codes, finite.
        bins: histogram bins per latent, an int >= 1.
        alpha: the smoothing constant, a number >= 0.

    Returns:
        (N,) float64 weights >= 0 summing to 1 (for ``torch.multinomial`` or a ``WeightedRandomSampler``).

    Raises:
        ValueError: codes not (N, d) with N, d >= 1 or not finite, bins < 1, or alpha < 0.
        TypeError: codes not real numbers, bins not an int, alpha not a number.
    """
    z = _codes(codes)
    bins = number(bins, "bins", "an int >= 1 (histogram bins per latent)", integer=True, minimum=1)
    alpha = number(alpha, "alpha", "a finite number >= 0 (the smoothing constant)", minimum=0.0)
    low, high = z.min(0).values, z.max(0).values
    width = (high - low) / bins
    # a constant latent (width 0) puts every code in its first bin
    index = torch.where(width > 0, (z - low) / torch.where(width > 0, width, 1.0), torch.zeros_like(z))
    index = index.floor().long().clamp(0, bins - 1)                                     # (N, d); the maximum goes in the last bin
    share = torch.stack([torch.bincount(index[:, i], minlength=bins) for i in range(z.shape[1])], 1).double() / len(z)
    q = share.gather(0, index)                                                           # (N, d) Q_i(mu_i(x))
    return torch.softmax(-(q + alpha).log().sum(1), dim=0)


# --------------------------------------------------------------------------------------------
# The cost column
# --------------------------------------------------------------------------------------------


def count_parameters(model) -> int:
    """The number of parameters (scalars) of a model, each shared tensor counted once.

    Args:
        model: a ``torch.nn.Module``, or a dict / list / tuple of them (e.g. a GAN's generator and
            discriminator) whose parameters are added.

    Returns:
        an int >= 0.

    Raises:
        TypeError: anything but a module or a collection of modules.
    """
    modules = list(model.values()) if isinstance(model, dict) else list(model) if isinstance(model, (list, tuple)) else [model]
    if not modules or not all(isinstance(m, nn.Module) for m in modules):
        raise TypeError(f"model must be a torch.nn.Module or a dict, list or tuple of them, got {_describe(model)}")
    seen = {id(p): p for m in modules for p in m.parameters()}
    return sum(p.numel() for p in seen.values())
