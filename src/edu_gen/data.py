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

`ood_images(kind, n, seed)` makes images a digit model has never seen (letters, noise, photographs,
flat and blank images, negated digits), offline; it lives in `edu_gen.ood_data` and is re-exported here.

Toy sets (1D Gaussian mixture, 2D ring, moons, swiss rolls, S-curve) are generated with a
seeded `torch.Generator`, so every call with the same seed gives the same points.

Every function returns CPU tensors, except `binarize` and `gaussian_mixture_1d_log_density`
(on their input's device) and `loader` (batches on the tensors' device). Arguments are checked
at the boundary: a count, a seed or a scale may be any numeric kind (Python, NumPy, 0-d
tensor; `bool` is not a number); a wrong type is a TypeError, a wrong value a ValueError, and
each message names the argument, what was expected and what came.
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

from edu_gen._checks import _describe, number, unit_interval
from edu_gen.ood_data import OOD_KINDS, ood_images  # noqa: F401  (out-of-distribution images, defined there)
from edu_gen.runtime import data_root

IMAGE_SETS = ("mnist", "fashion_mnist", "digits")
SPLITS = ("train", "test")
BINARIZATIONS = (None, "threshold", "stochastic")


class DatasetUnavailable(RuntimeError):
    """The data set is neither on disk nor downloadable (raised by `mnist`, `fashion_mnist`; `images` falls back)."""


# --------------------------------------------------------------------------------------------
# Argument checks shared by the functions below
# --------------------------------------------------------------------------------------------


def _choice(value, name: str, options: tuple) -> None:
    """Refuse anything but one of `options` (strings, and None where listed)."""
    if not isinstance(value, str) and not (value is None and None in options):
        raise TypeError(f"{name} must be one of {options}, got {_describe(value)}")
    if value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")


def _check_split(split: str) -> None:
    _choice(split, "split", SPLITS)


def _check_name(name: str) -> None:
    _choice(name, "name (the image set)", IMAGE_SETS)


def _flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {_describe(value)}")
    return bool(value)


def _seed(seed) -> int:
    # the range torch.Generator.manual_seed accepts
    return number(seed, "seed", "an int (the seed of a torch.Generator)", integer=True, minimum=-(2**63), maximum=2**64 - 1)


def _count(n, name: str = "n", what: str = "the number of points") -> int:
    return number(n, name, f"an int >= 1 ({what})", integer=True, minimum=1)


def _scale(value, name: str, what: str) -> float:
    return number(value, name, f"a finite number >= 0 ({what})", minimum=0.0)


# --------------------------------------------------------------------------------------------
# Reading the original IDX files
# --------------------------------------------------------------------------------------------


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

    Args:
        name: one of `IMAGE_SETS`: ``"mnist"``, ``"fashion_mnist"`` or ``"digits"``.

    Returns:
        ``name`` or ``"digits"`` (a str).

    Raises:
        TypeError: `name` is not a str.
        ValueError: `name` is not one of `IMAGE_SETS`.
    """
    _check_name(name)
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
    x = images.astype(np.float32)
    x /= 255.0  # in place: the same rounded quotients as x / 255.0 without a second copy of the set (188 MB for MNIST's train)
    x = torch.from_numpy(x).unsqueeze(1)  # (N, 28, 28) -> (N, 1, 28, 28)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


def mnist(split: str = "train", *, download: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST handwritten digits (LeCun et al., 1998).

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000).
        download: let torchvision download the files into `runtime.data_root()` if missing.

    Returns:
        images (N, 1, 28, 28) float32 grey levels in [0, 1] (the file's bytes / 255), labels (N,)
        int64 in 0..9; both on the CPU.

    Raises:
        TypeError: `split` is not a str, or `download` is not a bool.
        ValueError: `split` is not ``"train"`` or ``"test"``.
        DatasetUnavailable: the files are missing (and could not be downloaded) or corrupt.
    """
    _check_split(split)
    download = _flag(download, "download")
    return _to_tensors(*_load_idx_set("mnist", split, str(data_root()), download))


def fashion_mnist(split: str = "train", *, download: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST: 28x28 grey images of 10 kinds of clothing, same layout as `mnist` (Xiao et al., 2017).

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000).
        download: let torchvision download the files into `runtime.data_root()` if missing.

    Returns:
        images (N, 1, 28, 28) float32 grey levels in [0, 1], labels (N,) int64 in 0..9; on the CPU.

    Raises:
        TypeError: `split` is not a str, or `download` is not a bool.
        ValueError: `split` is not ``"train"`` or ``"test"``.
        DatasetUnavailable: the files are missing (and could not be downloaded) or corrupt.
    """
    _check_split(split)
    download = _flag(download, "download")
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

    The 1,797 8x8 digits of scikit-learn (the UCI optical-recognition set; grey levels 0..16)
    are divided by 16, resized bilinearly to 20x20 and padded with 4 empty pixels on each side.
    A fixed random 80/20 split (seed 0): 1,437 training and 360 test images.

    Args:
        split: ``"train"`` or ``"test"``.

    Returns:
        images (N, 1, 28, 28) float32 in [0, 1], labels (N,) int64 in 0..9; on the CPU.

    Raises:
        TypeError: `split` is not a str.
        ValueError: `split` is not ``"train"`` or ``"test"``.
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
    MNIST of the generative-modelling literature (Salakhutdinov and Murray, 2008; a fresh sample
    per call unless seeded).

    Args:
        x: grey levels of any shape, a floating tensor with values in [0, 1] (no NaN).
        mode: ``"threshold"`` or ``"stochastic"``.
        generator: a `torch.Generator` for the stochastic draws, or None for the global one. A
            generator on another device than x (a CPU generator, CUDA images) draws on its own
            device, so a seed gives the same pixels on every device.

    Returns:
        a tensor of x's shape, dtype and device, with values in {0, 1}.

    Raises:
        TypeError: x is not a floating tensor, mode is not a str, or generator is not a
            `torch.Generator` (or None).
        ValueError: mode is neither of the two, or x holds a value outside [0, 1] or a NaN.
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        got = f"dtype {x.dtype}" if isinstance(x, torch.Tensor) else _describe(x)
        raise TypeError(f"x must be a floating-point tensor of grey levels in [0, 1], got {got}")
    if not isinstance(mode, str):
        raise TypeError(f"mode must be 'threshold' or 'stochastic', got {_describe(mode)}")
    if mode not in ("threshold", "stochastic"):
        raise ValueError(f"mode must be 'threshold' or 'stochastic', got {mode!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {_describe(generator)}")
    unit_interval(x, "binarize: x must hold grey levels")
    if mode == "threshold":
        return (x > 0.5).to(x.dtype)
    if generator is not None and generator.device != x.device:
        return torch.bernoulli(x.to(generator.device), generator=generator).to(x.device)
    return torch.bernoulli(x, generator=generator)


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
        n: keep a random subset of n images (seeded), an int >= 1 of any integer kind; None
            keeps all. If the set has fewer than n images, all are kept and a line says so.
        binarize: None (grey levels), ``"threshold"`` or ``"stochastic"`` (see `binarize`).
        seed: seed of the subset and of stochastic binarisation, an int.

    Returns:
        images (N, 1, 28, 28) float32 in [0, 1] ({0, 1} when binarised), labels (N,) int64 in
        0..9; on the CPU. N = min(n, size of the set), or the whole set.

    Raises:
        TypeError: name, split or binarize is not a str (binarize may be None), n is not an
            integer (a bool or a float included), or seed is not an integer.
        ValueError: name, split or binarize is not one of the values above, or n < 1.
    """
    _check_name(name)
    _check_split(split)
    _choice(binarize, "binarize", BINARIZATIONS)
    if n is not None:
        n = number(n, "n", "a positive integer or None (keep every image)", integer=True, minimum=1)
    seed = _seed(seed)

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


class _RowsOfTensors(TensorDataset):
    """A TensorDataset that hands the DataLoader a whole batch with one indexing per tensor.

    PyTorch's default fetch indexes the dataset row by row and stacks the rows (`default_collate`):
    about a millisecond per batch of 128 on one CPU thread, more than a small model's step costs.
    `__getitems__` (the DataLoader's batched-fetch hook) gathers the same rows in the same order
    at once; `_as_is` then passes them through. Same values, same dtypes, a list as before.
    """

    def __getitems__(self, indices: list) -> list[torch.Tensor]:
        rows = torch.as_tensor(indices, dtype=torch.long)
        return [t[rows.to(t.device)] for t in self.tensors]


def _as_is(batch: list[torch.Tensor]) -> list[torch.Tensor]:
    return batch


def loader(
    *tensors: torch.Tensor, batch_size: int = 128, shuffle: bool = True, seed: int = 0, drop_last: bool = False
) -> DataLoader:
    """A DataLoader over tensors that share their first dimension; each batch is a list of them.

    Shuffling uses its own generator seeded with `seed`, so the batch order is reproducible
    and independent of the global random state. The batches are the ones a plain
    ``DataLoader(TensorDataset(*tensors), ...)`` yields with the same generator, row for row
    and value for value (a test compares them), gathered with one indexing per tensor instead
    of one per row.

    Args:
        *tensors: one or more tensors (N, ...) with the same N >= 1, on any one device.
        batch_size: examples per batch B, an int >= 1; the last batch has N mod B examples
            unless `drop_last`.
        shuffle: draw a new order each epoch (True) or keep the rows' order (False).
        seed: seed of the shuffling generator, an int.
        drop_last: drop a last batch smaller than B.

    Returns:
        a `torch.utils.data.DataLoader` whose batches are lists [(B, ...), ...], one tensor per
        argument, on the tensors' device, the i-th row of each tensor kept together.

    Raises:
        TypeError: an argument in `tensors` is not a tensor, batch_size or seed is not an
            integer, shuffle or drop_last is not a bool.
        ValueError: no tensor, a 0-d tensor, first dimensions that differ, N = 0 (no rows: a loop over
            the loader would silently do nothing), or batch_size < 1.
    """
    if not tensors:
        raise ValueError("loader needs at least one tensor")
    for i, t in enumerate(tensors):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"tensors[{i}] must be a torch.Tensor (N, ...), got {_describe(t)}")
        if t.dim() == 0:
            raise ValueError(f"tensors[{i}] must have a first dimension (N, ...), got a 0-d tensor")
    sizes = [len(t) for t in tensors]
    if len(set(sizes)) != 1:
        raise ValueError(f"all tensors must have the same first dimension, got sizes {sizes}")
    if sizes[0] == 0:
        raise ValueError(f"tensors must hold at least one row (N >= 1), got shapes {[tuple(t.shape) for t in tensors]}")
    batch_size = number(batch_size, "batch_size", "a positive int (examples per batch)", integer=True, minimum=1)
    return DataLoader(
        _RowsOfTensors(*tensors),
        batch_size=batch_size,
        shuffle=_flag(shuffle, "shuffle"),
        drop_last=_flag(drop_last, "drop_last"),
        generator=torch.Generator().manual_seed(_seed(seed)),
        collate_fn=_as_is,
    )


# --------------------------------------------------------------------------------------------
# Toy sets with known structure
# --------------------------------------------------------------------------------------------

_PHOTO_HEIGHT = 427  # both of scikit-learn's sample photographs are 427 x 640 pixels


def natural_patches(n: int = 20_000, size: int = 12, seed: int = 0) -> torch.Tensor:
    """Square grey-level patches of natural images, cut at random from scikit-learn's two bundled photographs.

    The photographs (a temple in China and a flower, 427 x 640 each) ship with scikit-learn, so this
    works offline. Each patch has its own mean removed (brightness carries no shape), and all patches
    are divided by one common standard deviation, so the pixels have unit variance overall and
    contrast differences between patches are kept.

    Args:
        n: the number of patches, an int >= 1.
        size: the side of a patch in pixels, an int from 2 to 427 (the photographs' height).
        seed: seed of the photograph and the position of each patch, an int.

    Returns:
        (n, size * size) float32 on the CPU, each row a patch read row by row (unitless: grey
        levels minus the patch's mean, over their common standard deviation).

    Raises:
        TypeError: n, size or seed is not an integer (a bool or a float included).
        ValueError: n < 1, or size outside 2..427.
    """
    n = _count(n, "n", "the number of patches")
    size = number(size, "size", f"an int from 2 to {_PHOTO_HEIGHT} (the side of a patch in pixels)", integer=True,
                  minimum=2, maximum=_PHOTO_HEIGHT)
    seed = _seed(seed)
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


def _parameter_vector(values, name: str, what: str) -> torch.Tensor:
    """A float32 (K,) vector of the mixture's `values`, or a clear error."""
    if isinstance(values, (bool, str)) or (isinstance(values, (torch.Tensor, np.ndarray))
                                           and values.dtype in (torch.bool, np.bool_)):
        raise TypeError(f"{name} must be a sequence of numbers ({what}), got {_describe(values)}")
    try:
        vector = torch.as_tensor(values, dtype=torch.float32).reshape(-1)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be a sequence of numbers ({what}), got {_describe(values)}") from None
    if vector.numel() == 0:
        raise ValueError(f"{name} must hold at least one number ({what}; K >= 1), got none")
    return vector


def _mixture_parameters(means, stds, weights) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    means = _parameter_vector(means, "means", "the components' means mu_k")
    stds = _parameter_vector(stds, "stds", "the components' standard deviations sigma_k")
    weights = (torch.full_like(means, 1.0 / len(means)) if weights is None
               else _parameter_vector(weights, "weights", "the mixing weights pi_k"))
    if not (len(means) == len(stds) == len(weights)):
        raise ValueError(f"means, stds and weights need one entry per component, got {len(means)}, {len(stds)}, {len(weights)}")
    if not bool(torch.isfinite(means).all()):
        raise ValueError(f"means must be finite numbers (the components' means mu_k), got {means.tolist()}")
    if not bool(((stds > 0) & torch.isfinite(stds)).all()):
        raise ValueError(f"stds must be positive finite numbers (standard deviations sigma_k, not variances), got {stds.tolist()}")
    if not bool((weights >= 0).all()) or not math.isclose(float(weights.sum()), 1.0, rel_tol=1e-5):
        raise ValueError(f"weights must be non-negative and sum to 1 (the mixing weights pi_k), "
                         f"got {weights.tolist()} (sum {float(weights.sum()):.6g})")
    return means, stds, weights


def gaussian_mixture_1d(
    n: int, means: Sequence[float] = (-2.0, 2.0), stds: Sequence[float] = (0.5, 0.5), weights=None, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""n samples of the 1D mixture p(x) = sum_k pi_k N(x; mu_k, sigma_k^2).

    Each sample draws its component k with probability pi_k, then x = mu_k + sigma_k eps with
    eps ~ N(0, 1).

    Args:
        n: the number of samples, an int >= 1.
        means: mu_k, K >= 1 finite numbers (a sequence, array or tensor).
        stds: sigma_k, K positive finite numbers (standard deviations, not variances).
        weights: pi_k, K non-negative numbers summing to 1; None for 1/K each.
        seed: seed of the draws, an int.

    Returns:
        x (n,) float32 and the component k of each sample (n,) int64 in 0..K-1; on the CPU.

    Raises:
        TypeError: n or seed is not an integer, or means, stds or weights is not a sequence of numbers.
        ValueError: n < 1, K = 0, the three have different lengths, a mean that is not finite,
            a std <= 0 or not finite, or weights negative or not summing to 1.
    """
    n = _count(n, "n", "the number of samples")
    seed = _seed(seed)
    means, stds, weights = _mixture_parameters(means, stds, weights)
    g = torch.Generator().manual_seed(seed)
    component = torch.multinomial(weights, n, replacement=True, generator=g)
    x = means[component] + stds[component] * torch.randn(n, generator=g)
    return x, component


def gaussian_mixture_1d_log_density(
    x: torch.Tensor, means: Sequence[float] = (-2.0, 2.0), stds: Sequence[float] = (0.5, 0.5), weights=None
) -> torch.Tensor:
    r"""The exact log p(x) of `gaussian_mixture_1d`, elementwise over x of any shape, in nats.

    log p(x) = logsumexp_k [log pi_k - (x - mu_k)^2 / (2 sigma_k^2) - log sigma_k - log(2 pi) / 2],
    a log-density of x (per unit of x), computed in float32.

    Args:
        x: points of any shape (...), a tensor, array or number (converted to float32). NaN is
            refused; an infinite x has log-density -inf.
        means, stds, weights: the mixture, as in `gaussian_mixture_1d`.

    Returns:
        (...) float32, x's shape, on x's device (the mixture's parameters are moved there).

    Raises:
        TypeError: x is a bool (or bool tensor) or not numeric, or means, stds or weights is not
            a sequence of numbers.
        ValueError: x holds NaN, or the mixture is refused as in `gaussian_mixture_1d`.
    """
    if isinstance(x, (bool, np.bool_, str)) or (isinstance(x, (torch.Tensor, np.ndarray)) and x.dtype in (torch.bool, np.bool_)):
        raise TypeError(f"x must be numbers (points of any shape), got {_describe(x)}")
    try:
        x = torch.as_tensor(x, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"x must be numbers (points of any shape), got {_describe(x)}") from None
    if x.device.type != "meta" and bool(torch.isnan(x).any()):
        raise ValueError(f"x must not hold NaN, got {int(torch.isnan(x).sum())} NaN entries (of {x.numel()})")
    means, stds, weights = (p.to(x.device) for p in _mixture_parameters(means, stds, weights))
    x = x.unsqueeze(-1)  # (..., 1) against (K,)
    log_components = -0.5 * ((x - means) / stds) ** 2 - torch.log(stds) - 0.5 * math.log(2 * math.pi)
    return torch.logsumexp(torch.log(weights) + log_components, dim=-1)


def ring_2d(n: int, num_modes: int = 8, radius: float = 2.0, std: float = 0.05, seed: int = 0):
    """A ring of `num_modes` equally weighted 2D Gaussians (the classic mode-collapse test; Metz et al., 2017).

    Mode k sits at radius (cos 2 pi k / K, sin 2 pi k / K), K = num_modes; each point is its
    mode's centre plus isotropic Gaussian noise of standard deviation `std`.

    Args:
        n: the number of points, an int >= 1.
        num_modes: K, an int >= 1.
        radius: the centres' distance from the origin, a finite number >= 0.
        std: the noise's standard deviation per coordinate, a finite number >= 0.
        seed: seed of the draws, an int.

    Returns:
        x (n, 2) float32 and the mode of each point (n,) int64 in 0..K-1; on the CPU.

    Raises:
        TypeError: n, num_modes or seed is not an integer, or radius or std is not a number.
        ValueError: n < 1, num_modes < 1, or radius or std negative, NaN or infinite.
    """
    n = _count(n)
    num_modes = number(num_modes, "num_modes", "an int >= 1 (K, the number of Gaussians)", integer=True, minimum=1)
    radius = _scale(radius, "radius", "the centres' distance from the origin")
    std = _scale(std, "std", "the noise's standard deviation")
    g = torch.Generator().manual_seed(_seed(seed))
    mode = torch.randint(num_modes, (n,), generator=g)
    angle = 2 * math.pi * mode.float() / num_modes
    centres = radius * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    return centres + std * torch.randn(n, 2, generator=g), mode


def moons(n: int, noise: float = 0.05, seed: int = 0):
    """Two interleaving half circles, as scikit-learn's `make_moons`.

    Moon 0 is the upper half of the unit circle, (cos a, sin a) with a uniform in [0, pi]; moon 1
    is it turned over and shifted, (1 - cos a, 0.5 - sin a). Gaussian noise of standard deviation
    `noise` is added to each coordinate.

    Args:
        n: the number of points, an int >= 1.
        noise: the noise's standard deviation, a finite number >= 0.
        seed: seed of the draws, an int.

    Returns:
        x (n, 2) float32 and the moon of each point (n,) int64 in {0, 1}; on the CPU.

    Raises:
        TypeError: n or seed is not an integer, or noise is not a number.
        ValueError: n < 1, or noise negative, NaN or infinite.
    """
    n = _count(n)
    noise = _scale(noise, "noise", "the noise's standard deviation")
    g = torch.Generator().manual_seed(_seed(seed))
    label = torch.randint(2, (n,), generator=g)
    angle = math.pi * torch.rand(n, generator=g)
    upper = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    lower = torch.stack([1 - torch.cos(angle), 0.5 - torch.sin(angle)], dim=1)
    x = torch.where(label[:, None] == 0, upper, lower)
    return x + noise * torch.randn(n, 2, generator=g), label


def _roll_position(n: int, g: torch.Generator) -> torch.Tensor:
    return 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=g))  # t in [1.5 pi, 4.5 pi]


def swiss_roll_2d(n: int, noise: float = 0.0, seed: int = 0):
    """The 2D spiral (t cos t, t sin t), t uniform in [1.5 pi, 4.5 pi].

    Args:
        n: the number of points, an int >= 1.
        noise: the standard deviation of Gaussian noise added to each coordinate, a finite number >= 0.
        seed: seed of the draws, an int.

    Returns:
        x (n, 2) float32 and the position t along the spiral (n,) float32 (radians); on the CPU.

    Raises:
        TypeError: n or seed is not an integer, or noise is not a number.
        ValueError: n < 1, or noise negative, NaN or infinite.
    """
    n = _count(n)
    noise = _scale(noise, "noise", "the noise's standard deviation")
    g = torch.Generator().manual_seed(_seed(seed))
    t = _roll_position(n, g)
    x = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1)
    return x + noise * torch.randn(n, 2, generator=g), t


def swiss_roll_3d(n: int, noise: float = 0.0, seed: int = 0):
    """The swiss roll (t cos t, h, t sin t), h in [0, 21]: a rolled-up 2D sheet in 3D.

    The manifold of Isomap and LLE (Tenenbaum et al., 2000; Roweis and Saul, 2000), as scikit-learn's
    `make_swiss_roll`: t uniform in [1.5 pi, 4.5 pi], h uniform in [0, 21].

    Args:
        n: the number of points, an int >= 1.
        noise: the standard deviation of Gaussian noise added to each coordinate, a finite number >= 0.
        seed: seed of the draws, an int.

    Returns:
        x (n, 3) float32 and the position t along the roll (n,) float32 (radians), the
        coordinate a good manifold learner should recover; on the CPU.

    Raises:
        TypeError: n or seed is not an integer, or noise is not a number.
        ValueError: n < 1, or noise negative, NaN or infinite.
    """
    n = _count(n)
    noise = _scale(noise, "noise", "the noise's standard deviation")
    g = torch.Generator().manual_seed(_seed(seed))
    t = _roll_position(n, g)
    height = 21 * torch.rand(n, generator=g)
    x = torch.stack([t * torch.cos(t), height, t * torch.sin(t)], dim=1)
    return x + noise * torch.randn(n, 3, generator=g), t


def s_curve(n: int, noise: float = 0.0, seed: int = 0):
    """An S-shaped 2D sheet in 3D, as scikit-learn's `make_s_curve`.

    x = (sin t, h, sign(t) (cos t - 1)) with t uniform in [-1.5 pi, 1.5 pi] and h uniform in [0, 2].

    Args:
        n: the number of points, an int >= 1.
        noise: the standard deviation of Gaussian noise added to each coordinate, a finite number >= 0.
        seed: seed of the draws, an int.

    Returns:
        x (n, 3) float32 and the position t along the S (n,) float32 (radians); on the CPU.

    Raises:
        TypeError: n or seed is not an integer, or noise is not a number.
        ValueError: n < 1, or noise negative, NaN or infinite.
    """
    n = _count(n)
    noise = _scale(noise, "noise", "the noise's standard deviation")
    g = torch.Generator().manual_seed(_seed(seed))
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
            n images with factors drawn uniformly at random (seeded), an int >= 1 of any integer kind.
        seed: seed of the random draws, an int.

    Returns:
        images (N, 1, 28, 28) float32 in {0, 1}, factors (N, 4) int64 (indices into each factor's
        values); on the CPU. N = 1200 for n=None, else n.

    Raises:
        TypeError: n is neither None nor an integer (a bool or a float included), or seed is not an integer.
        ValueError: n < 1.

    Introduced in Chapter 5 (The variational autoencoder).
    """
    sizes = (len(SHAPE_NAMES), len(_SHAPE_SCALES), len(_SHAPE_POSITIONS), len(_SHAPE_POSITIONS))
    seed = _seed(seed)
    if n is None:
        grids = torch.meshgrid(*(torch.arange(s) for s in sizes), indexing="ij")
        factors = torch.stack([g.reshape(-1) for g in grids], dim=1)
    else:
        n = number(n, "n", "a positive int or None (every combination)", integer=True, minimum=1)
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


def grid_2d(n: int, size: int = 5, spacing: float = 2.0, std: float = 0.05, seed: int = 0):
    """A size x size grid of equally weighted 2D Gaussians (the other classic mode-collapse test).

    The centres are spacing * (i - (size - 1) / 2, j - (size - 1) / 2) for i, j = 0..size-1 (for the
    default 5 x 5, spacing 2: -4, -2, 0, 2, 4 on each axis); mode number i * size + j.

    Args:
        n: the number of points, an int >= 1. size: points per side, an int >= 1.
        spacing: distance between neighbouring centres, > 0. std: each Gaussian's standard deviation, > 0.
        seed: seed of the draws.

    Returns:
        x (n, 2) float32 and the mode of each point (n,) int64.

    Raises:
        TypeError, ValueError: n or size not an int >= 1, spacing or std not a positive number.
    """
    n = number(n, "n", "an int >= 1 (the number of points)", integer=True, minimum=1)
    size = number(size, "size", "an int >= 1 (centres per side)", integer=True, minimum=1)
    spacing = number(spacing, "spacing", "a positive number", minimum=0.0, strict=True)
    std = number(std, "std", "a positive number (a standard deviation)", minimum=0.0, strict=True)
    g = torch.Generator().manual_seed(seed)
    mode = torch.randint(size * size, (n,), generator=g)
    offset = (size - 1) / 2
    centres = spacing * torch.stack([mode // size - offset, mode % size - offset], dim=1).float()
    return centres + std * torch.randn(n, 2, generator=g), mode
