"""edu_gen.sample_quality: the Fréchet distance against SciPy, class histograms, nearest images, mode coverage."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import linalg

from edu_gen import metrics, sample_quality


def scipy_frechet(a: np.ndarray, b: np.ndarray) -> float:
    """The usual closed formula, |mu_a - mu_b|^2 + tr(S_a + S_b - 2 sqrtm(S_a S_b)), with SciPy's sqrtm."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(s_a @ s_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a + s_b - 2 * root))


def test_frechet_distance_matches_the_closed_formula_with_scipy_sqrtm():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(500, 12, generator=g, dtype=torch.float64) @ torch.randn(12, 12, generator=g, dtype=torch.float64)
    b = 0.5 + torch.randn(400, 12, generator=g, dtype=torch.float64) @ torch.randn(12, 12, generator=g, dtype=torch.float64)
    got, expected = sample_quality.frechet_distance(a, b), scipy_frechet(a.numpy(), b.numpy())
    # measured relative difference 1e-13 (float64, well-conditioned covariances); 1e-8 margin
    assert got == pytest.approx(expected, rel=1e-8)
    assert sample_quality.frechet_distance(b, a) == pytest.approx(got, rel=1e-8)      # symmetric
    assert sample_quality.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_of_diagonal_gaussians_is_mean_gap_plus_std_gaps():
    """Exact moments (not samples): for diagonal covariances d^2 = |mu_a - mu_b|^2 + sum (sigma_a - sigma_b)^2."""
    # features with exactly mean (1, 2) / (0, 0) and variances (4, 1) / (1, 9): +-sigma around the mean in each axis
    def exact(mean, std):
        pts = torch.tensor([[1.0, 0], [-1, 0], [0, 1], [0, -1]], dtype=torch.float64) * torch.tensor(std) * math.sqrt(1.5)
        return pts + torch.tensor(mean)
    a, b = exact([1.0, 2.0], [2.0, 1.0]), exact([0.0, 0.0], [1.0, 3.0])
    assert sample_quality.frechet_distance(a, b) == pytest.approx(5.0 + 1.0 + 4.0, rel=1e-10)


def test_frechet_distance_refuses_mismatched_features():
    with pytest.raises(ValueError, match="one F"):
        sample_quality.frechet_distance(torch.zeros(5, 3), torch.zeros(5, 4))
    with pytest.raises(ValueError, match="finite"):
        sample_quality.frechet_distance(torch.full((5, 3), float("nan")), torch.zeros(5, 3))


class ReadsFirstPixel(torch.nn.Module):
    """A stand-in classifier: the class is round(9 x the first pixel), with certainty."""

    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return 50.0 * torch.nn.functional.one_hot((x[:, 0, 0, 0] * 9).round().long(), 10).float()


def images_of_classes(classes):
    x = torch.zeros(len(classes), 1, 28, 28)
    x[:, 0, 0, 0] = torch.tensor(classes, dtype=torch.float32) / 9
    return x


def test_class_histogram_counts_covered_classes_and_kl_to_uniform():
    clf = ReadsFirstPixel()
    uniform = sample_quality.class_histogram(clf, images_of_classes(list(range(10)) * 10))
    assert uniform["classes_covered"] == 10 and uniform["kl_to_uniform"] == pytest.approx(0.0, abs=1e-12)
    assert uniform["counts"].tolist() == [10] * 10 and uniform["confidence"] == pytest.approx(1.0)
    one = sample_quality.class_histogram(clf, images_of_classes([3] * 50))
    assert one["classes_covered"] == 1 and one["kl_to_uniform"] == pytest.approx(math.log(10), rel=1e-12)
    assert one["counts"].tolist() == [0, 0, 0, 50, 0, 0, 0, 0, 0, 0]     # which class, not only how evenly
    # 91 of class 0 and one each of 1..9: a class with 1 sample of a fair share of 10 is not covered at min_share 0.1
    skewed = sample_quality.class_histogram(clf, images_of_classes([0] * 91 + list(range(1, 10))))
    assert skewed["classes_covered"] == 10
    assert sample_quality.class_histogram(clf, images_of_classes([0] * 91 + list(range(1, 10))), min_share=0.2)["classes_covered"] == 1
    h = torch.tensor([0.91] + [0.01] * 9, dtype=torch.float64)
    assert skewed["kl_to_uniform"] == pytest.approx(float((h * (10 * h).log()).sum()), rel=1e-9)


def test_classifier_features_are_the_hidden_layer():
    torch.manual_seed(0)
    clf = metrics.DigitClassifier(hidden_dim=7)
    x = torch.rand(3, 1, 28, 28)
    feats = sample_quality.classifier_features(clf, x, batch_size=2)
    lin = clf.net[1]
    assert torch.allclose(feats, torch.relu(x.flatten(1) @ lin.weight.T + lin.bias), atol=1e-6)
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        sample_quality.classifier_features(clf, torch.rand(3, 784))


def test_nearest_training_against_brute_force_across_batches():
    g = torch.Generator().manual_seed(0)
    train, samples = torch.rand(50, 1, 4, 4, generator=g), torch.rand(6, 1, 4, 4, generator=g)
    d, i = sample_quality.nearest_training(samples, train, batch_size=7)
    brute = ((samples.flatten(1)[:, None] - train.flatten(1)[None]) ** 2).sum(-1).sqrt()
    assert torch.equal(i, brute.argmin(1)) and torch.allclose(d, brute.min(1).values, atol=1e-5)
    d0, i0 = sample_quality.nearest_training(train[[17, 3]], train)
    assert i0.tolist() == [17, 3] and torch.allclose(d0, torch.zeros(2), atol=1e-3)


def test_mode_coverage_counts_modes_and_high_quality_samples():
    centres = torch.tensor([[math.cos(a), math.sin(a)] for a in torch.arange(8) * 2 * math.pi / 8]) * 2
    g = torch.Generator().manual_seed(0)
    on_three = centres[torch.tensor([0, 0, 2, 5] * 50)] + 0.05 * torch.randn(200, 2, generator=g)
    far = torch.zeros(100, 2)                                                  # the ring's centre: no mode within 3 sd
    out = sample_quality.mode_coverage(torch.cat([on_three, far]), centres, std=0.05)
    assert out["modes_covered"] == 3
    assert out["counts"][[0, 2, 5]].sum() == out["counts"].sum()
    # 3 sd in 2-D holds 1 - exp(-4.5) = 98.9% of a Gaussian's mass; 200 of 300 points are near a mode
    assert abs(out["high_quality"] - 200 * (1 - math.exp(-4.5)) / 300) < 0.03
    with pytest.raises(ValueError, match="std must be a positive number"):
        sample_quality.mode_coverage(on_three, centres, std=0.0)


def test_grid_2d_has_25_distinct_centres_on_the_lattice():
    from edu_gen import data

    x, mode = data.grid_2d(20_000, seed=0)
    assert x.shape == (20_000, 2) and mode.shape == (20_000,) and set(mode.tolist()) == set(range(25))
    centres = torch.stack([x[mode == k].mean(0) for k in range(25)])
    lattice = torch.tensor([[2.0 * (i - 2), 2.0 * (j - 2)] for i in range(5) for j in range(5)])
    assert torch.allclose(centres, lattice, atol=0.01)           # 800 points per mode: the mean's sd is 0.05 / 28
    assert torch.pdist(centres).min() > 1.9                       # distinct centres, spacing 2
    assert abs((x - lattice[mode]).std().item() - 0.05) < 0.002
    with pytest.raises(ValueError, match="std must be a positive number"):
        data.grid_2d(10, std=0.0)


def test_ring_2d_has_distinct_centres():
    """The issue's worry: a copied sampler spaces the angles with linspace(0, 2 pi, 8), repeating a centre."""
    from edu_gen import data

    x, mode = data.ring_2d(16_000, seed=0)
    centres = torch.stack([x[mode == k].mean(0) for k in range(8)])
    assert torch.pdist(centres).min() > 1.5                       # 2 r sin(pi / 8) = 1.53 for r = 2


# --------------------------------------------------------------------------- precision and recall (Kynkäänniemi et al.)


def brute_precision_recall(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    """Their equations 1-3 with loops: radius = distance to the k-th nearest other row of the own set."""
    def radii(points):
        return [sorted(np.linalg.norm(points[i] - points[j]) for j in range(len(points)) if j != i)[k - 1]
                for i in range(len(points))]

    def inside(queries, points):
        r = radii(points)
        return np.mean([any(np.linalg.norm(q - p) <= r_p for p, r_p in zip(points, r)) for q in queries])

    return float(inside(fake, real)), float(inside(real, fake))


def test_precision_recall_matches_the_papers_definition_by_brute_force():
    g = np.random.default_rng(0)
    real = g.normal(size=(60, 4))
    fake = np.r_[0.5 * g.normal(size=(30, 4)), g.normal(size=(20, 4)) + 3]     # narrow, plus a cluster off the data
    for k in (1, 3, 7):
        got = sample_quality.precision_recall(torch.tensor(real), torch.tensor(fake), k=k, batch_size=11)
        precision, recall = brute_precision_recall(real, fake, k)
        assert (got["precision"], got["recall"]) == (pytest.approx(precision, abs=1e-12), pytest.approx(recall, abs=1e-12))
    # the narrow sampler: most samples on the data, not all of the data covered; the off cluster lowers precision
    assert got["recall"] < 0.95 and 0.3 < got["precision"] < 0.75


def test_precision_recall_tells_quality_from_diversity():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(400, 8, generator=g)
    same = sample_quality.precision_recall(real, torch.randn(400, 8, generator=g))
    assert same["precision"] > 0.8 and same["recall"] > 0.8            # another draw of the data: both high
    collapsed = real[:1] + 0.01 * torch.randn(400, 8, generator=g)      # one real point, copied with jitter
    out = sample_quality.precision_recall(real, collapsed)
    assert out["precision"] == 1.0 and out["recall"] < 0.05            # every sample good, hardly any diversity
    far = sample_quality.precision_recall(real, torch.randn(400, 8, generator=g) + 20)
    assert far == {"precision": 0.0, "recall": 0.0}
    assert sample_quality.precision_recall(real, real) == {"precision": 1.0, "recall": 1.0}


@settings(deadline=None, max_examples=30)
@given(st.integers(0, 10_000), st.integers(1, 4))
def test_precision_recall_does_not_depend_on_the_order_of_rows(seed, k):
    g = torch.Generator().manual_seed(seed)
    real, fake = torch.randint(-2, 3, (15, 2), generator=g).double(), torch.randint(-2, 3, (12, 2), generator=g).double()
    got = sample_quality.precision_recall(real, fake, k=k, batch_size=4)
    shuffled = sample_quality.precision_recall(real[torch.randperm(15, generator=g)], fake[torch.randperm(12, generator=g)], k=k)
    assert got == shuffled


def test_precision_recall_refuses_bad_input():
    with pytest.raises(ValueError, match="more than k = 3 rows"):
        sample_quality.precision_recall(torch.zeros(3, 2), torch.zeros(10, 2))
    with pytest.raises(ValueError, match="one F"):
        sample_quality.precision_recall(torch.zeros(10, 2), torch.zeros(10, 3))
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        sample_quality.precision_recall(torch.zeros(10, 2), torch.zeros(10, 2), k=0)
    with pytest.raises(ValueError, match="finite"):
        sample_quality.precision_recall(torch.full((10, 2), float("nan")), torch.zeros(10, 2))


def test_precision_recall_counts_a_sample_on_a_ball_boundary_as_inside():
    """Their f uses <=: real 0, 1, 3 with k = 1 have radii 1, 1, 2; the sample -1 lies exactly 1 from 0 (inside),
    10 and 20 lie far from all (integer coordinates: the squared distances are exact)."""
    real = torch.tensor([[0.0], [1.0], [3.0]], dtype=torch.float64)
    fake = torch.tensor([[-1.0], [10.0], [20.0]], dtype=torch.float64)
    assert sample_quality.precision_recall(real, fake, k=1)["precision"] == pytest.approx(1 / 3, abs=1e-15)
