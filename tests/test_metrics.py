"""edu_gen.metrics (the VAE chapter): units, the sample classifier's scores, the mutual information gap.

Thresholds are set from the measured values, with the measurement in a comment."""

import math

import pytest
import torch

from edu_gen import metrics


def test_nats_and_bits():
    assert metrics.nats_to_bits(math.log(2.0)) == pytest.approx(1.0)
    assert metrics.bits_per_dim(784 * math.log(2.0), 784) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="num_dims must be a positive int"):
        metrics.bits_per_dim(1.0, 0)


def test_classifier_confidence_on_known_logits():
    class Fixed(torch.nn.Module):
        def forward(self, x):
            logits = torch.zeros(len(x), 10)
            logits[0, 3] = 100.0                                        # certain of a 3
            return logits                                               # the second image: uniform

    out = metrics.classifier_confidence(Fixed(), torch.zeros(2, 1, 28, 28))
    assert out["label"][0] == 3 and out["max_prob"][0] == pytest.approx(1.0)
    assert out["entropy"][0] == pytest.approx(0.0, abs=1e-6)
    assert out["max_prob"][1] == pytest.approx(0.1) and out["entropy"][1] == pytest.approx(math.log(10))
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        metrics.classifier_confidence(Fixed(), torch.zeros(2, 784))


def test_classifier_score_is_the_number_of_equally_used_confident_classes():
    class OneHot(torch.nn.Module):
        def forward(self, x):                                           # image i -> class i mod m, certain
            return 100.0 * torch.nn.functional.one_hot(x[:, 0, 0, 0].long(), 10).float()

    class Uniform(torch.nn.Module):
        def forward(self, x):
            return torch.zeros(len(x), 10)

    x = torch.zeros(40, 1, 28, 28)
    x[:, 0, 0, 0] = torch.arange(40) % 4
    assert metrics.classifier_score(OneHot(), x) == pytest.approx(4.0, rel=1e-4)   # 4 classes, equally often
    assert metrics.classifier_score(OneHot(), torch.zeros(10, 1, 28, 28)) == pytest.approx(1.0, rel=1e-4)
    assert metrics.classifier_score(Uniform(), x) == pytest.approx(1.0, rel=1e-5)


def test_digit_classifier_learns_separable_classes(tmp_path, monkeypatch):
    monkeypatch.setenv("EDU_GEN_CACHE", str(tmp_path))
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(10).repeat(50)
    images = 0.1 * torch.rand(500, 1, 28, 28, generator=g)
    images.view(500, -1)[torch.arange(500), labels * 70] = 1.0            # class c lights pixel 70 c
    clf = metrics.digit_classifier(images, labels, steps=150)
    out = metrics.classifier_confidence(clf, images)
    assert (out["label"] == labels).float().mean() > 0.95


def test_mig_is_high_for_aligned_latents_and_low_for_mixed_ones():
    g = torch.Generator().manual_seed(0)
    factors = torch.randint(8, (4000, 2), generator=g)
    noise = 0.1 * torch.randn(4000, 2, generator=g)
    aligned = factors.float() + noise
    mixed = torch.stack([aligned[:, 0] + aligned[:, 1], aligned[:, 0] - aligned[:, 1]], 1) / 2
    # measured 0.927 (equal-count bins do not fall exactly on the 8 values), 0.0075 and 0.0017
    assert 0.9 < metrics.mutual_information_gap(aligned, factors, bins=8) <= 1.0      # a fraction of H(v_k)
    assert metrics.mutual_information_gap(mixed, factors, bins=8) < 0.05
    assert metrics.mutual_information_gap(torch.randn(4000, 2, generator=g), factors) < 0.02


def test_mig_rejects_bad_input():
    with pytest.raises(ValueError, match="d >= 2"):
        metrics.mutual_information_gap(torch.zeros(5, 1), torch.zeros(5, 1, dtype=torch.long))
    with pytest.raises(ValueError, match="int64"):
        metrics.mutual_information_gap(torch.zeros(5, 2), torch.zeros(5, 1))


def test_kl_per_latent_splits_the_kl_term_by_coordinate():
    g = torch.Generator().manual_seed(0)
    mu, log_var = torch.randn(50, 4, generator=g), torch.randn(50, 4, generator=g)
    mu[:, 2], log_var[:, 2] = 0.0, 0.0  # coordinate 2 equals the prior: no information
    per_latent = metrics.kl_per_latent(mu, log_var)
    assert per_latent.shape == (4,) and per_latent[2] == 0
    # 1/2 (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2), averaged over examples, written out here: measured 1.2e-7 in float32
    expected = (0.5 * (mu**2 + log_var.exp() - 1 - log_var)).mean(0)
    assert torch.allclose(per_latent, expected, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match=r"same shape \(N, d\)"):
        metrics.kl_per_latent(mu, log_var[:, :3])


def test_mig_ties_share_a_bin_and_row_order_does_not_matter():
    """Issue 12: one constant latent and two pure-noise latents on the shapes data (sorted by factor).

    With ties ranked by row order, the constant latent's bins followed the row order, hence the sorted
    factors: it scored MIG 0.375. Tied values must share a bin, so a constant latent carries nothing."""
    from edu_gen import data

    _, factors = data.shapes()                                             # (1200, 4), sorted by factor
    g = torch.Generator().manual_seed(0)
    latents = torch.cat([torch.zeros(len(factors), 1), torch.rand(len(factors), 2, generator=g)], 1)
    score = metrics.mutual_information_gap(latents, factors)
    # two noise latents differ only by sampling noise: measured 0.0030; the old ranking by row order gave 0.376
    assert 0 <= score < 0.02
    shuffled = torch.randperm(len(factors), generator=g)
    assert metrics.mutual_information_gap(latents[shuffled], factors[shuffled]) == pytest.approx(score, abs=1e-12)
    # a latent with two tied values: its bins are the two values, whatever the rows' order
    two = torch.cat([(factors[:, :1] % 2).float(), torch.rand(len(factors), 1, generator=g)], 1)
    assert metrics.mutual_information_gap(two[shuffled], factors[shuffled]) == pytest.approx(
        metrics.mutual_information_gap(two, factors), abs=1e-12)


def test_mig_refuses_non_finite_latents_and_bad_bins():
    factors = torch.randint(3, (10, 1), generator=torch.Generator().manual_seed(0))
    latents = torch.rand(10, 2)
    latents[3, 1] = float("nan")
    with pytest.raises(ValueError, match="latents must be finite"):
        metrics.mutual_information_gap(latents, factors)
    with pytest.raises(ValueError, match="bins must be an int >= 2"):
        metrics.mutual_information_gap(torch.rand(10, 2), factors, bins=1)


# --------------------------------------------------------------------------------------------
# Parzen-window log-likelihood of a sampler (Goodfellow et al., 2014 protocol)
# --------------------------------------------------------------------------------------------


def _scipy_parzen(samples, test, sigma):
    """Per-test-point log p-hat, float64, from SciPy's Gaussian log-density and logsumexp (the reference)."""
    import numpy as np
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    s, t = samples.reshape(len(samples), -1).double().numpy(), test.reshape(len(test), -1).double().numpy()
    cov = sigma ** 2 * np.eye(s.shape[1])
    log_k = np.stack([multivariate_normal(mean=c, cov=cov).logpdf(t) for c in s], axis=1)   # (M, S)
    return logsumexp(log_k, axis=1) - np.log(len(s))


def test_parzen_log_likelihood_against_scipy():
    g = torch.Generator().manual_seed(0)
    samples, test = torch.rand(40, 1, 3, 3, generator=g, dtype=torch.float64), torch.rand(25, 1, 3, 3, generator=g, dtype=torch.float64)
    ref = _scipy_parzen(samples, test, 0.2)
    mean, se = metrics.parzen_log_likelihood(samples, test, 0.2, batch_size=7)   # batches of 7: the split is exercised
    assert mean == pytest.approx(ref.mean(), abs=1e-9)                          # float64 against float64
    assert se == pytest.approx(ref.std(ddof=1) / math.sqrt(len(ref)), rel=1e-9)


def test_parzen_select_sigma_picks_the_held_out_best():
    # Samples and held-out points from one N(0, 0.3^2 I) in 4 dimensions: the best kernel width is
    # near 0.3 * (4/(S(D+2)))^(1/(D+4)) ~ 0.15 (Silverman), far from the grid's ends 0.1 and 1.
    g = torch.Generator().manual_seed(1)
    samples, valid = 0.3 * torch.randn(400, 4, generator=g, dtype=torch.float64), 0.3 * torch.randn(300, 4, generator=g, dtype=torch.float64)
    sigma, scores = metrics.parzen_select_sigma(samples, valid)
    assert len(scores) == 10 and metrics.PARZEN_SIGMAS[0] == pytest.approx(0.1) and metrics.PARZEN_SIGMAS[-1] == pytest.approx(1.0)
    ref = [_scipy_parzen(samples, valid, s).mean() for s in metrics.PARZEN_SIGMAS]
    assert scores.numpy() == pytest.approx(ref, abs=1e-9)
    assert sigma == metrics.PARZEN_SIGMAS[int(max(range(10), key=lambda i: ref[i]))]
    assert 0.1 < sigma < 0.5                                                  # interior: the score rises then falls


def test_parzen_memoriser_beats_a_blur():
    # The Theis et al. (2016) point in miniature: "samples" that are the test points themselves score
    # far higher than samples from the right distribution, at a small sigma.
    g = torch.Generator().manual_seed(2)
    test, fresh = torch.rand(200, 16, generator=g, dtype=torch.float64), torch.rand(200, 16, generator=g, dtype=torch.float64)
    assert metrics.parzen_log_likelihood(test, test, 0.1)[0] > metrics.parzen_log_likelihood(fresh, test, 0.1)[0] + 10


@pytest.mark.parametrize("call, message", [
    (lambda: metrics.parzen_log_likelihood(torch.rand(5, 4), torch.rand(5, 4), 0.0), "sigma must be a positive number"),
    (lambda: metrics.parzen_log_likelihood(torch.rand(5, 4), torch.rand(5, 4), float("nan")), "sigma must be"),
    (lambda: metrics.parzen_select_sigma(torch.rand(5, 4), torch.rand(5, 4), [0.1, -1.0]), r"sigmas\[1\] must be"),
    (lambda: metrics.parzen_log_likelihood(torch.rand(5, 1, 2, 2), torch.rand(5, 1, 3, 3), 0.5), "samples have 4 values each but test have 9"),
    (lambda: metrics.parzen_log_likelihood(torch.rand(5, 4), torch.rand(1, 4), 0.5), "at least 2 images"),
    (lambda: metrics.parzen_log_likelihood(torch.rand(5), torch.rand(5, 4), 0.5), "at least 2 dimensions"),
    (lambda: metrics.parzen_select_sigma(torch.rand(5, 4), torch.rand(5, 4), []), "at least one candidate"),
    (lambda: metrics.parzen_select_sigma(torch.rand(5, 4), torch.rand(5, 3)), "samples have 4 values each but valid have 3"),
])
def test_parzen_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
