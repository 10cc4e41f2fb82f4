r"""The semi-supervised adversarial autoencoder (Makhzani et al. 2016, section 5).

The encoder has two heads: a categorical code y, a softmax over the C = 10 classes, and a style code z.
The decoder reconstructs from [y, z]. Two code discriminators hold y to one-hot draws from Cat(C) and z
to N(0, I_d); a fourth step per iteration, the semi-supervised classification phase, updates q(y|x) by
cross-entropy on a batch of the few labelled images.

Part of `edu_gen.aae` (which re-exports every name here). Introduced in the chapter "Adversarial
autoencoders" (label ch-aae), section on the semi-supervised AAE.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

from edu_gen.aae_model import AAEConfig, _batches, _update, discriminator_loss, generator_loss, mlp, reconstruction_loss
from edu_gen.aae_priors import NUM_COMPONENTS
from edu_gen.cvae import check_labels
from edu_gen.vae import check_unit_interval


class SemiSupervisedAAE(nn.Module):
    """Encoder with a categorical head q(y|x) (B, C) and a style head z (B, d); decoder on [softmax y, z];
    one discriminator on y against one-hot Cat(C) draws, one on z against N(0, I_d) (Makhzani et al. 2016, section 5).

    Args:
        latent_dim: d, the style code's size. hidden_dim: the encoder's and decoder's width.
        disc_hidden_dim: the two discriminators' width.
    """

    def __init__(self, latent_dim: int = 10, hidden_dim: int = 512, disc_hidden_dim: int = 256):
        super().__init__()
        self.config = AAEConfig(latent_dim=latent_dim, hidden_dim=hidden_dim, disc_hidden_dim=disc_hidden_dim)
        self.trunk = nn.Sequential(nn.Flatten(), mlp(784, hidden_dim, hidden_dim)[:-1])         # (B, hidden)
        self.class_head, self.style_head = nn.Linear(hidden_dim, NUM_COMPONENTS), nn.Linear(hidden_dim, latent_dim)
        self.decoder = nn.Sequential(mlp(NUM_COMPONENTS + latent_dim, hidden_dim, 784), nn.Unflatten(1, (1, 28, 28)))
        self.disc_class, self.disc_style = mlp(NUM_COMPONENTS, disc_hidden_dim, 1), mlp(latent_dim, disc_hidden_dim, 1)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (B, 1, 28, 28) in [0, 1] -> class logits (B, C) and style z (B, d).

        Args:
            x: the images.

        Raises:
            TypeError, ValueError: x not a floating-point (B, 1, 28, 28) tensor in [0, 1].
        """
        check_unit_interval(x, "SemiSupervisedAAE.encode")
        h = self.trunk(x)
        return self.class_head(h), self.style_head(h)

    @torch.no_grad()
    def classify(self, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """The arg max of q(y|x) for images x (B, 1, 28, 28), computed on the model's device: (B,) int64 on the CPU.

        Args:
            x: the images. batch_size: images per forward pass.

        Raises:
            TypeError, ValueError: as `encode`.
        """
        device = next(self.parameters()).device
        return torch.cat([self.encode(x[i:i + batch_size].to(device))[0].argmax(1).cpu() for i in range(0, len(x), batch_size)])


def train_semi_supervised(model: SemiSupervisedAAE, images, x_labelled, y_labelled, *, steps: int, batch_size: int = 100,
                          lr: float = 1e-3, adversarial_lr: float = 1e-3, seed: int = 0):
    """Per step: reconstruction, both discriminators, the encoder as generator of both codes, then the
    semi-supervised classification phase (cross-entropy of q(y|x) on a labelled batch). Returns a History.

    Args:
        model: a `SemiSupervisedAAE`. images: (N, 1, 28, 28) in [0, 1], all the training images.
        x_labelled: (L, 1, 28, 28), y_labelled: (L,) the labelled ones. steps, batch_size, lr,
        adversarial_lr, seed: as `train_aae`.

    Raises:
        TypeError, ValueError: images not in [0, 1], labels not (L,) integers in 0..9.
    """
    from edu_gen import train

    check_unit_interval(images, "train_semi_supervised")
    y_labelled = check_labels(y_labelled, NUM_COMPONENTS, len(x_labelled), "y_labelled")
    device, generator = next(model.parameters()).device, torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    adam = lambda params, rate: torch.optim.Adam(params, lr=rate, betas=(0.5, 0.999))  # noqa: E731
    encoder = [*model.trunk.parameters(), *model.class_head.parameters(), *model.style_head.parameters()]
    opt = {"ae": adam([*encoder, *model.decoder.parameters()], lr), "gen": adam(encoder, adversarial_lr),
           "disc": adam([*model.disc_class.parameters(), *model.disc_style.parameters()], adversarial_lr),
           "clf": adam([*model.trunk.parameters(), *model.class_head.parameters()], lr)}
    history, start, d = train.History(), time.perf_counter(), model.config.latent_dim
    model.train()
    for step, index in zip(range(1, steps + 1), _batches(len(images), batch_size, generator)):
        x = images[index].to(device)
        logits, z = model.encode(x)
        recon = _update(opt["ae"], reconstruction_loss(model.decoder(torch.cat([logits.softmax(1), z], 1)), x))
        with torch.no_grad():
            logits, z = model.encode(x)
        y_prior = F.one_hot(torch.randint(NUM_COMPONENTS, (batch_size,), generator=generator), NUM_COMPONENTS).float().to(device)
        z_prior = torch.randn(batch_size, d, generator=generator).to(device)
        disc = _update(opt["disc"], discriminator_loss(model.disc_class(y_prior).squeeze(1), model.disc_class(logits.softmax(1)).squeeze(1))
                       + discriminator_loss(model.disc_style(z_prior).squeeze(1), model.disc_style(z).squeeze(1)))
        logits, z = model.encode(x)
        gen = _update(opt["gen"], generator_loss(model.disc_class(logits.softmax(1)).squeeze(1))
                      + generator_loss(model.disc_style(z).squeeze(1)))
        pick = torch.randint(len(x_labelled), (batch_size,), generator=generator)
        clf = _update(opt["clf"], F.cross_entropy(model.encode(x_labelled[pick].to(device))[0], y_labelled[pick].to(device)))
        history.log(step, loss=recon + disc + gen + clf, recon=recon, disc=disc, gen=gen, clf=clf)
    history.seconds = time.perf_counter() - start
    return history
