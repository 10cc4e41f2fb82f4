r"""Training loops and measures for the conditional-GAN chapter: a class-conditional GAN, pix2pix and CycleGAN.

The networks and losses are in `edu_gen.translation`; this module runs them. Each loop follows
Goodfellow et al.'s Algorithm 1 as `gan.train_gan` does (one discriminator step, then one generator
step, Adam with beta1 = 0.5; the chapter's learning rates are `LEARNING_RATES`), and returns a `train.History`:

- `train_cgan`: D(x, c) on real (image, label) pairs against G(z, c) with labels drawn uniformly
  from all K classes (`translation.sample_labels`); the requested labels are counted in the
  history (``requested_0`` ... ``requested_{K-1}``, cumulative), so a test can see every class asked for.
- `train_pix2pix`: D judges (input, output) pairs (or the output alone for an unconditional D);
  G minimises adversarial + lambda L1 (`translation.pix2pix_generator_loss`). ``adversarial=False``
  is "L1 alone": D is not used.
- `train_cyclegan`: G, F, D_X, D_Y on two unpaired sets (`translation.cyclegan_generator_loss`,
  `translation.cyclegan_discriminator_loss`).

The measures: `class_accuracy` (does a frozen classifier read the requested class?) and
`within_class_diversity` (mean pixel distance between two images of one class).
Introduced in the chapter on conditional GANs and image-to-image translation.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

from edu_gen import gan, translation
from edu_gen._checks import number
from edu_gen.train import History


class Unconditional(nn.Module):
    """Wraps a discriminator `net(y) -> logits` to the call `D(x, y)` that the CycleGAN losses make (x ignored).

    Lets `gan.MLPDiscriminator` judge 2-D points in `translation.cyclegan_generator_loss`.

    Args:
        net: a module mapping a batch (B, ...) to logits (B,) or (B, ...).
    """

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor | None, y: torch.Tensor) -> torch.Tensor:
        """The logits net(y); x is ignored (an unconditional discriminator).

        Args:
            x: ignored (None in the CycleGAN losses). y: the batch to judge, as `net` takes it.

        Raises:
            Whatever `net` raises for a y it refuses (e.g. `gan.MLPDiscriminator` for a wrong shape).
        """
        return self.net(y)


def _setup(steps, batch_size, seed, device, lr, models):
    from edu_gen import runtime

    steps = number(steps, "steps", "an int >= 1 (generator steps)", integer=True, minimum=1)
    batch_size = number(batch_size, "batch_size", "an int >= 1", integer=True, minimum=1)
    lr = number(lr, "lr", "a number > 0 (Adam's learning rate)", minimum=0, strict=True)
    device = torch.device(device) if device is not None else runtime.device()
    for m in models:
        m.to(device).train()
    torch.manual_seed(seed)
    return steps, batch_size, lr, device, torch.Generator().manual_seed(seed)


def _progress(steps: int, progress, desc: str):
    from tqdm.auto import tqdm

    from edu_gen.train import _show_progress

    return tqdm(range(steps), disable=not _show_progress(progress), leave=False, desc=desc)


def _step(optimizer: torch.optim.Optimizer, loss: torch.Tensor, network: str, step: int) -> None:
    gan._check_finite(loss, network, step)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def _adam(*modules: nn.Module, lr: float, betas: tuple) -> torch.optim.Adam:
    return torch.optim.Adam([p for m in modules for p in m.parameters()], lr=lr, betas=betas)


CGAN_LOSSES = ("bce", "hinge")


def cgan_losses(real_logits: torch.Tensor, fake_logits: torch.Tensor, g_logits: torch.Tensor, loss: str = "bce",
                label_smoothing: float = 0.0, wrong_logits: torch.Tensor | None = None,
                mismatch: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The two players' losses of a conditional GAN from D's logits: (D's loss, G's loss), 0-d tensors.

    "bce": Goodfellow et al.'s -mean log D(x, c) - mean log(1 - D(G(z, c'), c')) for D (`gan.discriminator_loss`;
    with ``label_smoothing`` s > 0 the real pairs' target is 1 - s, Salimans et al. 2016's one-sided smoothing)
    and the non-saturating -mean log D(G(z, c), c) for G. "hinge": mean relu(1 - l(x, c)) + mean relu(1 + l(G(z, c'), c'))
    for D and -mean l(G(z, c), c) for G (Lim & Ye 2017; the loss of Miyato & Koyama 2018's projection experiments).

    ``mismatch`` w > 0 makes D matching-aware (Reed et al., 2016, "Generative adversarial text to image synthesis",
    GAN-CLS, their Algorithm 1, lines 8 and 10): D also scores real images x paired with a wrong label c~ != c
    (``wrong_logits``, l(x, c~)) and must call them fake; D's negative term becomes the mixture
    (1 - w) [fake term] + w [wrong-label term], e.g. for "bce"
    -mean log D(x, c) - (1 - w) mean log(1 - D(G(z, c'), c')) - w mean log(1 - D(x, c~)),
    and for "hinge" the same mixture of mean relu(1 + l). w = 1/2 gives minus Reed et al.'s
    L_D = log s_r + (log(1 - s_w) + log(1 - s_f)) / 2 (s_r, s_w, s_f: D on real, wrong-label and fake pairs), which
    D must make large (log s_r grows as D calls real pairs real), averaged over the batch; w = 0 is the loss above,
    computed by the same operations.
    G's loss does not change.

    Args:
        real_logits, fake_logits: (B,) D's logits on real pairs and on (G detached) fake pairs. g_logits: (B,)
            D's logits on G's own step's fakes. loss: one of `CGAN_LOSSES`. label_smoothing: s in [0, 1).
        wrong_logits: (B,) D's logits on real images with wrong labels; needed when mismatch > 0, None otherwise.
        mismatch: w in [0, 1) (at w = 1 D would never see a fake).

    Raises:
        ValueError: an unknown loss, s outside [0, 1), label smoothing with the hinge loss, w outside [0, 1),
            wrong_logits missing with w > 0 or given with w = 0.
    """
    s = number(label_smoothing, "label_smoothing", "a number in [0, 1) (the real pairs' target is 1 - s)", minimum=0)
    if s >= 1:
        raise ValueError(f"label_smoothing must be a number in [0, 1) (the real pairs' target is 1 - s), got {s}")
    w = number(mismatch, "mismatch", "a number in [0, 1) (the weight of real images with wrong labels among D's "
               "negatives)", minimum=0)
    if w >= 1:
        raise ValueError(f"mismatch must be a number in [0, 1) (the weight of real images with wrong labels among D's "
                         f"negatives; at 1 D never sees a fake), got {w}")
    if w and wrong_logits is None:
        raise ValueError(f"mismatch={w} needs wrong_logits, D's logits (B,) on real images with wrong labels, got None")
    if not w and wrong_logits is not None:
        raise ValueError("wrong_logits are used only with mismatch > 0, got mismatch=0 and wrong_logits given")
    if loss == "hinge":
        if s:
            raise ValueError(f"label_smoothing applies to the 'bce' loss only, got {s} with loss='hinge'")
        real_term, negative = F.relu(1 - real_logits).mean(), (lambda logits: F.relu(1 + logits).mean())
    elif loss == "bce":                                       # the real pairs' target: 1 - s (1 without smoothing)
        real_term = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, 1 - s) if s
                                                       else torch.ones_like(real_logits))
        negative = (lambda logits: F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits)))
    else:
        raise ValueError(f"loss must be one of {CGAN_LOSSES}, got {loss!r}")
    fake_term = negative(fake_logits)
    d_loss = real_term + (fake_term if not w else (1 - w) * fake_term + w * negative(wrong_logits))
    g_loss = -g_logits.mean() if loss == "hinge" else gan.generator_loss(g_logits, "non_saturating")
    return d_loss, g_loss


def wrong_labels(labels: torch.Tensor, num_classes: int = translation.NUM_CLASSES,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """For each label c a wrong one, drawn uniformly from the K - 1 other classes: (c + u) mod K, u uniform in 1..K-1.

    The mismatched labels of a matching-aware discriminator (`train_cgan`'s ``mismatch``; Reed et al., 2016).

    Args:
        labels: (B,) integers in 0..K-1. num_classes: K, an int >= 2. generator: seeds the draw.

    Returns:
        (B,) int64, each entry different from the label in its place.

    Raises:
        ValueError: labels not 1-D integers in 0..K-1, or K not an int >= 2.
    """
    num_classes = number(num_classes, "num_classes", "an int >= 2", integer=True, minimum=2)
    translation.one_hot(labels, num_classes)                                # refuses labels outside 0..K-1
    shift = torch.randint(1, num_classes, labels.shape, generator=generator)   # 1..K-1: never 0, so never c itself
    return (labels + shift) % num_classes


def train_cgan(generator: translation.ConditionalGenerator, discriminator: translation.ConditionalDiscriminator,
               images: torch.Tensor, labels: torch.Tensor, *, steps: int, batch_size: int = 64, lr: float = 2e-4,
               betas: tuple = (0.5, 0.999), seed: int = 0, device=None, progress: bool | None = None,
               loss: str = "bce", d_steps: int = 1, lr_d: float | None = None, label_smoothing: float = 0.0,
               balanced: bool = False, mismatch: float = 0.0) -> History:
    r"""Mirza & Osindero's conditional GAN: max_D E log D(x, c) + E log(1 - D(G(z, c), c)), G non-saturating.

    Real pairs (x, c) are drawn with replacement from (images, labels); the fakes' labels are drawn
    uniformly from 0..K-1 (`translation.sample_labels`), fresh for D's step and for G's step. Where the
    data's label frequencies p(c) are not uniform, the best D is p(c) p(x|c) / (p(c) p(x|c) + p_g(x|c) / K)
    rather than p(x|c) / (p(x|c) + p_g(x|c)); G's best answer is still p_g(x|c) = p(x|c) (the chapter checks both).
    ``balanced=True`` draws the real pairs class by class instead (a uniform class, then a uniform image of it),
    so real and fake labels have the same frequencies and D*(x, c) = 1/2 at the optimum.
    ``mismatch`` w > 0: the matching-aware D of Reed et al. (2016, GAN-CLS, Algorithm 1): each D step also scores
    the step's real images with wrong labels (`wrong_labels`, uniform among the other K - 1 classes) as fakes, with
    weight w among D's negatives (`cgan_losses`; w = 1/2 is their algorithm). A G that draws an 8 for the label 5
    is then rejected even when the 8 looks real, since D has seen real 8s called fake under the label 5.
    With w = 0 nothing more is drawn or computed: the same training, draw for draw, as without the option.

    Args:
        generator, discriminator: trained in place, moved to `device` (default `runtime.device()`).
        images: (N, 1, 28, 28) in [0, 1]. labels: (N,) integers in 0..K-1. steps: generator steps.
        batch_size, lr, betas, seed, progress: as `gan.train_gan` (lr is G's; D's too unless lr_d is given).
        loss, label_smoothing: as `cgan_losses`. d_steps: discriminator steps per generator step, an int >= 1.
        lr_d: D's learning rate (Heusel et al. 2017's two time-scale rule when it differs from lr); None: lr.
        balanced: draw the real pairs with every class equally likely.
        mismatch: w in [0, 1), the weight of real images with wrong labels among D's negatives.

    Returns:
        History with d_loss, g_loss, d_real (mean D(x, c)), d_fake (mean D(G(z, c), c)) per step (D's last step;
        for the hinge loss sigm(logit) too), with mismatch > 0 d_wrong (mean D(x, c~), c~ the wrong labels), and
        requested_k, the number of fake labels equal to k requested so
        far (both players' draws); ``history.seconds`` the wall time.

    Raises:
        ValueError: images and labels of different lengths, fewer than batch_size, labels outside 0..K-1, an
            unknown loss, d_steps < 1, lr_d <= 0, label_smoothing or mismatch outside [0, 1).
        NonFiniteLossError: a loss became NaN or infinite.
    """
    K = generator.num_classes
    if len(images) != len(labels) or len(images) < 1:
        raise ValueError(f"images and labels must have the same length N >= 1, got {len(images)} and {len(labels)}")
    translation.one_hot(labels, K)                                          # refuses labels outside 0..K-1
    d_steps = number(d_steps, "d_steps", "an int >= 1 (discriminator steps per generator step)", integer=True, minimum=1)
    lr_d = lr if lr_d is None else number(lr_d, "lr_d", "a number > 0 (D's learning rate) or None", minimum=0, strict=True)
    mismatch = number(mismatch, "mismatch", "a number in [0, 1) (the weight of real images with wrong labels among "
                      "D's negatives)", minimum=0)
    cgan_losses(torch.zeros(1), torch.zeros(1), torch.zeros(1), loss, label_smoothing,   # refuses a bad loss early
                torch.zeros(1) if mismatch else None, mismatch)
    steps, batch_size, lr, device, g = _setup(steps, batch_size, seed, device, lr, [generator, discriminator])
    opt_d, opt_g = _adam(discriminator, lr=lr_d, betas=betas), _adam(generator, lr=lr, betas=betas)
    by_class = [torch.nonzero(labels == k).squeeze(1) for k in range(K)] if balanced else None
    if balanced and any(len(idx) == 0 for idx in by_class):
        raise ValueError(f"balanced=True needs every class 0..{K - 1} among the labels, missing "
                         f"{[k for k, idx in enumerate(by_class) if len(idx) == 0]}")

    def real_pairs():
        if not balanced:
            pick = torch.randint(len(images), (batch_size,), generator=g)
        else:                                                               # a uniform class, then one of its images
            ks = torch.randint(K, (batch_size,), generator=g)
            u = torch.rand(batch_size, generator=g)
            pick = torch.stack([by_class[k][int(v * len(by_class[k]))] for k, v in zip(ks.tolist(), u.tolist())])
        return images[pick].to(device), labels[pick], translation.one_hot(labels[pick], K).to(device)

    requested = torch.zeros(K, dtype=torch.int64)
    history, started = History(), time.perf_counter()
    for step in _progress(steps, progress, "cGAN"):
        for _ in range(d_steps):
            x, y, c = real_pairs()
            # D: real pairs (x, c) against G(z, c') for freshly drawn labels c'
            fake_labels = translation.sample_labels(batch_size, K, g)
            z = torch.randn(batch_size, generator.latent_dim, generator=g).to(device)
            c_fake = translation.one_hot(fake_labels, K).to(device)
            with torch.no_grad():
                fake = generator(z, c_fake)
            real_logits, fake_logits = discriminator(x, c), discriminator(fake, c_fake)
            wrong_logits = None
            if mismatch:                          # the same real images x, each with a label other than its own
                c_wrong = translation.one_hot(wrong_labels(y, K, g), K).to(device)
                wrong_logits = discriminator(x, c_wrong)
            d_loss, _ = cgan_losses(real_logits, fake_logits, fake_logits.detach(), loss, label_smoothing,
                                    wrong_logits, mismatch)
            _step(opt_d, d_loss, "discriminator", step)
            requested += torch.bincount(fake_labels, minlength=K)
        # G: fresh z and labels, judged by D with the same labels
        g_labels = translation.sample_labels(batch_size, K, g)
        z = torch.randn(batch_size, generator.latent_dim, generator=g).to(device)
        c_g = translation.one_hot(g_labels, K).to(device)
        _, g_loss = cgan_losses(real_logits.detach(), fake_logits.detach(), discriminator(generator(z, c_g), c_g), loss)
        _step(opt_g, g_loss, "generator", step)
        discriminator.zero_grad(set_to_none=True)
        requested += torch.bincount(g_labels, minlength=K)
        wrong = {} if wrong_logits is None else {"d_wrong": torch.sigmoid(wrong_logits).mean().item()}
        history.log(step, d_loss=d_loss.item(), g_loss=g_loss.item(), d_real=torch.sigmoid(real_logits).mean().item(),
                    d_fake=torch.sigmoid(fake_logits).mean().item(), **wrong,
                    **{f"requested_{k}": requested[k].item() for k in range(K)})
    generator.eval(), discriminator.eval()
    history.seconds = time.perf_counter() - started
    return history


def train_pix2pix(generator: nn.Module, discriminator: translation.PatchDiscriminator | None, inputs: torch.Tensor,
                  targets: torch.Tensor, *, steps: int, lam: float = 100.0, adversarial: bool = True,
                  batch_size: int = 64, lr: float = 2e-4, betas: tuple = (0.5, 0.999), seed: int = 0, device=None,
                  progress: bool | None = None) -> History:
    r"""pix2pix (Isola et al., 2017, eq. 4): G minimises L_cGAN + lam L1 on pairs (x, y); D judges patches.

    D's step: `gan.discriminator_loss` on D(x, y) (real pairs) against D(x, G(x)) (G detached);
    an unconditional D (``discriminator.conditional`` False) sees y and G(x) alone. G's step:
    `translation.pix2pix_generator_loss`. The four rows of pix2pix's Table 1: L1 alone
    (``adversarial=False``, D unused and may be None), cGAN alone (``lam=0``), L1 + cGAN, and
    L1 + GAN with an unconditional D.

    Args:
        generator: x (B, 1, 28, 28) -> (B, 1, 28, 28), e.g. `translation.UNet`. discriminator: a PatchDiscriminator.
        inputs, targets: (N, 1, 28, 28) pairs. lam: lambda >= 0. adversarial: whether the cGAN term is used.
        batch_size, lr, betas, seed, progress: as `gan.train_gan`.

    Returns:
        History with g_loss, l1 (mean |y - G(x)| per pixel), and with the adversarial term d_loss, adversarial.

    Raises:
        ValueError: inputs and targets of different shapes, lam < 0, or adversarial without a discriminator.
        NonFiniteLossError: a loss became NaN or infinite.
    """
    translation._same_shape(inputs, targets, "inputs and targets")
    lam = translation._weight(lam, "lam")
    if adversarial and discriminator is None:
        raise ValueError("adversarial=True needs a discriminator (a translation.PatchDiscriminator), got None")
    models = [generator] + ([discriminator] if adversarial else [])
    steps, batch_size, lr, device, g = _setup(steps, batch_size, seed, device, lr, models)
    opt_g = _adam(generator, lr=lr, betas=betas)
    opt_d = _adam(discriminator, lr=lr, betas=betas) if adversarial else None
    history, started = History(), time.perf_counter()
    for step in _progress(steps, progress, "pix2pix"):
        pick = torch.randint(len(inputs), (batch_size,), generator=g)
        x, y = inputs[pick].to(device), targets[pick].to(device)
        if not adversarial:                                                     # L1 alone: plain regression
            l1 = (generator(x) - y).abs().mean()
            _step(opt_g, l1, "generator", step)
            history.log(step, g_loss=l1.item(), l1=l1.item())
            continue
        with torch.no_grad():
            fake = generator(x)
        d_loss = gan.discriminator_loss(discriminator(x, y).flatten(), discriminator(x, fake).flatten())   # every patch
        _step(opt_d, d_loss, "discriminator", step)
        out = generator(x)
        terms = translation.pix2pix_generator_loss(discriminator(x, out), out, y, lam)
        _step(opt_g, terms["loss"], "generator", step)
        discriminator.zero_grad(set_to_none=True)
        history.log(step, d_loss=d_loss.item(), g_loss=terms["loss"].item(), l1=terms["l1"].item(),
                    adversarial=terms["adversarial"].item())
    for m in models:
        m.eval()
    history.seconds = time.perf_counter() - started
    return history


def train_cyclegan(G: nn.Module, F_: nn.Module, D_X: nn.Module, D_Y: nn.Module, x_set: torch.Tensor,
                   y_set: torch.Tensor, *, steps: int, lam: float = 10.0, identity_weight: float = 0.0,
                   noise_std: float = 0.0, batch_size: int = 64, lr: float = 2e-4, betas: tuple = (0.5, 0.999),
                   seed: int = 0, device=None, progress: bool | None = None) -> History:
    r"""CycleGAN (Zhu et al., 2017, eq. 3) on unpaired sets: one step of D_X and D_Y, then one of G and F.

    Mini-batches of X and of Y are drawn independently (no pairs exist). ``lam=0`` trains two
    independent GANs G: X -> Y and F: Y -> X (the "no cycle term" ablation).

    Args:
        G: X -> Y, F_: Y -> X. D_X, D_Y: unconditional, called D(None, batch) (a PatchDiscriminator with
        conditional=False, or `Unconditional`). x_set: (N_X, ...), y_set: (N_Y, ...) of the same item shape.
        lam: lambda >= 0 of the cycle term. identity_weight: weight >= 0 of the identity loss.
        noise_std: std >= 0 of the noise added to G(x) and F(y) before the cycle's return trip (0 = off; see
            `translation.cyclegan_generator_loss`).
        batch_size, lr, betas, seed, progress: as `gan.train_gan`.

    Returns:
        History with d_loss, gan_g, gan_f, cycle, identity, g_loss per step.

    Raises:
        ValueError: x_set and y_set hold items of different shapes, lam, identity_weight or noise_std < 0.
        NonFiniteLossError: a loss became NaN or infinite.
    """
    if x_set.ndim < 2 or x_set.shape[1:] != y_set.shape[1:]:
        raise ValueError(f"x_set (domain X) and y_set (domain Y) must hold items of the same shape, got "
                         f"{tuple(x_set.shape)} and {tuple(y_set.shape)}")
    translation._weight(lam, "lam"), translation._weight(identity_weight, "identity_weight")
    number(noise_std, "noise_std", "a finite number >= 0 (a standard deviation in grey levels)", minimum=0)
    steps, batch_size, lr, device, g = _setup(steps, batch_size, seed, device, lr, [G, F_, D_X, D_Y])
    opt_d, opt_g = _adam(D_X, D_Y, lr=lr, betas=betas), _adam(G, F_, lr=lr, betas=betas)
    history, started = History(), time.perf_counter()
    for step in _progress(steps, progress, "CycleGAN"):
        x = x_set[torch.randint(len(x_set), (batch_size,), generator=g)].to(device)
        y = y_set[torch.randint(len(y_set), (batch_size,), generator=g)].to(device)
        d = translation.cyclegan_discriminator_loss(G, F_, D_X, D_Y, x, y)
        _step(opt_d, d["loss"], "discriminators", step)
        terms = translation.cyclegan_generator_loss(G, F_, D_X, D_Y, x, y, lam, identity_weight, noise_std)
        _step(opt_g, terms["loss"], "generators", step)
        D_X.zero_grad(set_to_none=True), D_Y.zero_grad(set_to_none=True)
        history.log(step, d_loss=d["loss"].item(), g_loss=terms.pop("loss").item(), **{k: v.item() for k, v in terms.items()})
    for m in (G, F_, D_X, D_Y):
        m.eval()
    history.seconds = time.perf_counter() - started
    return history


# --------------------------------------------------------------------------------------------
# Measures
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def class_accuracy(classifier: nn.Module, images: torch.Tensor, labels: torch.Tensor, num_classes: int = 10) -> dict:
    """How often a frozen classifier reads the requested class: per class and overall.

    Args:
        classifier: (N, 1, 28, 28) -> (N, K) logits (`metrics.digit_classifier`).
        images: (N, 1, 28, 28). labels: (N,) the requested classes, integers in 0..K-1.

    Returns:
        {"per_class": (K,) float64, the fraction read right among the images requested as class k (NaN
        for a class never requested), "accuracy": float, the fraction over all N}.

    Raises:
        ValueError: images and labels of different lengths, or images not (N, 1, 28, 28).
    """
    from edu_gen import metrics

    if len(images) != len(labels):
        raise ValueError(f"images and labels must have the same length, got {len(images)} and {len(labels)}")
    read = metrics.classifier_confidence(classifier, images)["label"].cpu()
    right = (read == labels.cpu()).double()
    count = torch.bincount(labels.cpu(), minlength=num_classes).double()
    per_class = torch.bincount(labels.cpu(), weights=right, minlength=num_classes) / count
    return {"per_class": per_class, "accuracy": float(right.mean())}


@torch.no_grad()
def within_class_diversity(images: torch.Tensor) -> float:
    """Mean Euclidean (pixel) distance between two different images of a set: 0 when all are the same.

    Args:
        images: (N, ...) with N >= 2, e.g. the samples of one class.

    Raises:
        ValueError: fewer than two images.
    """
    if len(images) < 2:
        raise ValueError(f"images must hold at least 2 items to measure their spread, got {len(images)}")
    return float(torch.pdist(images.flatten(1).double()).mean())


# --------------------------------------------------------------------------------------------
# The chapter's models, defined once (the chapter and benchmarks/translation_mnist.py train them)
# --------------------------------------------------------------------------------------------

# generator steps per model and scale (batch 64 for the cGAN, 32 for the translators, 256 on the 2-D rings)
BUDGETS = {
    "ci": {"cgan": 60, "pix2pix": 40, "cyclegan": 25, "ring": 200},
    "book": {"cgan": 2_000, "pix2pix": 400, "cyclegan": 400, "ring": 1_500},
    "full": {"cgan": 10_000, "pix2pix": 5_000, "cyclegan": 5_000, "ring": 5_000},
}
# Adam's learning rate per model, for both players (beta1 = 0.5 throughout). The cGAN keeps the DCGAN setting; the
# translators use 1e-3 where pix2pix and CycleGAN use 2e-4 for 100-200 epochs, as they train for a few hundred steps.
# Measured on MNIST with one thread before choosing: the L1-only U-Net's error after 800 steps was 0.055 at 1e-3
# against 0.121 at 2e-4, still falling fast (the benchmark's pix2pix rows give the chapter's). For the cGAN, 5e-4 for
# 1,200 steps read the requested class in 0.912 of its samples (classes 8 and 9: 0.70, 0.71), 2e-4 for 2,000 in 0.971.
LEARNING_RATES = {"cgan": 2e-4, "pix2pix": 1e-3, "cyclegan": 1e-3}
# pix2pix's Table 1 rows, in the paper's order (Isola et al., arXiv v3): keyword arguments of train_pix2pix, and
# whether D sees the input. "GAN alone" is the row whose generator the paper saw collapse to one output.
PIX2PIX_VARIANTS = {
    "L1 alone": ({"adversarial": False}, True),
    "GAN alone, unconditional D": ({"lam": 0.0}, False),
    "cGAN alone": ({"lam": 0.0}, True),
    "L1 + GAN, unconditional D": ({"lam": 100.0}, False),
    "L1 + cGAN": ({"lam": 100.0}, True),
}


def budget(scale: str) -> dict[str, int]:
    """The chapter's generator steps per model at `scale` ("ci", "book" or "full").

    Args:
        scale: a scale name (`runtime.scale()`, or a benchmark's --scale).

    Returns:
        {"cgan", "pix2pix", "cyclegan", "ring"}: steps (a copy).

    Raises:
        ValueError: an unknown scale.
    """
    if scale not in BUDGETS:
        raise ValueError(f"scale must be one of {sorted(BUDGETS)}, got {scale!r}")
    return dict(BUDGETS[scale])


def _cached(name: str, build, train_fn, key: dict) -> tuple[nn.ModuleDict, History]:
    from edu_gen import train

    torch.manual_seed(key.get("seed", 0))                    # the weights do not depend on what ran before
    model = nn.ModuleDict(build())
    history = train.load_or_train(name, model, train_fn, key)
    return model.cpu().eval(), history


# The chapter's conditional GAN: the network and training choices that `chapter_cgan` uses unless told otherwise
# (benchmarks/translation_mnist.py --cgan-seeds measures it over seeds; the changes tried are logged in
# benchmarks/results/translation_mnist_cgan_seeds.txt). Keys: D's conditioning and spectral_norm
# (`translation.ConditionalDiscriminator`), W_c's label_std (`translation.ConditionalGenerator`), and loss, d_steps,
# lr (G's), lr_d (D's; None: lr), betas, label_smoothing, balanced, mismatch (`train_cgan`; the weight of real
# images with wrong labels among D's negatives, Reed et al. 2016; 0 is left out of the cache key, so the models
# cached before the entry existed stay valid).
# Why a matching-aware D (mismatch 0.5, Reed et al.'s GAN-CLS weight) with label_std 0.8: measured over seeds 0-4 at
# book scale on MNIST, one thread (aim: accuracy >= 0.95 and no class below 0.85 in every seed), the earlier recipe
# (mismatch 0, label_std 1) met the aim in 1 seed of 5, its failing seeds giving a class's label to another class's
# digits; mismatch 0.5 and mismatch 0.25 met it in 4 of 5, and so did mismatch 0.5 with label_std 0.8, which alone
# of the three kept the samples' within-class diversity at the earlier recipe's level (mismatch 0.5 alone lowered
# it). The runs and their numbers: the '# log:' lines of that file, and
# benchmarks/results/translation_mnist_cgan_seeds_mismatch-0.0_label_std-1.0.txt for the earlier recipe.
CGAN_RECIPE = {"conditioning": "projection", "label_std": 0.8, "spectral_norm": False, "loss": "bce", "d_steps": 1,
               "lr": LEARNING_RATES["cgan"], "lr_d": None, "betas": (0.5, 0.999), "label_smoothing": 0.0,
               "balanced": False, "mismatch": 0.5}


def chapter_cgan(images: torch.Tensor, labels: torch.Tensor, steps: int, *, seed: int = 0,
                 **changes) -> tuple[nn.ModuleDict, History]:
    """The chapter's conditional GAN (d = 64, 16 channels, batch 64), trained once per seed and cached ("ch10_cgan").

    The recipe is `CGAN_RECIPE`; keyword arguments change single entries of it, e.g.
    ``conditioning="planes", label_std=None``, the recipe the chapter used before (the label as constant
    input planes of D, W_c at PyTorch's default), which the benchmark trains beside it.

    Args:
        images: (N, 1, 28, 28). labels: (N,) in 0..9. steps: generator steps (`budget(scale)["cgan"]`).
        seed: seeds the networks' initial weights and the training's draws (batches, z, labels), an int >= 0.
        **changes: entries of `CGAN_RECIPE` to replace.

    Returns:
        ModuleDict {"G", "D"} on the CPU in eval mode, and the History.

    Raises:
        ValueError: an entry that `CGAN_RECIPE` does not have, or as `train_cgan`, `translation.ConditionalGenerator`
            and `translation.ConditionalDiscriminator` (unknown conditioning, label_std <= 0, ...).
    """
    unknown = sorted(set(changes) - set(CGAN_RECIPE))
    if unknown:
        raise ValueError(f"chapter_cgan's changes must be entries of CGAN_RECIPE {sorted(CGAN_RECIPE)}, got {unknown}")
    seed = number(seed, "seed", "an int >= 0", integer=True, minimum=0)
    r = {**CGAN_RECIPE, **changes}
    key = {"latent_dim": 64, "channels": 16, "n": len(images), "steps": steps, "batch_size": 64, "seed": seed,
           **{k: list(v) if isinstance(v, tuple) else v for k, v in r.items() if k != "mismatch" or v}}  # 0: the old key
    train_kw = {k: r[k] for k in ("loss", "d_steps", "lr", "lr_d", "betas", "label_smoothing", "balanced", "mismatch")}
    return _cached("ch10_cgan", lambda: {"G": translation.ConditionalGenerator(64, channels=16, label_std=r["label_std"]),
                                         "D": translation.ConditionalDiscriminator(channels=16, conditioning=r["conditioning"],
                                                                                   spectral_norm=r["spectral_norm"])},
                   lambda m: train_cgan(m["G"], m["D"], images, labels, steps=steps, batch_size=64, seed=seed,
                                        **train_kw), key)


def chapter_pix2pix(variant: str, inputs: torch.Tensor, targets: torch.Tensor, steps: int,
                    layers: int = 2) -> tuple[nn.ModuleDict, History]:
    """One row of the chapter's pix2pix ablation (U-Net and PatchGAN of 8 channels, batch 32), cached ("ch10_pix2pix").

    Args:
        variant: a key of `PIX2PIX_VARIANTS`. inputs, targets: (N, 1, 28, 28) pairs. steps: generator steps.
        layers: the PatchGAN's strided convolutions, 1..3 (receptive fields 8, 18, 38 pixels; the chapter's
            table uses 2, its receptive-field sweep, after pix2pix's Table 2, all three).

    Returns:
        ModuleDict {"G", "D"} on the CPU in eval mode, and the History.

    Raises:
        ValueError: an unknown variant, layers outside 1..3, or as `train_pix2pix`.
    """
    if variant not in PIX2PIX_VARIANTS:
        raise ValueError(f"variant must be one of {list(PIX2PIX_VARIANTS)}, got {variant!r}")
    layers = number(layers, "layers", "an int in 1..3 (the PatchGAN's strided convolutions)", integer=True, minimum=1,
                    maximum=3)
    kw, conditional = PIX2PIX_VARIANTS[variant]
    lr = LEARNING_RATES["pix2pix"]
    key = {"variant": variant, "channels": 8, "layers": layers, "n": len(inputs), "steps": steps, "batch_size": 32,
           "lr": lr, "unet": "skips at 7, 14 and 28 px", **kw}
    return _cached("ch10_pix2pix", lambda: {"G": translation.UNet(channels=8),
                                            "D": translation.PatchDiscriminator(8, layers, conditional)},
                   lambda m: train_pix2pix(m["G"], m["D"], inputs, targets, steps=steps, batch_size=32, lr=lr, **kw), key)


def chapter_cyclegan(lam: float, x_set: torch.Tensor, y_set: torch.Tensor, steps: int,
                     noise_std: float = 0.0) -> tuple[nn.ModuleDict, History]:
    """The chapter's CycleGAN on digits (two U-Nets and two PatchGANs of 8 channels, batch 32), cached ("ch10_cyclegan").

    Args:
        lam: the cycle weight lambda >= 0. x_set, y_set: the unpaired domains (`translation.unpaired_domains`).
        steps: generator steps (`budget(scale)["cyclegan"]`).
        noise_std: std of the Gaussian noise added to G(x) and F(y) before the cycle's return trip
            (Bashkirova et al., 2019; 0 = the plain CycleGAN).

    Returns:
        ModuleDict {"G", "F", "D_X", "D_Y"} on the CPU in eval mode, and the History.

    Raises:
        ValueError: as `train_cyclegan`.
    """
    lr = LEARNING_RATES["cyclegan"]
    key = {"lam": lam, "channels": 8, "n": len(x_set) + len(y_set), "steps": steps, "batch_size": 32, "lr": lr,
           "unet": "skips at 7, 14 and 28 px", "task": "Y = 1 - X (translation.invert)",
           **({"noise_std": noise_std} if noise_std else {})}
    def build():
        return {"G": translation.UNet(channels=8), "F": translation.UNet(channels=8),
                "D_X": translation.PatchDiscriminator(8, 2, conditional=False),
                "D_Y": translation.PatchDiscriminator(8, 2, conditional=False)}

    return _cached("ch10_cyclegan", build, lambda m: train_cyclegan(m["G"], m["F"], m["D_X"], m["D_Y"], x_set, y_set,
                                                                      steps=steps, lam=lam, noise_std=noise_std,
                                                                      batch_size=32, lr=lr), key)
