"""Grading tests of exercises/05_vae.ipynb (run by `edu-gen grade`).

Each test makes hidden inputs from its own seed, computes the right answer here, in the grading
process, with the book's library (`edu_gen.likelihood`, `edu_gen.vae`) or plain torch, and compares
it with what the student's function returns. Messages never contain an input or an expected value.
"""

import math

import pytest
import torch

from edu_gen import likelihood
from edu_gen.grading.checks import Rules, assert_close, hidden

# What the text forbids: the book's library (edu_gen.vae, edu_gen.likelihood, and its functions by name) and
# torch.distributions. PyTorch's own losses (F.binary_cross_entropy_with_logits) are allowed: the text does not
# forbid them (issue 15). Checked in every graded test of each function.
LIBRARY = {"edu_gen", "likelihood", "vae", "distributions", "kl_normal_std", "bernoulli_nll", "iwae_log_likelihood",
           "Normal", "Bernoulli", "log_mean_exp"}
RULES = Rules({name: LIBRARY for name in ("encoder_forward", "negative_elbo", "iwae_bound", "decode_latent_grid")})


def randn(g: torch.Generator, *shape) -> torch.Tensor:
    return torch.randn(*shape, generator=g, dtype=torch.float64)


# --------------------------------------------------------------------------- 1. encoder


@pytest.mark.points(2)
def test_encoder_forward_on_hidden_weights(student):
    """`encoder_forward` computes ReLU(x W1^T + b1) W2^T + b2 and splits it into (mu, log_var)"""
    g = hidden(5101)
    x = torch.rand(6, 1, 28, 28, generator=g, dtype=torch.float64)
    w1, b1 = 0.1 * randn(g, 9, 784), randn(g, 9)
    w2, b2 = randn(g, 6, 9), randn(g, 6)
    out = torch.relu(x.flatten(1) @ w1.T + b1) @ w2.T + b2
    got = RULES.call(student, "encoder_forward", x, w1, b1, w2, b2)
    assert isinstance(got, tuple) and len(got) == 2, "encoder_forward must return a pair (mu, log_var)"
    assert_close(got[0], out[:, :3], what="mu from encoder_forward", rtol=1e-7, atol=1e-9)
    assert_close(got[1], out[:, 3:], what="log_var from encoder_forward", rtol=1e-7, atol=1e-9)


# --------------------------------------------------------------------------- 2. negative ELBO


@pytest.mark.points(2)
def test_negative_elbo_on_hidden_inputs(student):
    """`negative_elbo` equals the Bernoulli NLL plus the KL to N(0, I), per example"""
    g = hidden(5201)
    x = (torch.rand(5, 1, 28, 28, generator=g) < 0.3).double()
    logits, mu, log_var = 3 * randn(g, 5, 1, 28, 28), randn(g, 5, 4), randn(g, 5, 4)
    expected = likelihood.bernoulli_nll(x, logits) + likelihood.kl_normal_std(mu, log_var)
    assert_close(RULES.call(student, "negative_elbo", x, logits, mu, log_var), expected,
                 what="negative_elbo(x, logits, mu, log_var)", rtol=1e-7, atol=1e-7)


@pytest.mark.points(1)
def test_negative_elbo_with_huge_logits(student):
    """`negative_elbo` stays finite and exact for logits of size 10^4"""
    g = hidden(5202)
    x = (torch.rand(3, 1, 28, 28, generator=g) < 0.5).double()
    logits = 1e4 * randn(g, 3, 1, 28, 28)
    mu, log_var = torch.zeros(3, 2, dtype=torch.float64), torch.zeros(3, 2, dtype=torch.float64)
    assert_close(RULES.call(student, "negative_elbo", x, logits, mu, log_var), likelihood.bernoulli_nll(x, logits),
                 what="negative_elbo with huge logits", rtol=1e-9, atol=1e-6)


# --------------------------------------------------------------------------- 3. IWAE bound


@pytest.mark.points(2)
def test_iwae_bound_on_hidden_log_weights(student):
    """`iwae_bound` is ELBO_K = log (1/K) sum_i exp(log p(x|z_i) + log p(z_i) - log q(z_i|x))"""
    g = hidden(5301)
    lpx, lpz, lqz = -100 + 5 * randn(g, 17, 6), randn(g, 17, 6), randn(g, 17, 6)
    log_w = (lpx + lpz - lqz).double()
    expected = torch.tensor([math.log(sum(math.exp(v - 100) for v in col) / 17) + 100 for col in log_w.T.tolist()],
                            dtype=torch.float64)
    assert_close(RULES.call(student, "iwae_bound", lpx, lpz, lqz), expected, what="iwae_bound(...)", rtol=1e-9, atol=1e-9)


@pytest.mark.points(1)
def test_iwae_bound_does_not_underflow(student):
    """`iwae_bound` stays finite when every log-weight is around -5000 nats"""
    g = hidden(5302)
    lpx = -5000 + randn(g, 8, 3)
    zero = torch.zeros(8, 3, dtype=torch.float64)
    expected = torch.logsumexp(lpx, 0) - math.log(8)
    assert_close(RULES.call(student, "iwae_bound", lpx, zero, zero), expected, what="iwae_bound with log-weights near -5000",
                 rtol=1e-12, atol=1e-9)


# --------------------------------------------------------------------------- 4. latent grid


@pytest.mark.points(2)
def test_decode_latent_grid_layout(student):
    """`decode_latent_grid` decodes the codes row by row from the top, z1 rightwards, z2 upwards (float64 and float32)"""
    g = hidden(5401)
    weight, bias = randn(g, 784, 2), randn(g, 784)
    side, limit = 5, 1.7
    v = torch.linspace(-limit, limit, side, dtype=torch.float64)
    z = torch.stack([torch.stack([v[c], v[side - 1 - r]]) for r in range(side) for c in range(side)])
    expected = torch.sigmoid(z @ weight.T + bias).reshape(-1, 1, 28, 28)
    assert_close(RULES.call(student, "decode_latent_grid", weight, bias, side, limit), expected,
                 what="decode_latent_grid(weight, bias, 5, 1.7)", rtol=1e-6, atol=1e-7)
    # float32 weights too: the grid in the weights' dtype, as the docstring says
    g = hidden(5402)
    weight, bias = randn(g, 784, 2).float(), randn(g, 784).float()
    side, limit = 4, 2.5
    v = torch.linspace(-limit, limit, side, dtype=torch.float64)
    z = torch.stack([torch.stack([v[c], v[side - 1 - r]]) for r in range(side) for c in range(side)])
    expected = torch.sigmoid(z @ weight.double().T + bias.double()).reshape(-1, 1, 28, 28)
    # float32 rounding of the logits (|logit| ~ 5): measured ~1e-7 in the probabilities; 10x margin
    assert_close(RULES.call(student, "decode_latent_grid", weight, bias, side, limit), expected,
                 what="decode_latent_grid(float32 weight, bias, 4, 2.5)", rtol=1e-5, atol=1e-6)
