"""Manifold learning from scratch: PCA, classical MDS, Isomap and LLE (NumPy and SciPy).

Every method here starts from the same assumption, the manifold hypothesis: the N points
x_i in R^D lie near a d-dimensional manifold, x_i = f(tau_i) + eps_i with d << D, and the job
is to recover coordinates tau_i (an embedding, (N, d)) from the points alone. Symbols follow
the book's notation page: N points, D data dimension, d embedding dimension, k neighbours.

| method | what it preserves                                  | function   |
|--------|----------------------------------------------------|------------|
| PCA    | variance along straight lines (a linear manifold)  | `pca`      |
| MDS    | all pairwise distances, given as a matrix          | `mds`      |
| Isomap | geodesic distances, measured along a k-NN graph    | `isomap`   |
| LLE    | how each point is rebuilt from its neighbours      | `lle`      |

Isomap and LLE are built from the steps the chapter derives one at a time:
`nearest_neighbors` and `neighborhood_graph` (step 1 of both), `geodesic_distances` (Isomap's
shortest paths), `mds` (Isomap's step 3), `lle_weights` and `lle_embedding` (LLE's steps 2
and 3). Each agrees with scikit-learn's version; tests/test_manifold.py checks it.

Inputs are array-likes of shape (N, D) (NumPy arrays or CPU/GPU torch tensors); results are
float64 NumPy arrays. Points with NaN or infinite values, fewer points than neighbours, and a
neighbourhood graph that falls apart (Isomap and LLE alike: `DisconnectedGraphError`) are
refused with an error that says what to change.

Introduced in Chapter 2 (Manifold learning).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, sparse
from scipy.sparse import csgraph
from scipy.sparse.linalg import eigsh
from scipy.spatial import cKDTree


class DisconnectedGraphError(ValueError):
    """The neighbourhood graph has several connected pieces, so some geodesic distances are infinite."""


# --------------------------------------------------------------------------------------------
# Checking the input
# --------------------------------------------------------------------------------------------


def _as_points(x, name: str = "x", min_points: int = 2) -> np.ndarray:
    """(N, D) float64 array from an array-like or a torch tensor; refuses NaN, inf and bad shapes."""
    if hasattr(x, "detach"):  # a torch tensor, possibly on a GPU
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a matrix of points, shape (N, D), got shape {x.shape}")
    if len(x) < min_points:
        raise ValueError(f"{name} needs at least {min_points} points, got {len(x)}")
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(f"{name} contains NaN or infinite values in {len(rows)} rows (first: {rows[:5].tolist()})")
    return x


def _check_neighbors(num_neighbors: int, n: int) -> None:
    if isinstance(num_neighbors, bool) or not isinstance(num_neighbors, (int, np.integer)) or num_neighbors < 1:
        raise ValueError(f"num_neighbors must be a positive integer, got {num_neighbors!r}")
    if num_neighbors >= n:
        raise ValueError(f"num_neighbors={num_neighbors} needs at least {num_neighbors + 1} points "
                         f"(each point's neighbours are the others), got {n}")


def _check_components(num_components: int, limit: int, what: str) -> None:
    if isinstance(num_components, bool) or not isinstance(num_components, (int, np.integer)) or num_components < 1:
        raise ValueError(f"num_components must be a positive integer, got {num_components!r}")
    if num_components > limit:
        raise ValueError(f"num_components={num_components} is more than {what} ({limit})")


# --------------------------------------------------------------------------------------------
# PCA: h = W (x - mu)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PCA:
    """A fitted principal component analysis: h = W (x - mu) and back, x_hat = W^T h + mu.

    Attributes:
        mean: mu, (D,).
        components: W, (d, D), orthonormal rows, the directions of largest variance first.
        variances: the variance of the data along each row of W, (d,): lambda_1 >= lambda_2 >= ...
        total_variance: the summed variance over all D dimensions (so variances.sum() / total_variance
            is the fraction of variance the d components keep).
    """

    mean: np.ndarray
    components: np.ndarray
    variances: np.ndarray
    total_variance: float

    def encode(self, x) -> np.ndarray:
        """h = W (x - mu): (N, D) -> (N, d).

        Args:
            x: points (N, D), N >= 1, array-like or tensor (returned as a float64 NumPy array).

        Raises:
            ValueError: x is not a finite matrix; its D differs from the fit's (NumPy's shape error).
        """
        return (_as_points(x, min_points=1) - self.mean) @ self.components.T

    def decode(self, h) -> np.ndarray:
        """x_hat = W^T h + mu: (N, d) -> (N, D), the point of the principal subspace with code h.

        Args:
            h: codes (N, d), array-like.

        Raises:
            ValueError: h's last dimension is not d (NumPy's shape error).
        """
        return np.asarray(h, dtype=np.float64) @ self.components + self.mean


def pca(x, num_components: int | None = None) -> PCA:
    r"""Principal component analysis from the singular value decomposition of the centred data.

    .. math::
        X - \mathbf 1 \mu^\top = U S V^\top, \qquad W = V_{:, 1..d}^\top, \qquad
        \lambda_j = \frac{s_j^2}{N - 1}

    The rows of V^T are the eigenvectors of the sample covariance (X - mu)^T (X - mu) / (N - 1),
    and s_j^2 / (N - 1) its eigenvalues, without ever forming that D x D matrix. Each direction's
    sign is fixed so that its largest entry is positive (the SVD leaves it arbitrary).
    Source: Pearson (1901); the SVD route as in any numerical linear algebra text.

    Args:
        x: data, (N, D).
        num_components: d, at most min(N, D); None keeps all min(N, D).

    Returns:
        A `PCA` with mean (D,), components (d, D) and variances (d,).

    Raises:
        ValueError: x is not a finite (N, D) matrix, or num_components is not in 1..min(N, D).
    """
    x = _as_points(x)
    n, m = x.shape
    k = min(n, m) if num_components is None else num_components
    _check_components(k, min(n, m), "min(N, D), the rank the data can have")
    mean = x.mean(axis=0)
    _, singular_values, vt = linalg.svd(x - mean, full_matrices=False)  # vt: (min(N, D), D)
    vt = vt[:k] * np.sign(vt[np.arange(k), np.abs(vt[:k]).argmax(axis=1)])[:, None]
    variances = singular_values**2 / (n - 1)
    return PCA(mean=mean, components=vt, variances=variances[:k], total_variance=float(variances.sum()))


# --------------------------------------------------------------------------------------------
# Step 1 of Isomap and LLE: neighbours
# --------------------------------------------------------------------------------------------


def squared_distances(a, b=None) -> np.ndarray:
    """All squared Euclidean distances ||a_i - b_j||^2 by one matrix product, (N_a, N_b).

    ||a - b||^2 = ||a||^2 - 2 a.b + ||b||^2; rounding can make a tiny result negative, so it is
    clipped at 0. With b None, b = a.

    Args:
        a: points (N_a, D); b: points (N_b, D) or None. Array-likes or tensors; float64 NumPy out.

    Raises:
        ValueError: a or b not a finite matrix with a point, or their dimensions differ.
    """
    a = _as_points(a, "a", min_points=1)
    b = a if b is None else _as_points(b, "b", min_points=1)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"points of different dimension: a has {a.shape[1]}, b has {b.shape[1]}")
    d2 = (a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None, :]
    return np.maximum(d2, 0.0)


def nearest_neighbors(x, num_neighbors: int, block: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest other points of every point.

    In low dimension (D <= 16) a k-d tree answers the queries (scipy.spatial.cKDTree, about
    O(n log n)); in high dimension trees degenerate, and a brute-force search by blocks of rows,
    one matrix product per block, is faster.

    Args:
        x: points, (N, D).
        num_neighbors: k, at most N - 1; a point is never its own neighbour.
        block: rows per block of the brute-force search, to keep the (block, N) matrix small.

    Returns:
        distances (N, k) and indices (N, k), nearest first.

    Raises:
        ValueError: x not a finite (N, D) matrix with N >= 2, or k not an integer in 1..N - 1.
    """
    x = _as_points(x)
    n, m = x.shape
    _check_neighbors(num_neighbors, n)
    k = num_neighbors
    if m <= 16:
        distances, indices = cKDTree(x).query(x, k=k + 1)                  # includes the point itself
        keep = indices != np.arange(n)[:, None]
        keep[keep.all(axis=1), -1] = False           # with duplicates, self may be beyond k + 1: drop the farthest
        return distances[keep].reshape(n, k), indices[keep].reshape(n, k)
    indices = np.empty((n, k), dtype=np.int64)
    for start in range(0, n, block):
        rows = np.arange(start, min(start + block, n))
        d2 = squared_distances(x[rows], x)                                   # (block, N)
        d2[np.arange(len(rows)), rows] = np.inf                              # not your own neighbour
        nearest = np.argpartition(d2, k - 1, axis=1)[:, :k]                  # the k smallest, unordered
        order = np.take_along_axis(d2, nearest, axis=1).argsort(axis=1)
        indices[rows] = np.take_along_axis(nearest, order, axis=1)
    # exact distances of the chosen pairs (the matrix-product form loses digits for close points),
    # a few rows at a time so that the (rows, k, D) differences stay small
    distances = np.empty((n, k))
    rows_per_chunk = max(1, (1 << 22) // (k * m))
    for start in range(0, n, rows_per_chunk):
        rows = slice(start, start + rows_per_chunk)
        distances[rows] = np.linalg.norm(x[indices[rows]] - x[rows, None, :], axis=2)
    return distances, indices


DEFAULT_NEIGHBORS = 10  # k when neither a k nor a radius is given


def _neighborhood(num_neighbors: int | None, radius: float | None) -> tuple[int | None, float | None]:
    """Exactly one of (k, epsilon): k = DEFAULT_NEIGHBORS when neither is given; both is refused."""
    if num_neighbors is not None and radius is not None:
        raise ValueError(f"give either num_neighbors (k nearest neighbours) or radius (epsilon ball), not both; "
                         f"got num_neighbors={num_neighbors!r} and radius={radius!r}")
    if num_neighbors is None and radius is None:
        return DEFAULT_NEIGHBORS, None
    if radius is not None and not (isinstance(radius, (int, float, np.floating)) and np.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be a positive number, got {radius!r}")
    return num_neighbors, radius


def neighborhood_graph(x, num_neighbors: int | None = None, radius: float | None = None) -> sparse.csr_matrix:
    """Step 1 of Isomap: connect each point to its neighbours, edge weight = Euclidean distance.

    Either the k nearest neighbours of each point (k-Isomap) or every point closer than a
    radius epsilon (epsilon-Isomap), Tenenbaum et al. (2000), step 1. Give at most one of the
    two; with neither, k = 10.

    Args:
        x: points, (N, D).
        num_neighbors: k, at most N - 1.
        radius: epsilon, in the units of x; pairs with ||x_i - x_j|| < epsilon are joined.

    Returns:
        A sparse (N, N) matrix: entry (i, j) is ||x_i - x_j|| for an edge from i to j, absent
        otherwise. The k-nearest-neighbour relation is not symmetric; `geodesic_distances`
        treats the graph as undirected.

    Raises:
        ValueError: both num_neighbors and radius given, or a radius that is not positive.
    """
    x = _as_points(x)
    n = len(x)
    num_neighbors, radius = _neighborhood(num_neighbors, radius)
    if num_neighbors is not None:
        distances, indices = nearest_neighbors(x, num_neighbors)
        indptr = np.arange(0, n * num_neighbors + 1, num_neighbors)
        return sparse.csr_matrix((distances.ravel(), indices.ravel(), indptr), shape=(n, n))
    d2 = squared_distances(x)
    np.fill_diagonal(d2, np.inf)
    rows, cols = np.nonzero(d2 < radius**2)
    return sparse.csr_matrix((np.sqrt(d2[rows, cols]), (rows, cols)), shape=(n, n))


def check_connected(graph: sparse.spmatrix, advice: str = "use more neighbours (num_neighbors) or a larger radius") -> None:
    """Refuse a neighbourhood graph in several pieces (treated as undirected).

    Isomap needs one piece because between pieces there is no path (an infinite geodesic
    distance); LLE needs one because each piece is rebuilt from its own points only, so every
    piece adds its own constant vector to the bottom eigenvectors of M and the embedding
    separates the pieces instead of laying out the manifold.

    Args:
        graph: a sparse (N, N) adjacency matrix (any nonzero entry is an edge).
        advice: the remedy named in the message.

    Raises:
        DisconnectedGraphError: the graph has more than one connected piece; the message gives
            their sizes (largest first) and `advice`.
    """
    pieces, labels = csgraph.connected_components(graph, directed=False)
    if pieces > 1:
        sizes = np.sort(np.bincount(labels))[::-1]
        raise DisconnectedGraphError(
            f"the neighbourhood graph falls into {pieces} pieces (sizes {sizes[:5].tolist()}"
            f"{' ...' if pieces > 5 else ''}), so points in different pieces have no geodesic distance "
            f"and no common coordinates; {advice}"
        )


# --------------------------------------------------------------------------------------------
# Step 2 of Isomap: geodesic distances as shortest paths
# --------------------------------------------------------------------------------------------


def geodesic_distances(graph: sparse.spmatrix) -> np.ndarray:
    r"""Step 2 of Isomap: shortest-path lengths through the neighbourhood graph, (N, N).

    .. math::
        d_G(i, j) = \min_{\text{paths } i = p_0, p_1, \dots, p_L = j} \sum_{l} \lVert x_{p_l} - x_{p_{l-1}} \rVert

    approximates the geodesic distance along the manifold when the graph's edges stay on it
    (Tenenbaum et al., 2000, step 2). The lecture's update d_G(i, j) <- min(d_G(i, j),
    d_G(i, l) + d_G(l, j)) for l = 1..N is Floyd-Warshall, O(N^3); this runs Dijkstra's
    algorithm from every point instead, O(N^2 log N + N |E|) on a sparse graph, with the same
    result (the chapter checks it).

    Args:
        graph: sparse (N, N) edge lengths, as `neighborhood_graph` returns (read as undirected).

    Returns:
        The (N, N) matrix of shortest-path lengths, symmetric, zero on the diagonal.

    Raises:
        DisconnectedGraphError: the graph falls into pieces; between pieces there is no path.
    """
    if not sparse.issparse(graph) or graph.shape[0] != graph.shape[1]:
        raise ValueError(f"graph must be a square sparse matrix of edge lengths, as neighborhood_graph returns; "
                         f"got {type(graph).__name__} of shape {getattr(graph, 'shape', None)}")
    check_connected(graph)
    return csgraph.shortest_path(graph, method="D", directed=False)


def graph_path(graph: sparse.spmatrix, start: int, end: int) -> list[int]:
    """The points a shortest path through the graph visits from `start` to `end`, both included.

    Args:
        graph: sparse (N, N) edge lengths, read as undirected (as `neighborhood_graph` returns).
        start, end: point indices in 0..N - 1.

    Returns:
        The list of point indices from start to end.

    Raises:
        DisconnectedGraphError: start and end lie in different pieces of the graph.
        ValueError: an index outside 0..N - 1 (SciPy's error).
    """
    _, predecessors = csgraph.dijkstra(graph, directed=False, indices=start, return_predecessors=True)
    if end != start and predecessors[end] < 0:
        raise DisconnectedGraphError(f"no path from point {start} to point {end}: they lie in different pieces of the graph")
    path = [end]
    while path[-1] != start:
        path.append(int(predecessors[path[-1]]))
    return path[::-1]


# --------------------------------------------------------------------------------------------
# Step 3 of Isomap: classical multidimensional scaling
# --------------------------------------------------------------------------------------------


def _top_eigenvectors(matrix: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The k largest eigenvalues (descending) and eigenvectors (columns) of a symmetric matrix."""
    n = len(matrix)
    if n <= 200 or k >= n - 1:  # small: the dense solver is fast and ARPACK needs k < n - 1
        values, vectors = linalg.eigh(matrix, subset_by_index=[n - k, n - 1])
    else:  # a partial (Lanczos) eigensolver: cost ~ a few hundred matrix-vector products
        v0 = np.random.default_rng(seed).uniform(-1, 1, n)  # not the constant vector, an eigenvector of B
        values, vectors = eigsh(matrix, k=k, which="LA", v0=v0)
    order = values.argsort()[::-1]
    return values[order], vectors[:, order]


def mds(distances, num_components: int = 2) -> np.ndarray:
    r"""Classical (Torgerson) multidimensional scaling: points whose distances match a matrix.

    .. math::
        B = -\tfrac12 J \Delta^{(2)} J, \quad J = I - \tfrac1N \mathbf 1 \mathbf 1^\top, \qquad
        Y = V_d \Lambda_d^{1/2}

    Delta^(2) holds the squared distances (Torgerson, 1952); if they are Euclidean distances of
    centred points Y, then B = Y Y^T (the Gram matrix), so its top-d eigenvectors V_d, scaled by
    the square roots of the eigenvalues Lambda_d, give the best rank-d configuration. Negative eigenvalues
    (distances no Euclidean configuration has) are clipped to 0.

    Args:
        distances: a symmetric (N, N) matrix of distances, zero on the diagonal.
        num_components: d, the dimension of the embedding, at most N - 1.

    Returns:
        The embedding Y, (N, d), centred, its coordinates ordered by decreasing variance.

    Raises:
        ValueError: distances not square and symmetric, or num_components out of range.
    """
    d = _as_points(distances, "distances")
    n = len(d)
    if d.shape != (n, n) or np.abs(d - d.T).max() > 1e-10 * np.abs(d).max():
        raise ValueError(f"distances must be a symmetric square matrix (N, N), got shape {d.shape}"
                         f"{'' if d.shape != (n, n) else ' that is not symmetric'}")
    _check_components(num_components, n - 1, "N - 1 (N points span at most N - 1 dimensions)")
    b = np.square(d)
    b *= -0.5                                                                # -1/2 Delta2, in place (N can be large)
    b -= b.mean(axis=0, keepdims=True)                                       # J (-1/2 D2) J, without forming J
    b -= b.mean(axis=1, keepdims=True)
    values, vectors = _top_eigenvectors(b, num_components)
    return vectors * np.sqrt(np.maximum(values, 0.0))


def isomap(x, num_components: int = 2, num_neighbors: int | None = None, radius: float | None = None) -> np.ndarray:
    """Isomap (Tenenbaum, de Silva and Langford, 2000) in its three steps.

    1. `neighborhood_graph`: k nearest neighbours (k-Isomap) or an epsilon ball
       (epsilon-Isomap), edges = distances;
    2. `geodesic_distances`: shortest paths through that graph;
    3. `mds` of the geodesic distances.

    Args:
        x: points, (N, D).
        num_components: the dimension d of the embedding.
        num_neighbors: k; the default when no radius is given is k = 10.
        radius: epsilon, for epsilon-Isomap, e.g. ``isomap(x, 2, radius=4.0)``.

    Returns:
        The embedding, (N, d).

    Raises:
        ValueError: both num_neighbors and radius given; bad points or sizes.
        DisconnectedGraphError: the neighbourhood graph falls into pieces (k or epsilon too small).
    """
    graph = neighborhood_graph(x, num_neighbors=num_neighbors, radius=radius)
    return mds(geodesic_distances(graph), num_components)


# --------------------------------------------------------------------------------------------
# LLE: reconstruction weights, then the embedding that keeps them
# --------------------------------------------------------------------------------------------


def lle_weights(x, neighbors: np.ndarray, regularization: float = 1e-3) -> np.ndarray:
    r"""Step 2 of LLE: the weights that rebuild each point from its neighbours.

    For point i with neighbours N(i), minimise ||x_i - sum_j w_ij x_j||^2 subject to
    sum_j w_ij = 1. With z_j = x_j - x_i the error is w^T G w, G the local Gram matrix, and a
    Lagrange multiplier gives

    .. math::
        G_{jl} = (x_j - x_i)^\top (x_l - x_i), \qquad (G + r\,\operatorname{tr}(G)\, I)\, w = \mathbf 1,
        \qquad w \leftarrow w / \textstyle\sum_j w_j .

    (Roweis and Saul, 2000, eq. 2; Saul and Roweis, 2003, section 4.) When k > D (more
    neighbours than dimensions) G is singular and the weights are not unique; the ridge r tr(G)
    (scikit-learn's convention, r = 1e-3) picks the smallest ones.

    Args:
        x: points, (N, D).
        neighbors: indices of each point's k neighbours, (N, k), as `nearest_neighbors` returns.
        regularization: r, relative to the trace of G, non-negative.

    Returns:
        The weights, (N, k); each row sums to 1.

    Raises:
        ValueError: neighbors not of shape (N, k), or a negative regularization.
    """
    x = _as_points(x)
    neighbors = np.asarray(neighbors)
    if neighbors.ndim != 2 or len(neighbors) != len(x):
        raise ValueError(f"neighbors must have shape (N, k) = ({len(x)}, k), got {neighbors.shape}")
    if regularization < 0:
        raise ValueError(f"regularization must be non-negative, got {regularization}")
    k = neighbors.shape[1]
    z = x[neighbors] - x[:, None, :]                                        # (N, k, D): x_j - x_i
    gram = z @ z.transpose(0, 2, 1)                                         # (N, k, k): G
    trace = np.trace(gram, axis1=1, axis2=2)
    ridge = regularization * np.where(trace > 0, trace, 1.0)                # r tr(G), or r if G = 0
    gram += ridge[:, None, None] * np.eye(k)
    w = np.linalg.solve(gram, np.ones((len(x), k, 1)))[..., 0]              # (G + r tr(G) I) w = 1
    return w / w.sum(axis=1, keepdims=True)


def lle_embedding(weights: np.ndarray, neighbors: np.ndarray, num_components: int = 2) -> np.ndarray:
    r"""Step 3 of LLE: the coordinates that the same weights rebuild best.

    .. math::
        \min_Y \sum_i \lVert y_i - \textstyle\sum_j w_{ij} y_j \rVert^2 = \operatorname{tr}(Y^\top M Y),
        \qquad M = (I - W)^\top (I - W),

    under Y^T Y = I and sum_i y_i = 0 (Roweis and Saul, 2000, eq. 3). The minimisers are the
    eigenvectors of M with the smallest eigenvalues, skipping the very smallest: the constant
    vector, eigenvalue 0, because each row of W sums to 1. M is sparse (about k^2 entries per
    row); a shift-invert Lanczos solver finds its bottom eigenvectors by solving sparse systems
    with M + 1e-8 I.

    Args:
        weights: w_ij, (N, k), each row summing to 1, as `lle_weights` returns.
        neighbors: the neighbours' indices, (N, k).
        num_components: d, at most N - 2.

    Returns:
        The embedding, (N, d), each column of unit length.

    Raises:
        ValueError: num_components not an integer in 1..N - 2.
    """
    weights, neighbors = np.asarray(weights, dtype=np.float64), np.asarray(neighbors)
    n, k = weights.shape
    _check_components(num_components, n - 2, "N - 2 (the constant eigenvector is skipped)")
    w = sparse.csr_matrix((weights.ravel(), neighbors.ravel(), np.arange(0, n * k + 1, k)), shape=(n, n))
    i_minus_w = sparse.identity(n, format="csr") - w
    m = (i_minus_w.T @ i_minus_w).tocsc()                                   # M = (I - W)^T (I - W)
    count = num_components + 1
    if n <= 200:
        _, vectors = linalg.eigh(m.toarray(), subset_by_index=[0, count - 1])
    else:
        v0 = np.random.default_rng(0).uniform(-1, 1, n)
        # eigenvalues of M nearest to sigma; sigma slightly below 0 keeps M - sigma I invertible
        values, vectors = eigsh(m, k=count, sigma=-1e-8, which="LM", v0=v0, tol=1e-12)
        vectors = vectors[:, values.argsort()]
    return vectors[:, 1:]                                                    # drop the constant vector


def lle(x, num_components: int = 2, num_neighbors: int = DEFAULT_NEIGHBORS, regularization: float = 1e-3) -> np.ndarray:
    """Locally linear embedding (Roweis and Saul, 2000) in its three steps.

    1. `nearest_neighbors`: the k nearest neighbours of each point;
    2. `lle_weights`: rebuild each point from its neighbours with weights that sum to 1;
    3. `lle_embedding`: find low-dimensional points that the same weights rebuild.

    Args:
        x: points, (N, D).
        num_components: d, the dimension of the embedding.
        num_neighbors: k.
        regularization: r, the ridge of `lle_weights`.

    Returns:
        The embedding, (N, d).

    Raises:
        ValueError: bad points or sizes.
        DisconnectedGraphError: the k-nearest-neighbour graph falls into pieces; the bottom
            eigenvectors of M would then be one constant per piece, not coordinates.
    """
    x = _as_points(x)
    distances, neighbors = nearest_neighbors(x, num_neighbors)
    n = len(x)
    graph = sparse.csr_matrix((distances.ravel() + 1.0, neighbors.ravel(),   # + 1: keep zero-length edges
                               np.arange(0, n * num_neighbors + 1, num_neighbors)), shape=(n, n))
    check_connected(graph, advice="use more neighbours (num_neighbors)")
    weights = lle_weights(x, neighbors, regularization)
    return lle_embedding(weights, neighbors, num_components)
