"""edu_gen.aae: the priors against their definitions, the three steps' reach, the losses, bad input.

Each check was broken once and watched fail (the mutation is named in the test's comment)."""

import math

import numpy as np
import pytest
import torch

from edu_gen import aae, metrics
from edu_gen.vae import VAE, VAEConfig


def g(seed=0):
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- priors


def test_mixture_components_are_distinct_at_the_stated_radius_with_the_stated_spread():
    # mutated: angle 2 pi k / 9 (means off), radial and tangential stds swapped, labels ignored: each fails
    n = 40_000
    labels = torch.arange(n) % 10
    z, k = aae.mixture_prior(n, labels=labels, generator=g())
    assert torch.equal(k, labels)
    z = z.double().numpy()
    means = []
    for c in range(10):
        zc = z[labels.numpy() == c]
        angle = 2 * np.pi * c / 10                                    # the definition, computed here
        radial, across = np.array([np.cos(angle), np.sin(angle)]), np.array([-np.sin(angle), np.cos(angle)])
        assert np.allclose(zc.mean(0), 4.0 * radial, atol=0.03)      # SE 0.5/sqrt(4000) = 0.008; ~4 SE
        assert abs((zc @ radial).std() - 0.5) < 0.02                 # SE of a std 0.5/sqrt(8000) = 0.006
        assert abs((zc @ across).std() - 0.1) < 0.004
        means.append(zc.mean(0))
    means = np.array(means)
    gaps = np.linalg.norm(means[:, None] - means[None], axis=-1) + np.eye(10) * 99
    assert gaps.min() > 2.4                                            # 2 R sin(pi/10) = 2.47
    assert np.allclose(np.linalg.norm(means, axis=1), 4.0, atol=0.03)


def test_mixture_labels_are_drawn_uniformly_and_recovered_by_mixture_component():
    # mutated: mixture_component taking argmin, or the tangential coordinate's sign flipped: fails
    z, k = aae.mixture_prior(20_000, generator=g(1))
    counts = torch.bincount(k, minlength=10).double() / len(k)
    assert (counts - 0.1).abs().max() < 0.01                           # SE sqrt(.09/20000) = 0.002
    assert (aae.mixture_component(z) == k).double().mean() > 0.999     # components 5 stds apart


def test_gaussian_prior_has_std_five():
    z = aae.gaussian_prior(50_000, 3, generator=g())
    assert z.shape == (50_000, 3)
    assert torch.allclose(z.std(0), torch.full((3,), 5.0), atol=0.06)  # SE 5/sqrt(1e5) = 0.016
    assert z.mean(0).abs().max() < 0.1                                 # SE 0.022


def test_swiss_roll_segments_follow_the_spiral():
    # mutated: u drawn without the label's offset (segments ignored), or radius = angle: fails
    n = 20_000
    labels = torch.arange(n) % 10
    z, k = aae.swiss_roll_prior(n, labels=labels, generator=g())
    r = z.double().norm(dim=1).numpy()
    for c in range(10):
        lo, hi = np.pi * (1 + 3 * c / 10), np.pi * (1 + 3 * (c + 1) / 10)   # the segment's angles
        rc = r[labels.numpy() == c]
        assert abs(rc.mean() - 0.5 * (lo + hi) / 2) < 0.03             # noise 0.1 adds < 0.01 bias
        assert rc.min() > 0.5 * lo - 0.5 and rc.max() < 0.5 * hi + 0.5   # 5 noise stds


@pytest.mark.parametrize("name", aae.PRIORS)
def test_prior_log_density_integrates_to_one_and_matches_its_sampler(name):
    # mutated: the mixture's log 10 dropped, a factor 2 in the roll's normaliser, the Gaussian's var = std: each fails
    # grids: N(0, 25) to 6 stds; the mixture (tangential std 0.1) and the roll (noise 0.1, radius <= 6.3) finer
    extent, step = {"gaussian": (30.0, 0.2), "mixture": (7.0, 0.02), "swiss_roll": (7.5, 0.05)}[name]
    grid = torch.arange(-extent, extent, step, dtype=torch.float64) + step / 2
    zz = torch.cartesian_prod(grid, grid)                                   # (G^2, 2)
    log_p = torch.cat([aae.prior_log_density(name, c) for c in zz.split(2_000)])
    mass = log_p.exp() * step * step
    assert abs(float(mass.sum()) - 1.0) < 2e-3                               # midpoint rule on smooth densities
    z, _ = aae.sample_prior(name, 100_000, generator=g(2))
    # P(z_1 > 1 and z_2 > 0) from the sampler against the density's integral (an independent computation)
    region = (zz[:, 0] > 1) & (zz[:, 1] > 0)
    sampled = float(((z[:, 0] > 1) & (z[:, 1] > 0)).double().mean())
    assert abs(sampled - float(mass[region].sum())) < 0.01                   # SE < 0.0016; grid edges ~ 1e-3


def test_bad_prior_input_is_refused():
    with pytest.raises(ValueError, match="unknown prior"):
        aae.sample_prior("uniform", 10)
    with pytest.raises(ValueError, match="unknown prior"):
        aae.prior_log_density("uniform", torch.zeros(3, 2))
    with pytest.raises(ValueError, match="unknown prior"):
        aae.AAEConfig(prior="ring")
    with pytest.raises(ValueError, match="labels"):
        aae.mixture_prior(3, labels=torch.tensor([0, 1, 10]))
    with pytest.raises(ValueError, match="latent_dim must be 2"):
        aae.AAEConfig(prior="mixture", latent_dim=3)
    with pytest.raises(ValueError, match="label_aware"):
        aae.AAEConfig(prior="gaussian", label_aware=True)
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        aae.prior_log_density("mixture", torch.zeros(3, 5))
    with pytest.raises(ValueError, match="n must be"):
        aae.gaussian_prior(0)


def test_parzen_refuses_nonpositive_sigma_and_mismatched_sizes():
    with pytest.raises(ValueError, match="sigma"):
        metrics.parzen_log_likelihood(torch.rand(5, 784), torch.rand(4, 784), 0.0)
    with pytest.raises(ValueError, match="values each"):
        metrics.parzen_log_likelihood(torch.rand(5, 784), torch.rand(4, 64), 0.2)


# ---------------------------------------------------------------- losses


def test_losses_on_codes_match_their_formulas():
    # mutated: generator_loss written as -log(1 - d) (saturating), or real/fake targets swapped: fails
    a, b = torch.randn(50, dtype=torch.float64), torch.randn(50, dtype=torch.float64)
    d_real, d_fake = torch.sigmoid(a), torch.sigmoid(b)
    expected_d = -(torch.log(d_real) + torch.log(1 - d_fake)).mean()
    assert torch.allclose(aae.discriminator_loss(a, b), expected_d, atol=1e-12)   # float64: agrees to 1e-15
    assert torch.allclose(aae.generator_loss(b), -torch.log(d_fake).mean(), atol=1e-12)
    zero = torch.zeros(4)
    assert math.isclose(float(aae.discriminator_loss(zero, zero)), 2 * math.log(2), rel_tol=1e-6)
    assert math.isclose(float(aae.generator_loss(zero)), math.log(2), rel_tol=1e-6)


def test_mmd_matches_a_direct_double_sum_and_separates_shifted_samples():
    # mutated: the diagonal kept in the within-sample sums, or h^2 instead of 2 h^2: fails
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(7, 2)), rng.normal(size=(5, 2)) + 0.5
    k = lambda u, v: np.exp(-np.sum((u - v) ** 2) / (2 * 1.3 ** 2))  # noqa: E731
    aa = sum(k(a[i], a[j]) for i in range(7) for j in range(7) if i != j) / 42
    bb = sum(k(b[i], b[j]) for i in range(5) for j in range(5) if i != j) / 20
    ab = sum(k(a[i], b[j]) for i in range(7) for j in range(5)) / 35
    assert math.isclose(aae.mmd(torch.tensor(a), torch.tensor(b), 1.3), aa + bb - 2 * ab, rel_tol=1e-10)
    with pytest.raises(ValueError, match="bandwidth"):
        aae.mmd(torch.tensor(a), torch.tensor(b), 0.0)


def test_monte_carlo_kl_agrees_with_the_closed_form_for_the_gaussian_prior():
    # mutated: log p(z) with std 1 instead of 5, or log q's sign flipped: fails
    torch.manual_seed(0)
    model = VAE(VAEConfig(latent_dim=2, hidden_dim=16)).double()
    x = torch.rand(1, 1, 28, 28, dtype=torch.float64).expand(20_000, 1, 28, 28)
    kl = aae.vae_prior_loss(model, x, "gaussian")["kl"]
    mu, log_var = model.encode(x[:1])
    var = log_var.exp()
    closed = 0.5 * (var / 25 + mu ** 2 / 25 - 1 - log_var + math.log(25)).sum()
    assert abs(float(kl.detach()) - float(closed.detach())) < 0.02        # MC SE with 20,000 draws ~ 0.005


# ---------------------------------------------------------------- the three steps


def _setup(**kw):
    torch.manual_seed(0)
    model = aae.AAE(aae.AAEConfig(hidden_dim=32, disc_hidden_dim=16, **kw))
    return model, aae.optimizers(model), torch.rand(20, 1, 28, 28)


def _snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


def _same(module, snapshot):
    return all(torch.equal(p, s) for p, s in zip(module.parameters(), snapshot))


def test_discriminator_step_moves_only_the_discriminator():
    # mutated: the encoder's codes computed without no_grad (encoder gradients left behind): fails. (The
    # encoder's parameters put in the discriminator's optimizer as well is harmless: they get no gradient.)
    model, opt, x = _setup()
    enc, dec, disc = _snapshot(model.encoder), _snapshot(model.decoder), _snapshot(model.discriminator)
    aae.discriminator_step(model, opt["disc"], x, aae.gaussian_prior(20, generator=g()))
    assert _same(model.encoder, enc) and _same(model.decoder, dec) and not _same(model.discriminator, disc)
    assert all(p.grad is None for p in model.encoder.parameters())


def test_generator_step_moves_only_the_encoder():
    # mutated: the optimizer of every parameter passed as "gen": the discriminator moves and this fails
    model, opt, x = _setup()
    enc, dec, disc = _snapshot(model.encoder), _snapshot(model.decoder), _snapshot(model.discriminator)
    aae.generator_step(model, opt["gen"], x)
    assert not _same(model.encoder, enc) and _same(model.decoder, dec) and _same(model.discriminator, disc)


def test_reconstruction_step_leaves_the_discriminator_and_lowers_the_cross_entropy():
    model, opt, x = _setup()
    disc = _snapshot(model.discriminator)
    first = aae.reconstruction_step(model, opt["ae"], x)
    for _ in range(10):
        last = aae.reconstruction_step(model, opt["ae"], x)
    assert _same(model.discriminator, disc) and last < first


def test_label_aware_and_supervised_models_need_labels_and_use_them():
    # mutated: the one-hot dropped from the discriminator's input (it would ignore y): fails
    model, opt, x = _setup(prior="mixture", label_aware=True)
    z = torch.randn(20, 2)
    with pytest.raises(ValueError, match="labels"):
        model.discriminate(z)
    a = model.discriminate(z, torch.zeros(20, dtype=torch.long))
    b = model.discriminate(z, torch.ones(20, dtype=torch.long))
    assert not torch.allclose(a, b)
    sup, _, _ = _setup(supervised=True)
    with pytest.raises(ValueError, match="labels"):
        sup.decode(z)
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        sup.decode(torch.randn(20, 3), torch.zeros(20, dtype=torch.long))


def test_train_aae_runs_the_three_steps_and_refuses_bad_images():
    model, _, x = _setup(prior="swiss_roll", label_aware=True)
    history = aae.train_aae(model, x, torch.arange(20) % 10, steps=3, batch_size=10)
    assert len(history["recon"]) == 3 and len(history["disc"]) == 3 and len(history["gen"]) == 3
    with pytest.raises(ValueError, match="labels"):
        aae.train_aae(model, x, steps=1, batch_size=10)
    with pytest.raises(ValueError):
        aae.train_aae(model, x * 2, torch.arange(20) % 10, steps=1, batch_size=10)


def test_semi_supervised_aae_trains_and_classifies():
    torch.manual_seed(0)
    model = aae.SemiSupervisedAAE(latent_dim=3, hidden_dim=32, disc_hidden_dim=16)
    x = torch.rand(40, 1, 28, 28)
    history = aae.train_semi_supervised(model, x, x[:10], torch.arange(10), steps=3, batch_size=10)
    assert len(history["clf"]) == 3
    assert model.classify(x).shape == (40,)


def test_held_out_split_keeps_the_held_out_images_out_of_training():
    # mutated: keep[held] = True (nothing held out) or the subset drawn from all indices: fails
    images = torch.arange(60_000, dtype=torch.float32).reshape(-1, 1, 1, 1)   # each image is its own index
    labels = torch.zeros(60_000, dtype=torch.long)
    for n_train in (None, 5_000):
        train_x, _, held_x, held = aae.held_out_split(images, labels, "mnist", n_train)
        assert torch.equal(held, torch.arange(50_000, 51_000)) and torch.equal(held_x.flatten().long(), held)
        seen = set(train_x.flatten().long().tolist())
        assert not seen & set(range(50_000, 51_000))
        assert len(seen) == (59_000 if n_train is None else 5_000)
    small = aae.held_out_split(images[:1437], labels[:1437], "digits")
    assert torch.equal(small[3], torch.arange(1237, 1437)) and len(small[0]) == 1237


def test_aae_re_exports_every_public_name_of_its_three_files():
    # edu_gen.aae is the name chapters, tests and benchmarks use; its code sits in aae_priors, aae_model, aae_semi.
    # mutated: SemiSupervisedAAE or ROLL_NOISE dropped from aae's imports: fails
    import inspect

    from edu_gen import aae_model, aae_priors, aae_semi

    for module in (aae_priors, aae_model, aae_semi):
        public = [name for name, obj in vars(module).items() if not name.startswith("_") and (
            (name.isupper() and not inspect.ismodule(obj)) or ((inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module.__name__))]
        assert len(public) >= 2, module.__name__
        missing = [name for name in public if getattr(aae, name, None) is not getattr(module, name)]
        assert not missing, f"edu_gen.aae lacks {missing} of {module.__name__}"
