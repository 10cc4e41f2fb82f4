"""Property-based tests (Hypothesis): edu_gen's numerical functions against independent references.

References: NumPy/mpmath written-out formulas, `torch.distributions`, SciPy's `logsumexp`,
scikit-learn's `KernelDensity`, `PCA`, `Isomap` and `locally_linear_embedding`, brute-force
loops for the metrics. Generated inputs include the edge values of issue 12: one example, an
empty batch, extreme logits (+-80), ties, duplicated points, float32 and float64.

Tolerances are in units of the dtype's machine epsilon times the size of the summed terms
(`scale`): the rounding error of a sum of D terms is at most about D eps sum |terms|. The
multiples below were measured over 300 generated examples per test (float32 and float64) and
are several times the largest seen; the measurement is in the comment beside each.

Profiles (conftest.py): `ci` 40 examples, `default` 60, `thorough` 1000
(``HYPOTHESIS_PROFILE=thorough pytest tests/test_properties.py``). The embeddings (Isomap, LLE)
run a fifth as many examples: each solves an eigenproblem.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import logsumexp
from torch import distributions as D

import edu_gen.data
from edu_gen import likelihood, manifold, metrics, parzen, rbm, vae

SOME = settings(deadline=None)                                  # torch's first calls are slow to warm up
FEW = settings(deadline=None, max_examples=max(5, settings.default.max_examples // 5))
DTYPES = st.sampled_from([torch.float32, torch.float64])
EPS = {torch.float32: torch.finfo(torch.float32).eps, torch.float64: torch.finfo(torch.float64).eps}


def floats(low, high):
    return st.floats(low, high, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def batches(draw, low=-80.0, high=80.0, min_batch=0, max_batch=4, max_dim=6, count=1):
    """`count` float64 arrays of one shape (B, D), B from min_batch (0: the empty batch) to max_batch."""
    shape = (draw(st.integers(min_batch, max_batch)), draw(st.integers(1, max_dim)))
    return [draw(hnp.arrays(np.float64, shape, elements=floats(low, high))) for _ in range(count)]


def t(a: np.ndarray, dtype) -> torch.Tensor:
    return torch.as_tensor(a).to(dtype)


def assert_close(actual: torch.Tensor, expected, scale, dtype, multiple: float):
    """|actual - expected| <= multiple * eps(dtype) * scale, elementwise (scale >= 1)."""
    expected = torch.as_tensor(np.asarray(expected, dtype=np.float64))
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    bound = multiple * EPS[dtype] * torch.as_tensor(np.maximum(np.asarray(scale, dtype=np.float64), 1.0))
    error = (actual.double() - expected).abs()
    assert bool((error <= bound).all()), f"max error {error.max():.3g}, bound {bound.min():.3g}"


def log_sigmoid(a: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -a)                                            # log 1 / (1 + e^-a), stable


# --------------------------------------------------------------------------------------------
# Likelihoods and KL divergences
# --------------------------------------------------------------------------------------------


@SOME
@given(batches(count=3, low=-20.0, high=20.0), DTYPES)
def test_gaussian_nll_matches_torch_distributions(arrays, dtype):
    x, mean, log_var = arrays
    log_var = log_var / 4                                                    # sigma from e^-2.5 to e^2.5
    actual = likelihood.gaussian_nll(t(x, dtype), t(mean, dtype), t(log_var, dtype))
    normal = D.Normal(torch.as_tensor(mean), torch.as_tensor(np.exp(0.5 * log_var)))
    expected = -normal.log_prob(torch.as_tensor(x)).sum(1)
    terms = 0.5 * (math.log(2 * math.pi) + np.abs(log_var) + (x - mean) ** 2 * np.exp(-log_var))
    # measured 2.3 (float32) and 1.0 (float64) eps * scale over 300 examples: 16 leaves 7x
    assert_close(actual, expected, terms.sum(1) * (1 + np.abs(log_var).max(initial=0)), dtype, 16)


@SOME
@given(batches(count=1), DTYPES, st.data())
def test_bernoulli_nll_matches_the_written_out_formula_at_extreme_logits(arrays, dtype, data):
    (logits,) = arrays
    x = data.draw(hnp.arrays(np.float64, logits.shape, elements=st.sampled_from([0.0, 1.0])))
    actual = likelihood.bernoulli_nll(t(x, dtype), t(logits, dtype))
    expected = -(x * log_sigmoid(logits) + (1 - x) * log_sigmoid(-logits)).sum(1)
    # independent of torch: NumPy's logaddexp. Measured 1.0 eps * sum (|logit| + 1) over 300 examples
    assert_close(actual, expected, (np.abs(logits) + 1).sum(1), dtype, 8)
    oracle = -D.Bernoulli(logits=torch.as_tensor(logits)).log_prob(torch.as_tensor(x)).sum(1)
    assert_close(actual, oracle, (np.abs(logits) + 1).sum(1), dtype, 8)


def _log_norm_mpmath(logit: float) -> float:
    """log C = log(l / tanh(l / 2)), C(1/2) = 2, at 50 digits: no cancellation left to worry about."""
    with mpmath.workdps(50):
        l = mpmath.mpf(logit)
        return float(mpmath.log(2) if l == 0 else mpmath.log(l / mpmath.tanh(l / 2)))


@SOME
@given(batches(count=1), DTYPES, st.data())
def test_continuous_bernoulli_log_norm_matches_mpmath_from_zero_to_extreme_logits(arrays, dtype, data):
    (logits,) = arrays
    near_half = data.draw(st.booleans())
    if near_half:                                                            # the Taylor branch, |l| < 0.01
        logits = logits / 1e4
    actual = likelihood.continuous_bernoulli_log_norm(t(logits, dtype))
    expected = np.vectorize(_log_norm_mpmath)(t(logits, dtype).double().numpy()) if logits.size else logits
    # measured 1.0 eps relative (float64; 0.7 float32) over 300 examples, Taylor branch included
    assert_close(actual, expected, np.abs(expected), dtype, 8)


@SOME
@given(batches(count=1, low=-5.0, high=5.0), st.data())
def test_continuous_bernoulli_nll_matches_torch_distributions(arrays, data):
    (logits,) = arrays
    assume(np.all(np.abs(logits) > 0.05))           # torch's own Taylor branch is coarse near lambda = 1/2
    x = data.draw(hnp.arrays(np.float64, logits.shape, elements=floats(0.0, 1.0)))
    actual = likelihood.continuous_bernoulli_nll(torch.as_tensor(x), torch.as_tensor(logits))
    expected = -D.ContinuousBernoulli(logits=torch.as_tensor(logits)).log_prob(torch.as_tensor(x)).sum(1)
    # torch computes log C from lambda = sigm(l), which loses digits: measured 11 eps per entry (300 examples)
    assert_close(actual, expected, np.full(len(x), logits.shape[1]), torch.float64, 40)


@SOME
@given(st.integers(0, 4), st.integers(2, 6), st.integers(0, 3), DTYPES, st.data())
def test_categorical_nll_matches_torch_distributions(batch, classes, positions, dtype, data):
    shape = (batch, classes) + ((positions,) if positions else ())
    logits = data.draw(hnp.arrays(np.float64, shape, elements=floats(-80, 80)))
    y = data.draw(hnp.arrays(np.int64, (batch,) + ((positions,) if positions else ()), elements=st.integers(0, classes - 1)))
    actual = likelihood.categorical_nll(torch.as_tensor(y), t(logits, dtype))
    moved = np.moveaxis(logits, 1, -1)                                       # (B, ..., K)
    expected = -D.Categorical(logits=torch.as_tensor(moved), validate_args=False).log_prob(torch.as_tensor(y))  # B = 0 too
    expected = expected.flatten(1).sum(1) if expected.dim() > 1 else expected
    # logsumexp of logits up to 80: measured 0.63 eps * (max |logit| + log K) per position (300 examples)
    per_position = np.abs(moved).max(-1) + math.log(classes)                 # (B, ...)
    scale = per_position.reshape(batch, -1).sum(1) if batch else np.zeros(0)
    assert_close(actual, expected, scale, dtype, 8)


@SOME
@given(batches(count=4, low=-10.0, high=10.0), DTYPES)
def test_kl_divergences_match_torch_distributions(arrays, dtype):
    mu1, lv1, mu2, lv2 = arrays
    lv1, lv2 = lv1 / 2, lv2 / 2                                              # sigma^2 from e^-5 to e^5
    q = D.Normal(torch.as_tensor(mu1), torch.as_tensor(np.exp(0.5 * lv1)))
    p = D.Normal(torch.as_tensor(mu2), torch.as_tensor(np.exp(0.5 * lv2)))
    std = D.Normal(torch.zeros(mu1.shape, dtype=torch.float64), torch.ones(mu1.shape, dtype=torch.float64))
    scale_std = (mu1**2 + np.exp(lv1) + np.abs(lv1) + 1).sum(1)
    scale = (np.abs(lv1 - lv2) + np.exp(lv1 - lv2) + (mu1 - mu2) ** 2 * np.exp(-lv2) + 1).sum(1)
    # measured 1.4 (float32) and 0.6 (float64) eps * scale over 300 examples
    assert_close(likelihood.kl_normal_std(t(mu1, dtype), t(lv1, dtype)), D.kl_divergence(q, std).sum(1), scale_std,
                 dtype, 16)
    actual = likelihood.kl_normal_normal(t(mu1, dtype), t(lv1, dtype), t(mu2, dtype), t(lv2, dtype))
    assert_close(actual, D.kl_divergence(q, p).sum(1), scale * (1 + np.abs(lv2).max(initial=0)), dtype, 16)


@SOME
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5), elements=floats(-80, 80)),
       st.data(), DTYPES)
def test_log_mean_exp_matches_scipy_and_shifts_with_a_constant(values, data, dtype):
    dim = data.draw(st.integers(0, values.ndim - 1))
    shift = data.draw(floats(-50, 50))
    actual = likelihood.log_mean_exp(t(values, dtype), dim)
    expected = logsumexp(t(values, dtype).double().numpy(), axis=dim) - math.log(values.shape[dim])
    # measured 0.9 eps * (max |t| + log n) over 300 examples
    assert_close(actual, expected, np.abs(values).max() + math.log(values.shape[dim]), dtype, 8)
    # log mean exp(t + c) = log mean exp(t) + c
    shifted = likelihood.log_mean_exp(t(values, dtype) + shift, dim) - shift
    assert_close(shifted, actual.double().numpy(), np.abs(values).max() + abs(shift) + 4, dtype, 8)


# --------------------------------------------------------------------------------------------
# Parzen windows
# --------------------------------------------------------------------------------------------


@SOME
@given(batches(count=1, low=-3.0, high=3.0, min_batch=1, max_batch=12, max_dim=3), st.data())
def test_parzen_matches_scikit_learn_kernel_density(arrays, data):
    from sklearn.neighbors import KernelDensity

    (centers,) = arrays                                                      # duplicates and one point included
    queries = data.draw(hnp.arrays(np.float64, (data.draw(st.integers(1, 5)), centers.shape[1]), elements=floats(-4, 4)))
    bandwidth = data.draw(floats(0.1, 3.0))
    actual = parzen.parzen_log_density(torch.as_tensor(queries), torch.as_tensor(centers), bandwidth)
    expected = KernelDensity(bandwidth=bandwidth, kernel="gaussian").fit(centers).score_samples(queries)
    # the squared distances by one matrix product lose digits: measured 2 eps * (1 + R^2 / sigma^2), R the largest |x|
    assert_close(actual, expected, 1 + (np.abs(queries).max() + np.abs(centers).max()) ** 2 / bandwidth**2,
                 torch.float64, 16)
    # shifting data and queries by one constant changes nothing; nor does the order of the centres
    shift = data.draw(floats(-5, 5))
    order = np.random.default_rng(len(centers)).permutation(len(centers))
    moved = parzen.parzen_log_density(torch.as_tensor(queries + shift), torch.as_tensor(centers[order] + shift), bandwidth)
    assert_close(moved, actual.numpy(), 1 + (10 + abs(shift)) ** 2 / bandwidth**2, torch.float64, 16)


# --------------------------------------------------------------------------------------------
# Embeddings: compared up to sign and rotation, through distances and subspaces
# --------------------------------------------------------------------------------------------


def _projector(a: np.ndarray) -> np.ndarray:
    q, _ = np.linalg.qr(a)
    return q @ q.T


@SOME
@given(st.integers(2, 30), st.integers(1, 6), st.integers(0, 2**31), st.data())
def test_pca_matches_scikit_learn(n, dim, seed, data):
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim)) * rng.uniform(0.1, 5.0, size=dim)        # unequal spreads
    if data.draw(st.booleans()):
        x = np.concatenate([x, x[: n // 2]])                                 # duplicated points
    k = data.draw(st.integers(1, min(x.shape)))
    ours = manifold.pca(x, k)
    theirs = PCA(n_components=k, svd_solver="full").fit(x)
    # measured 0 in 150 draws (the same LAPACK SVD underneath); 1e-12 allows another LAPACK build
    assert np.allclose(ours.variances, theirs.explained_variance_, rtol=1e-12, atol=1e-14)
    spectrum = np.concatenate([theirs.explained_variance_, [0.0]]) if k == min(x.shape) else \
        PCA(n_components=k + 1, svd_solver="full").fit(x).explained_variance_
    assume(spectrum[k - 1] - spectrum[k] > 1e-6 * spectrum[0])                # the subspace is defined
    # measured 0; a subspace is known to about eps / (relative eigen-gap) <= 2e-10 under the assume above
    assert np.allclose(_projector(ours.components.T), _projector(theirs.components_.T), rtol=0, atol=1e-8)


@SOME
@given(st.integers(3, 25), st.integers(1, 4), st.integers(0, 2**31))
def test_classical_mds_recovers_euclidean_distances(n, dim, seed):
    from scipy.spatial.distance import pdist, squareform

    x = np.random.default_rng(seed).normal(size=(n, dim))
    k = min(dim, n - 1)
    embedding = manifold.mds(squareform(pdist(x)), k)
    # the exact configuration up to rotation: the same distances (measured 7e-13 relative in 150 draws)
    assert np.allclose(pdist(embedding), pdist(x), rtol=2e-11, atol=2e-11)


def _strip(seed: int, n: int) -> np.ndarray:
    """n points of a 3 x 1 rectangle rotated into 3D: a flat 2D manifold, eigen-gaps well apart."""
    rng = np.random.default_rng(seed)
    plane = rng.uniform([0.0, 0.0], [3.0, 1.0], size=(n, 2))
    rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    return np.c_[plane, np.zeros(n)] @ rotation


@FEW
@given(st.integers(0, 2**31), st.integers(60, 120), st.integers(6, 12))
def test_isomap_matches_scikit_learn(seed, n, k):
    from scipy.spatial.distance import pdist
    from sklearn.manifold import Isomap

    x = _strip(seed, n)
    try:
        ours = manifold.isomap(x, 2, num_neighbors=k)
    except manifold.DisconnectedGraphError:
        assume(False)
    theirs = Isomap(n_neighbors=k, n_components=2, eigen_solver="dense", path_method="D").fit_transform(x)
    # the same graph, geodesics and MDS: the same distances between embedded points (measured 1.2e-14, 30 draws)
    assert np.allclose(pdist(ours), pdist(theirs), rtol=0, atol=1e-12)


@FEW
@given(st.integers(0, 2**31), st.integers(60, 120), st.integers(6, 12))
def test_lle_spans_scikit_learns_subspace(seed, n, k):
    from sklearn.manifold import locally_linear_embedding

    x = _strip(seed, n)
    try:
        ours = manifold.lle(x, 2, num_neighbors=k)
    except manifold.DisconnectedGraphError:
        assume(False)
    theirs, _ = locally_linear_embedding(x, n_neighbors=k, n_components=2, reg=1e-3, eigen_solver="dense")
    # the same weights and matrix M: the same bottom eigen-subspace (rotation and sign are free); measured
    # 1.9e-10 in 30 draws (an eigen-subspace of M, conditioned by its eigen-gap)
    assert np.allclose(_projector(ours), _projector(theirs), rtol=0, atol=1e-8)


# --------------------------------------------------------------------------------------------
# Metrics: brute force and invariances
# --------------------------------------------------------------------------------------------


def _mig_brute_force(latents: np.ndarray, factors: np.ndarray, bins: int) -> float:
    """MIG by counting, one loop per latent and factor: bins from ranks (ties share their lowest rank)."""
    n, d = latents.shape
    codes = np.empty((n, d), dtype=np.int64)
    for j in range(d):
        for i in range(n):
            codes[i, j] = int((latents[:, j] < latents[i, j]).sum()) * bins // n

    def mutual_information(a, b):
        total = 0.0
        for va in set(a.tolist()):
            for vb in set(b.tolist()):
                joint = np.mean((a == va) & (b == vb))
                if joint > 0:
                    total += joint * math.log(joint / (np.mean(a == va) * np.mean(b == vb)))
        return total

    gaps = []
    for m in range(factors.shape[1]):
        entropy = mutual_information(factors[:, m], factors[:, m])
        if entropy <= 0:
            continue
        mi = sorted((mutual_information(codes[:, j], factors[:, m]) for j in range(d)), reverse=True)
        gaps.append((mi[0] - mi[1]) / entropy)
    return sum(gaps) / len(gaps)


@SOME
@given(st.integers(2, 40), st.integers(2, 4), st.integers(1, 3), st.integers(2, 8), st.integers(0, 2**31), st.data())
def test_mig_matches_brute_force_and_ignores_row_order_and_shifts(n, d, m, bins, seed, data):
    rng = np.random.default_rng(seed)
    factors = rng.integers(0, 3, size=(n, m))
    assume((factors.max(0) > factors.min(0)).any())                         # some factor varies
    latents = rng.normal(size=(n, d))
    if data.draw(st.booleans()):
        latents = np.round(latents)                                          # many ties
    if data.draw(st.booleans()):
        latents[:, 0] = factors[:, 0] * 2.0                                  # a latent aligned with a factor
    z, v = torch.as_tensor(latents), torch.as_tensor(factors)
    score = metrics.mutual_information_gap(z, v, bins=bins)
    assert score == pytest.approx(_mig_brute_force(latents, factors, bins), abs=1e-12)
    order = torch.as_tensor(rng.permutation(n))
    assert metrics.mutual_information_gap(z[order], v[order], bins=bins) == pytest.approx(score, abs=1e-12)
    # bins depend on ranks only: a shift and a positive scaling of every latent change nothing
    assert metrics.mutual_information_gap(3.0 * z + 7.0, v, bins=bins) == pytest.approx(score, abs=1e-12)


@SOME
@given(batches(count=2, low=-5.0, high=5.0, min_batch=1, max_batch=8), st.integers(0, 2**31))
def test_kl_per_latent_matches_torch_distributions_and_ignores_row_order(arrays, seed):
    mu, log_var = (torch.as_tensor(a) for a in arrays)
    per_latent = metrics.kl_per_latent(mu, log_var)
    q = D.Normal(mu, (0.5 * log_var).exp())
    expected = D.kl_divergence(q, D.Normal(torch.zeros_like(mu), torch.ones_like(mu))).mean(0)
    assert torch.allclose(per_latent, expected, rtol=1e-14, atol=1e-14)      # float64: measured 4.9e-16 (150 draws)
    order = torch.as_tensor(np.random.default_rng(seed).permutation(len(mu)))
    assert torch.allclose(metrics.kl_per_latent(mu[order], log_var[order]), per_latent, rtol=1e-14, atol=1e-14)


class _Fixed(torch.nn.Module):
    """A 'classifier' that returns given logits for images indexed by their first pixel."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = logits

    def forward(self, images):
        return self.logits[images[:, 0, 0, 0].long()]


@SOME
@given(st.integers(1, 12), st.integers(0, 2**31))
def test_classifier_score_matches_brute_force_and_ignores_row_order(n, seed):
    rng = np.random.default_rng(seed)
    logits = torch.as_tensor(rng.normal(scale=rng.uniform(0.1, 20), size=(n, 10)), dtype=torch.float32)
    images = torch.zeros(n, 1, 28, 28)
    images[:, 0, 0, 0] = torch.arange(n, dtype=torch.float32)
    classifier = _Fixed(logits)
    p = torch.softmax(logits.double(), 1).numpy()
    mean = p.mean(0)
    expected = math.exp(np.mean([sum(p[i, c] * math.log(p[i, c] / mean[c]) for c in range(10) if p[i, c] > 0)
                                 for i in range(n)]))
    score = metrics.classifier_score(classifier, images)
    assert score == pytest.approx(expected, rel=2e-6)                        # float32 softmax: measured 3e-7
    order = torch.as_tensor(rng.permutation(n))
    assert metrics.classifier_score(classifier, images[order]) == pytest.approx(score, rel=2e-6)
    confidence = metrics.classifier_confidence(classifier, images[order])
    assert torch.allclose(confidence["max_prob"], torch.as_tensor(p.max(1), dtype=torch.float32)[order], atol=1e-6)


# --------------------------------------------------------------------------------------------
# The VAE's Gaussian log-density, manifold Parzen windows, the RBM's free energy
# --------------------------------------------------------------------------------------------


@SOME
@given(st.integers(1, 4), st.integers(0, 4), st.integers(1, 5), DTYPES, st.data())
def test_vae_log_normal_matches_torch_distributions_with_broadcasting(k, batch, dim, dtype, data):
    z, mu, log_var = (data.draw(hnp.arrays(np.float64, shape, elements=floats(-10, 10)))
                      for shape in ((k, batch, dim), (batch, dim), (batch, dim)))
    actual = vae.log_normal(t(z, dtype), t(mu, dtype), t(log_var, dtype))          # (k, B)
    expected = D.Normal(torch.as_tensor(mu), torch.as_tensor(np.exp(0.5 * log_var))).log_prob(torch.as_tensor(z)).sum(-1)
    scale = (np.abs(log_var) + 1 + (z - mu) ** 2 * np.exp(-log_var)).sum(-1) * (1 + np.abs(log_var).max(initial=0))
    # measured 1.2 (float32) and 0.6 (float64) eps * scale over 300 examples; 16 leaves 13x
    assert_close(actual, expected, scale, dtype, 16)


@SOME
@given(st.integers(6, 25), st.integers(2, 4), st.integers(0, 2**31), st.data())
def test_manifold_parzen_matches_a_mixture_of_full_gaussians(n, dim, seed, data):
    rng = np.random.default_rng(seed)
    x = torch.as_tensor(rng.normal(size=(n, dim)))
    k = data.draw(st.integers(2, n - 1))
    d = data.draw(st.integers(1, min(k, dim)))
    noise = data.draw(floats(0.01, 1.0))
    model = parzen.manifold_parzen(x, num_neighbors=k, dim=d, noise_variance=noise)
    queries = torch.as_tensor(rng.normal(size=(5, dim)))
    actual = parzen.manifold_parzen_log_density(queries, model)
    # the reference inverts each full D x D covariance (Cholesky) where the library uses the low-rank form
    kernels = D.MultivariateNormal(model.centers, covariance_matrix=model.covariances())      # N kernels
    expected = torch.logsumexp(kernels.log_prob(queries[:, None, :]), dim=1) - math.log(n)
    # measured 6e-13 absolute in 300 draws (sigma^2 down to 0.01: covariances conditioned up to ~1e3); 16x margin
    assert torch.allclose(actual, expected, rtol=0, atol=1e-11)
    # the order of the training points does not matter
    order = torch.as_tensor(rng.permutation(n))
    again = parzen.manifold_parzen_log_density(queries, parzen.manifold_parzen(x[order], num_neighbors=k, dim=d,
                                                                                 noise_variance=noise))
    assert torch.allclose(again, actual, rtol=0, atol=1e-11)


@SOME
@given(st.integers(1, 6), st.integers(1, 8), st.integers(0, 4), st.integers(0, 2**31))
def test_rbm_free_energy_and_conditionals_match_enumeration(visible, hidden, batch, seed):
    import itertools

    rng = np.random.default_rng(seed)
    model = rbm.RBM(visible, hidden).double()
    with torch.no_grad():
        model.weight.copy_(torch.as_tensor(rng.normal(scale=2.0, size=(hidden, visible))))
        model.hidden_bias.copy_(torch.as_tensor(rng.normal(size=hidden)))
        model.visible_bias.copy_(torch.as_tensor(rng.normal(size=visible)))
    v = rng.uniform(size=(batch, visible))
    w, b, c = model.weight.detach().numpy(), model.hidden_bias.detach().numpy(), model.visible_bias.detach().numpy()
    hs = np.array(list(itertools.product([0.0, 1.0], repeat=hidden)))              # all 2^H hidden states
    minus_energy = v @ c[:, None] + (hs @ b)[None, :] + v @ w.T @ hs.T               # (B, 2^H): -E(v, h)
    free = -logsumexp(minus_energy, axis=1)                                         # F(v) = -log sum_h e^{-E}
    posterior = np.exp(minus_energy - logsumexp(minus_energy, axis=1, keepdims=True)) @ hs   # E[h | v] = p(h_j = 1 | v)
    vt = torch.as_tensor(v)
    # measured 7e-15 (free energy) and 2e-15 (p(h | v)) absolute in 300 draws; 14x margin
    assert torch.allclose(model.free_energy(vt).detach(), torch.as_tensor(free), rtol=0, atol=1e-13)
    assert torch.allclose(model.hidden_probability(vt).detach(), torch.as_tensor(posterior).reshape(batch, hidden),
                          rtol=0, atol=1e-13)


# --------------------------------------------------------------------------------------------
# Data: the mixture's exact density, binarisation and the loader (edu_gen.data)
# --------------------------------------------------------------------------------------------


@st.composite
def mixtures(draw, max_components=4):
    k = draw(st.integers(1, max_components))
    means = draw(hnp.arrays(np.float64, k, elements=floats(-5, 5)))
    stds = draw(hnp.arrays(np.float64, k, elements=floats(0.1, 3.0)))
    raw = draw(hnp.arrays(np.float64, k, elements=floats(0.05, 1.0)))
    return means, stds, raw / raw.sum()


@SOME
@given(mixtures(), hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=2, min_side=0, max_side=6),
                              elements=floats(-10, 10)), st.integers(0, 2**31))
def test_mixture_log_density_matches_scipy_and_ignores_the_order_of_components(mixture, x, seed):
    from scipy.stats import norm

    means, stds, weights = mixture
    actual = edu_gen.data.gaussian_mixture_1d_log_density(torch.as_tensor(x), means, stds, weights)
    # the reference: SciPy in float64 on the float32-rounded inputs the function computes with
    x32, m32, s32, w32 = (np.asarray(a, dtype=np.float32).astype(np.float64) for a in (x, means, stds, weights))
    terms = np.log(w32) + norm.logpdf(x32[..., None], m32, s32)                   # (..., K)
    expected = logsumexp(terms, axis=-1)
    assert actual.shape == x.shape and actual.dtype == torch.float32
    # each term is computed in float32: an error of a few eps times its size, and the sum is dominated by the
    # largest terms, whose size is about |log p| + |log pi| + |log sigma|; measured 1.9 eps * scale (0.36 after
    # permuting the components) over 2,000 generated mixtures; 16 is 8x
    scale = np.abs(expected) + 2 * (np.abs(np.log(w32)).max() + np.abs(np.log(s32)).max()) + 2
    assert_close(actual, expected, scale, torch.float32, 16)
    # the order of the components does not matter
    order = np.random.default_rng(seed).permutation(len(means))
    again = edu_gen.data.gaussian_mixture_1d_log_density(torch.as_tensor(x), means[order], stds[order], weights[order])
    assert_close(again, actual.double().numpy(), scale, torch.float32, 16)


@SOME
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=5),
                  elements=st.one_of(st.sampled_from([0.0, 0.5, 1.0, np.nextafter(0.5, 1.0)]), floats(0.0, 1.0))),
       DTYPES, st.integers(0, 2**31))
def test_binarize_matches_a_written_out_threshold_and_keeps_binary_pixels(x, dtype, seed):
    grey = t(x, dtype)
    expected = np.array([1.0 if v > 0.5 else 0.0 for v in grey.double().numpy().reshape(-1)]).reshape(x.shape)
    thresholded = edu_gen.data.binarize(grey, "threshold")
    assert thresholded.dtype == dtype and torch.equal(thresholded.double(), torch.as_tensor(expected))
    drawn = edu_gen.data.binarize(grey, "stochastic", torch.Generator().manual_seed(seed))
    assert drawn.shape == grey.shape and drawn.dtype == dtype and bool(((drawn == 0) | (drawn == 1)).all())
    # a pixel that is already 0 or 1 is Bernoulli(0) or Bernoulli(1): kept as it is
    binary = grey == grey.round()
    assert torch.equal(drawn[binary], grey[binary])


@SOME
@given(st.integers(1, 30), st.integers(1, 10), st.booleans(), st.booleans(), st.integers(0, 2**31))
def test_loader_batches_every_row_once_and_keeps_rows_together(n, batch_size, shuffle, drop_last, seed):
    index = torch.arange(n)
    features = torch.stack([index.double(), -index.double()], dim=1)                 # (N, 2), row i carries i
    batches = list(edu_gen.data.loader(features, index, batch_size=batch_size, shuffle=shuffle, seed=seed,
                                       drop_last=drop_last))
    expected_batches = n // batch_size if drop_last else -(-n // batch_size)
    assert len(batches) == expected_batches
    sizes = [len(b[1]) for b in batches]
    assert all(len(b) == 2 for b in batches) and sizes[:-1] == [batch_size] * (len(sizes) - 1)
    assert sizes[-1:] == ([] if not sizes else [batch_size if drop_last or n % batch_size == 0 else n % batch_size])
    seen = [int(i) for b in batches for i in b[1]]
    assert len(seen) == len(set(seen)) == (n // batch_size * batch_size if drop_last else n)   # each row at most once
    for f, i in batches:
        assert torch.equal(f[:, 0].long(), i) and torch.equal(f[:, 1].long(), -i)          # rows kept together
    if not shuffle:
        assert seen == list(range(len(seen)))
