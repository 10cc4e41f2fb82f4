"""edu_gen.manifold against scikit-learn (the oracle), plus its derivations and its refusals."""

import numpy as np
import pytest
import torch
from scipy.spatial import procrustes
from sklearn import decomposition
from sklearn import manifold as sk_manifold
from sklearn.neighbors import NearestNeighbors

from edu_gen import data, manifold


@pytest.fixture(scope="module")
def roll():
    x, t = data.swiss_roll_3d(600, seed=3)
    return x.double().numpy(), t.double().numpy()


def rng(seed=0):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------------- PCA


def test_pca_matches_scikit_learn_and_the_covariance_eigenproblem():
    x = rng().normal(size=(300, 6)) @ rng(1).normal(size=(6, 6))
    fit = manifold.pca(x, 3)
    reference = decomposition.PCA(3).fit(x)
    assert np.allclose(np.abs(fit.components @ reference.components_.T), np.eye(3), atol=1e-8)
    assert np.allclose(fit.variances, reference.explained_variance_)
    assert np.allclose(fit.variances, np.linalg.eigvalsh(np.cov(x, rowvar=False))[::-1][:3])
    assert procrustes(fit.encode(x), reference.transform(x))[2] < 1e-12
    assert fit.total_variance == pytest.approx(np.trace(np.cov(x, rowvar=False)))


def test_pca_codes_are_decorrelated_and_decode_inverts_encode_with_all_components():
    x = rng().normal(size=(200, 5)) * np.array([5.0, 3.0, 1.0, 0.5, 0.1])
    fit = manifold.pca(x)
    h = fit.encode(x)
    assert np.allclose(np.cov(h, rowvar=False), np.diag(fit.variances), atol=1e-10)
    assert np.allclose(fit.decode(h), x)
    assert np.all(np.diff(fit.variances) <= 0)


def test_pca_error_is_the_discarded_variance():
    x = rng().normal(size=(400, 8)) @ rng(2).normal(size=(8, 8))
    full = manifold.pca(x)
    k = 3
    part = manifold.pca(x, k)
    error = ((x - part.decode(part.encode(x))) ** 2).sum(1).mean()
    assert error == pytest.approx((len(x) - 1) / len(x) * full.variances[k:].sum())


def test_pca_accepts_torch_tensors_and_refuses_too_many_components():
    x = torch.randn(20, 4, generator=torch.Generator().manual_seed(0))
    assert manifold.pca(x, 2).components.shape == (2, 4)
    with pytest.raises(ValueError, match="num_components=5"):
        manifold.pca(x, 5)


# ---------------------------------------------------------------------------------- neighbours


def test_nearest_neighbors_match_scikit_learn_in_low_dimension(roll):
    x, _ = roll                                                            # m = 3: the k-d tree
    distances, indices = manifold.nearest_neighbors(x, 7)
    ref_distances, ref_indices = NearestNeighbors(n_neighbors=7).fit(x).kneighbors()
    assert np.array_equal(indices, ref_indices)
    assert np.allclose(distances, ref_distances, rtol=1e-12)


def test_nearest_neighbors_match_scikit_learn_in_high_dimension():
    x = rng(3).normal(size=(300, 40))                                      # m = 40: brute force by blocks
    distances, indices = manifold.nearest_neighbors(x, 5, block=64)
    ref_distances, ref_indices = NearestNeighbors(n_neighbors=5, algorithm="brute").fit(x).kneighbors()
    assert np.array_equal(indices, ref_indices)
    assert np.allclose(distances, ref_distances, rtol=1e-10)


@pytest.mark.parametrize("m", [2, 30])
def test_a_point_is_never_its_own_neighbour_even_with_duplicates(m):
    x = np.repeat(rng().normal(size=(10, m)), 3, axis=0)                   # every point three times
    distances, indices = manifold.nearest_neighbors(x, 2)
    assert not (indices == np.arange(30)[:, None]).any()
    assert np.allclose(distances, 0)                                       # its two copies


def test_neighborhood_graph_by_radius_is_symmetric_and_within_the_radius(roll):
    x, _ = roll
    graph = manifold.neighborhood_graph(x, num_neighbors=None, radius=2.0)
    assert (abs(graph - graph.T)).max() < 1e-12
    assert graph.data.max() < 2.0 and graph.diagonal().sum() == 0


# ---------------------------------------------------------------------------------- MDS and Isomap


def test_mds_recovers_points_from_their_distances():
    points = rng().normal(size=(150, 3)) * np.array([4.0, 2.0, 1.0])
    distances = np.linalg.norm(points[:, None] - points[None], axis=2)
    recovered = manifold.mds(distances, 3)
    assert np.allclose(np.linalg.norm(recovered[:, None] - recovered[None], axis=2), distances, atol=1e-9)
    assert procrustes(points, recovered)[2] < 1e-20


def test_mds_uses_the_partial_eigensolver_for_large_inputs_with_the_same_result():
    points = rng(4).normal(size=(400, 3)) * np.array([4.0, 2.0, 1.0])
    distances = np.linalg.norm(points[:, None] - points[None], axis=2)
    assert procrustes(manifold.mds(distances, 2), manifold.pca(points, 2).encode(points))[2] < 1e-16


def test_isomap_matches_scikit_learn(roll):
    x, _ = roll
    ours = manifold.isomap(x, 2, num_neighbors=10)
    theirs = sk_manifold.Isomap(n_neighbors=10, n_components=2).fit_transform(x)
    assert procrustes(ours, theirs)[2] < 1e-6


def test_epsilon_isomap_matches_scikit_learn(roll):
    x, _ = roll
    ours = manifold.isomap(x, 2, num_neighbors=None, radius=4.0)
    theirs = sk_manifold.Isomap(n_neighbors=None, radius=4.0, n_components=2).fit_transform(x)
    assert procrustes(ours, theirs)[2] < 1e-6


def test_dijkstra_equals_floyd_warshall(roll):
    x, _ = roll
    graph = manifold.neighborhood_graph(x[:120], num_neighbors=6)
    d = graph.toarray()
    d[d == 0] = np.inf
    d = np.minimum(d, d.T)
    np.fill_diagonal(d, 0)
    for k in range(len(d)):
        d = np.minimum(d, d[:, [k]] + d[[k], :])
    assert np.allclose(manifold.geodesic_distances(graph), d)


def test_graph_path_follows_edges_and_has_the_geodesic_length(roll):
    x, _ = roll
    graph = manifold.neighborhood_graph(x, num_neighbors=8)
    path = manifold.graph_path(graph, 0, 77)
    assert path[0] == 0 and path[-1] == 77
    length = sum(np.linalg.norm(x[a] - x[b]) for a, b in zip(path, path[1:]))
    assert length == pytest.approx(manifold.geodesic_distances(graph)[0, 77])


# ---------------------------------------------------------------------------------- LLE


def test_lle_weights_sum_to_one_and_ignore_rotation_scale_and_translation(roll):
    x, _ = roll
    _, neighbors = manifold.nearest_neighbors(x, 10)
    w = manifold.lle_weights(x, neighbors)
    assert np.allclose(w.sum(1), 1)
    q = np.linalg.qr(rng().normal(size=(3, 3)))[0]
    assert np.allclose(manifold.lle_weights(3 * x @ q.T + 7, neighbors), w, atol=1e-8)


def test_lle_weights_match_scikit_learn(roll):
    from sklearn.manifold._locally_linear import barycenter_weights  # private, but the oracle

    x, _ = roll
    _, neighbors = manifold.nearest_neighbors(x, 10)
    assert np.allclose(manifold.lle_weights(x, neighbors), barycenter_weights(x, x, neighbors, reg=1e-3))


def test_lle_matches_scikit_learn(roll):
    x, _ = roll
    ours = manifold.lle(x, 2, num_neighbors=10)
    theirs = sk_manifold.LocallyLinearEmbedding(n_neighbors=10, n_components=2, eigen_solver="dense").fit_transform(x)
    assert procrustes(ours, theirs)[2] < 1e-6


def test_lle_on_few_points_uses_the_dense_solver_with_the_same_answer():
    x, _ = data.swiss_roll_3d(150, seed=5)
    x = x.double().numpy()
    ours = manifold.lle(x, 2, num_neighbors=8)
    theirs = sk_manifold.LocallyLinearEmbedding(n_neighbors=8, n_components=2, eigen_solver="dense").fit_transform(x)
    assert procrustes(ours, theirs)[2] < 1e-6


# ---------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("method", [manifold.isomap, manifold.lle])
def test_fewer_points_than_neighbours_is_refused(method):
    with pytest.raises(ValueError, match="needs at least 11 points"):
        method(rng().normal(size=(8, 3)), 2, num_neighbors=10)


def test_a_disconnected_neighbourhood_graph_is_refused():
    two_clouds = np.concatenate([rng().normal(size=(50, 2)), rng(1).normal(size=(50, 2)) + 100])
    with pytest.raises(manifold.DisconnectedGraphError, match="falls into 2 pieces"):
        manifold.isomap(two_clouds, 2, num_neighbors=5)
    graph = manifold.neighborhood_graph(two_clouds, num_neighbors=5)
    with pytest.raises(manifold.DisconnectedGraphError, match="no path"):
        manifold.graph_path(graph, 0, 99)


@pytest.mark.parametrize("function", [manifold.pca, manifold.isomap, manifold.lle, manifold.nearest_neighbors])
def test_nan_in_the_data_is_refused(function):
    x = rng().normal(size=(30, 3))
    x[4, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite values in 1 rows"):
        function(x) if function is manifold.pca else function(x, 2)


def test_other_bad_shapes_and_arguments_are_refused():
    with pytest.raises(ValueError, match=r"shape \(n, m\)"):
        manifold.pca(np.zeros(5))
    with pytest.raises(ValueError, match="not both"):
        manifold.neighborhood_graph(np.zeros((5, 2)), num_neighbors=2, radius=1.0)
    with pytest.raises(ValueError, match="symmetric square"):
        manifold.mds(np.arange(12.0).reshape(3, 4))
    with pytest.raises(ValueError, match="num_neighbors must be a positive integer"):
        manifold.nearest_neighbors(np.zeros((5, 2)), 0)
