"""Grading tests of exercises/10_conditional_gans.ipynb (run by `edu-gen grade`).

Each test makes hidden inputs from its own seed, computes the right answer here, in the grading
process, with plain torch, and compares it with what the student's function returns.
Messages never contain an input or an expected value.
"""

import pytest
import torch

from edu_gen.grading.checks import Rules, assert_close, hidden

# What the text forbids: the book's library and PyTorch's binary cross-entropy in every form (the adversarial
# term is to be written with F.logsigmoid). Checked in every graded test of each function.
FORBIDDEN = {"edu_gen", "translation", "binary_cross_entropy", "binary_cross_entropy_with_logits", "BCELoss",
             "BCEWithLogitsLoss"}
RULES = Rules({name: FORBIDDEN for name in ("generator_input", "discriminator_input", "cycle_consistency_loss",
                                             "pix2pix_generator_loss", "receptive_field")})


def log_sigm(v: torch.Tensor) -> torch.Tensor:
    """log sigm(v) written out stably: min(v, 0) - log(1 + exp(-|v|))."""
    return torch.minimum(v, torch.zeros_like(v)) - torch.log1p(torch.exp(-v.abs()))


def one_hot(labels: torch.Tensor, k: int) -> torch.Tensor:
    return (labels[:, None] == torch.arange(k)[None]).double()


# --------------------------------------------------------------------------- 1. conditioning


@pytest.mark.points(2)
def test_generator_input_on_hidden_labels(student):
    """`generator_input` is [z, one_hot(labels)], for K = 10 and another K, every class including the last"""
    g = hidden(10101)
    for k, d in ((10, 7), (4, 3)):
        labels = torch.cat([torch.tensor([k - 1, 0]), torch.randint(0, k, (6,), generator=g)])
        z = torch.randn(8, d, generator=g, dtype=torch.float64)
        expected = torch.cat([z, one_hot(labels, k)], dim=1)
        assert_close(RULES.call(student, "generator_input", z, labels, k), expected,
                     what="generator_input(z, labels, num_classes)", rtol=0, atol=0)


@pytest.mark.points(2)
def test_discriminator_input_on_hidden_labels(student):
    """`discriminator_input` stacks K constant planes, 1 at the label's channel, after the image"""
    g = hidden(10102)
    for k, side in ((10, 5), (3, 4)):
        labels = torch.cat([torch.tensor([k - 1]), torch.randint(0, k, (4,), generator=g)])
        x = torch.rand(5, 1, side, side + 1, generator=g, dtype=torch.float64)
        planes = one_hot(labels, k)[:, :, None, None].expand(-1, -1, side, side + 1)
        expected = torch.cat([x, planes], dim=1)
        assert_close(RULES.call(student, "discriminator_input", x, labels, k), expected,
                     what="discriminator_input(x, labels, num_classes)", rtol=0, atol=0)


# --------------------------------------------------------------------------- 2. cycle consistency


@pytest.mark.points(2)
def test_cycle_consistency_loss_on_hidden_batches(student):
    """`cycle_consistency_loss` is mean |F(G(x)) - x| + mean |G(F(y)) - y|, batches of different sizes"""
    g = hidden(10201)
    x, xc = torch.rand(5, 1, 6, 6, generator=g, dtype=torch.float64), torch.rand(5, 1, 6, 6, generator=g, dtype=torch.float64)
    y, yc = torch.rand(2, 1, 6, 6, generator=g, dtype=torch.float64), torch.rand(2, 1, 6, 6, generator=g, dtype=torch.float64)
    expected = (xc - x).abs().mean() + (yc - y).abs().mean()
    assert_close(RULES.call(student, "cycle_consistency_loss", x, xc, y, yc), expected,
                 what="cycle_consistency_loss(x, x_cycled, y, y_cycled)", rtol=1e-9, atol=1e-12)


@pytest.mark.points(1)
def test_cycle_consistency_loss_each_domain_weighs_the_same(student):
    """the two domains' means are taken separately: a larger batch of X does not outweigh Y"""
    g = hidden(10202)
    x, y = torch.rand(9, 1, 4, 4, generator=g, dtype=torch.float64), torch.rand(1, 1, 4, 4, generator=g, dtype=torch.float64)
    shift = torch.rand(1, generator=g, dtype=torch.float64).item()
    got = RULES.call(student, "cycle_consistency_loss", x, x, y, y + shift)
    assert_close(got, torch.tensor(shift, dtype=torch.float64), what="cycle_consistency_loss with one domain exact",
                 rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- 3. pix2pix generator loss


@pytest.mark.points(2)
def test_pix2pix_generator_loss_on_hidden_patches(student):
    """`pix2pix_generator_loss`: -mean log sigm(l) over every patch, mean |y - G(x)|, and their sum with lambda"""
    g = hidden(10301)
    logits = 3 * torch.randn(4, 1, 3, 3, generator=g, dtype=torch.float64)
    out, y = torch.rand(4, 1, 8, 8, generator=g, dtype=torch.float64), torch.rand(4, 1, 8, 8, generator=g, dtype=torch.float64)
    lam = 7.0 + torch.rand(1, generator=g).item()
    adversarial, l1 = -log_sigm(logits).mean(), (out - y).abs().mean()
    got = RULES.call(student, "pix2pix_generator_loss", logits, out, y, lam)
    assert isinstance(got, dict) and set(got) >= {"loss", "adversarial", "l1"}, \
        "pix2pix_generator_loss must return a dict with the keys loss, adversarial and l1"
    assert_close(got["adversarial"], adversarial, what="the adversarial term", rtol=1e-9, atol=1e-12)
    assert_close(got["l1"], l1, what="the l1 term", rtol=1e-9, atol=1e-12)
    assert_close(got["loss"], adversarial + lam * l1, what="loss = adversarial + lam * l1", rtol=1e-9, atol=1e-12)


@pytest.mark.points(1)
def test_pix2pix_generator_loss_with_huge_logits(student):
    """the adversarial term stays finite and exact for logits of size 10^3 (from logits, not sigmoid then log)"""
    g = hidden(10302)
    logits = torch.cat([-1000 - 50 * torch.rand(3, generator=g, dtype=torch.float64),     # exp underflows below -745
                        50 + 1000 * torch.rand(3, generator=g, dtype=torch.float64)]).reshape(1, 1, 2, 3)
    out = torch.rand(1, 1, 4, 4, generator=g, dtype=torch.float64)
    got = RULES.call(student, "pix2pix_generator_loss", logits, out, out, 0.0)
    assert isinstance(got, dict) and "loss" in got, "pix2pix_generator_loss must return a dict with the key loss"
    assert_close(got["loss"], -log_sigm(logits).mean(), what="pix2pix_generator_loss with huge logits", rtol=1e-9, atol=1e-6)


# --------------------------------------------------------------------------- 4. receptive field


def _field(layers):
    r, j = 1, 1
    for k, s in layers:
        r, j = r + (k - 1) * j, j * s
    return r


@pytest.mark.points(2)
def test_receptive_field_of_hidden_chains(student):
    """`receptive_field` follows r <- r + (k - 1) j, j <- j s over hidden chains of (kernel, stride) pairs"""
    g = hidden(10401)
    for length in (2, 3, 5):
        layers = [(int(k), int(s)) for k, s in zip(torch.randint(1, 6, (length,), generator=g),
                                                     torch.randint(1, 4, (length,), generator=g))]
        got = RULES.call(student, "receptive_field", layers)
        assert isinstance(got, int) and not isinstance(got, bool), "receptive_field must return a Python int"
        assert got == _field(layers), "receptive_field gives the wrong size on a hidden chain of layers"
