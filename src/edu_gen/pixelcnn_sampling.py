"""Sampling from a PixelCNN pixel by pixel: the naive sampler and an exact fast one.

Both draw x_j = 1 when u_j < sigm(l_j(x_<j)), in raster order, with the uniforms u (n, H, W) drawn
all at once from `generator` before the first pixel. With the same generator both samplers use the
same uniforms, so they return the same images whenever they compute the same logits.

- ``"naive"``: one forward pass of the whole network on the whole image per pixel, H * W passes.
- ``"fast"``: only what can change. For `PixelCNN`, the rows the current row can depend on
  (`PixelCNN.rows_needed` of them above it). For `GatedPixelCNN`, the vertical stack once per row
  (its features at row r depend on rows < r only, so they are fixed while row r is drawn), then per
  pixel the horizontal stack and the head on that one row, and only on the columns that can reach
  the pixel (`GatedPixelCNN.rows_needed` of them to its left: the horizontal reach is the vertical
  one). This is the idea of caching what does not change, as in Ramachandran et al. (2017), "Fast
  generation for convolutional autoregressive models", here at the granularity of rows.

Introduced in the chapter "PixelCNN" (label ch-pixelcnn).
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

from edu_gen import pixelcnn as pc

METHODS = ("naive", "fast")


def _check(model, n, shape, generator, method) -> tuple[int, int, int]:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be an int >= 1 (how many images), got {n!r}")
    if (not isinstance(shape, (tuple, list)) or len(shape) != 2
            or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in shape)):
        raise ValueError(f"shape must be (H, W), two ints >= 1 (the image size to draw), got {shape!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    if method not in METHODS:
        raise ValueError(f"method must be 'naive' or 'fast', got {method!r}")
    if method == "fast" and not isinstance(model, (pc.PixelCNN, pc.GatedPixelCNN)):
        raise TypeError(f"method='fast' needs a PixelCNN or GatedPixelCNN (it reads their layers), "
                        f"got {type(model).__name__}; use method='naive'")
    return int(n), int(shape[0]), int(shape[1])


def _draw(u: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """x = 1 where u < sigm(logit): a Bernoulli draw with the given uniforms, (n,) -> (n,) of 0./1."""
    return (u < torch.sigmoid(logits)).to(logits.dtype)


def _naive(model, x, u, first_row=0):
    _, _, height, width = x.shape
    for r in range(first_row, height):
        for c in range(width):
            x[:, 0, r, c] = _draw(u[:, r, c], model(x)[:, 0, r, c])          # one full pass per pixel
    return x


def _fast_pixelcnn(model: pc.PixelCNN, x, u, first_row=0):
    _, _, height, width = x.shape
    reach = model.rows_needed()
    for r in range(first_row, height):
        top = max(0, r - reach)                     # rows above `top` cannot reach row r
        for c in range(width):
            logits = model(x[:, :, top:r + 1, :])   # (n, 1, r + 1 - top, W)
            x[:, 0, r, c] = _draw(u[:, r, c], logits[:, 0, -1, c])
    return x


def _fast_gated(model: pc.GatedPixelCNN, x, u, first_row=0):
    _, _, height, width = x.shape
    reach = model.rows_needed()                                   # rows above r that the vertical stack sees
    for r in range(first_row, height):
        # vertical stack, once per row: at row r it depends on rows < r only, all drawn already
        top = max(0, r - reach)
        v, links = x[:, :, top:r + 1, :], []
        for layer in model.gated:
            v_pre = layer.v_conv(v)                                      # (n, 2C, rows, W)
            links.append(layer.link(v_pre[:, :, -1:, :]))                # (n, 2C, 1, W): row r only
            v = pc.gate(v_pre)
        # horizontal stack and head on row r alone, once per pixel, on the columns that can reach column c
        # (the horizontal reach equals the vertical one: k1 // 2 + layers * (k // 2) to the left)
        for c in range(width):
            left = max(0, c - reach)
            h, skips = x[:, :, r:r + 1, left:c + 1], 0                   # (n, 1, 1, c + 1 - left)
            for layer, link in zip(model.gated, links):
                h, skip = layer.horizontal(h, link[..., left:c + 1])
                skips = skips + skip
            logits = model.head(skips)                                   # (n, 1, 1, c + 1 - left)
            x[:, 0, r, c] = _draw(u[:, r, c], logits[:, 0, 0, -1])
    return x


@torch.no_grad()
def sample(model: nn.Module, n: int, shape: tuple[int, int] = (28, 28), generator: torch.Generator | None = None,
           method: str = "naive") -> torch.Tensor:
    """Draw n binary images from an autoregressive model of binary pixels, in raster order.

    Args:
        model: maps (B, 1, H, W) to logits of that shape, logit j a function of x_<j (a `PixelCNN` or
            `GatedPixelCNN` for ``method="fast"``); put in eval mode for the draw and restored after.
        n: how many images, an int >= 1.
        shape: (H, W), ints >= 1.
        generator: the source of the uniforms u (n, H, W), drawn on the CPU before the first pixel;
            the same generator state gives the same images with either method.
        method: ``"naive"`` (H*W full passes) or ``"fast"`` (see the module docstring).

    Returns:
        (n, 1, H, W) float32 tensor of 0s and 1s on the model's device.

    Raises:
        TypeError: model is not a Module, generator not a torch.Generator, or "fast" for another model.
        ValueError: n < 1, shape not two ints >= 1, or an unknown method.
    """
    n, height, width = _check(model, n, shape, generator, method)
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    dtype = parameter.dtype if parameter is not None else torch.float32
    u = torch.rand(n, height, width, generator=generator).to(device=device, dtype=dtype)
    x = torch.zeros(n, 1, height, width, device=device, dtype=dtype)
    was_training = model.training
    model.eval()
    try:
        if method == "naive":
            x = _naive(model, x, u)
        elif isinstance(model, pc.GatedPixelCNN):
            x = _fast_gated(model, x, u)
        else:
            x = _fast_pixelcnn(model, x, u)
    finally:
        model.train(was_training)
    return x


def complete(model: nn.Module, x: torch.Tensor, rows: int, generator: torch.Generator | None = None,
             method: str = "fast") -> torch.Tensor:
    """Keep the first `rows` rows of each image in x and draw the rest pixel by pixel (autocompletion).

    Args:
        model: as in `sample`. x: (n, 1, H, W) binary floats. rows: how many top rows to keep, 0 <= rows <= H.
        generator, method: as in `sample`; uniforms are drawn for every pixel (those of the kept rows
            unused), so a completion uses the same uniforms as `sample` would at the same pixels.

    Returns:
        (n, 1, H, W): x's first `rows` rows, the rest sampled from p(x_rest | x_kept).

    Raises:
        ValueError: x not binary (n, 1, H, W), or rows outside [0, H].
    """
    pc._check_images(x)
    n, _, height, width = x.shape
    if isinstance(rows, bool) or not isinstance(rows, numbers.Integral) or not 0 <= rows <= height:
        raise ValueError(f"rows must be an int in [0, {height}] (how many top rows to keep), got {rows!r}")
    _check(model, n, (height, width), generator, method)
    u = torch.rand(n, height, width, generator=generator).to(device=x.device, dtype=x.dtype)
    start = x.clone()
    start[:, :, rows:] = 0
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            if method == "naive":
                return _naive(model, start, u, rows)
            if isinstance(model, pc.GatedPixelCNN):
                return _fast_gated(model, start, u, rows)
            return _fast_pixelcnn(model, start, u, rows)
    finally:
        model.train(was_training)
