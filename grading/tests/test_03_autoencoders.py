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
from edu_gen.grading.checks import assert_close, assert_not_calling, hidden

LIBRARY = {"autoencoders", "contractive", "edu_gen", "func", "jacrev", "jacobian", "vmap"}


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
    assert_close(student.call("mask_noise", x, 0.35, u), x * (u >= 0.35), what="mask_noise(x, level, u)")
    assert_not_calling(student.names_used("mask_noise"), "mask_noise", LIBRARY)


@pytest.mark.points(1)
def test_gaussian_noise(student):
    """`gaussian_noise` adds level times the given normal noise"""
    g = hidden(3102)
    x, eps = torch.rand(5, 9, generator=g), torch.randn(5, 9, generator=g)
    assert_close(student.call("gaussian_noise", x, 0.2, eps), x + 0.2 * eps,
                 what="gaussian_noise(x, level, eps)")


@pytest.mark.points(1)
def test_salt_and_pepper(student):
    """`salt_and_pepper` sets the chosen entries to 1 or 0 by the coin and keeps the others"""
    g = hidden(3103)
    x, u, coin = torch.rand(7, 15, generator=g), torch.rand(7, 15, generator=g), torch.rand(7, 15, generator=g)
    expected = torch.where(u < 0.4, (coin < 0.5).float(), x)
    assert_close(student.call("salt_and_pepper", x, 0.4, u, coin), expected,
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
    assert_close(student.call("tied_forward", x, w, b, c), expected, what="tied_forward(x, W, b, c)", shape_name="(B, D)")
    assert_not_calling(student.names_used("tied_forward"), "tied_forward", LIBRARY)


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
    assert_close(student.call("dae_loss", x, 0.3, u, w, b, c), expected, what="dae_loss(x, level, u, W, b, c)",
                 shape_name="a scalar")
    assert_not_calling(student.names_used("dae_loss"), "dae_loss", LIBRARY)


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
    assert_close(student.call("contractive_penalty", x, linear.weight.detach(), linear.bias.detach()), expected,
                 what="contractive_penalty(x, W, b)", rtol=1e-4, shape_name="(B,)")
    assert_not_calling(student.names_used("contractive_penalty"), "contractive_penalty", LIBRARY)


# --------------------------------------------------------------------------- 5. principal angles


@pytest.mark.points(2)
def test_principal_angles(student):
    """`principal_angles` returns the angles between two subspaces, smallest first"""
    g = hidden(3501)
    a = torch.randn(12, 4, generator=g, dtype=torch.float64)
    b = torch.cat([a[:, :2] @ torch.randn(2, 2, generator=g, dtype=torch.float64),
                   torch.randn(12, 1, generator=g, dtype=torch.float64)], dim=1)
    expected = autoencoders.principal_angles(a, b)
    assert_close(student.call("principal_angles", a, b), expected, what="principal_angles(a, b)", rtol=1e-5, atol=1e-6,
                 shape_name="(min(k, l),)")
    assert_not_calling(student.names_used("principal_angles"), "principal_angles", LIBRARY | {"subspace_angles"})
