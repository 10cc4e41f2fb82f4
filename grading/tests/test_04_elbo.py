"""Grading tests of exercises/04_elbo.ipynb (run by `edu-gen grade`).

Each test makes hidden inputs from its own seed (this file is never handed out, and the grader
hides it from submissions), computes the right answer here, in the grading process, with the
book's library (`edu_gen.likelihood`, `edu_gen.vae`) or `torch.distributions`, and compares it
with what the student's function returns. The first line of each docstring is what the
student's feedback calls the check; messages never contain an input or an expected value.
"""

import math

import pytest
import torch
from torch import distributions as D

from edu_gen import likelihood
from edu_gen.grading.checks import Rules, assert_close, hidden

# What the functions must not call: the book's library and torch.distributions.
LIBRARY = {"edu_gen", "likelihood", "vae", "distributions", "kl_normal_std", "kl_normal_normal", "reparameterize",
           "kl_divergence", "Normal", "MultivariateNormal", "elbo"}
EVIDENCE_SHORTCUTS = LIBRARY | {"gaussian_nll", "multivariate_normal", "logpdf"}
# checked in every graded test of each function (issue 15); the noise is passed in, so drawing it (randn,
# normal) is refused, as the text says
# reparameterized_sample must stay differentiable (the text says so): no detaching, no leaving torch
RULES = Rules({"kl_to_standard_normal": LIBRARY,
               "reparameterized_sample": LIBRARY | {"normal", "randn", "detach", "detach_", "no_grad", "data", "numpy", "item"},
               "monte_carlo_elbo": LIBRARY | {"bernoulli_nll", "Bernoulli", "randn", "normal"},
               "linear_gaussian_log_evidence": EVIDENCE_SHORTCUTS})


def randn(g: torch.Generator, *shape) -> torch.Tensor:
    return torch.randn(*shape, generator=g, dtype=torch.float64)


# --------------------------------------------------------------------------- 1. KL


@pytest.mark.points(2)
def test_kl_to_standard_normal_on_hidden_inputs(student):
    """`kl_to_standard_normal` equals the closed-form KL to N(0, I) on hidden means and log-variances"""
    g = hidden(4101)
    mu, log_var = 2 * randn(g, 7, 5), randn(g, 7, 5)
    expected = D.kl_divergence(D.Normal(mu, (0.5 * log_var).exp()), D.Normal(0.0, 1.0)).sum(1)
    assert_close(RULES.call(student, "kl_to_standard_normal", mu, log_var), expected,
                 what="kl_to_standard_normal(mu, log_var)", rtol=1e-7, atol=1e-9)


@pytest.mark.points(1)
def test_kl_to_standard_normal_in_float32_with_one_dimension(student):
    """`kl_to_standard_normal` works in float32 and for a one-dimensional latent (d = 1)"""
    g = hidden(4102)
    mu, log_var = randn(g, 9, 1).float(), randn(g, 9, 1).float()
    assert_close(RULES.call(student, "kl_to_standard_normal", mu, log_var), likelihood.kl_normal_std(mu, log_var),
                 what="kl_to_standard_normal(mu, log_var) with d = 1", rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- 2. reparameterisation


@pytest.mark.points(2)
def test_reparameterized_sample_uses_the_standard_deviation(student):
    """`reparameterized_sample` returns mu + sigma * eps with sigma = exp(log_var / 2)"""
    g = hidden(4201)
    mu, log_var, eps = randn(g, 6, 4), 1.5 * randn(g, 6, 4), randn(g, 6, 4)
    assert_close(RULES.call(student, "reparameterized_sample", mu, log_var, eps), mu + torch.exp(0.5 * log_var) * eps,
                 what="reparameterized_sample(mu, log_var, eps)", rtol=1e-7, atol=1e-9)


# --------------------------------------------------------------------------- 3. Monte Carlo ELBO


def _expected_elbo(x, enc_weight, enc_bias, dec_weight, dec_bias, eps):
    mu, log_var = (x @ enc_weight.T + enc_bias).chunk(2, dim=1)
    recon = torch.stack([-likelihood.bernoulli_nll(x, (mu + (0.5 * log_var).exp() * e) @ dec_weight.T + dec_bias)
                         for e in eps])
    return recon.mean(0) - likelihood.kl_normal_std(mu, log_var)


def _elbo_inputs(g, batch, dim, latent, samples, scale=1.0):
    x = (torch.rand(batch, dim, generator=g) < 0.4).double()
    enc_weight, enc_bias = 0.3 * randn(g, 2 * latent, dim), 0.5 * randn(g, 2 * latent)
    dec_weight, dec_bias = scale * randn(g, dim, latent), scale * randn(g, dim)
    return x, enc_weight, enc_bias, dec_weight, dec_bias, randn(g, samples, batch, latent)


@pytest.mark.points(3)
def test_monte_carlo_elbo_on_a_hidden_encoder_and_decoder(student):
    """`monte_carlo_elbo` averages log p(x|z) over the S noise samples and subtracts the KL"""
    inputs = _elbo_inputs(hidden(4301), batch=5, dim=12, latent=3, samples=4)
    assert_close(RULES.call(student, "monte_carlo_elbo", *inputs), _expected_elbo(*inputs),
                 what="monte_carlo_elbo(x, ...)", rtol=1e-7, atol=1e-8)


@pytest.mark.points(1)
def test_monte_carlo_elbo_with_one_sample_and_large_logits(student):
    """`monte_carlo_elbo` works with S = 1 and stays finite when the decoder's logits are large"""
    inputs = _elbo_inputs(hidden(4302), batch=4, dim=20, latent=2, samples=1, scale=40.0)
    assert_close(RULES.call(student, "monte_carlo_elbo", *inputs), _expected_elbo(*inputs),
                 what="monte_carlo_elbo(x, ...) with one sample and large logits", rtol=1e-7, atol=1e-6)


# --------------------------------------------------------------------------- 4. exact evidence


@pytest.mark.points(2)
def test_linear_gaussian_log_evidence_on_a_hidden_model(student):
    """`linear_gaussian_log_evidence` equals log N(x; b, W Wᵀ + s² I) on a hidden model"""
    g = hidden(4401)
    weight, bias, x = randn(g, 8, 3), randn(g, 8), 2 * randn(g, 6, 8)
    cov = weight @ weight.T + 0.5**2 * torch.eye(8, dtype=torch.float64)
    expected = D.MultivariateNormal(bias, covariance_matrix=cov).log_prob(x)
    assert_close(RULES.call(student, "linear_gaussian_log_evidence", x, weight, bias, 0.5), expected,
                 what="linear_gaussian_log_evidence(x, W, b, 0.5)", rtol=1e-7, atol=1e-7)


@pytest.mark.points(1)
def test_linear_gaussian_log_evidence_is_the_integral_over_z(student):
    """`linear_gaussian_log_evidence` agrees with a brute-force integral over a one-dimensional z"""
    g = hidden(4402)
    weight, bias, x, s = randn(g, 3, 1), randn(g, 3), randn(g, 4, 3), 0.8
    z = torch.linspace(-10, 10, 20001, dtype=torch.float64)[:, None]          # (M, 1)
    log_joint = torch.stack([-likelihood.gaussian_nll(xi.expand(len(z), -1), z @ weight.T + bias, 2 * math.log(s))
                             - likelihood.gaussian_nll(z, torch.zeros_like(z)) for xi in x])   # (B, M)
    expected = torch.logsumexp(log_joint, dim=1) + math.log(z[1, 0] - z[0, 0])
    assert_close(RULES.call(student, "linear_gaussian_log_evidence", x, weight, bias, s), expected,
                 what="linear_gaussian_log_evidence(x, W, b, 0.8)", rtol=1e-6, atol=1e-6)
