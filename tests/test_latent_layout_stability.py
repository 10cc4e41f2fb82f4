"""The measures of benchmarks/latent_layout_stability.py on known answers, and its models being the VAE chapter's."""

import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))   # the script imports its sibling _models
spec = importlib.util.spec_from_file_location("latent_layout_stability_for_tests",
                                              ROOT / "benchmarks" / "latent_layout_stability.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

from edu_gen import vae  # noqa: E402


def _layout(n=300, seed=0):
    """Clustered 2D codes with labels: ten Gaussian blobs at unequal places, as a trained code roughly is."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 10
    centres = torch.randn(10, 2, generator=g) * 3
    return centres[labels] + 0.5 * torch.randn(n, 2, generator=g), labels


def _similar(z, angle=0.7, scale=2.5, shift=(4.0, -1.0), reflect=False):
    """z rotated by `angle`, optionally reflected, scaled and shifted: the same layout up to a similarity."""
    rotation = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    if reflect:
        rotation = rotation @ torch.tensor([[1.0, 0.0], [0.0, -1.0]])
    return scale * z @ rotation.T + torch.tensor(shift)


@pytest.mark.parametrize("reflect", [False, True])
def test_a_rotated_scaled_shifted_copy_is_the_same_layout(reflect):
    z, labels = _layout()
    copy = _similar(z, reflect=reflect)
    # float32 codes: measured disparity ~1e-14, agreement and correlation 1 to rounding
    assert bench.procrustes_disparity(z, copy) < 1e-8
    assert bench.neighbour_agreement(z, copy) == 1.0
    assert bench.centroid_correlation(z, copy, labels) > 1 - 1e-6


def test_an_independent_layout_is_not():
    z, labels = _layout(seed=0)
    other = torch.randn(len(z), 2, generator=torch.Generator().manual_seed(1))   # unrelated to z
    # measured 0.995 (disparity), 0.030 against the chance level 10/299 = 0.033 (agreement), -0.03 (centroids)
    assert bench.procrustes_disparity(z, other) > 0.8
    assert bench.neighbour_agreement(z, other) < 0.15
    assert abs(bench.centroid_correlation(z, other, labels)) < 0.5


def test_a_shuffled_copy_is_unrelated_and_noise_moves_the_measures_in_order():
    z, labels = _layout()
    shuffled = _similar(z)[torch.randperm(len(z), generator=torch.Generator().manual_seed(2))]
    assert bench.procrustes_disparity(z, shuffled) > 0.8            # the same cloud, the points' identities lost
    noise = torch.randn(z.shape, generator=torch.Generator().manual_seed(3))
    small, large = _similar(z + 0.05 * noise), _similar(z + 1.0 * noise)
    assert bench.procrustes_disparity(z, small) < bench.procrustes_disparity(z, large)
    assert bench.neighbour_agreement(z, small) > bench.neighbour_agreement(z, large)


def test_neighbour_agreement_by_hand():
    # six points on a line in two groups of three: 0 1 2 and 10 11 12
    a = torch.tensor([[0.0, 0], [1, 0], [2, 0], [10, 0], [11, 0], [12, 0]])
    b = torch.tensor([[0.0, 0], [1, 0], [2, 0], [12, 0], [11.5, 0], [10, 0]])   # the second group reordered
    # k = 2: every point's two nearest are the two others of its group, in both layouts
    assert bench.neighbour_agreement(a, b, k=2) == 1.0
    c = torch.tensor([[0.0, 0], [1, 0], [10, 0], [2, 0], [11, 0], [12, 0]])   # points 2 and 3 swap groups
    # nearest two in a: {1,2} {0,2} {1,0} {4,5} {3,5} {4,3}; in c: {1,3} {0,3} {4,5} {1,0} {2,5} {4,2}:
    # shared 1, 1, 0, 0, 1, 1 of 2 each
    assert bench.neighbour_agreement(a, c, k=2) == pytest.approx(4 / 12)


def test_compare_layouts_reports_every_pair_and_the_means():
    z, labels = _layout()
    codes = [z, _similar(z), torch.randn(z.shape, generator=torch.Generator().manual_seed(4))]
    out = bench.compare_layouts(codes, labels, k=5)
    assert set(out["disparity"]) == {"0-1", "0-2", "1-2"}
    assert out["disparity"]["0-1"] < 1e-4 < out["disparity"]["0-2"]
    assert out["neighbour_agreement"]["0-1"] == 1.0
    assert out["disparity_mean"] == pytest.approx(sum(out["disparity"].values()) / 3, abs=1e-4)


def test_bad_input_is_refused_with_the_argument_named():
    z, labels = _layout()
    with pytest.raises(ValueError, match="same digits"):
        bench.procrustes_disparity(z, z[:-1])
    with pytest.raises(ValueError, match="k must be"):
        bench.neighbour_agreement(z, z, k=len(z))
    with pytest.raises(ValueError, match="labels"):
        bench.centroid_correlation(z, z, labels[:-1])
    with pytest.raises(ValueError, match="at least two"):
        bench.compare_layouts([z], labels)
    with pytest.raises(ValueError, match="seed"):
        bench.compared_model(2, torch.zeros(1, 1, 28, 28), seed=-1)


@pytest.mark.parametrize("deterministic", [False, True])
def test_the_models_are_the_vae_chapters_compared_models_with_a_seed(monkeypatch, deterministic):
    """What the script passes to vae.load_or_train_vae is what vae.compared_model passes, and the seed."""
    monkeypatch.setenv("EDU_GEN_SCALE", "book")    # compared and main budgets differ here (at ci both are 300 steps)
    calls = []
    monkeypatch.setattr(vae, "load_or_train_vae", lambda *args, **kwargs: calls.append((args, kwargs)) or (None, None))
    images = torch.zeros(4, 1, 28, 28)
    vae.compared_model(2, images, deterministic=deterministic)
    bench.compared_model(2, images, deterministic=deterministic, seed=3)
    (args_chapter, kwargs_chapter), (args_bench, kwargs_bench) = calls
    assert kwargs_bench.pop("seed") == 3
    assert kwargs_chapter.pop("seed", 0) == 0                        # the chapter's models are seed 0
    assert args_bench[0] == args_chapter[0] and args_bench[1] == args_chapter[1]   # name and config
    assert args_bench[2] is args_chapter[2] and args_bench[3] == args_chapter[3]   # images and steps
    assert kwargs_bench == kwargs_chapter
