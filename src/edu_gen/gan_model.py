r"""The GAN's networks and its losses: `GANConfig`, the parts, `GAN`, the discriminator's and generator's losses.

Part one of `edu_gen.gan` (read that module's docstring first: it states the game). In order:
`GANConfig`; the parts (MLP and DCGAN generators and discriminators, packing); `GAN`, which checks
that the two fit and draws samples; the losses (`discriminator_loss`, the saturating and
non-saturating `generator_loss`, `value`). Every discriminator returns a *logit* l(x), with
D(x) = sigm(l(x)), and every loss is computed from logits. Training is in `edu_gen.gan_train`.
Shapes are written (B, C, H, W); symbols follow the book's notation page (d the size of z).

Introduced in the chapter "Generative adversarial networks" (label ch-gan).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from edu_gen._checks import number

KINDS = ("mlp", "dcgan")
GENERATOR_LOSSES = ("saturating", "non_saturating")


@dataclass(frozen=True)
class GANConfig:
    """The networks of a GAN; saved in checkpoints so the model can be rebuilt from the file alone.

    Attributes:
        kind: "mlp" (any data shape, e.g. (2,) points) or "dcgan" (1 x 28 x 28 images only).
        data_shape: the shape of one example, e.g. (2,) or (1, 28, 28).
        latent_dim: d, the size of z ~ N(0, I_d).
        hidden_dim: width of the MLPs' hidden layers (kind "mlp").
        channels: base width of the DCGAN networks; doubles once (kind "dcgan").
        pack: the discriminator judges `pack` examples at once (PacGAN, Lin et al., 2018); 1 = a plain GAN.
        image_output: "sigmoid" keeps generated pixels in [0, 1] like the data (the DCGAN paper
            uses tanh on data in [-1, 1]: same thing, rescaled); "linear" for points in R^n.
        snapshots: keep this many grids of 16 samples of one fixed noise batch, evenly spaced over
            training (`train_gan`), in the buffer `GAN.snapshots` (so they are saved with the weights).
    """

    kind: str = "mlp"
    data_shape: tuple = (1, 28, 28)
    latent_dim: int = 64
    hidden_dim: int = 256
    channels: int = 32
    pack: int = 1
    image_output: str = "sigmoid"
    snapshots: int = 0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.image_output not in ("sigmoid", "linear"):
            raise ValueError(f"image_output must be 'sigmoid' or 'linear', got {self.image_output!r}")
        object.__setattr__(self, "data_shape", tuple(int(s) for s in self.data_shape))
        for name in ("latent_dim", "hidden_dim", "channels", "pack"):
            number(getattr(self, name), name, "an int >= 1", integer=True, minimum=1)
        number(self.snapshots, "snapshots", "an int >= 0", integer=True, minimum=0)
        if self.kind == "dcgan" and self.data_shape != (1, 28, 28):
            raise ValueError(f"the DCGAN networks are built for data_shape (1, 28, 28), got {self.data_shape}")


# --------------------------------------------------------------------------------------------
# The parts
# --------------------------------------------------------------------------------------------


def _batch(x, name: str, trailing: tuple, what: str) -> torch.Tensor:
    """Refuse anything but a floating-point tensor (B, *trailing) with B >= 1 (one message form for every network)."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor (B, {', '.join(map(str, trailing))}) of {what}, got "
                        f"{f'dtype {x.dtype}' if isinstance(x, torch.Tensor) else type(x).__name__}")
    if x.dim() != len(trailing) + 1 or tuple(x.shape[1:]) != tuple(trailing) or len(x) == 0:
        raise ValueError(f"{name} must have shape (B, {', '.join(map(str, trailing))}) with B >= 1 ({what}), got {tuple(x.shape)}")
    return x


class MLPGenerator(nn.Module):
    """z (B, d) -> G(z) (B, *data_shape): two hidden ReLU layers of `hidden_dim` units.

    Args:
        config: a GANConfig; uses latent_dim (d), data_shape, hidden_dim and image_output (a final
            sigmoid for "sigmoid", none for "linear").
    """

    def __init__(self, config: GANConfig):
        super().__init__()
        self.latent_dim, self.data_shape, h = config.latent_dim, config.data_shape, config.hidden_dim
        layers = [nn.Linear(self.latent_dim, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, math.prod(self.data_shape))]
        self.net = nn.Sequential(*layers, *([nn.Sigmoid()] if config.image_output == "sigmoid" else []))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """G(z), on z's device and dtype.

        Args:
            z: (B, d) noise, B >= 1.

        Returns:
            (B, *data_shape) samples; in [0, 1] with image_output "sigmoid".

        Raises:
            TypeError: z is not a floating-point tensor. ValueError: z is not (B, d).
        """
        z = _batch(z, "z", (self.latent_dim,), "noise vectors")
        return self.net(z).reshape(len(z), *self.data_shape)


class MLPDiscriminator(nn.Module):
    """x (B, *data_shape) -> logits (B / pack,): two hidden LeakyReLU(0.2) layers, no sigmoid.

    With pack > 1 the B examples are grouped in B / pack packs of consecutive examples and each
    pack gets one logit (PacGAN): a discriminator that sees several samples at once can notice
    that they all look alike, which is what a collapsed generator produces.

    Args:
        config: a GANConfig; uses data_shape, hidden_dim and pack.
    """

    def __init__(self, config: GANConfig):
        super().__init__()
        self.data_shape, self.pack, h = config.data_shape, config.pack, config.hidden_dim
        self.net = nn.Sequential(nn.Linear(self.pack * math.prod(self.data_shape), h), nn.LeakyReLU(0.2),
                                 nn.Linear(h, h), nn.LeakyReLU(0.2), nn.Linear(h, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits l(x), one per pack of `pack` consecutive examples, on x's device.

        Args:
            x: (B, *data_shape), B a multiple of pack.

        Returns:
            (B / pack,) logits (D = sigm(l)).

        Raises:
            TypeError: x is not a floating-point tensor. ValueError: x is not (B, *data_shape), or B
                is not a multiple of pack.
        """
        x = _batch(x, "x", self.data_shape, "examples")
        if len(x) % self.pack:
            raise ValueError(f"the batch ({len(x)} examples) must be a multiple of pack = {self.pack}")
        return self.net(x.reshape(len(x) // self.pack, -1)).squeeze(1)          # (B / pack,)


class DCGANGenerator(nn.Module):
    """z (B, d) -> G(z) (B, 1, 28, 28), the DCGAN rules at 28 x 28 (Radford et al., 2016).

    A linear projection to (B, 2c, 7, 7), then two fractionally strided (transposed) convolutions,
    no pooling and no fully connected hidden layers; batch norm and ReLU after every layer except
    the output, which has a sigmoid (pixels in [0, 1]).

    Args:
        config: a GANConfig of kind "dcgan"; uses latent_dim (d) and channels (c).
    """

    def __init__(self, config: GANConfig):
        super().__init__()
        self.latent_dim, self.data_shape, c = config.latent_dim, config.data_shape, config.channels
        self.project = nn.Sequential(nn.Linear(self.latent_dim, 2 * c * 7 * 7, bias=False), nn.BatchNorm1d(2 * c * 7 * 7), nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),  # 7x7 => 14x14
            nn.ConvTranspose2d(c, 1, 4, stride=2, padding=1), nn.Sigmoid(),                                # 14x14 => 28x28
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """G(z), pixels in [0, 1], on z's device.

        Args:
            z: (B, d) noise; B >= 2 in training mode (batch norm needs two values per feature).

        Returns:
            (B, 1, 28, 28).

        Raises:
            TypeError: z is not a floating-point tensor. ValueError: z is not (B, d).
        """
        z = _batch(z, "z", (self.latent_dim,), "noise vectors")
        h = self.project(z).reshape(len(z), -1, 7, 7)                          # (B, 2c, 7, 7)
        return self.net(h)                                                     # (B, 1, 28, 28)


class DCGANDiscriminator(nn.Module):
    """x (B, 1, 28, 28) -> logits (B,): strided convolutions, LeakyReLU(0.2), batch norm except on the input layer.

    Batch norm normalises over the batch, so real and fake examples must be passed in separate
    calls (as `update_discriminator` does): a mixed batch would let D read the mix, not the image.

    Args:
        config: a GANConfig of kind "dcgan"; uses channels (c).
    """

    def __init__(self, config: GANConfig):
        super().__init__()
        self.data_shape, self.pack, c = config.data_shape, 1, config.channels
        self.net = nn.Sequential(
            nn.Conv2d(1, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2),                               # 28x28 => 14x14
            nn.Conv2d(c, 2 * c, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2),  # => 7x7
            nn.Flatten(), nn.Linear(2 * c * 7 * 7, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits l(x), on x's device.

        Args:
            x: (B, 1, 28, 28) images in [0, 1] (not checked: D sees whatever G makes).

        Returns:
            (B,) logits (D = sigm(l)).

        Raises:
            TypeError: x is not a floating-point tensor. ValueError: x is not (B, 1, 28, 28).
        """
        x = _batch(x, "x", self.data_shape, "images")
        return self.net(x).squeeze(1)                                          # (B,)


def _dcgan_init(module: nn.Module) -> None:
    """Radford et al.: weights from N(0, 0.02^2); batch-norm scales from N(1, 0.02^2)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


class GAN(nn.Module):
    """A generator and a discriminator that fit together: D(G(z)) is checked once, at construction.

    Args:
        config: a GANConfig; builds both networks (MLP or DCGAN).
        generator, discriminator: modules to use instead of the config's (both or neither); the
            generator needs a `latent_dim` attribute.

    Raises:
        ValueError: the generator's output does not fit the discriminator's input (the message
            gives both shapes), or only one of generator/discriminator was given.
    """

    def __init__(self, config: GANConfig = GANConfig(), generator: nn.Module | None = None,
                 discriminator: nn.Module | None = None):
        super().__init__()
        if (generator is None) != (discriminator is None):
            raise ValueError("give both generator and discriminator, or neither (then the config builds them)")
        self.config = config
        if generator is None:
            parts = (MLPGenerator, MLPDiscriminator) if config.kind == "mlp" else (DCGANGenerator, DCGANDiscriminator)
            generator, discriminator = parts[0](config), parts[1](config)
            if config.kind == "dcgan":
                generator.apply(_dcgan_init)
                discriminator.apply(_dcgan_init)
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim = generator.latent_dim
        self._check_fit()
        if config.snapshots:                                                   # (T, 16, *data_shape), filled by train_gan
            self.register_buffer("snapshots", torch.zeros(config.snapshots, 16, *config.data_shape))
            self.register_buffer("snapshot_noise", torch.randn(16, self.latent_dim, generator=torch.Generator().manual_seed(1)))

    @torch.no_grad()
    def _check_fit(self) -> None:
        modes = (self.generator.training, self.discriminator.training)
        self.generator.eval(), self.discriminator.eval()                        # no batch-norm statistics updated
        pack = getattr(self.discriminator, "pack", 1)
        device = next(self.generator.parameters()).device
        fake = self.generator(torch.zeros(2 * pack, self.latent_dim, device=device))
        expected = getattr(self.discriminator, "data_shape", None)
        try:
            if expected is not None and tuple(fake.shape[1:]) != tuple(expected):
                raise RuntimeError("shape")
            logits = self.discriminator(fake)
            if logits.shape != (2,):
                raise RuntimeError("logits")
        except (RuntimeError, ValueError) as reason:                          # a shape error of D's or of torch's
            raise ValueError(f"the generator makes samples of shape {tuple(fake.shape[1:])} but the discriminator "
                             f"expects {tuple(expected) if expected is not None else 'another shape'} and must return one "
                             f"logit per example (pack): they do not fit ({str(reason).splitlines()[0]})") from None
        finally:
            self.generator.train(modes[0]), self.discriminator.train(modes[1])

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n samples G(z), z ~ N(0, I_d), in eval mode without gradients (batch norm uses its running statistics).

        Args:
            n: the number of samples, an int >= 1.
            generator: a CPU torch.Generator for reproducible z (z is drawn on the CPU, then moved).

        Returns:
            (n, *data_shape) on the model's device.

        Raises:
            TypeError: n is not an integer (a bool or a float). ValueError: n < 1.
        """
        n = number(n, "n", "an int >= 1 (the number of samples)", integer=True, minimum=1)
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator).to(device)
        was = self.generator.training
        self.generator.eval()
        with torch.no_grad():
            x = self.generator(z)
        self.generator.train(was)
        return x

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """G(z), with gradients (for sampling without them, `sample`).

        Args:
            z: (B, d) noise.

        Returns:
            (B, *data_shape) on z's device.

        Raises:
            TypeError, ValueError: z not a floating-point (B, d) tensor (the generator's check).
        """
        return self.generator(z)


# --------------------------------------------------------------------------------------------
# The losses, from logits
# --------------------------------------------------------------------------------------------


def _logits(l, name: str) -> torch.Tensor:
    if not isinstance(l, torch.Tensor) or not l.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor of logits (B,), got "
                        f"{f'dtype {l.dtype}' if isinstance(l, torch.Tensor) else type(l).__name__}")
    if l.dim() != 1 or len(l) == 0:
        raise ValueError(f"{name} must have shape (B,) with B >= 1, one logit per example (a mean over an empty "
                         f"batch is NaN), got {tuple(l.shape)}")
    return l


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    r"""D's loss, the negative of its part of V: :math:`-\frac1B\sum\log D(x) - \frac1{B'}\sum\log(1 - D(G(z)))`.

    The two means are taken separately, each over its own batch (Goodfellow et al., 2014, Algorithm 1).
    Computed from logits with `F.binary_cross_entropy_with_logits`, exact for logits of any size.

    Args:
        real_logits: (B,) logits l(x) on real examples. fake_logits: (B',) logits on generated ones;
            floating point, B, B' >= 1.

    Returns:
        A 0-d tensor in nats, >= 0, on the logits' device; 2 log 2 when every logit is 0 (D = 1/2),
        0 in the limit where D is certain and right.

    Raises:
        TypeError: a logit tensor that is not floating point. ValueError: one that is not (B,) with B >= 1.
    """
    real_logits, fake_logits = _logits(real_logits, "real_logits"), _logits(fake_logits, "fake_logits")
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))    # -mean log D(x)
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))   # -mean log(1 - D(G(z)))
    return real + fake


def generator_loss(fake_logits: torch.Tensor, kind: str = "non_saturating") -> torch.Tensor:
    r"""G's loss on logits l = l(G(z)) of generated examples (B,).

    "saturating": :math:`\frac1B\sum\log(1 - D(G(z)))`, G's part of V as in the minimax game; its
    gradient in l is :math:`-D(G(z))`, close to 0 when D rejects the samples (early in training).
    "non_saturating": :math:`-\frac1B\sum\log D(G(z))`, Goodfellow et al.'s practical choice; its
    gradient in l is :math:`-(1 - D(G(z)))`, close to -1 when D rejects them. Same fixed point
    (Goodfellow et al., 2014, section 3).

    Args:
        fake_logits: (B,) floating-point logits, B >= 1.
        kind: "saturating" or "non_saturating".

    Returns:
        A 0-d tensor in nats on the logits' device: in (-inf, 0] for "saturating", [0, inf) for
        "non_saturating"; -log 2 and log 2 at D = 1/2.

    Raises:
        ValueError: kind not one of GENERATOR_LOSSES, or fake_logits not (B,) with B >= 1.
        TypeError: fake_logits not a floating-point tensor.
    """
    fake_logits = _logits(fake_logits, "fake_logits")
    if kind == "saturating":
        return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    if kind == "non_saturating":
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    raise ValueError(f"kind must be one of {GENERATOR_LOSSES}, got {kind!r}")


def value(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The Monte Carlo estimate of V(D, G), the negative of `discriminator_loss` (Goodfellow et al., 2014, eq. 1).

    Args:
        real_logits: (B,) logits on samples of p_data. fake_logits: (B',) logits on samples of p_g.

    Returns:
        A 0-d tensor in nats, <= 0; -log 4 when every logit is 0 (D = 1/2); at D*, its expectation is
        -log 4 + 2 JSD(p_data || p_g).

    Raises:
        TypeError, ValueError: as `discriminator_loss`.
    """
    return -discriminator_loss(real_logits, fake_logits)
