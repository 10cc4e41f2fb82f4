r"""A restricted Boltzmann machine (RBM) with binary units, trained by contrastive divergence.

The RBM is the stochastic cousin of the tied one-layer autoencoder: the same parameters
(W of shape (d, D), hidden bias b, visible bias c), but the code is a random variable,

.. math::
    E(v, h) = -c^\top v - b^\top h - h^\top W v, \qquad p(v, h) = e^{-E(v, h)} / Z,

    p(h_j = 1 \mid v) = \operatorname{sigm}(W_j v + b_j), \qquad p(v_k = 1 \mid h) = \operatorname{sigm}(W_{:k}^\top h + c_k).

Summing out h gives the free energy :math:`F(v) = -c^\top v - \sum_j \operatorname{softplus}(W_j v + b_j)`
with :math:`p(v) = e^{-F(v)}/Z`. The log-likelihood gradient is
:math:`-\partial F(v)/\partial\theta + \mathbb E_{p(v')}[\partial F(v')/\partial\theta]`; contrastive
divergence (CD-k, Hinton 2002) replaces the model expectation by a sample v' reached with k Gibbs
steps started at the data, so the loss to minimise is :math:`F(v) - F(v')` with v' held fixed.

The encoder is ``Flatten, Linear, Sigmoid`` (it returns p(h = 1 | v)), the same form as a
one-layer `edu_gen.autoencoders.Autoencoder`, so its features, Jacobian and saturation are measured
with the same code.

Introduced in Chapter 3 (Autoencoders).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from edu_gen._checks import number, unit_interval


class RBM(nn.Module):
    """Binary-binary RBM. `visible` inputs (flattened), `hidden` units.

    Inputs are probabilities in [0, 1] (grey levels are used as the mean of the visible units,
    as is usual for MNIST), shaped (B, visible) or (B, 1, H, W) with H * W == visible. Results
    lie on the model's device; an empty batch (B = 0) gives empty results.

    Args:
        visible: the number of visible units, an int >= 1 (any integer kind).
        hidden: the number of hidden units, an int >= 1.
        generator: for reproducible initial weights (N(0, 0.01^2); zero biases).

    Raises:
        TypeError: visible or hidden is not an integer (bool included).
        ValueError: visible or hidden < 1.
    """

    def __init__(self, visible: int = 784, hidden: int = 500, generator: torch.Generator | None = None):
        super().__init__()
        visible = number(visible, "visible", "an int >= 1 (an RBM needs at least one visible unit)", integer=True, minimum=1)
        hidden = number(hidden, "hidden", "an int >= 1 (an RBM needs at least one hidden unit)", integer=True, minimum=1)
        linear = nn.Linear(visible, hidden)
        with torch.no_grad():  # small weights, as in Hinton's practical guide (std 0.01), zero biases
            linear.weight.normal_(0.0, 0.01, generator=generator)
            linear.bias.zero_()
        self.encoder = nn.Sequential(nn.Flatten(), linear, nn.Sigmoid())  # v -> p(h = 1 | v)
        self.visible_bias = nn.Parameter(torch.zeros(visible))  # c

    @property
    def weight(self) -> torch.Tensor:
        """W, shape (hidden, visible)."""
        return self.encoder[1].weight

    @property
    def hidden_bias(self) -> torch.Tensor:
        """b, shape (hidden,)."""
        return self.encoder[1].bias

    def _flat(self, v: torch.Tensor) -> torch.Tensor:
        visible = self.weight.shape[1]
        flat = v.flatten(1) if v.dim() > 1 else v                       # an empty batch (B = 0) too
        if v.dim() < 2 or flat.shape[1] != visible:
            raise ValueError(f"RBM expected inputs of shape (B, {visible}) or (B, 1, H, W) with {visible} pixels, got {tuple(v.shape)}")
        if not torch.is_floating_point(flat):
            raise TypeError(f"RBM expected floating-point inputs in [0, 1], got dtype {flat.dtype}")
        return flat

    def hidden_probability(self, v: torch.Tensor) -> torch.Tensor:
        """p(h = 1 | v) = sigm(W v + b), shape (B, hidden).

        Args:
            v: visible values (B, visible) or (B, 1, H, W) with H * W = visible, floating point.

        Raises:
            TypeError: v is not floating point.
            ValueError: v does not hold `visible` values per example.
        """
        return self.encoder(self._flat(v))

    def visible_probability(self, h: torch.Tensor) -> torch.Tensor:
        """p(v = 1 | h) = sigm(W^T h + c), shape (B, visible).

        Args:
            h: hidden values (B, hidden), floating point.

        Raises:
            RuntimeError: h does not have `hidden` columns (torch's shape error).
        """
        return torch.sigmoid(h @ self.weight + self.visible_bias)

    def energy(self, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """E(v, h) = -c.v - b.h - h^T W v, one value per row, shape (B,).

        Args:
            v: visible values, as in `hidden_probability`. h: hidden values (B, hidden).

        Raises:
            TypeError, ValueError: as `hidden_probability` for v.
            RuntimeError: h does not have `hidden` columns (torch's shape error).
        """
        v = self._flat(v)
        return -(v @ self.visible_bias) - (h @ self.hidden_bias) - ((h @ self.weight) * v).sum(1)

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """F(v) = -log sum_h exp(-E(v, h)) = -c.v - sum_j softplus(W_j v + b_j), shape (B,).

        Args:
            v: visible values (B, visible) or (B, 1, H, W) with H * W = visible, floating point.

        Raises:
            TypeError: v is not floating point.
            ValueError: v does not hold `visible` values per example.
        """
        v = self._flat(v)
        return -(v @ self.visible_bias) - F.softplus(v @ self.weight.T + self.hidden_bias).sum(1)

    @torch.no_grad()
    def gibbs_step(self, v: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One sweep v -> h ~ p(h | v) -> v' ~ p(v | h); returns the binary v', shape (B, visible).

        Args:
            v: visible values in [0, 1], as in `hidden_probability`.
            generator: for reproducible draws, on the model's device.

        Raises:
            TypeError, ValueError: as `hidden_probability`.
        """
        h = torch.bernoulli(self.hidden_probability(v), generator=generator)
        return torch.bernoulli(self.visible_probability(h), generator=generator)

    def cd_loss(self, v: torch.Tensor, k: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
        """Contrastive-divergence surrogate: mean of F(v) - F(v_k), v_k after k Gibbs steps from v (no gradient).

        Its gradient is the CD-k estimate of minus the log-likelihood gradient. The value itself is
        not a likelihood (it can be negative); monitor reconstructions or free energies instead.

        Args:
            v: a batch of probabilities in [0, 1], as in `hidden_probability`.
            k: Gibbs steps, an int >= 1. generator: for reproducible draws.

        Returns:
            A scalar tensor.

        Raises:
            TypeError: v not floating point, or k not an integer.
            ValueError: k < 1, or v outside [0, 1] or NaN.
        """
        k = number(k, "k", "an int >= 1 (contrastive divergence needs k >= 1 Gibbs steps)", integer=True, minimum=1)
        v = self._flat(v)
        unit_interval(v, "RBM inputs must be probabilities")               # NaN refused too
        negative = v
        for _ in range(k):
            negative = self.gibbs_step(negative, generator)
        return (self.free_energy(v) - self.free_energy(negative)).mean()

    def reconstruct(self, v: torch.Tensor) -> torch.Tensor:
        """Mean-field reconstruction p(v = 1 | h = p(h = 1 | v)), the deterministic path a tied AE would take.

        Args:
            v: visible values (B, visible) or (B, 1, H, W) with H * W = visible, floating point.

        Raises:
            TypeError: v is not floating point.
            ValueError: v does not hold `visible` values per example.
        """
        return self.visible_probability(self.hidden_probability(v))

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        """p(h = 1 | v), shape (B, hidden): the RBM used as an encoder.

        Args:
            v: visible values (B, visible) or (B, 1, H, W) with H * W = visible, floating point.

        Raises:
            TypeError: v is not floating point.
            ValueError: v does not hold `visible` values per example.
        """
        return self.hidden_probability(v)
