"""The conditional VAE and the M2 model of semi-supervised learning (Kingma et al., 2014).

The conditional VAE (CVAE) feeds the class label y, as a one-hot vector e_y in {0, 1}^C, to both
the encoder q_phi(z|x, y) and the decoder p_theta(x|y, z), with the priors p(z) = N(0, I_d) and
p(y) = 1/C. Its bound on the joint log-likelihood of an example and its label is

    log p(x, y) >= -L(x, y) = E_q(z|x,y)[log p_theta(x|y, z)] + log p(y) - KL(q_phi(z|x, y) || p(z))

(Kingma et al., 2014, eq. 6). M2 adds a classifier q_phi(y|x) and uses it when the label is
missing, summing over the C labels instead of sampling one:

    log p(x) >= -U(x) = sum_y q_phi(y|x) (-L(x, y)) + H(q_phi(y|x))             (their eq. 7),

and trains the classifier on the labelled examples too, with weight alpha (their eq. 9):

    J^alpha = sum_labelled L(x, y) + sum_unlabelled U(x) + alpha * E_labelled[-log q_phi(y|x)].

Order of the module: one-hot labels and their checks, the conditioned MLP, `CVAEConfig`, `CVAE`
(encode, decode, the labelled bound, sampling, analogies), `M2` (classifier, the unlabelled bound
enumerated and sampled, the semi-supervised loss, `classify`). The training recipes (`train_cvae`,
`train_m2`) and the semi-supervised batches are in `edu_gen.semi_supervised`.
Inputs are images (B, 1, 28, 28) with a Bernoulli decoder, or vectors (B, D) such as a VAE's codes
with a Gaussian decoder (M1+M2). Devices follow the model and the inputs; nothing is created on
the CPU by hand. Symbols follow the book's notation page (C classes, d latent size).

Introduced in the chapter "The conditional VAE and semi-supervised learning" (label ch-cvae).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from edu_gen._checks import number, unit_interval
from edu_gen.likelihood import bernoulli_nll, categorical_nll, gaussian_nll, kl_normal_std
from edu_gen.vae import reparameterize

LIKELIHOODS = ("bernoulli", "gaussian")


# --------------------------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------------------------


def check_labels(y: torch.Tensor, num_classes: int, batch_size: int | None = None, who: str = "y") -> torch.Tensor:
    """Refuse anything but integer class labels (B,) in 0..C-1; return them as int64.

    Args:
        y: the labels, an integer tensor (B,).
        num_classes: C.
        batch_size: when given, y must hold exactly this many labels (one per example of x).
        who: the argument's name in the error messages.

    Raises:
        TypeError: y is not a tensor, or its dtype is floating-point, complex or bool.
        ValueError: y is not 1-D, has another batch size than x, or a label lies outside 0..C-1.
    """
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{who} must be a tensor of integer class labels (B,), got {type(y).__name__}")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"{who} must hold integer class labels (e.g. int64), got dtype {y.dtype}")
    if y.dim() != 1:
        raise ValueError(f"{who} must have shape (B,), one label per example, got {tuple(y.shape)}")
    if batch_size is not None and len(y) != batch_size:
        raise ValueError(f"{who} must have x's batch size {batch_size}, one label per example; got {len(y)} labels")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(f"{who}: labels must lie in 0..{num_classes - 1}, got values in [{int(y.min())}, {int(y.max())}]")
    return y.long()


def one_hot(y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Integer labels (B,) -> float32 one-hot vectors e_y (B, C) on y's device: row b is 1 at column y_b, else 0.

    Args:
        y: (B,) integer labels in 0..C-1 (B = 0 gives (0, C)).
        num_classes: C.

    Returns:
        (B, C) float32 on y's device.

    Raises:
        TypeError, ValueError: as `check_labels` (not an integer tensor, not 1-D, a label outside 0..C-1).
    """
    return F.one_hot(check_labels(y, num_classes), num_classes).float()


# --------------------------------------------------------------------------------------------
# Parts
# --------------------------------------------------------------------------------------------


class ConditionedMLP(nn.Module):
    r"""An MLP with one hidden layer whose input is the concatenation [v, e_y] of a vector and a one-hot label.

    .. math::
        h = \mathrm{relu}\big(W [v; e_y] + b\big) = \mathrm{relu}\big(W_v v + W_y e_y + b\big), \qquad
        \text{out} = W_2 h + b_2

    The first layer is stored as its two blocks W_v and W_y (the same linear map as one layer on
    the concatenation), so that the C labels of the unlabelled bound can share one W_v v:
    `forward` broadcasts v (B, in) against labels (..., B, C).

    Args:
        in_dim: the size of v. num_classes: C, the size of e_y. hidden_dim: H. out_dim: the output size; ints >= 1.

    Raises:
        TypeError, ValueError: a size that is not an int >= 1.
    """

    def __init__(self, in_dim: int, num_classes: int, hidden_dim: int, out_dim: int):
        super().__init__()
        for name, size in (("in_dim", in_dim), ("num_classes", num_classes), ("hidden_dim", hidden_dim), ("out_dim", out_dim)):
            number(size, name, "an int >= 1", integer=True, minimum=1)
        self.input = nn.Linear(in_dim, hidden_dim)                    # W_v, b
        self.label = nn.Linear(num_classes, hidden_dim, bias=False)   # W_y: column y is added for label y
        self.output = nn.Linear(hidden_dim, out_dim)

    def forward(self, v: torch.Tensor, e_y: torch.Tensor) -> torch.Tensor:
        """The MLP on [v; e_y], on the inputs' device.

        Args:
            v: (..., B, in) floating point. e_y: (..., B, C) one-hot labels (any weights work: the map is linear
                in e_y before the ReLU); the leading shapes broadcast against each other.

        Returns:
            (..., B, out).

        Raises:
            TypeError: v or e_y not a floating-point tensor. ValueError: a last dimension that is not in or C.
        """
        for name, t, size in (("v", v, self.input.in_features), ("e_y", e_y, self.label.in_features)):
            if not isinstance(t, torch.Tensor) or not t.is_floating_point():
                raise TypeError(f"{name} must be a floating-point tensor, got "
                                f"{f'dtype {t.dtype}' if isinstance(t, torch.Tensor) else type(t).__name__}")
            if t.dim() == 0 or t.shape[-1] != size:
                raise ValueError(f"{name} must have shape (..., B, {size}), got {tuple(t.shape)}")
        return self.output(torch.relu(self.input(v) + self.label(e_y)))


# --------------------------------------------------------------------------------------------
# The conditional VAE
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CVAEConfig:
    """Everything that fixes a CVAE's or M2's architecture and loss; saved in its checkpoints.

    Attributes:
        input_shape: the shape of one example: (1, 28, 28) for images, (D,) for vectors.
        latent_dim: d, the size of z (2 draws the lecture's figures; Kingma et al. use 50).
        hidden_dim: width of the one hidden layer of the encoder, decoder and classifier.
        num_classes: C.
        likelihood: ``"bernoulli"`` (pixels in [0, 1]; a log-likelihood only for binary x) or
            ``"gaussian"`` (the decoder predicts a mean and a log-variance per coordinate; M1+M2).
        alpha: weight of M2's classification term on the labelled examples (ignored by `CVAE`).
    """

    input_shape: tuple = (1, 28, 28)
    latent_dim: int = 2
    hidden_dim: int = 500
    num_classes: int = 10
    likelihood: str = "bernoulli"
    alpha: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "input_shape", tuple(self.input_shape))   # a list from a JSON checkpoint
        if not self.input_shape or not all(isinstance(s, int) and s >= 1 for s in self.input_shape):
            raise ValueError(f"input_shape must be a tuple of positive ints, got {self.input_shape!r}")
        # numbers of any numeric kind (NumPy scalars, 0-d tensors) stored as plain Python numbers, as VAEConfig
        fields = {"latent_dim": number(self.latent_dim, "latent_dim", "an int >= 1 (the size of z)", integer=True, minimum=1),
                  "hidden_dim": number(self.hidden_dim, "hidden_dim", "an int >= 1", integer=True, minimum=1),
                  "num_classes": number(self.num_classes, "num_classes", "an int >= 2 (C)", integer=True, minimum=2),
                  "alpha": number(self.alpha, "alpha", "a number >= 0 (the classification weight; finite)", minimum=0.0)}
        for name, value in fields.items():
            object.__setattr__(self, name, value)
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")

    @property
    def input_dim(self) -> int:
        """D, the number of coordinates of one example."""
        return math.prod(self.input_shape)


class CVAE(nn.Module):
    r"""The conditional VAE: the label enters the encoder and the decoder as a one-hot vector.

    .. math::
        q_\phi(z \mid x, y) = \mathcal N\big(\mu_\phi(x, y), \operatorname{diag}\sigma^2_\phi(x, y)\big), \quad
        p_\theta(x \mid y, z), \quad p(z) = \mathcal N(0, I_d), \quad p(y) = 1/C

    Trained on labelled data by minimising L(x, y) = recon + kl + log C, the negative of the bound
    on log p(x, y) (Kingma et al., 2014, eq. 6; the lecture slide drops the KL term). Introduced
    in the chapter "The conditional VAE and semi-supervised learning" (label ch-cvae).

    Args:
        config: a CVAEConfig (saved with checkpoints; `train.load` refuses one of another config).

    Raises:
        TypeError: config is not a CVAEConfig.
    """

    def __init__(self, config: CVAEConfig = CVAEConfig()):
        super().__init__()
        if not isinstance(config, CVAEConfig):
            raise TypeError(f"config must be a CVAEConfig, got {type(config).__name__}")
        self.config = config
        D, d, H, C = config.input_dim, config.latent_dim, config.hidden_dim, config.num_classes
        out = D if config.likelihood == "bernoulli" else 2 * D          # logits, or mean and log-variance
        self.encoder = ConditionedMLP(D, C, H, 2 * d)                   # [x, e_y] -> (mu, log_var)
        self.decoder = ConditionedMLP(d, C, H, out)                     # [z, e_y] -> p(x | y, z)

    # ---- inputs --------------------------------------------------------------------------------

    def flatten(self, x: torch.Tensor, who: str = "x") -> torch.Tensor:
        """Check x and return it as (B, D), a view.

        Args:
            x: (B, *input_shape) floating point; in [0, 1] for a Bernoulli decoder (NaN refused).
            who: the argument's name in the messages.

        Returns:
            (B, D) on x's device and dtype.

        Raises:
            TypeError: x is not a floating-point tensor. ValueError: another shape, or values outside [0, 1]
                (Bernoulli).
        """
        shape = self.config.input_shape
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError(f"{who} must be a floating-point tensor (B, {', '.join(map(str, shape))}), got "
                            f"{x.dtype if isinstance(x, torch.Tensor) else type(x).__name__}")
        if x.dim() != len(shape) + 1 or tuple(x.shape[1:]) != shape:
            raise ValueError(f"{who} must have shape (B, {', '.join(map(str, shape))}), got {tuple(x.shape)}")
        if self.config.likelihood == "bernoulli":
            unit_interval(x, f"{who}: a Bernoulli decoder needs values")
        return x.reshape(len(x), -1)

    def labels(self, y: torch.Tensor, x: torch.Tensor, who: str = "y") -> torch.Tensor:
        """Check that y holds one label in 0..C-1 per example of x; return e_y (B, C) with x's device and dtype.

        Args:
            y: (B,) integer labels. x: the examples (B, ...) they label (for B, the device and the dtype).
            who: y's name in the messages.

        Raises:
            TypeError, ValueError: as `check_labels`, with B = len(x).
        """
        return one_hot(check_labels(y, self.config.num_classes, len(x), who), self.config.num_classes).to(x.device, x.dtype)

    # ---- encoder and decoder -------------------------------------------------------------------

    def encode(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The parameters of q_phi(z | x, y) = N(mu, diag exp(log_var)).

        Args:
            x: (B, *input_shape) (checked by `flatten`). y: (B,) integer labels in 0..C-1.

        Returns:
            mu (B, d) and log_var (B, d), on x's device.

        Raises:
            TypeError, ValueError: x or y refused by `flatten` or `check_labels`.
        """
        return self._encode(self.flatten(x), self.labels(y, x))

    def _encode(self, x: torch.Tensor, e_y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_var = self.encoder(x, e_y).chunk(2, dim=-1)
        return mu, log_var

    def decode(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The decoder's output for codes z and labels y.

        Args:
            z: (B, d) floating point. y: (B,) integer labels in 0..C-1.

        Returns:
            (B, *input_shape) on z's device: Bernoulli logits, or the Gaussian's mean.

        Raises:
            TypeError: z is not a floating-point tensor. ValueError: z is not (B, d); TypeError, ValueError: y
                refused by `check_labels`.
        """
        if not isinstance(z, torch.Tensor) or not z.is_floating_point():
            raise TypeError(f"z must be a floating-point tensor (B, {self.config.latent_dim}), got "
                            f"{f'dtype {z.dtype}' if isinstance(z, torch.Tensor) else type(z).__name__}")
        if z.dim() != 2 or z.shape[1] != self.config.latent_dim:
            raise ValueError(f"z must have shape (B, {self.config.latent_dim}), got {tuple(z.shape)}")
        out = self.decoder(z, self.labels(y, z))
        if self.config.likelihood == "gaussian":
            out = out.chunk(2, dim=-1)[0]
        return out.reshape(len(z), *self.config.input_shape)

    def decode_mean(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The mean of p(x | y, z): pixel probabilities for a Bernoulli decoder (not samples).

        Args:
            z: (B, d). y: (B,) integer labels in 0..C-1.

        Returns:
            (B, *input_shape) on z's device; in [0, 1] for a Bernoulli decoder.

        Raises:
            TypeError, ValueError: as `decode`.
        """
        out = self.decode(z, y)
        return torch.sigmoid(out) if self.config.likelihood == "bernoulli" else out

    def _log_likelihood(self, x: torch.Tensor, z: torch.Tensor, e_y: torch.Tensor) -> torch.Tensor:
        """log p(x | y, z) in nats: x (B, D), z (..., B, d), e_y (..., B, C) -> (..., B)."""
        out = self.decoder(z, e_y)                                       # (..., B, D) or (..., B, 2D)
        lead = out.shape[:-1]
        rows = lambda t: t.reshape(-1, t.shape[-1])                      # (everything before D, D)
        xs = rows(x.expand(*lead, x.shape[-1]))
        if self.config.likelihood == "bernoulli":
            nll = bernoulli_nll(xs, rows(out))
        else:
            mean, log_var = out.chunk(2, dim=-1)
            nll = gaussian_nll(xs, rows(mean), rows(log_var))
        return -nll.reshape(lead)

    def _bound_terms(self, x: torch.Tensor, e_y: torch.Tensor, generator=None) -> dict[str, torch.Tensor]:
        """recon, kl and loss = L(x, y) for x (B, D) and labels e_y (..., B, C), one z per (label, example)."""
        mu, log_var = self._encode(x, e_y)                               # (..., B, d) each
        z = reparameterize(mu, log_var, generator)
        recon = -self._log_likelihood(x, z, e_y)                         # -log p(x | y, z), (..., B)
        kl = kl_normal_std(mu.reshape(-1, mu.shape[-1]), log_var.reshape(-1, mu.shape[-1])).reshape(mu.shape[:-1])
        log_prior_y = -math.log(self.config.num_classes)                 # log p(y), p(y) = 1/C
        return {"recon": recon, "kl": kl, "loss": recon + kl - log_prior_y}

    # ---- the labelled bound --------------------------------------------------------------------

    def negative_elbo(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        r"""The negative bound L(x, y) on -log p(x, y), one value per example, with one draw of z.

        .. math::
            \mathcal L(x, y) = \underbrace{-\log p_\theta(x \mid y, z)}_{\text{recon}}
            + \underbrace{\mathrm{KL}\big(q_\phi(z \mid x, y) \,\|\, \mathcal N(0, I_d)\big)}_{\text{kl}} - \log p(y),
            \qquad z \sim q_\phi(z \mid x, y)

        Args:
            x: (B, *input_shape); in [0, 1] for a Bernoulli decoder (a log-likelihood only if binary).
            y: (B,) integer labels in 0..C-1.
            generator: for a reproducible z.

        Returns:
            ``{"recon", "kl", "loss"}``, each (B,) in nats; ``loss`` = recon + kl + log C.

        Raises:
            TypeError, ValueError: x of the wrong shape or range, y not integer, outside 0..C-1, or
                of another batch size than x.
        """
        return self._bound_terms(self.flatten(x), self.labels(y, x), generator)

    def loss(self, batch, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Mean over a labelled batch (x, y) of `negative_elbo`'s terms (for `train.fit`).

        Args:
            batch: a pair (x (B, *input_shape), y (B,)), as `data.loader` yields. generator: for a reproducible z.

        Returns:
            ``{"recon", "kl", "loss"}``, 0-d tensors in nats per example.

        Raises:
            TypeError: batch is not a pair (x, y). TypeError, ValueError: as `negative_elbo`.
        """
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise TypeError(f"batch must be a pair (x, y) of examples and integer labels, got "
                            f"{type(batch).__name__}{f' of length {len(batch)}' if isinstance(batch, (tuple, list)) else ''}")
        x, y = batch[0], batch[1]
        return {k: v.mean() for k, v in self.negative_elbo(x, y, generator).items()}

    # ---- sampling and analogies ----------------------------------------------------------------

    @torch.no_grad()
    def sample(self, y: torch.Tensor, generator: torch.Generator | None = None, mean: bool = True) -> torch.Tensor:
        """Draw z ~ N(0, I_d) for each label of y (B,) and decode: (B, *input_shape).

        ``mean=True`` returns the decoder's means (pixel probabilities, not samples); ``mean=False``
        samples x ~ p(x | y, z) (binary pixels; Bernoulli decoders only).

        Args:
            y: (B,) integer labels in 0..C-1, one sample per label.
            generator: a CPU torch.Generator for reproducible z (and pixels).
            mean: decoder means (True) or binary samples (False).

        Returns:
            (B, *input_shape) on the model's device, without gradients.

        Raises:
            TypeError, ValueError: y refused by `check_labels`; ValueError: mean=False with a Gaussian decoder.
        """
        device = next(self.parameters()).device
        y = check_labels(y, self.config.num_classes).to(device)
        z = torch.randn(len(y), self.config.latent_dim, generator=generator).to(device)
        probs = self.decode_mean(z, y)
        if mean:
            return probs
        if self.config.likelihood != "bernoulli":
            raise ValueError("mean=False samples binary pixels: only for a Bernoulli decoder")
        return torch.bernoulli(probs.cpu(), generator=generator).to(device)

    @torch.no_grad()
    def analogy(self, x: torch.Tensor, y: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Encode each x with its own label, keep z = mu(x, y), decode with each target label.

        Args:
            x: (B, *input_shape); y: (B,) their labels; targets: (T,) the labels to decode with.

        Returns:
            decoder means (B, T, *input_shape): row b is x_b's style written as each target class.

        Raises:
            TypeError, ValueError: x, y or targets refused by `flatten` or `check_labels` (targets named as such).
        """
        mu, _ = self.encode(x, y)                                               # (B, d)
        targets = check_labels(targets, self.config.num_classes, who="targets").to(mu.device)
        B, T = len(mu), len(targets)
        out = self.decode_mean(mu.repeat_interleave(T, 0), targets.repeat(B))   # (B * T, ...)
        return out.reshape(B, T, *self.config.input_shape)


# --------------------------------------------------------------------------------------------
# M2: the classifier and the unlabelled bound
# --------------------------------------------------------------------------------------------


class M2(CVAE):
    r"""Kingma et al.'s (2014) M2: a CVAE plus a classifier q_phi(y|x) that stands in for missing labels.

    .. math::
        -\mathcal U(x) = \sum_{y=1}^{C} q_\phi(y \mid x)\,\big(-\mathcal L(x, y)\big) + H\big(q_\phi(y \mid x)\big) \le \log p(x)

    The sum over y is enumerated (C passes of the encoder and decoder per example), so the
    classifier's gradient is exact; `sampled_unlabelled_loss` samples y instead, for comparison.
    ``config.alpha`` weights the classification term -log q(y|x) on labelled examples.

    Args:
        config: a CVAEConfig; the classifier is an MLP D-H-C with one ReLU layer.

    Raises:
        TypeError: config is not a CVAEConfig.
    """

    def __init__(self, config: CVAEConfig = CVAEConfig()):
        super().__init__(config)
        D, H, C = config.input_dim, config.hidden_dim, config.num_classes
        self.classifier = nn.Sequential(nn.Linear(D, H), nn.ReLU(), nn.Linear(H, C))   # (B, D) -> (B, C) logits

    def classifier_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The classifier's logits of q_phi(y | x).

        Args:
            x: (B, *input_shape), checked by `flatten`.

        Returns:
            (B, C) logits on x's device.

        Raises:
            TypeError, ValueError: x refused by `flatten`.
        """
        return self.classifier(self.flatten(x))

    @torch.no_grad()
    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """The most probable label under q_phi(y | x), without gradients.

        Args:
            x: (B, *input_shape).

        Returns:
            (B,) int64 labels in 0..C-1 on x's device.

        Raises:
            TypeError, ValueError: x refused by `flatten`.
        """
        return self.classifier_logits(x).argmax(dim=1)

    def _all_labels(self, x: torch.Tensor) -> torch.Tensor:
        C = self.config.num_classes
        return torch.eye(C, device=x.device, dtype=x.dtype)[:, None, :].expand(C, len(x), C)   # (C, B, C): e_y for y = 0..C-1

    def unlabelled_terms(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        r"""The negative unlabelled bound U(x), with the sum over the C labels enumerated.

        .. math::
            \mathcal U(x) = \sum_y q_\phi(y \mid x)\,\mathcal L(x, y) - H\big(q_\phi(y \mid x)\big)

        Args:
            x: (B, *input_shape).
            generator: for reproducible draws of z (one per label and example).

        Returns:
            ``loss`` (B,) U(x) in nats; ``entropy`` (B,) H(q(y|x)); ``labelled`` (B, C) L(x, y) for
            every y; ``probs`` (B, C) q(y|x).

        Raises:
            TypeError, ValueError: x refused by `flatten`.
        """
        x = self.flatten(x)
        L = self._bound_terms(x, self._all_labels(x), generator)["loss"].T    # (B, C)
        log_q = torch.log_softmax(self.classifier(x), dim=1)                  # (B, C)
        q = log_q.exp()
        entropy = -(q * log_q).sum(1)
        return {"loss": (q * L).sum(1) - entropy, "entropy": entropy, "labelled": L, "probs": q}

    def sampled_unlabelled_loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        r"""U(x) estimated with ONE label y ~ q(y|x) instead of the sum: an unbiased but noisier estimate.

        .. math::
            \mathcal U(x) = \mathbb E_{y \sim q}\big[f(y)\big], \quad f(y) = \mathcal L(x, y) + \log q_\phi(y \mid x);
            \qquad \nabla \mathcal U = \mathbb E_{y \sim q}\big[\nabla f(y) + f(y)\,\nabla \log q_\phi(y \mid x)\big]

        y is discrete, so the classifier's gradient comes from the score-function (REINFORCE)
        term. ``surrogate`` has that gradient and the value of ``loss``; minimise it, report ``loss``.

        Args:
            x: (B, *input_shape). generator: a CPU torch.Generator for reproducible y and z.

        Returns:
            ``loss`` (B,) the one-sample estimate f(y) in nats; ``surrogate`` (B,); ``y`` (B,) the drawn labels.

        Raises:
            TypeError, ValueError: x refused by `flatten`.
        """
        x = self.flatten(x)
        log_q = torch.log_softmax(self.classifier(x), dim=1)                  # (B, C)
        y = torch.multinomial(log_q.detach().exp().cpu(), 1, generator=generator).squeeze(1).to(x.device)
        log_q_y = log_q.gather(1, y[:, None]).squeeze(1)
        f = self._bound_terms(x, F.one_hot(y, self.config.num_classes).to(x.dtype), generator)["loss"] + log_q_y
        surrogate = f + f.detach() * log_q_y - (f.detach() * log_q_y).detach()   # value f, gradient as above
        return {"loss": f, "surrogate": surrogate, "y": y}

    def classification_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The classifier's loss -log q_phi(y | x) on labelled examples.

        Args:
            x: (B, *input_shape). y: (B,) integer labels in 0..C-1.

        Returns:
            (B,) in nats, on x's device.

        Raises:
            TypeError, ValueError: x or y refused by `flatten` or `check_labels`.
        """
        y = check_labels(y, self.config.num_classes, len(x)).to(x.device)
        return categorical_nll(y, self.classifier_logits(x))

    def semi_supervised_loss(self, x_labelled, y_labelled, x_unlabelled, generator=None) -> dict[str, torch.Tensor]:
        r"""M2's objective on one labelled and one unlabelled batch, as per-example means.

        .. math::
            \text{loss} = \overline{\mathcal L(x, y)}^{\,\text{labelled}} + \overline{\mathcal U(x)}^{\,\text{unlabelled}}
            + \alpha\,\overline{-\log q_\phi(y \mid x)}^{\,\text{labelled}}

        Kingma et al. (2014, eq. 9) sum L and U over the data sets and add alpha times the mean
        classification loss; here each term is a mean over its batch, and alpha (``config.alpha``)
        is stated per example (the chapter uses alpha = 0.1 N / N_labelled).

        Args:
            x_labelled: (B_l, *input_shape); y_labelled: (B_l,) their labels; x_unlabelled: (B_u, *input_shape).
            generator: for reproducible draws of z.

        Returns:
            ``{"labelled", "unlabelled", "classification", "loss"}``, scalars in nats.

        Raises:
            TypeError, ValueError: an input refused by `flatten` or `check_labels`.
        """
        labelled = self.negative_elbo(x_labelled, y_labelled, generator)["loss"].mean()
        unlabelled = self.unlabelled_terms(x_unlabelled, generator)["loss"].mean()
        classification = self.classification_loss(x_labelled, y_labelled).mean()
        loss = labelled + unlabelled + self.config.alpha * classification
        return {"labelled": labelled, "unlabelled": unlabelled, "classification": classification, "loss": loss}

    def loss(self, batch, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """`semi_supervised_loss` on one batch, for `train.fit`.

        Args:
            batch: a triple (x_labelled, y_labelled, x_unlabelled), as `semi_supervised.SemiSupervisedBatches` yields.
            generator: for reproducible draws of z.

        Returns:
            As `semi_supervised_loss`.

        Raises:
            TypeError: batch is not such a triple. TypeError, ValueError: as `semi_supervised_loss`.
        """
        if not isinstance(batch, (tuple, list)) or len(batch) != 3:
            raise TypeError(f"batch must be a triple (x_labelled, y_labelled, x_unlabelled), got "
                            f"{type(batch).__name__}{f' of length {len(batch)}' if isinstance(batch, (tuple, list)) else ''}")
        return self.semi_supervised_loss(*batch, generator=generator)



# --------------------------------------------------------------------------------------------
# The CVAE chapter's main model, shared with later chapters
# --------------------------------------------------------------------------------------------

MAIN_MODEL_NAME = "ch06_cvae_z2"


def main_model_recipe(scale: str | None = None) -> dict:
    """The recipe of the CVAE chapter's main model at a scale: the d = 2 CVAE of the lecture's figures.

    One hidden layer of 500 units, d = 2, batches of 100 dynamically binarised digits; ci 300, book
    3,000, full 30,000 steps (the lecture's "longer training").

    Args:
        scale: ``"ci"``, ``"book"`` or ``"full"``; None for the current one (`runtime.scale`).

    Returns:
        ``{"config": CVAEConfig, "steps": int, "batch_size": int}``: the keyword arguments of
        `semi_supervised.load_or_train_cvae` besides the name, the images and the labels.

    Raises:
        ValueError: an unknown scale (or an EDU_GEN_SCALE that names none).
    """
    from edu_gen import runtime

    steps = runtime.at_scale({"ci": 300, "book": 3_000, "full": 30_000}, scale)
    return {"config": CVAEConfig(latent_dim=2, hidden_dim=500), "steps": steps, "batch_size": 100}


def main_model(images: torch.Tensor, labels: torch.Tensor):
    """The CVAE chapter's d = 2 CVAE (`main_model_recipe` at the current scale), trained on `images` or loaded.

    Args:
        images: the chapter's training digits, ``data.images("mnist", "train", n=N_TRAIN)``,
            (N, 1, 28, 28) in [0, 1]. labels: their classes, (N,) integers in 0..9.

    Returns:
        (the CVAE on the CPU in eval mode, History).

    Raises:
        TypeError, ValueError: as `semi_supervised.load_or_train_cvae` (labels not one integer in 0..9 per
            image, too few images), or a bad EDU_GEN_SCALE.
    """
    from edu_gen.semi_supervised import load_or_train_cvae   # the training recipes import this module

    return load_or_train_cvae(MAIN_MODEL_NAME, images=images, labels=labels, **main_model_recipe())
