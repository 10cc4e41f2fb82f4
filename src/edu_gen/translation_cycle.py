r"""CycleGAN (Zhu et al., 2017, eq. 1-3): the cycle-consistency and identity losses and the two players' objectives.

Two generators G: X -> Y and F: Y -> X, two discriminators D_Y and D_X, no pairs:

    L = L_GAN(G, D_Y, X, Y) + L_GAN(F, D_X, Y, X) + lambda L_cyc(G, F),
    L_cyc = E_x ||F(G(x)) - x||_1 + E_y ||G(F(y)) - y||_1.

(The lecture writes the second term L_GAN(G, D_X); it is the inverse generator F that D_X judges.)
The adversarial terms reuse `edu_gen.gan` (logits, BCE with logits), averaged over every patch of a
PatchGAN. Re-exported by `edu_gen.translation`. Introduced in the chapter on conditional GANs (label ch-cgan).
"""

from __future__ import annotations

import torch
from torch import nn

from edu_gen import gan
from edu_gen._checks import number
from edu_gen.translation_pix2pix import _same_shape, _weight



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
                            y: torch.Tensor, lam: float = 10.0, identity_weight: float = 0.0,
                            noise_std: float = 0.0) -> dict[str, torch.Tensor]:
    r"""Zhu et al. (2017), eq. 3, the generators' side: L_GAN(G, D_Y) + L_GAN(F, D_X) + lam L_cyc (+ identity).

    Each adversarial term is the non-saturating -mean log D(fake) (Zhu et al. use least squares, and
    update D on a buffer of 50 past fakes; the book keeps the GAN chapter's loss and the current fakes).
    D_X and D_Y are unconditional: `D(None, image)`.

    Args:
        G: X -> Y, F_: Y -> X (image-to-image networks such as `UNet`). D_X, D_Y: PatchDiscriminator(conditional=False).
        x: (B, C, H, W) from X; y: (B', C, H, W) from Y, unpaired (or points (B, n), (B', n)). lam: lambda >= 0 (Zhu et al.: 10).
        identity_weight: weight >= 0 of `identity_loss` (Zhu et al.: 0.5 lambda on some tasks; 0 = off).
        noise_std: standard deviation >= 0 of Gaussian noise added to G(x) and to F(y) before the return trip of
            the cycle term, F(G(x) + n) and G(F(y) + n') (Bashkirova et al., 2019, their "additive noise" defence
            against a code hidden at low amplitude; 0 = off). The adversarial terms see G(x) and F(y) without it.
            The noise is drawn from PyTorch's global generator (`train_cyclegan` seeds it).

    Returns:
        {"loss", "gan_g", "gan_f", "cycle", "identity"}, scalar tensors.

    Raises:
        ValueError: x and y hold images of different shapes, or lam / identity_weight / noise_std < 0.
    """
    _check_unpaired(x, y)
    lam, identity_weight = _weight(lam, "lam"), _weight(identity_weight, "identity_weight")
    noise_std = number(noise_std, "noise_std", "a finite number >= 0 (a standard deviation in grey levels)", minimum=0)
    fake_y, fake_x = G(x), F_(y)                                                   # G(x) in Y, F(y) in X
    gan_g = gan.generator_loss(D_Y(None, fake_y).flatten(), "non_saturating")               # L_GAN(G, D_Y, X, Y)
    gan_f = gan.generator_loss(D_X(None, fake_x).flatten(), "non_saturating")               # L_GAN(F, D_X, Y, X)
    if noise_std:                                                      # the return trip reads a noisy translation
        back_y, back_x = fake_y + noise_std * torch.randn_like(fake_y), fake_x + noise_std * torch.randn_like(fake_x)
    else:
        back_y, back_x = fake_y, fake_x
    cycle = cycle_consistency_loss(x, F_(back_y), y, G(back_x))
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
