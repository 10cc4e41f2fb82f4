"""Kernel density estimation: Parzen windows and manifold Parzen windows (PyTorch).

A Parzen window estimate puts one Gaussian kernel on every training point x_i and averages:

    p(x) = 1/N sum_i N(x; x_i, sigma^2 I)                (Parzen, 1962; sigma = `bandwidth`)
    p(x) = 1/N sum_i N(x; x_i, sigma^2 I + V_i diag(lambda_i) V_i^T)   (Vincent and Bengio, 2003)

The second, manifold Parzen windows, flattens each kernel along the d directions in which the
point's neighbours spread (its local tangent plane) and keeps only a thin sigma^2 across them.

Everything is computed in log space with one matrix product per batch of queries and a
logsumexp over the kernels, so that it is fast (BLAS, or a GPU) and stable: in 784 dimensions
every single kernel value exp(-||x - x_i||^2 / 2 sigma^2) underflows to 0, while its logarithm is
an ordinary number. `edu_gen.manifold` (NumPy) holds the embedding methods of the same chapter.
Symbols follow the book's notation page: N training points, M queries, D the data dimension,
sigma a standard deviation (the kernel's width), k neighbours, d tangent directions.

Introduced in Chapter 2 (Manifold learning).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from edu_gen._checks import number
from edu_gen.likelihood import log_mean_exp

LOG_2PI = math.log(2 * math.pi)


def _as_points(x, name: str, min_points: int = 1, dtype=None) -> torch.Tensor:
    """(n, D) floating tensor; refuses other shapes, NaN and infinities."""
    x = torch.as_tensor(x)
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    if dtype is not None:
        x = x.to(dtype)
    if x.dim() == 1:
        raise ValueError(f"{name} must have shape (n, D); for 1D data pass x[:, None], got shape {tuple(x.shape)}")
    if x.dim() != 2:
        raise ValueError(f"{name} must have shape (n, D), got shape {tuple(x.shape)}")
    if len(x) < min_points:
        raise ValueError(f"{name} needs at least {min_points} points, got {len(x)}")
    if x.device.type != "meta" and not torch.isfinite(x).all():  # a meta tensor has no values to check
        rows = (~torch.isfinite(x).all(dim=1)).nonzero().flatten()
        raise ValueError(f"{name} contains NaN or infinite values in {len(rows)} rows (first: {rows[:5].tolist()})")
    return x


def _check_positive(name: str, value: float) -> float:
    """A finite number > 0 of any numeric kind, as a float (bool, NaN, infinities refused)."""
    return number(value, name, "a positive number (finite)", minimum=0.0, strict=True)


def squared_distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """||x_a - y_i||^2 for every pair, (M, N), by one matrix product.

    ||x - y||^2 = ||x||^2 - 2 x.y + ||y||^2, clipped at 0 (rounding can make it slightly negative).

    Args:
        x: (M, D) and y: (N, D), floating point, on one device (the result's).

    Raises:
        ValueError: x or y is not a matrix, or their dimensions D differ.
    """
    if x.dim() != 2 or y.dim() != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"expected x (M, D) and y (N, D) with one D, got {tuple(x.shape)} and {tuple(y.shape)}")
    return ((x * x).sum(1)[:, None] - 2 * x @ y.T + (y * y).sum(1)[None, :]).clamp_min(0)


# --------------------------------------------------------------------------------------------
# Parzen windows
# --------------------------------------------------------------------------------------------


def parzen_log_density(x, centers, bandwidth: float, batch_size: int = 1024) -> torch.Tensor:
    r"""Log-density of a Gaussian Parzen window estimate, one value per query point.

    .. math::
        \log \hat p(x) = \log \frac1N \sum_{i=1}^N \mathcal N(x; x_i, \sigma^2 I)
        = \operatorname{logsumexp}_i\Big(-\frac{\lVert x - x_i\rVert^2}{2\sigma^2}\Big) - \log N
          - \frac D2 \log(2\pi \sigma^2)

    (Parzen, 1962.) A normalised density of continuous x, so its logarithm is in nats.

    Args:
        x: query points, (M, D).
        centers: the training points x_i, (N, D), the kernels' centres.
        bandwidth: sigma, the kernels' standard deviation, in the units of x.
        batch_size: query points per matrix product (memory is batch_size x N).

    Returns:
        (M,) log-densities in nats, in the dtype of x.

    Raises:
        ValueError: x or centers not finite (M, D) / (N, D) matrices, different D, or a
            bandwidth that is not a positive number.
    """
    x = _as_points(x, "x")
    centers = _as_points(centers, "centers", dtype=x.dtype).to(x.device)
    if x.shape[1] != centers.shape[1]:
        raise ValueError(f"x has dimension {x.shape[1]} but the centres have {centers.shape[1]}")
    sigma = _check_positive("bandwidth", bandwidth)
    n, dim = centers.shape
    constant = -math.log(n) - 0.5 * dim * (LOG_2PI + 2 * math.log(sigma))
    out = [torch.logsumexp(-squared_distances(chunk, centers) / (2 * sigma * sigma), dim=1) + constant
           for chunk in x.split(batch_size)]
    return torch.cat(out)


def select_bandwidth(train, valid, bandwidths: Sequence[float]) -> tuple[float, torch.Tensor]:
    """The bandwidth with the highest mean log-likelihood of held-out points.

    The training log-likelihood cannot choose sigma: it grows without bound as sigma -> 0, each
    kernel collapsing onto its own training point. Held-out points penalise that.

    Args:
        train: the kernels' centres, (N, D).
        valid: held-out points, (M, D).
        bandwidths: the candidate values of sigma.

    Returns:
        The best sigma, and the mean validation log-likelihood of every candidate, (len(bandwidths),).

    Raises:
        ValueError: no bandwidth given, or as `parzen_log_density` for the points and each sigma.
    """
    if len(bandwidths) == 0:
        raise ValueError("give at least one bandwidth to try")
    scores = torch.stack([parzen_log_density(valid, train, sigma).mean() for sigma in bandwidths])
    return float(bandwidths[int(scores.argmax())]), scores


# --------------------------------------------------------------------------------------------
# Manifold Parzen windows
# --------------------------------------------------------------------------------------------


def neighbor_indices(x: torch.Tensor, num_neighbors: int) -> torch.Tensor:
    """Indices of each point's k nearest other points, (N, k), nearest first.

    Args:
        x: points, (N, D), floating point.
        num_neighbors: k, an int in 1..N - 1 (any integer kind).

    Returns:
        (N, k) int64 indices, on x's device; a point is never its own neighbour.

    Raises:
        TypeError: num_neighbors is not an integer (bool included).
        ValueError: num_neighbors < 1 or >= N.
    """
    n = len(x)
    num_neighbors = number(num_neighbors, "num_neighbors", "a positive integer", integer=True, minimum=1)
    if num_neighbors >= n:
        raise ValueError(f"num_neighbors={num_neighbors} needs at least {num_neighbors + 1} points, got {n}")
    d2 = squared_distances(x, x)
    d2.fill_diagonal_(float("inf"))                                         # not your own neighbour
    return d2.topk(num_neighbors, dim=1, largest=False).indices


def local_covariance(x, center, neighbors) -> torch.Tensor:
    r"""The covariance of a point's neighbours around the point itself, (D, D).

    .. math::
        C_i = \frac1k \sum_{j \in \mathcal N(i)} (x_j - x_i)(x_j - x_i)^\top

    Centred on x_i, not on the neighbours' mean, because the kernel it shapes is centred on x_i.

    Args:
        x: all points, (N, D).
        center: the index i of the point.
        neighbors: the indices of its k neighbours, (k,), k >= 1.

    Returns:
        (D, D), on x's device.

    Raises:
        ValueError: x is not a finite (N, D) matrix, or no neighbour is given.
        IndexError: an index outside 0..N - 1 (torch's own error).
    """
    x = _as_points(x, "x")
    neighbors = torch.as_tensor(neighbors, device=x.device)
    if neighbors.numel() == 0:
        raise ValueError("neighbors must hold at least one index (k >= 1), got none")
    z = x[neighbors] - x[center]                                            # (k, D): x_j - x_i
    return z.T @ z / len(z)


@dataclass(frozen=True)
class ManifoldParzen:
    r"""A fitted manifold Parzen window estimate: one flattened Gaussian per training point.

    Kernel i is N(x_i, Sigma_i) with Sigma_i = sigma^2 I + sum_j lambda_ij v_ij v_ij^T.

    Attributes:
        centers: x_i, (N, D).
        directions: v_ij, the d leading eigenvectors of each local covariance, (N, d, D).
        variances: lambda_ij, their eigenvalues, (N, d).
        noise_variance: sigma^2, added in every direction.
    """

    centers: torch.Tensor
    directions: torch.Tensor
    variances: torch.Tensor
    noise_variance: float

    def __post_init__(self):
        # checked here too, so that a model edited with dataclasses.replace is refused as clearly as a bad fit
        object.__setattr__(self, "noise_variance", _check_positive("noise_variance", self.noise_variance))
        n, dim = self.centers.shape if self.centers.dim() == 2 else (None, None)
        if n is None or self.directions.dim() != 3 or self.directions.shape[::2] != (n, dim) \
                or self.variances.shape != self.directions.shape[:2]:
            raise ValueError(f"expected centers (N, D), directions (N, d, D) and variances (N, d); got "
                             f"{tuple(self.centers.shape)}, {tuple(self.directions.shape)} and {tuple(self.variances.shape)}")
        devices = {t.device for t in (self.centers, self.directions, self.variances)}
        if len(devices) != 1:
            raise ValueError(f"centers, directions and variances must share one device, got {sorted(map(str, devices))}")

    @property
    def device(self) -> torch.device:
        """The device of the fitted tensors (and of the log-densities computed from them)."""
        return self.centers.device

    def covariances(self) -> torch.Tensor:
        """Sigma_i for every kernel, for pictures and tests (large when D is large).

        Returns:
            (N, D, D), on the model's device, in its dtype.
        """
        dim = self.centers.shape[1]
        low_rank = torch.einsum("nd,ndi,ndj->nij", self.variances, self.directions, self.directions)
        return low_rank + self.noise_variance * torch.eye(dim, dtype=self.centers.dtype, device=self.centers.device)


def manifold_parzen(x, num_neighbors: int = 10, dim: int = 1, noise_variance: float = 0.01) -> ManifoldParzen:
    """Fit manifold Parzen windows (Vincent and Bengio, 2003).

    For each training point: take its k nearest neighbours, form `local_covariance`, keep its d
    leading eigenvectors and eigenvalues. All N eigenproblems at once, through the SVD of the
    neighbour differences Z_i = (x_j - x_i)_j, (k, D): C_i = Z_i^T Z_i / k, so the right singular
    vectors of Z_i are C_i's eigenvectors and s^2 / k its eigenvalues, without forming C_i.

    Args:
        x: training points, (N, D).
        num_neighbors: k.
        dim: d, the dimension of the local tangent plane, at most min(k, D).
        noise_variance: sigma^2, the variance kept in every direction (the kernels' thickness).

    Returns:
        A `ManifoldParzen` on x's device; evaluate it with `manifold_parzen_log_density`.

    Raises:
        TypeError: num_neighbors or dim not an integer, noise_variance not a number (bool included).
        ValueError: x not a finite (N, D) matrix with N >= 2, k not in 1..N - 1, d not in
            1..min(k, D), or noise_variance not a finite number > 0.
    """
    x = _as_points(x, "x", min_points=2)
    num_neighbors = number(num_neighbors, "num_neighbors", "a positive integer", integer=True, minimum=1)
    limit = min(num_neighbors, x.shape[1])
    dim = number(dim, "dim", f"an integer between 1 and min(num_neighbors, D) = {limit}", integer=True, minimum=1,
                 maximum=limit)
    sigma2 = _check_positive("noise_variance", noise_variance)
    neighbors = neighbor_indices(x, num_neighbors)                           # (N, k)
    z = x[neighbors] - x[:, None, :]                                         # (N, k, D)
    _, s, vh = torch.linalg.svd(z, full_matrices=False)                      # s (N, min(k, D)), vh (N, min(k, D), D)
    return ManifoldParzen(centers=x, directions=vh[:, :dim], variances=s[:, :dim] ** 2 / num_neighbors,
                          noise_variance=sigma2)


def manifold_parzen_log_density(x, model: ManifoldParzen, batch_size: int = 256) -> torch.Tensor:
    r"""Log-density of manifold Parzen windows, one value per query point.

    With r = x - x_i, and Sigma_i = sigma^2 I + V diag(lambda) V^T (orthonormal V),

    .. math::
        r^\top \Sigma_i^{-1} r = \frac{1}{\sigma^2}\Big(\lVert r\rVert^2
            - \sum_j \frac{\lambda_j}{\lambda_j + \sigma^2} (v_j^\top r)^2\Big), \qquad
        \log\det\Sigma_i = (D - d)\log\sigma^2 + \sum_j \log(\lambda_j + \sigma^2),

    so no D x D matrix is ever inverted: the kernel is isotropic except along its d directions.

    Args:
        x: query points, (M, D).
        model: a fitted `ManifoldParzen`.
        batch_size: query points per batch (memory is batch_size x N x d).

    Returns:
        (M,) log-densities in nats, on the model's device (x is moved there).

    Raises:
        TypeError: model is not a `ManifoldParzen`.
        ValueError: x is not a finite (M, D) matrix in the model's dimension D.
    """
    if not isinstance(model, ManifoldParzen):
        raise TypeError(f"model must be a ManifoldParzen (from manifold_parzen), got {type(model).__name__}")
    x = _as_points(x, "x", dtype=model.centers.dtype).to(model.device)
    centers, v, lam, sigma2 = model.centers, model.directions, model.variances, model.noise_variance
    n, dim = centers.shape
    if x.shape[1] != dim:
        raise ValueError(f"x has dimension {x.shape[1]} but the model was fitted in dimension {dim}")
    d = v.shape[1]
    shrink = lam / (lam + sigma2)                                            # (N, d)
    log_det = (dim - d) * math.log(sigma2) + torch.log(lam + sigma2).sum(1)  # (N,)
    v_dot_center = torch.einsum("ndj,nj->nd", v, centers)                    # v_j . x_i, (N, d)
    out = []
    for chunk in x.split(batch_size):
        r2 = squared_distances(chunk, centers)                               # ||x - x_i||^2, (B, N)
        v_dot_r = torch.einsum("ndj,bj->bnd", v, chunk) - v_dot_center       # v_j . (x - x_i), (B, N, d)
        mahalanobis = (r2 - (shrink * v_dot_r**2).sum(2)) / sigma2           # (B, N)
        log_kernel = -0.5 * (mahalanobis + log_det + dim * LOG_2PI)          # log N(x; x_i, Sigma_i)
        out.append(log_mean_exp(log_kernel, dim=1))                          # log (1/N) sum_i N(x; x_i, Sigma_i)
    return torch.cat(out)
