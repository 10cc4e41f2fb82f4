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
