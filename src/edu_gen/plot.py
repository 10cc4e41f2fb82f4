"""Figures with one look for the whole book.

Every function takes tensors or arrays, draws on `ax` (a new figure when None), puts the key
number in the title you pass, and returns the Figure. Nothing here touches matplotlib's global
rcParams: the look is applied to each Axes by `_style`.

Introduced in Chapter 1 (Losses as maximum likelihood).
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

# One qualitative palette (colour-blind friendly, Okabe and Ito) for lines and classes.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
CLASS_COLOURS = plt.get_cmap("tab10")


def _numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _axes(ax, figsize=(5.0, 3.4)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax.figure, ax


def _style(ax, title=None, xlabel=None, ylabel=None) -> None:
    """The book's look, applied to one Axes."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(True, alpha=0.25, linewidth=0.6)
    if title:
        ax.set_title(title, fontsize=10)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)


def image_grid(images, nrow: int = 8, title: str | None = None, ax=None, padding: int = 2):
    """Show images in a grid.

    Args:
        images: (N, 1, H, W), (N, 3, H, W) or (N, H, W), values in [0, 1].
        nrow: images per row.
        title: figure title (put the number that matters in it).
        ax: draw here instead of a new figure.

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: images is not (N, 1, H, W), (N, 3, H, W) or (N, H, W).
    """
    from edu_gen._compat import make_grid

    images = torch.as_tensor(_numpy(images)).float()
    if images.dim() == 3:
        images = images.unsqueeze(1)
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images of shape (N, 1, H, W), (N, 3, H, W) or (N, H, W), got {tuple(images.shape)}")
    grid = make_grid(images.clamp(0, 1), nrow=nrow, padding=padding, pad_value=1.0)  # (3, H', W')
    rows = math.ceil(len(images) / nrow)
    fig, ax = _axes(ax, figsize=(min(1.0 * nrow, 10), min(1.0 * rows, 10) + 0.4))
    ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def filters(weights, image_shape, nrow: int = 10, title: str | None = None, ax=None):
    """Each row of a weight matrix drawn as an image: what a hidden unit responds to.

    Args:
        weights: (num_units, H * W), e.g. ``linear.weight`` of a first layer on H x W images.
        image_shape: (H, W).

    Each filter is scaled to [0, 1] on its own (its smallest weight black, its largest white), so
    units with small weights are as visible as units with large ones.

    Returns:
        The matplotlib Figure (of `ax` when given).

    Raises:
        ValueError: weights is not (num_units, H * W).
    """
    w = torch.as_tensor(_numpy(weights), dtype=torch.float32)
    h, wd = image_shape
    if w.dim() != 2 or w.shape[1] != h * wd:
        raise ValueError(f"expected weights of shape (num_units, {h} * {wd} = {h * wd}), got {tuple(w.shape)}")
    low, high = w.amin(1, keepdim=True), w.amax(1, keepdim=True)
    scaled = (w - low) / (high - low).clamp_min(1e-12)
    return image_grid(scaled.reshape(-1, 1, h, wd), nrow=nrow, title=title, ax=ax, padding=1)


def curves(
    x,
    ys: Mapping[str, Sequence[float]],
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    ax=None,
    logy: bool = False,
    styles: Mapping[str, str] | None = None,
    colors: Mapping[str, str] | None = None,
    logx: bool = False,
):
    """Line plot of several named curves over a shared x (x may be None: 0, 1, 2, ...).

    Args:
        styles: name -> matplotlib line style ("--", ":", "o-"), default a solid line.
        colors: name -> colour, default the book's palette in order; give two curves one
            colour to show that they belong together (a mean and its +-2 sigma band).
        logx, logy: logarithmic axes.

    Returns:
        The matplotlib Figure (of `ax` when given).

    Raises:
        ValueError: a curve's length differs from x's.
    """
    fig, ax = _axes(ax)
    for i, (name, y) in enumerate(ys.items()):
        y = _numpy(y).reshape(-1)
        xs = np.arange(len(y)) if x is None else _numpy(x).reshape(-1)
        if len(xs) != len(y):
            raise ValueError(f"curve {name!r} has {len(y)} values but x has {len(xs)}")
        colour = (colors or {}).get(name, PALETTE[i % len(PALETTE)])
        ax.plot(xs, y, (styles or {}).get(name, "-"), color=colour, label=name, linewidth=1.6)
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    if len(ys) > 1:
        ax.legend(frameon=False, fontsize=8)
    _style(ax, title, xlabel, ylabel)
    return fig


def training_curves(history, keys: Sequence[str] | None = None, title: str | None = None, ax=None, logy: bool = False, smooth: int = 0):
    """Loss (and other terms) against the training step.

    Args:
        history: an `edu_gen.train.History`, or a dict name -> list of per-step values.
        keys: which names to draw (default: all).
        smooth: if > 1, also draw a moving average over this many steps.

    Returns:
        The matplotlib Figure (of `ax` when given).

    Raises:
        KeyError: a key names no recorded curve.
    """
    if hasattr(history, "values") and hasattr(history, "steps"):
        values, steps = history.values, history.steps
    else:
        values, steps = dict(history), {k: list(range(len(v))) for k, v in dict(history).items()}
    keys = list(keys) if keys is not None else [k for k in values if len(values[k])]
    unknown = [k for k in keys if k not in values]
    if unknown:
        raise KeyError(f"no curve named {unknown}; available: {sorted(values)}")
    fig, ax = _axes(ax)
    for i, name in enumerate(keys):
        y, s = np.asarray(values[name], dtype=float), np.asarray(steps[name])
        colour = PALETTE[i % len(PALETTE)]
        if smooth > 1 and len(y) >= smooth:
            ax.plot(s, y, color=colour, alpha=0.25, linewidth=0.8)
            kernel = np.ones(smooth) / smooth
            ax.plot(s[smooth - 1 :], np.convolve(y, kernel, mode="valid"), color=colour, label=name, linewidth=1.6)
        else:
            ax.plot(s, y, color=colour, label=name, linewidth=1.6, marker="o" if len(y) < 30 else None, markersize=3)
    if logy:
        ax.set_yscale("log")
    if len(keys) > 1:
        ax.legend(frameon=False, fontsize=8)
    _style(ax, title, "step", None)
    return fig


def density_1d(
    x, curves: Mapping[str, Sequence[float]], samples=None, title: str | None = None, ax=None, bins: int = 60,
    samples_label: str = "samples",
):
    """1D densities on a grid, optionally over a normalised histogram of samples.

    Args:
        x: grid points (N,).
        curves: name -> density values on the grid (N,) (densities, not log-densities).
        samples: data points (M,) drawn as a histogram with area 1.
        samples_label: the histogram's legend entry ("training data", "generated", ...).

    Returns:
        The matplotlib Figure (of `ax` when given).

    Raises:
        ValueError: a density's length differs from the grid's.
    """
    fig, ax = _axes(ax)
    if samples is not None:
        ax.hist(_numpy(samples).reshape(-1), bins=bins, density=True, color="#999999", alpha=0.45, label=samples_label)
    x = _numpy(x).reshape(-1)
    for i, (name, y) in enumerate(curves.items()):
        y = _numpy(y).reshape(-1)
        if len(y) != len(x):
            raise ValueError(f"density {name!r} has {len(y)} values but the grid has {len(x)}")
        ax.plot(x, y, color=PALETTE[i % len(PALETTE)], label=name, linewidth=1.8)
    ax.legend(frameon=False, fontsize=8)
    _style(ax, title, "x", "density")
    return fig


def scatter_2d(
    points, labels=None, title: str | None = None, ax=None, size: float = 6.0, label_name: str = "label",
    equal_aspect: bool = True,
):
    """2D points, coloured by an integer label (classes) or a float (a continuous coordinate).

    Args:
        points: (N, 2).
        labels: (N,) integer classes (legend) or floats (colour bar), or None.
        equal_aspect: one unit is as long on both axes (right for embeddings and 2D data sets;
            pass False for x-y data such as a regression problem).

    Returns:
        The matplotlib Figure (of `ax` when given).

    Raises:
        ValueError: points is not (N, 2), or labels does not have N entries.
    """
    points = _numpy(points)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"expected points of shape (N, 2), got {points.shape}")
    fig, ax = _axes(ax, figsize=(4.2, 4.0))
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=size, color=PALETTE[0], alpha=0.7, linewidths=0)
    else:
        labels = _numpy(labels).reshape(-1)
        if len(labels) != len(points):
            raise ValueError(f"got {len(labels)} labels for {len(points)} points")
        if np.issubdtype(labels.dtype, np.integer):
            for k in np.unique(labels):
                chosen = labels == k
                ax.scatter(points[chosen, 0], points[chosen, 1], s=size, color=CLASS_COLOURS(int(k) % 10), label=str(k), alpha=0.8, linewidths=0)
            ax.legend(frameon=False, fontsize=7, markerscale=2, title=label_name, title_fontsize=7, loc="best")
        else:
            shown = ax.scatter(points[:, 0], points[:, 1], s=size, c=labels, cmap="viridis", alpha=0.85, linewidths=0)
            fig.colorbar(shown, ax=ax, label=label_name, shrink=0.8)
    if equal_aspect:
        ax.set_aspect("equal", adjustable="datalim")
    _style(ax, title)
    return fig


def arrows(start, end, title: str | None = None, ax=None, background=None, size: float = 8.0):
    """Arrows from each point of `start` to the matching point of `end` (both (N, 2)).

    Used to draw a vector field sampled at points, e.g. g(h(x~)) - x~ for a denoising
    autoencoder: the arrow starts at the corrupted point x~ and ends where the model sends it.

    Args:
        start, end: (N, 2) arrow tails and heads.
        background: optional (M, 2) points drawn in grey underneath (e.g. the clean data).

    Returns:
        The matplotlib Figure (of `ax` when given).

    Raises:
        ValueError: start and end are not of one shape (N, 2).
    """
    start, end = _numpy(start), _numpy(end)
    if start.ndim != 2 or start.shape[1] != 2 or start.shape != end.shape:
        raise ValueError(f"expected start and end of the same shape (N, 2), got {start.shape} and {end.shape}")
    fig, ax = _axes(ax, figsize=(4.2, 4.0))
    if background is not None:
        background = _numpy(background)
        ax.scatter(background[:, 0], background[:, 1], s=2, color="0.75", linewidths=0, label="data")
    ax.scatter(start[:, 0], start[:, 1], s=size, color=PALETTE[1], linewidths=0, label="start")
    delta = end - start
    # angles/scale "xy": an arrow is drawn in data units, so it ends exactly at `end`.
    ax.quiver(start[:, 0], start[:, 1], delta[:, 0], delta[:, 1], angles="xy", scale_units="xy", scale=1,
              color=PALETTE[0], width=0.004, headwidth=4, alpha=0.8)
    ax.legend(frameon=False, fontsize=7, loc="upper right")
    ax.set_aspect("equal", adjustable="datalim")
    _style(ax, title)
    return fig
