"""Grading tests of exercises/02_manifold_learning.ipynb (run by `edu-gen grade`).

Each test makes hidden inputs from its own seed (this file is never handed out, and the grader
hides it from submissions), computes the right answer here, in the grading process, with the
book's library (`edu_gen.manifold`, `edu_gen.parzen`) or with SciPy, and compares it with what
the student's function returns. The first line of each docstring is what the student's feedback
calls the check; messages never contain an input or an expected value.
"""

import numpy as np
import pytest
import torch
from scipy.sparse import csgraph

from edu_gen import manifold, parzen
from edu_gen.grading.checks import Rules, WrongShape, WrongType, as_tensor, assert_close, hidden

# What the functions must not call: the book's library, scikit-learn, SciPy's graph algorithms,
# torch.distributions; they are to be written from the formulas.
LIBRARY = {"manifold", "parzen", "sklearn", "distributions", "edu_gen"}
# "written from the SVD": an eigendecomposition of the covariance is another algorithm, refused too
PCA_SHORTCUTS = LIBRARY | {"PCA", "pca_lowrank", "decomposition", "eig", "eigh", "eigvals", "eigvalsh"}
PATH_SHORTCUTS = LIBRARY | {"csgraph", "shortest_path", "dijkstra", "floyd_warshall", "bellman_ford", "johnson",
                            "geodesic_distances", "networkx"}
LLE_SHORTCUTS = LIBRARY | {"lle_weights", "barycenter_weights", "LocallyLinearEmbedding"}
DENSITY_SHORTCUTS = LIBRARY | {"Normal", "MultivariateNormal", "MixtureSameFamily", "gaussian_kde", "KernelDensity"}
COVARIANCE_SHORTCUTS = LIBRARY | {"manifold_parzen", "covariances"}
# checked in every graded test of each function (issue 15); `pca` must also call the SVD, as its text says
RULES = Rules({"pca": PCA_SHORTCUTS, "shortest_paths": PATH_SHORTCUTS, "lle_weights_one": LLE_SHORTCUTS,
               "parzen_log_density": DENSITY_SHORTCUTS, "local_covariance": COVARIANCE_SHORTCUTS,
               "kernel_covariance": COVARIANCE_SHORTCUTS},
              required={"pca": ({"svd"}, "an SVD (torch.linalg.svd)")})


def tensors(result, count: int, what: str) -> list[torch.Tensor]:
    """The student's tuple of `count` tensors, or a WrongType saying what came back instead."""
    if not isinstance(result, (tuple, list)) or len(result) != count:
        raise WrongType(f"{what} should return {count} tensors (a tuple), got something else")
    return [as_tensor(r, f"{what} (item {i + 1})") for i, r in enumerate(result)]


# --------------------------------------------------------------------------- 1. PCA


def _check_pca(student, x: torch.Tensor, k: int, what: str) -> None:
    mean, w, variances = tensors(RULES.call(student, "pca", x, k), 3, what)
    reference = manifold.pca(x.numpy(), k)
    assert_close(mean, torch.from_numpy(reference.mean), what=f"the mean from {what}")
    if tuple(w.shape) != (k, x.shape[1]):
        raise WrongShape(f"the directions from {what} have another shape; expected (d, D)")  # closed vocabulary
    w = w.to(torch.float64)
    expected_w = torch.from_numpy(reference.components)
    # each direction's sign is arbitrary: compare the projections W^T W onto each single direction
    projectors = torch.einsum("ki,kj->kij", w, w)
    assert_close(projectors, torch.einsum("ki,kj->kij", expected_w, expected_w), what=f"the directions from {what} (up to sign)",
                 rtol=1e-6, atol=1e-8)
    assert_close(variances, torch.from_numpy(reference.variances), what=f"the variances from {what}")


@pytest.mark.points(2)
def test_pca_on_hidden_data(student):
    """`pca` returns the mean, the principal directions (up to sign) and their variances, written from the SVD"""
    g = hidden(2101)
    scales = torch.tensor([6.0, 4.0, 2.5, 1.5, 0.7, 0.2], dtype=torch.float64)
    x = torch.randn(40, 6, generator=g, dtype=torch.float64) * scales @ torch.linalg.qr(torch.randn(6, 6, generator=g, dtype=torch.float64))[0] + 3
    _check_pca(student, x, 3, "pca(x, 3)")


@pytest.mark.points(1)
def test_pca_with_fewer_points_than_dimensions(student):
    """`pca` works when there are fewer points than dimensions (n < m)"""
    g = hidden(2102)
    x = torch.randn(6, 12, generator=g, dtype=torch.float64) * torch.linspace(3, 0.5, 12, dtype=torch.float64)
    _check_pca(student, x, 4, "pca(x, 4) with 6 points in 12 dimensions")


# --------------------------------------------------------------------------- 2. shortest paths


def _knn_lengths(points: np.ndarray, k: int) -> np.ndarray:
    """Symmetric edge lengths of the k-nearest-neighbour graph, inf where there is no edge."""
    graph = manifold.neighborhood_graph(points, num_neighbors=k).toarray()
    graph = np.where(graph > 0, graph, np.inf)
    graph = np.minimum(graph, graph.T)
    np.fill_diagonal(graph, 0.0)
    return graph


@pytest.mark.points(2)
def test_shortest_paths_on_a_hidden_neighbourhood_graph(student):
    """`shortest_paths` gives every shortest path length of a neighbourhood graph, written as Floyd-Warshall"""
    g = hidden(2201)
    points = torch.rand(30, 2, generator=g, dtype=torch.float64).numpy()
    lengths = _knn_lengths(points, 5)
    expected = csgraph.shortest_path(np.where(np.isinf(lengths), 0, lengths), method="D", directed=False)
    assert_close(RULES.call(student, "shortest_paths", torch.from_numpy(lengths)), torch.from_numpy(expected),
                 what="shortest_paths(lengths)", rtol=1e-9, atol=1e-9)


@pytest.mark.points(1)
def test_shortest_paths_keep_infinity_between_pieces(student):
    """`shortest_paths` leaves inf between points that no path joins (a graph in two pieces)"""
    g = hidden(2202)
    cloud = torch.rand(12, 2, generator=g, dtype=torch.float64).numpy()
    points = np.concatenate([cloud, cloud + 50.0])
    lengths = _knn_lengths(points, 3)
    expected = csgraph.shortest_path(np.where(np.isinf(lengths), 0, lengths), method="D", directed=False)
    assert np.isinf(expected).any()
    assert_close(RULES.call(student, "shortest_paths", torch.from_numpy(lengths)), torch.from_numpy(expected),
                 what="shortest_paths(lengths of a graph in two pieces)", rtol=1e-9, atol=1e-9)


# --------------------------------------------------------------------------- 3. LLE weights


def _library_weights(point: torch.Tensor, neighbors: torch.Tensor, regularization: float) -> torch.Tensor:
    """Row 0 of manifold.lle_weights on the points [x_i; neighbours], each row's neighbours the other rows."""
    x = torch.cat([point[None], neighbors]).numpy()
    n = len(x)
    others = np.array([[j for j in range(n) if j != i] for i in range(n)])
    return torch.from_numpy(manifold.lle_weights(x, others, regularization)[0])


@pytest.mark.points(2)
def test_lle_weights_with_more_neighbours_than_dimensions(student):
    """`lle_weights_one` matches the regularised LLE weights when K > m (a singular Gram matrix)"""
    g = hidden(2301)
    point = torch.randn(3, generator=g, dtype=torch.float64)
    neighbors = point + 0.5 * torch.randn(8, 3, generator=g, dtype=torch.float64)
    assert_close(RULES.call(student, "lle_weights_one", point, neighbors), _library_weights(point, neighbors, 1e-3),
                 what="lle_weights_one(point, neighbors)", rtol=1e-6, atol=1e-8)


@pytest.mark.points(1)
def test_lle_weights_with_another_regularisation(student):
    """`lle_weights_one` uses its `regularization` argument (K < m, r = 0.01)"""
    g = hidden(2302)
    point = torch.randn(10, generator=g, dtype=torch.float64)
    neighbors = point + torch.randn(4, 10, generator=g, dtype=torch.float64)
    assert_close(RULES.call(student, "lle_weights_one", point, neighbors, regularization=0.01),
                 _library_weights(point, neighbors, 0.01), what="lle_weights_one(point, neighbors, regularization=0.01)",
                 rtol=1e-6, atol=1e-8)


# --------------------------------------------------------------------------- 4. Parzen


@pytest.mark.points(2)
def test_parzen_log_density_on_hidden_data(student):
    """`parzen_log_density` equals the log of the average Gaussian kernel on hidden data"""
    g = hidden(2401)
    centers = torch.randn(50, 4, generator=g, dtype=torch.float64)
    x = 1.5 * torch.randn(9, 4, generator=g, dtype=torch.float64)
    assert_close(RULES.call(student, "parzen_log_density", x, centers, 0.6), parzen.parzen_log_density(x, centers, 0.6),
                 what="parzen_log_density(x, centers, 0.6)", rtol=1e-7, atol=1e-7)


@pytest.mark.points(1)
def test_parzen_log_density_is_stable_in_784_dimensions(student):
    """`parzen_log_density` stays finite and right in 784 dimensions with a narrow kernel"""
    g = hidden(2402)
    centers = torch.rand(40, 784, generator=g, dtype=torch.float64)
    x = torch.rand(6, 784, generator=g, dtype=torch.float64)
    assert_close(RULES.call(student, "parzen_log_density", x, centers, 0.05), parzen.parzen_log_density(x, centers, 0.05),
                 what="parzen_log_density(images, centers, 0.05)", rtol=1e-7, atol=1e-5)


# --------------------------------------------------------------------------- 5. manifold Parzen


@pytest.mark.points(1)
def test_local_covariance_on_hidden_data(student):
    """`local_covariance` is the covariance of the neighbours around the point itself"""
    g = hidden(2501)
    x = torch.randn(25, 5, generator=g, dtype=torch.float64)
    neighbors = parzen.neighbor_indices(x, 7)
    got = RULES.call(student, "local_covariance", x, 11, neighbors[11])
    assert_close(got, parzen.local_covariance(x, 11, neighbors[11]), what="local_covariance(x, i, neighbors)",
                 rtol=1e-9, atol=1e-10)


@pytest.mark.points(2)
def test_kernel_covariance_keeps_the_leading_directions(student):
    """`kernel_covariance` is σ² I plus the d leading eigen-directions of the local covariance (d = 0 included)"""
    g = hidden(2502)
    x = torch.randn(40, 6, generator=g, dtype=torch.float64) * torch.tensor([5.0, 3.0, 2.0, 1.0, 0.5, 0.2], dtype=torch.float64)
    model = parzen.manifold_parzen(x, num_neighbors=12, dim=3, noise_variance=0.07)
    covariance = parzen.local_covariance(x, 4, parzen.neighbor_indices(x, 12)[4])
    assert_close(RULES.call(student, "kernel_covariance", covariance, 3, 0.07), model.covariances()[4],
                 what="kernel_covariance(C, 3, 0.07)", rtol=1e-7, atol=1e-9)
    # d = 0 keeps no direction: Σ = σ² I (the slice [-0:] would keep every one)
    g = hidden(2503)
    z = torch.randn(9, 4, generator=g, dtype=torch.float64)
    covariance = z.T @ z / 9
    assert_close(RULES.call(student, "kernel_covariance", covariance, 0, 0.3), 0.3 * torch.eye(4, dtype=torch.float64),
                 what="kernel_covariance(C, 0, 0.3)", rtol=1e-9, atol=1e-12)
