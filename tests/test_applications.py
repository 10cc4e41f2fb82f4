"""edu_gen.applications against independent references: scikit-learn's roc_auc_score, brute-force retrieval
over every order of tied rows, NumPy histograms, and the exact density of a Gaussian (the typicality fix)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.metrics import roc_auc_score

from edu_gen import applications

SOME = settings(deadline=None)


# --------------------------------------------------------------------------- AUROC


def sklearn_auroc(scores_in, scores_out) -> float:
    y = np.r_[np.zeros(len(scores_in)), np.ones(len(scores_out))]
    return float(roc_auc_score(y, np.r_[np.asarray(scores_in, float), np.asarray(scores_out, float)]))


def test_auroc_matches_scikit_learn_with_and_without_ties():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(300, generator=g), 0.7 + torch.randn(200, generator=g)
    # the same sums of 0/1/half counts in another order: only float rounding of a ~6e4 sum differs (measured 0)
    assert applications.auroc(a, b) == pytest.approx(sklearn_auroc(a, b), abs=1e-12)
    tied_in, tied_out = torch.randint(0, 5, (97,), generator=g), torch.randint(1, 7, (41,), generator=g)
    assert applications.auroc(tied_in, tied_out) == pytest.approx(sklearn_auroc(tied_in, tied_out), abs=1e-12)


def test_auroc_ends_and_chance():
    assert applications.auroc(torch.tensor([0.0, 1.0]), torch.tensor([2.0, 3.0, 4.0])) == 1.0
    assert applications.auroc(torch.tensor([2.0, 3.0]), torch.tensor([0.0, 1.0])) == 0.0
    assert applications.auroc(torch.ones(4), torch.ones(3)) == 0.5           # every pair tied: one half each
    # one outlier above one inlier and tied with the other: (1 + 1/2) / 2
    assert applications.auroc(torch.tensor([1.0, 2.0]), torch.tensor([2.0])) == 0.75


@SOME
@given(hnp.arrays(np.float64, st.integers(1, 30), elements=st.integers(-4, 4).map(float)),
       hnp.arrays(np.float64, st.integers(1, 30), elements=st.integers(-4, 4).map(float)), st.randoms())
def test_auroc_properties_with_many_ties(scores_in, scores_out, rnd):
    """Against scikit-learn (when both classes are present); order-free; swapping the sets gives 1 - AUROC;
    a strictly increasing map of the scores changes nothing."""
    got = applications.auroc(scores_in, scores_out)
    assert got == pytest.approx(sklearn_auroc(scores_in, scores_out), abs=1e-12)
    shuffled_in, shuffled_out = list(scores_in), list(scores_out)
    rnd.shuffle(shuffled_in), rnd.shuffle(shuffled_out)
    assert applications.auroc(torch.tensor(shuffled_in), torch.tensor(shuffled_out)) == pytest.approx(got, abs=1e-12)
    assert applications.auroc(scores_out, scores_in) == pytest.approx(1 - got, abs=1e-12)
    assert applications.auroc(np.exp(scores_in), np.exp(scores_out)) == pytest.approx(got, abs=1e-12)


def test_auroc_refuses_bad_scores():
    with pytest.raises(ValueError, match="scores_in must be a 1-d tensor"):
        applications.auroc(torch.zeros(0), torch.zeros(3))
    with pytest.raises(ValueError, match="scores_out must be a 1-d tensor"):
        applications.auroc(torch.zeros(3), torch.zeros(3, 1))
    with pytest.raises(ValueError, match="scores_out must be finite"):
        applications.auroc(torch.zeros(3), torch.tensor([0.0, float("nan")]))
    with pytest.raises(TypeError, match="real numbers"):
        applications.auroc(torch.zeros(3, dtype=torch.bool), torch.zeros(3))


# --------------------------------------------------------------------------- typicality


def test_typicality_detects_the_too_likely_outlier_that_the_likelihood_misses():
    """The Gaussian N(0, I_D), D = 100, as a density model with an exact log p. Its typical samples have
    |z|^2 near D, so -log p near H = D/2 (1 + log 2 pi); points near the mode (z = 0, the 'simpler images')
    have a HIGHER density than every sample: the NLL ranks them as the least outlying (AUROC ~ 0), the
    typicality score as the most (AUROC ~ 1)."""
    D = 100
    g = torch.Generator().manual_seed(0)

    def nll(z):                                                      # -log N(z; 0, I), exact
        return 0.5 * (z ** 2).sum(1) + 0.5 * D * math.log(2 * math.pi)

    held_out, test = torch.randn(1000, D, generator=g), torch.randn(500, D, generator=g)
    near_mode = 0.1 * torch.randn(200, D, generator=g)
    assert applications.auroc(nll(test), nll(near_mode)) == 0.0     # the likelihood's failure, exactly
    scores = applications.typicality_score(nll(test), nll(held_out))
    outliers = applications.typicality_score(nll(near_mode), nll(held_out))
    assert applications.auroc(scores, outliers) == 1.0
    entropy = 0.5 * D * (1 + math.log(2 * math.pi))
    # the held-out mean estimates H: its standard error is sqrt(D / 2) / sqrt(1000) = 0.22 nats; 5 x that
    assert float((applications.typicality_score(torch.tensor([entropy]), nll(held_out)))) < 1.2
    assert torch.allclose(scores, (nll(test).double() - nll(held_out).double().mean()).abs())


# --------------------------------------------------------------------------- precision@k


def brute_precision_at_k(codes: np.ndarray, labels: np.ndarray, k: int, order: list[int]) -> float:
    """Retrieval with ties broken by `order` (a stable sort in that order), the query left out."""
    n = len(codes)
    hits = 0
    for i in range(n):
        others = [j for j in order if j != i]
        distances = [float(np.linalg.norm(codes[i] - codes[j])) for j in others]
        ranked = [others[r] for r in sorted(range(len(others)), key=lambda r: distances[r])]   # stable
        hits += sum(labels[j] == labels[i] for j in ranked[:k])
    return hits / (n * k)


def test_precision_at_k_matches_brute_force_without_ties():
    g = np.random.default_rng(0)
    codes, labels = g.normal(size=(40, 3)), g.integers(0, 3, 40)
    for k in (1, 4, 39):
        got = applications.precision_at_k(torch.tensor(codes), torch.tensor(labels), k=k, batch_size=7)
        assert got == pytest.approx(brute_precision_at_k(codes, labels, k, list(range(40))), abs=1e-12), k


def test_precision_at_k_with_ties_is_the_mean_over_every_order_of_the_rows():
    """Integer codes with many equal distances: the tie rule (each tied row counts by the share that fits)
    must equal retrieval averaged over all 6! orders in which a stable sort could meet the rows."""
    codes = np.array([[0, 0], [1, 0], [0, 1], [1, 1], [0, 0], [2, 0]], dtype=float)
    labels = np.array([0, 1, 0, 1, 1, 0])
    fixed_order_differs = False
    for k in (1, 2, 3):
        mean = np.mean([brute_precision_at_k(codes, labels, k, list(p)) for p in itertools.permutations(range(6))])
        got = applications.precision_at_k(torch.tensor(codes), torch.tensor(labels), k=k)
        assert got == pytest.approx(mean, abs=1e-12), k
        fixed_order_differs |= abs(brute_precision_at_k(codes, labels, k, list(range(6))) - mean) > 1e-6
    assert fixed_order_differs        # the ties matter here: one fixed tie-break would not pass the check above


@SOME
@given(st.integers(4, 12).flatmap(lambda n: st.tuples(
    hnp.arrays(np.float64, (n, 2), elements=st.integers(-2, 2).map(float)),
    hnp.arrays(np.int64, n, elements=st.integers(0, 2)),
    st.integers(1, n - 1), st.permutations(range(n)))))
def test_precision_at_k_does_not_depend_on_the_order_of_rows(case):
    codes, labels, k, perm = case
    got = applications.precision_at_k(torch.tensor(codes), torch.tensor(labels), k=k, batch_size=3)
    again = applications.precision_at_k(torch.tensor(codes[list(perm)]), torch.tensor(labels[list(perm)]), k=k)
    assert again == pytest.approx(got, abs=1e-12)
    assert 0.0 <= got <= 1.0
    if k == len(codes) - 1:                      # every other row retrieved: the share of same-class pairs
        same = sum(int(labels[i] == labels[j]) for i in range(len(codes)) for j in range(len(codes)) if i != j)
        assert got == pytest.approx(same / (len(codes) * k), abs=1e-12)


def test_precision_at_k_refuses_bad_input():
    codes, labels = torch.randn(5, 2), torch.tensor([0, 1, 0, 1, 0])
    with pytest.raises(ValueError, match="k must be an int from 1 to N - 1 = 4"):
        applications.precision_at_k(codes, labels, k=5)
    with pytest.raises(ValueError, match=r"labels must be \(5,\)"):
        applications.precision_at_k(codes, labels[:4])
    with pytest.raises(TypeError, match="labels must be integer classes"):
        applications.precision_at_k(codes, labels.float())
    with pytest.raises(ValueError, match=r"codes must be an \(N, D\) tensor"):
        applications.precision_at_k(torch.randn(5), labels)


# --------------------------------------------------------------------------- inverse density weights


def numpy_weights(codes: np.ndarray, bins: int, alpha: float) -> np.ndarray:
    """W prop. to prod_i 1 / (share of codes in z_i's bin + alpha), with numpy.histogram's equal-width bins."""
    log_w = np.zeros(len(codes))
    for i in range(codes.shape[1]):
        counts, edges = np.histogram(codes[:, i], bins=bins)
        which = np.clip(np.searchsorted(edges, codes[:, i], side="right") - 1, 0, bins - 1)   # last edge in the last bin
        log_w -= np.log(counts[which] / len(codes) + alpha)
    w = np.exp(log_w - log_w.max())
    return w / w.sum()


def test_inverse_density_weights_match_numpy_histograms():
    g = np.random.default_rng(1)
    codes = np.c_[g.normal(size=500), g.exponential(size=500), g.uniform(size=500)]
    for bins, alpha in ((10, 0.01), (3, 0.0), (25, 1.0)):
        got = applications.inverse_density_weights(torch.tensor(codes), bins=bins, alpha=alpha)
        assert got.dtype == torch.float64 and got.shape == (500,)
        # same products in another order; rounding of exp/log of d = 3 terms: measured 4e-17, margin 1e-13 relative
        np.testing.assert_allclose(got.numpy(), numpy_weights(codes, bins, alpha), rtol=1e-10)
        assert float(got.sum()) == pytest.approx(1.0, abs=1e-12)


def test_inverse_density_weights_make_a_rare_group_as_likely_as_a_common_one():
    """90 codes at 0 and 10 at 1 (one latent, 2 bins): with alpha = 0 each rare example weighs 9 times a common
    one, so the two groups are drawn equally often; alpha -> infinity gives equal weights."""
    codes = torch.cat([torch.zeros(90, 1), torch.ones(10, 1)])
    w = applications.inverse_density_weights(codes, bins=2, alpha=0.0)
    assert float(w[-1] / w[0]) == pytest.approx(9.0, rel=1e-12)
    assert float(w[:90].sum()) == pytest.approx(0.5, rel=1e-12) and float(w[90:].sum()) == pytest.approx(0.5, rel=1e-12)
    flat = applications.inverse_density_weights(codes, bins=2, alpha=1e9)
    assert torch.allclose(flat, torch.full((100,), 0.01, dtype=torch.float64), rtol=1e-8)
    # a constant latent adds the same factor to every example: the weights do not change
    both = applications.inverse_density_weights(torch.cat([codes, torch.full((100, 1), 3.0)], 1), bins=2, alpha=0.0)
    assert torch.allclose(both, w, rtol=1e-12)


def test_inverse_density_weights_refuse_bad_input():
    with pytest.raises(ValueError, match="bins must be an int >= 1"):
        applications.inverse_density_weights(torch.randn(5, 2), bins=0)
    with pytest.raises(ValueError, match="alpha must be a finite number >= 0"):
        applications.inverse_density_weights(torch.randn(5, 2), alpha=-0.1)
    with pytest.raises(ValueError, match="codes must be finite"):
        applications.inverse_density_weights(torch.tensor([[0.0], [float("inf")]]))


# --------------------------------------------------------------------------- count_parameters


def test_count_parameters_counts_every_scalar_once():
    linear = torch.nn.Linear(3, 4)                                   # 3 x 4 weights + 4 biases
    assert applications.count_parameters(linear) == 16
    assert applications.count_parameters({"generator": linear, "discriminator": torch.nn.Linear(4, 1)}) == 16 + 5
    assert applications.count_parameters([linear, torch.nn.Sequential(linear)]) == 16      # shared: once
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        applications.count_parameters("vae")
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        applications.count_parameters([])
