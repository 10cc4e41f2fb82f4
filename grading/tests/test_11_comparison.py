"""Grading tests of exercises/11_comparison.ipynb (run by `edu-gen grade`).

Each test makes hidden inputs from its own seed, computes the right answer here, in the grading
process, by another route than the exercise's hints (a symmetric eigen-decomposition for the
Fréchet distance, loops and sorting for retrieval and AUROC, NumPy histograms for the weights),
and compares it with what the student's function returns. Messages never contain an input or an
expected value.
"""

import numpy as np
import pytest
import torch

from edu_gen.grading.checks import Rules, WrongType, assert_close, hidden

# What the text forbids: the book's library, scikit-learn's ROC functions, SciPy's Mann-Whitney test, torchmetrics.
# Checked in every graded test of each function.
FORBIDDEN = {"edu_gen", "sample_quality", "applications", "roc_auc_score", "roc_curve", "mannwhitneyu", "torchmetrics"}
RULES = Rules({name: FORBIDDEN for name in ("gaussian_fit", "frechet_distance", "precision_at_k", "auroc",
                                             "outlier_aurocs", "inverse_density_weights")})


def scalar(value, what: str) -> torch.Tensor:
    """The student's one number as a 0-d tensor: a 0-d tensor, or a Python / NumPy float, is accepted.

    A float does not say in which precision it was computed (`.item()` of a float32 mean is a Python float): it
    becomes a float32 tensor, so that `assert_close` allows float32 rounding, as for a float32 tensor.
    """
    if isinstance(value, (float, np.floating)) and not isinstance(value, bool):
        return torch.tensor(float(value), dtype=torch.float32)
    if isinstance(value, torch.Tensor) and value.dim() == 0:
        return value
    raise WrongType(f"{what} must return one number: a 0-d tensor or a float")


def psd(g: torch.Generator, f: int) -> torch.Tensor:
    a = torch.randn(f, f, generator=g, dtype=torch.float64)
    return a @ a.T / f + 0.05 * torch.eye(f, dtype=torch.float64)


def frechet(mean_a, cov_a, mean_b, cov_b) -> torch.Tensor:
    """d^2 in the symmetric form: tr (A^1/2 B A^1/2)^1/2, two eigen-decompositions of symmetric matrices."""
    values, vectors = torch.linalg.eigh(cov_a)
    root_a = vectors @ torch.diag(values.clamp(min=0).sqrt()) @ vectors.T
    cross = torch.linalg.eigvalsh(root_a @ cov_b @ root_a).clamp(min=0).sqrt().sum()
    return ((mean_a - mean_b) ** 2).sum() + cov_a.trace() + cov_b.trace() - 2 * cross


# --------------------------------------------------------------------------- 1. the Fréchet distance


@pytest.mark.points(2)
def test_gaussian_fit_on_hidden_features(student):
    """`gaussian_fit` returns the mean and the N - 1 covariance, for N > F and for N < F"""
    g = hidden(11101)
    for n, f in ((9, 3), (4, 6)):
        x = 5 + 2 * torch.randn(n, f, generator=g, dtype=torch.float64)
        got = RULES.call(student, "gaussian_fit", x)
        assert isinstance(got, (tuple, list)) and len(got) == 2, "gaussian_fit must return (mean, covariance)"
        assert_close(got[0], x.mean(0), what="gaussian_fit's mean", rtol=1e-9, atol=1e-12, shape_name="(F,)")
        assert_close(got[1], torch.cov(x.T), what="gaussian_fit's covariance", rtol=1e-9, atol=1e-12, shape_name="(F, F)")


@pytest.mark.points(3)
def test_frechet_distance_on_hidden_gaussians(student):
    """`frechet_distance` is d^2 for hidden means and full covariances (no common axes)"""
    g = hidden(11102)
    for f in (2, 5, 8):
        mean_a, mean_b = torch.randn(f, generator=g, dtype=torch.float64), torch.randn(f, generator=g, dtype=torch.float64)
        cov_a, cov_b = psd(g, f), psd(g, f)
        got = scalar(RULES.call(student, "frechet_distance", mean_a, cov_a, mean_b, cov_b), "frechet_distance")
        assert_close(got, frechet(mean_a, cov_a, mean_b, cov_b), what="frechet_distance(mean_a, cov_a, mean_b, cov_b)",
                     rtol=1e-7, atol=1e-9)


@pytest.mark.points(1)
def test_frechet_distance_of_one_covariance_is_the_squared_mean_gap(student):
    """with one covariance the distance is |mean_a - mean_b|^2 (squared, and d^2 not d)"""
    g = hidden(11103)
    mean_a, mean_b, cov = torch.randn(4, generator=g, dtype=torch.float64), torch.randn(4, generator=g, dtype=torch.float64), psd(g, 4)
    got = scalar(RULES.call(student, "frechet_distance", mean_a, cov, mean_b, cov), "frechet_distance")
    assert_close(got, ((mean_a - mean_b) ** 2).sum(), what="frechet_distance with one covariance", rtol=1e-7, atol=1e-9)


# --------------------------------------------------------------------------- 2. precision@k


def brute_precision_at_k(codes: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    total = 0.0
    for i in range(len(codes)):
        order = sorted((float(((codes[i] - codes[j]) ** 2).sum()), j) for j in range(len(codes)) if j != i)
        total += sum(int(labels[j] == labels[i]) for _, j in order[:k]) / k
    return torch.tensor(total / len(codes), dtype=torch.float64)


@pytest.mark.points(3)
def test_precision_at_k_on_hidden_codes(student):
    """`precision_at_k` on hidden codes of different lengths and unbalanced classes, for several k"""
    g = hidden(11201)
    n = 40
    codes = torch.randn(n, 3, generator=g, dtype=torch.float64) * (0.2 + 3 * torch.rand(n, 1, generator=g, dtype=torch.float64))
    labels = torch.multinomial(torch.tensor([0.65, 0.25, 0.1]), n, replacement=True, generator=g)
    codes[labels == 1] += 1.5                                          # some structure, so precision is not chance
    for k in (1, 4, 11):
        got = scalar(RULES.call(student, "precision_at_k", codes, labels, k), "precision_at_k")
        assert_close(got, brute_precision_at_k(codes, labels, k), what="precision_at_k(codes, labels, k)", rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- 3. AUROC


def pairs_auroc(scores_in: torch.Tensor, scores_out: torch.Tensor) -> torch.Tensor:
    wins = sum(1.0 if o > i else 0.5 if o == i else 0.0 for o in scores_out.tolist() for i in scores_in.tolist())
    return torch.tensor(wins / (len(scores_in) * len(scores_out)), dtype=torch.float64)


@pytest.mark.points(2)
def test_auroc_on_hidden_scores(student):
    """`auroc` on hidden continuous scores of sets of different sizes"""
    g = hidden(11301)
    s_in, s_out = torch.randn(23, generator=g, dtype=torch.float64), 0.8 + torch.randn(11, generator=g, dtype=torch.float64)
    got = scalar(RULES.call(student, "auroc", s_in, s_out), "auroc")
    assert_close(got, pairs_auroc(s_in, s_out), what="auroc(scores_in, scores_out)", rtol=1e-9, atol=1e-12)


@pytest.mark.points(2)
def test_auroc_with_many_ties(student):
    """`auroc` counts a tie as one half (hidden integer scores)"""
    g = hidden(11302)
    s_in, s_out = torch.randint(0, 4, (30,), generator=g).double(), torch.randint(1, 5, (17,), generator=g).double()
    got = scalar(RULES.call(student, "auroc", s_in, s_out), "auroc")
    assert_close(got, pairs_auroc(s_in, s_out), what="auroc with tied scores", rtol=1e-9, atol=1e-12)


@pytest.mark.points(3)
def test_outlier_aurocs_on_hidden_log_likelihoods(student):
    """`outlier_aurocs`: the AUROC of -log p and of |-log p - H|, H from the reference set"""
    g = hidden(11303)
    reference = -(100 + 4 * torch.randn(50, generator=g, dtype=torch.float64))
    inliers = -(103 + 6 * torch.randn(30, generator=g, dtype=torch.float64))           # their mean is not the reference's
    outliers = -torch.cat([80 + 5 * torch.randn(10, generator=g, dtype=torch.float64),  # too likely
                           125 + 5 * torch.randn(10, generator=g, dtype=torch.float64)])  # too unlikely
    got = RULES.call(student, "outlier_aurocs", reference, inliers, outliers)
    assert isinstance(got, dict) and {"likelihood", "typicality"} <= set(got), \
        "outlier_aurocs must return a dict with the keys likelihood and typicality"
    h = (-reference).mean()
    assert_close(scalar(got["likelihood"], "outlier_aurocs"), pairs_auroc(-inliers, -outliers), what="the likelihood AUROC",
                 rtol=1e-9, atol=1e-12)
    assert_close(scalar(got["typicality"], "outlier_aurocs"), pairs_auroc((-inliers - h).abs(), (-outliers - h).abs()),
                 what="the typicality AUROC", rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- 4. debiasing weights


def numpy_weights(codes: np.ndarray, bins: int, alpha: float) -> torch.Tensor:
    w = np.ones(len(codes))
    for i in range(codes.shape[1]):
        counts, edges = np.histogram(codes[:, i], bins=bins)                       # equal width, last edge in the last bin
        which = np.clip(np.searchsorted(edges, codes[:, i], side="right") - 1, 0, bins - 1)
        w /= counts[which] / len(codes) + alpha
    return torch.tensor(w / w.sum(), dtype=torch.float64)


@pytest.mark.points(3)
def test_inverse_density_weights_on_hidden_codes(student):
    """`inverse_density_weights` on hidden codes whose latents have different ranges, alpha = 0 and alpha > 0"""
    g = hidden(11401)
    codes = torch.randn(60, 3, generator=g, dtype=torch.float64) * torch.tensor([1.0, 7.0, 0.3], dtype=torch.float64) \
        + torch.tensor([0.0, 20.0, -3.0], dtype=torch.float64)
    codes[:5, 0] += 4                                                                 # a rare group in latent 0
    for bins, alpha in ((4, 0.0), (6, 0.2)):
        got = RULES.call(student, "inverse_density_weights", codes, bins, alpha)
        assert_close(got, numpy_weights(codes.numpy(), bins, alpha), what="inverse_density_weights(codes, bins, alpha)",
                     rtol=1e-5, atol=1e-14, shape_name="(N,)")
        # rtol 1e-5: shares computed in float32 (torch.bincount(...) / N) are right to 1e-7 per latent; the smallest
        # catalogued mistake (counts for shares) is off by far more
