"""edu_gen.manifold against scikit-learn (the oracle), plus its derivations and its refusals.

Tolerances are a small multiple of what was measured (numpy 2.4, scipy 1.17, scikit-learn 1.9, float64),
noted beside each. Procrustes disparities between two embeddings that compute the same thing
come out at 1e-31..1e-30 (rounding of O(1) coordinates, squared); they are bounded by 1e-28, a
100x margin for other BLAS builds, which is still 20 orders of magnitude below any real
difference (a changed ridge gives 0.7)."""

import numpy as np
import pytest
import torch
from scipy import stats
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
    # measured: 6e-16 (directions), 3e-15 relative (variances), 4e-31 (Procrustes); ~10x margins
    assert np.allclose(np.abs(fit.components @ reference.components_.T), np.eye(3), rtol=0, atol=1e-14)
    assert np.allclose(fit.variances, reference.explained_variance_, rtol=1e-13, atol=0)
    assert np.allclose(fit.variances, np.linalg.eigvalsh(np.cov(x, rowvar=False))[::-1][:3], rtol=1e-13, atol=0)
    assert procrustes(fit.encode(x), reference.transform(x))[2] < 1e-28
    assert fit.total_variance == pytest.approx(np.trace(np.cov(x, rowvar=False)), rel=1e-13)


def test_pca_codes_are_decorrelated_and_decode_inverts_encode_with_all_components():
    x = rng().normal(size=(200, 5)) * np.array([5.0, 3.0, 1.0, 0.5, 0.1])
    fit = manifold.pca(x)
    h = fit.encode(x)
    assert np.allclose(np.cov(h, rowvar=False), np.diag(fit.variances), rtol=0, atol=1e-13)  # measured 7e-15
    assert np.allclose(fit.decode(h), x, rtol=0, atol=1e-13)                                  # measured 5e-15
    assert np.all(np.diff(fit.variances) < 0)


def test_pca_error_is_the_discarded_variance():
    x = rng().normal(size=(400, 8)) @ rng(2).normal(size=(8, 8))
    full = manifold.pca(x)
    k = 3
    part = manifold.pca(x, k)
    error = ((x - part.decode(part.encode(x))) ** 2).sum(1).mean()
    assert error == pytest.approx((len(x) - 1) / len(x) * full.variances[k:].sum(), rel=1e-13)  # measured 4e-16


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
    assert np.allclose(distances, ref_distances, rtol=1e-14, atol=0)           # measured: identical


def test_nearest_neighbors_match_scikit_learn_in_high_dimension():
    x = rng(3).normal(size=(300, 40))                                      # m = 40: brute force by blocks
    distances, indices = manifold.nearest_neighbors(x, 5, block=64)
    ref_distances, ref_indices = NearestNeighbors(n_neighbors=5, algorithm="brute").fit(x).kneighbors()
    assert np.array_equal(indices, ref_indices)
    assert np.allclose(distances, ref_distances, rtol=1e-14, atol=0)           # measured 4e-16


@pytest.mark.parametrize("m", [2, 30])
def test_a_point_is_never_its_own_neighbour_even_with_duplicates(m):
    x = np.repeat(rng().normal(size=(10, m)), 3, axis=0)                   # every point three times
    distances, indices = manifold.nearest_neighbors(x, 2)
    assert not (indices == np.arange(30)[:, None]).any()
    assert np.all(distances == 0)                                          # its two copies


def test_neighborhood_graph_by_radius_is_symmetric_and_holds_every_pair_within_the_radius(roll):
    x, _ = roll
    graph = manifold.neighborhood_graph(x, radius=2.0)                     # no num_neighbors needed
    assert (abs(graph - graph.T)).max() < 1e-13                            # measured 2e-14 (rounding of d²)
    assert graph.data.max() < 2.0 and graph.diagonal().sum() == 0
    distances = np.linalg.norm(x[:, None] - x[None], axis=2)
    assert graph.nnz == ((distances < 2.0).sum() - len(x))                 # every pair within 2, none missed
    rows, cols = graph.nonzero()
    assert np.allclose(graph.data, distances[rows, cols], rtol=1e-12, atol=0)  # edge = distance (measured 1e-15)


def test_the_neighbourhood_is_k_nearest_by_default_a_radius_alone_or_refused_when_both_are_given(roll):
    x, _ = roll
    default = manifold.neighborhood_graph(x)
    assert default.nnz == 10 * len(x) and np.all(np.diff(default.indptr) == 10)
    assert manifold.neighborhood_graph(x, radius=1.5).nnz != default.nnz
    with pytest.raises(ValueError, match="not both; got num_neighbors=10 and radius=1.5"):
        manifold.neighborhood_graph(x, num_neighbors=10, radius=1.5)
    with pytest.raises(ValueError, match="not both"):
        manifold.isomap(x, 2, num_neighbors=10, radius=1.5)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="radius must be a positive number"):
            manifold.isomap(x, 2, radius=bad)


# ---------------------------------------------------------------------------------- MDS and Isomap


def test_mds_recovers_points_from_their_distances():
    points = rng().normal(size=(150, 3)) * np.array([4.0, 2.0, 1.0])
    distances = np.linalg.norm(points[:, None] - points[None], axis=2)
    recovered = manifold.mds(distances, 3)
    assert np.allclose(np.linalg.norm(recovered[:, None] - recovered[None], axis=2), distances, rtol=0, atol=3e-13)  # measured 3e-14
    assert procrustes(points, recovered)[2] < 1e-28


def test_mds_uses_the_partial_eigensolver_for_large_inputs_with_the_same_result():
    points = rng(4).normal(size=(400, 3)) * np.array([4.0, 2.0, 1.0])
    distances = np.linalg.norm(points[:, None] - points[None], axis=2)
    assert procrustes(manifold.mds(distances, 2), manifold.pca(points, 2).encode(points))[2] < 1e-28


def test_isomap_matches_scikit_learn(roll):
    x, _ = roll
    theirs = sk_manifold.Isomap(n_neighbors=10, n_components=2).fit_transform(x)
    assert procrustes(manifold.isomap(x, 2, num_neighbors=10), theirs)[2] < 1e-28    # measured 4e-31
    assert procrustes(manifold.isomap(x, 2), theirs)[2] < 1e-28                       # k = 10 by default
    assert procrustes(manifold.isomap(x, 2, num_neighbors=7), theirs)[2] > 1e-6       # another k is another answer


def test_epsilon_isomap_matches_scikit_learn(roll):
    x, _ = roll
    ours = manifold.isomap(x, 2, radius=4.0)                               # the natural call
    theirs = sk_manifold.Isomap(n_neighbors=None, radius=4.0, n_components=2).fit_transform(x)
    assert procrustes(ours, theirs)[2] < 1e-28                             # measured 9e-31


def test_epsilon_isomap_unrolls_the_roll_and_a_small_radius_is_refused(roll):
    x, t = roll
    embedding = manifold.isomap(x, 2, radius=4.0)
    rho = max(abs(stats.spearmanr(embedding[:, j], t)[0]) for j in range(2))
    assert rho > 0.99                                                      # measured 0.9999; Euclidean MDS gives 0.3
    with pytest.raises(manifold.DisconnectedGraphError, match="pieces"):
        manifold.isomap(x, 2, radius=1.0)


def test_dijkstra_equals_floyd_warshall(roll):
    x, _ = roll
    graph = manifold.neighborhood_graph(x[:120], num_neighbors=6)
    d = graph.toarray()
    d[d == 0] = np.inf
    d = np.minimum(d, d.T)
    np.fill_diagonal(d, 0)
    for k in range(len(d)):
        d = np.minimum(d, d[:, [k]] + d[[k], :])
    assert np.isfinite(d).all()                                            # one piece: every pair is compared
    assert np.allclose(manifold.geodesic_distances(graph), d, rtol=1e-14, atol=0)  # measured 1e-14 absolute, exact mostly


def test_graph_path_follows_edges_and_has_the_geodesic_length(roll):
    x, _ = roll
    graph = manifold.neighborhood_graph(x, num_neighbors=8)
    path = manifold.graph_path(graph, 0, 77)
    assert path[0] == 0 and path[-1] == 77
    length = sum(np.linalg.norm(x[a] - x[b]) for a, b in zip(path, path[1:]))
    assert length == pytest.approx(manifold.geodesic_distances(graph)[0, 77], rel=1e-13)   # measured: equal
    assert all(graph[a, b] > 0 or graph[b, a] > 0 for a, b in zip(path, path[1:]))   # every step is an edge


# ---------------------------------------------------------------------------------- LLE


def test_lle_weights_sum_to_one_and_ignore_rotation_scale_and_translation(roll):
    x, _ = roll
    _, neighbors = manifold.nearest_neighbors(x, 10)
    w = manifold.lle_weights(x, neighbors)
    assert np.allclose(w.sum(1), 1, rtol=0, atol=1e-14)                    # measured 4e-16
    q = np.linalg.qr(rng().normal(size=(3, 3)))[0]
    assert np.allclose(manifold.lle_weights(3 * x @ q.T + 7, neighbors), w, rtol=0, atol=3e-13)  # measured 3e-14
    stretched = x * np.array([1.0, 3.0, 1.0])                               # not a similarity: the shape changes
    assert np.abs(manifold.lle_weights(stretched, neighbors) - w).max() > 1e-2


def test_lle_weights_match_scikit_learn(roll):
    from sklearn.manifold._locally_linear import barycenter_weights  # private, but the oracle

    x, _ = roll
    _, neighbors = manifold.nearest_neighbors(x, 10)
    reference = barycenter_weights(x, x, neighbors, reg=1e-3)
    assert np.allclose(manifold.lle_weights(x, neighbors), reference, rtol=0, atol=2e-13)    # measured 2e-14
    assert np.abs(manifold.lle_weights(x, neighbors, 1e-2) - reference).max() > 1e-3         # r matters


def test_lle_matches_scikit_learn(roll):
    x, _ = roll
    ours = manifold.lle(x, 2, num_neighbors=10)
    theirs = sk_manifold.LocallyLinearEmbedding(n_neighbors=10, n_components=2, eigen_solver="dense").fit_transform(x)
    assert procrustes(ours, theirs)[2] < 1e-19     # measured 7e-21: the shift-invert Lanczos solve (tol 1e-12), 14x margin


def test_lle_on_few_points_uses_the_dense_solver_with_the_same_answer():
    x, _ = data.swiss_roll_3d(150, seed=5)
    x = x.double().numpy()
    ours = manifold.lle(x, 2, num_neighbors=8)
    theirs = sk_manifold.LocallyLinearEmbedding(n_neighbors=8, n_components=2, eigen_solver="dense").fit_transform(x)
    assert procrustes(ours, theirs)[2] < 1e-19     # measured 2e-21


# ---------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("method", [manifold.isomap, manifold.lle])
def test_fewer_points_than_neighbours_is_refused(method):
    with pytest.raises(ValueError, match="needs at least 11 points"):
        method(rng().normal(size=(8, 3)), 2, num_neighbors=10)


def test_a_disconnected_neighbourhood_graph_is_refused():
    two_clouds = np.concatenate([rng().normal(size=(50, 2)), rng(1).normal(size=(50, 2)) + 100])
    with pytest.raises(manifold.DisconnectedGraphError, match="falls into 2 pieces"):
        manifold.isomap(two_clouds, 2, num_neighbors=5)
    with pytest.raises(manifold.DisconnectedGraphError, match=r"falls into 2 pieces \(sizes \[50, 50\]\)"):
        manifold.lle(two_clouds, 2, num_neighbors=5)
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
    with pytest.raises(ValueError, match=r"shape \(N, D\)"):
        manifold.pca(np.zeros(5))
    with pytest.raises(ValueError, match="not both"):
        manifold.neighborhood_graph(np.zeros((5, 2)), num_neighbors=2, radius=1.0)
    with pytest.raises(ValueError, match="symmetric square"):
        manifold.mds(np.arange(12.0).reshape(3, 4))
    with pytest.raises(ValueError, match="num_neighbors must be a positive integer"):
        manifold.nearest_neighbors(np.zeros((5, 2)), 0)


def test_why_lle_refuses_pieces_each_piece_adds_a_zero_eigenvalue_to_m():
    """Two clouds: M = (I - W)^T (I - W) has one null vector per piece (its indicator), so the
    'bottom eigenvectors after the constant one' are a mix of indicators, not coordinates."""
    two_clouds = np.concatenate([rng().normal(size=(50, 2)), rng(1).normal(size=(50, 2)) + 100])
    _, neighbors = manifold.nearest_neighbors(two_clouds, 5)
    w = np.zeros((100, 100))
    np.put_along_axis(w, neighbors, manifold.lle_weights(two_clouds, neighbors), axis=1)
    m = (np.eye(100) - w).T @ (np.eye(100) - w)
    values = np.linalg.eigvalsh(m)
    assert abs(values[1]) < 1e-13 < 1e-10 < values[2]    # two zero eigenvalues (measured 1e-15), then 9e-9
    one_cloud = rng().normal(size=(100, 2))
    _, neighbors = manifold.nearest_neighbors(one_cloud, 5)
    w = np.zeros((100, 100))
    np.put_along_axis(w, neighbors, manifold.lle_weights(one_cloud, neighbors), axis=1)
    assert np.linalg.eigvalsh((np.eye(100) - w).T @ (np.eye(100) - w))[1] > 1e-9   # connected: one zero only (next 1e-7)
