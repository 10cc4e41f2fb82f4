r"""pix2pix (Isola et al., 2017): a U-Net generator, a PatchGAN discriminator and its receptive field, the generator's loss.

G maps an input image x to an output image; D judges the pair (x, y), one logit per image patch
(a PatchGAN), and G minimises the adversarial term plus lambda times the L1 distance to the true
output y (their eq. 1-4):

    G* = arg min_G max_D  L_cGAN(G, D) + lambda L_L1(G),  L_L1(G) = E ||y - G(x)||_1.

Order: the U-Net; the PatchGAN and `receptive_field`; the loss. Shapes (B, C, H, W), grey levels in
[0, 1]. Re-exported by `edu_gen.translation`. Introduced in the chapter on conditional GANs (label ch-cgan).
"""

from __future__ import annotations

import torch
from torch import nn

from edu_gen import gan
from edu_gen._checks import number

# --------------------------------------------------------------------------------------------
# U-Net generator (Isola et al., 2017, section 3.2.1; Ronneberger et al., 2015)
# --------------------------------------------------------------------------------------------


class UNet(nn.Module):
    """x (B, C_in, 28, 28) -> G(x) (B, C_out, 28, 28) in [0, 1]: an encoder-decoder with skip connections.

    Encoder 28 => 14 => 7, a 7 x 7 bottleneck, decoder 7 => 14 => 28, then a 3 x 3 convolution at
    28 x 28 and a sigmoid. With `skips` the decoder at each resolution also receives what the
    encoder had at that resolution (concatenated channels): its features at 7 x 7 and 14 x 14, and
    the input image itself at 28 x 28 (Ronneberger et al.'s U-Net joins its full-resolution
    features there too), so what the input already holds need not pass through the bottleneck, nor
    be rebuilt from 14 x 14 features. `skips=False` is pix2pix's plain "encoder-decoder" ablation.
    Unlike pix2pix, there is no dropout noise: G is deterministic (Isola et al. note their G
    largely ignores its noise anyway).

    Args:
        in_channels: C_in. out_channels: C_out. channels: the width c of the first level (2c at 7 x 7).
        skips: whether the decoder receives the encoder's features (and the input) at each resolution.

    Attributes:
        bottleneck: the module at 7 x 7; a forward hook on it can zero it (tests, figures).
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, channels: int = 16, skips: bool = True):
        super().__init__()
        c = number(channels, "channels", "an int >= 1", integer=True, minimum=1)
        self.skips = bool(skips)
        self.down1 = nn.Sequential(nn.Conv2d(in_channels, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2))   # 28 => 14
        self.down2 = nn.Sequential(nn.Conv2d(c, 2 * c, 4, stride=2, padding=1, bias=False),
                                   nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2))                                 # 14 => 7
        self.bottleneck = nn.Sequential(nn.Conv2d(2 * c, 2 * c, 3, padding=1), nn.ReLU())                    # 7 => 7
        k = 2 if self.skips else 1                                                # concatenated skip doubles the input
        self.up2 = nn.Sequential(nn.ConvTranspose2d(k * 2 * c, c, 4, stride=2, padding=1, bias=False),
                                 nn.BatchNorm2d(c), nn.ReLU())                                               # 7 => 14
        self.up1 = nn.Sequential(nn.ConvTranspose2d(k * c, c, 4, stride=2, padding=1), nn.ReLU())          # 14 => 28
        self.out = nn.Sequential(nn.Conv2d(c + (in_channels if self.skips else 0), out_channels, 3, padding=1),
                                 nn.Sigmoid())                                                               # 28 => 28

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """G(x) (B, C_out, 28, 28) in [0, 1].

        Args:
            x: (B, C_in, 28, 28) input images.

        Raises:
            ValueError: x is not 4-D with 28 x 28 images.
        """
        if x.ndim != 4 or tuple(x.shape[2:]) != (28, 28):
            raise ValueError(f"x must have shape (B, C, 28, 28), got {tuple(x.shape)}")
        e1 = self.down1(x)                                                        # (B, c, 14, 14)
        e2 = self.down2(e1)                                                       # (B, 2c, 7, 7)
        h = self.bottleneck(e2)                                                   # (B, 2c, 7, 7)
        h = self.up2(torch.cat([h, e2], 1) if self.skips else h)                  # (B, c, 14, 14)
        h = self.up1(torch.cat([h, e1], 1) if self.skips else h)                  # (B, c, 28, 28)
        return self.out(torch.cat([h, x], 1) if self.skips else h)                # (B, C_out, 28, 28)


# --------------------------------------------------------------------------------------------
# PatchGAN discriminator (Isola et al., 2017, section 3.2.2)
# --------------------------------------------------------------------------------------------


class PatchDiscriminator(nn.Module):
    """(x, y) each (B, 1, 28, 28) -> logits (B, 1, H', W'), one per overlapping patch of the pair.

    `layers` strided convolutions (kernel 4, stride 2: 28 => 14 => 7 => 3) and a last 3 x 3
    convolution to one channel; each output logit sees a square of `receptive_field(self)` input
    pixels (8 with one layer, 18 with two, 38 with three, more than the 28-pixel image).
    `conditional=True` stacks x and y as channels (pix2pix's D(x, y)); False judges y alone (the
    unconditional-D ablation, pix2pix's Table 1).

    Args:
        channels: width of the first layer (doubles per layer). layers: strided convolutions, 1..3.
        conditional: whether D sees the input x beside the output y.
    """

    def __init__(self, channels: int = 16, layers: int = 2, conditional: bool = True):
        super().__init__()
        c = number(channels, "channels", "an int >= 1", integer=True, minimum=1)
        layers = number(layers, "layers", "an int in 1..3 (strided convolutions)", integer=True, minimum=1, maximum=3)
        self.conditional = bool(conditional)
        blocks, width = [], 2 if self.conditional else 1
        for i in range(layers):
            blocks += [nn.Conv2d(width, c * 2**i, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            width = c * 2**i
        self.net = nn.Sequential(*blocks, nn.Conv2d(width, 1, 3, padding=1))

    def forward(self, x: torch.Tensor | None, y: torch.Tensor) -> torch.Tensor:
        """Patch logits (B, 1, H', W') for the pair (x, y), or for y alone when not conditional.

        Args:
            x: (B, 1, 28, 28) inputs, or None (ignored) when not conditional. y: (B, 1, 28, 28) outputs.

        Raises:
            ValueError: conditional and x is None or of another shape than y.
        """
        if self.conditional:
            if x is None or x.shape != y.shape:
                raise ValueError(f"a conditional PatchDiscriminator needs x and y of the same shape (B, 1, 28, 28), got "
                                 f"x {None if x is None else tuple(x.shape)} and y {tuple(y.shape)}")
            y = torch.cat([x, y], dim=1)                                          # (B, 2, 28, 28)
        return self.net(y)                                                        # (B, 1, H', W')


def receptive_field(module: nn.Module) -> int:
    """The side, in input pixels, of the square that one output unit of a chain of convolutions sees.

    Walks the Conv2d layers in order (as `nn.Sequential` runs them) with the usual recursion:
    r <- r + (k - 1) * j, j <- j * s, from r = j = 1, where k is the kernel size, s the stride and j
    the distance in input pixels between neighbouring units. Padding shifts the square, not its
    size; near the border part of the square lies in the padding.

    Args:
        module: a network, e.g. a `PatchDiscriminator`.

    Raises:
        ValueError: no Conv2d, or a non-square kernel or stride, or dilation (not handled).
    """
    r, j, found = 1, 1, False
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            (k, k2), (s, s2), d = layer.kernel_size, layer.stride, layer.dilation
            if k != k2 or s != s2 or d != (1, 1):
                raise ValueError(f"receptive_field handles square kernels and strides without dilation, got {layer}")
            r, j, found = r + (k - 1) * j, j * s, True
    if not found:
        raise ValueError(f"module has no Conv2d layer: {type(module).__name__}")
    return r


# --------------------------------------------------------------------------------------------
# The generator's loss (and the argument checks the CycleGAN losses share)
# --------------------------------------------------------------------------------------------


def _weight(lam, name: str) -> float:
    return number(lam, name, "a finite number >= 0 (a loss weight, lambda)", minimum=0)


def _same_shape(a: torch.Tensor, b: torch.Tensor, names: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{names} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")


def pix2pix_generator_loss(fake_logits: torch.Tensor, output: torch.Tensor, target: torch.Tensor,
                           lam: float = 100.0) -> dict[str, torch.Tensor]:
    r"""pix2pix's objective for G (Isola et al., 2017, eq. 4): adversarial + lambda L1.

    adversarial = -mean log D(x, G(x)) over the batch and every patch (the non-saturating form, as
    pix2pix trains it); l1 = mean |y - G(x)| per pixel (the paper's E||y - G(x)||_1 divided by the
    number of pixels, which only rescales lambda); loss = adversarial + lam * l1. lam = 0 is "cGAN
    alone"; "L1 alone" is `l1` without the adversarial term.

    Args:
        fake_logits: D's logits on (x, G(x)), any shape (e.g. (B, 1, H', W')).
        output: G(x) (B, C, H, W). target: the true y, same shape. lam: lambda >= 0 (pix2pix: 100).

    Returns:
        {"loss", "adversarial", "l1"}, scalar tensors (nats for adversarial; grey levels for l1).

    Raises:
        ValueError: lam < 0 or not finite, or output and target of different shapes.
    """
    lam = _weight(lam, "lam")
    _same_shape(output, target, "output and target")
    adversarial = gan.generator_loss(fake_logits.flatten(), "non_saturating")   # a mean over every patch
    l1 = (output - target).abs().mean()
    return {"loss": adversarial + lam * l1, "adversarial": adversarial, "l1": l1}
