"""edu_gen.nonlocal_parzen against torch.distributions (the oracle), quadrature, and its refusals.

Tolerances are a small multiple of what was measured in float64 (noted beside each)."""

import math

import pytest
import torch
from torch import distributions as D

from edu_gen import nonlocal_parzen as nlp
from edu_gen import parzen

g = torch.Generator().manual_seed(0)


def randn(*shape):
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def random_model(input_dim=3, dim=2, hidden=7, n=6, seed=1):
    """An untrained network with a non-zero offset mu(x), and n training points: every output matters."""
    torch.manual_seed(seed)
    model = nlp.NonLocalManifoldParzen(input_dim, dim, hidden, noise_floor=0.05).double()
    torch.nn.init.normal_(model.offset_layer.weight, std=0.5)
    model.centers = randn(n, input_dim)
    return model


def test_kernel_log_prob_is_the_gaussian_with_covariance_noise_plus_tangents():
    n, k, dim, d = 4, 5, 6, 2
    r, tangents, noise = randn(n, k, dim), randn(n, d, dim), torch.rand(n, generator=g, dtype=torch.float64) + 0.1
    covariance = noise[:, None, None] * torch.eye(dim, dtype=torch.float64) + tangents.transpose(1, 2) @ tangents
    oracle = D.MultivariateNormal(torch.zeros(n, 1, dim, dtype=torch.float64), covariance[:, None]).log_prob(r)
    assert torch.allclose(nlp.kernel_log_prob(r, tangents, noise), oracle, rtol=0, atol=1e-12)   # measured 7e-15
    # the tangents count: the isotropic Gaussian alone is far off
    isotropic = D.Normal(0.0, noise.sqrt()[:, None, None]).log_prob(r).sum(2)
    assert (nlp.kernel_log_prob(r, tangents, noise) - isotropic).abs().max() > 0.1          # measured 7.0


def test_the_mixture_is_the_average_of_the_networks_gaussians():
    model = random_model()
    centres, covariances = model.kernels()
    tangents, offsets, noise = model(model.centers)
    assert offsets.abs().max() > 0.1                               # mu(x) is really used below
    x = randn(11, 3)
    oracle = torch.logsumexp(D.MultivariateNormal(centres, covariances).log_prob(x[:, None, :]), dim=1) - math.log(6)
    assert torch.allclose(model.log_density(x), oracle, rtol=0, atol=1e-12)                     # measured 2e-15
    assert torch.allclose(model.log_density(x, batch_size=4), oracle, rtol=0, atol=1e-12)        # batched alike


def test_the_density_integrates_to_one_in_2d():
    points = randn(5, 2)
    model, _ = nlp.fit_nonlocal_manifold_parzen(points, num_neighbors=2, dim=1, hidden=5, noise_floor=0.05, steps=20)
    centres, covariances = model.kernels()
    widest, narrowest = torch.linalg.eigvalsh(covariances).sqrt().max(), torch.linalg.eigvalsh(covariances).sqrt().min()
    half = (centres.abs().max() + 9 * widest).item()                # every kernel's mass within 9 sigma of the box
    step = (narrowest / 8).item()                                   # 8 grid steps per smallest sigma
    axis = torch.arange(-half, half + step / 2, step, dtype=torch.float64)
    grid = torch.cartesian_prod(axis, axis)
    density = model.log_density(grid, batch_size=50_000).exp().view(len(axis), len(axis))
    mass = torch.trapezoid(torch.trapezoid(density, axis, dim=1), axis).item()
    assert mass == pytest.approx(1.0, abs=1e-6)                     # measured |1 - mass| = 4e-16 (252 x 252 grid)


def test_neighbor_loss_is_the_mean_nll_of_each_neighbour_under_its_points_kernel():
    model = random_model()
    x = model.centers
    neighbors = parzen.neighbor_indices(x, 3)
    tangents, offsets, noise = model(x)
    covariance = noise[:, None, None] * torch.eye(3, dtype=torch.float64) + tangents.transpose(1, 2) @ tangents
    pairs = [-D.MultivariateNormal(x[i] + offsets[i], covariance[i]).log_prob(x[j])
             for i in range(len(x)) for j in neighbors[i]]
    assert torch.allclose(nlp.neighbor_loss(model, x, neighbors), torch.stack(pairs).mean(), rtol=0, atol=1e-12)  # measured 0


def test_mu_learns_only_from_the_k_mu_nearest_neighbours():
    model = random_model()
    x = model.centers
    neighbors = parzen.neighbor_indices(x, 4)

    def offset_gradient(loss):
        model.zero_grad()
        loss.backward()
        return model.offset_layer.weight.grad.clone()

    with_k_mu_1 = offset_gradient(nlp.neighbor_loss(model, x, neighbors, mean_neighbors=1))
    tangents, offsets, noise = model(x)
    nearest_only = -nlp.kernel_log_prob(x[neighbors[:, :1]] - x[:, None] - offsets[:, None], tangents, noise).sum()
    expected = offset_gradient(nearest_only / neighbors.numel())      # the loss is a mean over N k pairs
    assert torch.allclose(with_k_mu_1, expected, rtol=0, atol=1e-13)                            # measured 0
    every = offset_gradient(nlp.neighbor_loss(model, x, neighbors))
    assert (every - with_k_mu_1).abs().max() > 1e-3                  # all four neighbours move mu: measured 0.35


def test_the_learned_tangent_follows_a_noisy_circle():
    angle = torch.rand(200, generator=g, dtype=torch.float64) * 2 * math.pi
    circle = 3 * torch.stack([angle.cos(), angle.sin()], 1) + 0.05 * randn(200, 2)
    model, losses = nlp.fit_nonlocal_manifold_parzen(circle, num_neighbors=8, dim=1, noise_floor=1e-3, steps=300)
    assert losses[-1] < losses[0] - 0.5                  # measured -0.48 -> -1.27 nats per pair (0.7 to 0.8 on 3 draws)
    test_angle = torch.linspace(0, 2 * math.pi, 50, dtype=torch.float64)
    on_circle = 3 * torch.stack([test_angle.cos(), test_angle.sin()], 1)
    true_tangent = torch.stack([-test_angle.sin(), test_angle.cos()], 1)
    cosine = (model.tangent_directions(on_circle)[:, 0] * true_tangent).sum(1).abs()
    degrees = torch.rad2deg(torch.arccos(cosine.clamp(max=1)))
    assert degrees.median() < 5 and degrees.max() < 15   # 3 other draws: median 1.4-2.3, worst 4-9 degrees


def test_fitting_keeps_the_callers_random_state_and_is_reproducible():
    points = randn(30, 2)
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    first, losses_1 = nlp.fit_nonlocal_manifold_parzen(points, 4, steps=5, seed=7)
    assert torch.equal(torch.rand(3), before)                        # the global generator did not move
    second, losses_2 = nlp.fit_nonlocal_manifold_parzen(points, 4, steps=5, seed=7)
    assert losses_1 == losses_2 and torch.equal(first.hidden_layer.weight, second.hidden_layer.weight)


def test_bad_input_is_refused_with_a_clear_message():
    points = randn(10, 2)
    with pytest.raises(ValueError, match="x must have shape"):
        nlp.fit_nonlocal_manifold_parzen(points[:, 0], 3)
    with pytest.raises(ValueError, match="dim"):
        nlp.fit_nonlocal_manifold_parzen(points, 3, dim=3)
    with pytest.raises(ValueError, match="mean_neighbors"):
        nlp.fit_nonlocal_manifold_parzen(points, 3, mean_neighbors=4)
    with pytest.raises(ValueError, match="noise_floor"):
        nlp.fit_nonlocal_manifold_parzen(points, 3, noise_floor=0.0)
    with pytest.raises(ValueError, match="num_neighbors"):
        nlp.fit_nonlocal_manifold_parzen(points, 10)
    with pytest.raises(TypeError, match="steps"):
        nlp.fit_nonlocal_manifold_parzen(points, 3, steps=2.0)
    with pytest.raises(RuntimeError, match="fit_nonlocal_manifold_parzen"):
        nlp.NonLocalManifoldParzen(2).double().log_density(points)
    model, _ = nlp.fit_nonlocal_manifold_parzen(points, 3, steps=2)
    with pytest.raises(ValueError, match="dimension 3"):
        model.log_density(randn(4, 3))
    with pytest.raises(ValueError, match="tangents"):
        nlp.kernel_log_prob(randn(2, 3, 4), randn(2, 5, 4), torch.ones(2, dtype=torch.float64))
