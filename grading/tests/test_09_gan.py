"""Grading tests of exercises/09_gan.ipynb (run by `edu-gen grade`).

Each test makes hidden inputs from its own seed, computes the right answer here, in the grading
process, with plain torch or math, and compares it with what the student's function returns.
Messages never contain an input or an expected value.
"""

import math

import pytest
import torch

from edu_gen.grading.checks import Rules, assert_close, hidden

# What the text forbids: the book's library, torch.distributions and PyTorch's binary cross-entropy in every
# form (the formulas are to be written with F.logsigmoid). Checked in every graded test of each function.
FORBIDDEN = {"edu_gen", "gan", "sample_quality", "distributions", "Normal", "binary_cross_entropy",
             "binary_cross_entropy_with_logits", "BCELoss", "BCEWithLogitsLoss", "mode_coverage"}
RULES = Rules({name: FORBIDDEN for name in ("discriminator_loss", "saturating_generator_loss",
                                             "non_saturating_generator_loss", "optimal_discriminator",
                                             "count_covered_modes")})


def randn(g: torch.Generator, *shape) -> torch.Tensor:
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def log_sigm(v: torch.Tensor) -> torch.Tensor:
    """log sigm(v) written out stably: min(v, 0) - log(1 + exp(-|v|))."""
    return torch.minimum(v, torch.zeros_like(v)) - torch.log1p(torch.exp(-v.abs()))


# --------------------------------------------------------------------------- 1. discriminator loss


@pytest.mark.points(2)
def test_discriminator_loss_on_hidden_logits(student):
    """`discriminator_loss` is -mean log sigm(real) - mean log(1 - sigm(fake)), batches of different sizes"""
    g = hidden(9101)
    real, fake = 3 * randn(g, 7), 3 * randn(g, 4)
    expected = -log_sigm(real).mean() - log_sigm(-fake).mean()
    assert_close(RULES.call(student, "discriminator_loss", real, fake), expected,
                 what="discriminator_loss(real_logits, fake_logits)", rtol=1e-9, atol=1e-9)


@pytest.mark.points(1)
def test_discriminator_loss_with_huge_logits(student):
    """`discriminator_loss` stays finite and exact for logits of size 10^3 (from logits, not sigmoid then log)"""
    g = hidden(9102)
    real, fake = -1000 * randn(g, 5).abs(), 1000 * randn(g, 3).abs()      # D certain and wrong on both
    expected = -log_sigm(real).mean() - log_sigm(-fake).mean()
    assert_close(RULES.call(student, "discriminator_loss", real, fake), expected,
                 what="discriminator_loss with huge logits", rtol=1e-9, atol=1e-6)


# --------------------------------------------------------------------------- 2. generator losses


@pytest.mark.points(1)
def test_saturating_generator_loss_on_hidden_logits(student):
    """`saturating_generator_loss` is mean log(1 - sigm(l)), with no minus sign, finite for logits of size 10^3"""
    g = hidden(9201)
    fake = torch.cat([4 * randn(g, 7), 1000 * randn(g, 2).abs()])          # the last two: D fooled for sure
    assert_close(RULES.call(student, "saturating_generator_loss", fake), log_sigm(-fake).mean(),
                 what="saturating_generator_loss(fake_logits)", rtol=1e-9, atol=1e-9)


@pytest.mark.points(1)
def test_non_saturating_generator_loss_on_hidden_logits(student):
    """`non_saturating_generator_loss` is -mean log sigm(l), finite for logits of size 10^3"""
    g = hidden(9202)
    fake = torch.cat([4 * randn(g, 6), -1000 * randn(g, 2).abs()])
    assert_close(RULES.call(student, "non_saturating_generator_loss", fake), -log_sigm(fake).mean(),
                 what="non_saturating_generator_loss(fake_logits)", rtol=1e-9, atol=1e-9)



# --------------------------------------------------------------------------- 3. optimal discriminator


@pytest.mark.points(2)
def test_optimal_discriminator_on_hidden_gaussians(student):
    """`optimal_discriminator` is p_data / (p_data + p_g) for two Gaussians"""
    g = hidden(9301)
    x = 2 * randn(g, 3, 4)
    md, sd, mg, sg = 0.7, 1.3, -0.4, 0.6
    pdf = lambda v, m, s: torch.exp(-0.5 * ((v - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))
    expected = pdf(x, md, sd) / (pdf(x, md, sd) + pdf(x, mg, sg))
    assert_close(RULES.call(student, "optimal_discriminator", x, md, sd, mg, sg), expected,
                 what="optimal_discriminator(x, ...)", rtol=1e-9, atol=1e-12)


@pytest.mark.points(1)
def test_optimal_discriminator_far_in_the_tails(student):
    """`optimal_discriminator` stays finite where both densities underflow (work with log-densities)"""
    g = hidden(9302)
    x = 60 + 5 * randn(g, 6).abs()
    md, sd, mg, sg = 0.0, 1.0, 1.0, 1.5
    log_n = lambda v, m, s: -0.5 * ((v - m) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)
    expected = torch.sigmoid(log_n(x, md, sd) - log_n(x, mg, sg))
    assert_close(RULES.call(student, "optimal_discriminator", x, md, sd, mg, sg), expected,
                 what="optimal_discriminator far from both means", rtol=1e-6, atol=1e-300)


# --------------------------------------------------------------------------- 4. covered modes


def _ring_samples(g, num_modes, radius, std, per_mode):
    """Samples on some modes (hidden counts per mode), plus points between modes."""
    angles = 2 * math.pi * torch.arange(num_modes, dtype=torch.float64) / num_modes
    centres = radius * torch.stack([torch.cos(angles), torch.sin(angles)], 1)
    parts = [centres[k] + std * randn(g, n, 2).clamp(-2, 2) for k, n in enumerate(per_mode) if n]
    between = radius * torch.stack([torch.cos(angles + math.pi / num_modes), torch.sin(angles + math.pi / num_modes)], 1)
    return torch.cat(parts + [between.repeat(5, 1)])


@pytest.mark.points(2)
def test_count_covered_modes_on_hidden_rings(student):
    """`count_covered_modes` counts modes with at least min_count samples within 3 sd, for several K, r, s"""
    g = hidden(9401)
    for num_modes, radius, std, min_count in ((8, 2.0, 0.05, 10), (6, 3.0, 0.1, 4), (12, 1.5, 0.02, 7)):
        per_mode = torch.randint(0, 2 * min_count, (num_modes,), generator=g).tolist()
        per_mode[0], per_mode[1] = min_count, min_count - 1                # the threshold itself, and one short of it
        samples = _ring_samples(g, num_modes, radius, std, per_mode)
        expected = sum(n >= min_count for n in per_mode)
        got = RULES.call(student, "count_covered_modes", samples, num_modes, radius, std, min_count)
        assert isinstance(got, int) and not isinstance(got, bool), "count_covered_modes must return a Python int"
        assert got == expected, "count_covered_modes gives the wrong number of covered modes on a hidden ring"


@pytest.mark.points(1)
def test_count_covered_modes_needs_high_quality_samples(student):
    """samples between 3 and 5 sd from a centre do not count, however many there are"""
    g = hidden(9402)
    angles = 2 * math.pi * torch.arange(8, dtype=torch.float64) / 8
    centres = 2.0 * torch.stack([torch.cos(angles), torch.sin(angles)], 1)
    direction = randn(g, 200, 2)
    direction = direction / direction.norm(dim=1, keepdim=True)
    ring = centres[torch.arange(200) % 8] + 0.05 * (3.2 + 1.5 * torch.rand(200, 1, generator=g, dtype=torch.float64)) * direction
    got = RULES.call(student, "count_covered_modes", ring, 8, 2.0, 0.05, 5)
    assert got == 0, "count_covered_modes counts samples that are more than 3 standard deviations from every centre"
