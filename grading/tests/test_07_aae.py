"""Grading tests of exercises/07_aae.ipynb (run by `edu-gen grade`).

Each test makes hidden inputs from its own seed, computes the right answer here, in the grading
process, with plain torch (autograd for the AAE iteration), and compares it with what the student's
function returns. Messages never contain an input or an expected value.
"""

import math

import pytest
import torch

from edu_gen.grading.checks import Rules, assert_close, hidden

# What the text forbids: the book's library and torch.distributions, and PyTorch's ready-made losses (the
# losses are to be written with F.logsigmoid). Checked in every graded test of each function.
LIBRARY = {"edu_gen", "aae", "metrics", "parzen", "distributions", "parzen_log_likelihood", "parzen_log_density",
           "mixture_prior", "train_aae", "reconstruction_step", "discriminator_step", "generator_step"}
LOSSES = {"binary_cross_entropy_with_logits", "binary_cross_entropy", "BCEWithLogitsLoss", "BCELoss"}
RULES = Rules({"mixture_codes": LIBRARY, "sample_mixture": LIBRARY, "discriminator_loss": LIBRARY | LOSSES,
               "generator_loss": LIBRARY | LOSSES, "aae_iteration": LIBRARY | LOSSES, "parzen_log_density": LIBRARY})


def randn(g: torch.Generator, *shape) -> torch.Tensor:
    return torch.randn(*shape, generator=g, dtype=torch.float64)


# --------------------------------------------------------------------------- 1. mixture prior


@pytest.mark.points(2)
def test_mixture_codes_on_hidden_inputs(student):
    """`mixture_codes` puts component k at angle 2 pi k / 10, spread s_r along the radius and s_t across it"""
    g = hidden(7101)
    labels, eps = torch.randint(0, 10, (40,), generator=g), randn(g, 40, 2)
    rows = []
    for k, (e1, e2) in zip(labels.tolist(), eps.tolist()):      # written out, one code at a time
        a = 2 * math.pi * k / 10
        r = 3.0 + 0.7 * e1
        rows.append([r * math.cos(a) - 0.2 * e2 * math.sin(a), r * math.sin(a) + 0.2 * e2 * math.cos(a)])
    assert_close(RULES.call(student, "mixture_codes", labels, eps, 3.0, 0.7, 0.2), torch.tensor(rows, dtype=torch.float64),
                 what="mixture_codes(labels, eps, R, s_r, s_t)", rtol=1e-9, atol=1e-9)


@pytest.mark.points(1)
def test_sample_mixture_returns_codes_and_uniform_labels(student):
    """`sample_mixture` returns (z, labels): labels uniform over 0..9, each component's codes around its mean"""
    got = RULES.call(student, "sample_mixture", 20_000, 7)
    assert isinstance(got, tuple) and len(got) == 2, "sample_mixture must return a pair (z, labels)"
    z, labels = got
    assert isinstance(z, torch.Tensor) and tuple(z.shape) == (20_000, 2), "z must have shape (n, 2)"
    assert isinstance(labels, torch.Tensor) and tuple(labels.shape) == (20_000,), "labels must have shape (n,)"
    assert not labels.is_floating_point(), "labels must be integers"
    counts = torch.bincount(labels.long(), minlength=10).double() / 20_000
    assert len(counts) == 10 and float((counts - 0.1).abs().max()) < 0.015, "labels must be drawn uniformly from 0..9"
    for k in range(10):
        zk = z[labels == k].double()
        a = 2 * math.pi * k / 10
        centre = torch.tensor([4 * math.cos(a), 4 * math.sin(a)], dtype=torch.float64)
        radial = torch.tensor([math.cos(a), math.sin(a)], dtype=torch.float64)
        assert float((zk.mean(0) - centre).norm()) < 0.05, "each label's codes must sit around its component's mean"
        assert abs(float((zk @ radial).std()) - 0.5) < 0.03, "the spread along the radius must be s_r"


@pytest.mark.points(1)
def test_sample_mixture_follows_its_seed(student):
    """`sample_mixture` draws with a generator seeded with `seed`: the same seed gives the same codes, another seed others"""
    first, again, other = (RULES.call(student, "sample_mixture", 50, seed) for seed in (11, 11, 12))
    assert all(isinstance(r, tuple) and len(r) == 2 for r in (first, again, other)), "sample_mixture must return a pair (z, labels)"
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1]), \
        "the same seed must give the same codes and labels: draw with torch.Generator().manual_seed(seed)"
    assert not torch.equal(first[0], other[0]), "another seed must give other codes"


# --------------------------------------------------------------------------- 2. losses


@pytest.mark.points(2)
def test_discriminator_loss_on_hidden_logits(student):
    """`discriminator_loss` is mean -log sigm(a) over prior codes + mean -log sigm(-b) over data codes"""
    g = hidden(7201)
    a, b = 3 * randn(g, 17), 3 * randn(g, 17)
    expected = sum(math.log1p(math.exp(-v)) for v in a.tolist()) / 17 + sum(math.log1p(math.exp(v)) for v in b.tolist()) / 17
    assert_close(RULES.call(student, "discriminator_loss", a, b), torch.tensor(expected, dtype=torch.float64),
                 what="discriminator_loss(real_logits, fake_logits)", rtol=1e-9, atol=1e-9)


@pytest.mark.points(2)
def test_generator_loss_is_the_non_saturating_one(student):
    """`generator_loss` is mean -log sigm(b), the non-saturating loss, not log(1 - sigm(b))"""
    g = hidden(7202)
    b = 3 * randn(g, 13)
    expected = sum(math.log1p(math.exp(-v)) for v in b.tolist()) / 13
    assert_close(RULES.call(student, "generator_loss", b), torch.tensor(expected, dtype=torch.float64),
                 what="generator_loss(fake_logits)", rtol=1e-9, atol=1e-9)


@pytest.mark.points(1)
def test_losses_with_huge_logits(student):
    """both losses stay finite and exact for logits of size 10^4"""
    huge = torch.tensor([1e4, -1e4, 2e4], dtype=torch.float64)
    assert_close(RULES.call(student, "discriminator_loss", huge, huge), torch.tensor((1e4 + 2e4 + 1e4) / 3, dtype=torch.float64),
                 what="discriminator_loss with huge logits", rtol=1e-9, atol=1e-6)
    assert_close(RULES.call(student, "generator_loss", huge), torch.tensor(1e4 / 3, dtype=torch.float64),
                 what="generator_loss with huge logits", rtol=1e-9, atol=1e-6)


# --------------------------------------------------------------------------- 3. one AAE iteration


def _reference_iteration(x, z_prior, W_enc, W_dec, b_dec, w_disc, b_disc, lr):
    flat = x.flatten(1)
    p = [t.clone().requires_grad_() for t in (W_enc, W_dec, b_dec)]
    logits = flat @ p[0].T @ p[1].T + p[2]
    recon = (torch.nn.functional.softplus(logits) - flat * logits).sum(1).mean()      # -[x log s(l) + (1-x) log s(-l)]
    recon.backward()
    W_enc, W_dec, b_dec = (q.detach() - lr * q.grad for q in p)
    w, c = w_disc.clone().requires_grad_(), b_disc.clone().requires_grad_()
    z_data = flat @ W_enc.T
    loss_d = torch.nn.functional.softplus(-(z_prior @ w + c)).mean() + torch.nn.functional.softplus(z_data @ w + c).mean()
    loss_d.backward()
    w_disc, b_disc = w.detach() - lr * w.grad, c.detach() - lr * c.grad
    e = W_enc.clone().requires_grad_()
    torch.nn.functional.softplus(-(flat @ e.T @ w_disc + b_disc)).mean().backward()
    return W_enc - lr * e.grad, W_dec, b_dec, w_disc, b_disc


@pytest.mark.points(3)
def test_aae_iteration_on_hidden_parameters(student):
    """`aae_iteration` makes the three updates in order: reconstruction, discriminator, encoder as generator"""
    g = hidden(7301)
    d, B = 3, 9
    x, z_p = torch.rand(B, 1, 28, 28, generator=g, dtype=torch.float64), 2 * randn(g, B, d)
    params = (0.05 * randn(g, d, 784), 0.2 * randn(g, 784, d), 0.1 * randn(g, 784), randn(g, d), randn(g, 1)[0])
    expected = _reference_iteration(x, z_p, *params, 0.02)
    got = RULES.call(student, "aae_iteration", x, z_p, *params, 0.02)
    assert isinstance(got, (tuple, list)) and len(got) == 5, "aae_iteration must return five tensors"
    for name, mine, theirs in zip(("W_enc", "W_dec", "b_dec", "w_disc", "b_disc"), got, expected):
        assert_close(mine, theirs, what=f"{name} after aae_iteration", rtol=1e-7, atol=1e-9)


# --------------------------------------------------------------------------- 4. Parzen window


@pytest.mark.points(2)
def test_parzen_log_density_on_hidden_points(student):
    """`parzen_log_density` is log (1/S) sum_s N(x_m; x_s, sigma^2 I), one value per test point"""
    g = hidden(7401)
    test, samples = torch.rand(7, 5, generator=g, dtype=torch.float64), torch.rand(11, 5, generator=g, dtype=torch.float64)
    sigma = 0.3
    expected = []
    for t in test:                                                # written out, one test point at a time
        terms = [-float(((t - s) ** 2).sum()) / (2 * sigma ** 2) for s in samples]
        top = max(terms)
        expected.append(top + math.log(sum(math.exp(v - top) for v in terms) / 11) - 2.5 * math.log(2 * math.pi * sigma ** 2))
    assert_close(RULES.call(student, "parzen_log_density", test, samples, sigma), torch.tensor(expected, dtype=torch.float64),
                 what="parzen_log_density(test, samples, sigma)", rtol=1e-9, atol=1e-8)


@pytest.mark.points(1)
def test_parzen_log_density_when_every_kernel_underflows(student):
    """`parzen_log_density` stays finite and exact in 784 dimensions with a narrow kernel (logsumexp)"""
    g = hidden(7402)
    samples = torch.rand(4, 784, generator=g, dtype=torch.float64)
    test = samples[:2] + 0.5                                      # every squared distance near 196
    sigma = 0.1
    sq = torch.cdist(test, samples) ** 2
    expected = torch.logsumexp(-sq / (2 * sigma ** 2), 1) - math.log(4) - 392 * math.log(2 * math.pi * sigma ** 2)
    assert_close(RULES.call(student, "parzen_log_density", test, samples, sigma), expected,
                 what="parzen_log_density with a narrow kernel", rtol=1e-9, atol=1e-6)
