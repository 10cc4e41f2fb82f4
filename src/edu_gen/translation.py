r"""Conditional GANs, paired translation (pix2pix) and unpaired translation (CycleGAN) on 28 x 28 digits.

Conditional GAN (Mirza & Osindero, 2014, their eq. 2): G and D both receive the condition c, here a
one-hot class label,

    min_G max_D  E_{x, c ~ p_data}[log D(x, c)] + E_{z ~ p(z), c}[log(1 - D(G(z, c), c))].

Both terms are added (the lecture's slide subtracts the second one: a slip).

pix2pix (Isola et al., 2017, eq. 1-4): G maps an input image x to an output image; D judges the
pair (x, y), one logit per image patch (a PatchGAN), and G minimises the adversarial term plus
lambda times the L1 distance to the true output y:

    G* = arg min_G max_D  L_cGAN(G, D) + lambda L_L1(G),  L_L1(G) = E ||y - G(x)||_1.

CycleGAN (Zhu et al., 2017, eq. 1-3): two generators G: X -> Y and F: Y -> X, two discriminators
D_Y and D_X, no pairs,

    L = L_GAN(G, D_Y, X, Y) + L_GAN(F, D_X, Y, X) + lambda L_cyc(G, F),
    L_cyc = E_x ||F(G(x)) - x||_1 + E_y ||G(F(y)) - y||_1.

(The lecture writes the second term L_GAN(G, D_X); it is the inverse generator F that D_X judges.)

Tasks whose right answer is known: the paired task "lower half removed -> whole digit"
(`remove_lower_half`) and the unpaired task "digit -> inverted and rotated digit"
(`invert_rotate`, inverse `invert_rotate_inverse`) on disjoint halves of a training set
(`unpaired_domains`), so no pair is ever seen but G can be compared with T on test digits.

Order of the module: labels and conditions; conditional generator and discriminator; U-Net;
PatchGAN and its receptive field; the losses; the tasks. Shapes are written (B, C, H, W); pixels
are grey levels in [0, 1]; K is the number of classes (the notation page's C, which here already
counts the channels of (B, C, H, W)). The adversarial losses reuse `edu_gen.gan` (logits, BCE with
logits), which averages over every patch of a PatchGAN.

Introduced in the chapter on conditional GANs and image-to-image translation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from edu_gen import gan
from edu_gen._checks import number

NUM_CLASSES = 10


# --------------------------------------------------------------------------------------------
# Labels and conditions
# --------------------------------------------------------------------------------------------


def sample_labels(n: int, num_classes: int = NUM_CLASSES, generator: torch.Generator | None = None) -> torch.Tensor:
    """n class labels drawn uniformly from {0, ..., K-1}, the last class included: (n,) int64.

    Args:
        n: how many, an int >= 1. num_classes: K, an int >= 2. generator: seeds the draw.

    Raises:
        TypeError, ValueError: n or num_classes not an int of the range above.
    """
    n = number(n, "n", "an int >= 1 (the number of labels)", integer=True, minimum=1)
    num_classes = number(num_classes, "num_classes", "an int >= 2", integer=True, minimum=2)
    return torch.randint(0, num_classes, (n,), generator=generator)     # upper bound excluded: K-1 is the last


def one_hot(labels: torch.Tensor, num_classes: int = NUM_CLASSES) -> torch.Tensor:
    """Integer labels (B,) in 0..K-1 -> one-hot conditions (B, K) float32.

    Args:
        labels: (B,) integer class labels. num_classes: K.

    Raises:
        ValueError: labels not 1-D integers, or a label outside 0..K-1 (the message gives the range found).
    """
    if labels.ndim != 1 or labels.is_floating_point():
        raise ValueError(f"labels must be a 1-D integer tensor (B,), got shape {tuple(labels.shape)} and dtype {labels.dtype}")
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}, got values in [{labels.min().item()}, {labels.max().item()}]")
    return F.one_hot(labels, num_classes).float()


def _check_condition(c: torch.Tensor, batch: int, num_classes: int, name: str = "c") -> None:
    if c.ndim != 2 or c.shape != (batch, num_classes):
        raise ValueError(f"{name} must be a condition of shape (B, K) = ({batch}, {num_classes}) (one-hot labels, "
                         f"see one_hot), got shape {tuple(c.shape)}")


# --------------------------------------------------------------------------------------------
# Conditional generator and discriminator (Mirza & Osindero, 2014)
# --------------------------------------------------------------------------------------------


class ConditionalGenerator(nn.Module):
    """(z (B, d), c (B, K)) -> G(z, c) (B, 1, 28, 28): the DCGAN generator with [z, c] as its input.

    Mirza & Osindero feed the label to G as a second input; their MNIST generator maps z and the
    label to separate hidden layers (200 and 1000 ReLUs) and joins them in a third. Here [z, c] enters
    one linear layer, W [z, c] = W_z z + W_c c, projected to (B, 2 ch, 7, 7), then two transposed
    convolutions and a sigmoid output.

    Args:
        latent_dim: d. num_classes: K. channels: base width (doubles once).
    """

    def __init__(self, latent_dim: int = 64, num_classes: int = NUM_CLASSES, channels: int = 32):
        super().__init__()
        self.latent_dim = number(latent_dim, "latent_dim", "an int >= 1", integer=True, minimum=1)
        self.num_classes = number(num_classes, "num_classes", "an int >= 2", integer=True, minimum=2)
        c = number(channels, "channels", "an int >= 1", integer=True, minimum=1)
        self.project = nn.Sequential(nn.Linear(self.latent_dim + self.num_classes, 2 * c * 7 * 7, bias=False),
                                     nn.BatchNorm1d(2 * c * 7 * 7), nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),  # 7x7 => 14x14
            nn.ConvTranspose2d(c, 1, 4, stride=2, padding=1), nn.Sigmoid(),                                # 14x14 => 28x28
        )

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """G(z, c) (B, 1, 28, 28) in [0, 1].

        Args:
            z: (B, d) noise. c: (B, K) one-hot conditions (`one_hot`).

        Raises:
            ValueError: z not (B, d), or c not (B, K) for the same B (the message gives both shapes).
        """
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        _check_condition(c, len(z), self.num_classes)
        h = self.project(torch.cat([z, c], dim=1)).reshape(len(z), -1, 7, 7)  # (B, 2ch, 7, 7)
        return self.net(h)                                                      # (B, 1, 28, 28)

    def sample(self, labels: torch.Tensor | int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Samples G(z, c) in eval mode, z ~ N(0, I_d).

        Args:
            labels: (n,) int64 classes to request, or an int n (classes drawn by `sample_labels`).
            generator: seeds z (and the labels when drawn).

        Returns:
            images (n, 1, 28, 28) and the labels used (n,), on the model's device.

        Raises:
            ValueError: a label outside 0..K-1, or n < 1.
        """
        if not isinstance(labels, torch.Tensor):
            labels = sample_labels(labels, self.num_classes, generator)
        device = next(self.parameters()).device
        z = torch.randn(len(labels), self.latent_dim, generator=generator).to(device)
        was = self.training
        self.eval()
        with torch.no_grad():
            x = self(z, one_hot(labels, self.num_classes).to(device))
        self.train(was)
        return x, labels.to(device)


class ConditionalDiscriminator(nn.Module):
    """(x (B, 1, 28, 28), c (B, K)) -> logits (B,): the DCGAN discriminator with c as K constant extra channels.

    The one-hot label is broadcast to K planes of 28 x 28 and stacked on the image, so every
    filter of the first layer sees the class (Mirza & Osindero map x and the label to separate
    maxout layers and join them; either way D judges whether x is a real example *of class c*).

    Args:
        num_classes: K. channels: base width (doubles once).
    """

    def __init__(self, num_classes: int = NUM_CLASSES, channels: int = 32):
        super().__init__()
        self.num_classes = number(num_classes, "num_classes", "an int >= 2", integer=True, minimum=2)
        c = number(channels, "channels", "an int >= 1", integer=True, minimum=1)
        self.net = nn.Sequential(
            nn.Conv2d(1 + self.num_classes, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2),                # 28x28 => 14x14
            nn.Conv2d(c, 2 * c, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2),  # => 7x7
            nn.Flatten(), nn.Linear(2 * c * 7 * 7, 1),
        )

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Logits (B,) of D(x, c) = sigm(logit): is x a real digit of class c?

        Args:
            x: (B, 1, 28, 28) images. c: (B, K) one-hot conditions.

        Raises:
            ValueError: x not (B, 1, 28, 28), or c not (B, K) for the same B.
        """
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"x must have shape (B, 1, 28, 28), got {tuple(x.shape)}")
        _check_condition(c, len(x), self.num_classes)
        planes = c[:, :, None, None].expand(-1, -1, *x.shape[2:])                 # (B, K, 28, 28)
        return self.net(torch.cat([x, planes], dim=1)).squeeze(1)                 # (B,)


# --------------------------------------------------------------------------------------------
# U-Net generator (Isola et al., 2017, section 3.2.1; Ronneberger et al., 2015)
# --------------------------------------------------------------------------------------------


class UNet(nn.Module):
    """x (B, C_in, 28, 28) -> G(x) (B, C_out, 28, 28) in [0, 1]: an encoder-decoder with skip connections.

    Encoder 28 => 14 => 7, a 7 x 7 bottleneck, decoder 7 => 14 => 28; with `skips` the decoder
    layer at each resolution also receives the encoder's features at that resolution
    (concatenated channels), so detail need not pass through the bottleneck. `skips=False` is
    pix2pix's plain "encoder-decoder" ablation. Unlike pix2pix, there is no dropout noise: G is
    deterministic (Isola et al. note their G largely ignores its noise anyway).

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
        self.up1 = nn.Sequential(nn.ConvTranspose2d(k * c, out_channels, 4, stride=2, padding=1), nn.Sigmoid())  # 14 => 28

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
        return self.up1(torch.cat([h, e1], 1) if self.skips else h)               # (B, C_out, 28, 28)


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
# The losses
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


def cycle_consistency_loss(x: torch.Tensor, x_cycled: torch.Tensor, y: torch.Tensor, y_cycled: torch.Tensor) -> torch.Tensor:
    r"""Zhu et al. (2017), eq. 2: mean |F(G(x)) - x| + mean |G(F(y)) - y|, per pixel, averaged over each batch.

    Args:
        x: (B, C, H, W) from domain X; x_cycled: F(G(x)), same shape.
        y: (B', C, H, W) from domain Y; y_cycled: G(F(y)), same shape. B' may differ from B.

    Raises:
        ValueError: a cycled batch whose shape differs from its original.
    """
    _same_shape(x, x_cycled, "x and x_cycled = F(G(x))")
    _same_shape(y, y_cycled, "y and y_cycled = G(F(y))")
    return (x_cycled - x).abs().mean() + (y_cycled - y).abs().mean()


def identity_loss(x: torch.Tensor, f_of_x: torch.Tensor, y: torch.Tensor, g_of_y: torch.Tensor) -> torch.Tensor:
    r"""Zhu et al. (2017), section 5.2 (after Taigman et al., 2017): mean |G(y) - y| + mean |F(x) - x|.

    A generator given an image already in its target domain should leave it alone; it keeps
    colours in the paper's photo -> painting task.

    Args:
        x: (B, C, H, W) from X; f_of_x: F(x), same shape. y: (B', C, H, W) from Y; g_of_y: G(y), same shape.

    Raises:
        ValueError: an output whose shape differs from its input's.
    """
    _same_shape(x, f_of_x, "x and f_of_x = F(x)")
    _same_shape(y, g_of_y, "y and g_of_y = G(y)")
    return (g_of_y - y).abs().mean() + (f_of_x - x).abs().mean()


def _check_unpaired(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.ndim < 2 or x.shape[1:] != y.shape[1:]:                             # images (B, C, H, W) or points (B, n)
        raise ValueError(f"the unpaired batches x (domain X) and y (domain Y) must hold items of the same shape "
                         f"(B, C, H, W) or (B, n) (the batch sizes may differ), got x {tuple(x.shape)} and y {tuple(y.shape)}")


def cyclegan_generator_loss(G: nn.Module, F_: nn.Module, D_X: nn.Module, D_Y: nn.Module, x: torch.Tensor,
                            y: torch.Tensor, lam: float = 10.0, identity_weight: float = 0.0) -> dict[str, torch.Tensor]:
    r"""Zhu et al. (2017), eq. 3, the generators' side: L_GAN(G, D_Y) + L_GAN(F, D_X) + lam L_cyc (+ identity).

    Each adversarial term is the non-saturating -mean log D(fake) (Zhu et al. use least squares, and
    update D on a buffer of 50 past fakes; the book keeps the GAN chapter's loss and the current fakes).
    D_X and D_Y are unconditional: `D(None, image)`.

    Args:
        G: X -> Y, F_: Y -> X (image-to-image networks such as `UNet`). D_X, D_Y: PatchDiscriminator(conditional=False).
        x: (B, C, H, W) from X; y: (B', C, H, W) from Y, unpaired (or points (B, n), (B', n)). lam: lambda >= 0 (Zhu et al.: 10).
        identity_weight: weight >= 0 of `identity_loss` (Zhu et al.: 0.5 lambda on some tasks; 0 = off).

    Returns:
        {"loss", "gan_g", "gan_f", "cycle", "identity"}, scalar tensors.

    Raises:
        ValueError: x and y hold images of different shapes, or lam / identity_weight < 0.
    """
    _check_unpaired(x, y)
    lam, identity_weight = _weight(lam, "lam"), _weight(identity_weight, "identity_weight")
    fake_y, fake_x = G(x), F_(y)                                                   # G(x) in Y, F(y) in X
    gan_g = gan.generator_loss(D_Y(None, fake_y).flatten(), "non_saturating")               # L_GAN(G, D_Y, X, Y)
    gan_f = gan.generator_loss(D_X(None, fake_x).flatten(), "non_saturating")               # L_GAN(F, D_X, Y, X)
    cycle = cycle_consistency_loss(x, F_(fake_y), y, G(fake_x))
    identity = identity_loss(x, F_(x), y, G(y)) if identity_weight else torch.zeros((), device=x.device)
    return {"loss": gan_g + gan_f + lam * cycle + identity_weight * identity,
            "gan_g": gan_g, "gan_f": gan_f, "cycle": cycle, "identity": identity}


def cyclegan_discriminator_loss(G: nn.Module, F_: nn.Module, D_X: nn.Module, D_Y: nn.Module,
                                x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """The discriminators' side: D_Y tells y from G(x), D_X tells x from F(y) (`gan.discriminator_loss` each).

    The generators' outputs are computed without gradients. Returns {"loss", "d_x", "d_y"} (nats).

    Args:
        G, F_, D_X, D_Y, x, y: as in `cyclegan_generator_loss`.

    Raises:
        ValueError: x and y hold images of different shapes.
    """
    _check_unpaired(x, y)
    with torch.no_grad():
        fake_y, fake_x = G(x), F_(y)
    d_y = gan.discriminator_loss(D_Y(None, y).flatten(), D_Y(None, fake_y).flatten())   # every patch
    d_x = gan.discriminator_loss(D_X(None, x).flatten(), D_X(None, fake_x).flatten())
    return {"loss": d_x + d_y, "d_x": d_x, "d_y": d_y}


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


def unpaired_domains(images: torch.Tensor, transform=invert_rotate, seed: int = 0) -> dict[str, torch.Tensor]:
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
