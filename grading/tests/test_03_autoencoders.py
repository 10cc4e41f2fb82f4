"""Grading tests of exercises/03_autoencoders.ipynb (run by `edu-gen grade`).

Each test makes hidden inputs from its own seed (this file is never handed out), computes the
right answer here, in the grading process, with the book's library (`edu_gen.autoencoders`,
`edu_gen.contractive`, `edu_gen.likelihood`) or plain tensor formulas, and compares it with what
the student's function returns. The first line of each docstring is what the feedback calls the
check; messages never contain an input or an expected value.
"""

import pytest
import torch
from torch import nn

from edu_gen import autoencoders, contractive, likelihood
from edu_gen.grading.checks import Rules, assert_close, hidden

LIBRARY = {"autoencoders", "contractive", "edu_gen", "func", "jacrev", "jacobian", "vmap"}
# checked in every graded test of each function (issue 15)
RULES = Rules({**{name: LIBRARY for name in ("mask_noise", "gaussian_noise", "salt_and_pepper", "tied_forward", "dae_loss",
                                            "contractive_penalty")},
               "principal_angles": LIBRARY | {"subspace_angles"}})


def tied_module(weight, bias, output_bias) -> autoencoders.TiedAutoencoder:
    model = autoencoders.TiedAutoencoder(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        model.weight.copy_(weight)
        model.bias.copy_(bias)
        model.output_bias.copy_(output_bias)
    return model


# --------------------------------------------------------------------------- 1. corruptions


@pytest.mark.points(1)
def test_mask_noise(student):
    """`mask_noise` zeroes exactly the entries where u < level"""
    g = hidden(3101)
    x, u = torch.rand(6, 20, generator=g), torch.rand(6, 20, generator=g)
    assert_close(RULES.call(student, "mask_noise", x, 0.35, u), x * (u >= 0.35), what="mask_noise(x, level, u)")


@pytest.mark.points(1)
def test_gaussian_noise(student):
    """`gaussian_noise` adds level times the given normal noise"""
    g = hidden(3102)
    x, eps = torch.rand(5, 9, generator=g), torch.randn(5, 9, generator=g)
    assert_close(RULES.call(student, "gaussian_noise", x, 0.2, eps), x + 0.2 * eps,
                 what="gaussian_noise(x, level, eps)")


@pytest.mark.points(1)
def test_salt_and_pepper(student):
    """`salt_and_pepper` sets the chosen entries to 1 or 0 by the coin and keeps the others"""
    g = hidden(3103)
    x, u, coin = torch.rand(7, 15, generator=g), torch.rand(7, 15, generator=g), torch.rand(7, 15, generator=g)
    expected = torch.where(u < 0.4, (coin < 0.5).float(), x)
    assert_close(RULES.call(student, "salt_and_pepper", x, 0.4, u, coin), expected,
                 what="salt_and_pepper(x, level, u, coin)")


# --------------------------------------------------------------------------- 2. tied autoencoder


@pytest.mark.points(1)
def test_tied_forward(student):
    """`tied_forward` returns the logits W^T sigmoid(W x + b) + c of the tied autoencoder"""
    g = hidden(3201)
    w, b, c = torch.randn(6, 10, generator=g), torch.randn(6, generator=g), torch.randn(10, generator=g)
    x = torch.rand(4, 10, generator=g)
    with torch.no_grad():
        expected = tied_module(w, b, c)(x)
    assert_close(RULES.call(student, "tied_forward", x, w, b, c), expected, what="tied_forward(x, W, b, c)", shape_name="(B, D)")


# --------------------------------------------------------------------------- 3. DAE loss


@pytest.mark.points(2)
def test_dae_loss(student):
    """`dae_loss` averages the clean-target cross-entropy over S masked samples and B examples"""
    g = hidden(3301)
    w, b, c = torch.randn(5, 12, generator=g), torch.randn(5, generator=g), torch.randn(12, generator=g)
    x, u = torch.rand(6, 12, generator=g), torch.rand(3, 6, 12, generator=g)
    model = tied_module(w, b, c)
    with torch.no_grad():
        per_sample = [likelihood.bernoulli_nll(x, model(x * (u_l >= 0.3))).mean() for u_l in u]
    expected = torch.stack(per_sample).mean()
    assert_close(RULES.call(student, "dae_loss", x, 0.3, u, w, b, c), expected, what="dae_loss(x, level, u, W, b, c)",
                 shape_name="a scalar")


# --------------------------------------------------------------------------- 4. contractive penalty


@pytest.mark.points(2)
def test_contractive_penalty(student):
    """`contractive_penalty` equals the squared Frobenius norm of the sigmoid layer's Jacobian"""
    g = hidden(3401)
    linear = nn.Linear(15, 8)
    with torch.no_grad():
        linear.weight.copy_(torch.randn(8, 15, generator=g))
        linear.bias.copy_(torch.randn(8, generator=g))
    x = torch.randn(9, 15, generator=g)
    encoder = nn.Sequential(linear, nn.Sigmoid())
    with torch.no_grad():
        expected = contractive.jacobian_penalty(encoder, x)
    assert_close(RULES.call(student, "contractive_penalty", x, linear.weight.detach(), linear.bias.detach()), expected,
                 what="contractive_penalty(x, W, b)", rtol=1e-4, shape_name="(B,)")


# --------------------------------------------------------------------------- 5. principal angles


@pytest.mark.points(2)
def test_principal_angles(student):
    """`principal_angles` returns the angles between two subspaces, smallest first (and 0, not nan, for one subspace twice)"""
    g = hidden(3501)
    a = torch.randn(12, 4, generator=g, dtype=torch.float64)
    b = torch.cat([a[:, :2] @ torch.randn(2, 2, generator=g, dtype=torch.float64),
                   torch.randn(12, 1, generator=g, dtype=torch.float64)], dim=1)
    expected = autoencoders.principal_angles(a, b)
    assert_close(RULES.call(student, "principal_angles", a, b), expected, what="principal_angles(a, b)", rtol=1e-5, atol=1e-6,
                 shape_name="(min(k, l),)")
    # a subspace against itself, in float32: its cosines round to just above 1 (2.4e-7 with this seed), so
    # cosines not clamped before arccos give nan; clamped angles measured up to 6e-4 over 20 float32 draws
    # (arccos turns a rounding of ~1e-7 in a cosine near 1 into ~sqrt(2e-7)); atol 2e-3, a 3x margin
    g = hidden(3502)
    a = torch.randn(20, 4, generator=g)
    assert_close(RULES.call(student, "principal_angles", a, a @ torch.randn(4, 4, generator=g)), torch.zeros(4),
                 what="principal_angles(a, a M) in float32", rtol=0, atol=2e-3, shape_name="(min(k, l),)")
