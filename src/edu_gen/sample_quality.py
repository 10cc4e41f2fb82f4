r"""Measuring samples without a likelihood: what the GAN chapters (and the comparison) share.

| piece                   | what it measures                                                          |
|-------------------------|---------------------------------------------------------------------------|
| `classifier_features`   | the frozen digit classifier's hidden layer, (N, 256): the feature space    |
| `frechet_distance`      | the Fréchet distance of two Gaussians fitted to two sets of features       |
| `class_histogram`       | the classes a sampler draws: counts, classes covered, KL to uniform, confidence |
| `nearest_training`      | each sample's nearest training image (memorisation)                         |
| `mode_coverage`         | toy 2-D sets: modes covered and the fraction of high-quality samples         |
| `precision_recall`      | quality and diversity: the share of samples on the real manifold and back   |

The Fréchet distance is the FID of Heusel et al. (2017) with the book's digit classifier
(`metrics.digit_classifier`, an MLP 784-256-10) in place of Inception: numbers are comparable
within the book only, never with published FIDs. It lives in its own module, not in `metrics`,
to keep each module readable in one sitting.

Introduced in the chapter "Generative adversarial networks" (label ch-gan).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from edu_gen import metrics
from edu_gen._checks import number


def _images(images, name: str) -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1:] != (1, 28, 28):
        raise ValueError(f"{name} must be a tensor of shape (N, 1, 28, 28), got {getattr(images, 'shape', type(images).__name__)}")
    return images.float()


@torch.no_grad()
def classifier_features(classifier: nn.Module, images: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
    """The digit classifier's hidden activations (after its ReLU), the space the Fréchet distance works in.

    Args:
        classifier: a `metrics.DigitClassifier` (its ``net`` is Flatten, Linear, ReLU, Linear).
        images: (N, 1, 28, 28) in [0, 1].

    Returns:
        (N, hidden_dim) float32 on the CPU.

    Raises:
        ValueError: images not (N, 1, 28, 28), or batch_size < 1; TypeError: a classifier without that
            ``net``, or a batch_size that is not an int.
    """
    images = _images(images, "images")
    batch_size = number(batch_size, "batch_size", "an int >= 1", integer=True, minimum=1)
    body = getattr(classifier, "net", None)
    if not isinstance(body, nn.Sequential) or len(body) != 4:
        raise TypeError(f"classifier must be a metrics.DigitClassifier (net = Flatten, Linear, ReLU, Linear), got {type(classifier).__name__}")
    device = next(classifier.parameters()).device
    return torch.cat([body[:3](images[i:i + batch_size].to(device)).cpu() for i in range(0, len(images), batch_size)])


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    r"""The Fréchet (2-Wasserstein) distance between Gaussians fitted to two feature sets (Heusel et al., 2017).

    .. math::
        d^2 = \lVert \mu_a - \mu_b \rVert^2 + \operatorname{tr}\Big(\Sigma_a + \Sigma_b - 2\big(\Sigma_a^{1/2}\Sigma_b\Sigma_a^{1/2}\big)^{1/2}\Big)

    The usual form writes :math:`2(\Sigma_a\Sigma_b)^{1/2}`; the two traces are equal, and the
    symmetric form needs only eigen-decompositions of symmetric matrices (no complex square root).
    Computed in float64; covariances with N - 1 in the denominator.

    Args:
        features_a: (N_a, F), features_b: (N_b, F), N >= 2 each.

    Returns:
        d^2, a float >= 0 (in squared feature units; 0 for identical sets).

    Raises:
        ValueError: not two (N, F) tensors with one F, fewer than 2 rows, or non-finite values.
    """
    a, b = torch.as_tensor(features_a).double(), torch.as_tensor(features_b).double()
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(f"features_a and features_b must be (N, F) with one F and N >= 2, got {tuple(a.shape)} and {tuple(b.shape)}")
    if not (torch.isfinite(a).all() and torch.isfinite(b).all()):
        raise ValueError("features must be finite (got NaN or infinite values)")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T).reshape(a.shape[1], -1), torch.cov(b.T).reshape(a.shape[1], -1)
    evals, evecs = torch.linalg.eigh(cov_a)
    root_a = (evecs * evals.clamp(min=0).sqrt()) @ evecs.T                  # Sigma_a^{1/2}
    middle = root_a @ cov_b @ root_a
    cross = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()   # tr (.)^{1/2}
    return max(float((mu_a - mu_b) @ (mu_a - mu_b) + cov_a.trace() + cov_b.trace() - 2 * cross), 0.0)


@torch.no_grad()
def class_histogram(classifier: nn.Module, images: torch.Tensor, num_classes: int = 10, min_share: float = 0.1) -> dict:
    r"""Which classes the classifier reads in a set of samples, and how evenly.

    A class is *covered* when it receives at least `min_share` of its fair share N / C of the
    samples. ``kl_to_uniform`` is :math:`\sum_c h_c \log(C h_c)` with h the histogram normalised to
    sum to 1 (0 for a sampler that draws every class equally often, log C when it draws only one).

    Args:
        classifier: (N, 1, 28, 28) -> (N, C) logits. images: (N, 1, 28, 28), N >= 1.
        num_classes: C. min_share: in (0, 1].

    Returns:
        {"counts": (C,) int64, "classes_covered": int, "kl_to_uniform": float (nats),
        "confidence": float, the mean of max_c p(c | x)}.

    Raises:
        ValueError: images not (N, 1, 28, 28) with N >= 1, min_share outside (0, 1], num_classes < 2, or a
            classifier that reads a class outside 0..C-1 (its output has more classes than num_classes).
    """
    images = _images(images, "images")
    if len(images) == 0:
        raise ValueError("images must hold at least one image")
    min_share = number(min_share, "min_share", "a number in (0, 1]", minimum=0.0, strict=True, maximum=1.0)
    num_classes = number(num_classes, "num_classes", "an int >= 2 (C)", integer=True, minimum=2)
    read = metrics.classifier_confidence(classifier, images)              # the VAE chapter's reading of samples
    if int(read["label"].max()) >= num_classes:
        raise ValueError(f"num_classes = {num_classes}, but the classifier read class {int(read['label'].max())}: "
                         "give the classifier's number of classes")
    counts = torch.bincount(read["label"].cpu(), minlength=num_classes)
    h = counts.double() / counts.sum()
    kl = float((h[h > 0] * (num_classes * h[h > 0]).log()).sum())
    covered = int((counts >= min_share * len(images) / num_classes).sum())
    return {"counts": counts, "classes_covered": covered, "kl_to_uniform": kl, "confidence": float(read["max_prob"].mean())}


@torch.no_grad()
def nearest_training(samples: torch.Tensor, training: torch.Tensor, batch_size: int = 10_000) -> tuple[torch.Tensor, torch.Tensor]:
    """Each sample's nearest training example in Euclidean (pixel) distance.

    Args:
        samples: (S, ...) and training: (N, ...) of the same number of values each.

    Returns:
        distances (S,) float32 and indices (S,) int64 into `training`.

    Raises:
        ValueError: the two do not have the same number of values per example, N = 0, or batch_size < 1.
        TypeError: a batch_size that is not an int.
    """
    batch_size = number(batch_size, "batch_size", "an int >= 1 (training examples compared at once)", integer=True, minimum=1)
    s, t = torch.as_tensor(samples).flatten(1).float(), torch.as_tensor(training).flatten(1).float()
    if s.shape[1] != t.shape[1] or len(t) == 0:
        raise ValueError(f"samples and training must hold examples of one size and training at least one, "
                         f"got {tuple(samples.shape)} and {tuple(training.shape)}")
    best_d = torch.full((len(s),), math.inf)
    best_i = torch.zeros(len(s), dtype=torch.int64)
    for start in range(0, len(t), batch_size):
        d, i = torch.cdist(s, t[start:start + batch_size]).min(1)
        better = d < best_d
        best_d[better], best_i[better] = d[better], i[better] + start
    return best_d, best_i


def mode_coverage(samples: torch.Tensor, centres: torch.Tensor, std: float, min_share: float = 0.1) -> dict:
    r"""Mode collapse on a toy mixture of K equal Gaussians of one standard deviation.

    A sample is *high quality* when it lies within 3 standard deviations of its nearest centre (the
    measure of Srivastava et al., 2017, and Lin et al., 2018). A mode is *covered* when at least
    `min_share` of its fair share S / K of the samples are high quality and nearest to it (the
    book's threshold: a mode hit by a few stray samples is not covered).

    Args:
        samples: (S, n) points, S >= 1. centres: (K, n) distinct centres. std: their standard deviation, > 0.
        min_share: in (0, 1].

    Returns:
        {"modes_covered": int, "high_quality": float in [0, 1], "counts": (K,) int64 high-quality samples per mode}.

    Raises:
        ValueError: shapes that do not fit, a non-positive std, or min_share outside (0, 1].
    """
    samples, centres = torch.as_tensor(samples).float(), torch.as_tensor(centres).float()
    if samples.dim() != 2 or centres.dim() != 2 or samples.shape[1] != centres.shape[1] or len(samples) == 0 or len(centres) == 0:
        raise ValueError(f"samples must be (S, n) and centres (K, n) with S, K >= 1, got {tuple(samples.shape)} and {tuple(centres.shape)}")
    std = number(std, "std", "a positive number", minimum=0.0, strict=True)
    min_share = number(min_share, "min_share", "a number in (0, 1]", minimum=0.0, strict=True, maximum=1.0)
    distance, nearest = torch.cdist(samples, centres).min(1)                 # (S,), (S,)
    good = distance <= 3 * std
    counts = torch.bincount(nearest[good], minlength=len(centres))
    covered = int((counts >= min_share * len(samples) / len(centres)).sum())
    return {"modes_covered": covered, "high_quality": float(good.float().mean()), "counts": counts}


def _features_pair(real_features, fake_features, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    real, fake = torch.as_tensor(real_features), torch.as_tensor(fake_features)
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"real_features and fake_features must be (N, F) and (M, F) with one F, "
                         f"got {tuple(real.shape)} and {tuple(fake.shape)}")
    if len(real) <= k or len(fake) <= k:
        raise ValueError(f"real_features and fake_features must each hold more than k = {k} rows (a row's k-th nearest "
                         f"neighbour is another row of its set), got {len(real)} and {len(fake)}")
    real, fake = real.double(), fake.double()
    if not (torch.isfinite(real).all() and torch.isfinite(fake).all()):
        raise ValueError("features must be finite (got NaN or infinite values)")
    return real, fake


def _squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(A, B) squared Euclidean distances in float64, |a|^2 + |b|^2 - 2 a.b (clamped at 0 against rounding)."""
    return ((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T).clamp(min=0)


def _kth_neighbour_radii(points: torch.Tensor, k: int, batch_size: int) -> torch.Tensor:
    """(N,) squared distance from each row to its k-th nearest OTHER row of `points`."""
    radii = torch.empty(len(points), dtype=points.dtype)
    for start in range(0, len(points), batch_size):
        d = _squared_distances(points[start:start + batch_size], points)
        d[torch.arange(len(d)), torch.arange(start, start + len(d))] = math.inf    # a row is not its own neighbour
        radii[start:start + batch_size] = d.kthvalue(k, dim=1).values
    return radii


def _inside(queries: torch.Tensor, points: torch.Tensor, radii: torch.Tensor, batch_size: int) -> torch.Tensor:
    """(Q,) bool: is each query within the k-NN ball of at least one of `points` (squared radii `radii`)?"""
    return torch.cat([(_squared_distances(queries[s:s + batch_size], points) <= radii[None]).any(1)
                      for s in range(0, len(queries), batch_size)])


def precision_recall(real_features: torch.Tensor, fake_features: torch.Tensor, k: int = 3, batch_size: int = 1000) -> dict:
    r"""Precision and recall of a sample set, the k-nearest-neighbour estimate of Kynkäänniemi et al. (2019).

    Each set's *manifold* is the union of balls centred on its rows, a row's radius being the
    distance to its k-th nearest neighbour among the OTHER rows of its own set:

    .. math::
        f(\phi, \Phi) = 1 \text{ if } \lVert \phi - \phi' \rVert \le \lVert \phi' - \mathrm{NN}_k(\phi', \Phi) \rVert
        \text{ for some } \phi' \in \Phi, \qquad
        \text{precision} = \frac1M \sum_{g} f(\phi_g, \Phi_r), \qquad \text{recall} = \frac1N \sum_{r} f(\phi_r, \Phi_g)

    (their equations 1-3). Precision is the share of samples that look like some real image
    (quality); recall is the share of real images that some sample looks like (diversity): a
    sampler that draws one perfect digit has precision near 1 and recall near 0. The paper uses
    VGG-16 features and k = 3; the book uses the digit classifier's features
    (`classifier_features`), so the numbers are comparable within the book only. Computed in float64
    with squared distances, `batch_size` rows at a time (memory: batch_size x max(N, M) floats).

    Args:
        real_features: (N, F) features of real images. fake_features: (M, F) features of samples.
            N, M > k, finite.
        k: the neighbour that sets each ball's radius, an int >= 1 (the paper's k = 3).
        batch_size: rows compared at once, an int >= 1.

    Returns:
        {"precision": float in [0, 1], "recall": float in [0, 1]}.

    Raises:
        ValueError: not two (N, F) sets with one F, N or M <= k, non-finite values, or k or batch_size < 1.
        TypeError: k or batch_size is not an int.
    """
    k = number(k, "k", "an int >= 1 (the neighbour that sets each ball's radius)", integer=True, minimum=1)
    batch_size = number(batch_size, "batch_size", "an int >= 1 (rows compared at once)", integer=True, minimum=1)
    real, fake = _features_pair(real_features, fake_features, k)
    real_radii, fake_radii = _kth_neighbour_radii(real, k, batch_size), _kth_neighbour_radii(fake, k, batch_size)
    return {"precision": float(_inside(fake, real, real_radii, batch_size).double().mean()),
            "recall": float(_inside(real, fake, fake_radii, batch_size).double().mean())}
