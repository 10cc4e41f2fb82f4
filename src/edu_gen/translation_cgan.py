r"""The conditional GAN (Mirza & Osindero, 2014): labels as conditions, a conditional generator and discriminator.

G and D both receive the condition c, here a one-hot class label (their eq. 2):

    min_G max_D  E_{x, c ~ p_data}[log D(x, c)] + E_{z ~ p(z), c}[log(1 - D(G(z, c), c))].

Both terms are added (the lecture's slide subtracts the second one: a slip). K is the number of
classes (the notation page's C, which here already counts the channels of (B, C, H, W)).
Re-exported by `edu_gen.translation`. Introduced in the chapter on conditional GANs (label ch-cgan).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

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
    convolutions and a sigmoid output. The column of W_c that a one-hot c picks is a learned
    embedding of the class. Its entries are drawn from N(0, label_std^2) (default 1, as
    `nn.Embedding` draws its vectors): with PyTorch's default for a linear layer, uniform within
    +-1/sqrt(d + K) (about 0.12 for d = 64), the class would move the first layer's input about as
    much as one of the 64 noise coordinates, and Adam, which moves a weight by about its learning
    rate per step, needs thousands of steps to make it matter (benchmarks/translation_mnist.py measures both).

    Args:
        latent_dim: d. num_classes: K. channels: base width (doubles once).
        label_std: the standard deviation of W_c's entries at initialisation, > 0; None keeps PyTorch's default.

    Raises:
        TypeError, ValueError: an argument outside the ranges above.
    """

    def __init__(self, latent_dim: int = 64, num_classes: int = NUM_CLASSES, channels: int = 32,
                 label_std: float | None = 1.0):
        super().__init__()
        self.latent_dim = number(latent_dim, "latent_dim", "an int >= 1", integer=True, minimum=1)
        self.num_classes = number(num_classes, "num_classes", "an int >= 2", integer=True, minimum=2)
        c = number(channels, "channels", "an int >= 1", integer=True, minimum=1)
        self.project = nn.Sequential(nn.Linear(self.latent_dim + self.num_classes, 2 * c * 7 * 7, bias=False),
                                     nn.BatchNorm1d(2 * c * 7 * 7), nn.ReLU())
        if label_std is not None:
            label_std = number(label_std, "label_std", "a number > 0 (or None: PyTorch's default)", minimum=0, strict=True)
            with torch.no_grad():
                self.project[0].weight[:, self.latent_dim:].normal_(0.0, label_std)      # W_c, one column per class
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


CONDITIONINGS = ("projection", "planes")


class ConditionalDiscriminator(nn.Module):
    r"""(x (B, 1, 28, 28), c (B, K)) -> logits (B,): the DCGAN discriminator, told the class c.

    Two ways to give D the label (`conditioning`):

    * ``"projection"`` (default; Miyato & Koyama, 2018, their eq. 3): the image's features
      phi(x) (B, 2 ch * 7 * 7) after the two convolutions give the logit
      psi(phi(x)) + c^T V phi(x), a linear read-out plus the inner product of phi(x) with the
      class's row of V, its embedding. It is the form the log-odds take when p(c | x) is a softmax
      of the features (their eq. 2-3), so the label meets the image at the last layer.
    * ``"planes"``: the one-hot c is broadcast to K constant planes of 28 x 28 stacked on the image
      (the first layer sees the class everywhere). Away from the border a constant plane only adds
      a class-dependent bias to each first-layer filter, so the label acts on the image only
      through the thresholds of the nonlinearities after it.

    Either way D judges whether x is a real example *of class c*; Mirza & Osindero map x and the
    label to separate maxout layers and join them.

    ``spectral_norm=True`` divides each layer's weight by its largest singular value, estimated by one
    power iteration per training call (Miyato et al., 2018, "Spectral normalization for GANs", their
    Algorithm 1; `torch.nn.utils.parametrizations.spectral_norm`), the discriminator of Miyato & Koyama's
    projection experiments; it replaces the batch normalisation (``batch_norm``), which would rescale
    the features again per batch.

    Args:
        num_classes: K. channels: base width (doubles once). conditioning: one of `CONDITIONINGS`.
        spectral_norm: whether every convolution and linear layer is spectrally normalised.
        batch_norm: whether the second convolution is followed by batch normalisation (DCGAN's D);
            None (default) means "unless spectral_norm".

    Raises:
        TypeError, ValueError: num_classes or channels out of range; an unknown conditioning.
    """

    def __init__(self, num_classes: int = NUM_CLASSES, channels: int = 32, conditioning: str = "projection",
                 spectral_norm: bool = False, batch_norm: bool | None = None):
        super().__init__()
        self.num_classes = number(num_classes, "num_classes", "an int >= 2", integer=True, minimum=2)
        c = number(channels, "channels", "an int >= 1", integer=True, minimum=1)
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {CONDITIONINGS}, got {conditioning!r}")
        for flag, name in ((spectral_norm, "spectral_norm"), (batch_norm, "batch_norm")):
            if not isinstance(flag, bool) and not (flag is None and name == "batch_norm"):
                raise TypeError(f"{name} must be True or False, got {flag!r} ({type(flag).__name__})")
        batch_norm = (not spectral_norm) if batch_norm is None else batch_norm
        self.conditioning, self.spectral_norm, self.batch_norm = conditioning, spectral_norm, batch_norm
        sn = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda layer: layer)
        planes = self.num_classes if conditioning == "planes" else 0
        self.features = nn.Sequential(
            sn(nn.Conv2d(1 + planes, c, 4, stride=2, padding=1)), nn.LeakyReLU(0.2),                     # 28x28 => 14x14
            sn(nn.Conv2d(c, 2 * c, 4, stride=2, padding=1, bias=not batch_norm)),                         # => 7x7
            nn.BatchNorm2d(2 * c) if batch_norm else nn.Identity(), nn.LeakyReLU(0.2),
            nn.Flatten(),                                                                                # phi(x)
        )
        self.read_out = sn(nn.Linear(2 * c * 7 * 7, 1))                                                   # psi
        self.embed = (sn(nn.Linear(self.num_classes, 2 * c * 7 * 7, bias=False))                          # V^T c
                      if conditioning == "projection" else None)

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
        if self.embed is None:                                                    # planes
            planes = c[:, :, None, None].expand(-1, -1, *x.shape[2:])             # (B, K, 28, 28)
            return self.read_out(self.features(torch.cat([x, planes], dim=1))).squeeze(1)   # (B,)
        phi = self.features(x)                                                    # (B, 2ch * 49)
        return self.read_out(phi).squeeze(1) + (self.embed(c) * phi).sum(1)     # psi(phi) + c^T V phi: (B,)
