r"""The adversarial autoencoder's model and training: parts, `AAE`, the losses on codes, the three steps.

One iteration has three steps (Makhzani et al. 2016, section 2):

1. reconstruction: update the encoder and decoder on -log p_theta(x | z = q_phi(x));
2. discriminator: update lambda on -log d_lambda(z_p) - log(1 - d_lambda(q_phi(x))), z_p ~ p(z);
3. generator: update phi on -log d_lambda(q_phi(x)), the non-saturating generator loss of
   Goodfellow et al. (2014, section 3), not the discriminator's loss.

Order: the parts and `AAEConfig`, `AAE`, the losses on codes, the three steps, the VAE with any prior
(Monte Carlo KL) that the chapter compares, `train_aae`, and `load_or_train_aae` (the recipe and the
cache key, written once). Codes are (B, d); images (B, 1, 28, 28) with grey levels in [0, 1],
reconstructed through Bernoulli logits, so the reconstruction term is a cross-entropy on grey
levels, not a log-likelihood. Discriminators return logits; the losses use
`binary_cross_entropy_with_logits`, which is log d = -softplus(-a) computed without overflow.

Part of `edu_gen.aae` (which re-exports every name here). Introduced in the chapter "Adversarial
autoencoders" (label ch-aae).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from edu_gen._checks import number
from edu_gen.aae_priors import NUM_COMPONENTS, PRIORS, _check_codes, prior_log_density, sample_prior
from edu_gen.cvae import check_labels, one_hot
from edu_gen.vae import check_unit_interval, log_normal, reparameterize


# --------------------------------------------------------------------------------------------
# Parts and the model
# --------------------------------------------------------------------------------------------


def mlp(in_dim: int, hidden_dim: int, out_dim: int, batch_norm: bool = False) -> nn.Sequential:
    """Two hidden ReLU layers: (B, in_dim) -> (B, out_dim); with `batch_norm`, BatchNorm1d after each hidden layer.

    Args:
        in_dim, hidden_dim, out_dim: the widths. batch_norm: add BatchNorm1d (the code discriminator's ablation).

    Raises:
        RuntimeError, ValueError: from torch, for non-positive widths.
    """
    norm = (lambda: nn.BatchNorm1d(hidden_dim)) if batch_norm else nn.Identity
    return nn.Sequential(nn.Linear(in_dim, hidden_dim), norm(), nn.ReLU(),
                         nn.Linear(hidden_dim, hidden_dim), norm(), nn.ReLU(), nn.Linear(hidden_dim, out_dim))


@dataclass(frozen=True)
class AAEConfig:
    """Everything that fixes an AAE's architecture; saved in its checkpoints.

    Attributes:
        latent_dim: d (2 for the figures; the mixture and swiss roll are 2-D).
        hidden_dim: width of the encoder's and decoder's two hidden layers (the paper: 1000).
        disc_hidden_dim: width of the code discriminator's two hidden layers.
        prior: one of `PRIORS`.
        label_aware: the discriminator also sees e_y, the one-hot class of a data code or the
            component of a prior code (section 2.3): class k is sent to component k.
        supervised: the decoder also sees e_y, so z holds the style only (section 4).
        batch_norm: BatchNorm1d in the code discriminator (the chapter's ablation; off by default).
    """

    latent_dim: int = 2
    hidden_dim: int = 512
    disc_hidden_dim: int = 256
    prior: str = "gaussian"
    label_aware: bool = False
    supervised: bool = False
    batch_norm: bool = False

    def __post_init__(self):
        for name in ("latent_dim", "hidden_dim", "disc_hidden_dim"):
            object.__setattr__(self, name, number(getattr(self, name), name, "an int >= 1", integer=True, minimum=1))
        if self.prior not in PRIORS:
            raise ValueError(f"unknown prior {self.prior!r}; expected one of {PRIORS}")
        if self.prior != "gaussian" and self.latent_dim != 2:
            raise ValueError(f"the {self.prior} prior is 2-dimensional: latent_dim must be 2, got {self.latent_dim}")
        if self.label_aware and self.prior == "gaussian":
            raise ValueError("label_aware needs a prior with components ('mixture' or 'swiss_roll'), got 'gaussian'")


class AAE(nn.Module):
    r"""Deterministic encoder :math:`z = q_\phi(x)`, Bernoulli-logit decoder, and code discriminator :math:`d_\lambda`.

    The encoder (B, 1, 28, 28) -> (B, d), the decoder (B, d [+ C]) -> (B, 1, 28, 28) logits, the
    discriminator (B, d [+ C]) -> (B,) logits on *codes*, never on images.

    Args:
        config: an `AAEConfig`.
    """

    def __init__(self, config: AAEConfig = AAEConfig()):
        super().__init__()
        self.config, c = config, config
        self.encoder = nn.Sequential(nn.Flatten(), mlp(784, c.hidden_dim, c.latent_dim))          # (B, 784) -> (B, d)
        self.decoder = nn.Sequential(mlp(c.latent_dim + NUM_COMPONENTS * c.supervised, c.hidden_dim, 784),
                                     nn.Unflatten(1, (1, 28, 28)))                                 # -> (B, 1, 28, 28)
        self.discriminator = mlp(c.latent_dim + NUM_COMPONENTS * c.label_aware, c.disc_hidden_dim, 1, c.batch_norm)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 1, 28, 28) in [0, 1] -> codes (B, d).

        Args:
            x: the images.

        Raises:
            TypeError, ValueError: x not a floating-point (B, 1, 28, 28) tensor in [0, 1].
        """
        check_unit_interval(x, "AAE.encode")
        return self.encoder(x)

    def _with_label(self, z: torch.Tensor, y, needed: bool, who: str) -> torch.Tensor:
        if not needed:
            return z
        if y is None:
            raise ValueError(f"{who} needs the labels y (B,) of this model ({'label_aware' if who == 'discriminate' else 'supervised'})")
        return torch.cat([z, one_hot(check_labels(y, NUM_COMPONENTS, len(z)), NUM_COMPONENTS).to(z)], 1)

    def decode(self, z: torch.Tensor, y=None) -> torch.Tensor:
        """Codes (B, d) [and labels (B,) when supervised] -> Bernoulli logits (B, 1, 28, 28).

        Args:
            z: (B, d) codes. y: (B,) classes 0..9, needed by a supervised model, ignored otherwise.

        Raises:
            ValueError: z not (B, d); y missing for a supervised model, or not (B,) integers in 0..9.
        """
        _check_codes(z, self.config.latent_dim)
        return self.decoder(self._with_label(z, y, self.config.supervised, "decode"))

    def discriminate(self, z: torch.Tensor, y=None) -> torch.Tensor:
        r"""Codes (B, d) [and labels (B,) when label_aware] -> logits (B,) of :math:`d_\lambda(z)` = P(z came from p(z)).

        Args:
            z: (B, d) codes. y: (B,) components or classes 0..9, needed by a label-aware model, ignored otherwise.

        Raises:
            ValueError: z not (B, d); y missing for a label-aware model, or not (B,) integers in 0..9.
        """
        _check_codes(z, self.config.latent_dim)
        return self.discriminator(self._with_label(z, y, self.config.label_aware, "discriminate")).squeeze(1)

    @torch.no_grad()
    def sample(self, n: int, labels=None, generator=None) -> torch.Tensor:
        """Decoder means sigm(g(z)), z ~ p(z): (n, 1, 28, 28) on the model's device.

        Means, not Bernoulli samples: what the Parzen protocol's papers use as "samples".

        Args:
            n: how many. labels: (n,) classes 0..9: the prior's components (a mixture or roll prior)
                and, for a supervised model, the decoder's classes; None draws them uniformly.
            generator: a torch.Generator for z (and the drawn labels).

        Raises:
            ValueError: n not an int >= 1, labels not (n,) integers in 0..9.
        """
        c = self.config
        z, k = sample_prior(c.prior, n, None if c.prior == "gaussian" else labels, c.latent_dim, generator)
        if c.supervised:
            k = check_labels(labels, NUM_COMPONENTS, len(z), "labels") if labels is not None else (
                k if k is not None else torch.randint(NUM_COMPONENTS, (len(z),), generator=generator))
        device = next(self.parameters()).device
        return torch.sigmoid(self.decode(z.to(device), k.to(device) if c.supervised else None))


# --------------------------------------------------------------------------------------------
# Losses on codes and the three steps
# --------------------------------------------------------------------------------------------


def reconstruction_loss(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of grey levels x under Bernoulli logits, summed over pixels, mean over the batch (per image).

    A reconstruction error, not a log-likelihood: x holds grey levels, not binary pixels.

    Args:
        logits: (B, 1, 28, 28). x: (B, 1, 28, 28) in [0, 1].

    Raises:
        ValueError: shapes that differ (torch).
    """
    return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    r""":math:`-\frac1B\sum_i [\log d(z_i) + \log(1 - d(q_\phi(x_i)))]`: the negative of the lecture's V_i, mean over the batch.

    Args:
        real_logits: (B,) logits of prior codes. fake_logits: (B',) logits of the encoder's codes.

    Raises:
        Nothing of its own (torch refuses non-tensors).
    """
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    r""":math:`-\frac1B\sum_i \log d(q_\phi(x_i))`: the non-saturating generator loss (Goodfellow et al. 2014, section 3).

    Not the discriminator's loss (the lecture's slide says so for step 3): it maximises log d of the
    encoder's codes instead of minimising log(1 - d), which saturates when d rejects them.

    Args:
        fake_logits: (B,) logits of the encoder's codes.

    Raises:
        Nothing of its own (torch refuses non-tensors).
    """
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def optimizers(model: AAE, lr: float = 1e-3, adversarial_lr: float = 1e-3) -> dict[str, torch.optim.Optimizer]:
    """Adam for each step: ``ae`` (encoder + decoder), ``disc`` (discriminator), ``gen`` (encoder only).

    Args:
        model: an `AAE`. lr: the reconstruction's learning rate. adversarial_lr: the discriminator's and
            the generator's (betas (0.5, 0.999), the usual GAN setting).

    Raises:
        ValueError: a negative learning rate (torch).
    """
    adam = lambda params, rate: torch.optim.Adam(params, lr=rate, betas=(0.5, 0.999))  # noqa: E731  (GAN practice)
    return {"ae": adam([*model.encoder.parameters(), *model.decoder.parameters()], lr),
            "disc": adam(model.discriminator.parameters(), adversarial_lr),
            "gen": adam(model.encoder.parameters(), adversarial_lr)}


def _update(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> float:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)   # no gradient is left for another step's parameters
    return float(loss.detach())


def reconstruction_step(model: AAE, optimizer, x: torch.Tensor, y=None) -> float:
    """Step 1: update phi, theta on the reconstruction cross-entropy of x; returns it (per image; a cross-entropy of grey levels, not a log-likelihood).

    Args:
        model: an `AAE`. optimizer: its ``optimizers(model)["ae"]``. x: (B, 1, 28, 28) in [0, 1].
        y: (B,) classes, for a supervised model.

    Raises:
        TypeError, ValueError: as `AAE.encode` and `AAE.decode`.
    """
    return _update(optimizer, reconstruction_loss(model.decode(model.encode(x), y), x))


def discriminator_step(model: AAE, optimizer, x: torch.Tensor, z_prior: torch.Tensor, y=None, y_prior=None) -> float:
    """Step 2: update lambda on `discriminator_loss`, z_prior ~ p(z) against q_phi(x); the encoder is not touched.

    Args:
        model: an `AAE`. optimizer: ``optimizers(model)["disc"]``. x: (B, 1, 28, 28) in [0, 1].
        z_prior: (B', d) prior draws. y, y_prior: (B,) classes and (B',) components, for a label-aware model.

    Raises:
        TypeError, ValueError: as `AAE.encode` and `AAE.discriminate`.
    """
    with torch.no_grad():
        z_data = model.encode(x)                 # a constant here: no gradient reaches phi
    return _update(optimizer, discriminator_loss(model.discriminate(z_prior, y_prior), model.discriminate(z_data, y)))


def generator_step(model: AAE, optimizer, x: torch.Tensor, y=None) -> float:
    """Step 3: update phi (the optimizer holds the encoder only) on `generator_loss`; lambda is not stepped.

    Args:
        model: an `AAE`. optimizer: ``optimizers(model)["gen"]``. x: (B, 1, 28, 28) in [0, 1].
        y: (B,) classes, for a label-aware model.

    Raises:
        TypeError, ValueError: as `AAE.encode` and `AAE.discriminate`.
    """
    return _update(optimizer, generator_loss(model.discriminate(model.encode(x), y)))


def vae_prior_loss(model, x: torch.Tensor, prior: str) -> dict[str, torch.Tensor]:
    r"""A `vae.VAE`'s negative ELBO with the prior `prior`, its KL estimated by one Monte Carlo draw.

    .. math::
        \mathrm{KL}\big(q_\phi(z \mid x)\,\|\,p(z)\big) \approx \log q_\phi(z \mid x) - \log p(z), \qquad z \sim q_\phi(z \mid x)

    unbiased for the KL, needing only log p(z) (`prior_log_density`): no closed form exists for
    the mixture or the swiss roll. x (B, 1, 28, 28) grey levels, so recon is a cross-entropy.
    Returns the batch means ``loss``, ``recon``, ``kl`` per image (the KL in nats; recon and loss are
    cross-entropies of grey levels, not log-likelihoods).

    Args:
        model: a `vae.VAE` with latent_dim 2 (any d for the Gaussian). x: (B, 1, 28, 28) in [0, 1]. prior: one of `PRIORS`.

    Raises:
        ValueError: an unknown prior, or codes of the wrong size for it.
    """
    mu, log_var = model.encode(x)
    z = reparameterize(mu, log_var)
    kl = (log_normal(z, mu, log_var) - prior_log_density(prior, z)).mean()
    recon = reconstruction_loss(model.decode(z), x)
    return {"loss": recon + kl, "recon": recon, "kl": kl}


def _batches(n: int, batch_size: int, generator):
    while True:
        order = torch.randperm(n, generator=generator)
        for start in range(0, n - batch_size + 1, batch_size):
            yield order[start:start + batch_size]


def train_aae(model: AAE, images: torch.Tensor, labels=None, *, steps: int, batch_size: int = 100, lr: float = 1e-3,
              adversarial_lr: float = 1e-3, seed: int = 0):
    """The three steps, `steps` times, on images (N, 1, 28, 28) in [0, 1] [with labels (N,)]; returns a `train.History`.

    Labels are needed when the model is label_aware (data codes carry their class, prior codes
    their component) or supervised (the decoder sees the class). Runs on the model's device.
    The History holds recon, disc, gen (and their sum, loss) per step, and ``seconds``.

    Args:
        model: an `AAE`. images: (N, 1, 28, 28). labels: (N,) classes 0..9 or None.
        steps: iterations, >= 1. batch_size: images (and prior draws) per step. lr, adversarial_lr:
            as `optimizers`. seed: the batches', the prior draws' and torch's seed.

    Raises:
        ValueError: images not (N, 1, 28, 28) in [0, 1] with N >= batch_size; labels missing when needed.
    """
    from edu_gen import train

    check_unit_interval(images, "train_aae")
    steps, batch_size = number(steps, "steps", "an int >= 1", integer=True, minimum=1), number(batch_size, "batch_size", "an int >= 1", integer=True, minimum=1)
    if len(images) < batch_size:
        raise ValueError(f"images hold {len(images)} examples, fewer than one batch of {batch_size}")
    c = model.config
    if (c.label_aware or c.supervised) and labels is None:
        raise ValueError("this model is label_aware or supervised: train_aae needs labels (N,)")
    if labels is not None:
        labels = check_labels(labels, NUM_COMPONENTS, len(images), "labels")
    device, generator = next(model.parameters()).device, torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    opt, history, start = optimizers(model, lr, adversarial_lr), train.History(), time.perf_counter()
    model.train()
    for step, index in zip(range(1, steps + 1), _batches(len(images), batch_size, generator)):
        x = images[index].to(device)
        y = labels[index].to(device) if labels is not None else None
        z_prior, y_prior = sample_prior(c.prior, batch_size, None, c.latent_dim, generator)
        y_prior = y_prior.to(device) if (c.label_aware and y_prior is not None) else None
        recon = reconstruction_step(model, opt["ae"], x, y if c.supervised else None)
        disc = discriminator_step(model, opt["disc"], x, z_prior.to(device), y if c.label_aware else None, y_prior)
        gen = generator_step(model, opt["gen"], x, y if c.label_aware else None)
        if not all(math.isfinite(v) for v in (recon, disc, gen)):
            raise train.NonFiniteLossError(f"step {step}: recon {recon}, disc {disc}, gen {gen}")
        history.log(step, loss=recon + disc + gen, recon=recon, disc=disc, gen=gen)
    history.seconds = time.perf_counter() - start
    return history


def load_or_train_aae(name: str, config: AAEConfig, images: torch.Tensor, steps: int, *, labels=None, seed: int = 0,
                      batch_size: int = 100):
    """Build ``AAE(config)`` from `seed`, then load it from the model cache or train it with `train_aae`.

    Training runs on `runtime.device()`; the model is returned on the CPU either way.

    The one place where the AAE chapter's recipe and cache key are written: the chapter's models and
    a later chapter's call of `aae.main_model` go through it, so they load the same weights, and a
    change here changes the key everywhere at once.

    Args:
        name: the cache name. config: an `AAEConfig`. images: (N, 1, 28, 28) in [0, 1].
        steps: iterations, >= 1. labels: (N,) classes, needed when the config is label_aware or
            supervised. seed, batch_size: as `train_aae`.

    Returns:
        (the AAE on the CPU in eval mode, the History of its training).

    Raises:
        TypeError: config is not an `AAEConfig`.
        ValueError: as `train_aae` (bad images or steps, labels missing when needed).
    """
    from dataclasses import asdict

    from edu_gen import runtime, train

    if not isinstance(config, AAEConfig):
        raise TypeError(f"config must be an AAEConfig, got {type(config).__name__}")
    torch.manual_seed(seed)                                               # the initial weights
    model = AAE(config).to(runtime.device())
    key = {"config": asdict(config), "steps": steps, "n": len(images), "seed": seed, "batch_size": batch_size}
    history = train.load_or_train(name, model, lambda m: train_aae(m, images, labels, steps=steps, seed=seed,
                                                                   batch_size=batch_size), key)
    return model.cpu().eval(), history
