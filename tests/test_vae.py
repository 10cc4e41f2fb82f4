"""edu_gen.vae (Chapter 4): the reparameterised sample and the Monte Carlo ELBO, against known answers."""

import math

import pytest
import torch
from torch import distributions as D

from edu_gen import likelihood, vae


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_reparameterize_has_the_right_mean_and_standard_deviation():
    mu = torch.tensor([[1.0, -2.0, 0.5]], dtype=torch.float64).expand(200_000, 3)
    log_var = torch.tensor([[math.log(4.0), math.log(0.25), 0.0]], dtype=torch.float64).expand(200_000, 3)
    z = vae.reparameterize(mu, log_var, gen(1))
    assert z.shape == mu.shape and z.dtype == torch.float64
    assert torch.allclose(z.mean(0), mu[0], atol=0.02)
    # sigma = (2, 0.5, 1): a sigma^2 * eps slip would give (4, 0.25, 1) and fail here
    assert torch.allclose(z.std(0), torch.tensor([2.0, 0.5, 1.0], dtype=torch.float64), rtol=0.01)


def test_reparameterize_is_mu_plus_sigma_times_the_same_noise():
    mu, log_var = torch.randn(4, 5, generator=gen(2)), torch.randn(4, 5, generator=gen(3))
    z = vae.reparameterize(mu, log_var, gen(7))
    eps = torch.randn(4, 5, generator=gen(7))
    assert torch.allclose(z, mu + torch.exp(0.5 * log_var) * eps)
    assert torch.equal(z, vae.reparameterize(mu, log_var, gen(7)))


def test_reparameterize_passes_gradients_to_mu_and_log_var():
    mu = torch.zeros(3, 2, requires_grad=True)
    log_var = torch.zeros(3, 2, requires_grad=True)
    z = vae.reparameterize(mu, log_var, gen(0))
    z.sum().backward()
    assert torch.equal(mu.grad, torch.ones(3, 2))
    eps = torch.randn(3, 2, generator=gen(0))
    assert torch.allclose(log_var.grad, 0.5 * eps)                   # d/dlogvar of exp(logvar/2) eps


@pytest.mark.parametrize(
    "mu, log_var, error, match",
    [
        (torch.zeros(3, 2), torch.zeros(3, 4), ValueError, "log_var must have mu's shape"),
        (torch.zeros(3, 2), torch.zeros(2), ValueError, "log_var must have mu's shape"),
        (torch.zeros(3, 2, dtype=torch.long), torch.zeros(3, 2), TypeError, "floating-point"),
        (torch.zeros(3, 2), torch.zeros(3, 2, dtype=torch.float64), TypeError, "share a dtype"),
        ([0.0, 1.0], torch.zeros(2), TypeError, "must be a torch.Tensor"),
        (torch.tensor(0.0), torch.tensor(0.0), ValueError, "got a scalar"),
    ],
)
def test_reparameterize_rejects_bad_input(mu, log_var, error, match):
    with pytest.raises(error, match=match):
        vae.reparameterize(mu, log_var)


def test_elbo_with_many_samples_matches_the_exact_expectation():
    # linear-Gaussian decoder p(x|z) = N(x; W z, I): E_q[log p(x|z)] has a closed form
    g = gen(4)
    w = 0.3 * torch.randn(6, 2, generator=g, dtype=torch.float64)
    x = torch.randn(3, 6, generator=g, dtype=torch.float64)
    mu = torch.randn(3, 2, generator=g, dtype=torch.float64)
    log_var = 0.3 * torch.randn(3, 2, generator=g, dtype=torch.float64)

    def log_lik(x, z):
        return -likelihood.gaussian_nll(x, z @ w.T)

    # E||x - W z||^2 = ||x - W mu||^2 + sum_j sigma_j^2 ||W_:j||^2
    expected_sq = ((x - mu @ w.T) ** 2).sum(1) + (log_var.exp() * (w**2).sum(0)).sum(1)
    exact = -0.5 * expected_sq - 3 * math.log(2 * math.pi) - likelihood.kl_normal_std(mu, log_var)
    estimate = vae.elbo(x, mu, log_var, log_lik, num_samples=20_000, generator=gen(5))
    assert estimate.shape == (3,)
    assert torch.allclose(estimate, exact, atol=0.05)


def test_elbo_is_below_the_exact_evidence_and_reaches_it_at_the_posterior():
    # z ~ N(0, 1), x | z ~ N(z, s^2): p(x) = N(0, 1 + s^2), posterior N(x / (1 + s^2), s^2 / (1 + s^2))
    s2 = 0.5
    x = torch.tensor([[0.7], [-1.2]], dtype=torch.float64)
    log_px = D.Normal(0.0, math.sqrt(1 + s2)).log_prob(x).squeeze(1)

    def log_lik(x, z):
        return -likelihood.gaussian_nll(x, z, math.log(s2))

    post_mu = x / (1 + s2)
    post_log_var = torch.full_like(x, math.log(s2 / (1 + s2)))
    at_posterior = vae.elbo(x, post_mu, post_log_var, log_lik, num_samples=50_000, generator=gen(6))
    assert torch.allclose(at_posterior, log_px, atol=0.01)
    elsewhere = vae.elbo(x, post_mu + 0.8, post_log_var, log_lik, num_samples=50_000, generator=gen(6))
    assert (elsewhere < log_px - 0.1).all()


def test_elbo_rejects_bad_input():
    mu, log_var = torch.zeros(3, 2), torch.zeros(3, 2)
    ok = lambda x, z: torch.zeros(x.shape[0])  # noqa: E731
    with pytest.raises(ValueError, match="batch size"):
        vae.elbo(torch.zeros(4, 5), mu, log_var, ok)
    with pytest.raises(ValueError, match="num_samples must be a positive int"):
        vae.elbo(torch.zeros(3, 5), mu, log_var, ok, num_samples=0)
    with pytest.raises(ValueError, match="one value per example"):
        vae.elbo(torch.zeros(3, 5), mu, log_var, lambda x, z: torch.zeros(3, 5))
    with pytest.raises(ValueError, match="log_var must have mu's shape"):
        vae.elbo(torch.zeros(3, 5), mu, torch.zeros(3, 3), ok)


# ---------------------------------------------------------------- Chapter 5: the model


@pytest.mark.parametrize("architecture", ["mlp", "conv"])
def test_vae_shapes_and_loss_terms(architecture):
    torch.manual_seed(0)
    model = vae.VAE(vae.VAEConfig(latent_dim=3, hidden_dim=16, architecture=architecture, beta=2.0))
    x = torch.rand(5, 1, 28, 28, generator=gen(0)).bernoulli(generator=gen(1))
    mu, log_var = model.encode(x)
    assert mu.shape == log_var.shape == (5, 3)
    logits, mu2, _ = model(x, gen(2))
    assert logits.shape == x.shape and torch.equal(mu, mu2)
    terms = model.negative_elbo(x, gen(3))
    assert {"recon", "kl", "loss"} <= set(terms) and terms["loss"].shape == (5,)
    # recon is the Bernoulli NLL of the same reparameterised draw; loss = recon + beta * kl
    z = vae.reparameterize(mu, log_var, gen(3))
    assert torch.allclose(terms["recon"], likelihood.bernoulli_nll(x, model.decode(z)), atol=1e-4)
    assert torch.allclose(terms["kl"], likelihood.kl_normal_std(mu, log_var))
    assert torch.allclose(terms["loss"], terms["recon"] + 2.0 * terms["kl"])
    means = model.loss((x, torch.zeros(5)), gen(3))
    assert torch.allclose(means["loss"], terms["loss"].mean())
    samples = model.sample(4, gen(4))
    assert samples.shape == (4, 1, 28, 28) and 0 <= samples.min() and samples.max() <= 1
    assert torch.equal(samples, model.sample(4, gen(4)))
    assert set(model.sample(3, gen(5), mean=False).unique().tolist()) <= {0.0, 1.0}


def test_vae_training_lowers_the_negative_elbo():
    torch.manual_seed(0)
    x = (torch.rand(256, 1, 28, 28, generator=gen(0)) < 0.2).float()
    x[:, :, 10:18, 10:18] = 1.0                                      # a shared structure to learn
    model = vae.VAE(vae.VAEConfig(latent_dim=2, hidden_dim=32))
    before = model.loss(x)["loss"].item()
    history = vae.train_vae(model, x, steps=60, batch_size=64, lr=3e-3, progress=False)
    assert len(history["loss"]) == 60 and "kl" in history
    assert model.loss(x)["loss"].item() < before - 100                # 784 * ln 2 ~ 543 nats at the start


def test_iwae_bounds_are_ordered_and_k1_is_the_elbo():
    torch.manual_seed(0)
    model = vae.VAE(vae.VAEConfig(latent_dim=2, hidden_dim=16)).eval()
    x = torch.rand(6, 1, 28, 28, generator=gen(0)).bernoulli(generator=gen(1))
    # k = 1 is exactly one ELBO draw with the same noise
    k1 = vae.iwae_log_likelihood(model, x, 1, generator=gen(2))
    mu, log_var = model.encode(x)
    eps = torch.randn(1, 6, 2, generator=gen(2))[0]
    with torch.no_grad():
        z = mu + torch.exp(0.5 * log_var) * eps
        log_w = (-likelihood.bernoulli_nll(x, model.decode(z)) + D.Normal(0, 1).log_prob(z).sum(1)
                 - D.Normal(mu, torch.exp(0.5 * log_var)).log_prob(z).sum(1))
    assert torch.allclose(k1, log_w, atol=1e-3)
    # averaged over draws, ELBO <= IWAE_5 <= IWAE_50 (Burda et al., 2016, Theorem 1); a decoder
    # that depends strongly on z makes q(z|x) a poor posterior, so the gaps are large
    with torch.no_grad():
        model.decoder[0].weight.mul_(20.0)
    means = [torch.stack([vae.iwae_log_likelihood(model, x, k, generator=gen(s)) for s in range(20)]).mean()
             for k in (1, 5, 50)]
    assert means[0] + 1.0 < means[1] and means[1] + 1.0 < means[2]


def test_iwae_chunking_does_not_change_the_estimate():
    torch.manual_seed(0)
    model = vae.VAE(vae.VAEConfig(latent_dim=2, hidden_dim=16)).eval()
    x = torch.rand(3, 1, 28, 28, generator=gen(0)).bernoulli(generator=gen(1))
    a = vae.iwae_log_likelihood(model, x, 12, generator=gen(2), chunk=12)
    b = vae.iwae_log_likelihood(model, x, 12, generator=gen(2), chunk=12)
    assert torch.allclose(a, b) and a.shape == (3,)


def test_vae_rejects_bad_input():
    with pytest.raises(ValueError, match="latent_dim must be an int >= 1"):
        vae.VAEConfig(latent_dim=0)
    with pytest.raises(ValueError, match="architecture must be one of"):
        vae.VAEConfig(architecture="transformer")
    with pytest.raises(ValueError, match="beta must be a number >= 0"):
        vae.VAEConfig(beta=-1.0)
    model = vae.VAE(vae.VAEConfig(latent_dim=2, hidden_dim=8))
    with pytest.raises(ValueError, match=r"pixel values in \[0, 1\]"):
        model.loss(torch.full((2, 1, 28, 28), 2.0))
    with pytest.raises(ValueError, match=r"pixel values in \[0, 1\]"):
        model.loss(torch.full((2, 1, 28, 28), -0.5))
    with pytest.raises(ValueError, match=r"shape \(B, 1, 28, 28\)"):
        model.loss(torch.zeros(2, 784))
    with pytest.raises(ValueError, match="k .* must be an int >= 1"):
        vae.iwae_log_likelihood(model, torch.zeros(2, 1, 28, 28), 0)
    with pytest.raises(ValueError, match=r"decode expects z of shape \(B, 2\)"):
        model.decode(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="n must be a positive int"):
        model.sample(0)


def test_vae_config_is_saved_and_restored(tmp_path):
    from edu_gen import train

    config = vae.VAEConfig(latent_dim=4, hidden_dim=8)
    model = vae.VAE(config)
    train.save(tmp_path / "m.pt", model, config)
    again = vae.VAE(vae.VAEConfig(**train.load(tmp_path / "m.pt", vae.VAE(config))["config"]))
    assert again.config == config


def test_deterministic_ae_decodes_the_mean_and_has_no_kl():
    torch.manual_seed(0)
    ae = vae.DeterministicAE(vae.VAEConfig(latent_dim=3, hidden_dim=8))
    x = torch.rand(4, 1, 28, 28, generator=gen(0))
    terms = ae.negative_elbo(x)
    mu, _ = ae.encode(x)
    assert torch.allclose(terms["recon"], likelihood.bernoulli_nll(x, ae.decode(mu)))
    assert torch.equal(terms["kl"], torch.zeros(4)) and torch.equal(terms["loss"], terms["recon"])


def test_log_normal_matches_torch_distributions_with_broadcasting():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(7, 4, 3, generator=g)  # (k, B, D)
    mu, log_var = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)  # (B, D), broadcast over k
    expected = torch.distributions.Normal(mu, (0.5 * log_var).exp()).log_prob(z).sum(-1)
    assert vae.log_normal(z, mu, log_var).shape == (7, 4)
    assert torch.allclose(vae.log_normal(z, mu, log_var), expected, atol=1e-5)
