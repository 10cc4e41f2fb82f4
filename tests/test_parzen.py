"""edu_gen.parzen against torch.distributions (the oracle), and its refusals.

Tolerances are a small multiple of what was measured in float64 (noted beside each)."""

import dataclasses
import math

import pytest
import torch
from torch import distributions as D

from edu_gen import data, parzen

g = torch.Generator().manual_seed(0)


def randn(*shape):
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def test_parzen_log_density_is_the_mixture_of_gaussians():
    centers, x = randn(40, 3), randn(9, 3)
    mixture = D.MixtureSameFamily(D.Categorical(torch.ones(40, dtype=torch.float64)),
                                  D.Independent(D.Normal(centers, 0.7), 1))
    ours = parzen.parzen_log_density(x, centers, 0.7)
    assert torch.allclose(ours, mixture.log_prob(x), rtol=0, atol=1e-13)                  # measured 9e-16
    assert not torch.allclose(parzen.parzen_log_density(x, centers, 0.75), mixture.log_prob(x), rtol=0, atol=1e-3)


def test_parzen_log_density_is_batched_consistently_and_stays_finite_in_784_dimensions():
    centers, x = torch.rand(50, 784, generator=g), torch.rand(30, 784, generator=g)   # float32, as images are
    squared = ((x[:, None] - centers[None]) ** 2).sum(2)
    assert (torch.exp(-squared / (2 * 0.05**2)) == 0).all()      # every kernel value underflows ...
    whole = parzen.parzen_log_density(x, centers, 0.05)
    assert whole.dtype == torch.float32 and torch.isfinite(whole).all()   # ... the log does not
    reference = parzen.parzen_log_density(x.double(), centers.double(), 0.05)
    assert torch.allclose(whole.double(), reference, rtol=1e-5, atol=0)   # float32 vs float64: measured 1.4e-6 relative
    batched = parzen.parzen_log_density(x.double(), centers.double(), 0.05, batch_size=7)
    assert torch.allclose(batched, reference, rtol=1e-14, atol=0)         # float64, batches of 7: measured exact


def test_parzen_density_integrates_to_one_in_1d():
    centers = randn(20, 1)
    grid = torch.linspace(-8, 8, 4001, dtype=torch.float64)[:, None]
    density = parzen.parzen_log_density(grid, centers, 0.3).exp()
    assert torch.trapezoid(density, grid[:, 0]).item() == pytest.approx(1.0, abs=1e-12)   # measured 2e-16


def test_select_bandwidth_prefers_an_interior_bandwidth_on_held_out_data():
    train = data.gaussian_mixture_1d(200, seed=0)[0].double()[:, None]
    valid = data.gaussian_mixture_1d(200, seed=1)[0].double()[:, None]
    bandwidths = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
    best, scores = parzen.select_bandwidth(train, valid, bandwidths)
    assert scores.shape == (6,) and best == bandwidths[int(scores.argmax())]
    assert scores.max() > max(scores[0], scores[-1]) + 0.5                # measured: -1.44 against -8.2 and -2.39
    assert best not in (0.01, 3.0)
    # scored on the training points themselves, the smallest bandwidth always wins
    assert parzen.select_bandwidth(train, train, bandwidths)[0] == 0.01


def test_manifold_parzen_matches_full_covariance_gaussians():
    x, q = randn(60, 5), randn(11, 5)
    model = parzen.manifold_parzen(x, num_neighbors=8, dim=2, noise_variance=0.2)
    cov = model.covariances()
    expected = torch.logsumexp(D.MultivariateNormal(x, covariance_matrix=cov).log_prob(q[:, None, :]), 1) - math.log(60)
    assert torch.allclose(parzen.manifold_parzen_log_density(q, model), expected, rtol=0, atol=1e-13)  # measured 9e-15
    assert torch.allclose(parzen.manifold_parzen_log_density(q, model, batch_size=3), expected, rtol=0, atol=1e-13)


def test_manifold_parzen_directions_are_the_local_covariance_eigenvectors():
    x = randn(50, 4)
    model = parzen.manifold_parzen(x, num_neighbors=6, dim=2, noise_variance=0.1)
    neighbors = parzen.neighbor_indices(x, 6)
    for i in (0, 17, 49):
        values, vectors = torch.linalg.eigh(parzen.local_covariance(x, i, neighbors[i]))
        assert torch.allclose(model.variances[i], values.flip(0)[:2], rtol=0, atol=1e-14)       # measured 1e-15
        assert torch.allclose((model.directions[i] @ vectors[:, [-1, -2]]).abs(), torch.eye(2, dtype=torch.float64),
                              rtol=0, atol=1e-13)                                              # measured 4e-16


def test_manifold_parzen_without_directions_is_a_parzen_window():
    x, q = randn(30, 3), randn(5, 3)
    model = parzen.manifold_parzen(x, num_neighbors=5, dim=1, noise_variance=0.25)
    flat = dataclasses.replace(model, variances=torch.zeros_like(model.variances))
    # σ² = 0.25 and no directions: a Parzen window of bandwidth σ = 0.5 (measured 4e-16)
    assert torch.allclose(parzen.manifold_parzen_log_density(q, flat), parzen.parzen_log_density(q, x, 0.5), rtol=0, atol=1e-13)


def test_neighbour_indices_exclude_the_point_itself_even_with_duplicates():
    x = torch.tensor([[0.0], [0.0], [1.0], [3.0]])
    neighbors = parzen.neighbor_indices(x, 2)
    assert all(i not in row.tolist() for i, row in enumerate(neighbors))


def test_bad_input_is_refused():
    x = randn(10, 2)
    with pytest.raises(ValueError, match="bandwidth must be a positive number"):
        parzen.parzen_log_density(x, x, 0.0)
    with pytest.raises(ValueError, match=r"pass x\[:, None\]"):
        parzen.parzen_log_density(torch.zeros(5, dtype=torch.float64), x, 1.0)
    with pytest.raises(ValueError, match="dimension"):
        parzen.parzen_log_density(randn(3, 3), x, 1.0)
    bad = x.clone()
    bad[2, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite"):
        parzen.parzen_log_density(x, bad, 1.0)
    with pytest.raises(ValueError, match="needs at least 11 points"):
        parzen.manifold_parzen(x, num_neighbors=10)
    with pytest.raises(ValueError, match="dim must be"):
        parzen.manifold_parzen(x, num_neighbors=5, dim=3)
    with pytest.raises(ValueError, match="at least one bandwidth"):
        parzen.select_bandwidth(x, x, [])


def test_a_non_positive_noise_variance_is_refused_clearly_even_after_replace():
    x = torch.randn(30, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    model = parzen.manifold_parzen(x, num_neighbors=5, dim=1)
    for bad in (0.0, -0.01, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"noise_variance must be a positive number \(finite\), got"):
            dataclasses.replace(model, noise_variance=bad)    # was "math domain error" once evaluated
    with pytest.raises(TypeError, match="noise_variance must be .*bool"):
        dataclasses.replace(model, noise_variance=True)
    # any numeric kind is accepted and stored as a float
    assert dataclasses.replace(model, noise_variance=torch.tensor(0.5)).noise_variance == 0.5
    with pytest.raises(TypeError, match="model must be a ManifoldParzen"):
        parzen.manifold_parzen_log_density(x, {"centers": x})


def test_manifold_parzen_works_on_the_model_device_meta():
    """`covariances` builds its identity on the model's device and the log-density moves x there:
    on the meta device (no values, every op checks devices) both ran on the CPU before and failed."""
    x = torch.randn(30, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    model = parzen.manifold_parzen(x, num_neighbors=5, dim=1)
    on_meta = dataclasses.replace(model, centers=model.centers.to("meta"), directions=model.directions.to("meta"),
                                  variances=model.variances.to("meta"))
    assert on_meta.covariances().device.type == "meta"
    assert parzen.manifold_parzen_log_density(x[:4], on_meta).device.type == "meta"   # x comes from the CPU
