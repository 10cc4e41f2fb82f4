"""PixelCNN: an autoregressive model of binary images with an exact likelihood.

The chain rule in raster order (row by row, left to right within a row) writes any density of an
image x with D = H * W binary pixels as a product of one-pixel conditionals,

    p(x) = prod_{j=1}^{D} p(x_j | x_1, ..., x_{j-1}),    p(x_j = 1 | x_<j) = sigm(l_j(x_<j)),

and a PixelCNN computes every logit l_j in one pass of a convolutional network whose kernels are
masked so that l_j never sees x_j or a later pixel (van den Oord et al., 2016a, "Pixel recurrent
neural networks", section 3.5). Training is one forward pass per batch; sampling is one pixel at a
time. This module goes parts -> models -> loss -> training, in that order: the masks
(`causal_mask`, `vertical_mask`, `horizontal_mask`), `MaskedConv2d`, `PixelCNN` (a stack of masked
convolutions, with its blind spot), `GatedLayer` and `GatedPixelCNN` (van den Oord et al., 2016b,
"Conditional image generation with PixelCNN decoders": vertical and horizontal stacks, gated
tanh x sigmoid units, residual and skip connections, no blind spot), `log_likelihood`,
`dependencies` (the exhaustive causality check) and `train_pixelcnn`. The samplers are in
`edu_gen.pixelcnn_sampling` and re-exported here as `sample`.

Images are (B, 1, H, W) float tensors of 0s and 1s; logits have the same shape. Symbols follow the
book's notation page. Introduced in the chapter "PixelCNN" (label ch-pixelcnn).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from edu_gen._checks import number
from edu_gen.likelihood import bernoulli_nll

MASK_TYPES = ("A", "B")


# --------------------------------------------------------------------------------------------
# Masks
# --------------------------------------------------------------------------------------------


def _check_kernel(kernel_size) -> int:
    k = number(kernel_size, "kernel_size", "an odd int >= 1 (the kernel needs a centre pixel)", integer=True, minimum=1)
    if k % 2 == 0:
        raise ValueError(f"kernel_size must be odd so that the kernel has a centre pixel, got {k}")
    return k


def _check_mask_type(mask_type) -> str:
    if mask_type not in MASK_TYPES:
        raise ValueError(f"mask_type must be 'A' (first layer, centre excluded) or 'B' (later layers, "
                         f"centre included), got {mask_type!r}")
    return mask_type


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
        ValueError: k is even or < 1, or mask_type is neither 'A' nor 'B'.
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

    Raises:
        ValueError: k is even or < 1.
    """
    k = _check_kernel(kernel_size)
    c = k // 2
    mask = torch.ones(k, k)
    mask[c + (not first):, :] = 0
    return mask


def horizontal_mask(kernel_size: int, first: bool) -> torch.Tensor:
    """(1, k) mask of the horizontal stack: the current row, left of the centre (and the centre unless first).

    Raises:
        ValueError: k is even or < 1.
    """
    k = _check_kernel(kernel_size)
    mask = torch.ones(1, k)
    mask[0, k // 2 + (not first):] = 0
    return mask


class MaskedConv2d(nn.Conv2d):
    r"""A convolution whose kernel is multiplied by a fixed 0/1 mask at every call, 'same' padding.

    .. math:: y = (W \odot M) * x + b

    Inputs: x (B, in_channels, H, W). Output: (B, out_channels, H, W). The mask lives in a buffer
    (saved with the model, moved with it, never trained); the weights under a 0 get zero gradient.

    Args:
        in_channels, out_channels: channel counts, ints >= 1.
        kernel_size: k, an odd int (a k x k kernel with the raster mask `causal_mask(k, mask_type)`).
        mask_type: ``"A"`` (centre excluded: the first layer) or ``"B"`` (centre included).
        mask: instead of mask_type, any (kh, kw) 0/1 tensor with odd sides (e.g. `vertical_mask`,
            `horizontal_mask`); the kernel then has the mask's shape.

    Raises:
        ValueError: an even kernel size, an unknown mask type, or a mask with an even side.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, mask_type: str = "B",
                 mask: torch.Tensor | None = None):
        if mask is None:
            mask = causal_mask(kernel_size, mask_type)
        elif mask.dim() != 2 or mask.shape[0] % 2 == 0 or mask.shape[1] % 2 == 0:
            raise ValueError(f"mask must be a (kh, kw) tensor with odd sides, got shape {tuple(mask.shape)}")
        kh, kw = mask.shape
        super().__init__(in_channels, out_channels, (kh, kw), padding=(kh // 2, kw // 2))
        self.register_buffer("mask", mask.to(self.weight.dtype).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight * self.mask, self.bias)


def _check_images(x, name: str = "x") -> None:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor of 0s and 1s, got "
                        f"{type(x).__name__ if not isinstance(x, torch.Tensor) else x.dtype}")
    if x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(f"{name} must have shape (B, 1, H, W), got {tuple(x.shape)}")
    if x.device.type != "meta" and x.numel() and not bool(((x == 0) | (x == 1)).all()):
        raise ValueError(f"{name} must be binary (only 0s and 1s) for the Bernoulli model; got values such as "
                         f"{x[(x != 0) & (x != 1)][:3].tolist()} (binarise first: edu_gen.data.binarize)")


# --------------------------------------------------------------------------------------------
# The smallest autoregressive model: one logistic regression per pixel
# --------------------------------------------------------------------------------------------


class LogisticAutoregressive(nn.Module):
    r"""p(x_j = 1 | x_<j) = sigm(b_j + sum_{k<j} W_jk x_k), W strictly lower triangular in raster order.

    The fully visible sigmoid belief network (Neal, 1992; Frey, 1998): the chain rule with a logistic
    regression per pixel, D (D - 1) / 2 + D parameters for D = H * W pixels. Small enough to enumerate
    every image of a 3 x 3 grid, which the chapter does to check that the probabilities sum to 1.

    Inputs: x (B, 1, H, W). Output: logits (B, 1, H, W).

    Args:
        shape: (H, W), ints >= 1.
    """

    def __init__(self, shape: tuple[int, int] = (3, 3)):
        super().__init__()
        height = number(shape[0], "shape[0]", "an int >= 1", integer=True, minimum=1)
        width = number(shape[1], "shape[1]", "an int >= 1", integer=True, minimum=1)
        self.shape, d = (height, width), height * width
        self.weight = nn.Parameter(torch.randn(d, d) / math.sqrt(d))
        self.bias = nn.Parameter(torch.zeros(d))
        self.register_buffer("mask", torch.ones(d, d).tril(-1))      # W_jk used only for k < j

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[2:]) != self.shape:
            raise ValueError(f"x must have shape (B, 1, {self.shape[0]}, {self.shape[1]}), got {tuple(x.shape)}")
        flat = x.flatten(1)                                              # (B, D)
        return (flat @ (self.weight * self.mask).T + self.bias).view_as(x)


# --------------------------------------------------------------------------------------------
# PixelCNN: a stack of masked convolutions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PixelCNNConfig:
    """Settings of `PixelCNN` (van den Oord et al., 2016a, table 4, made small for a CPU).

    channels: feature maps per layer (the paper: 2h = 256 for CIFAR; 32 trains in minutes).
    layers: masked 'B' layers after the first; each widens the receptive field by one pixel per side.
    first_kernel: k of the mask-'A' first layer (the paper: 7).
    kernel_size: k of the mask-'B' layers (the paper: 3).
    """

    channels: int = 32
    layers: int = 5
    first_kernel: int = 7
    kernel_size: int = 3

    def __post_init__(self):
        for name in ("channels", "layers"):
            number(getattr(self, name), name, "an int >= 1", integer=True, minimum=1)
        _check_kernel(self.first_kernel), _check_kernel(self.kernel_size)


class PixelCNN(nn.Module):
    """Masked 'A' k1 x k1 conv, `layers` x (ReLU, masked 'B' k x k conv), then two unmasked 1x1 convs.

    Inputs: x (B, 1, H, W) binary floats. Output: logits (B, 1, H, W), l_j a function of x_<j only.
    The 1x1 convolutions at the end look at one position and need no mask (a mask 'A' there would
    cut every input). Stacked raster masks leave a blind spot: pixels above and to the right
    that no output sees (measured in the chapter; van den Oord et al., 2016b, figure 1).

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
        h = self.convs[0](x)                                   # (B, C, H, W)
        for conv in self.convs[1:]:
            h = conv(torch.relu(h))                            # (B, C, H, W)
        return self.head(h)                                    # (B, 1, H, W)

    def rows_needed(self) -> int:
        """How many rows above row r the logits of row r can depend on (the vertical reach)."""
        return self.config.first_kernel // 2 + self.config.layers * (self.config.kernel_size // 2)


# --------------------------------------------------------------------------------------------
# Gated PixelCNN: vertical and horizontal stacks
# --------------------------------------------------------------------------------------------


def gate(a: torch.Tensor) -> torch.Tensor:
    r"""Gated activation :math:`\tanh(a_1) \odot \operatorname{sigm}(a_2)`, a = (a_1, a_2) split on channels.

    (B, 2C, H, W) -> (B, C, H, W). Source: van den Oord et al. (2016b), equation (2).
    """
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

    Inputs: v, h (B, C_in, H, W). Outputs: v', h', skip, each (B, C, H, W).
    """

    def __init__(self, in_channels: int, channels: int, kernel_size: int, first: bool):
        super().__init__()
        self.first = first
        self.v_conv = MaskedConv2d(in_channels, 2 * channels, mask=vertical_mask(kernel_size, first))
        self.h_conv = MaskedConv2d(in_channels, 2 * channels, mask=horizontal_mask(kernel_size, first))
        self.link = nn.Conv2d(2 * channels, 2 * channels, 1)      # vertical -> horizontal, 1x1: no mask needed
        self.out = nn.Conv2d(channels, channels, 1)
        self.skip = nn.Conv2d(channels, channels, 1)

    def forward(self, v: torch.Tensor, h: torch.Tensor):
        v_pre = self.v_conv(v)                                   # (B, 2C, H, W), rows < r
        return (gate(v_pre), *self.horizontal(h, self.link(v_pre)))

    def horizontal(self, h: torch.Tensor, link: torch.Tensor):
        """The horizontal half given the vertical stack's linked features `link` (B, 2C, H', W).

        Works on any number of rows H' (the fast sampler passes one row). Returns (h', skip)."""
        g = gate(self.h_conv(h) + link)                          # (B, C, H', W)
        h_new = self.out(g) if self.first else h + self.out(g)   # residual only after the first layer
        return h_new, self.skip(g)


@dataclass(frozen=True)
class GatedPixelCNNConfig:
    """Settings of `GatedPixelCNN`, small for a CPU.

    channels: C, feature maps per stack (the paper uses 2C pre-activations for the gate).
    layers: gated layers after the first; each widens the receptive field by k // 2 per side.
    kernel_size: k of the vertical (k x k, rows above) and horizontal (1 x k) kernels.
    """

    channels: int = 32
    layers: int = 6
    kernel_size: int = 3

    def __post_init__(self):
        for name in ("channels", "layers"):
            number(getattr(self, name), name, "an int >= 1", integer=True, minimum=1)
        _check_kernel(self.kernel_size)


class GatedPixelCNN(nn.Module):
    """Gated PixelCNN: a first gated layer (masks without the centre), `layers` gated layers, skip head.

    logits = W2 relu(W1 relu(sum of the layers' skips)) with 1x1 convolutions W1, W2.
    Inputs: x (B, 1, H, W) binary floats. Output: logits (B, 1, H, W); l_j depends on every x_k, k < j
    within the receptive field (no blind spot). Source: van den Oord et al. (2016b), section 2.2, without
    the conditioning vector.

    Raises:
        TypeError: config is not a `GatedPixelCNNConfig`.
    """

    def __init__(self, config: GatedPixelCNNConfig = GatedPixelCNNConfig()):
        super().__init__()
        if not isinstance(config, GatedPixelCNNConfig):
            raise TypeError(f"config must be a GatedPixelCNNConfig, got {type(config).__name__}")
        self.config = c = config
        self.gated = nn.ModuleList([GatedLayer(1, c.channels, c.kernel_size, first=True)] +
                                   [GatedLayer(c.channels, c.channels, c.kernel_size, first=False)
                                    for _ in range(c.layers)])
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(c.channels, c.channels, 1), nn.ReLU(),
                                  nn.Conv2d(c.channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v, h, skips = x, x, 0
        for layer in self.gated:
            v, h, skip = layer(v, h)                             # each (B, C, H, W)
            skips = skips + skip
        return self.head(skips)                                  # (B, 1, H, W)


# --------------------------------------------------------------------------------------------
# Likelihood, causality, training
# --------------------------------------------------------------------------------------------


def log_likelihood(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    r"""log p(x) per image in nats: :math:`\sum_j x_j \log \lambda_j + (1 - x_j)\log(1 - \lambda_j)`, λ = sigm(l(x)).

    Exact (no bound, no sampling): the chain rule with every conditional from one forward pass.
    Bits per dimension: ``-log_likelihood(model, x) / (H * W * ln 2)`` (`metrics.bits_per_dim`).

    Args:
        model: maps (B, 1, H, W) images to logits of the same shape, each a function of x_<j only.
        x: (B, 1, H, W) binary floats (0s and 1s).

    Returns:
        (B,) log-likelihoods in nats (<= 0).

    Raises:
        TypeError: x is not a floating-point tensor. ValueError: x is not (B, 1, H, W) or not binary.
    """
    _check_images(x)
    return -bernoulli_nll(x, model(x))


def dependencies(model: nn.Module, shape: tuple[int, int] = (5, 5), seed: int = 0, draws: int = 3) -> torch.Tensor:
    """Which inputs each output depends on: A[j, k] = True iff d l_j / d x_k != 0 for some input drawn.

    Pixels are numbered in raster order, j = r * W + c. A model is causal when A[j, k] is False for
    every k >= j (strictly lower triangular). Masked weights contribute exact zeros, so an
    exact comparison is right. The inputs are random values in [0, 1] (not binary), in float64, and
    the answer is the union over `draws` inputs, so that a ReLU that happens to be off at one input
    does not hide a dependency. One backward pass: the batch holds H*W copies of each input and
    copy j back-propagates output j only.

    Args:
        model: maps (B, 1, H, W) to (B, 1, H, W); it is copied to float64, not changed.
        shape: (H, W), small (H * W copies are run at once).
        seed: seed of the random inputs. draws: how many inputs.

    Returns:
        (H*W, H*W) bool tensor.
    """
    import copy

    height, width = shape
    n = height * width
    m = copy.deepcopy(model).double().eval()
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
    """
    import copy

    height, width = shape
    r, c = pixel
    if not (0 <= r < height and 0 <= c < width):
        raise ValueError(f"pixel must lie in the image of shape {shape}, got {pixel}")
    m = copy.deepcopy(model).double().eval()
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

    Dynamic binarisation as in the VAE chapter: x_j ~ Bernoulli(grey level_j) at every step.
    `batch`: grey levels (B, 1, H, W) in [0, 1], or a tuple (x, ...) from a loader.
    """
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    x = torch.bernoulli(x)
    return bernoulli_nll(x, model(x)).mean()


def train_pixelcnn(model: nn.Module, images: torch.Tensor, *, steps: int, batch_size: int = 64, lr: float = 1e-3,
                   seed: int = 0, progress: bool | None = None):
    """Train with Adam on dynamically binarised `images` (N, 1, H, W) in [0, 1]; returns the History.

    The chapter's recipe, shared by the notebook and `benchmarks/pixelcnn_mnist.py`. The loss is
    the exact negative log-likelihood of the binarised batch in nats per image. Two stages: the
    first 70% of the steps at `lr`, the rest at lr / 5 (a short run gains a few nats from the
    smaller steps at the end). Gradients are clipped to norm 1 (a safeguard for Adam's first
    steps; the papers state no clipping).

    Raises:
        ValueError: images not (N, 1, H, W) in [0, 1]; `train.fit` refuses bad steps.
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
    """Draw n binary images pixel by pixel; see `edu_gen.pixelcnn_sampling.sample` (where it lives)."""
    from edu_gen.pixelcnn_sampling import sample as _sample  # a separate module, imported when first needed

    return _sample(model, n, shape, generator=generator, method=method)


__all__ = ["LogisticAutoregressive", "MaskedConv2d", "PixelCNN", "PixelCNNConfig", "GatedPixelCNN", "GatedPixelCNNConfig", "GatedLayer",
           "causal_mask", "vertical_mask", "horizontal_mask", "gate", "log_likelihood", "dependencies",
           "receptive_field", "binarized_nll", "train_pixelcnn", "sample"]
