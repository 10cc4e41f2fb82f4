"""Each negative log-likelihood against torch.distributions, the oracle (STYLE.md habit 7).

Every comparison runs in float64, where the library and torch.distributions agree to a few
units of rounding (measured at most 3.5e-16 relative). `close` allows 1e-14, 30x that, so
that a slip of one part in a million (a wrong constant, a 1e-6 bias) fails, which
torch.allclose's default rtol of 1e-5 would let through.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import distributions as D

from edu_gen import likelihood

g = torch.Generator().manual_seed(0)


def randn(*shape):
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def close(actual, expected, rtol=1e-14):
    """|actual - expected| <= rtol * max(1, |expected|) everywhere, and the same shape."""
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    error = ((actual - expected).abs() / expected.abs().clamp_min(1.0)).max().item()
    return error <= rtol


def test_gaussian_nll_is_the_exact_negative_log_density():
    x, mean, log_var = randn(5, 3, 4), randn(5, 3, 4), randn(5, 3, 4)
    expected = -D.Normal(mean, (0.5 * log_var).exp()).log_prob(x).sum(dim=(1, 2))
    nll = likelihood.gaussian_nll(x, mean, log_var)
    assert nll.shape == (5,)
    assert close(nll, expected)


def test_gaussian_nll_with_unit_variance_is_half_the_squared_error_plus_a_constant():
    x, mean = randn(7, 10), randn(7, 10)
    sse = ((x - mean) ** 2).sum(dim=1)
    assert close(likelihood.gaussian_nll(x, mean), 0.5 * sse + 10 / 2 * math.log(2 * math.pi))


def test_gaussian_nll_accepts_a_scalar_or_broadcast_log_var():
    x, mean = randn(4, 6), randn(4, 6)
    per_dim = torch.full((1, 6), 0.3, dtype=torch.float64)
    expected = -D.Normal(mean, math.exp(0.3 / 2)).log_prob(x).sum(dim=1)  # sigma = exp(log_var / 2)
    assert close(likelihood.gaussian_nll(x, mean, 0.3), expected)
    assert close(likelihood.gaussian_nll(x, mean, per_dim), expected)
    with pytest.raises(ValueError, match="does not broadcast"):
        likelihood.gaussian_nll(x, mean, torch.zeros(5))


def test_diagonal_gaussian_equals_the_multivariate_normal():
    x, mean, log_var = randn(3, 5), randn(3, 5), randn(3, 5)
    mvn = D.MultivariateNormal(mean, covariance_matrix=torch.diag_embed(log_var.exp()))
    assert close(likelihood.gaussian_nll(x, mean, log_var), -mvn.log_prob(x))


def test_bernoulli_nll_matches_the_distribution_and_bce():
    x = torch.bernoulli(torch.full((6, 1, 4, 4), 0.4, dtype=torch.float64), generator=g)
    logits = 3 * randn(6, 1, 4, 4)
    nll = likelihood.bernoulli_nll(x, logits)
    assert close(nll, -D.Bernoulli(logits=logits).log_prob(x).sum(dim=(1, 2, 3)))
    bce = F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="sum") / 6  # not the function it calls
    assert close(nll.mean(), bce)


def test_bernoulli_nll_stays_finite_for_confident_logits():
    x = torch.tensor([[1.0, 0.0]])
    nll = likelihood.bernoulli_nll(x, torch.tensor([[-200.0, 200.0]]))  # sigmoid rounds to 0 and 1
    assert torch.isfinite(nll).all() and nll.item() == pytest.approx(400.0)


def test_continuous_bernoulli_matches_torch_and_integrates_to_one():
    x = torch.rand(8, 20, generator=g, dtype=torch.float64)
    logits = 4 * randn(8, 20)
    logits[0, :5] = torch.tensor([0.0, 1e-4, -3e-3, 0.009, -0.011], dtype=torch.float64)  # the Taylor branch
    expected = -D.ContinuousBernoulli(logits=logits).log_prob(x).sum(dim=1)
    # torch uses its own Taylor expansion near lambda = 1/2; measured 5e-12 relative; 10x margin
    assert close(likelihood.continuous_bernoulli_nll(x, logits), expected, rtol=5e-11)
    grid = torch.linspace(0, 1, 20_001, dtype=torch.float64)
    for logit in (-5.0, -0.5, 0.0, 0.004, 2.0):
        column = torch.full((len(grid), 1), logit, dtype=torch.float64)
        density = (-likelihood.continuous_bernoulli_nll(grid[:, None], column)).exp()
        # the trapezoid rule's own error, h^2 / 12 times the integral of p'': measured 5.2e-9 at logit -5
        assert torch.trapezoid(density, grid).item() == pytest.approx(1.0, abs=2e-8)


def test_continuous_bernoulli_log_norm_matches_its_closed_form_in_high_precision():
    """log C = log(l / tanh(l / 2)), evaluated with 40 digits by mpmath, the independent oracle."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    values = [-30.0, -5.0, -1.0, -0.2, -0.05, -0.0101, -0.0099, -3e-3, -1e-6, 1e-8, 1e-4, 5e-3, 0.0099, 0.0101,
              0.05, 0.2, 1.0, 5.0, 30.0, 80.0]  # both sides of the Taylor branch's edge |l| = 0.01
    logits = torch.tensor(values, dtype=torch.float64)
    reference = torch.tensor([float(mpmath.log(mpmath.mpf(v) / mpmath.tanh(mpmath.mpf(v) / 2))) for v in values],
                             dtype=torch.float64)
    # measured 2.2e-16 (rounding) on both branches; 1e-15 lets no truncated Taylor term through
    assert close(likelihood.continuous_bernoulli_log_norm(logits), reference, rtol=1e-15)
    # float32 keeps its own precision (measured 1.1e-7 relative)
    assert close(likelihood.continuous_bernoulli_log_norm(logits.float()).double(), reference, rtol=5e-7)


def test_continuous_bernoulli_log_norm_at_one_half_is_log_2():
    # C(1/2) = 2, the limit of the 0/0 ratio; exact in float64
    assert torch.equal(likelihood.continuous_bernoulli_log_norm(torch.zeros(3, dtype=torch.float64)),
                       torch.full((3,), math.log(2), dtype=torch.float64))


def test_categorical_nll_matches_cross_entropy_for_classes_and_pixels():
    logits, y = randn(5, 10), torch.randint(10, (5,), generator=g)
    assert close(likelihood.categorical_nll(y, logits), -D.Categorical(logits=logits).log_prob(y))
    # the docstring's formula, -logits_y + log sum_k exp(logits_k), written out (the library calls F.cross_entropy)
    by_hand = -logits[torch.arange(5), y] + logits.exp().sum(dim=1).log()
    assert close(likelihood.categorical_nll(y, logits), by_hand)
    # one label per pixel, as PixelCNN will need: logits (B, K, H, W), labels (B, H, W)
    pixel_logits, pixels = randn(2, 256, 3, 3), torch.randint(256, (2, 3, 3), generator=g)
    per_pixel = -D.Categorical(logits=pixel_logits.permute(0, 2, 3, 1)).log_prob(pixels)
    assert close(likelihood.categorical_nll(pixels, pixel_logits), per_pixel.sum(dim=(1, 2)))


@pytest.mark.parametrize(
    "y, logits, error, message",
    [
        (torch.tensor([0.0, 1.0]), torch.zeros(2, 3), TypeError, "int64 class indices"),
        (torch.tensor([0, 1]), torch.zeros(3, 3), ValueError, r"logits of shape \(B, K, ...\)"),  # batch sizes
        (torch.tensor([[0], [1]]), torch.zeros(2, 3), ValueError, r"logits of shape \(B, K, ...\)"),  # positions
        (torch.tensor([0, 1]), torch.zeros(2), ValueError, r"logits \(2,\) and y \(2,\)"),  # no class axis
        (torch.zeros(2, 5, dtype=torch.long), torch.zeros(2, 3, 4), ValueError, r"logits \(2, 3, 4\) and y \(2, 5\)"),
        (torch.tensor([0, 3]), torch.zeros(2, 3), ValueError, r"labels must lie in \[0, 2\]"),
    ],
)
def test_categorical_nll_rejects_bad_input(y, logits, error, message):
    with pytest.raises(error, match=message):
        likelihood.categorical_nll(y, logits)


def test_kl_normal_std_matches_torch_and_monte_carlo():
    mu, log_var = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    q = D.Normal(mu, (0.5 * log_var).exp())
    p = D.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    closed = likelihood.kl_normal_std(mu, log_var)
    assert close(closed, D.kl_divergence(q, p).sum(dim=1))
    # the definition, E_q[log q - log p], by Monte Carlo with a generator of its own (the same draws
    # whichever tests run before)
    eps = torch.randn(200_000, 4, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    z = mu + (0.5 * log_var).exp() * eps
    log_ratio = (q.log_prob(z) - p.log_prob(z)).sum(dim=2)  # (S, B)
    standard_error = log_ratio.std(dim=0) / math.sqrt(len(z))
    # within 4 standard errors (measured at most 1.25 here; the errors are 0.002-0.007 nats); a
    # missing "- 1" per dimension would be off by 1.5 nats, hundreds of standard errors
    assert ((log_ratio.mean(dim=0) - closed).abs() < 4 * standard_error).all()


def test_kl_normal_normal_matches_torch_and_reduces_to_kl_normal_std():
    mu1, lv1, mu2, lv2 = randn(4, 3), randn(4, 3), randn(4, 3), randn(4, 3)
    expected = D.kl_divergence(D.Normal(mu1, (0.5 * lv1).exp()), D.Normal(mu2, (0.5 * lv2).exp())).sum(dim=1)
    assert close(likelihood.kl_normal_normal(mu1, lv1, mu2, lv2), expected)
    zeros = torch.zeros_like(mu1)
    assert close(likelihood.kl_normal_normal(mu1, lv1, zeros, zeros), likelihood.kl_normal_std(mu1, lv1))
    assert torch.equal(likelihood.kl_normal_normal(mu1, lv1, mu1, lv1), torch.zeros(4, dtype=torch.float64))


def test_log_mean_exp_is_stable_and_exact():
    t = randn(3, 50)
    assert close(likelihood.log_mean_exp(t, dim=1), t.exp().mean(dim=1).log())
    assert close(likelihood.log_mean_exp(t.T, dim=0), t.exp().mean(dim=1).log())  # the dimension is honoured
    huge = torch.tensor([[1000.0, 1000.0]])
    assert likelihood.log_mean_exp(huge, dim=1).item() == pytest.approx(1000.0)
    with pytest.raises(ValueError, match="empty dimension"):
        likelihood.log_mean_exp(torch.zeros(2, 0), dim=1)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: likelihood.gaussian_nll(torch.zeros(2, 3), torch.zeros(2, 4)), ValueError, r"x \(2, 3\), mean \(2, 4\)"),
        (lambda: likelihood.gaussian_nll(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3)), TypeError, "floating-point"),
        (lambda: likelihood.bernoulli_nll(torch.zeros(2, 3), torch.zeros(3, 2)), ValueError, "one shape"),
        (lambda: likelihood.kl_normal_std(torch.zeros(2), [0.0, 0.0]), TypeError, "torch.Tensor"),
        (lambda: likelihood.kl_normal_std(torch.zeros(2, 3), torch.zeros(2, 4)), ValueError, r"mu \(2, 3\), log_var \(2, 4\)"),
        (lambda: likelihood.kl_normal_normal(*[torch.zeros(2, 3)] * 3, torch.zeros(2, 1)), ValueError, r"log_var2 \(2, 1\)"),
        (lambda: likelihood.continuous_bernoulli_log_norm(torch.zeros(2, dtype=torch.long)), TypeError, "logits must be"),
        (lambda: likelihood.gaussian_nll(torch.tensor(1.0), torch.tensor(1.0)), ValueError, "scalar"),
    ],
)
def test_bad_shapes_and_dtypes_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("fn", [likelihood.bernoulli_nll, likelihood.continuous_bernoulli_nll])
@pytest.mark.parametrize("bad, found", [(1.5, r"values in \[0, 1.5\]"), (-0.25, r"values in \[-0.25, 1\]"),
                                        (float("nan"), "1 NaN entries")])
def test_bernoulli_targets_outside_the_unit_interval_are_refused(fn, bad, found):
    """Outside [0, 1] the Bernoulli formula is no probability (it went negative before: e.g. x = 2, logit 5)."""
    x = torch.tensor([[0.0, 1.0, 0.5], [0.2, 0.3, 0.4]], dtype=torch.float64)
    x[1, 1] = bad
    with pytest.raises(ValueError, match=rf"{fn.__name__}: x .* must hold values in \[0, 1\], got " + found):
        fn(x, torch.zeros_like(x))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_an_empty_batch_gives_an_empty_result(dtype):
    """Every likelihood function: B = 0 gives a (0,) tensor of the input's dtype (it was a reshape error)."""
    x = torch.zeros(0, 1, 4, 4, dtype=dtype)
    mu = torch.zeros(0, 3, dtype=dtype)
    results = [
        likelihood.gaussian_nll(x, x), likelihood.gaussian_nll(x, x, torch.zeros_like(x)),
        likelihood.bernoulli_nll(x, x), likelihood.continuous_bernoulli_nll(x, x),
        likelihood.categorical_nll(torch.zeros(0, dtype=torch.int64), torch.zeros(0, 10, dtype=dtype)),
        likelihood.categorical_nll(torch.zeros(0, 4, 4, dtype=torch.int64), torch.zeros(0, 10, 4, 4, dtype=dtype)),
        likelihood.kl_normal_std(mu, mu), likelihood.kl_normal_normal(mu, mu, mu, mu),
    ]
    for result in results:
        assert result.shape == (0,) and result.dtype == dtype
    assert likelihood.continuous_bernoulli_log_norm(x).shape == x.shape
