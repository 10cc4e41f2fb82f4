"""PixelCNN: an autoregressive model of binary images with an exact likelihood.

The chain rule in raster order (row by row, left to right within a row) writes any density of an
image x with D = H * W binary pixels as a product of one-pixel conditionals,

    p(x) = prod_{j=1}^{D} p(x_j | x_1, ..., x_{j-1}),    p(x_j = 1 | x_<j) = sigm(l_j(x_<j)),

and a PixelCNN computes every logit l_j in one pass of a convolutional network whose kernels are
masked so that l_j never sees x_j or a later pixel (van den Oord et al., 2016a, "Pixel recurrent
neural networks", section 3.5). Training is one forward pass per batch; sampling is one pixel at a
time. The parts live in three files, one idea each: the masks and `MaskedConv2d` in
`edu_gen.pixelcnn_masks`, the gated PixelCNN in `edu_gen.pixelcnn_gated` (van den Oord et al.,
2016b: vertical and horizontal stacks, no blind spot), the samplers in `edu_gen.pixelcnn_sampling`;
this module holds the smallest model (`LogisticAutoregressive`), `PixelCNN` (a stack of masked
convolutions, with its blind spot), the exact `log_likelihood`, the exhaustive causality check
(`dependencies`, `receptive_field`), the training recipe (`train_pixelcnn`) and the chapter's trained
model (`main_model_recipe`, `load_or_train_pixelcnn`, `main_model`), and re-exports the rest, so
that ``from edu_gen import pixelcnn`` is all a chapter needs.

Images are (B, 1, H, W) float tensors of 0s and 1s; logits have the same shape. Symbols follow the
book's notation page. Introduced in the chapter "PixelCNN" (label ch-pixelcnn).
"""

from __future__ import annotations

import copy
import math
import numbers
from dataclasses import dataclass

import torch
from torch import nn

from edu_gen._checks import number
from edu_gen.likelihood import bernoulli_nll
from edu_gen.pixelcnn_gated import GatedLayer, GatedPixelCNN, GatedPixelCNNConfig, _check_model_input, gate
from edu_gen.pixelcnn_masks import MASK_TYPES, MaskedConv2d, _check_kernel, causal_mask, horizontal_mask, vertical_mask


def _check_images(x, name: str = "x") -> None:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor of 0s and 1s, got "
                        f"{type(x).__name__ if not isinstance(x, torch.Tensor) else x.dtype}")
    if x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(f"{name} must have shape (B, 1, H, W), got {tuple(x.shape)}")
    if x.device.type != "meta" and x.numel() and not bool(((x == 0) | (x == 1)).all()):
        raise ValueError(f"{name} must be binary (only 0s and 1s) for the Bernoulli model; got values such as "
                         f"{x[(x != 0) & (x != 1)][:3].tolist()} (binarise first: edu_gen.data.binarize)")


def _check_shape(shape, name: str = "shape") -> tuple[int, int]:
    if (not isinstance(shape, (tuple, list)) or len(shape) != 2
            or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in shape)):
        raise ValueError(f"{name} must be (H, W), two ints >= 1, got {shape!r}")
    return int(shape[0]), int(shape[1])


# --------------------------------------------------------------------------------------------
# The smallest autoregressive model: one logistic regression per pixel
# --------------------------------------------------------------------------------------------


class LogisticAutoregressive(nn.Module):
    r"""p(x_j = 1 | x_<j) = sigm(b_j + sum_{k<j} W_jk x_k), W strictly lower triangular in raster order.

    The fully visible sigmoid belief network (Neal, 1992; Frey, 1998): the chain rule with a logistic
    regression per pixel, D (D - 1) / 2 + D parameters for D = H * W pixels. Small enough to enumerate
    every image of a 3 x 3 grid, which the chapter does to check that the probabilities sum to 1.

    Args:
        shape: (H, W), ints >= 1.

    Raises:
        TypeError, ValueError: shape is not two ints >= 1.
    """

    def __init__(self, shape: tuple[int, int] = (3, 3)):
        super().__init__()
        if not isinstance(shape, (tuple, list)) or len(shape) != 2:
            raise ValueError(f"shape must be (H, W), two ints >= 1, got {shape!r}")
        height = number(shape[0], "shape[0]", "an int >= 1", integer=True, minimum=1)
        width = number(shape[1], "shape[1]", "an int >= 1", integer=True, minimum=1)
        self.shape, d = (height, width), height * width
        self.weight = nn.Parameter(torch.randn(d, d) / math.sqrt(d))
        self.bias = nn.Parameter(torch.zeros(d))
        self.register_buffer("mask", torch.ones(d, d).tril(-1))      # W_jk used only for k < j

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits l_j = b_j + sum_{k<j} W_jk x_k.

        Args:
            x: (B, 1, H, W) floats, (H, W) the model's shape.

        Returns:
            (B, 1, H, W) logits.

        Raises:
            TypeError: x is not a floating-point tensor. ValueError: x's shape is not (B, 1, H, W).
        """
        _check_model_input(x)
        if tuple(x.shape[2:]) != self.shape:
            raise ValueError(f"x must have shape (B, 1, {self.shape[0]}, {self.shape[1]}), got {tuple(x.shape)}")
        flat = x.flatten(1)                                              # (B, D)
        return (flat @ (self.weight * self.mask).T + self.bias).view_as(x)


# --------------------------------------------------------------------------------------------
# PixelCNN: a stack of masked convolutions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PixelCNNConfig:
    """Settings of `PixelCNN` (van den Oord et al., 2016a, section 3.5, made small for a CPU).

    Attributes:
        channels: feature maps per layer (the paper: 2h = 256 for CIFAR; 32 trains in minutes).
        layers: masked 'B' layers after the first; each widens the receptive field by one pixel per side.
        first_kernel: k of the mask-'A' first layer (the paper: 7).
        kernel_size: k of the mask-'B' layers (the paper: 3).

    Raises:
        TypeError, ValueError: a count that is not an int >= 1, or an even kernel size.
    """

    channels: int = 32
    layers: int = 5
    first_kernel: int = 7
    kernel_size: int = 3

    def __post_init__(self):
        for name in ("channels", "layers"):
            number(getattr(self, name), name, "an int >= 1", integer=True, minimum=1)
        _check_kernel(self.first_kernel, "first_kernel"), _check_kernel(self.kernel_size)


class PixelCNN(nn.Module):
    """Masked 'A' k1 x k1 conv, `layers` x (ReLU, masked 'B' k x k conv), then two unmasked 1x1 convs.

    Output: logits (B, 1, H, W), l_j a function of x_<j only. The 1x1 convolutions at the end look at
    one position of a one-channel image's features and need no mask (a mask 'A' there would cut
    every input; the paper masks them 'B' because its pixels have three colour channels, ordered).
    Stacked raster masks leave a blind spot: pixels above and to the right that no output sees
    (measured in the chapter; van den Oord et al., 2016b, figure 1).

    Args:
        config: a `PixelCNNConfig`.

    Raises:
        TypeError: config is not a `PixelCNNConfig`.
    """

    def __init__(self, config: PixelCNNConfig = PixelCNNConfig()):
        super().__init__()
        if not isinstance(config, PixelCNNConfig):
            raise TypeError(f"config must be a PixelCNNConfig, got {type(config).__name__}")
        self.config = c = config
        convs = [MaskedConv2d(1, c.channels, c.first_kernel, "A")]
        convs += [MaskedConv2d(c.channels, c.channels, c.kernel_size, "B") for _ in range(c.layers)]
        self.convs = nn.ModuleList(convs)
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
        h = self.convs[0](x)                                   # (B, C, H, W)
        for conv in self.convs[1:]:
            h = conv(torch.relu(h))                            # (B, C, H, W)
        return self.head(h)                                    # (B, 1, H, W)

    def rows_needed(self) -> int:
        """How many rows above row r the logits of row r can depend on (the vertical reach).

        Returns:
            first_kernel // 2 + layers * (kernel_size // 2).
        """
        return self.config.first_kernel // 2 + self.config.layers * (self.config.kernel_size // 2)


# --------------------------------------------------------------------------------------------
# Likelihood, causality, training
# --------------------------------------------------------------------------------------------


def log_likelihood(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    r"""log p(x) per image in nats: :math:`\sum_j x_j \log \lambda_j + (1 - x_j)\log(1 - \lambda_j)`, λ = sigm(l(x)).

    Exact (no bound, no sampling): the chain rule with every conditional from one forward pass. It is
    the log of a normalised probability of the binary images only if `model` is causal (logit j a
    function of x_<j; `dependencies` checks it). Bits per dimension: ``-log_likelihood(model, x) /
    (H * W * ln 2)`` (`metrics.bits_per_dim`). Source: van den Oord et al. (2016a), equation (1).

    Args:
        model: maps (B, 1, H, W) images to logits of the same shape, each a function of x_<j only.
        x: (B, 1, H, W) binary floats (0s and 1s).

    Returns:
        (B,) log-likelihoods in nats (<= 0).

    Raises:
        TypeError: x is not a floating-point tensor. ValueError: x is not (B, 1, H, W) or not binary,
        or the model's output does not have x's shape.
    """
    _check_images(x)
    logits = model(x)
    if not isinstance(logits, torch.Tensor) or logits.shape != x.shape:
        raise ValueError(f"the model must return logits of x's shape {tuple(x.shape)}, got "
                         f"{tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__}")
    return -bernoulli_nll(x, logits)


def _float64_copy(model) -> nn.Module:
    if not isinstance(model, nn.Module) or next(model.parameters(), None) is None:
        raise TypeError(f"model must be a torch.nn.Module with parameters, got {type(model).__name__}")
    return copy.deepcopy(model).double().eval()


def dependencies(model: nn.Module, shape: tuple[int, int] = (5, 5), seed: int = 0, draws: int = 3) -> torch.Tensor:
    """Which inputs each output depends on: A[j, k] = True iff d l_j / d x_k != 0 for some input drawn.

    Pixels are numbered in raster order, j = r * W + c. A model is causal when A[j, k] is False for
    every k >= j (strictly lower triangular). Masked weights contribute exact zeros, so an
    exact comparison is right. The inputs are random values in [0, 1] (not binary), in float64, and
    the answer is the union over `draws` inputs, so that a ReLU that happens to be off at one input
    does not hide a dependency. One backward pass per draw: the batch holds H*W copies of the input
    and copy j back-propagates output j only. A dead network (constant output) gives an all-False
    matrix, which is causal and vacuous: check that it is not empty too.

    Args:
        model: maps (B, 1, H, W) to (B, 1, H, W); it is copied to float64, not changed.
        shape: (H, W), small (H * W copies are run at once).
        seed: seed of the random inputs. draws: how many inputs, an int >= 1.

    Returns:
        (H*W, H*W) bool tensor on the CPU.

    Raises:
        TypeError: model is not a Module with parameters. ValueError: shape not two ints >= 1, draws < 1.
    """
    height, width = _check_shape(shape)
    draws = number(draws, "draws", "an int >= 1", integer=True, minimum=1)
    n = height * width
    m = _float64_copy(model)
    g = torch.Generator().manual_seed(seed)
    found = torch.zeros(n, n, dtype=torch.bool)
    device = next(m.parameters()).device
    for _ in range(draws):
        x = torch.rand(1, 1, height, width, generator=g, dtype=torch.float64).to(device)
        x = x.expand(n, 1, height, width).clone().requires_grad_(True)       # (n, 1, H, W): copy j for output j
        out = m(x).reshape(n, n)                                                # (copy, output pixel)
        out.diagonal().sum().backward()
        found |= (x.grad.reshape(n, n) != 0).cpu()
    return found


def receptive_field(model: nn.Module, pixel: tuple[int, int], shape: tuple[int, int] = (28, 28), seed: int = 0,
                    draws: int = 3) -> torch.Tensor:
    """(H, W) bool: the inputs the logit at `pixel` = (row, column) depends on (nonzero gradient).

    Same method as `dependencies` for one output (random float64 inputs, union over `draws`).

    Args:
        model: as in `dependencies`. pixel: (row, column) inside the image. shape: (H, W).
        seed, draws: as in `dependencies`.

    Returns:
        (H, W) bool tensor on the CPU.

    Raises:
        TypeError: model is not a Module with parameters. ValueError: shape not two ints >= 1, draws < 1,
        or pixel outside the image.
    """
    height, width = _check_shape(shape)
    draws = number(draws, "draws", "an int >= 1", integer=True, minimum=1)
    if not isinstance(pixel, (tuple, list)) or len(pixel) != 2:
        raise ValueError(f"pixel must be (row, column), got {pixel!r}")
    r, c = pixel
    if not (0 <= r < height and 0 <= c < width):
        raise ValueError(f"pixel must lie in the image of shape {shape}, got {pixel}")
    m = _float64_copy(model)
    g = torch.Generator().manual_seed(seed)
    device = next(m.parameters()).device
    found = torch.zeros(height, width, dtype=torch.bool)
    for _ in range(draws):
        x = torch.rand(1, 1, height, width, generator=g, dtype=torch.float64).to(device).requires_grad_(True)
        m(x)[0, 0, r, c].backward()
        found |= (x.grad[0, 0] != 0).cpu()
    return found


def binarized_nll(model: nn.Module, batch) -> torch.Tensor:
    """Mean negative log-likelihood (nats per image) of a fresh Bernoulli binarisation of grey levels.

    Dynamic binarisation as in the VAE chapter: x_j ~ Bernoulli(grey level_j) at every call, from
    torch's global generator.

    Args:
        model: as in `log_likelihood`.
        batch: grey levels (B, 1, H, W) in [0, 1], or a tuple (x, ...) from a loader.

    Returns:
        Scalar tensor: the batch mean of -log p(x) in nats (the sum over pixels, not a mean).

    Raises:
        TypeError, ValueError: as `log_likelihood` (after binarisation); torch.bernoulli refuses values
        outside [0, 1].
    """
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    return -log_likelihood(model, torch.bernoulli(x)).mean()


def train_pixelcnn(model: nn.Module, images: torch.Tensor, *, steps: int, batch_size: int = 64, lr: float = 1e-3,
                   seed: int = 0, progress: bool | None = None):
    """Train with Adam on dynamically binarised `images`; returns the History.

    The chapter's recipe, shared by the notebook and `benchmarks/pixelcnn_mnist.py`. The loss is
    the exact negative log-likelihood of the binarised batch in nats per image. Two stages: the
    first 70% of the steps at `lr`, the rest at lr / 5 (the smaller steps at the end settle the
    weights). Gradients are clipped to norm 1 (a safeguard for Adam's first steps; the papers state
    no clipping).

    Args:
        model: a `PixelCNN`, `GatedPixelCNN` or any causal model of (B, 1, H, W) images; trained in place.
        images: (N, 1, H, W) grey levels in [0, 1].
        steps: optimiser steps, an int >= 1. batch_size: images per step. lr: Adam's learning rate.
        seed: seed of the shuffling and the binarisation. progress: a progress bar (None: `train.fit`'s default).

    Returns:
        `train.History` with one ``loss`` (nats per image) per step.

    Raises:
        ValueError: images not (N, 1, H, W) in [0, 1], steps < 1; `train.fit` refuses a bad batch size or lr.
    """
    from edu_gen import data, train
    from edu_gen._checks import unit_interval

    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 1:
        raise ValueError(f"images must be a (N, 1, H, W) tensor of grey levels, got "
                         f"{tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__}")
    unit_interval(images, "train_pixelcnn: images must hold grey levels")
    steps = number(steps, "steps", "an int >= 1", integer=True, minimum=1)
    torch.manual_seed(seed)
    loader = data.loader(images, batch_size=batch_size, shuffle=True, seed=seed, drop_last=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = None
    first = max(1, round(0.7 * steps))
    for stage_steps, stage_lr in ((first, lr), (steps - first, lr / 5)):
        if stage_steps == 0:
            continue
        for group in optimizer.param_groups:
            group["lr"] = stage_lr
        history = train.fit(model, binarized_nll, loader, epochs=math.ceil(stage_steps / len(loader)),
                            max_steps=stage_steps, optimizer=optimizer, clip_grad=1.0, progress=progress,
                            history=history)
    return history


def sample(model: nn.Module, n: int, shape: tuple[int, int] = (28, 28), generator: torch.Generator | None = None,
           method: str = "naive") -> torch.Tensor:
    """Draw n binary images pixel by pixel: `edu_gen.pixelcnn_sampling.sample`, where it lives.

    Args:
        model, n, shape, generator, method: as in `edu_gen.pixelcnn_sampling.sample`.

    Returns:
        (n, 1, H, W) float tensor of 0s and 1s.

    Raises:
        TypeError, ValueError: as `edu_gen.pixelcnn_sampling.sample`.
    """
    from edu_gen.pixelcnn_sampling import sample as _sample  # a separate module, imported when first needed

    return _sample(model, n, shape, generator=generator, method=method)


# --------------------------------------------------------------------------------------------
# The PixelCNN chapter's main model, shared with later chapters
# --------------------------------------------------------------------------------------------

MAIN_MODEL_NAME = "ch08_gated_pixelcnn"


def main_model_recipe(scale: str | None = None) -> dict:
    """The recipe of the PixelCNN chapter's gated PixelCNN at a scale: its size, steps of 32 images and learning rate.

    A 7 x 7 first layer at every scale (it reads one channel, so its size costs little and widens
    what each pixel sees); ci: 16 channels, 3 + 1 gated layers, 60 steps, lr 6e-3; book: 16
    channels, 4 + 1 layers, 1,500 steps, lr 6e-3; full: 64 channels, 12 + 1 layers, 60,000 steps,
    lr 3e-3 (`train_pixelcnn` divides the rate by 5 for the last 30% of the steps).

    Args:
        scale: ``"ci"``, ``"book"`` or ``"full"``; None for the current one (`runtime.scale`).

    Returns:
        ``{"config": GatedPixelCNNConfig, "steps": int, "batch_size": int, "lr": float}``: the
        keyword arguments of `load_or_train_pixelcnn` besides the name and the images.

    Raises:
        ValueError: an unknown scale (or an EDU_GEN_SCALE that names none).
    """
    from edu_gen import runtime

    # ci: 60 steps (150 before) cut chapter 11's empty-cache run towards the CI's 60 s; the ci checks on this model are
    # bounds a short run meets with room: chapter 8's test NLL below 543 nats (measured at 60 steps 107.3 on MNIST, 169.1
    # on the digits fallback; 98.5 on MNIST at 150) and chapter 11's all-black image likelier than the median test digit
    # (4.9 < 95.8 nats on MNIST, 3.8 < 108.5 on the digits)
    recipes = {"ci": (16, 3, 60, 6e-3), "book": (16, 4, 1_500, 6e-3), "full": (64, 12, 60_000, 3e-3)}
    channels, layers, steps, lr = runtime.at_scale(recipes, scale)
    return {"config": GatedPixelCNNConfig(channels=channels, layers=layers, first_kernel=7), "steps": steps,
            "batch_size": 32, "lr": lr}


def load_or_train_pixelcnn(name: str, config, images: torch.Tensor, steps: int, *, batch_size: int = 32,
                           lr: float = 1e-3, seed: int = 0):
    """Build the model of `config` from `seed`, then load it from the model cache or train it with `train_pixelcnn`.

    The one place where the PixelCNN chapter's recipe and cache key are written: the chapter and a
    later chapter's call of `main_model` load the same weights, and a change here changes the key
    everywhere at once. Training runs on `runtime.device()`; the model is returned on the CPU.

    Args:
        name: the cache name. config: a `GatedPixelCNNConfig` (builds a `GatedPixelCNN`) or a
            `PixelCNNConfig` (a `PixelCNN`). images: (N, 1, H, W) grey levels in [0, 1].
        steps, batch_size, lr, seed: as `train_pixelcnn`.

    Returns:
        (the model on the CPU in eval mode, the History of its training).

    Raises:
        TypeError: config is neither config class.
        ValueError: as `train_pixelcnn` (bad images or steps).
    """
    from dataclasses import asdict

    from edu_gen import train

    model_class = {GatedPixelCNNConfig: GatedPixelCNN, PixelCNNConfig: PixelCNN}.get(type(config))
    if model_class is None:
        raise TypeError(f"config must be a GatedPixelCNNConfig or a PixelCNNConfig, got {type(config).__name__}")
    torch.manual_seed(seed)
    model = model_class(config)
    key = {**asdict(config), "model": model_class.__name__, "n": len(images), "steps": steps, "seed": seed,
           "batch_size": batch_size, "lr": lr}
    history = train.load_or_train(name, model, lambda m: train_pixelcnn(m, images, steps=steps, batch_size=batch_size,
                                                                        lr=lr, seed=seed), key)
    return model.cpu().eval(), history


def main_model(images: torch.Tensor):
    """The PixelCNN chapter's gated PixelCNN (`main_model_recipe` at the current scale), trained on `images` or loaded.

    Args:
        images: the chapter's training digits, ``data.images("mnist", "train", n=N_TRAIN)``'s images,
            (N, 1, 28, 28) grey levels in [0, 1] (binarised afresh at every step).

    Returns:
        (the GatedPixelCNN on the CPU in eval mode, History).

    Raises:
        ValueError: images not (N, 1, H, W) in [0, 1] (as `train_pixelcnn`), or a bad EDU_GEN_SCALE.
    """
    return load_or_train_pixelcnn(MAIN_MODEL_NAME, images=images, **main_model_recipe())


__all__ = ["LogisticAutoregressive", "MaskedConv2d", "PixelCNN", "PixelCNNConfig", "GatedPixelCNN", "GatedPixelCNNConfig",
           "GatedLayer", "MASK_TYPES", "causal_mask", "vertical_mask", "horizontal_mask", "gate", "log_likelihood",
           "dependencies", "receptive_field", "binarized_nll", "train_pixelcnn", "sample", "MAIN_MODEL_NAME",
           "main_model_recipe", "load_or_train_pixelcnn", "main_model"]
