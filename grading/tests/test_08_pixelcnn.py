"""Grading tests of exercises/08_pixelcnn.ipynb (run by `edu-gen grade`).

Each test makes hidden inputs from its own seed, computes the right answer here, in the grading
process, with plain torch (or a walk through the masks for the causality check), and compares it
with what the student's function returns. Messages never contain an input or an expected value.
"""

import math

import pytest
import torch

from edu_gen.grading.checks import Rules, assert_close, hidden

# What the text forbids: the book's library (edu_gen, pixelcnn, likelihood and their functions by name),
# torch.distributions and PyTorch's binary cross-entropy functions. Checked in every graded test of each function.
LIBRARY = {"edu_gen", "pixelcnn", "pixelcnn_sampling", "likelihood", "distributions", "Bernoulli", "bernoulli_nll",
           "log_likelihood", "dependencies", "receptive_field", "binary_cross_entropy_with_logits",
           "binary_cross_entropy", "BCEWithLogitsLoss", "BCELoss"}
RULES = Rules({name: LIBRARY for name in ("causal_mask", "dependency_matrix", "image_nll", "sample_logistic")})


def expected_mask(k: int, mask_type: str) -> torch.Tensor:
    """Written from the raster order: keep (r, c) when r * k + c comes before the centre (or is it, for 'B')."""
    centre = (k // 2) * k + k // 2
    order = torch.arange(k * k).view(k, k)
    return ((order < centre) | ((order == centre) & (mask_type == "B"))).float()


def reachable(masks, height: int, width: int) -> torch.Tensor:
    """(D, D) bool: input k reaches output j by a path through the masks' taps that stays inside the image."""
    d = height * width
    out = torch.zeros(d, d, dtype=torch.bool)
    for j in range(d):
        frontier = {(j // width, j % width)}
        for mask in reversed(masks):
            c = mask.shape[0] // 2
            taps = [(a - c, b - c) for a in range(mask.shape[0]) for b in range(mask.shape[1]) if mask[a, b]]
            frontier = {(r + a, s + b) for r, s in frontier for a, b in taps if 0 <= r + a < height and 0 <= s + b < width}
        for r, s in frontier:
            out[j, r * width + s] = True
    return out


# --------------------------------------------------------------------------- 1. masks


@pytest.mark.points(2)
def test_causal_mask_for_several_kernels(student):
    """`causal_mask` keeps the raster predecessors of the centre, and the centre itself for mask B"""
    for k in (1, 3, 5, 7, 9):
        for mask_type in "AB":
            got = RULES.call(student, "causal_mask", k, mask_type)
            assert_close(got, expected_mask(k, mask_type), what=f"causal_mask(k, {mask_type!r}) for a k x k kernel",
                         rtol=0, atol=0)


# --------------------------------------------------------------------------- 2. causality check


@pytest.mark.points(2)
def test_dependency_matrix_of_hidden_stacks(student):
    """`dependency_matrix` finds exactly the inputs each output of a masked stack depends on"""
    stacks = [([expected_mask(3, "A"), expected_mask(3, "B"), expected_mask(3, "B")], 5, 4),
              ([expected_mask(5, "A"), expected_mask(3, "B")], 4, 6),
              ([expected_mask(3, "B")], 3, 5)]
    for masks, height, width in stacks:
        got = RULES.call(student, "dependency_matrix", [m.double() for m in masks], height, width)
        expected = reachable(masks, height, width)
        assert isinstance(got, torch.Tensor) and got.dtype == torch.bool, "dependency_matrix must return a bool tensor"
        assert_close(got.double(), expected.double(), what="dependency_matrix(masks, H, W)", rtol=0, atol=0)


@pytest.mark.points(1)
def test_dependency_matrix_finds_a_leak(student):
    """`dependency_matrix` reveals a non-causal stack (random masks, including taps below the centre)"""
    g = hidden(8202)
    masks = [(torch.rand(3, 3, generator=g) < 0.6).double(), (torch.rand(3, 3, generator=g) < 0.6).double()]
    masks[0][2, 1] = 1.0                                    # a tap below the centre: the stack leaks
    got = RULES.call(student, "dependency_matrix", masks, 4, 4)
    assert_close(got.double(), reachable(masks, 4, 4).double(), what="dependency_matrix of a leaking stack", rtol=0, atol=0)


# --------------------------------------------------------------------------- 3. NLL from logits


@pytest.mark.points(2)
def test_image_nll_on_hidden_inputs(student):
    """`image_nll` is -sum_j [x_j log sigm(l_j) + (1 - x_j) log sigm(-l_j)] per image"""
    g = hidden(8301)
    x = (torch.rand(5, 1, 7, 6, generator=g) < 0.4).double()
    logits = 3 * torch.randn(5, 1, 7, 6, generator=g, dtype=torch.float64)
    p = torch.sigmoid(logits)
    expected = -(x * p.log() + (1 - x) * (1 - p).log()).flatten(1).sum(1)
    assert_close(RULES.call(student, "image_nll", x, logits), expected, what="image_nll(x, logits)", rtol=1e-9, atol=1e-9)


@pytest.mark.points(1)
def test_image_nll_with_huge_logits(student):
    """`image_nll` stays finite and exact for logits of size 10^3"""
    g = hidden(8302)
    x = (torch.rand(3, 1, 4, 4, generator=g) < 0.5).double()
    logits = 1e3 * torch.randn(3, 1, 4, 4, generator=g, dtype=torch.float64)
    wrong = (logits > 0).double() != x                      # a wrong sign costs |l| + log(1 + e^-|l|), a right one log(1 + e^-|l|)
    expected = (logits.abs() * wrong + torch.log1p(torch.exp(-logits.abs()))).flatten(1).sum(1)
    assert_close(RULES.call(student, "image_nll", x, logits), expected, what="image_nll with huge logits",
                 rtol=1e-12, atol=1e-9)


# --------------------------------------------------------------------------- 4. sequential sampling


@pytest.mark.points(2)
def test_sample_logistic_on_hidden_weights(student):
    """`sample_logistic` draws pixel by pixel with the given uniforms and ignores W on and above the diagonal"""
    g = hidden(8401)
    d, b = 12, 40
    weight = 2 * torch.randn(d, d, generator=g, dtype=torch.float64)      # the upper part must be ignored
    bias = torch.randn(d, generator=g, dtype=torch.float64)
    u = torch.rand(b, d, generator=g, dtype=torch.float64)
    x = torch.zeros(b, d, dtype=torch.float64)
    for i in range(b):                                      # written out, one image and one pixel at a time
        for j in range(d):
            logit = bias[j].item() + sum(weight[j, k].item() * x[i, k].item() for k in range(j))
            x[i, j] = 1.0 if u[i, j].item() < 1 / (1 + math.exp(-logit)) else 0.0
    assert_close(RULES.call(student, "sample_logistic", weight, bias, u), x, what="sample_logistic(weight, bias, u)",
                 rtol=0, atol=0)
