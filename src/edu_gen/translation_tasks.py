r"""Image-to-image tasks whose right answer is known, for the conditional-GAN chapter.

The paired task "lower half removed -> whole digit" (`remove_lower_half`, `paired_task`); the known
bijections T of the unpaired task with their inverses; and `unpaired_domains`, which builds domain
X from one half of a training set and domain Y = T(the other half), so no pair is ever seen but a
translator G can be compared with T on test digits. Re-exported by `edu_gen.translation`.
Introduced in the chapter on conditional GANs (label ch-cgan).
"""

from __future__ import annotations

import torch

from edu_gen._checks import number

# --------------------------------------------------------------------------------------------
# Tasks whose right answer is known
# --------------------------------------------------------------------------------------------


def _check_images(x: torch.Tensor, name: str = "x") -> None:
    if x.ndim != 4 or x.shape[-2] != x.shape[-1]:
        raise ValueError(f"{name} must be square images (B, C, H, H), got shape {tuple(x.shape)}")


def remove_lower_half(x: torch.Tensor) -> torch.Tensor:
    """The paired task's input: images (B, C, H, W) with rows H // 2 .. H-1 set to 0 (a new tensor).

    The task is remove_lower_half(x) -> x: the true output of each input is the whole digit.

    Args:
        x: (B, C, H, H) images.

    Raises:
        ValueError: x is not a batch of square images.
    """
    _check_images(x)
    out = x.clone()
    out[..., x.shape[-2] // 2:, :] = 0.0
    return out


def paired_task(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets) = (remove_lower_half(images), images), both (N, C, H, H).

    Args:
        images: (N, C, H, H) whole digits, the targets.

    Raises:
        ValueError: images is not a batch of square images.
    """
    return remove_lower_half(images), images


def invert_rotate(x: torch.Tensor) -> torch.Tensor:
    """T(x) = rot90(1 - x): grey levels inverted, then turned 90 degrees anticlockwise. (B, C, H, H) -> same.

    A bijection of [0, 1]^(H x H); `invert_rotate_inverse` undoes it. The rotation only moves
    pixels (exact); 1 - (1 - x) can differ from x by one float32 rounding (at most 2^-25 ~ 3e-8
    for x in [0, 1]), so T^-1(T(x)) = x to within that.

    Args:
        x: (B, C, H, H) images in [0, 1].

    Raises:
        ValueError: x is not a batch of square images (a 90-degree turn needs H = W).
    """
    _check_images(x)
    return torch.rot90(1.0 - x, k=1, dims=(-2, -1))


def invert_rotate_inverse(y: torch.Tensor) -> torch.Tensor:
    """T^-1(y) = 1 - rot90(y, -1): the inverse of `invert_rotate`. (B, C, H, H) -> same.

    Args:
        y: (B, C, H, H) images of domain Y.

    Raises:
        ValueError: y is not a batch of square images.
    """
    _check_images(y, "y")
    return 1.0 - torch.rot90(y, k=-1, dims=(-2, -1))


def invert(x: torch.Tensor) -> torch.Tensor:
    """T(x) = 1 - x: grey levels inverted, the unpaired task's known bijection. (B, C, H, W) -> same.

    T is its own inverse. 1 - (1 - x) can differ from x by one float32 rounding (at most 2^-25 for
    x in [0, 1]). Unlike the quarter turn of `invert_rotate`, each output pixel depends on the input
    pixel at the same place, so a convolutional generator can represent T with a 1 x 1 filter; and
    unlike a move of the whole digit, a patch discriminator, which judges patches wherever they
    sit, sees whether it was done (dark strokes on white).

    Args:
        x: (B, C, H, H) images in [0, 1].

    Raises:
        ValueError: x is not a batch of square images.
    """
    _check_images(x)
    return 1.0 - x


def unpaired_split(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of two disjoint random halves of range(n): (n // 2,) and (n - n // 2,), int64, together all of range(n).

    Args:
        n: the number of training images, >= 2. seed: of the random permutation.

    Raises:
        TypeError, ValueError: n not an int >= 2.
    """
    n = number(n, "n", "an int >= 2 (the number of training images)", integer=True, minimum=2)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
    return perm[: n // 2], perm[n // 2:]


def unpaired_domains(images: torch.Tensor, transform=invert, seed: int = 0) -> dict[str, torch.Tensor]:
    """The unpaired task: domain X = one half of `images`, domain Y = transform(the other half).

    No image of X has its counterpart in Y, so a translator can only learn from the two
    distributions; T = `transform` is the right answer, to compare G with on test digits.

    Args:
        images: (N, C, H, H), N >= 2. transform: T, images -> images of the same shape. seed: of the split.

    Returns:
        {"x": (N // 2, C, H, H), "y": (N - N // 2, C, H, H), "index_x", "index_y"} (indices into images).

    Raises:
        ValueError: images is not a batch of square images.
    """
    _check_images(images, "images")
    index_x, index_y = unpaired_split(len(images), seed)
    return {"x": images[index_x], "y": transform(images[index_y]), "index_x": index_x, "index_y": index_y}
