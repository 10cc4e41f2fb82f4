"""Each negative log-likelihood against torch.distributions, the oracle (STYLE.md habit 7)."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import distributions as D

from edu_gen import likelihood

g = torch.Generator().manual_seed(0)


def randn(*shape):
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def test_gaussian_nll_is_the_exact_negative_log_density():
    x, mean, log_var = randn(5, 3, 4), randn(5, 3, 4), randn(5, 3, 4)
    expected = -D.Normal(mean, (0.5 * log_var).exp()).log_prob(x).sum(dim=(1, 2))
    nll = likelihood.gaussian_nll(x, mean, log_var)
    assert nll.shape == (5,)
    assert torch.allclose(nll, expected)


def test_gaussian_nll_with_unit_variance_is_half_the_squared_error_plus_a_constant():
    x, mean = randn(7, 10), randn(7, 10)
    sse = ((x - mean) ** 2).sum(dim=1)
    assert torch.allclose(likelihood.gaussian_nll(x, mean), 0.5 * sse + 10 / 2 * math.log(2 * math.pi))


def test_gaussian_nll_accepts_a_scalar_or_broadcast_log_var():
    x, mean = randn(4, 6), randn(4, 6)
    per_dim = torch.full((1, 6), 0.3, dtype=torch.float64)
    assert torch.allclose(likelihood.gaussian_nll(x, mean, 0.3), likelihood.gaussian_nll(x, mean, per_dim))
    with pytest.raises(ValueError, match="does not broadcast"):
        likelihood.gaussian_nll(x, mean, torch.zeros(5))


def test_diagonal_gaussian_equals_the_multivariate_normal():
    x, mean, log_var = randn(3, 5), randn(3, 5), randn(3, 5)
    mvn = D.MultivariateNormal(mean, covariance_matrix=torch.diag_embed(log_var.exp()))
    assert torch.allclose(likelihood.gaussian_nll(x, mean, log_var), -mvn.log_prob(x))


def test_bernoulli_nll_matches_the_distribution_and_bce():
    x = torch.bernoulli(torch.full((6, 1, 4, 4), 0.4, dtype=torch.float64), generator=g)
    logits = 3 * randn(6, 1, 4, 4)
    nll = likelihood.bernoulli_nll(x, logits)
    assert torch.allclose(nll, -D.Bernoulli(logits=logits).log_prob(x).sum(dim=(1, 2, 3)))
    bce = F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="sum") / 6
    assert torch.allclose(nll.mean(), bce)


def test_bernoulli_nll_stays_finite_for_confident_logits():
    x = torch.tensor([[1.0, 0.0]])
    nll = likelihood.bernoulli_nll(x, torch.tensor([[-200.0, 200.0]]))  # sigmoid rounds to 0 and 1
    assert torch.isfinite(nll).all() and nll.item() == pytest.approx(400.0)


def test_continuous_bernoulli_matches_torch_and_integrates_to_one():
    x = torch.rand(8, 20, generator=g, dtype=torch.float64)
    logits = 4 * randn(8, 20)
    logits[0, :5] = torch.tensor([0.0, 1e-4, -3e-3, 0.009, -0.011], dtype=torch.float64)  # the Taylor branch
    expected = -D.ContinuousBernoulli(logits=logits).log_prob(x).sum(dim=1)
    assert torch.allclose(likelihood.continuous_bernoulli_nll(x, logits), expected, atol=1e-6)
    grid = torch.linspace(0, 1, 20_001, dtype=torch.float64)
    for logit in (-5.0, -0.5, 0.0, 0.004, 2.0):
        column = torch.full((len(grid), 1), logit, dtype=torch.float64)
        density = (-likelihood.continuous_bernoulli_nll(grid[:, None], column)).exp()
        assert torch.trapezoid(density, grid).item() == pytest.approx(1.0, abs=1e-6)


def test_continuous_bernoulli_log_norm_at_one_half_is_log_2():
    assert likelihood.continuous_bernoulli_log_norm(torch.zeros(3)).allclose(torch.full((3,), math.log(2)))


def test_categorical_nll_matches_cross_entropy_for_classes_and_pixels():
    logits, y = randn(5, 10), torch.randint(10, (5,), generator=g)
    assert torch.allclose(likelihood.categorical_nll(y, logits), -D.Categorical(logits=logits).log_prob(y))
    assert torch.allclose(likelihood.categorical_nll(y, logits).mean(), F.cross_entropy(logits, y))
    # one label per pixel, as PixelCNN will need: logits (B, K, H, W), labels (B, H, W)
    pixel_logits, pixels = randn(2, 256, 3, 3), torch.randint(256, (2, 3, 3), generator=g)
    per_pixel = -D.Categorical(logits=pixel_logits.permute(0, 2, 3, 1)).log_prob(pixels)
    assert torch.allclose(likelihood.categorical_nll(pixels, pixel_logits), per_pixel.sum(dim=(1, 2)))


@pytest.mark.parametrize(
    "y, logits, error, message",
    [
        (torch.tensor([0.0, 1.0]), torch.zeros(2, 3), TypeError, "int64 class indices"),
        (torch.tensor([0, 1]), torch.zeros(3, 3), ValueError, r"logits of shape \(B, K, ...\)"),
        (torch.tensor([0, 3]), torch.zeros(2, 3), ValueError, r"labels must lie in \[0, 2\]"),
    ],
)
def test_categorical_nll_rejects_bad_input(y, logits, error, message):
    with pytest.raises(error, match=message):
        likelihood.categorical_nll(y, logits)


def test_kl_normal_std_matches_torch_and_monte_carlo():
    mu, log_var = randn(4, 3), randn(4, 3)
    q = D.Normal(mu, (0.5 * log_var).exp())
    p = D.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    closed = likelihood.kl_normal_std(mu, log_var)
    assert torch.allclose(closed, D.kl_divergence(q, p).sum(dim=1))
    z = q.sample((200_000,))
    monte_carlo = (q.log_prob(z) - p.log_prob(z)).sum(dim=2).mean(dim=0)
    assert torch.allclose(monte_carlo, closed, atol=0.05, rtol=0.02)


def test_kl_normal_normal_matches_torch_and_reduces_to_kl_normal_std():
    mu1, lv1, mu2, lv2 = randn(4, 3), randn(4, 3), randn(4, 3), randn(4, 3)
    expected = D.kl_divergence(D.Normal(mu1, (0.5 * lv1).exp()), D.Normal(mu2, (0.5 * lv2).exp())).sum(dim=1)
    assert torch.allclose(likelihood.kl_normal_normal(mu1, lv1, mu2, lv2), expected)
    zeros = torch.zeros_like(mu1)
    assert torch.allclose(likelihood.kl_normal_normal(mu1, lv1, zeros, zeros), likelihood.kl_normal_std(mu1, lv1))
    assert torch.allclose(likelihood.kl_normal_normal(mu1, lv1, mu1, lv1), torch.zeros(4, dtype=torch.float64))


def test_log_mean_exp_is_stable_and_exact():
    t = randn(3, 50)
    assert torch.allclose(likelihood.log_mean_exp(t, dim=1), t.exp().mean(dim=1).log())
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
        (lambda: likelihood.gaussian_nll(torch.tensor(1.0), torch.tensor(1.0)), ValueError, "scalar"),
    ],
)
def test_bad_shapes_and_dtypes_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()
