"""edu_gen.gan: the game's optimum on 1-D densities, the losses' gradients, the two update steps, bad input."""

import math

import pytest
import torch

from edu_gen import gan, runtime
from edu_gen.train import NonFiniteLossError

runtime.set_threads()   # EDU_GEN_THREADS, or one thread per xdist worker: small models on spinning threads train many times slower

LOG2 = math.log(2.0)


def normal_pdf(x, mean, std):
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


# ------------------------------------------------------------------ the optimum of the game (Goodfellow et al., 2014)


def quadrature_value(d, p, q, dx):
    """V(D, G) = int p log D + q log(1 - D) dx on a grid, D given pointwise."""
    return ((p * torch.log(d) + q * torch.log1p(-d)) * dx).sum()


def test_optimal_discriminator_is_the_pointwise_maximiser_and_gives_minus_log4_plus_2jsd():
    x = torch.linspace(-12, 14, 40_001, dtype=torch.float64)
    dx = (x[1] - x[0]).item()
    p = 0.5 * normal_pdf(x, -2.0, 0.5) + 0.5 * normal_pdf(x, 2.0, 0.5)         # p_data: two bumps
    q = normal_pdf(x, 0.5, 1.5)                                                  # p_g: one wide bump
    d_star = (p / (p + q)).clamp(1e-300, 1 - 1e-16).requires_grad_()
    v = quadrature_value(d_star, p, q, dx)
    v.backward()
    # dV/dD(x) = p/D - q/(1 - D) vanishes at D*: measured max 2e-13 (relative to p + q); 1e-6 margin for the clamp
    assert (d_star.grad.abs() / (p + q) / dx).max() < 1e-6
    for shift in (-0.3, 0.3):                                                    # any other D is worse
        other = torch.sigmoid(torch.logit(d_star.detach()) + shift * torch.sin(x))
        assert quadrature_value(other, p, q, dx) < v.item() - 1e-4
    m = 0.5 * (p + q)
    jsd = 0.5 * ((p * torch.log(p / m)).nan_to_num() * dx).sum() + 0.5 * ((q * torch.log(q / m)).nan_to_num() * dx).sum()
    # measured |difference| 4e-15 in float64 on this grid
    assert abs(v.item() - (-math.log(4) + 2 * jsd.item())) < 1e-9
    assert 0 < jsd.item() < LOG2


@pytest.mark.parametrize("shift", [0.0, 0.25, 0.5, 0.75, 1.0, 1.5])
def test_value_at_the_optimal_discriminator_for_two_uniforms_matches_the_closed_form(shift):
    """p_data = U(0, 1), p_g = U(s, 1 + s): JSD = s log 2 for s <= 1 and log 2 beyond, so V(D*) = -log 4 + 2 JSD."""
    g = torch.Generator().manual_seed(0)
    n = 200_000
    real, fake = torch.rand(n, generator=g, dtype=torch.float64), shift + torch.rand(n, generator=g, dtype=torch.float64)

    def d_star_logit(x):        # log p_data - log p_g: 0 on the overlap, +-50 (D* = 1 or 0 to 1e-22) where one density is 0
        inside_p, inside_q = (x >= 0) & (x < 1), (x >= shift) & (x < 1 + shift)
        return torch.where(inside_p & inside_q, 0.0, torch.where(inside_p, 50.0, -50.0)).double()

    v = gan.value(d_star_logit(real), d_star_logit(fake)).item()
    jsd = min(shift, 1.0) * LOG2
    se = 2 * LOG2 * math.sqrt(0.25 / n)                          # the overlap fraction is a Bernoulli mean
    assert abs(v - (-math.log(4) + 2 * jsd)) < 5 * se + 1e-12


# ------------------------------------------------------------------ the losses and their gradients


def test_each_bce_term_is_log2_when_d_is_one_half():
    zeros = torch.zeros(7)
    assert gan.discriminator_loss(zeros, zeros).item() == pytest.approx(2 * LOG2, abs=1e-6)
    assert gan.generator_loss(zeros, "non_saturating").item() == pytest.approx(LOG2, abs=1e-6)
    assert gan.generator_loss(zeros, "saturating").item() == pytest.approx(-LOG2, abs=1e-6)
    assert gan.value(zeros, zeros).item() == pytest.approx(-math.log(4), abs=1e-6)


def test_loss_gradients_match_the_hand_derivatives():
    logits = torch.linspace(-8, 8, 17, dtype=torch.float64)
    B, d = len(logits), torch.sigmoid(logits)
    cases = {
        "saturating": (lambda l: gan.generator_loss(l, "saturating"), -d / B),         # d/dl log(1 - sigm l) = -sigm l
        "non_saturating": (lambda l: gan.generator_loss(l, "non_saturating"), -(1 - d) / B),  # d/dl -log sigm l = -(1 - sigm l)
    }
    for name, (loss, expected) in cases.items():
        l = logits.clone().requires_grad_()
        loss(l).backward()
        assert torch.allclose(l.grad, expected, atol=1e-12), name


def test_discriminator_loss_gradient_is_the_sum_of_its_two_halves():
    real, fake = torch.tensor([-3.0, 0.5, 4.0], dtype=torch.float64, requires_grad=True), torch.tensor([2.0, -1.0], dtype=torch.float64, requires_grad=True)
    gan.discriminator_loss(real, fake).backward()
    assert torch.allclose(real.grad, -(1 - torch.sigmoid(real.detach())) / 3, atol=1e-12)
    assert torch.allclose(fake.grad, torch.sigmoid(fake.detach()) / 2, atol=1e-12)


def test_losses_from_logits_stay_finite_where_sigmoid_then_log_does_not():
    confident = torch.tensor([100.0, -100.0])
    for loss in (gan.discriminator_loss(confident, confident), gan.generator_loss(confident, "saturating"),
                 gan.generator_loss(confident, "non_saturating")):
        assert torch.isfinite(loss)
    # -mean log sigm(l) for l = -100 is 100 nats, not inf
    assert gan.generator_loss(torch.tensor([-100.0]), "non_saturating").item() == pytest.approx(100.0, rel=1e-6)


def test_unknown_generator_loss_is_refused():
    with pytest.raises(ValueError, match="kind must be one of"):
        gan.generator_loss(torch.zeros(2), "minimax")


# ------------------------------------------------------------------ the networks and the two updates


@pytest.mark.parametrize("config", [gan.GANConfig(kind="dcgan", channels=4, latent_dim=8),
                                    gan.GANConfig(kind="mlp", data_shape=(1, 28, 28), hidden_dim=16, latent_dim=8),
                                    gan.GANConfig(kind="mlp", data_shape=(2,), hidden_dim=16, latent_dim=4,
                                                  image_output="linear", pack=2)])
def test_each_update_changes_only_its_own_player(config):
    torch.manual_seed(0)
    model = gan.GAN(config)
    real = torch.rand(8, *config.data_shape)
    opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=1e-2)
    opt_g = torch.optim.Adam(model.generator.parameters(), lr=1e-2)
    snapshot = lambda net: [p.detach().clone() for p in net.parameters()]
    same = lambda a, b: all(torch.equal(x, y) for x, y in zip(a, b))

    g0, d0 = snapshot(model.generator), snapshot(model.discriminator)
    out = gan.update_discriminator(model, real, opt_d)
    assert same(g0, snapshot(model.generator)) and not same(d0, snapshot(model.discriminator))
    assert all(p.grad is None for p in model.generator.parameters())           # fakes made without a graph: no gradient reached G
    assert 0 < out["d_real"] < 1 and 0 < out["d_fake"] < 1

    g1, d1 = snapshot(model.generator), snapshot(model.discriminator)
    out = gan.update_generator(model, 8, opt_g)
    assert same(d1, snapshot(model.discriminator)) and not same(g1, snapshot(model.generator))
    assert out["g_grad_norm"] > 0
    assert all(p.grad is None for p in model.discriminator.parameters())       # no stale gradient left on D


def test_dcgan_shapes_and_pixel_range():
    model = gan.GAN(gan.GANConfig(kind="dcgan", channels=4, latent_dim=8))
    x = model.sample(5, generator=torch.Generator().manual_seed(0))
    assert x.shape == (5, 1, 28, 28) and x.min() >= 0 and x.max() <= 1
    assert model.discriminator(x).shape == (5,)


def test_pack_groups_consecutive_examples():
    config = gan.GANConfig(kind="mlp", data_shape=(2,), hidden_dim=8, latent_dim=2, image_output="linear", pack=2)
    d = gan.GAN(config).discriminator
    x = torch.randn(6, 2)
    assert d(x).shape == (3,)
    assert torch.allclose(d(x)[1], d.net(torch.cat([x[2], x[3]])[None])[0, 0])
    with pytest.raises(ValueError, match="multiple of pack"):
        d(x[:5])


def test_a_generator_that_does_not_fit_the_discriminator_is_refused():
    small = gan.GANConfig(kind="mlp", data_shape=(1, 14, 14), hidden_dim=8, latent_dim=4)
    big = gan.GANConfig(kind="mlp", data_shape=(1, 28, 28), hidden_dim=8, latent_dim=4)
    with pytest.raises(ValueError, match=r"generator makes samples of shape \(1, 14, 14\).*expects \(1, 28, 28\)"):
        gan.GAN(big, generator=gan.MLPGenerator(small), discriminator=gan.MLPDiscriminator(big))
    flat = gan.GANConfig(kind="mlp", data_shape=(784,), hidden_dim=8, latent_dim=4)   # same size, another shape: D would run
    with pytest.raises(ValueError, match=r"generator makes samples of shape \(784,\)"):
        gan.GAN(big, generator=gan.MLPGenerator(flat), discriminator=gan.MLPDiscriminator(big))
    with pytest.raises(ValueError, match="give both"):
        gan.GAN(big, generator=gan.MLPGenerator(big))
    with pytest.raises(ValueError, match="DCGAN networks are built for"):
        gan.GANConfig(kind="dcgan", data_shape=(2,))


def test_k_below_one_and_bad_images_are_refused():
    model = gan.GAN(gan.GANConfig(data_shape=(1,), hidden_dim=4, latent_dim=1, image_output="linear"))
    data = torch.randn(100, 1)
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        gan.train_gan(model, data, steps=1, k=0, device="cpu", progress=False)
    with pytest.raises(TypeError, match="k must be an int >= 1"):
        gan.train_gan(model, data, steps=1, k=1.5, device="cpu", progress=False)
    with pytest.raises(ValueError, match=r"images must be \(N, 1\)"):
        gan.train_gan(model, torch.randn(100, 2), steps=1, device="cpu", progress=False)


def test_a_non_finite_loss_stops_training_naming_the_network_and_the_step():
    model = gan.GAN(gan.GANConfig(data_shape=(1,), hidden_dim=4, latent_dim=1, image_output="linear"))
    data = torch.randn(100, 1)
    data[:] = float("nan")
    with pytest.raises(NonFiniteLossError, match="discriminator's loss is nan at step 0"):
        gan.train_gan(model, data, steps=3, batch_size=8, device="cpu", progress=False)


def test_training_moves_a_1d_generator_onto_the_data():
    """N(3, 0.5^2) from N(0, 1) noise: after 600 steps the samples sit on the data (mean), neither a point nor spread out."""
    torch.manual_seed(0)
    model = gan.GAN(gan.GANConfig(data_shape=(1,), hidden_dim=32, latent_dim=1, image_output="linear"))
    before = model.sample(5000, generator=torch.Generator().manual_seed(2))
    assert abs(before.mean().item() - 3.0) > 2                   # the untrained generator is far from the data
    data = 3.0 + 0.5 * torch.randn(5000, 1, generator=torch.Generator().manual_seed(1))
    history = gan.train_gan(model, data, steps=600, batch_size=128, lr=2e-3, device="cpu", progress=False)
    x = model.sample(5000, generator=torch.Generator().manual_seed(2))
    assert set(history.keys()) >= {"d_loss", "d_real", "d_fake", "g_loss", "g_grad_norm"}
    # measured mean 3.01 and sd 0.29 (start -0.18) (a GAN often narrows the data's spread of 0.5: the start of mode collapse)
    assert abs(x.mean().item() - 3.0) < 0.25, x.mean().item()
    assert 0.1 < x.std().item() < 1.0, x.std().item()


def test_snapshots_are_filled_during_training_and_saved_with_the_weights():
    config = gan.GANConfig(data_shape=(1,), hidden_dim=4, latent_dim=1, image_output="linear", snapshots=2)
    torch.manual_seed(0)
    model = gan.GAN(config)
    assert model.snapshots.shape == (2, 16, 1) and bool((model.snapshots == 0).all())
    gan.train_gan(model, torch.randn(64, 1), steps=4, batch_size=8, device="cpu", progress=False)
    assert bool((model.snapshots != 0).all())                     # both grids written (after steps 2 and 4)
    with torch.no_grad():
        last = model.generator.eval()(model.snapshot_noise)
    assert torch.allclose(model.snapshots[1], last)               # the last grid is the trained generator's
    assert "snapshots" in model.state_dict()


# ------------------------------------------------------------------ issue 12: the contracts, bad input, properties


def test_bad_inputs_to_the_networks_and_losses_are_refused_naming_the_argument():
    mlp = gan.GAN(gan.GANConfig(kind="mlp", data_shape=(2,), hidden_dim=8, latent_dim=3, image_output="linear"))
    dc = gan.GAN(gan.GANConfig(kind="dcgan", channels=4, latent_dim=8))
    cases = [
        (lambda: mlp.generator(torch.zeros(4, 5)), ValueError, r"z must have shape \(B, 3\).*got \(4, 5\)"),
        (lambda: mlp.generator(torch.zeros(4, 3, dtype=torch.int64)), TypeError, "z must be a floating-point tensor"),
        (lambda: mlp(torch.zeros(0, 3)), ValueError, r"z must have shape \(B, 3\) with B >= 1"),
        (lambda: mlp.discriminator(torch.zeros(4, 2, 1)), ValueError, r"x must have shape \(B, 2\)"),
        (lambda: dc.discriminator(torch.zeros(2, 28, 28)), ValueError, r"x must have shape \(B, 1, 28, 28\)"),
        (lambda: dc.generator([[0.0] * 8]), TypeError, "z must be a floating-point tensor.*got list"),
        (lambda: gan.discriminator_loss(torch.zeros(0), torch.zeros(2)), ValueError, "real_logits must have shape"),
        (lambda: gan.discriminator_loss(torch.zeros(3), torch.zeros(3, 1)), ValueError, r"fake_logits must have shape \(B,\)"),
        (lambda: gan.generator_loss(torch.zeros(3, dtype=torch.int64)), TypeError, "fake_logits must be a floating-point"),
        (lambda: gan.value(torch.zeros(2), [0.0, 0.0]), TypeError, "fake_logits must be a floating-point tensor"),
        (lambda: mlp.sample(0), ValueError, "n must be an int >= 1"),
        (lambda: mlp.sample(True), TypeError, "n must be an int >= 1"),
        (lambda: gan.update_discriminator(mlp, torch.zeros(4, 3), torch.optim.SGD(mlp.discriminator.parameters(), 0.1)),
         ValueError, r"real must have shape \(B, 2\)"),
        (lambda: gan.update_generator(mlp, 0, torch.optim.SGD(mlp.generator.parameters(), 0.1)), ValueError, "batch_size must be an int >= 1"),
        (lambda: gan.update_generator(mlp, 4, torch.optim.SGD(mlp.generator.parameters(), 0.1), loss="minimax"), ValueError, "loss must be one of"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()


def test_a_checkpoint_of_another_gan_config_is_refused(tmp_path):
    """Same parameter shapes, another config (the output layer): train.load compares the saved config."""
    from edu_gen import train
    linear = gan.GANConfig(kind="mlp", data_shape=(2,), hidden_dim=8, latent_dim=3, image_output="linear")
    path = tmp_path / "gan.pt"
    train.save(path, gan.GAN(linear))
    train.load(path, gan.GAN(linear))                                            # the same config loads
    with pytest.raises(ValueError, match="image_output"):
        train.load(path, gan.GAN(gan.GANConfig(kind="mlp", data_shape=(2,), hidden_dim=8, latent_dim=3, image_output="sigmoid")))


hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

LOGITS = st.lists(st.floats(-80, 80, allow_nan=False, width=64), min_size=1, max_size=6)


@settings(deadline=None)
@given(real=LOGITS, fake=LOGITS, dtype=st.sampled_from([torch.float32, torch.float64]))
def test_losses_against_torch_distributions_bernoulli(real, fake, dtype):
    """Each loss is a mean of Bernoulli log-probabilities (label 1 = real): torch.distributions is the reference,
    in float64; extreme logits (+-80), one example, batches of different sizes. Tolerance: float32's rounding of
    log1p(exp(-|l|)) and of a mean of at most 6 terms of size <= 80, i.e. 80 * 8 eps (measured max ~ 2 eps * 80)."""
    r, f = torch.tensor(real, dtype=dtype), torch.tensor(fake, dtype=dtype)
    bern = lambda l: torch.distributions.Bernoulli(logits=l.double())
    log_d_real = bern(r).log_prob(torch.ones(len(r), dtype=torch.float64))            # log D(x)
    log_1md_fake = bern(f).log_prob(torch.zeros(len(f), dtype=torch.float64))          # log(1 - D(G(z)))
    log_d_fake = bern(f).log_prob(torch.ones(len(f), dtype=torch.float64))             # log D(G(z))
    tol = 8 * torch.finfo(dtype).eps * 80 + 1e-12
    assert abs(gan.discriminator_loss(r, f).item() - (-log_d_real.mean() - log_1md_fake.mean()).item()) <= 2 * tol
    assert abs(gan.value(r, f).item() - (log_d_real.mean() + log_1md_fake.mean()).item()) <= 2 * tol
    assert abs(gan.generator_loss(f, "saturating").item() - log_1md_fake.mean().item()) <= tol
    assert abs(gan.generator_loss(f, "non_saturating").item() - (-log_d_fake.mean()).item()) <= tol
    assert gan.discriminator_loss(r, f).dtype == dtype


@settings(deadline=None, max_examples=20)
@given(batch=st.integers(1, 5), pack=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_the_packed_discriminator_is_invariant_to_the_order_of_the_packs(batch, pack, seed):
    """Permuting whole packs permutes the logits (no example is judged by another pack's members)."""
    torch.manual_seed(seed)
    d = gan.MLPDiscriminator(gan.GANConfig(kind="mlp", data_shape=(2,), hidden_dim=8, latent_dim=2, image_output="linear", pack=pack))
    x = torch.randn(batch * pack, 2)
    order = torch.randperm(batch)
    permuted = x.reshape(batch, pack, 2)[order].reshape(-1, 2)
    assert torch.allclose(d(permuted), d(x)[order], atol=1e-6)


def test_sample_quality_refuses_a_class_count_that_does_not_fit_and_bad_batch_sizes():
    from edu_gen import metrics, sample_quality
    torch.manual_seed(0)
    clf = metrics.DigitClassifier()                                          # untrained: reads a few classes
    images = torch.rand(30, 1, 28, 28)
    labels = sample_quality.class_histogram(clf, images)["counts"]
    assert len(labels) == 10 and int(labels.sum()) == 30
    read = int(metrics.classifier_confidence(clf, images)["label"].max())
    with pytest.raises(ValueError, match=f"num_classes = {read}, but the classifier read class {read}"):
        sample_quality.class_histogram(clf, images, num_classes=read)         # one class short of what it reads
    with pytest.raises(ValueError, match="num_classes must be an int >= 2"):
        sample_quality.class_histogram(clf, images, num_classes=1)
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        sample_quality.nearest_training(images[:2], images, batch_size=0)
    with pytest.raises(TypeError, match="batch_size must be an int >= 1"):
        sample_quality.classifier_features(clf, images, batch_size=2.5)
