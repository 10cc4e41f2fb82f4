"""Data sets of the book: MNIST-like images, and toy sets whose true density we know.

Images are float32 tensors in [0, 1] of shape (N, 1, 28, 28); labels are int64 of shape (N,).

- `mnist` and `fashion_mnist` read the original IDX files in torchvision's layout
  (``$EDU_GEN_DATA/MNIST/raw/train-images-idx3-ubyte.gz`` ...), check their MD5 sums against
  torchvision's list, and let torchvision download them when they are missing and the
  machine is online.
- `digits` is scikit-learn's 8x8 digits, scaled to 20x20 and padded to 28x28 the way MNIST
  centres its digits in a 28x28 frame; it ships with scikit-learn, so it always works offline.
- `images` is what chapters call: it picks one of the three and, when MNIST or Fashion-MNIST is
  neither on disk nor downloadable, prints ONE line saying so and falls back to `digits`.

Toy sets (1D Gaussian mixture, 2D ring, moons, swiss rolls, S-curve) are generated with a
seeded `torch.Generator`, so every call with the same seed gives the same points.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import socket
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from edu_gen.runtime import data_root

IMAGE_SETS = ("mnist", "fashion_mnist", "digits")
SPLITS = ("train", "test")
BINARIZATIONS = (None, "threshold", "stochastic")


class DatasetUnavailable(RuntimeError):
    """The data set is neither on disk nor downloadable."""


# --------------------------------------------------------------------------------------------
# Reading the original IDX files
# --------------------------------------------------------------------------------------------


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def _torchvision_class(name: str):
    from edu_gen._compat import datasets

    return {"mnist": datasets.MNIST, "fashion_mnist": datasets.FashionMNIST}[name]


def _read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (LeCun's format: magic number, sizes, then raw unsigned bytes)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        content = f.read()
    zero, dtype_code, ndim = content[0] * 256 + content[1], content[2], content[3]
    if zero != 0 or dtype_code != 0x08:
        raise DatasetUnavailable(f"{path} is not an IDX file of unsigned bytes (header {content[:4].hex()})")
    shape = tuple(int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(content, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != math.prod(shape):
        raise DatasetUnavailable(f"{path} is truncated: header says {shape}, found {body.size} bytes")
    return body.reshape(shape)


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _find_file(raw_folder: Path, gz_name: str, md5: str) -> Path | None:
    """The .gz file if present and intact, else the extracted file if present, else None."""
    gz = raw_folder / gz_name
    if gz.is_file():
        if _md5(gz) != md5:
            raise DatasetUnavailable(f"{gz} is corrupt: its MD5 is {_md5(gz)}, torchvision expects {md5}")
        return gz
    extracted = raw_folder / gz_name[: -len(".gz")]
    return extracted if extracted.is_file() else None


# (name, root) pairs whose download failed in this process: a chapter loads its data several
# times, and an offline machine should pay the failed attempt once, not at every call.
_failed_downloads: dict[tuple[str, str], str] = {}


def _download(name: str, root: Path) -> None:
    """Let torchvision download the set into root (raises if offline, at once after a first failure)."""
    if (name, str(root)) in _failed_downloads:
        raise DatasetUnavailable(_failed_downloads[(name, str(root))])
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(15)  # an offline machine should fail fast, not hang
    try:
        _torchvision_class(name)(str(root), train=True, download=True)
    except Exception as error:  # torchvision raises RuntimeError, URLError, OSError, ...
        lines = str(error).splitlines() or [""]
        reason = f"download failed ({type(error).__name__}: {lines[0]})"
        _failed_downloads[(name, str(root))] = reason
        raise DatasetUnavailable(reason) from None
    finally:
        socket.setdefaulttimeout(previous)


@lru_cache(maxsize=8)
def _load_idx_set(name: str, split: str, root: str, download: bool) -> tuple[np.ndarray, np.ndarray]:
    cls = _torchvision_class(name)
    raw_folder = Path(root) / cls.__name__ / "raw"
    wanted = [(f, m) for f, m in cls.resources if f.startswith("train" if split == "train" else "t10k")]
    paths = [_find_file(raw_folder, f, m) for f, m in wanted]
    if any(p is None for p in paths):
        if not download:
            raise DatasetUnavailable(f"{raw_folder} does not hold the {name} {split} files")
        _download(name, Path(root))
        paths = [_find_file(raw_folder, f, m) for f, m in wanted]
        if any(p is None for p in paths):
            raise DatasetUnavailable(f"the download did not produce the {name} files in {raw_folder}")
    images, labels = (_read_idx(p) for p in paths)
    return images, labels


def source(name: str = "mnist") -> str:
    """Which set `images(name)` reads with what is on disk now: `name`, or ``"digits"``.

    ``name`` when its original files (train and test) are under `runtime.data_root()` and pass
    their MD5 check; ``"digits"`` when they do not (the fallback; no download is tried here).
    The book's execution cache and `train.checkpoint_path` key on it, so outputs computed on
    the fallback are never reused once MNIST is there, and the other way round.

    Raises:
        ValueError: `name` is not one of `IMAGE_SETS`.
    """
    if name not in IMAGE_SETS:
        raise ValueError(f"unknown image set {name!r}; expected one of {', '.join(IMAGE_SETS)}")
    if name == "digits":
        return "digits"
    cls = _torchvision_class(name)
    raw_folder = data_root() / cls.__name__ / "raw"
    try:
        found = [_find_file(raw_folder, f, m) for f, m in cls.resources]
    except DatasetUnavailable:  # a corrupt file: images() falls back too
        return "digits"
    return name if all(p is not None for p in found) else "digits"


def _to_tensors(images: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)  # (N, 28, 28) -> (N, 1, 28, 28)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


def mnist(split: str = "train", *, download: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST handwritten digits (LeCun et al., 1998).

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000).
        download: let torchvision download the files into `runtime.data_root()` if missing.

    Returns:
        images (N, 1, 28, 28) float32 in [0, 1], labels (N,) int64.

    Raises:
        DatasetUnavailable: the files are missing (and could not be downloaded) or corrupt.
    """
    _check_split(split)
    return _to_tensors(*_load_idx_set("mnist", split, str(data_root()), download))


def fashion_mnist(split: str = "train", *, download: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST: 28x28 grey images of 10 kinds of clothing, same layout as `mnist`."""
    _check_split(split)
    return _to_tensors(*_load_idx_set("fashion_mnist", split, str(data_root()), download))


@lru_cache(maxsize=1)
def _digits_28x28() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    bunch = load_digits()  # 1,797 images, 8x8, integer grey levels 0..16
    small = torch.from_numpy(bunch.images.astype(np.float32) / 16.0).unsqueeze(1)  # (N, 1, 8, 8)
    # MNIST digits fill a 20x20 box centred in a 28x28 frame: scale up, then pad 4 on each side.
    big = F.interpolate(small, size=(20, 20), mode="bilinear", align_corners=False).clamp(0.0, 1.0)
    return F.pad(big, (4, 4, 4, 4)), torch.from_numpy(bunch.target.astype(np.int64))


def digits(split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's digits resized to MNIST's 28x28 layout; always available offline.

    A fixed random 80/20 split (seed 0): 1,437 training and 360 test images.

    Returns:
        images (N, 1, 28, 28) float32 in [0, 1], labels (N,) int64.
    """
    _check_split(split)
    x, y = _digits_28x28()
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    cut = int(0.8 * len(x))
    index = order[:cut] if split == "train" else order[cut:]
    return x[index].clone(), y[index].clone()


def binarize(x: torch.Tensor, mode: str = "stochastic", generator: torch.Generator | None = None) -> torch.Tensor:
    """Turn grey levels in [0, 1] into {0, 1} pixels.

    ``"threshold"``: 1 where x > 0.5. ``"stochastic"``: each pixel ~ Bernoulli(x), the binarised
    MNIST of the generative-modelling literature (a fresh sample per call unless seeded).
    """
    if mode == "threshold":
        return (x > 0.5).to(x.dtype)
    if mode == "stochastic":
        return torch.bernoulli(x, generator=generator)
    raise ValueError(f"binarize mode must be 'threshold' or 'stochastic', got {mode!r}")


_binarize = binarize  # `images` has an argument of the same name


_announced: set[str] = set()


def _announce_once(message: str) -> None:
    """Print a notice the first time it occurs in this process (a chapter loads train and test)."""
    if message not in _announced:
        _announced.add(message)
        print(message)


def images(
    name: str = "mnist",
    split: str = "train",
    n: int | None = None,
    binarize: str | None = None,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The image set a chapter asks for, with the offline fallback to `digits`.

    Args:
        name: ``"mnist"``, ``"fashion_mnist"`` or ``"digits"``. When MNIST or Fashion-MNIST
            is unavailable, the first such call in a process prints one line and every call
            returns `digits` instead.
        split: ``"train"`` or ``"test"``.
        n: keep a random subset of n images (seeded); None keeps all. If the set has fewer
            than n images, all are kept and a line says so.
        binarize: None (grey levels), ``"threshold"`` or ``"stochastic"``.
        seed: seed of the subset and of stochastic binarisation.

    Returns:
        images (N, 1, 28, 28) float32 in [0, 1], labels (N,) int64.
    """
    if name not in IMAGE_SETS:
        raise ValueError(f"unknown image set {name!r}; expected one of {', '.join(IMAGE_SETS)}")
    _check_split(split)
    if binarize not in BINARIZATIONS:
        raise ValueError(f"binarize must be one of {BINARIZATIONS}, got {binarize!r}")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n <= 0):
        raise ValueError(f"n must be a positive integer or None, got {n!r}")

    source = name
    if name == "digits":
        x, y = digits(split)
    else:
        try:
            x, y = (mnist if name == "mnist" else fashion_mnist)(split)
        except DatasetUnavailable as reason:
            _announce_once(
                f"edu_gen.data: {name} is unavailable under {data_root()} ({reason}); "
                "falling back to scikit-learn digits resized to 28x28"
            )
            source = "digits"
            x, y = digits(split)

    generator = torch.Generator().manual_seed(seed)
    if n is not None:
        if n > len(x):
            print(f"edu_gen.data: asked for {n} {source} {split} images, the set has {len(x)}; using all of them")
        else:
            keep = torch.randperm(len(x), generator=generator)[:n]
            x, y = x[keep], y[keep]
    if binarize is not None:
        x = _binarize(x, binarize, generator)
    return x, y


def loader(
    *tensors: torch.Tensor, batch_size: int = 128, shuffle: bool = True, seed: int = 0, drop_last: bool = False
) -> DataLoader:
    """A DataLoader over tensors that share their first dimension; batches are tuples.

    Shuffling uses its own generator seeded with `seed`, so the batch order is reproducible
    and independent of the global random state.
    """
    if not tensors:
        raise ValueError("loader needs at least one tensor")
    sizes = [len(t) for t in tensors]
    if len(set(sizes)) != 1:
        raise ValueError(f"all tensors must have the same first dimension, got sizes {sizes}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    return DataLoader(
        TensorDataset(*tensors),
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        generator=torch.Generator().manual_seed(seed),
    )


# --------------------------------------------------------------------------------------------
# Toy sets with known structure
# --------------------------------------------------------------------------------------------


def natural_patches(n: int = 20_000, size: int = 12, seed: int = 0) -> torch.Tensor:
    """Square grey-level patches of natural images, cut at random from scikit-learn's two bundled photographs.

    The photographs (a temple in China and a flower, 427 x 640 each) ship with scikit-learn, so this
    works offline. Each patch has its own mean removed (brightness carries no shape), and all patches
    are divided by one common standard deviation, so the pixels have unit variance overall and
    contrast differences between patches are kept.

    Returns:
        (n, size * size) float32.
    """
    if n < 1 or size < 2:
        raise ValueError(f"expected n >= 1 patches of size >= 2, got n={n}, size={size}")
    from sklearn.datasets import load_sample_images  # scikit-learn is a dependency of the book

    g = torch.Generator().manual_seed(seed)
    photos = [torch.tensor(img, dtype=torch.float32).mean(-1) / 255.0 for img in load_sample_images().images]  # grey (H, W)
    which = torch.randint(len(photos), (n,), generator=g)
    patches = torch.empty(n, size * size)
    for i, photo in enumerate(photos):
        chosen = (which == i).nonzero().squeeze(1)
        rows = torch.randint(photo.shape[0] - size + 1, (len(chosen),), generator=g)
        cols = torch.randint(photo.shape[1] - size + 1, (len(chosen),), generator=g)
        windows = photo.unfold(0, size, 1).unfold(1, size, 1)  # (H - size + 1, W - size + 1, size, size), a view
        patches[chosen] = windows[rows, cols].reshape(len(chosen), -1)
    patches = patches - patches.mean(1, keepdim=True)
    return patches / patches.std()


def _mixture_parameters(means, stds, weights) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    means = torch.as_tensor(means, dtype=torch.float32).reshape(-1)
    stds = torch.as_tensor(stds, dtype=torch.float32).reshape(-1)
    weights = torch.full_like(means, 1.0 / len(means)) if weights is None else torch.as_tensor(weights, dtype=torch.float32)
    if not (len(means) == len(stds) == len(weights)):
        raise ValueError(f"means, stds and weights need one entry per component, got {len(means)}, {len(stds)}, {len(weights)}")
    if (stds <= 0).any() or (weights < 0).any() or not math.isclose(float(weights.sum()), 1.0, rel_tol=1e-5):
        raise ValueError("stds must be positive and weights non-negative, summing to 1")
    return means, stds, weights


def gaussian_mixture_1d(
    n: int, means: Sequence[float] = (-2.0, 2.0), stds: Sequence[float] = (0.5, 0.5), weights=None, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """n samples of the 1D mixture p(x) = sum_k pi_k N(x; mu_k, sigma_k^2).

    Returns:
        x (n,) float32 and the component k of each sample (n,) int64.
    """
    means, stds, weights = _mixture_parameters(means, stds, weights)
    g = torch.Generator().manual_seed(seed)
    component = torch.multinomial(weights, n, replacement=True, generator=g)
    x = means[component] + stds[component] * torch.randn(n, generator=g)
    return x, component


def gaussian_mixture_1d_log_density(
    x: torch.Tensor, means: Sequence[float] = (-2.0, 2.0), stds: Sequence[float] = (0.5, 0.5), weights=None
) -> torch.Tensor:
    """The exact log p(x) of `gaussian_mixture_1d`, elementwise over x of any shape."""
    means, stds, weights = _mixture_parameters(means, stds, weights)
    x = torch.as_tensor(x, dtype=torch.float32).unsqueeze(-1)  # (..., 1) against (K,)
    log_components = -0.5 * ((x - means) / stds) ** 2 - torch.log(stds) - 0.5 * math.log(2 * math.pi)
    return torch.logsumexp(torch.log(weights) + log_components, dim=-1)


def ring_2d(n: int, num_modes: int = 8, radius: float = 2.0, std: float = 0.05, seed: int = 0):
    """A ring of `num_modes` equally weighted 2D Gaussians (the classic mode-collapse test).

    Returns:
        x (n, 2) float32 and the mode of each point (n,) int64.
    """
    g = torch.Generator().manual_seed(seed)
    mode = torch.randint(num_modes, (n,), generator=g)
    angle = 2 * math.pi * mode.float() / num_modes
    centres = radius * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    return centres + std * torch.randn(n, 2, generator=g), mode


def moons(n: int, noise: float = 0.05, seed: int = 0):
    """Two interleaving half circles; returns x (n, 2) float32 and the moon (n,) int64."""
    g = torch.Generator().manual_seed(seed)
    label = torch.randint(2, (n,), generator=g)
    angle = math.pi * torch.rand(n, generator=g)
    upper = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    lower = torch.stack([1 - torch.cos(angle), 0.5 - torch.sin(angle)], dim=1)
    x = torch.where(label[:, None] == 0, upper, lower)
    return x + noise * torch.randn(n, 2, generator=g), label


def _roll_position(n: int, g: torch.Generator) -> torch.Tensor:
    return 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=g))  # t in [1.5 pi, 4.5 pi]


def swiss_roll_2d(n: int, noise: float = 0.0, seed: int = 0):
    """The 2D spiral (t cos t, t sin t); returns x (n, 2) and the position t along it (n,)."""
    g = torch.Generator().manual_seed(seed)
    t = _roll_position(n, g)
    x = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1)
    return x + noise * torch.randn(n, 2, generator=g), t


def swiss_roll_3d(n: int, noise: float = 0.0, seed: int = 0):
    """The swiss roll (t cos t, h, t sin t), h in [0, 21]: a rolled-up 2D sheet in 3D.

    Returns:
        x (n, 3) and the position t along the roll (n,), the coordinate a good
        manifold learner should recover.
    """
    g = torch.Generator().manual_seed(seed)
    t = _roll_position(n, g)
    height = 21 * torch.rand(n, generator=g)
    x = torch.stack([t * torch.cos(t), height, t * torch.sin(t)], dim=1)
    return x + noise * torch.randn(n, 3, generator=g), t


def s_curve(n: int, noise: float = 0.0, seed: int = 0):
    """An S-shaped 2D sheet in 3D; returns x (n, 3) and the position t along the S (n,)."""
    g = torch.Generator().manual_seed(seed)
    t = 3 * math.pi * (torch.rand(n, generator=g) - 0.5)
    height = 2 * torch.rand(n, generator=g)
    x = torch.stack([torch.sin(t), height, torch.sign(t) * (torch.cos(t) - 1)], dim=1)
    return x + noise * torch.randn(n, 3, generator=g), t


# --------------------------------------------------------------------------------------------
# Synthetic shapes with known factors (Chapter 5, beta-VAE)
# --------------------------------------------------------------------------------------------

SHAPE_FACTORS = ("shape", "scale", "x", "y")
SHAPE_NAMES = ("square", "circle", "triangle")
_SHAPE_SCALES = (3.0, 4.0, 5.0, 6.0)                       # half-width in pixels
_SHAPE_POSITIONS = tuple(7.0 + 13.0 * i / 9 for i in range(10))  # centres from 7 to 20 pixels


def _draw_shape(kind: int, r: float, cx: float, cy: float) -> np.ndarray:
    """One binary 28x28 image; y grows downwards."""
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float64)
    dx, dy = xx - cx, yy - cy
    if kind == 0:
        inside = (np.abs(dx) <= r) & (np.abs(dy) <= r)
    elif kind == 1:
        inside = dx**2 + dy**2 <= r**2
    else:  # an upward triangle: apex at (cx, cy - r), base at y = cy + r
        inside = (np.abs(dy) <= r) & (np.abs(dx) <= (dy + r) / 2)
    return inside.astype(np.float32)


def shapes(n: int | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A dSprites-like set of white shapes on black, generated offline, with known factors.

    Four independent factors (`SHAPE_FACTORS`): shape (square, circle, triangle), scale
    (4 sizes), x and y position (10 values each): 3 * 4 * 10 * 10 = 1200 distinct images.
    A beta-VAE should find one latent per factor (Higgins et al., 2017).

    Args:
        n: None for every combination once, in order (shape slowest, y fastest); otherwise
            n images with factors drawn uniformly at random (seeded).
        seed: seed of the random draws.

    Returns:
        images (N, 1, 28, 28) float32 in {0, 1}, factors (N, 4) int64 (indices into each factor's values).

    Introduced in Chapter 5 (The variational autoencoder).
    """
    sizes = (len(SHAPE_NAMES), len(_SHAPE_SCALES), len(_SHAPE_POSITIONS), len(_SHAPE_POSITIONS))
    if n is None:
        grids = torch.meshgrid(*(torch.arange(s) for s in sizes), indexing="ij")
        factors = torch.stack([g.reshape(-1) for g in grids], dim=1)
    elif isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int or None (every combination), got {n!r}")
    else:
        g = torch.Generator().manual_seed(seed)
        factors = torch.stack([torch.randint(s, (n,), generator=g) for s in sizes], dim=1)
    cache = {}
    out = np.empty((len(factors), 1, 28, 28), dtype=np.float32)
    for i, (s, r, x, y) in enumerate(factors.tolist()):
        key = (s, r, x, y)
        if key not in cache:
            cache[key] = _draw_shape(s, _SHAPE_SCALES[r], _SHAPE_POSITIONS[x], _SHAPE_POSITIONS[y])
        out[i, 0] = cache[key]
    return torch.from_numpy(out), factors.long()


# --------------------------------------------------------------------------------------------
# A few labels: the labelled subset of semi-supervised learning
# --------------------------------------------------------------------------------------------


def labelled_subset(labels: torch.Tensor, per_class: int, seed: int = 0, num_classes: int | None = None) -> torch.Tensor:
    """Indices of a class-balanced labelled subset: `per_class` examples of every class, drawn with `seed`.

    Semi-supervised MNIST with 100 labels keeps 10 digits per class (Kingma et al., 2014,
    section 4.2). The subset depends only on `labels` and `seed`, so every run with the same seed
    labels the same examples (one seed is one "label draw"; the semi-supervised chapter reports
    several).

    Args:
        labels: integer class labels (N,) of the whole training set.
        per_class: how many examples of each class to keep, >= 1.
        seed: seed of the draw (a generator of its own; the global random state is untouched).
        num_classes: C; default the largest label + 1. Every class 0..C-1 must have `per_class` examples.

    Returns:
        (C * per_class,) int64 indices into `labels`, class 0's first, each class's in drawn order.

    Raises:
        TypeError: labels is not an integer tensor.
        ValueError: labels is not 1-D, per_class is not an int >= 1, a label lies outside 0..C-1, or a
            class has fewer than `per_class` examples (the message names the class and its count).
    """
    if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        got = labels.dtype if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise TypeError(f"labels must be an integer tensor (N,), got {got}")
    if labels.dim() != 1 or len(labels) == 0:
        raise ValueError(f"labels must have shape (N,) with N >= 1, got {tuple(labels.shape)}")
    if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
        raise ValueError(f"per_class must be an int >= 1, got {per_class!r}")
    num_classes = int(labels.max()) + 1 if num_classes is None else num_classes
    if int(labels.min()) < 0 or int(labels.max()) >= num_classes:
        raise ValueError(f"labels must lie in 0..{num_classes - 1}, got values in [{int(labels.min())}, {int(labels.max())}]")
    counts = torch.bincount(labels.cpu(), minlength=num_classes)
    short = [(c, int(counts[c])) for c in range(num_classes) if counts[c] < per_class]
    if short:
        raise ValueError(f"asked for {per_class} examples per class, but class {short[0][0]} has only {short[0][1]}"
                         + (f" (and {len(short) - 1} more classes are short)" if len(short) > 1 else ""))
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for c in range(num_classes):
        members = (labels.cpu() == c).nonzero().squeeze(1)                   # (N_c,) indices of class c
        chosen.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    return torch.cat(chosen)
