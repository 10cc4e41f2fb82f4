r"""Out-of-distribution images for outlier detection with MNIST-trained models, made offline.

Only MNIST ships with the book (and scikit-learn's digits when it is missing), so the images a
digit model has never seen are made here, each kind (N, 1, 28, 28) in [0, 1] like the digits:

| kind        | what it is                                                                           |
|-------------|--------------------------------------------------------------------------------------|
| `letters`   | A-Z and a-z in matplotlib's bundled DejaVu Sans (normal and bold), fitted to a 20x20   |
|             | box and centred by their centre of mass as MNIST centres its digits; random size and   |
|             | a tilt of up to 15 degrees: an "EMNIST-letters-like" set, close to the digits in style |
| `noise`     | every pixel uniform in [0, 1]                                                        |
| `photos`    | grey crops (28 to 112 pixels wide) of scikit-learn's two sample photographs, shrunk to  |
|             | 28x28 by averaging: natural image texture                                             |
| `constant`  | one flat grey level per image, uniform in [0, 1]                                      |
| `blank`     | nearly black: every pixel uniform in [0, 0.05]. The "simpler image" of Nalisnick et    |
|             | al. (2019): a density model of digits can give it a higher likelihood than the digits  |
| `negatives` | 1 - x for MNIST test digits x (the digits fallback when MNIST is missing)               |

Nalisnick, E., Matsukawa, A., Teh, Y. W., Gorur, D., Lakshminarayanan, B. (2019). Do deep
generative models know what they don't know? ICLR.

Introduced in the chapter "The families compared" (label ch-comparison); `data.ood_images` is
the name chapters use.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from edu_gen._checks import _describe, number

OOD_KINDS = ("letters", "noise", "photos", "constant", "blank", "negatives")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")   # both ship inside matplotlib (mpl-data/fonts/ttf)
_SUPER = 4                                           # render at 4 x 28 = 112 pixels, then average 4x4 blocks
_SIDE = 28 * _SUPER
_BOX = 20 * _SUPER                                   # MNIST fits each digit in a 20x20 box
_BLANK_LEVEL = 0.05
_MAX_TILT = math.radians(15.0)
_PHOTO_CROPS = (28, 112)                             # crop widths, in the photographs' pixels


@lru_cache(maxsize=None)
def _glyphs() -> tuple[torch.Tensor, torch.Tensor]:
    """Every letter in both weights at 112x112, fitted to the 80x80 box, and its centre of mass.

    Returns (G, 112, 112) float32 masks in [0, 1] (G = 52 letters x 2 weights) and (G, 2) centres
    of mass (x, y) in the normalised [-1, 1] coordinates of `F.affine_grid` (align_corners=False).
    """
    import matplotlib
    from matplotlib.font_manager import FontProperties
    from matplotlib.path import Path as Outline
    from matplotlib.textpath import TextPath

    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    centres = (np.arange(_SIDE) + 0.5)                     # pixel centres, in pixels from the top-left corner
    grid_x, grid_y = np.meshgrid(centres, centres)
    points = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)
    masks, masses = [], []
    for font in _FONTS:
        prop = FontProperties(fname=str(fonts / font))
        for letter in LETTERS:
            path = TextPath((0, 0), letter, size=1, prop=prop)
            box = path.get_extents()                        # the outline's box (closing vertices ignored)
            x0, y0, x1, y1 = box.x0, box.y0, box.x1, box.y1
            scale = _BOX / max(x1 - x0, y1 - y0)           # the longer side fills the box, aspect kept
            # font units (y up) -> pixels (y down), the glyph's box centred in the canvas
            vertices = np.empty_like(path.vertices)
            vertices[:, 0] = (path.vertices[:, 0] - (x0 + x1) / 2) * scale + _SIDE / 2
            vertices[:, 1] = _SIDE / 2 - (path.vertices[:, 1] - (y0 + y1) / 2) * scale
            # even-odd rule over the contours: a point inside the outer contour and an inner one (the hole of an o)
            # is outside (Path.contains_points on the whole compound path fills the holes)
            inside = np.zeros(len(points), dtype=bool)
            for contour in Outline(vertices, path.codes).to_polygons(closed_only=True):
                inside ^= Outline(contour).contains_points(points)
            mask = torch.tensor(inside.reshape(_SIDE, _SIDE), dtype=torch.float32)
            ys, xs = torch.meshgrid(torch.arange(_SIDE) + 0.5, torch.arange(_SIDE) + 0.5, indexing="ij")
            mass = mask.sum()
            com = torch.stack([(mask * xs).sum() / mass, (mask * ys).sum() / mass])   # (x, y) in pixels
            masks.append(mask)
            masses.append(2 * com / _SIDE - 1)              # pixels -> [-1, 1]
    return torch.stack(masks), torch.stack(masses)


def _letters(n: int, g: torch.Generator, chunk: int = 500) -> torch.Tensor:
    masks, centres = _glyphs()
    which = torch.randint(len(masks), (n,), generator=g)
    tilt = (2 * torch.rand(n, generator=g) - 1) * _MAX_TILT
    size = 0.75 + 0.25 * torch.rand(n, generator=g)          # 15 to 20 pixels on the longer side
    out = torch.empty(n, 1, 28, 28)
    for start in range(0, n, chunk):
        idx = slice(start, min(start + chunk, n))
        c, s, k = tilt[idx].cos() / size[idx], tilt[idx].sin() / size[idx], which[idx]
        # affine_grid maps each output position to the input position it reads: rotate and zoom about the
        # centre, then move to the glyph's centre of mass, so the centre of mass lands in the middle (as MNIST)
        theta = torch.stack([torch.stack([c, -s, centres[k, 0]], 1), torch.stack([s, c, centres[k, 1]], 1)], 1)
        grid = F.affine_grid(theta, (len(k), 1, _SIDE, _SIDE), align_corners=False)
        big = F.grid_sample(masks[k][:, None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        out[idx] = F.avg_pool2d(big, _SUPER)                 # (B, 1, 112, 112) -> (B, 1, 28, 28), antialiased
    return out.clamp(0.0, 1.0)


def _photos(n: int, g: torch.Generator) -> torch.Tensor:
    from sklearn.datasets import load_sample_images  # scikit-learn is a dependency of the book

    photos = [torch.tensor(img, dtype=torch.float32).mean(-1) / 255.0 for img in load_sample_images().images]  # grey (H, W)
    which = torch.randint(len(photos), (n,), generator=g)
    widths = torch.randint(_PHOTO_CROPS[0], _PHOTO_CROPS[1] + 1, (n,), generator=g)
    out = torch.empty(n, 1, 28, 28)
    for i in range(n):
        photo, w = photos[int(which[i])], int(widths[i])
        top = int(torch.randint(photo.shape[0] - w + 1, (1,), generator=g))
        left = int(torch.randint(photo.shape[1] - w + 1, (1,), generator=g))
        crop = photo[top:top + w, left:left + w][None, None]
        out[i] = F.adaptive_avg_pool2d(crop, 28)[0]          # each output pixel the mean of its share of the crop
    return out


def _negatives(n: int, g: torch.Generator) -> torch.Tensor:
    from edu_gen import data                                  # imported here: data re-exports this module

    digits, _ = data.images("mnist", "test")
    order = torch.randperm(len(digits), generator=g)
    picked = order[torch.arange(n) % len(order)]              # cycles through the set when n exceeds it
    return 1.0 - digits[picked]


def ood_images(kind: str, n: int, seed: int = 0) -> torch.Tensor:
    """`n` images of one out-of-distribution `kind` (see the module's table), seeded, made offline.

    Args:
        kind: one of `OOD_KINDS`: ``"letters"``, ``"noise"``, ``"photos"``, ``"constant"``, ``"blank"``,
            ``"negatives"``.
        n: the number of images, an int >= 1. ``"negatives"`` cycles through the test digits (10,000 for
            MNIST, 360 for the offline digits) when n is larger.
        seed: seed of a `torch.Generator`, an int; the same (kind, n, seed) gives the same images.

    Returns:
        (n, 1, 28, 28) float32 grey levels in [0, 1], on the CPU. Binarise them as the scored model
        expects (`data.binarize`) before taking a likelihood.

    Raises:
        TypeError: kind is not a str, or n or seed is not an integer (a bool or a float included).
        ValueError: an unknown kind (the message names the valid ones), or n < 1.
    """
    if not isinstance(kind, str):
        raise TypeError(f"kind must be one of {OOD_KINDS}, got {_describe(kind)}")
    if kind not in OOD_KINDS:
        raise ValueError(f"kind must be one of {', '.join(OOD_KINDS)} (out-of-distribution image kinds), got {kind!r}")
    n = number(n, "n", "an int >= 1 (the number of images)", integer=True, minimum=1)
    seed = number(seed, "seed", "an int (the seed of a torch.Generator)", integer=True, minimum=-(2**63), maximum=2**64 - 1)
    g = torch.Generator().manual_seed(seed)
    if kind == "letters":
        return _letters(n, g)
    if kind == "noise":
        return torch.rand(n, 1, 28, 28, generator=g)
    if kind == "photos":
        return _photos(n, g)
    if kind == "constant":
        return torch.rand(n, 1, 1, 1, generator=g).expand(n, 1, 28, 28).clone()
    if kind == "blank":
        return _BLANK_LEVEL * torch.rand(n, 1, 28, 28, generator=g)
    return _negatives(n, g)
