"""The masks of a raster-order autoregressive convolution, and the masked convolution itself.

A PixelCNN's logit l_j for pixel j (raster order: row by row, left to right) may depend on
x_1, ..., x_{j-1} only. A convolution respects that when its kernel is multiplied by a fixed 0/1
mask that keeps only the taps before the centre (van den Oord et al., 2016a, "Pixel recurrent
neural networks", section 3.4 and figure 2): `causal_mask` builds the masks 'A' and 'B', and
`vertical_mask` / `horizontal_mask` the two stacks' masks of the gated PixelCNN (van den Oord et al.,
2016b). `MaskedConv2d` applies any of them. The models are in `edu_gen.pixelcnn` (which re-exports
everything here) and `edu_gen.pixelcnn_gated`. Introduced in the chapter "PixelCNN" (label ch-pixelcnn).
"""

from __future__ import annotations

import torch
from torch import nn

from edu_gen._checks import number

MASK_TYPES = ("A", "B")


def _check_kernel(kernel_size, name: str = "kernel_size") -> int:
    k = number(kernel_size, name, "an odd int >= 1 (the kernel needs a centre pixel)", integer=True, minimum=1)
    if k % 2 == 0:
        raise ValueError(f"{name} must be odd so that the kernel has a centre pixel, got {k}")
    return k


def _check_mask_type(mask_type) -> str:
    if mask_type not in MASK_TYPES:
        raise ValueError(f"mask_type must be 'A' (first layer, centre excluded) or 'B' (later layers, "
                         f"centre included), got {mask_type!r}")
    return mask_type


def _check_first(first) -> bool:
    if not isinstance(first, bool):
        raise TypeError(f"first must be a bool (True for the first layer, which reads the image), got {first!r}")
    return first


def causal_mask(kernel_size: int, mask_type: str) -> torch.Tensor:
    """The (k, k) mask of a raster-order causal convolution: 1 where the kernel may look.

    With the centre at (c, c), c = k // 2, the mask keeps every row above the centre, and in the
    centre row the columns left of the centre; mask 'B' also keeps the centre itself, mask 'A'
    does not. The first layer reads the image and uses 'A' (pixel j must not see x_j); later layers
    read features at position j that depend only on x_<j, so they may use them ('B').
    Source: van den Oord et al. (2016a), section 3.4 and figure 2.

    Args:
        kernel_size: k, an odd int >= 1.
        mask_type: ``"A"`` or ``"B"``.

    Returns:
        (k, k) float32 tensor of 0s and 1s.

    Raises:
        TypeError: k is not an int. ValueError: k is even or < 1, or mask_type is neither 'A' nor 'B'.
    """
    k, mask_type = _check_kernel(kernel_size), _check_mask_type(mask_type)
    c = k // 2
    mask = torch.ones(k, k)
    mask[c, c + (mask_type == "B"):] = 0          # the centre row: the centre (for 'A') and right of it
    mask[c + 1:, :] = 0                           # every row below the centre
    return mask


def vertical_mask(kernel_size: int, first: bool) -> torch.Tensor:
    """(k, k) mask of the gated PixelCNN's vertical stack: the rows above the centre, all columns.

    Later layers (``first=False``) also keep the centre row: their input at row r holds features
    that depend on rows < r only, so the output at row r still depends on rows < r only. This
    replaces the paper's down-shift of the vertical stack (van den Oord et al., 2016b, section 2.2):
    the paper's vertical features include the current row and are shifted down one row before they
    reach the horizontal stack; here the first layer leaves the current row out instead.

    Args:
        kernel_size: k, an odd int >= 1.
        first: True for the first layer (reads the image: the centre row is left out).

    Returns:
        (k, k) float32 tensor of 0s and 1s.

    Raises:
        TypeError: k is not an int or first is not a bool. ValueError: k is even or < 1.
    """
    k, first = _check_kernel(kernel_size), _check_first(first)
    c = k // 2
    mask = torch.ones(k, k)
    mask[c + (not first):, :] = 0
    return mask


def horizontal_mask(kernel_size: int, first: bool) -> torch.Tensor:
    """(1, k) mask of the horizontal stack: the current row, left of the centre (and the centre unless first).

    Args:
        kernel_size: k, an odd int >= 1.
        first: True for the first layer (reads the image: the centre x_j is left out).

    Returns:
        (1, k) float32 tensor of 0s and 1s.

    Raises:
        TypeError: k is not an int or first is not a bool. ValueError: k is even or < 1.
    """
    k, first = _check_kernel(kernel_size), _check_first(first)
    mask = torch.ones(1, k)
    mask[0, k // 2 + (not first):] = 0
    return mask


class MaskedConv2d(nn.Conv2d):
    r"""A convolution whose kernel is multiplied by a fixed 0/1 mask at every call, 'same' padding.

    .. math:: y = (W \odot M) * x + b

    Inputs: x (B, in_channels, H, W). Output: (B, out_channels, H, W). The mask lives in a buffer
    (moved with the module, never trained; the weights under a 0 get zero gradient). It is part of
    the state dict, and loading a state dict whose mask differs from this layer's is refused (a
    checkpoint of another mask type, or of a broken mask, would otherwise replace the mask silently).

    Args:
        in_channels, out_channels: channel counts, ints >= 1.
        kernel_size: k, an odd int (a k x k kernel with the raster mask `causal_mask(k, mask_type)`).
        mask_type: ``"A"`` (centre excluded: the first layer) or ``"B"`` (centre included).
        mask: instead of mask_type, any (kh, kw) 0/1 tensor with odd sides (e.g. `vertical_mask`,
            `horizontal_mask`); the kernel then has the mask's shape.

    Raises:
        TypeError: mask is not a tensor. ValueError: an even kernel size, an unknown mask type, a mask
        with an even side or with values other than 0 and 1.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, mask_type: str = "B",
                 mask: torch.Tensor | None = None):
        if mask is None:
            mask = causal_mask(kernel_size, mask_type)
        elif not isinstance(mask, torch.Tensor):
            raise TypeError(f"mask must be a (kh, kw) tensor of 0s and 1s, got {type(mask).__name__}")
        elif mask.dim() != 2 or mask.shape[0] % 2 == 0 or mask.shape[1] % 2 == 0:
            raise ValueError(f"mask must be a (kh, kw) tensor with odd sides, got shape {tuple(mask.shape)}")
        elif not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError("mask must hold only 0s and 1s")
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            number(value, name, "an int >= 1", integer=True, minimum=1)
        kh, kw = mask.shape
        super().__init__(in_channels, out_channels, (kh, kw), padding=(kh // 2, kw // 2))
        self.register_buffer("mask", mask.to(self.weight.dtype).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The masked convolution of x.

        Args:
            x: (B, in_channels, H, W), the module's dtype.

        Returns:
            (B, out_channels, H, W).

        Raises:
            RuntimeError: x's channels or dtype do not match the layer (PyTorch's message).
        """
        return self._conv_forward(x, self.weight * self.mask, self.bias)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        saved = state_dict.get(prefix + "mask")
        if saved is not None and (saved.shape != self.mask.shape or not torch.equal(saved.to(self.mask), self.mask)):
            error_msgs.append(f"{prefix}mask: the checkpoint's mask {saved.to(torch.int).tolist()} differs from this "
                              f"layer's {self.mask.to(torch.int).tolist()} (a checkpoint of another configuration or "
                              f"of a broken mask); build the model with the checkpoint's configuration")
            state_dict = {k: v for k, v in state_dict.items() if k != prefix + "mask"}
            state_dict[prefix + "mask"] = self.mask
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)


__all__ = ["MASK_TYPES", "causal_mask", "vertical_mask", "horizontal_mask", "MaskedConv2d"]
