r"""Autoencoders: a network trained to copy its input, and the noise that makes its code useful.

An autoencoder is an encoder :math:`h` and a decoder :math:`g` (the book's notation page); the
code is :math:`h(x) \in \mathbb{R}^d`, the output :math:`y = g(h(x)) \in \mathbb{R}^D`, and training
minimises the reconstruction error summed over the data,
:math:`\mathcal{L}_{AE} = \sum_i \ell(x^{(i)}, g(h(x^{(i)})))`. The decoder's output is the parameter
of a distribution over :math:`x`: logits of a Bernoulli, or the mean of a unit-variance Gaussian.
:math:`\ell` is then a negative log-likelihood only where that distribution is a normalised density
of the data as given (binary pixels under the Bernoulli, real values under the Gaussian). On grey
levels in [0, 1] the Bernoulli's :math:`\ell` is a cross-entropy, not a likelihood (chapter 1), so
the library calls it the reconstruction error (`reconstruction_error`).

| piece                     | what it is                                             |
|---------------------------|--------------------------------------------------------|
| `AEConfig`, `Autoencoder` | MLP encoder and mirrored decoder; one layer may be tied |
| `ConvAutoencoder`         | two strided convolutions down, two transposed up       |
| `TiedAutoencoder`         | one layer, decoder weight = encoder weight transposed  |
| `stack`                   | one deep AE from greedily pre-trained one-layer AEs    |
| `corrupt`                 | the denoising corruptions C(x~ given x)                |
| `dae_loss`                | the denoising loss with S corrupted samples            |
| `principal_angles`        | angles between two subspaces (linear AE = PCA check)   |
| `main_dae`, `main_dae_recipe` | the chapter's denoising AE; later chapters load it |

The contractive penalty lives in `edu_gen.contractive`.

Introduced in Chapter 3 (Autoencoders).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from edu_gen import likelihood
from edu_gen._checks import number

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "linear": nn.Identity}
LIKELIHOODS = ("bernoulli", "gaussian")
CORRUPTIONS = ("mask", "gaussian", "salt_and_pepper")


# --------------------------------------------------------------------------------------------
# Parts
# --------------------------------------------------------------------------------------------


def check_input(x: torch.Tensor, shape: tuple[int, ...], who: str) -> None:
    """Refuse anything but a floating-point batch of shape (B, *shape); values are not read.

    Args:
        x: the batch. shape: one example's shape. who: the caller's name, for the message.

    Raises:
        TypeError: x is not a floating-point tensor.
        ValueError: x is not (B, *shape).
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"{who} expects a floating-point tensor of shape (B, {', '.join(map(str, shape))}), got {type(x).__name__}")
    if tuple(x.shape[1:]) != tuple(shape) or x.dim() != len(shape) + 1:
        expected = "(B, " + ", ".join(map(str, shape)) + ")"
        raise ValueError(f"{who} expects inputs of shape {expected}, got {tuple(x.shape)}")


def reconstruction_error(x: torch.Tensor, output: torch.Tensor, kind: str = "bernoulli") -> torch.Tensor:
    r"""The reconstruction error :math:`\ell(x, y)`, summed over the D entries: one value per example, (B,).

    ``bernoulli``: :math:`-\sum_{j=1}^{D} [x_j \log \operatorname{sigm}(y_j) + (1 - x_j)\log(1 - \operatorname{sigm}(y_j))]`
    (output = logits), the binary cross-entropy;
    ``gaussian``:  :math:`\sum_{j=1}^{D} \tfrac12[(x_j - y_j)^2 + \log 2\pi]` (output = mean, unit variance).

    What the number is depends on the data (the book's notation page). It is a negative
    log-likelihood, in nats, for binary x under ``bernoulli`` and for real-valued x under
    ``gaussian``. For grey levels in [0, 1] under ``bernoulli`` it is a cross-entropy, not the
    negative log of a normalised density of grey levels (the continuous Bernoulli,
    `edu_gen.likelihood.continuous_bernoulli_nll`, is one).

    Args:
        x: targets (B, ...), in [0, 1] for ``bernoulli``; output: logits or means of the same shape.
        kind: ``"bernoulli"`` or ``"gaussian"``.

    Returns:
        (B,) in nats, on x's device; an empty batch gives (0,).

    Raises:
        TypeError, ValueError: as `likelihood.bernoulli_nll` / `likelihood.gaussian_nll`
            (Bernoulli targets outside [0, 1] or NaN refused).
        ValueError: `kind` is neither.
    """
    if kind == "bernoulli":
        return likelihood.bernoulli_nll(x, output)
    if kind == "gaussian":
        return likelihood.gaussian_nll(x, output)
    raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {kind!r}")


def corrupt(x: torch.Tensor, kind: str, level: float, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Draw a corrupted copy :math:`\tilde x \sim C(\tilde x \mid x)`, same shape as x.

    ``mask``            each entry is set to 0 with probability `level` (zero-masking noise);
    ``gaussian``        :math:`\tilde x = x + \text{level}\cdot\varepsilon`, :math:`\varepsilon \sim N(0, I)`;
    ``salt_and_pepper`` each entry, with probability `level`, is replaced by 0 or 1 (a fair coin).

    Args:
        x: a batch (B, ...), values in [0, 1] for the mask and salt-and-pepper noise.
        kind: one of ``"mask"``, ``"gaussian"``, ``"salt_and_pepper"``.
        level: the probability of corrupting an entry, or the Gaussian noise's standard deviation; in [0, 1].
        generator: for reproducible noise (a CPU generator: the noise is drawn there and moved to x's device).

    Returns:
        The corrupted copy, x's shape, dtype and device.

    Raises:
        TypeError: x is not a floating-point tensor, or level is not a number (bool included).
        ValueError: an unknown kind, or level outside [0, 1] (or NaN).
    """
    if kind not in CORRUPTIONS:
        raise ValueError(f"corruption kind must be one of {CORRUPTIONS}, got {kind!r}")
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"corrupt expects a floating-point tensor, got {type(x).__name__}")
    level = number(level, "corruption level", "in [0, 1] (a probability, or a noise std)", minimum=0.0, maximum=1.0)

    def uniform():
        return torch.rand(x.shape, generator=generator, dtype=x.dtype).to(x.device)

    if kind == "mask":
        return x * (uniform() >= level).to(x.dtype)
    if kind == "gaussian":
        return x + level * torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    hit = uniform() < level
    salt = (uniform() < 0.5).to(x.dtype)  # 1 (salt) or 0 (pepper)
    return torch.where(hit, salt, x)


def mlp(sizes: list[int], activation: str, last_activation: str) -> nn.Sequential:
    """Linear layers between consecutive `sizes`, `activation` between them, `last_activation` after the last.

    Args:
        sizes: layer widths, at least two. activation, last_activation: keys of `ACTIVATIONS`.

    Raises:
        KeyError: an unknown activation (`AEConfig` checks it first).
    """
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        last = i == len(sizes) - 2
        layers.append(ACTIVATIONS[last_activation if last else activation]())
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AEConfig:
    """Everything that fixes an `Autoencoder`'s architecture and loss; saved in its checkpoints.

    Attributes:
        input_shape: one example's shape, e.g. (1, 28, 28), or (2,) for 2D points.
        hidden_dims: the encoder's hidden widths (the decoder mirrors them); () for one layer.
        code_dim: d, the size of the code.
        activation: ``"sigmoid"``, ``"relu"`` or ``"linear"``.
        likelihood: ``"bernoulli"`` (the decoder gives logits) or ``"gaussian"`` (means).
        tied: one layer only, with the decoder weight W^T.

    Sizes may be given as any integer kind (Python, NumPy, 0-d tensor) and are stored as Python
    ints, the shapes as tuples.

    Raises:
        TypeError: a size that is not an integer (bool included), or ``tied`` not a bool.
        ValueError: a size < 1, an unknown activation or likelihood, or ``tied`` with hidden layers.
    """

    input_shape: tuple[int, ...] = (1, 28, 28)  # one example's shape; (2,) for 2D points
    hidden_dims: tuple[int, ...] = ()  # encoder hidden widths; the decoder mirrors them. () = one layer
    code_dim: int = 32  # the bottleneck: smaller codes reconstruct worse but must find structure
    activation: str = "sigmoid"  # 'sigmoid' (the classic, and what the contractive penalty needs), 'relu', 'linear'
    likelihood: str = "bernoulli"  # 'bernoulli' (decoder gives logits) or 'gaussian' (decoder gives means)
    tied: bool = False  # one layer only: decoder weight W' = W^T (Vincent et al. 2008, Rifai et al. 2011); half the weights

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        for name in ("input_shape", "hidden_dims"):
            if not isinstance(getattr(self, name), (tuple, list)):
                raise TypeError(f"{name} must be a tuple of ints >= 1, got {getattr(self, name)!r}")
        if len(self.input_shape) == 0:
            raise ValueError("input_shape must be a tuple of ints >= 1 (one example's shape), got ()")
        sizes = lambda name, values: tuple(number(v, f"{name}[{i}]", "an int >= 1", integer=True, minimum=1)
                                           for i, v in enumerate(values))
        object.__setattr__(self, "input_shape", sizes("input_shape", self.input_shape))
        object.__setattr__(self, "hidden_dims", sizes("hidden_dims", self.hidden_dims))
        object.__setattr__(self, "code_dim", number(self.code_dim, "code_dim", "an int >= 1 (the size of the code)",
                                                    integer=True, minimum=1))
        if not isinstance(self.tied, bool):
            raise TypeError(f"tied must be a bool, got {self.tied!r}")
        if self.tied and self.hidden_dims != ():
            raise ValueError(f"tied=True needs a one-layer autoencoder (hidden_dims=()), got hidden_dims={self.hidden_dims}")


class TiedLinear(nn.Module):
    r"""The decoder layer of a tied autoencoder: :math:`y = W^\top h + c`, with W the encoder's own weight.

    It holds the encoder's ``nn.Linear`` (so W is one Parameter, trained through both uses) and its
    own bias c. ``weight`` is :math:`W^\top`, shape (D, d), like an ``nn.Linear(d, D)``'s.

    Args:
        encoder_linear: the encoder's ``nn.Linear(D, d)``, whose weight W is shared.
    """

    def __init__(self, encoder_linear: nn.Linear):
        super().__init__()
        self.encoder_linear = encoder_linear
        self.bias = nn.Parameter(torch.zeros(encoder_linear.in_features))  # c, (D,)

    @property
    def weight(self) -> torch.Tensor:
        return self.encoder_linear.weight.T  # W' = W^T, (D, d)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """y = W^T h + c: codes (B, d) -> (B, D).

        Args:
            h: codes, (B, d).

        Raises:
            RuntimeError: h does not have d columns (torch's shape error).
        """
        return h @ self.encoder_linear.weight + self.bias  # (B, d) @ (d, D) -> (B, D)


class Autoencoder(nn.Module):
    r"""MLP autoencoder: code :math:`h(x)`, output :math:`y = g(h(x))` (logits or means).

    The encoder is ``Linear, activation`` per layer down to `code_dim` d (the code has the same
    activation); the decoder mirrors it and ends in a plain Linear. With ``hidden_dims=()`` and a
    sigmoid, the encoder is the single layer :math:`h(x) = \operatorname{sigm}(Wx + b)` of the denoising and
    contractive autoencoder papers; with ``tied=True`` the decoder is :math:`g(h) = W^\top h + c`
    (`TiedLinear`), as in those papers.

    Inputs: x of shape (B, *input_shape). ``forward`` returns y of the same shape, on the model's device.

    Args:
        config: an `AEConfig`.

    Raises:
        TypeError: config is not an `AEConfig`.
    """

    def __init__(self, config: AEConfig = AEConfig()):
        super().__init__()
        if not isinstance(config, AEConfig):
            raise TypeError(f"config must be an AEConfig, got {type(config).__name__}")
        self.config = config
        d = math.prod(config.input_shape)
        sizes = [d, *config.hidden_dims, config.code_dim]
        self.encoder = nn.Sequential(nn.Flatten(), *mlp(sizes, config.activation, config.activation))
        if config.tied:
            self.decoder = nn.Sequential(TiedLinear(self.encoder[1]))  # W' = W^T: no decoder weight of its own
        else:
            self.decoder = mlp(sizes[::-1], config.activation, "linear")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *input_shape) -> code (B, code_dim).

        Args:
            x: a batch (B, *input_shape), floating point.

        Raises:
            TypeError, ValueError: x is not a floating-point (B, *input_shape) tensor.
        """
        check_input(x, self.config.input_shape, "Autoencoder")
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """code (B, code_dim) -> output (B, *input_shape): logits (bernoulli) or means (gaussian).

        Args:
            z: codes, (B, code_dim).

        Raises:
            ValueError: z is not (B, code_dim).
        """
        if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.shape[1] != self.config.code_dim:
            raise ValueError(f"decode expects codes of shape (B, {self.config.code_dim}), got "
                             f"{tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__}")
        return self.decoder(z).reshape(len(z), *self.config.input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """y = g(h(x)), (B, *input_shape): logits or means.

        Args:
            x: a batch (B, *input_shape), floating point.

        Raises:
            TypeError, ValueError: x is not a floating-point (B, *input_shape) tensor.
        """
        return self.decode(self.encode(x))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction in data space: sigmoid(logits) or the Gaussian mean, (B, *input_shape).

        Args:
            x: a batch (B, *input_shape), floating point.

        Raises:
            TypeError, ValueError: x is not a floating-point (B, *input_shape) tensor.
        """
        y = self(x)
        return torch.sigmoid(y) if self.config.likelihood == "bernoulli" else y

    def loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The reconstruction error per example, averaged over the batch: ``{"loss": ..., "recon": ...}``, scalars.

        Args:
            x: a batch (B, *input_shape), in [0, 1] for the Bernoulli likelihood.

        Raises:
            TypeError, ValueError: as `forward`, and as `reconstruction_error` for the targets.
        """
        recon = reconstruction_error(x, self(x), self.config.likelihood).mean()
        return {"loss": recon, "recon": recon}


class ConvAutoencoder(nn.Module):
    """Convolutional autoencoder for (B, 1, 28, 28) images; decoder outputs Bernoulli logits.

    Args:
        code_dim: the size of the code, an int >= 1. channels: c, the first convolution's width.

    Raises:
        TypeError: a size that is not an integer (bool included).
        ValueError: a size < 1.
    """

    def __init__(self, code_dim: int = 32, channels: int = 16):
        super().__init__()
        code_dim = number(code_dim, "code_dim", "an int >= 1", integer=True, minimum=1)
        c = channels = number(channels, "channels", "an int >= 1", integer=True, minimum=1)
        self.code_dim = code_dim
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c, 3, stride=2, padding=1), nn.ReLU(),  # (B, c, 14, 14)
            nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.ReLU(),  # (B, 2c, 7, 7)
            nn.Flatten(), nn.Linear(2 * c * 49, code_dim),  # (B, code_dim)
        )
        self.decoder = nn.Sequential(
            nn.Linear(code_dim, 2 * c * 49), nn.ReLU(), nn.Unflatten(1, (2 * c, 7, 7)),
            nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1), nn.ReLU(),  # (B, c, 14, 14)
            nn.ConvTranspose2d(c, 1, 4, stride=2, padding=1),  # (B, 1, 28, 28) logits
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 28, 28) -> code (B, code_dim).

        Args:
            x: images (B, 1, 28, 28), floating point.

        Raises:
            TypeError, ValueError: x is not a floating-point (B, 1, 28, 28) tensor.
        """
        check_input(x, (1, 28, 28), "ConvAutoencoder")
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 28, 28) -> Bernoulli logits (B, 1, 28, 28).

        Args:
            x: images (B, 1, 28, 28), floating point.

        Raises:
            TypeError, ValueError: x is not a floating-point (B, 1, 28, 28) tensor.
        """
        return self.decoder(self.encode(x))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The decoder's means sigmoid(logits), (B, 1, 28, 28).

        Args:
            x: images (B, 1, 28, 28), floating point.

        Raises:
            TypeError, ValueError: x is not a floating-point (B, 1, 28, 28) tensor.
        """
        return torch.sigmoid(self(x))

    def loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The cross-entropy per example, averaged: ``{"loss", "recon"}``, scalars.

        Args:
            x: images (B, 1, 28, 28) in [0, 1].

        Raises:
            TypeError, ValueError: as `forward`, or x outside [0, 1] (NaN too).
        """
        recon = likelihood.bernoulli_nll(x, self(x)).mean()
        return {"loss": recon, "recon": recon}


class TiedAutoencoder(nn.Module):
    r"""One-layer autoencoder with tied weights, :math:`W' = W^\top`, on flat inputs.

    .. math:: h = \operatorname{sigm}(W x + b), \qquad y = W^\top h + c

    W is (d, D) = (code_dim, input_dim); y are Bernoulli logits (or Gaussian means). Inputs (B, D).
    ``AEConfig(hidden_dims=(), tied=True)`` builds the same model for image-shaped inputs.

    Args:
        input_dim: D. code_dim: d. Ints >= 1.
        activation: a key of `ACTIVATIONS`. seed: seed of the initial W (uniform in +-1/sqrt(D)).

    Raises:
        TypeError: a size that is not an integer (bool included).
        ValueError: a size < 1, or an unknown activation.
    """

    def __init__(self, input_dim: int, code_dim: int, activation: str = "sigmoid", seed: int = 0):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        input_dim = number(input_dim, "input_dim", "an int >= 1", integer=True, minimum=1)
        code_dim = number(code_dim, "code_dim", "an int >= 1", integer=True, minimum=1)
        g = torch.Generator().manual_seed(seed)
        bound = 1 / math.sqrt(input_dim)
        self.weight = nn.Parameter((torch.rand(code_dim, input_dim, generator=g) * 2 - 1) * bound)
        self.bias = nn.Parameter(torch.zeros(code_dim))  # b
        self.output_bias = nn.Parameter(torch.zeros(input_dim))  # c
        self.activation = ACTIVATIONS[activation]()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """h = activation(W x + b): (B, input_dim) -> (B, code_dim).

        Args:
            x: a batch (B, input_dim), floating point.

        Raises:
            TypeError, ValueError: x is not a floating-point (B, input_dim) tensor.
        """
        check_input(x, (self.weight.shape[1],), "TiedAutoencoder")
        return self.activation(x @ self.weight.T + self.bias)  # (B, code_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """y = W^T h(x) + c: (B, input_dim) -> logits or means (B, input_dim).

        Args:
            x: a batch (B, input_dim), floating point.

        Raises:
            TypeError, ValueError: x is not a floating-point (B, input_dim) tensor.
        """
        return self.encode(x) @ self.weight + self.output_bias  # (B, input_dim)


def stack(layers: list[Autoencoder]) -> Autoencoder:
    r"""Build one deep autoencoder from one-layer autoencoders trained greedily, layer by layer.

    Layer l was trained to reconstruct the code of layer l - 1, so the deep model encodes with
    :math:`h_n \circ \dots \circ h_1` and decodes with :math:`g_1 \circ \dots \circ g_n`, putting the
    activation back after each inner decoder (a Bernoulli layer's mean is the sigmoid of its logits).
    The weights are copied: fine-tuning the result leaves `layers` unchanged.

    Args:
        layers: one-layer `Autoencoder`s (``hidden_dims=()``), one activation throughout, where
            layer l's input size is layer l - 1's code size.

    Returns:
        An `Autoencoder` with ``hidden_dims`` = the inner code sizes, ``code_dim`` = the last one.

    Raises:
        ValueError: no layer, a layer with hidden layers, two activations, or sizes that do not chain.
    """
    if not layers:
        raise ValueError("stack needs at least one one-layer autoencoder")
    first = layers[0].config
    for i, layer in enumerate(layers):
        c = layer.config
        if c.hidden_dims != ():
            raise ValueError(f"layer {i} has hidden_dims={c.hidden_dims}; stack takes one-layer autoencoders (hidden_dims=())")
        if c.activation != first.activation:
            raise ValueError(f"layer {i} uses {c.activation!r} but layer 0 uses {first.activation!r}; stack needs one activation")
        if i > 0 and math.prod(c.input_shape) != layers[i - 1].config.code_dim:
            raise ValueError(f"layer {i} takes {math.prod(c.input_shape)} inputs but layer {i - 1} makes codes of size "
                             f"{layers[i - 1].config.code_dim}")
    sizes = [layer.config.code_dim for layer in layers]
    deep = Autoencoder(AEConfig(first.input_shape, tuple(sizes[:-1]), sizes[-1], first.activation, first.likelihood))
    encoder_linears = [m for m in deep.encoder if isinstance(m, nn.Linear)]
    decoder_linears = [m for m in deep.decoder if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for layer, enc, dec in zip(layers, encoder_linears, reversed(decoder_linears)):
            enc.load_state_dict(layer.encoder[1].state_dict())
            dec.weight.copy_(layer.decoder[0].weight)  # W' (or W^T when the layer is tied)
            dec.bias.copy_(layer.decoder[0].bias)
    return deep


# --------------------------------------------------------------------------------------------
# Losses and checks
# --------------------------------------------------------------------------------------------


def dae_loss(model: nn.Module, x: torch.Tensor, kind: str, level: float, num_samples: int = 1,
             generator: torch.Generator | None = None, likelihood_name: str | None = None) -> torch.Tensor:
    r"""The denoising loss, with the expectation over the corruption estimated by S samples.

    .. math::
        \mathcal{L}_{DAE} = \frac1B\sum_{i} \mathbb E_{C(\tilde x \mid x^{(i)})} \ell\big(x^{(i)}, g(h(\tilde x))\big)
        \approx \frac1B\sum_i \frac1S \sum_{s=1}^{S} \ell\big(x^{(i)}, g(h(\tilde x^{(i, s)}))\big)

    (Vincent et al. 2008, eq. 3; the lecture writes L for the number of samples.) The model
    reconstructs the CLEAN x from the corrupted :math:`\tilde x`. Returns a scalar.
    :math:`\ell` is `reconstruction_error` of the kind named by `likelihood_name` (``"bernoulli"`` or
    ``"gaussian"``); by default the model's own ``config.likelihood`` (an `Autoencoder`), else Bernoulli.

    Args:
        model: maps (B', ...) to outputs of x's shape. x: clean targets (B, ...).
        kind, level, generator: as in `corrupt`. num_samples: S, an int >= 1.
        likelihood_name: ``"bernoulli"``, ``"gaussian"`` or None (the model's own).

    Raises:
        TypeError: num_samples not an integer; as `corrupt` for x and level.
        ValueError: num_samples < 1; as `corrupt` and `reconstruction_error`.
    """
    num_samples = number(num_samples, "num_samples (S)", "an int >= 1", integer=True, minimum=1)
    kind_nll = likelihood_name or getattr(getattr(model, "config", None), "likelihood", "bernoulli")
    x_rep = x.repeat(num_samples, *([1] * (x.dim() - 1)))  # (S*B, ...): S corrupted copies of each x
    output = model(corrupt(x_rep, kind, level, generator))
    return reconstruction_error(x_rep, output, kind_nll).mean()


def principal_angles(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""Principal angles (radians, ascending) between the column spaces of a (D, k) and b (D, l).

    With orthonormal bases :math:`Q_a, Q_b`, the cosines of the angles are the singular values of
    :math:`Q_a^\top Q_b` (Björck and Golub, 1973). Returns min(k, l) angles in [0, pi/2].

    Args:
        a: (D, k) and b: (D, l) tensors whose columns span the two subspaces.

    Returns:
        (min(k, l),) float64 angles in radians, ascending, on a's device.

    Raises:
        ValueError: a or b is not a matrix, or their numbers of rows differ.
    """
    for name, t in (("a", a), ("b", b)):
        if not isinstance(t, torch.Tensor) or t.dim() != 2:
            raise ValueError(f"principal_angles expects matrices (D, k) whose columns span a subspace; {name} has shape "
                             f"{tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__}")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"the subspaces must live in one space: a has {a.shape[0]} rows, b has {b.shape[0]}")
    qa, _ = torch.linalg.qr(a.to(torch.float64))
    qb, _ = torch.linalg.qr(b.to(torch.float64))
    cosines = torch.linalg.svdvals(qa.T @ qb).clamp(max=1.0)
    return torch.arccos(cosines)  # svdvals are descending, so the angles ascend


# --------------------------------------------------------------------------------------------
# The autoencoder chapter's denoising autoencoder, shared with later chapters
# --------------------------------------------------------------------------------------------

MAIN_DAE_NAME = "ch03_dae_mask50"


def main_dae_recipe(scale: str | None = None) -> dict:
    """The recipe of the autoencoder chapter's denoising autoencoder at a scale.

    A 784-256-32 ReLU autoencoder with a Bernoulli output, trained to undo zero-masking noise at level 0.5
    (Vincent et al. 2008's masking noise) with S = 2 corrupted copies of each digit, by Adam at lr 3e-3 on
    batches of 128; the chapter's budget and training digits: ci 150 steps on 2,000 digits, book 600 on 20,000,
    full 5,000 on 60,000 (``data.images("mnist", "train", n=n_train, seed=0)``).

    Args:
        scale: ``"ci"``, ``"book"`` or ``"full"``; None for the current one (`runtime.scale`).

    Returns:
        ``{"config": AEConfig, "steps", "n_train", "kind", "level", "num_samples", "lr", "batch_size"}``.

    Raises:
        ValueError: an unknown scale (or an EDU_GEN_SCALE that names none).
    """
    from edu_gen import runtime

    steps, n_train = runtime.at_scale({"ci": (150, 2_000), "book": (600, 20_000), "full": (5_000, 60_000)}, scale)
    return {"config": AEConfig(hidden_dims=(256,), code_dim=32, activation="relu"), "steps": steps, "n_train": n_train,
            "kind": "mask", "level": 0.5, "num_samples": 2, "lr": 3e-3, "batch_size": 128}


def main_dae(images: torch.Tensor):
    """The autoencoder chapter's denoising autoencoder (`main_dae_recipe` at this scale), trained on `images` or loaded.

    The one place where its recipe and cache key are written: the autoencoder chapter trains it, later
    chapters (the comparison chapter's denoising and outlier tests) load the same weights. The initial
    weights (seed 0), the batch order (seed 3) and the noise (seed 3) have their own seeds, so the model does
    not depend on what ran before it; the key holds a SHA-256 digest of the images, so other images of the
    same number train a model of their own.

    Args:
        images: the chapter's training digits (N, 1, 28, 28) in [0, 1], N >= 1:
            ``data.images("mnist", "train", n=main_dae_recipe()["n_train"], seed=0)[0]``.

    Returns:
        (the `Autoencoder` on the CPU in eval mode, History of its training).

    Raises:
        TypeError: images is not a floating-point tensor.
        ValueError: images not (N, 1, 28, 28) with N >= 1 and values in [0, 1], or a bad EDU_GEN_SCALE.
    """
    from dataclasses import asdict

    from edu_gen import data, train

    check_input(images, (1, 28, 28), "main_dae")
    if len(images) == 0 or images.min() < 0 or images.max() > 1:
        raise ValueError(f"main_dae expects N >= 1 grey levels in [0, 1], got {len(images)} images"
                         + (f" in [{images.min().item():.3g}, {images.max().item():.3g}]" if len(images) else ""))
    recipe = main_dae_recipe()
    key = {**asdict(recipe["config"]), **{k: v for k, v in recipe.items() if k != "config"}, "n": len(images),
           "data": train.data_digest(images), "seeds": (0, 3, 3)}
    torch.manual_seed(0)                                        # the initial weights
    model = Autoencoder(recipe["config"])
    noise = torch.Generator().manual_seed(3)                    # the corruptions C(x~ | x)

    def train_fn(m):
        loader = data.loader(images, batch_size=recipe["batch_size"], seed=3)
        return train.fit(m, lambda m, b: dae_loss(m, b[0], recipe["kind"], recipe["level"],
                                                   num_samples=recipe["num_samples"], generator=noise),
                         loader, epochs=math.ceil(recipe["steps"] / len(loader)), max_steps=recipe["steps"],
                         lr=recipe["lr"])

    history = train.load_or_train(MAIN_DAE_NAME, model, train_fn, key)
    return model.cpu().eval(), history
