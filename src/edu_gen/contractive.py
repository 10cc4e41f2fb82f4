r"""The contractive autoencoder's penalty: the Frobenius norm of the encoder's Jacobian.

Rifai et al. (2011) add :math:`\lambda \lVert J_h(x) \rVert_F^2` to the reconstruction loss, where
:math:`J_h(x) = \partial h / \partial x` is the (d, D) = (code_dim, input_dim) Jacobian of the encoder. It
is what a stochastic penalty :math:`\mathbb E \lVert h(x) - h(x + \varepsilon)\rVert^2` becomes as the
noise shrinks: to first order :math:`h(x + \varepsilon) - h(x) = J_h(x)\,\varepsilon`, so with
:math:`\varepsilon \sim \mathcal{N}(0, \sigma^2 I)` the expectation is :math:`\sigma^2 \lVert J_h(x)\rVert_F^2`
(the lecture's slide drops the :math:`\sigma^2`; chapter 3 measures it).

For one sigmoid layer :math:`h = \operatorname{sigm}(Wx + b)`, :math:`J_{jk} = h_j(1 - h_j) W_{jk}`, so

.. math:: \lVert J_h(x) \rVert_F^2 = \sum_j \big(h_j(1 - h_j)\big)^2 \lVert W_j \rVert^2

costs one forward pass (`contractive_penalty`), where autograd needs one backward pass per
code unit (`jacobian_penalty`, any encoder, used to check the formula). The CAE's loss is
:math:`\mathcal{L}_{CAE} = \sum_i \ell(x^{(i)}, g(h(x^{(i)}))) + \lambda \lVert J_h(x^{(i)}) \rVert_F^2`
(Rifai et al. 2011, eq. 7); with an untied decoder it can be lowered by shrinking W and growing
the decoder, which is why the paper ties :math:`W' = W^\top` (chapter 3 measures both).

Introduced in Chapter 3 (Autoencoders).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import jacrev, vmap

from edu_gen._checks import number


def sigmoid_layer(encoder: nn.Module) -> nn.Linear:
    """The Linear layer of an encoder that is ``[Flatten,] Linear, Sigmoid``; anything else is refused.

    Args:
        encoder: an ``nn.Sequential`` (or a single module).

    Raises:
        ValueError: the encoder is not a single sigmoid layer.
    """
    layers = list(encoder) if isinstance(encoder, nn.Sequential) else [encoder]
    layers = [m for m in layers if not isinstance(m, nn.Flatten)]
    kinds = [type(m).__name__ for m in layers]
    if len(layers) != 2 or not isinstance(layers[0], nn.Linear) or not isinstance(layers[1], nn.Sigmoid):
        raise ValueError(
            "the analytic contractive penalty needs an encoder that is a single sigmoid layer, "
            f"nn.Sequential([nn.Flatten(),] nn.Linear, nn.Sigmoid); got layers {kinds}. "
            "Use jacobian_penalty for any other encoder."
        )
    return layers[0]


def contractive_penalty(encoder: nn.Module, x: torch.Tensor) -> torch.Tensor:
    r"""Analytic :math:`\lVert J_h(x)\rVert_F^2 = \sum_j (h_j(1-h_j))^2 \lVert W_j\rVert^2`, one value per example.

    Args:
        encoder: a single sigmoid layer (see `sigmoid_layer`), e.g. ``Autoencoder(...).encoder``
            with ``hidden_dims=()`` and ``activation="sigmoid"``.
        x: inputs (B, ...) whose flattened size is the Linear layer's input size.

    Returns:
        (B,) penalties, differentiable with respect to W and b.

    Raises:
        ValueError: the encoder is not a single sigmoid layer, or x has the wrong number of entries.
    """
    linear = sigmoid_layer(encoder)
    flat = x.flatten(1) if x.dim() > 1 else x.reshape(len(x), -1)     # an empty batch (B = 0) too
    if flat.shape[1] != linear.in_features:
        raise ValueError(f"the encoder takes {linear.in_features} inputs per example, got x of shape {tuple(x.shape)}")
    h = torch.sigmoid(linear(flat))  # (B, code_dim)
    row_norms = linear.weight.pow(2).sum(dim=1)  # ||W_j||^2, (code_dim,)
    return (h * (1 - h)).pow(2) @ row_norms  # (B,)


def jacobian_penalty(encoder: nn.Module, x: torch.Tensor) -> torch.Tensor:
    r""":math:`\lVert J_h(x)\rVert_F^2` from the full Jacobian by autograd (`torch.func`), one value per example.

    Works for any encoder (B, ...) -> (B, code_dim); builds a (code_dim, *x.shape[1:]) Jacobian per
    example, so it costs code_dim backward passes. Use it to check `contractive_penalty`.

    Args:
        encoder: any module mapping (B, ...) to (B, code_dim).
        x: inputs (B, ...), B >= 1.

    Returns:
        (B,) penalties, on x's device.

    Raises:
        Whatever the encoder raises for x of the wrong shape.
    """

    def h(one: torch.Tensor) -> torch.Tensor:
        return encoder(one.unsqueeze(0)).squeeze(0)  # (code_dim,)

    jac = vmap(jacrev(h))(x)  # (B, code_dim, *x.shape[1:])
    return jac.flatten(1).pow(2).sum(dim=1)


def saturation(code: torch.Tensor, margin: float = 0.05) -> float:
    """Fraction of sigmoid code units within `margin` of 0 or 1 (saturated), over a batch (B, code_dim).

    Args:
        code: sigmoid codes (B, code_dim) in [0, 1], B >= 1.
        margin: a number in [0, 0.5].

    Returns:
        A Python float in [0, 1].

    Raises:
        TypeError: margin is not a number (bool included).
        ValueError: margin outside [0, 0.5], or an empty code.
    """
    margin = number(margin, "margin", "a number in [0, 0.5]", minimum=0.0, maximum=0.5)
    if code.numel() == 0:
        raise ValueError(f"code must hold at least one value, got shape {tuple(code.shape)}")
    return ((code < margin) | (code > 1 - margin)).float().mean().item()
