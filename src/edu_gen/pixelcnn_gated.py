"""The gated PixelCNN: vertical and horizontal stacks, gated units, residual and skip connections.

Stacked raster masks leave a blind spot (see `edu_gen.pixelcnn.PixelCNN`). The gated PixelCNN of
van den Oord et al. (2016b), "Conditional image generation with PixelCNN decoders", section 2.2,
removes it with two stacks: a vertical one that sees every pixel in the rows above, and a
horizontal one that sees the current row to the left and adds the vertical stack's features.
Here without the conditioning vector. Everything is re-exported by `edu_gen.pixelcnn`.
Introduced in the chapter "PixelCNN" (label ch-pixelcnn).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from edu_gen._checks import number
from edu_gen.pixelcnn_masks import MaskedConv2d, _check_first, _check_kernel, horizontal_mask, vertical_mask


def _check_model_input(x, name: str = "x") -> None:
    """(B, 1, H, W) floating point; values are not read (the causality check feeds non-binary inputs)."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor (B, 1, H, W), got "
                        f"{x.dtype if isinstance(x, torch.Tensor) else type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(f"{name} must have shape (B, 1, H, W) (one channel of binary pixels), got {tuple(x.shape)}")


def gate(a: torch.Tensor) -> torch.Tensor:
    r"""Gated activation :math:`\tanh(a_1) \odot \operatorname{sigm}(a_2)`, a = (a_1, a_2) split on channels.

    Source: van den Oord et al. (2016b), equation (2).

    Args:
        a: (B, 2C, ...) pre-activations; the first C channels go through tanh, the last C through sigm.

    Returns:
        (B, C, ...), each value in (-1, 1).

    Raises:
        ValueError: a has fewer than 2 dimensions or an odd number of channels.
    """
    if not isinstance(a, torch.Tensor) or a.dim() < 2 or a.shape[1] % 2:
        raise ValueError(f"a must be a tensor (B, 2C, ...) with an even number of channels, got "
                         f"{tuple(a.shape) if isinstance(a, torch.Tensor) else type(a).__name__}")
    a1, a2 = a.chunk(2, dim=1)
    return torch.tanh(a1) * torch.sigmoid(a2)


class GatedLayer(nn.Module):
    """One gated layer with a vertical and a horizontal stack (van den Oord et al., 2016b, figure 2).

    Vertical: v' = gate(V * v), V masked by `vertical_mask` (rows above only, so v' at row r
    depends on rows < r). Horizontal: a = H * h + link(V * v) with a 1 x k kernel masked by
    `horizontal_mask`; h' = h + out(gate(a)) (the residual only when not first: in the first layer
    h is the image itself and h + ... would hand x_j to output j), and skip = skip(gate(a)).
    Information flows from the vertical stack to the horizontal one, never back: the horizontal
    stack at (r, c) has seen x_{r, c-1}, and a vertical layer reading it would pass that pixel up
    to positions left of it.

    Args:
        in_channels: channels of v and h (1 for the first layer, which reads the image).
        channels: C, channels of v', h' and skip.
        kernel_size: k, odd: the vertical kernel is k x k, the horizontal one 1 x k.
        first: True for the first layer (masks without the centre, no residual).

    Raises:
        TypeError, ValueError: a count that is not an int >= 1, an even k, first not a bool.
    """

    def __init__(self, in_channels: int, channels: int, kernel_size: int, first: bool):
        super().__init__()
        number(channels, "channels", "an int >= 1", integer=True, minimum=1)
        self.first = _check_first(first)
        self.v_conv = MaskedConv2d(in_channels, 2 * channels, mask=vertical_mask(kernel_size, first))
        self.h_conv = MaskedConv2d(in_channels, 2 * channels, mask=horizontal_mask(kernel_size, first))
        self.link = nn.Conv2d(2 * channels, 2 * channels, 1)      # vertical -> horizontal, 1x1: no mask needed
        self.out = nn.Conv2d(channels, channels, 1)
        self.skip = nn.Conv2d(channels, channels, 1)

    def forward(self, v: torch.Tensor, h: torch.Tensor):
        """One layer on both stacks.

        Args:
            v, h: (B, in_channels, H, W), the vertical and horizontal stacks' inputs (both x for the first layer).

        Returns:
            (v', h', skip), each (B, C, H, W).

        Raises:
            RuntimeError: a channel count that does not match the layer (PyTorch's message).
        """
        v_pre = self.v_conv(v)                                   # (B, 2C, H, W), rows < r
        return (gate(v_pre), *self.horizontal(h, self.link(v_pre)))

    def horizontal(self, h: torch.Tensor, link: torch.Tensor):
        """The horizontal half given the vertical stack's linked features; works on any number of rows.

        The fast sampler passes one row (H' = 1).

        Args:
            h: (B, in_channels, H', W). link: (B, 2C, H', W), ``self.link(V * v)`` on the same rows.

        Returns:
            (h', skip), each (B, C, H', W).

        Raises:
            RuntimeError: shapes that do not match the layer (PyTorch's message).
        """
        g = gate(self.h_conv(h) + link)                          # (B, C, H', W)
        h_new = self.out(g) if self.first else h + self.out(g)   # residual only after the first layer
        return h_new, self.skip(g)


@dataclass(frozen=True)
class GatedPixelCNNConfig:
    """Settings of `GatedPixelCNN`, small for a CPU.

    Attributes:
        channels: C, feature maps per stack (the gate reads 2C pre-activations).
        layers: gated layers after the first; each widens the receptive field by k // 2 per side.
        kernel_size: k of the later layers' vertical (k x k, rows above) and horizontal (1 x k) kernels.
        first_kernel: k1 of the first layer's kernels; it reads one channel (the image), so a large k1
            widens the field by k1 // 2 rows and columns at little cost (PixelCNN's first layer is 7 x 7).

    Raises:
        TypeError, ValueError: a count that is not an int >= 1, or an even kernel size.
    """

    channels: int = 32
    layers: int = 6
    kernel_size: int = 3
    first_kernel: int = 3

    def __post_init__(self):
        for name in ("channels", "layers"):
            number(getattr(self, name), name, "an int >= 1", integer=True, minimum=1)
        _check_kernel(self.kernel_size), _check_kernel(self.first_kernel, "first_kernel")


class GatedPixelCNN(nn.Module):
    """Gated PixelCNN: a first gated layer (masks without the centre), `layers` gated layers, skip head.

    logits = W2 relu(W1 relu(sum of the layers' skips)) with 1x1 convolutions W1, W2.
    Inputs: x (B, 1, H, W) binary floats. Output: logits (B, 1, H, W); l_j depends on every x_k, k < j
    within the receptive field (no blind spot). Source: van den Oord et al. (2016b), section 2.2, without
    the conditioning vector.

    Args:
        config: a `GatedPixelCNNConfig`.

    Raises:
        TypeError: config is not a `GatedPixelCNNConfig`.
    """

    def __init__(self, config: GatedPixelCNNConfig = GatedPixelCNNConfig()):
        super().__init__()
        if not isinstance(config, GatedPixelCNNConfig):
            raise TypeError(f"config must be a GatedPixelCNNConfig, got {type(config).__name__}")
        self.config = c = config
        self.gated = nn.ModuleList([GatedLayer(1, c.channels, c.first_kernel, first=True)] +
                                   [GatedLayer(c.channels, c.channels, c.kernel_size, first=False)
                                    for _ in range(c.layers)])
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(c.channels, c.channels, 1), nn.ReLU(),
                                  nn.Conv2d(c.channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits of every pixel, l_j a function of x_<j only.

        Args:
            x: (B, 1, H, W) floats (binary images; any values for the causality check).

        Returns:
            (B, 1, H, W) logits.

        Raises:
            TypeError: x is not a floating-point tensor. ValueError: x is not (B, 1, H, W).
        """
        _check_model_input(x)
        v, h, skips = x, x, 0
        for layer in self.gated:
            v, h, skip = layer(v, h)                             # each (B, C, H, W)
            skips = skips + skip
        return self.head(skips)                                  # (B, 1, H, W)

    def rows_needed(self) -> int:
        """How many rows above row r the logits of row r can depend on (the vertical stack's reach).

        Returns:
            first_kernel // 2 + layers * (kernel_size // 2).
        """
        return self.config.first_kernel // 2 + self.config.layers * (self.config.kernel_size // 2)


__all__ = ["gate", "GatedLayer", "GatedPixelCNNConfig", "GatedPixelCNN"]
