"""edu_gen.translation: PatchGAN receptive field by gradient probe, U-Net skips, the known transforms and the
unpaired split, the pix2pix / cycle / identity losses by hand, the conditional label draw, bad input."""

import math

import pytest
import torch
import torch.nn.functional as F

from edu_gen import runtime, translation as t

runtime.set_threads()   # EDU_GEN_THREADS, or one thread per xdist worker


# ------------------------------------------------------------------ PatchGAN receptive field


@pytest.mark.parametrize("layers, expected", [(1, 8), (2, 18)])
def test_patchgan_receptive_field_matches_the_pixels_that_move_one_logit(layers, expected):
    torch.manual_seed(0)
    d = t.PatchDiscriminator(layers=layers).eval()
    x = torch.rand(1, 1, 28, 28)
    y = torch.rand(1, 1, 28, 28, requires_grad=True)
    logits = d(x, y)
    i = logits.shape[-1] // 2                                                   # a central patch: its square lies inside
    logits[0, 0, i, i].backward()
    moved = y.grad[0, 0] != 0                                                    # pixels the logit depends on
    rows, cols = moved.any(1).nonzero().squeeze(1), moved.any(0).nonzero().squeeze(1)
    side_r, side_c = (rows.max() - rows.min() + 1).item(), (cols.max() - cols.min() + 1).item()
    assert rows.min() > 0 and rows.max() < 27                                  # not clipped by the border
    assert side_r == side_c == t.receptive_field(d) == expected
    assert moved.sum().item() == expected**2                                     # a full square, no holes


def test_receptive_field_of_a_hand_chain():
    """k=3 s=1, k=4 s=2, k=3 s=2: r = 1 + 2 = 3, 3 + 3 * 1 = 6, 6 + 2 * 2 = 10."""
    chain = torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3), torch.nn.Conv2d(1, 1, 4, stride=2),
                                torch.nn.Conv2d(1, 1, 3, stride=2))
    assert t.receptive_field(chain) == 10
    with pytest.raises(ValueError, match="no Conv2d"):
        t.receptive_field(torch.nn.Linear(2, 2))


# ------------------------------------------------------------------ U-Net skip connections


def _zero_bottleneck(module, inputs, output):
    return torch.zeros_like(output)


def _vary(net, x1, x2, zero, probe=None):
    """max |out(x1) - out(x2)| with the module `zero` of net outputting zeros; out = net's output or probe's input."""
    seen = []
    zero.register_forward_hook(_zero_bottleneck)
    if probe is not None:
        probe.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    with torch.no_grad():
        out1, out2 = net(x1), net(x2)
    if probe is not None:
        out1, out2 = seen
    return (out1 - out2).abs().max().item()


def test_unet_output_depends_on_the_input_through_the_skips_alone():
    torch.manual_seed(0)
    x1, x2 = torch.rand(4, 1, 28, 28), torch.rand(4, 1, 28, 28)
    found = {}
    for skips in (True, False):
        nets = [t.UNet(skips=skips).eval() for _ in range(4)]
        found[skips] = [_vary(nets[0], x1, x2, nets[0].bottleneck),              # output, 7x7 bottleneck zeroed
                        _vary(nets[1], x1, x2, nets[1].bottleneck, nets[1].up2),  # 7x7 decoder input: the 7x7 skip
                        _vary(nets[2], x1, x2, nets[2].down2),                   # output, all of 7x7 zeroed: the 14x14 skip
                        _vary(nets[3], x1, x2, nets[3].down1)]                   # 14x14 and 7x7 zeroed: the 28x28 skip
    # without skips, zeroing the bottleneck makes everything after it constant: measured 0 exactly
    assert found[False] == [0.0, 0.0, 0.0, 0.0]
    # with skips each path still follows x: measured 0.048, 0.33, 0.051, 0.049 at this initialisation; > 40x margin
    assert min(found[True]) > 1e-3, found


# ------------------------------------------------------------------ the known transforms and the unpaired split


def test_invert_rotate_and_its_inverse():
    grid = (torch.arange(256.0) / 256).reshape(1, 1, 16, 16)                   # k/256: 1 - x exact in float32
    g = grid[torch.zeros(3, dtype=torch.long)].clone()
    g[1] = g[1].flip(-1)
    g[2] = g[2].transpose(-1, -2).clone()
    assert torch.equal(t.invert_rotate_inverse(t.invert_rotate(g)), g)           # exact: a permutation and 1 - x
    x = torch.randint(0, 256, (5, 1, 28, 28)).float() / 255                     # MNIST's grey levels k/255
    # 1 - (1 - x) is x up to one float32 rounding, at most 2^-25 (measured 2.98e-8)
    assert (t.invert_rotate_inverse(t.invert_rotate(x)) - x).abs().max().item() <= 2.0**-25
    one = torch.zeros(1, 1, 4, 4)
    one[0, 0, 0, 3] = 1.0                                                        # a bright top-right pixel
    y = t.invert_rotate(one)
    assert y[0, 0, 0, 0] == 0.0 and (y == 1.0).sum() == 15                      # becomes a dark top-left pixel (anticlockwise)
    assert (t.invert_rotate(t.invert_rotate(x)) - x).abs().max() > 0.5           # T is not its own inverse


def test_invert_is_its_own_inverse_and_pixelwise():
    x = torch.randint(0, 256, (5, 1, 28, 28)).float() / 255                     # MNIST's grey levels k/255
    assert (t.invert(t.invert(x)) - x).abs().max().item() <= 2.0**-25            # one float32 rounding at most
    one = torch.zeros(1, 1, 8, 8)
    one[0, 0, 1, 2] = 1.0
    y = t.invert(one)
    assert y[0, 0, 1, 2] == 0.0 and (y == 1.0).sum() == 63                      # dark at the same place, white elsewhere
    with pytest.raises(ValueError, match=r"x must be square images"):
        t.invert(torch.rand(2, 1, 28, 20))


def test_unpaired_halves_are_disjoint_and_cover_the_set():
    a, b = t.unpaired_split(1001, seed=3)
    assert len(a) == 500 and len(b) == 501
    assert not set(a.tolist()) & set(b.tolist())
    assert sorted(a.tolist() + b.tolist()) == list(range(1001))
    images = torch.rand(40, 1, 28, 28)
    domains = t.unpaired_domains(images, seed=1)
    assert torch.equal(domains["y"], t.invert(images[domains["index_y"]]))       # the chapter's T by default
    back = t.invert(domains["y"]).flatten(1)                                     # every Y image mapped back to X's space
    distance = torch.cdist(domains["x"].flatten(1), back)                        # no X image has its pair in Y
    assert distance.min() > 1.0                                                  # random images: measured ~11; unpaired


# ------------------------------------------------------------------ the losses, by hand


def test_pix2pix_generator_loss_by_hand():
    logits = torch.tensor([0.0, math.log(3.0)])                                  # D = 1/2 and 3/4
    output = torch.full((1, 1, 2, 2), 0.25)
    target = torch.tensor([[[[0.75, 0.25], [0.25, 0.75]]]])                       # |y - G(x)| = 0.5, 0, 0, 0.5
    terms = t.pix2pix_generator_loss(logits, output, target, lam=100.0)
    adversarial = (math.log(2.0) + math.log(4.0 / 3.0)) / 2                      # -mean log D
    assert terms["adversarial"].item() == pytest.approx(adversarial, rel=1e-6)
    assert terms["l1"].item() == pytest.approx(0.25, rel=1e-6)
    assert terms["loss"].item() == pytest.approx(adversarial + 25.0, rel=1e-6)   # float32: rel 1e-6 is ~10 ulp
    assert t.pix2pix_generator_loss(logits, output, target, lam=0)["loss"].item() == pytest.approx(adversarial, rel=1e-6)


def test_cycle_and_identity_losses_by_hand():
    x = torch.zeros(2, 1, 2, 2)
    y = torch.ones(3, 1, 2, 2)                                                   # a batch of another size: unpaired
    y_cycled = y.clone()
    y_cycled[1, 0, 0, 0] = 0.9                                                   # one pixel of 12 off by 0.1
    assert t.cycle_consistency_loss(x, x + 0.5, y, y_cycled).item() == pytest.approx(0.5 + 0.1 / 12, rel=1e-6)
    assert t.identity_loss(x, x + 0.2, y, y - 0.3).item() == pytest.approx(0.5, rel=1e-6)


class _Mean(torch.nn.Module):
    """An unconditional 'discriminator' whose logit is scale * (mean of the image)."""

    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def forward(self, x, y):
        assert x is None
        return self.scale * y.mean(dim=(1, 2, 3))


class _Affine(torch.nn.Module):
    def __init__(self, a, b):
        super().__init__()
        self.a, self.b = a, b

    def forward(self, x):
        return self.a * x + self.b


def test_cyclegan_generator_loss_pairs_each_generator_with_its_discriminator():
    """G(x) = 2x, F(y) = y + 0.1, D_Y = mean, D_X = 3 mean; x = 0.1, y = 0.3 everywhere.

    G(x) = 0.2 -> L_GAN(G, D_Y) = softplus(-0.2); F(y) = 0.4 -> L_GAN(F, D_X) = softplus(-1.2)
    (the lecture's L_GAN(G, D_X) would give softplus(-0.6)); F(G(x)) - x = 0.2, G(F(y)) - y = 0.5;
    G(y) - y = 0.3, F(x) - x = 0.1.
    """
    G, F_, D_X, D_Y = _Affine(2.0, 0.0), _Affine(1.0, 0.1), _Mean(3.0), _Mean(1.0)
    x, y = torch.full((2, 1, 4, 4), 0.1), torch.full((3, 1, 4, 4), 0.3)
    terms = t.cyclegan_generator_loss(G, F_, D_X, D_Y, x, y, lam=10.0, identity_weight=2.0)
    sp = lambda v: F.softplus(torch.tensor(v)).item()                            # noqa: E731
    expected = {"gan_g": sp(-0.2), "gan_f": sp(-1.2), "cycle": 0.7, "identity": 0.4}
    for name, value in expected.items():
        assert terms[name].item() == pytest.approx(value, rel=1e-5), name        # float32 sums: rel 1e-5 margin
    assert terms["loss"].item() == pytest.approx(sp(-0.2) + sp(-1.2) + 7.0 + 0.8, rel=1e-5)
    d = t.cyclegan_discriminator_loss(G, F_, D_X, D_Y, x, y)
    assert d["d_y"].item() == pytest.approx(sp(-0.3) + sp(0.2), rel=1e-5)        # y real, G(x) fake
    assert d["d_x"].item() == pytest.approx(sp(-0.3) + sp(1.2), rel=1e-5)        # x real (3 * 0.1), F(y) fake


def test_cyclegan_noise_reaches_the_return_trip_only():
    """G = F = identity, D_X = D_Y = mean: noise_std s leaves both adversarial terms as they were and makes the
    cycle term mean |n| + mean |n'| with n, n' ~ N(0, s^2) per pixel, 2 s sqrt(2/pi) in expectation (Bashkirova
    et al., 2019: the noise is added to G(x) and F(y) before the other translator reads them back)."""
    G, D = _Affine(1.0, 0.0), _Mean(1.0)
    x, y = torch.full((64, 1, 16, 16), 0.1), torch.full((64, 1, 16, 16), 0.3)
    clean = t.cyclegan_generator_loss(G, G, D, D, x, y, lam=1.0)
    torch.manual_seed(0)
    noisy = t.cyclegan_generator_loss(G, G, D, D, x, y, lam=1.0, noise_std=0.1)
    assert clean["cycle"].item() == 0.0
    assert noisy["gan_g"].item() == clean["gan_g"].item() and noisy["gan_f"].item() == clean["gan_f"].item()
    # 16,384 draws per direction: the relative standard error of mean |n| is 0.60 / 0.80 / 128 ~ 0.6%, of the sum
    # ~ 0.4%; 2% is 5 of them
    assert noisy["cycle"].item() == pytest.approx(2 * 0.1 * math.sqrt(2 / math.pi), rel=0.02)
    with pytest.raises(ValueError, match=r"noise_std must be a finite number >= 0.*-0.1"):
        t.cyclegan_generator_loss(G, G, D, D, x, y, noise_std=-0.1)


# ------------------------------------------------------------------ conditional GAN


def test_every_class_including_the_last_is_drawn():
    g = torch.Generator().manual_seed(0)
    counts = torch.bincount(t.sample_labels(10_000, generator=g), minlength=10)
    assert len(counts) == 10
    # each class expects 1000 with sd 30 (measured min 922): below 850 is a 5-sd event; a class never drawn gives 0
    assert counts.min() > 850
    gen = t.ConditionalGenerator(latent_dim=8, channels=4)
    _, labels = gen.sample(2_000, generator=g)
    assert set(labels.tolist()) == set(range(10))


def test_conditional_networks_read_the_condition():
    torch.manual_seed(0)
    gen, disc = t.ConditionalGenerator(latent_dim=8, channels=4).eval(), t.ConditionalDiscriminator(channels=4).eval()
    z = torch.randn(10, 8)
    with torch.no_grad():
        a = gen(z, t.one_hot(torch.arange(10)))
        b = gen(z, t.one_hot((torch.arange(10) + 1) % 10))
        x = torch.rand(10, 1, 28, 28)
        da, db = disc(x, t.one_hot(torch.arange(10))), disc(x, t.one_hot((torch.arange(10) + 1) % 10))
    # same z, other class: measured max differences 0.02 (G) and 0.06 (D) at this initialisation; >= 20x margin
    assert (a - b).abs().max() > 1e-3 and (da - db).abs().max() > 1e-3


def test_projection_discriminator_by_hand_and_the_label_init():
    """D(x, c) = psi(phi(x)) + c^T V phi(x) (Miyato & Koyama, eq. 3); W_c drawn from N(0, label_std^2)."""
    torch.manual_seed(0)
    disc = t.ConditionalDiscriminator(channels=4).eval()
    x, labels = torch.rand(6, 1, 28, 28), torch.tensor([0, 3, 9, 9, 5, 1])
    with torch.no_grad():
        phi = disc.features(x)                                                   # (6, 2 * 4 * 49)
        by_hand = phi @ disc.read_out.weight[0] + disc.read_out.bias + (disc.embed.weight.T[labels] * phi).sum(1)
        logits = disc(x, t.one_hot(labels))
    assert logits.shape == (6,) and torch.allclose(logits, by_hand, atol=1e-5)  # float32 sums of 392 terms
    planes = t.ConditionalDiscriminator(channels=4, conditioning="planes")
    assert planes.features[0].in_channels == 11 and planes.embed is None       # 1 image + K = 10 label planes
    with pytest.raises(ValueError, match=r"conditioning must be one of \('projection', 'planes'\), got 'concat'"):
        t.ConditionalDiscriminator(conditioning="concat")
    gen = t.ConditionalGenerator(latent_dim=64, channels=4)                      # label_std 1 by default
    w_c, w_z = gen.project[0].weight[:, 64:], gen.project[0].weight[:, :64]
    # 392 x 10 draws of N(0, 1): the sample std is within 0.03 of 1 (measured 1.00); PyTorch's default is ~0.07
    assert abs(w_c.std().item() - 1.0) < 0.05 and w_z.abs().max() <= 1 / math.sqrt(74) + 1e-6
    default = t.ConditionalGenerator(latent_dim=64, channels=4, label_std=None)
    assert default.project[0].weight[:, 64:].abs().max() <= 1 / math.sqrt(74) + 1e-6    # uniform within +-1/sqrt(d + K)
    with pytest.raises(ValueError, match=r"label_std must be a number > 0"):
        t.ConditionalGenerator(label_std=0.0)


def test_translation_re_exports_every_public_name_of_its_four_files():
    # edu_gen.translation is the name chapters, tests and benchmarks use; mutated: dropping invert or
    # CONDITIONINGS from its imports fails
    from _reexports import missing_reexports

    from edu_gen import translation_cgan, translation_cycle, translation_pix2pix, translation_tasks

    for module in (translation_cgan, translation_pix2pix, translation_cycle, translation_tasks):
        missing = missing_reexports(t, module, at_least=3)
        assert not missing, f"edu_gen.translation lacks {missing} of {module.__name__}"
    for private in ("_weight", "_same_shape", "_check_condition"):                  # translation_train uses them
        assert hasattr(t, private)


# ------------------------------------------------------------------ bad input


def test_bad_input_names_the_argument():
    gen, disc = t.ConditionalGenerator(latent_dim=8, channels=4), t.ConditionalDiscriminator(channels=4)
    with pytest.raises(ValueError, match=r"c must be a condition of shape \(B, K\) = \(3, 10\).*\(3, 9\)"):
        gen(torch.randn(3, 8), torch.zeros(3, 9))
    with pytest.raises(ValueError, match=r"c must be .*\(2, 10\)"):
        disc(torch.rand(3, 1, 28, 28), torch.zeros(2, 10))
    with pytest.raises(ValueError, match="labels must lie in 0..9"):
        t.one_hot(torch.tensor([3, 10]))
    x, y = torch.rand(2, 1, 28, 28), torch.rand(2, 1, 32, 32)
    net = t.UNet()
    with pytest.raises(ValueError, match=r"x \(domain X\) and y \(domain Y\).*\(2, 1, 28, 28\).*\(2, 1, 32, 32\)"):
        t.cyclegan_generator_loss(net, net, None, None, x, y)
    with pytest.raises(ValueError, match=r"x \(domain X\) and y \(domain Y\)"):
        t.cyclegan_discriminator_loss(net, net, None, None, x, y)
    with pytest.raises(ValueError, match=r"lam must be a finite number >= 0.*-1"):
        t.pix2pix_generator_loss(torch.zeros(2), x, x, lam=-1)
    with pytest.raises(ValueError, match=r"lam must be .*-0.5"):
        t.cyclegan_generator_loss(net, net, None, None, x, x, lam=-0.5)
    with pytest.raises(ValueError, match=r"identity_weight must be .*-1"):
        t.cyclegan_generator_loss(net, net, None, None, x, x, identity_weight=-1)
    with pytest.raises(ValueError, match="output and target must have the same shape"):
        t.pix2pix_generator_loss(torch.zeros(2), x, y)
    with pytest.raises(ValueError, match=r"conditional PatchDiscriminator needs x and y of the same shape.*x None"):
        t.PatchDiscriminator()(None, x)
    with pytest.raises(ValueError, match=r"lam must be a finite number"):
        t.pix2pix_generator_loss(torch.zeros(2), x, x, lam=float("nan"))
    with pytest.raises(ValueError, match=r"n must be an int >= 2.*1 \(int\)"):
        t.unpaired_split(1)
    with pytest.raises(ValueError, match=r"x must be square images \(B, C, H, H\).*\(2, 1, 28, 20\)"):
        t.invert_rotate(torch.rand(2, 1, 28, 20))


# ------------------------------------------------------------------ translation_train: loops and measures


def test_train_cgan_requests_every_class_the_last_included():
    """The fake labels of both players are counted; with randint(0, K - 1) class 9 would get none (watched fail)."""
    from edu_gen import translation_train as tt

    torch.manual_seed(0)
    gen, disc = t.ConditionalGenerator(latent_dim=8, channels=4), t.ConditionalDiscriminator(channels=4)
    images, labels = torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))
    history = tt.train_cgan(gen, disc, images, labels, steps=20, batch_size=32, device="cpu", progress=False)
    counts = torch.tensor([history[f"requested_{k}"][-1] for k in range(10)])
    assert counts.sum() == 20 * 2 * 32                                          # both players' draws, every step
    expected = counts.sum() / 10
    assert (counts > 0).all() and ((counts - expected).abs() < 5 * math.sqrt(expected * 0.9)).all()
    assert not gen.training and not disc.training


def test_cgan_losses_by_hand_hinge_and_label_smoothing():
    """Hinge: D relu(1 - l_real) + relu(1 + l_fake), G -l_fake; smoothing: BCE of the real pairs against 1 - s."""
    from edu_gen import gan
    from edu_gen import translation_train as tt

    real, fake, g = torch.tensor([2.0, 0.5]), torch.tensor([-3.0, 0.0]), torch.tensor([1.0, -1.0, 4.0])
    d, gl = tt.cgan_losses(real, fake, g, "hinge")
    assert d.item() == pytest.approx((0 + 0.5) / 2 + (0 + 1.0) / 2)                # mutated: 1 + l_real fails
    assert gl.item() == pytest.approx(-4.0 / 3)
    d, gl = tt.cgan_losses(real, fake, g, "bce")
    assert d.item() == pytest.approx(gan.discriminator_loss(real, fake).item())
    assert gl.item() == pytest.approx(F.softplus(-g).mean().item())               # -mean log sigm(l)
    s = 0.1
    d, _ = tt.cgan_losses(real, fake, g, "bce", label_smoothing=s)
    by_hand = (-(1 - s) * F.logsigmoid(real) - s * F.logsigmoid(-real)).mean() + F.softplus(fake).mean()
    assert d.item() == pytest.approx(by_hand.item())                              # mutated: target s instead of 1 - s fails
    with pytest.raises(ValueError, match=r"loss must be one of \('bce', 'hinge'\), got 'wgan'"):
        tt.cgan_losses(real, fake, g, "wgan")
    with pytest.raises(ValueError, match=r"label_smoothing must be a number in \[0, 1\).*1.0"):
        tt.cgan_losses(real, fake, g, "bce", label_smoothing=1.0)
    with pytest.raises(ValueError, match="label_smoothing applies to the 'bce' loss only"):
        tt.cgan_losses(real, fake, g, "hinge", label_smoothing=0.1)


def test_cgan_losses_mismatch_term_by_hand():
    """w > 0: D's negatives are (1 - w) fakes + w real images with wrong labels; w = 1/2 is Reed et al.'s L_D."""
    from edu_gen import translation_train as tt

    real, fake, wrong, g = torch.tensor([2.0, 0.5]), torch.tensor([-3.0, 0.0]), torch.tensor([1.5, -0.5]), torch.ones(2)
    d, _ = tt.cgan_losses(real, fake, g, "bce", wrong_logits=wrong, mismatch=0.5)
    log_s = F.logsigmoid                                                      # log sigm(l) = log D
    reed = -(log_s(real).mean() + (log_s(-wrong).mean() + log_s(-fake).mean()) / 2)   # their Algorithm 1, line 10
    assert d.item() == pytest.approx(reed.item())                             # mutated: wrong term dropped fails
    d, _ = tt.cgan_losses(real, fake, g, "hinge", wrong_logits=wrong, mismatch=0.25)
    by_hand = F.relu(1 - real).mean() + 0.75 * F.relu(1 + fake).mean() + 0.25 * F.relu(1 + wrong).mean()
    assert d.item() == pytest.approx(by_hand.item())                          # mutated: weights w, w fails
    assert tt.cgan_losses(real, fake, g)[0].item() == tt.cgan_losses(real, fake, g, mismatch=0.0)[0].item()
    with pytest.raises(ValueError, match=r"mismatch must be a number in \[0, 1\).*got 1.0"):
        tt.cgan_losses(real, fake, g, wrong_logits=wrong, mismatch=1.0)
    with pytest.raises(ValueError, match=r"mismatch=0.5 needs wrong_logits.*got None"):
        tt.cgan_losses(real, fake, g, mismatch=0.5)
    with pytest.raises(ValueError, match=r"wrong_logits are used only with mismatch > 0"):
        tt.cgan_losses(real, fake, g, wrong_logits=wrong)


def test_wrong_labels_are_never_the_right_one_and_uniform_among_the_other_classes():
    from edu_gen import translation_train as tt

    labels = torch.arange(10).repeat(1800)
    wrong = tt.wrong_labels(labels, 10, torch.Generator().manual_seed(0))
    assert wrong.dtype == torch.int64 and wrong.shape == labels.shape
    assert (wrong != labels).all()                                 # mutated: shift randint(0, K) fails
    counts = torch.stack([torch.bincount(wrong[labels == c], minlength=10) for c in range(10)])   # (right, wrong)
    assert (counts.diagonal() == 0).all()
    off = counts[~torch.eye(10, dtype=torch.bool)].double()       # each of the 9 others: 1800 / 9 = 200, sd 13.3
    assert ((off - 200).abs() < 5 * math.sqrt(200 * 8 / 9)).all()  # mutated: shift randint(1, K - 1) (c - 1 never drawn) fails
    with pytest.raises(ValueError, match=r"labels must lie in 0..9, got values in \[0, 10\]"):
        tt.wrong_labels(torch.tensor([0, 10]), 10)


class _Spy(torch.nn.Module):
    """Records every call D(x, c) -> logits of a wrapped discriminator."""

    def __init__(self, net):
        super().__init__()
        self.net, self.calls = net, []

    def forward(self, x, c):
        out = self.net(x, c)
        self.calls.append((x.detach().clone(), c.argmax(1), out.detach().clone()))
        return out


def test_train_cgan_mismatch_shows_d_the_real_images_with_wrong_labels():
    """Per step: D(x, c), D(G(z), c'), D(x, c~) with c~ != c everywhere, then G's call; D's loss from those logits."""
    from edu_gen import translation_train as tt

    torch.manual_seed(0)
    gen, disc = t.ConditionalGenerator(latent_dim=8, channels=4), _Spy(t.ConditionalDiscriminator(channels=4))
    images, labels = torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))
    steps, w = 3, 0.5
    history = tt.train_cgan(gen, disc, images, labels, steps=steps, batch_size=16, device="cpu", progress=False,
                            mismatch=w)
    assert len(disc.calls) == 4 * steps                           # mutated: wrong-label term removed: 3 calls a step
    for step in range(steps):
        (x, c, real), (_, _, fake), (x_w, c_w, wrong), (x_g, _, _) = disc.calls[4 * step: 4 * step + 4]
        assert torch.equal(x_w, x) and not torch.equal(x_g, x)   # the step's real images, again
        assert (c_w != c).all()                                   # mutated: the right labels c given fails
        by_hand = (F.softplus(-real).mean() + (1 - w) * F.softplus(fake).mean() + w * F.softplus(wrong).mean())
        assert history["d_loss"][step] == pytest.approx(by_hand.item(), rel=1e-5)
        assert history["d_wrong"][step] == pytest.approx(torch.sigmoid(wrong).mean().item(), rel=1e-5)
    plain = _Spy(t.ConditionalDiscriminator(channels=4))
    tt.train_cgan(gen, plain, images, labels, steps=1, batch_size=16, device="cpu", progress=False)
    assert len(plain.calls) == 3                                  # mismatch 0: nothing more is computed
    with pytest.raises(ValueError, match=r"mismatch must be a number >= 0|mismatch must be a number in"):
        tt.train_cgan(gen, disc, images, labels, steps=1, device="cpu", mismatch=-0.1)
    with pytest.raises(ValueError, match=r"mismatch must be a number in \[0, 1\).*got 1"):
        tt.train_cgan(gen, disc, images, labels, steps=1, device="cpu", mismatch=1)


def test_spectral_norm_discriminator_has_unit_singular_values_and_no_batch_norm():
    """After enough power iterations every normalised weight (conv weights as out x (in k k)) has sigma_max ~ 1."""
    torch.manual_seed(0)
    d = t.ConditionalDiscriminator(channels=4, spectral_norm=True)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in d.modules())
    x, c = torch.rand(4, 1, 28, 28), t.one_hot(torch.tensor([0, 3, 5, 9]))
    for _ in range(50):                                      # each training call runs one power iteration
        d(x, c)
    d.eval()
    weights = [m.weight for m in d.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(weights) == 4                                 # two convolutions, psi, V
    sigmas = [torch.linalg.matrix_norm(w.detach().flatten(1), ord=2).item() for w in weights]
    assert sigmas == pytest.approx([1.0] * 4, abs=1e-3)      # measured within 1e-5 after 50 iterations
    plain = t.ConditionalDiscriminator(channels=4)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in plain.modules())
    assert max(torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2).item()
               for m in plain.modules() if isinstance(m, torch.nn.Linear)) > 1.5      # not normalised without the flag
    with pytest.raises(TypeError, match="spectral_norm must be True or False, got 1"):
        t.ConditionalDiscriminator(spectral_norm=1)


def test_train_cgan_options_d_steps_balanced_and_bad_input():
    from edu_gen import translation_train as tt

    torch.manual_seed(0)
    gen, disc = t.ConditionalGenerator(latent_dim=8, channels=4), t.ConditionalDiscriminator(channels=4, spectral_norm=True)
    images, labels = torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))
    history = tt.train_cgan(gen, disc, images, labels, steps=3, batch_size=16, device="cpu", progress=False,
                            loss="hinge", d_steps=2, lr_d=4e-4, balanced=True)
    counts = torch.tensor([history[f"requested_{k}"][-1] for k in range(10)])
    assert counts.sum() == 3 * (2 + 1) * 16                                     # two D draws and one G draw per step
    with pytest.raises(ValueError, match=r"d_steps must be an int >= 1"):
        tt.train_cgan(gen, disc, images, labels, steps=1, device="cpu", d_steps=0)
    with pytest.raises(ValueError, match=r"lr_d must be a number > 0"):
        tt.train_cgan(gen, disc, images, labels, steps=1, device="cpu", lr_d=0.0)
    with pytest.raises(ValueError, match=r"loss must be one of"):
        tt.train_cgan(gen, disc, images, labels, steps=1, device="cpu", loss="ls")
    with pytest.raises(ValueError, match=r"balanced=True needs every class 0..9 among the labels, missing \[9\]"):
        tt.train_cgan(gen, disc, images, labels % 9, steps=1, device="cpu", balanced=True)


def test_balanced_sampler_draws_every_class_equally_often(monkeypatch):
    """With 90% of the labels 0, the real pairs' classes are still uniform (counted through one_hot's calls)."""
    from edu_gen import translation_train as tt

    seen = []
    real_one_hot = t.one_hot

    def counting(labels, num_classes=10):
        seen.append(labels.clone())
        return real_one_hot(labels, num_classes)

    torch.manual_seed(0)
    gen, disc = t.ConditionalGenerator(latent_dim=8, channels=4), t.ConditionalDiscriminator(channels=4)
    labels = torch.cat([torch.zeros(900, dtype=torch.int64), torch.arange(1, 10).repeat(12)])
    images = torch.rand(len(labels), 1, 28, 28)
    monkeypatch.setattr(t, "one_hot", counting)
    tt.train_cgan(gen, disc, images, labels, steps=20, batch_size=64, device="cpu", progress=False, balanced=True)
    real = torch.cat(seen[1::3])                   # the labels check, then per step: real, fake, G's draws
    assert len(real) == 20 * 64
    share = torch.bincount(real, minlength=10).double() / len(real)
    assert share[0] < 0.2 and share.min() > 0.05   # uniform: 0.1 each (sd ~0.008); unbalanced draw: class 0 0.906 (watched fail)


def test_chapter_cgan_seed_enters_the_weights_and_the_cache_key(tmp_path, monkeypatch):
    from edu_gen import translation_train as tt

    monkeypatch.setenv("EDU_GEN_CACHE", str(tmp_path))
    x, y = torch.rand(64, 1, 28, 28), torch.arange(10).repeat(7)[:64]
    w = {seed: [p.detach().clone() for p in tt.chapter_cgan(x, y, steps=1, seed=seed)[0]["G"].parameters()] for seed in (0, 1)}
    assert not all(torch.equal(a, b) for a, b in zip(w[0], w[1]))
    again = [p.detach() for p in tt.chapter_cgan(x, y, steps=1, seed=1)[0]["G"].parameters()]   # from the cache
    assert all(torch.equal(a, b) for a, b in zip(w[1], again))
    assert len(list((tmp_path / "checkpoints").glob("ch10_cgan-*"))) == 2
    from edu_gen import train

    keys, load_or_train = [], train.load_or_train
    monkeypatch.setattr(train, "load_or_train",
                        lambda name, model, fn, key: keys.append(key) or load_or_train(name, model, fn, key))
    tt.chapter_cgan(x, y, steps=1, seed=1, mismatch=0.0)                    # mismatch 0: the key of the models cached
    assert set(keys[-1]) == {"latent_dim", "channels", "n", "steps", "batch_size", "seed", "conditioning",   # before
                             "label_std", "spectral_norm", "loss", "d_steps", "lr", "lr_d", "betas",     # the entry
                             "label_smoothing", "balanced"}                 # existed (mutated: kept in the key: fails)
    assert len(list((tmp_path / "checkpoints").glob("ch10_cgan-*"))) == 3   # not the recipe's (mismatch 0.5): trained
    tt.chapter_cgan(x, y, steps=1, seed=1, mismatch=tt.CGAN_RECIPE["mismatch"])   # the recipe's own: from the cache
    assert keys[-1]["mismatch"] == 0.5 and len(list((tmp_path / "checkpoints").glob("ch10_cgan-*"))) == 3
    with pytest.raises(ValueError, match=r"entries of CGAN_RECIPE .*got \['lr_g'\]"):
        tt.chapter_cgan(x, y, steps=1, lr_g=1e-3)
    with pytest.raises(ValueError, match=r"seed must be an int >= 0"):
        tt.chapter_cgan(x, y, steps=1, seed=-1)


def test_train_pix2pix_each_player_moves_only_its_own_parameters_and_l1_alone_learns():
    from edu_gen import translation_train as tt

    torch.manual_seed(0)
    x = torch.rand(64, 1, 28, 28)
    gen, disc = t.UNet(channels=4), t.PatchDiscriminator(channels=4)
    d_before = [p.detach().clone() for p in disc.parameters()]
    history = tt.train_pix2pix(gen, disc, x, x, steps=40, adversarial=False, batch_size=16, lr=1e-2,
                               device="cpu", progress=False)
    assert all(torch.equal(a, b) for a, b in zip(d_before, disc.parameters()))      # L1 alone: D never touched
    assert history["l1"][-1] < 0.75 * history["l1"][0]                              # measured 0.264 -> 0.153
    history = tt.train_pix2pix(gen, disc, x, x, steps=2, lam=100.0, batch_size=16, device="cpu", progress=False)
    assert not all(torch.equal(a, b) for a, b in zip(d_before, disc.parameters()))  # with the cGAN term, D trains
    assert set(history.keys()) >= {"d_loss", "g_loss", "l1", "adversarial"}
    with pytest.raises(ValueError, match="adversarial=True needs a discriminator"):
        tt.train_pix2pix(gen, None, x, x, steps=1, device="cpu")
    with pytest.raises(ValueError, match=r"inputs and targets must have the same shape"):
        tt.train_pix2pix(gen, disc, x, x[:, :, :, :27], steps=1, device="cpu")
    with pytest.raises(ValueError, match=r"lam must be a finite number >= 0.*-2"):
        tt.train_pix2pix(gen, disc, x, x, steps=1, lam=-2, device="cpu")


def test_train_cyclegan_cycle_term_makes_f_undo_g_on_points():
    """2-D points, MLP translators: with lambda = 10 the cycle error falls well below lambda = 0's (same seed)."""
    from edu_gen import gan
    from edu_gen import translation_train as tt

    config = gan.GANConfig(kind="mlp", data_shape=(2,), latent_dim=2, hidden_dim=32, image_output="linear")
    x, y = torch.randn(512, 2), 2 * torch.randn(512, 2) + 3
    cycle = {}
    for lam in (10.0, 0.0):
        torch.manual_seed(0)
        nets = [gan.MLPGenerator(config), gan.MLPGenerator(config),
                tt.Unconditional(gan.MLPDiscriminator(config)), tt.Unconditional(gan.MLPDiscriminator(config))]
        tt.train_cyclegan(*nets, x, y, steps=150, lam=lam, batch_size=128, lr=3e-3, device="cpu", progress=False)
        with torch.no_grad():
            cycle[lam] = (nets[1](nets[0](x)) - x).abs().mean().item()
    assert cycle[10.0] < 0.5 * cycle[0.0]
    with pytest.raises(ValueError, match=r"x_set \(domain X\) and y_set \(domain Y\).*\(512, 2\).*\(4, 3\)"):
        tt.train_cyclegan(*nets, x, torch.rand(4, 3), steps=1, device="cpu")


def test_class_accuracy_and_within_class_diversity_by_hand():
    from edu_gen import translation_train as tt

    class ReadsPixel(torch.nn.Module):                   # reads class k when pixel (0, k) is the brightest of row 0
        def forward(self, x):
            return x[:, 0, 0, :10] * 10

    images = torch.zeros(6, 1, 28, 28)
    read_as = torch.tensor([0, 0, 1, 9, 9, 9])
    images[torch.arange(6), 0, 0, read_as] = 1.0
    requested = torch.tensor([0, 1, 1, 9, 9, 2])           # right: 0, no, 1, 9, 9, no
    out = tt.class_accuracy(ReadsPixel(), images, requested)
    assert out["accuracy"] == pytest.approx(4 / 6)
    assert out["per_class"][0] == 1.0 and out["per_class"][1] == 0.5 and out["per_class"][9] == 1.0
    assert out["per_class"][2] == 0.0 and torch.isnan(out["per_class"][5])          # never requested: NaN
    # three images: all 0, all 1, all 0 -> distances 28, 0, 28 (sqrt(784) = 28): mean 56 / 3
    spread = tt.within_class_diversity(torch.stack([torch.zeros(1, 28, 28), torch.ones(1, 28, 28), torch.zeros(1, 28, 28)]))
    assert spread == pytest.approx(56 / 3)
    with pytest.raises(ValueError, match="at least 2"):
        tt.within_class_diversity(torch.zeros(1, 1, 28, 28))
    with pytest.raises(ValueError, match="same length"):
        tt.class_accuracy(ReadsPixel(), images, requested[:3])


def test_chapter_budgets_and_variants_refuse_unknown_names():
    from edu_gen import translation_train as tt

    assert tt.budget("ci") == {"cgan": 60, "pix2pix": 40, "cyclegan": 25, "ring": 200}
    assert set(tt.budget("book")) == set(tt.budget("full")) == {"cgan", "pix2pix", "cyclegan", "ring"}
    assert list(tt.PIX2PIX_VARIANTS) == ["L1 alone", "GAN alone, unconditional D", "cGAN alone", "L1 + GAN, unconditional D",
                                         "L1 + cGAN"]                  # pix2pix's Table 1, in its order
    gan_alone, l1_gan = tt.PIX2PIX_VARIANTS["GAN alone, unconditional D"], tt.PIX2PIX_VARIANTS["L1 + GAN, unconditional D"]
    assert gan_alone == ({"lam": 0.0}, False) and l1_gan == ({"lam": 100.0}, False)
    with pytest.raises(ValueError, match=r"scale must be one of \['book', 'ci', 'full'\], got 'fast'"):
        tt.budget("fast")
    with pytest.raises(ValueError, match=r"variant must be one of .*got 'L2'"):
        tt.chapter_pix2pix("L2", torch.rand(2, 1, 28, 28), torch.rand(2, 1, 28, 28), steps=1)


def test_chapter_models_do_not_depend_on_the_random_state_before_them(tmp_path, monkeypatch):
    """chapter_pix2pix builds its networks after seeding: the same weights whatever ran before (a dict of
    networks built by the caller, before the seed, gave different ones; watched fail)."""
    from edu_gen import translation_train as tt

    x = torch.rand(8, 1, 28, 28)
    weights = []
    for before in (0, 1):
        monkeypatch.setenv("EDU_GEN_CACHE", str(tmp_path / str(before)))   # a fresh cache: trained, not loaded
        torch.manual_seed(before)
        torch.rand(1000)                                       # some earlier random work
        model, _ = tt.chapter_pix2pix("L1 alone", x, x, steps=1)
        weights.append([p.detach().clone() for p in model["G"].parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*weights))


def test_chapter_pix2pix_builds_the_patchgan_of_the_sweep(tmp_path, monkeypatch):
    """layers sets the PatchGAN's depth (receptive fields 8, 18, 38) and enters the cache key; 0 or 4 are refused."""
    from edu_gen import translation_train as tt

    monkeypatch.setenv("EDU_GEN_CACHE", str(tmp_path))
    x = torch.rand(4, 1, 28, 28)
    fields = {layers: t.receptive_field(tt.chapter_pix2pix("L1 + cGAN", t.remove_lower_half(x), x, steps=1, layers=layers)[0]["D"])
              for layers in (1, 2, 3)}
    assert fields == {1: 8, 2: 18, 3: 38}
    assert len(list((tmp_path / "checkpoints").glob("ch10_pix2pix-*"))) == 3          # one cached model per depth
    for bad in (0, 4):
        with pytest.raises(ValueError, match=r"layers must be an int in 1\.\.3"):
            tt.chapter_pix2pix("L1 + cGAN", x, x, steps=1, layers=bad)


def test_receptive_field_of_the_pix2pix_discriminators():
    """The authors' n-layer discriminators (n convolutions 4/2, then two 4/1) are the paper's 16x16, 70x70 and
    286x286 PatchGANs for n = 1, 3, 5 (Isola et al., Table 2 of arXiv v3); 1x1 convolutions give the 1x1 PixelGAN."""
    def n_layers(n, kernel=4):
        return torch.nn.Sequential(*[torch.nn.Conv2d(1, 1, kernel, stride=2) for _ in range(n)],
                                   torch.nn.Conv2d(1, 1, kernel), torch.nn.Conv2d(1, 1, kernel))

    assert [t.receptive_field(n_layers(n)) for n in (1, 3, 5)] == [16, 70, 286]
    assert t.receptive_field(n_layers(2, kernel=1)) == 1
