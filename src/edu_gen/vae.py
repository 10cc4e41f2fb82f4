"""The variational autoencoder, part 1: the reparameterised sample and the Monte Carlo ELBO.

The chapter on the evidence lower bound derives the ELBO of a latent-variable model with a
diagonal Gaussian encoder q_phi(z|x) = N(mu, diag sigma^2) (sigma^2 = exp(log_var)) and the prior
p(z) = N(0, I_d), d the latent size:

    log p(x) >= ELBO(x) = E_q[log p_theta(x|z)] - KL(q_phi(z|x) || p(z)).

This module holds the two pieces of that derivation a VAE needs: drawing z from q so that
gradients reach mu and log_var (`reparameterize`), and the ELBO estimated with S such draws
(`elbo_terms`, `elbo`). Symbols follow the book's notation page.

The VAE chapter builds the model on them, in this order: `VAEConfig`, the MLP and convolutional
encoders and decoders, `VAE` (forward, loss, sample), `iwae_log_likelihood`, the
importance-weighted bound ELBO_K used to estimate the test negative log-likelihood as the papers
do, the training recipe `train_vae` (dynamic binarisation), and `DeterministicAE`, the same
networks without noise or KL, for comparison.

Introduced in the chapter "The evidence lower bound" (label ch-elbo); the model in "The
variational autoencoder" (ch-vae).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

import torch
from torch import nn

from edu_gen._checks import number, unit_interval
from edu_gen.likelihood import bernoulli_nll, gaussian_nll, kl_normal_std, log_mean_exp


def _check_gaussian_params(mu: torch.Tensor, log_var: torch.Tensor) -> None:
    for name, t in (("mu", mu), ("log_var", log_var)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
    if mu.shape != log_var.shape:
        raise ValueError(
            f"log_var must have mu's shape (B, latent_dim), one log-variance per mean; "
            f"got mu {tuple(mu.shape)} and log_var {tuple(log_var.shape)}"
        )
    if mu.dtype != log_var.dtype:
        raise TypeError(f"mu and log_var must share a dtype, got {mu.dtype} and {log_var.dtype}")
    if mu.dim() == 0:
        raise ValueError("expected mu of shape (B, latent_dim), got a scalar")


def reparameterize(
    mu: torch.Tensor, log_var: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""Draw z ~ N(mu, diag sigma^2) as a differentiable function of (mu, log_var).

    .. math::
        z = \mu + \sigma \odot \varepsilon, \qquad \sigma = \exp(\tfrac12 \log\sigma^2),
        \qquad \varepsilon \sim \mathcal N(0, I_d)

    The noise epsilon is the only random node, so gradients flow to mu and log_var
    (Kingma and Welling, 2014, section 2.4). Note the standard deviation sigma, not the
    variance: one lecture slide writes mu + sigma^2 * eps, whose variance is sigma^4 (the ELBO
    chapter measures it).

    Args:
        mu: means, (B, d) (any shape (..., d) works, e.g. (K, B, d)).
        log_var: log-variances log sigma^2, same shape and dtype as mu.
        generator: optional torch.Generator for reproducible noise. The noise is drawn on the
            generator's device and moved to mu's, so a CPU generator gives the same z on CPU
            and CUDA.

    Returns:
        z, shaped like mu.

    Raises:
        TypeError, ValueError: mu or log_var is not a floating tensor, or their shapes differ.
    """
    _check_gaussian_params(mu, log_var)
    noise_device = generator.device if generator is not None else mu.device
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=noise_device).to(mu.device)
    return mu + torch.exp(0.5 * log_var) * eps


def elbo_terms(
    x: torch.Tensor,
    mu: torch.Tensor,
    log_var: torch.Tensor,
    log_likelihood: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    num_samples: int = 1,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    r"""The two terms of the ELBO, one value per example: the sampled log-likelihood and the exact KL.

    .. math::
        \text{log\_px} = \frac1S \sum_{s=1}^S \log p_\theta(x \mid z^{(s)}), \quad
        z^{(s)} = \mu + \sigma \odot \varepsilon^{(s)}; \qquad
        \text{kl} = \mathrm{KL}\big(\mathcal N(\mu, \operatorname{diag}\sigma^2) \,\|\, \mathcal N(0, I_d)\big)

    The reconstruction term is a Monte Carlo estimate with S = num_samples reparameterised draws
    (`reparameterize`; Kingma and Welling, 2014, eq. 7, where S is written L); the KL term is
    exact (`likelihood.kl_normal_std`, their appendix B). ``elbo`` is ``log_px - kl``.

    Args:
        x: data, (B, ...).
        mu, log_var: the encoder's output for x, (B, d) each.
        log_likelihood: ``log_likelihood(x, z) -> (B,)``, log p_theta(x|z) in nats (for example
            ``lambda x, z: -likelihood.bernoulli_nll(x, decoder(z))``).
        num_samples: S >= 1, the number of draws of z per example.
        generator: optional torch.Generator for reproducible noise.

    Returns:
        ``{"log_px": (B,), "kl": (B,)}`` in nats.

    Raises:
        TypeError: num_samples is not an integer (bool included).
        ValueError: x's batch size differs from mu's, S < 1, or `log_likelihood` does not
            return one value per example.
    """
    _check_gaussian_params(mu, log_var)
    if not isinstance(x, torch.Tensor) or x.dim() == 0 or x.shape[0] != mu.shape[0]:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a tensor (B, ...) with mu's batch size B = {mu.shape[0]}, got {shape}")
    num_samples = number(num_samples, "num_samples", "a positive int (S, the draws of z per example)", integer=True, minimum=1)
    total = 0.0
    for _ in range(num_samples):
        log_px = log_likelihood(x, reparameterize(mu, log_var, generator))
        if not isinstance(log_px, torch.Tensor) or log_px.shape != (x.shape[0],):
            got = tuple(log_px.shape) if isinstance(log_px, torch.Tensor) else type(log_px).__name__
            raise ValueError(f"log_likelihood must return one value per example, shape ({x.shape[0]},), got {got}")
        total = total + log_px
    return {"log_px": total / num_samples, "kl": kl_normal_std(mu, log_var)}


def elbo(
    x: torch.Tensor,
    mu: torch.Tensor,
    log_var: torch.Tensor,
    log_likelihood: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    num_samples: int = 1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Monte Carlo estimate of the evidence lower bound, one value per example.

    .. math::
        \mathrm{ELBO}(x) \approx \frac1S \sum_{s=1}^S \log p_\theta(x \mid z^{(s)})
        - \mathrm{KL}\big(\mathcal N(\mu, \operatorname{diag}\sigma^2) \,\|\, \mathcal N(0, I_d)\big),
        \qquad z^{(s)} = \mu + \sigma \odot \varepsilon^{(s)}

    The reconstruction term is sampled (S = num_samples, usually 1); the KL term is exact. The
    VAE loss is ``-elbo(...).mean()``.

    Args:
        x, mu, log_var, log_likelihood, num_samples, generator: as in `elbo_terms`.

    Returns:
        (B,) ELBO estimates in nats (on average a lower bound on log p(x)), on mu's device.

    Raises:
        TypeError, ValueError: as `elbo_terms`.
    """
    terms = elbo_terms(x, mu, log_var, log_likelihood, num_samples, generator)
    return terms["log_px"] - terms["kl"]


# --------------------------------------------------------------------------------------------
# The VAE chapter: the model. Parts (encoders, decoders) -> model -> loss -> sampling -> evaluation.
# --------------------------------------------------------------------------------------------

ARCHITECTURES = ("mlp", "conv")
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}
INITS = ("default", "kaiming")          # VAEConfig.init: PyTorch's, or He et al. (2015) for the hidden layers
DECODER_BIASES = ("default", "data")    # VAEConfig.decoder_bias: PyTorch's, or the logit of the data's pixel means


@dataclass(frozen=True)
class VAEConfig:
    """Everything that fixes a VAE's architecture and loss; saved in its checkpoints.

    Attributes:
        latent_dim: d, the size of z. 2 gives a latent space one can draw; 20 reconstructs better.
        hidden_dim: width of the MLP's hidden layers (ignored by the conv architecture).
        architecture: ``"mlp"`` (two hidden layers) or ``"conv"`` (two strided convolutions).
        beta: weight of the KL term (1 is the VAE; > 1 the beta-VAE of Higgins et al., 2017).
        activation: the MLP's hidden nonlinearity, ``"relu"`` (the book's chapters) or ``"tanh"``
            (Burda et al., 2016, section 5: two layers of 200 tanh units, d = 50).
        init: the initial weights of the MLP's hidden layers (those followed by the nonlinearity):
            ``"default"`` (PyTorch's, uniform with variance 1 / (3 fan_in)) or ``"kaiming"`` (He et
            al., 2015, eq. 10: normal with variance 2 / fan_in for ReLU; for tanh the same rule with
            PyTorch's gain, variance (5/3)^2 / fan_in, `torch.nn.init.calculate_gain`; biases zero).
            The output layers keep PyTorch's. MLP only.
        decoder_bias: the decoder's output bias: ``"default"`` (PyTorch's) or ``"data"``: `train_vae`
            sets it to the logit of the training images' mean per pixel (`init_decoder_bias`), so the
            untrained decoder already predicts each pixel's marginal. MLP only (the conv decoder has
            one bias for all pixels).
        kl_warmup: steps over which `train_vae` raises the KL term's weight linearly from 0 to 1
            (w_t = min(1, t / kl_warmup) at step t = 0, 1, ...; Bowman et al., 2016, section 3.1);
            0: weight 1 from the start. The loss minimised meanwhile is recon + w_t beta KL, a bound only
            once w_t = 1; the history's "recon" and "kl" are the unweighted terms.
        weight_average: a decay a in [0, 1): `train_vae` keeps the exponential moving average of the
            weights, avg_1 = theta_1, avg_t = a_t avg_(t-1) + (1 - a_t) theta_t after step t = 2, 3, ...
            with the warm-started decay a_t = min(a, t / (t + 9)) (`train.moving_average`; the iterate
            averaging of Polyak and Juditsky, 1992, in its exponential form), and leaves it in the model at
            the end; None: the last weights.

    Numbers may be given as any numeric kind (Python, NumPy scalar, 0-d tensor) and are stored as
    Python ints (the sizes) and floats (beta), so that equal configs compare and save equal.

    Raises:
        TypeError: a size that is not an integer, or a beta that is not a real number (a bool
            is neither).
        ValueError: a size < 1, beta < 0, inf or NaN, an unknown architecture, activation, init or
            decoder_bias, or init "kaiming" / decoder_bias "data" with the conv architecture; kl_warmup < 0;
            weight_average outside [0, 1).
    """

    latent_dim: int = 20
    hidden_dim: int = 400
    architecture: str = "mlp"
    beta: float = 1.0
    activation: str = "relu"
    init: str = "default"
    decoder_bias: str = "default"
    kl_warmup: int = 0
    weight_average: float | None = None

    def __post_init__(self):
        # numbers of any numeric kind (NumPy scalars, 0-d tensors) stored as plain Python numbers
        fields = {"latent_dim": number(self.latent_dim, "latent_dim", "an int >= 1 (the size of z)", integer=True, minimum=1),
                  "hidden_dim": number(self.hidden_dim, "hidden_dim", "an int >= 1 (the MLP's width)", integer=True, minimum=1),
                  "beta": number(self.beta, "beta", "a number >= 0 (the KL weight; finite)", minimum=0.0),
                  "kl_warmup": number(self.kl_warmup, "kl_warmup", "an int >= 0 (steps of the KL warm-up)",
                                      integer=True, minimum=0)}
        if self.weight_average is not None:
            fields["weight_average"] = number(self.weight_average, "weight_average",
                                              "None or a decay in [0, 1) (of the weights' moving average)",
                                              minimum=0.0, maximum=1.0)
            if fields["weight_average"] == 1.0:
                raise ValueError("weight_average must be None or a decay in [0, 1) (of the weights' moving average), "
                                 "got 1.0: the average would never move from the first step's weights")
        for name, value in fields.items():
            object.__setattr__(self, name, value)
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {self.activation!r}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}")
        if self.decoder_bias not in DECODER_BIASES:
            raise ValueError(f"decoder_bias must be one of {DECODER_BIASES}, got {self.decoder_bias!r}")
        if self.architecture != "mlp" and (self.init, self.decoder_bias) != ("default", "default"):
            raise ValueError(f"init {self.init!r} and decoder_bias {self.decoder_bias!r} are defined for the mlp "
                             f"architecture only; the {self.architecture!r} architecture takes 'default' for both")


def mlp_encoder(latent_dim: int, hidden_dim: int, activation: str = "relu") -> nn.Module:
    """The MLP encoder: (B, 1, 28, 28) -> (B, 2 * latent_dim), the means and log-variances side by side.

    Args:
        latent_dim: d. hidden_dim: the hidden layers' width. activation: a key of `ACTIVATIONS`.

    Raises:
        KeyError: an unknown activation (`VAEConfig` checks it first).
    """
    act = ACTIVATIONS[activation]
    return nn.Sequential(
        nn.Flatten(),                                   # (B, 784)
        nn.Linear(784, hidden_dim), act(),
        nn.Linear(hidden_dim, hidden_dim), act(),
        nn.Linear(hidden_dim, 2 * latent_dim),          # (B, 2 * latent_dim)
    )


def mlp_decoder(latent_dim: int, hidden_dim: int, activation: str = "relu") -> nn.Module:
    """The MLP decoder g_theta: (B, latent_dim) -> (B, 1, 28, 28) Bernoulli logits.

    Args:
        latent_dim: d. hidden_dim: the hidden layers' width. activation: a key of `ACTIVATIONS`.

    Raises:
        KeyError: an unknown activation (`VAEConfig` checks it first).
    """
    act = ACTIVATIONS[activation]
    return nn.Sequential(
        nn.Linear(latent_dim, hidden_dim), act(),
        nn.Linear(hidden_dim, hidden_dim), act(),
        nn.Linear(hidden_dim, 784),
        nn.Unflatten(1, (1, 28, 28)),                   # (B, 1, 28, 28)
    )


def conv_encoder(latent_dim: int) -> nn.Module:
    """The convolutional encoder: (B, 1, 28, 28) -> (B, 2 * latent_dim), two stride-2 convolutions.

    Args:
        latent_dim: d.

    Raises:
        Nothing of its own: torch refuses non-positive sizes.
    """
    return nn.Sequential(
        nn.Conv2d(1, 32, 4, stride=2, padding=1), nn.ReLU(),    # 28x28 => 14x14
        nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.ReLU(),   # 14x14 => 7x7
        nn.Flatten(),                                           # (B, 64 * 7 * 7)
        nn.Linear(64 * 7 * 7, 2 * latent_dim),
    )


def conv_decoder(latent_dim: int) -> nn.Module:
    """The convolutional decoder: (B, latent_dim) -> (B, 1, 28, 28) Bernoulli logits, mirroring `conv_encoder`.

    Args:
        latent_dim: d.

    Raises:
        Nothing of its own: torch refuses non-positive sizes.
    """
    return nn.Sequential(
        nn.Linear(latent_dim, 64 * 7 * 7), nn.ReLU(),
        nn.Unflatten(1, (64, 7, 7)),
        nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), nn.ReLU(),  # 7x7 => 14x14
        nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1),              # 14x14 => 28x28
    )


def check_images(x: torch.Tensor, who: str) -> None:
    """Refuse anything but a floating-point batch of images (B, 1, 28, 28); values are not read.

    Args:
        x: the images. who: the caller's name, for the message.

    Raises:
        TypeError: x is not a floating-point tensor.
        ValueError: x is not (B, 1, 28, 28).
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        got = f"dtype {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"{who} expects a floating-point tensor (B, 1, 28, 28), got {got}")
    if x.dim() != 4 or tuple(x.shape[1:]) != (1, 28, 28):
        raise ValueError(f"{who} expects images of shape (B, 1, 28, 28), got {tuple(x.shape)}")


def check_unit_interval(x: torch.Tensor, who: str) -> None:
    """A Bernoulli decoder models pixels in [0, 1]; refuse anything else with a clear message.

    Args:
        x: the images to check, (B, 1, 28, 28).
        who: the caller's name, for the message.

    Raises:
        TypeError: x is not a floating-point tensor.
        ValueError: x is not (B, 1, 28, 28), or holds a value outside [0, 1] or a NaN.
    """
    check_images(x, who)
    unit_interval(x, f"{who}: a Bernoulli decoder needs pixel values")    # NaN refused too


class VAE(nn.Module):
    r"""The variational autoencoder of Kingma and Welling (2014) with a Bernoulli decoder.

    .. math::
        q_\phi(z \mid x) = \mathcal N(\mu_\phi(x), \operatorname{diag}\sigma^2_\phi(x)), \quad
        p(z) = \mathcal N(0, I_d), \quad
        p_\theta(x \mid z) = \prod_{j=1}^{D} \mathrm{Bernoulli}\big(x_j; \operatorname{sigm}(g_\theta(z)_j)\big)

    The loss is the negative ELBO (`elbo_terms`, one draw of z), with the KL weighted by
    ``config.beta``: :math:`\mathrm{recon} + \beta\,\mathrm{KL}`, recon =
    :math:`-\log p_\theta(x \mid z)`. It is a negative log-likelihood (in nats) only for binary
    x; on grey levels it is a cross-entropy.

    Args:
        config: a `VAEConfig` (architecture, d, beta).

    Raises:
        TypeError: config is not a `VAEConfig`.

    Introduced in the chapter "The variational autoencoder" (label ch-vae).
    """

    def __init__(self, config: VAEConfig = VAEConfig()):
        super().__init__()
        if not isinstance(config, VAEConfig):
            raise TypeError(f"config must be a VAEConfig, got {type(config).__name__}")
        self.config = config
        d, h = config.latent_dim, config.hidden_dim
        if config.architecture == "mlp":
            self.encoder = mlp_encoder(d, h, config.activation)
            self.decoder = mlp_decoder(d, h, config.activation)
            if config.init == "kaiming":   # drawn after both are built: the encoder's hidden layers, then the decoder's
                for part in (self.encoder, self.decoder):
                    for layer in [m for m in part if isinstance(m, nn.Linear)][:-1]:   # not the output layer
                        nn.init.kaiming_normal_(layer.weight, nonlinearity=config.activation)
                        nn.init.zeros_(layer.bias)
        else:
            self.encoder, self.decoder = conv_encoder(d), conv_decoder(d)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The encoder q_phi(z|x): x (B, 1, 28, 28) -> mu (B, latent_dim), log_var (B, latent_dim).

        Args:
            x: images, (B, 1, 28, 28), on the model's device (any values: encoding checks none).

        Raises:
            TypeError, ValueError: x is not a floating-point (B, 1, 28, 28) tensor.
        """
        check_images(x, f"{type(self).__name__}.encode")
        mu, log_var = self.encoder(x).chunk(2, dim=1)
        return mu, log_var

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder g_theta: z (B, latent_dim) -> Bernoulli logits (B, 1, 28, 28), on the model's device.

        Args:
            z: codes, (B, latent_dim).

        Raises:
            ValueError: z is not (B, latent_dim).
        """
        if z.dim() != 2 or z.shape[1] != self.config.latent_dim:
            raise ValueError(f"decode expects z of shape (B, {self.config.latent_dim}), got {tuple(z.shape)}")
        return self.decoder(z)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        """x (B, 1, 28, 28) -> (logits (B, 1, 28, 28), mu, log_var), one reparameterised z per example.

        Args:
            x: images, (B, 1, 28, 28). generator: for reproducible noise (see `reparameterize`).

        Raises:
            TypeError, ValueError: as `encode`.
        """
        mu, log_var = self.encode(x)
        z = reparameterize(mu, log_var, generator)
        return self.decode(z), mu, log_var

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p_theta(x|z) in nats, (B,): the Bernoulli decoder's log-probability of x given z.

        Args:
            x: images (B, 1, 28, 28) in [0, 1] (a log-likelihood for binary x only).
            z: codes (B, latent_dim).

        Raises:
            ValueError: z not (B, latent_dim), x not of the decoder's output shape, or x outside [0, 1].
        """
        return -bernoulli_nll(x, self.decode(z))

    def negative_elbo(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Per-example terms (B,): recon = -log p(x|z) for one draw z ~ q(z|x), kl, and loss = recon + beta * kl.

        The ELBO itself is `elbo_terms` with this model's `log_likelihood` (S = 1).

        Args:
            x: images (B, 1, 28, 28) in [0, 1]. generator: for reproducible noise.

        Returns:
            ``{"recon", "kl", "loss"}``, each (B,) in nats, on the model's device.

        Raises:
            TypeError, ValueError: as `check_unit_interval` (NaN refused).
        """
        check_unit_interval(x, "VAE.loss")
        mu, log_var = self.encode(x)
        terms = elbo_terms(x, mu, log_var, self.log_likelihood, num_samples=1, generator=generator)
        recon, kl = -terms["log_px"], terms["kl"]
        return {"recon": recon, "kl": kl, "loss": recon + self.config.beta * kl}

    def loss(self, batch, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Mean over the batch of `negative_elbo`'s terms: ``{"recon", "kl", "loss"}``, scalars.

        Args:
            batch: x (B, 1, 28, 28) in [0, 1], or a tuple (x, ...) from a loader.
            generator: for reproducible noise.

        Raises:
            TypeError, ValueError: as `negative_elbo`.
        """
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return {name: value.mean() for name, value in self.negative_elbo(x, generator).items()}

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, mean: bool = True) -> torch.Tensor:
        """Draw z ~ N(0, I_d) n times and decode: (n, 1, 28, 28).

        With ``mean=True`` (the default, kept for compatibility) this returns the decoder's means
        sigm(g_theta(z)), pixel probabilities: they are NOT samples of x. With ``mean=False`` it
        returns samples x ~ p_theta(x|z), binary pixels. Figures must say which they show.

        Args:
            n: the number of images, an int >= 1 (any integer kind).
            generator: a CPU generator for reproducible z (and pixels).
            mean: decoder means (True) or binary samples (False).

        Returns:
            (n, 1, 28, 28) on the model's device.

        Raises:
            TypeError: n is not an integer (bool included).
            ValueError: n < 1.
        """
        n = number(n, "n", "a positive int (the number of images)", integer=True, minimum=1)
        device = next(self.parameters()).device
        z = torch.randn(n, self.config.latent_dim, generator=generator).to(device)
        probs = torch.sigmoid(self.decode(z))
        if mean:
            return probs
        if generator is None:                           # the device's own generator, on the device
            return torch.bernoulli(probs)
        return torch.bernoulli(probs.cpu(), generator=generator).to(device)  # a CPU generator draws on the CPU


def log_normal(z: torch.Tensor, mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag exp(log_var)) summed over the last dimension; any leading shape, e.g. (k, B, D) -> (k, B).

    mu and log_var broadcast to z's shape. The density itself is `likelihood.gaussian_nll`'s.

    Args:
        z: points, (..., D). mu, log_var: mean and log-variance, broadcasting to z's shape.

    Returns:
        (...) log-densities in nats, z's leading shape, on z's device.

    Raises:
        TypeError: an argument is not a floating-point tensor.
        RuntimeError: mu or log_var does not broadcast to z (torch's expand).
    """
    def rows(t: torch.Tensor) -> torch.Tensor:
        return t.expand_as(z).reshape(-1, z.shape[-1])  # (everything before the last dim, D)

    return -gaussian_nll(rows(z), rows(mu), rows(log_var)).reshape(z.shape[:-1])


@torch.no_grad()
def iwae_log_likelihood(
    model: VAE, x: torch.Tensor, k: int, generator: torch.Generator | None = None, chunk: int = 250
) -> torch.Tensor:
    r"""The importance-weighted bound ELBO_K of Burda et al. (2016), one value per example.

    .. math::
        \log p(x) \ge \mathrm{ELBO}_K(x) = \mathbb E\Big[\log \frac1K \sum_{i=1}^K
        \frac{p_\theta(x \mid z_i)\,p(z_i)}{q_\phi(z_i \mid x)}\Big], \qquad z_i \sim q_\phi(z \mid x)

    (Burda et al., 2016, eq. 8, where K is written k). ELBO_1 is the ELBO, and on average
    ELBO_K <= ELBO_K' for K < K' (their Theorem 1); the bound tends to log p(x) as K grows. One
    call returns one draw of the estimate: a lower bound on log p(x) only on average. Computed
    with log-sum-exp, the K draws evaluated ``chunk`` at a time. Each z_i is drawn by
    `reparameterize` from its own (B, d) block of noise, in order, so the result does not depend
    on ``chunk`` (up to float rounding).

    Args:
        model: a VAE (its `encode`, `log_likelihood`).
        x: binary images (B, 1, 28, 28); [0, 1] is accepted, but only for binary x is the
            result a log-likelihood.
        k: K, the number of importance samples, >= 1 (the paper's letter kept as the argument name).
        generator: for reproducible draws.
        chunk: importance samples decoded at once (memory: B * chunk * 784 floats).

    Returns:
        (B,) estimates of log p(x) in nats.

    Raises:
        TypeError: model is not a VAE with a Gaussian encoder (a `DeterministicAE`, an
            `autoencoders.Autoencoder`, ...), or x is not a floating-point tensor.
        TypeError: k or chunk is not an integer (bool included).
        ValueError: k or chunk is < 1, or x is not (B, 1, 28, 28) with values in
            [0, 1] (NaN refused).
    """
    if isinstance(model, DeterministicAE) or not isinstance(model, nn.Module) \
            or not all(callable(getattr(model, name, None)) for name in ("encode", "log_likelihood")):
        raise TypeError(f"model must be a VAE (an encoder q(z|x) = N(mu, diag sigma^2) with encode(x) -> (mu, log_var), "
                        f"and log_likelihood(x, z)); got {type(model).__name__}, which "
                        + ("has no variance head: its q(z|x) is a point mass, and the importance weights are undefined"
                           if isinstance(model, DeterministicAE) else "lacks them"))
    k = number(k, "k (the number of importance samples)", "an int >= 1", integer=True, minimum=1)
    chunk = number(chunk, "chunk (importance samples decoded at once)", "an int >= 1", integer=True, minimum=1)
    check_unit_interval(x, "iwae_log_likelihood")
    device = next(model.parameters()).device
    x = x.to(device)
    encoded = model.encode(x)
    if not (isinstance(encoded, tuple) and len(encoded) == 2 and all(isinstance(t, torch.Tensor) for t in encoded)
            and encoded[0].dim() == 2 and encoded[0].shape == encoded[1].shape):
        raise TypeError(f"model must be a VAE whose encode(x) returns (mu, log_var), two (B, d) tensors; "
                        f"{type(model).__name__}.encode returned {type(encoded).__name__}")
    mu, log_var = encoded                                                # (B, d) each
    B, d = mu.shape
    zeros = torch.zeros_like(mu)
    log_w = []
    for start in range(0, k, chunk):
        m = min(chunk, k - start)
        z = torch.stack([reparameterize(mu, log_var, generator) for _ in range(m)])   # (m, B, d)
        log_px_z = model.log_likelihood(x.repeat(m, 1, 1, 1), z.reshape(m * B, d)).reshape(m, B)
        log_pz = log_normal(z, zeros, zeros)                              # (m, B) log N(z; 0, I)
        log_qz = log_normal(z, mu, log_var)                               # (m, B) log q(z|x)
        log_w.append(log_px_z + log_pz - log_qz)
    log_w = torch.cat(log_w, dim=0)                                       # (K, B)
    return log_mean_exp(log_w, dim=0)                                     # log (1/K) sum_i w_i


def binarized_loss(model: VAE, batch) -> dict[str, torch.Tensor]:
    """`model.loss` on a fresh stochastic binarisation of the grey-level batch (dynamic binarisation).

    Each step sees new binary pixels x_j ~ Bernoulli(grey level_j), as in Burda et al. (2016); this
    regularises and matches the binarised MNIST on which test negative log-likelihoods are reported.

    Args:
        model: a `VAE` (or anything with ``loss(x)``).
        batch: grey levels x (B, 1, 28, 28) in [0, 1], or a tuple (x, ...) from a loader.

    Raises:
        TypeError, ValueError: x is not (B, 1, 28, 28) in [0, 1] (NaN refused).
    """
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    check_unit_interval(x, "binarized_loss")  # torch.bernoulli needs probabilities; NaN refused
    return model.loss(torch.bernoulli(x))


def init_decoder_bias(model: VAE, images: torch.Tensor) -> None:
    """Set the MLP decoder's output bias b to logit(mean of `images` per pixel), clipped to [1e-4, 1 - 1e-4].

    With the last layer's weights small at the start, sigm(g_theta(z)) ~ sigm(b): the untrained decoder
    predicts each pixel's marginal probability, the best prediction that ignores z, instead of 1/2
    everywhere. Training then spends its first steps on the digits' shapes rather than on the background
    (the fix for a slow start that the book's VAE recipe measured against pytorch/examples').
    The clip keeps the logit finite for pixels that are 0 in every image (MNIST's corners).

    Args:
        model: an MLP `VAE` (or `DeterministicAE`). images: the training digits (N, 1, 28, 28) in [0, 1].

    Raises:
        ValueError: model not of the mlp architecture; images not (N, 1, 28, 28) in [0, 1], or N = 0.
    """
    if model.config.architecture != "mlp":
        raise ValueError(f"init_decoder_bias needs the mlp architecture, got {model.config.architecture!r}")
    check_unit_interval(images, "init_decoder_bias")
    if len(images) == 0:
        raise ValueError("init_decoder_bias needs at least one image, got an empty batch")
    output = [m for m in model.decoder if isinstance(m, nn.Linear)][-1]
    mean = images.mean(0).flatten().clamp(1e-4, 1 - 1e-4)                   # (784,), each pixel's marginal
    with torch.no_grad():
        output.bias.copy_(torch.logit(mean).to(output.bias))


def train_vae(model: VAE, images: torch.Tensor, *, steps: int, batch_size: int = 100, lr: float = 1e-3,
              seed: int = 0, binarize: bool = True, progress: bool | None = None):
    """Train with Adam for `steps` steps on `images` (N, 1, 28, 28) in [0, 1]; returns the History.

    The chapter's recipe, shared by the notebook and `benchmarks/vae_mnist.py --scale book`. A model
    whose config says ``decoder_bias="data"`` first gets its output bias from `images`
    (`init_decoder_bias`), at every call: training such a model further with `train_vae` resets that
    bias first (fine-tune it with `train.fit` instead). A config with ``kl_warmup`` > 0 trains on
    `KLWarmup` of the loss, and one with a ``weight_average`` leaves the moving average of the weights in the
    model (`train.fit`'s ``average``). With `binarize`, each batch is binarised afresh (`binarized_loss`) and the loss is a negative ELBO
    of binary data (nats); otherwise the grey levels are the targets and the recon term is a
    cross-entropy, not a log-likelihood.

    Args:
        model: a `VAE`. images: (N, 1, 28, 28) in [0, 1]. steps: optimiser steps, >= 1.
        batch_size, lr, seed: Adam's batch and learning rate, and the seed of the shuffling.
        binarize: binarise each batch afresh. progress: a progress bar (None: `train.fit`'s default).

    Raises:
        TypeError, ValueError: images not (N, 1, 28, 28) in [0, 1], fewer images than `batch_size`;
            `train.fit` refuses bad steps.
    """
    from edu_gen import data, train  # a light import here keeps vae.py free of data at import

    check_unit_interval(images, "train_vae")
    if len(images) < batch_size:   # drop_last: fewer images than one batch would make no batch at all
        raise ValueError(f"train_vae needs at least batch_size = {batch_size} images, got {len(images)}")
    if model.config.decoder_bias == "data":
        init_decoder_bias(model, images)
    torch.manual_seed(seed)
    loader = data.loader(images, batch_size=batch_size, shuffle=True, seed=seed, drop_last=True)
    epochs = math.ceil(steps / len(loader))
    loss_fn = binarized_loss if binarize else (lambda m, b: m.loss(b))
    if model.config.kl_warmup:
        loss_fn = KLWarmup(loss_fn, model.config.kl_warmup)
    return train.fit(model, loss_fn, loader, epochs=epochs, max_steps=steps, lr=lr, progress=progress,
                     average=model.config.weight_average)


class KLWarmup:
    """A VAE loss with the KL term's weight raised linearly from 0 to 1 over its first `steps` calls.

    At the t-th call (t = 0, 1, ...) it returns the wrapped loss's terms with
    ``loss = recon + w_t * beta * kl``, w_t = min(1, t / steps) (Bowman et al., 2016, section 3.1):
    early steps fit the reconstruction before the KL term pulls q(z|x) towards the prior. The loss is
    a negative ELBO only once w_t = 1; "recon" and "kl" are returned unweighted.

    Args:
        loss_fn: ``loss_fn(model, batch)`` -> ``{"recon", "kl", "loss"}`` (e.g. `binarized_loss`).
        steps: the length of the warm-up, an int >= 1.

    Raises:
        TypeError, ValueError: steps not an int >= 1.
    """

    def __init__(self, loss_fn, steps: int):
        self.loss_fn = loss_fn
        self.steps = number(steps, "steps", "an int >= 1 (the length of the KL warm-up)", integer=True, minimum=1)
        self.calls = 0

    def weight(self) -> float:
        """The KL term's weight at the next call.

        Returns:
            w_t = min(1, t / steps), a float in [0, 1], with t the number of calls so far.
        """
        return min(1.0, self.calls / self.steps)

    def __call__(self, model, batch) -> dict[str, torch.Tensor]:
        terms = self.loss_fn(model, batch)
        w = self.weight()
        self.calls += 1
        return {**terms, "loss": terms["recon"] + w * model.config.beta * terms["kl"]}


class DeterministicAE(VAE):
    """The same encoder and decoder as `VAE` with z = mu and no KL: a plain autoencoder.

    The VAE chapter trains it beside a VAE with the same seed and number of steps, so that the two
    differ only by the noise and the KL term. Its encoder has no variance head (its last layer
    outputs the d code coordinates only), so `encode` returns ``(mu, None)`` and `forward`
    ``(logits, mu, None)``: the VAE's interface, without a variance it never uses.
    ``negative_elbo`` returns recon, kl = 0 and loss = recon; it is not an ELBO, and recon is not
    a log-likelihood of anything the model can sample. `iwae_log_likelihood` refuses it.

    Args:
        config: a `VAEConfig` (beta is ignored: there is no KL term).

    Raises:
        TypeError: config is not a `VAEConfig`.
    """

    def __init__(self, config: VAEConfig = VAEConfig()):
        # Built as a VAE and then cut down to the mean head, so that from one seed the AE starts from
        # exactly the VAE's initial weights (the chapter compares the two from the same start).
        super().__init__(config)
        full = self.encoder[-1]                                            # Linear(..., 2 d): means, log-variances
        d = config.latent_dim
        mean_head = nn.utils.skip_init(nn.Linear, full.in_features, d)     # no draw: the global RNG is left as is
        with torch.no_grad():
            mean_head.weight.copy_(full.weight[:d])
            mean_head.bias.copy_(full.bias[:d])
        self.encoder[-1] = mean_head

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        """x (B, 1, 28, 28) -> (mu (B, latent_dim), None): the code, and no log-variance.

        Args:
            x: images, (B, 1, 28, 28).

        Raises:
            TypeError, ValueError: x is not a floating-point (B, 1, 28, 28) tensor.
        """
        check_images(x, f"{type(self).__name__}.encode")
        return self.encoder(x), None

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        """x (B, 1, 28, 28) -> (logits (B, 1, 28, 28), mu (B, latent_dim), None).

        Args:
            x: images, (B, 1, 28, 28). generator: unused (no noise), kept for `VAE`'s interface.

        Raises:
            TypeError, ValueError: as `encode`.
        """
        mu, _ = self.encode(x)
        return self.decode(mu), mu, None

    def negative_elbo(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Per-example terms (B,): recon (the cross-entropy of x and the decoded code), kl = 0, loss = recon.

        Args:
            x: images (B, 1, 28, 28) in [0, 1]. generator: unused.

        Raises:
            TypeError, ValueError: as `check_unit_interval` (NaN refused).
        """
        check_unit_interval(x, "DeterministicAE.loss")
        logits, mu, _ = self(x)
        recon = bernoulli_nll(x, logits)
        return {"recon": recon, "kl": torch.zeros_like(recon), "loss": recon}


# --------------------------------------------------------------------------------------------
# The VAE chapter's trained models, shared with later chapters
# --------------------------------------------------------------------------------------------

MAIN_MODEL_NAME = "ch05_vae_z20"                 # the VAE chapter's main model (M1 of chapter 6 has its own recipe)
# He initialisation and the decoder's bias at the pixels' marginals (where training starts), a KL warm-up over the
# first 200 steps and a moving average of the weights (decay 0.99, warm-started): at equal CPU time these put the
# book's recipe ahead of pytorch/examples' VAE by more than 2 nats at every budget (benchmarks/vae_vs_examples.py,
# whose log keeps each change measured one at a time). The warm-up ends within ci's 300 steps.
MAIN_MODEL_CONFIG = VAEConfig(latent_dim=20, init="kaiming", decoder_bias="data", kl_warmup=200, weight_average=0.99)


def main_model_steps(scale: str | None = None) -> int:
    """The main model's training steps: ci 300, book 9,000, full 300,000.

    Args:
        scale: ``"ci"``, ``"book"`` or ``"full"``; None for the current scale (`runtime.scale`).

    Raises:
        ValueError: an unknown scale.
    """
    from edu_gen import runtime

    return runtime.at_scale({"ci": 300, "book": 9_000, "full": 300_000}, scale)


def load_or_train_vae(name: str, config: VAEConfig, images: torch.Tensor, steps: int, *, model_class: type = VAE,
                      binarize: bool = True, seed: int = 0, batch_size: int = 100):
    """Build ``model_class(config)`` from `seed`, then load it from the model cache or train it with `train_vae`.

    The one place where the VAE chapter's recipe and cache key are written: a later chapter that calls it
    with the same arguments (e.g. `main_model`) loads the VAE chapter's trained weights, and a change of
    recipe or budget here changes the key for every chapter at once, so none of them silently loads
    another model.

    Args:
        name: the cache name. config: a `VAEConfig`. images: (N, 1, 28, 28) in [0, 1]. steps: >= 1.
        model_class: `VAE` or `DeterministicAE`. binarize, seed, batch_size: as `train_vae`.

    Returns:
        (model in eval mode, History of its training).

    Raises:
        TypeError, ValueError: as `train_vae` (bad images or steps).
    """
    from dataclasses import asdict

    from edu_gen import train

    torch.manual_seed(seed)
    model = model_class(config)
    key = {**asdict(config), "model": model_class.__name__, "n": len(images), "steps": steps,
           "binarize": binarize, "seed": seed, "batch_size": batch_size}
    history = train.load_or_train(name, model, lambda m: train_vae(m, images, steps=steps, batch_size=batch_size,
                                                                    seed=seed, binarize=binarize), key)
    return model.eval(), history


def main_model(images: torch.Tensor):
    """The VAE chapter's main model (d = 20, `main_model_steps()` steps) trained on `images`, or loaded.

    Args:
        images: the training digits (N, 1, 28, 28) in [0, 1], as the VAE chapter loads them at this scale.

    Returns:
        (model in eval mode, History).

    Raises:
        ValueError: images not of shape (N, 1, 28, 28) in [0, 1] (as `train_vae`), or a bad EDU_GEN_SCALE.
    """
    return load_or_train_vae(MAIN_MODEL_NAME, MAIN_MODEL_CONFIG, images, main_model_steps())


def compared_model_steps(scale: str | None = None) -> int:
    """The budget of the VAE chapter's equal-budget comparison models: ci 300, book 1,200, full 30,000 steps of 100.

    Args:
        scale: ``"ci"``, ``"book"`` or ``"full"``; None for the current scale (`runtime.scale`).

    Raises:
        ValueError: an unknown scale.
    """
    from edu_gen import runtime

    return runtime.at_scale({"ci": 300, "book": 1_200, "full": 30_000}, scale)


def compared_model(latent_dim: int, images: torch.Tensor, *, deterministic: bool = False):
    """One of the VAE chapter's compared models: d = `latent_dim`, `compared_model_steps()` steps, or loaded.

    The VAE chapter compares VAEs of several code sizes with the deterministic autoencoder of the same
    network (`DeterministicAE`), all on one budget; later chapters (the comparison chapter's retrieval)
    load the same models through this function, so the recipe and the cache names are written once. When
    the budget equals the main model's (the ci scale) and the model asked for is the main model's
    configuration, the main model itself is returned instead of a second copy trained the same way.

    Args:
        latent_dim: the code size d >= 1.
        images: the training digits (N, 1, 28, 28) in [0, 1], as for `main_model`.
        deterministic: a `DeterministicAE` (no noise, no KL) instead of a `VAE`.

    Returns:
        (model in eval mode, History).

    Raises:
        ValueError: latent_dim not a positive integer, or bad images (as `train_vae`).
    """
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim < 1:
        raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}")
    config = replace(MAIN_MODEL_CONFIG, latent_dim=latent_dim)     # the main model's recipe, another d
    steps = compared_model_steps()
    if not deterministic and config == MAIN_MODEL_CONFIG and steps == main_model_steps():
        return main_model(images)
    kind = "ae" if deterministic else "vae"
    return load_or_train_vae(f"ch05_{kind}_z{latent_dim}_compared", config, images, steps,
                             model_class=DeterministicAE if deterministic else VAE)
