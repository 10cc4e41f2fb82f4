"""Non-local manifold Parzen windows: one network predicts the shape of every kernel (PyTorch).

Manifold Parzen windows (`edu_gen.parzen`) estimate the tangent plane of kernel i from the k
nearest neighbours of x_i alone, so where the data are sparse the plane is a guess. Bengio,
Larochelle and Vincent (2006) replace those N separate estimates by one function of x, a neural
network trained on all the data, that predicts the kernel's shape at any point:

    p(x) = 1/N sum_i N(x; x_i + mu(x_i), Sigma(x_i)),    Sigma(x) = sigma^2(x) I + F(x)^T F(x)

F(x) (d, D) holds d tangent vectors (its rows, not orthonormal), mu(x) (D,) moves the kernel's
centre off the training point, and sigma^2(x) > 0 is the variance kept in every direction. The
network is trained by maximum likelihood of each point's k nearest neighbours under the Gaussian
centred at the point (the paper's training criterion):

    L = - 1/(N k) sum_i sum_{j in N_k(i)} log N(x_j; x_i + mu(x_i), Sigma(x_i)).

The offset mu receives its gradient from the k_mu nearest of the k neighbours only (the paper's
k_mu; the rule as written in the authors' PLearn code, NonLocalManifoldParzen and
NllGeneralGaussianVariable). This module's network is one tanh hidden layer, as in that code;
sigma^2(x) = sigma_0^2 + softplus(...) has the floor sigma_0^2 (`noise_floor`), as the code's
minimum variance. Inputs are standardised inside the network, outputs scaled back to data units.

Each Gaussian is evaluated without a D x D matrix: with M = sigma^2 I_d + F F^T (d x d) and its
Cholesky factor L, Woodbury's identity and Sylvester's determinant identity give

    r^T Sigma^{-1} r = (||r||^2 - ||L^{-1} F r||^2) / sigma^2,
    log det Sigma   = (D - d) log sigma^2 + 2 sum_j log L_jj.

Symbols follow the book's notation page: N training points, D the data dimension, d tangent
directions, k neighbours, sigma^2 a variance.

Introduced in Chapter 2 (Manifold learning).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F_

from edu_gen._checks import number
from edu_gen.likelihood import log_mean_exp
from edu_gen.parzen import LOG_2PI, _as_points, _check_positive, neighbor_indices


def kernel_log_prob(residuals, tangents, noise_variance) -> torch.Tensor:
    r"""log N(r; 0, sigma^2 I + F^T F) for K residuals under each of N low-rank-plus-isotropic Gaussians.

    .. math::
        \log \mathcal N(r; 0, \Sigma) = -\tfrac12\Big(\frac{\lVert r\rVert^2 - \lVert L^{-1} F r\rVert^2}{\sigma^2}
            + (D - d)\log\sigma^2 + 2\sum_j \log L_{jj} + D \log 2\pi\Big),
        \qquad L L^\top = \sigma^2 I_d + F F^\top

    (Woodbury and Sylvester; Bengio, Larochelle and Vincent, 2006, for the covariance's form.)

    Args:
        residuals: r = x - centre, (N, K, D): K vectors for each of the N Gaussians.
        tangents: F, (N, d, D), d <= D rows per Gaussian (any lengths, not necessarily orthogonal).
        noise_variance: sigma^2, (N,), positive.

    Returns:
        (N, K) log-densities in nats (differentiable in all three inputs).

    Raises:
        ValueError: shapes that do not match as above.
    """
    if residuals.dim() != 3 or tangents.dim() != 3 or noise_variance.dim() != 1:
        raise ValueError(f"expected residuals (N, K, D), tangents (N, d, D) and noise_variance (N,), got "
                         f"{tuple(residuals.shape)}, {tuple(tangents.shape)} and {tuple(noise_variance.shape)}")
    n, _, dim = residuals.shape
    d = tangents.shape[1]
    if tangents.shape[0] != n or tangents.shape[2] != dim or len(noise_variance) != n or d > dim:
        raise ValueError(f"expected residuals (N, K, D), tangents (N, d <= D, D) and noise_variance (N,) with one N "
                         f"and D, got {tuple(residuals.shape)}, {tuple(tangents.shape)} and {tuple(noise_variance.shape)}")
    s2 = noise_variance[:, None]                                               # (N, 1)
    eye = torch.eye(d, dtype=tangents.dtype, device=tangents.device)
    chol = torch.linalg.cholesky(tangents @ tangents.transpose(1, 2) + s2[:, :, None] * eye)   # L, (N, d, d)
    projected = tangents @ residuals.transpose(1, 2)                           # F r, (N, d, K)
    whitened = torch.linalg.solve_triangular(chol, projected, upper=False)     # L^{-1} F r, (N, d, K)
    mahalanobis = ((residuals**2).sum(2) - (whitened**2).sum(1)) / s2         # r^T Sigma^{-1} r, (N, K)
    log_det = (dim - d) * torch.log(noise_variance) + 2 * torch.log(torch.diagonal(chol, dim1=1, dim2=2)).sum(1)
    return -0.5 * (mahalanobis + log_det[:, None] + dim * LOG_2PI)


class NonLocalManifoldParzen(nn.Module):
    """The network x -> (F(x), mu(x), sigma^2(x)) and, once fitted, the density it defines.

    Build and train it with `fit_nonlocal_manifold_parzen`; this class holds the parts.

    Args:
        input_dim: D, the data dimension.
        dim: d, the number of tangent vectors predicted, 1..D.
        hidden: the number of tanh hidden units.
        noise_floor: sigma_0^2 > 0, the smallest variance sigma^2(x) can take (in squared data units).

    Attributes:
        shift, scale: buffers, the input standardisation (x - shift) / scale, (D,) and a 0-d tensor;
            the network's outputs are scaled back by `scale` (F, mu) and scale^2 (sigma^2).
        centers: buffer, the training points x_i, (N, D); empty (0, D) until fitted.

    Raises:
        TypeError, ValueError: a size that is not a positive integer, d > D, or a noise floor that
            is not a positive number.
    """

    def __init__(self, input_dim: int, dim: int = 1, hidden: int = 30, noise_floor: float = 0.01):
        super().__init__()
        self.input_dim = number(input_dim, "input_dim", "a positive integer (D)", integer=True, minimum=1)
        self.dim = number(dim, "dim", f"an integer between 1 and input_dim = {self.input_dim} (d)", integer=True,
                          minimum=1, maximum=self.input_dim)
        hidden = number(hidden, "hidden", "a positive integer (hidden units)", integer=True, minimum=1)
        self.noise_floor = _check_positive("noise_floor", noise_floor)
        self.hidden_layer = nn.Linear(self.input_dim, hidden)
        self.tangent_layer = nn.Linear(hidden, self.dim * self.input_dim)          # F(x), d x D numbers
        self.offset_layer = nn.Linear(hidden, self.input_dim)                      # mu(x)
        self.noise_layer = nn.Linear(hidden, 1)                                    # sigma^2(x) through softplus
        nn.init.zeros_(self.offset_layer.weight)                                   # start at mu = 0: kernels on the points
        nn.init.zeros_(self.offset_layer.bias)
        self.register_buffer("shift", torch.zeros(self.input_dim))
        self.register_buffer("scale", torch.tensor(1.0))
        self.register_buffer("centers", torch.zeros(0, self.input_dim))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The kernel shape predicted at each point.

        Args:
            x: (B, D) points, in the network's dtype and device.

        Returns:
            tangents F(x) (B, d, D), offsets mu(x) (B, D) and noise variances sigma^2(x) (B,), in data units.

        Raises:
            ValueError: x is not a (B, D) matrix in the network's dimension D.
        """
        if x.dim() != 2 or x.shape[1] != self.input_dim:
            raise ValueError(f"x must have shape (B, {self.input_dim}), got {tuple(x.shape)}")
        h = torch.tanh(self.hidden_layer((x - self.shift) / self.scale))                 # (B, hidden)
        tangents = self.scale * self.tangent_layer(h).view(len(x), self.dim, self.input_dim)
        offsets = self.scale * self.offset_layer(h)
        noise = self.noise_floor + self.scale**2 * F_.softplus(self.noise_layer(h)).squeeze(1)
        return tangents, offsets, noise

    def _fitted(self) -> None:
        if len(self.centers) == 0:
            raise RuntimeError("this NonLocalManifoldParzen has no training points yet: "
                               "build it with fit_nonlocal_manifold_parzen")

    @torch.no_grad()
    def kernels(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The mixture's Gaussians, for pictures and tests (the covariances are large when D is large).

        Returns:
            centres x_i + mu(x_i) (N, D) and covariances sigma^2(x_i) I + F(x_i)^T F(x_i) (N, D, D).

        Raises:
            RuntimeError: the model has not been fitted.
        """
        self._fitted()
        tangents, offsets, noise = self(self.centers)
        eye = torch.eye(self.input_dim, dtype=noise.dtype, device=noise.device)
        return self.centers + offsets, tangents.transpose(1, 2) @ tangents + noise[:, None, None] * eye

    @torch.no_grad()
    def log_density(self, x, batch_size: int = 256) -> torch.Tensor:
        r"""log p(x) = log (1/N) sum_i N(x; x_i + mu(x_i), Sigma(x_i)), one value per query point.

        A normalised density of continuous x (each kernel is a Gaussian), so the values are in nats.

        Args:
            x: query points, (M, D); moved to the model's device and dtype.
            batch_size: query points per batch (memory is N x batch_size x D).

        Returns:
            (M,) log-densities in nats.

        Raises:
            RuntimeError: the model has not been fitted.
            ValueError: x is not a finite (M, D) matrix in the model's dimension, or batch_size < 1.
        """
        self._fitted()
        x = _as_points(x, "x", dtype=self.centers.dtype).to(self.centers.device)
        if x.shape[1] != self.input_dim:
            raise ValueError(f"x has dimension {x.shape[1]} but the model was fitted in dimension {self.input_dim}")
        batch_size = number(batch_size, "batch_size", "a positive integer", integer=True, minimum=1)
        tangents, offsets, noise = self(self.centers)                              # every kernel, once
        centres = self.centers + offsets
        out = [log_mean_exp(kernel_log_prob(chunk[None] - centres[:, None], tangents, noise), dim=0)
               for chunk in x.split(batch_size)]                                   # (N, B) -> (B,)
        return torch.cat(out)

    @torch.no_grad()
    def tangent_directions(self, x) -> torch.Tensor:
        """Orthonormal tangent directions at x: the right singular vectors of F(x), largest first.

        They span the same plane as the rows of F(x) and are the eigenvectors of F(x)^T F(x), the
        directions in which the kernel at x is stretched.

        Args:
            x: points, (B, D); moved to the model's device and dtype.

        Returns:
            (B, d, D), each row of unit length (its sign is arbitrary).

        Raises:
            ValueError: x is not a finite (B, D) matrix in the model's dimension.
        """
        x = _as_points(x, "x", dtype=self.shift.dtype).to(self.shift.device)
        tangents, _, _ = self(x)
        return torch.linalg.svd(tangents, full_matrices=False)[2]


def neighbor_loss(model: NonLocalManifoldParzen, x: torch.Tensor, neighbors: torch.Tensor,
                  mean_neighbors: int | None = None) -> torch.Tensor:
    r"""The training criterion: mean negative log-likelihood of each point's neighbours under its kernel.

    .. math::
        L = -\frac{1}{N k} \sum_i \sum_{j \in \mathcal N_k(i)} \log \mathcal N\big(x_j;\ x_i + \mu(x_i),\
            \sigma^2(x_i) I + F(x_i)^\top F(x_i)\big)

    (Bengio, Larochelle and Vincent, 2006.) Only the first `mean_neighbors` (k_mu) columns of
    `neighbors` pass a gradient to mu; for the others mu enters as a constant (detached).

    Args:
        model: a `NonLocalManifoldParzen`.
        x: the training points, (N, D), in the model's dtype and device.
        neighbors: (N, k) indices of each point's neighbours, nearest first (`parzen.neighbor_indices`).
        mean_neighbors: k_mu in 1..k; None for k.

    Returns:
        A 0-d tensor, nats per neighbour pair (differentiable in the model's parameters).

    Raises:
        TypeError: mean_neighbors is not an integer.
        ValueError: neighbors is not (N, k) for the N rows of x, or mean_neighbors outside 1..k.
    """
    if neighbors.dim() != 2 or len(neighbors) != len(x):
        raise ValueError(f"neighbors must have shape (N, k) with N = {len(x)}, got {tuple(neighbors.shape)}")
    k = neighbors.shape[1]
    k_mu = k if mean_neighbors is None else number(mean_neighbors, "mean_neighbors", f"an integer in 1..k = {k}",
                                                   integer=True, minimum=1, maximum=k)
    tangents, offsets, noise = model(x)                                            # at every x_i
    differences = x[neighbors] - x[:, None, :]                                     # x_j - x_i, (N, k, D)
    learns_mu = (torch.arange(k, device=x.device) < k_mu)[None, :, None]           # (1, k, 1)
    offset = torch.where(learns_mu, offsets[:, None, :], offsets.detach()[:, None, :])   # mu(x_i), (N, k, D)
    return -kernel_log_prob(differences - offset, tangents, noise).mean()


def fit_nonlocal_manifold_parzen(x, num_neighbors: int = 10, dim: int = 1, *, mean_neighbors: int | None = None,
                                 hidden: int = 30, noise_floor: float = 0.01, steps: int = 1000, lr: float = 1e-2,
                                 seed: int = 0) -> tuple[NonLocalManifoldParzen, list[float]]:
    """Fit non-local manifold Parzen windows (Bengio, Larochelle and Vincent, 2006) by Adam on `neighbor_loss`.

    Full batch: every step uses all N points and their k neighbours. The network is initialised
    from `seed` (without touching the global random state) with mu = 0, sigma^2(x) about the mean
    squared distance to a neighbour per dimension and short tangent vectors, so training starts
    from nearly round kernels the size of a neighbourhood.

    Args:
        x: training points, (N, D), N >= 2; the model takes x's dtype and device.
        num_neighbors: k, the neighbours whose likelihood trains each kernel, 1..N - 1.
        dim: d, tangent vectors per kernel, 1..D.
        mean_neighbors: k_mu, 1..k (None for k): the nearest neighbours that train mu.
        hidden: tanh hidden units.
        noise_floor: sigma_0^2 > 0, the smallest variance in any direction (squared data units).
        steps: Adam steps, >= 1.
        lr: Adam's learning rate, > 0.
        seed: the network's initialisation.

    Returns:
        The fitted model (eval mode, its `centers` = x) and the loss of each step, before its update
            (nats per neighbour pair).

    Raises:
        TypeError: a count that is not an integer, or a rate that is not a number (bool included).
        ValueError: x not a finite (N, D) matrix with N >= 2, or an argument outside its range.
        FloatingPointError: the loss became NaN or infinite during training.
    """
    x = _as_points(x, "x", min_points=2)
    n, input_dim = x.shape
    num_neighbors = number(num_neighbors, "num_neighbors", "a positive integer (k)", integer=True, minimum=1)
    steps = number(steps, "steps", "a positive integer", integer=True, minimum=1)
    lr = _check_positive("lr", lr)
    seed = number(seed, "seed", "an integer", integer=True)
    mean_neighbors = None if mean_neighbors is None else number(
        mean_neighbors, "mean_neighbors", f"an integer in 1..k = {num_neighbors}", integer=True, minimum=1,
        maximum=num_neighbors)
    neighbors = neighbor_indices(x, num_neighbors)                                 # (N, k), nearest first
    with torch.random.fork_rng(devices=[]):                                         # the caller's random state is kept
        torch.manual_seed(seed)
        model = NonLocalManifoldParzen(input_dim, dim, hidden, noise_floor)
    model = model.to(device=x.device, dtype=x.dtype)
    squared = ((x[neighbors] - x[:, None, :]) ** 2).sum(2).mean() / input_dim      # per-dimension spread of a neighbour
    with torch.no_grad():
        model.shift.copy_(x.mean(0))
        model.scale.copy_(x.std().clamp_min(1e-12))                                  # one scale for every coordinate
        start = (squared / model.scale**2).clamp_min(1e-6)
        model.noise_layer.bias.fill_(float(start + torch.log(-torch.expm1(-start))))   # softplus^-1
        model.noise_layer.weight.zero_()
        model.tangent_layer.weight.mul_(start.sqrt())                                # |F| about a neighbour's distance / 3
        model.tangent_layer.bias.zero_()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        loss = neighbor_loss(model, x, neighbors, mean_neighbors)                 # forward: nats per pair
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the loss became {loss.item()} at step {step}; try a smaller lr "
                                     f"or a larger noise_floor")
        optimizer.zero_grad()
        loss.backward()                                                            # backward
        optimizer.step()                                                           # update
        losses.append(loss.item())
    model.centers = x.detach().clone()
    return model.eval(), losses
