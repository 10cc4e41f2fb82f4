"""The book's from-scratch Isomap (`edu_gen.manifold.isomap`) against scikit-learn's, at N = 4000 points.

Both run in one process, alternating which goes first, on the same swiss roll, with BLAS and
OpenMP limited to ONE thread, and are timed in CPU seconds of the process
(`time.process_time`): on this shared machine a multi-threaded run's time depends on what the
other cores are doing, a single thread's CPU time much less (see train_overhead.py). Wall-clock
times are reported too, and the Procrustes disparity between the two embeddings, to show that
they compute the same thing. The three steps of ours are timed separately in one extra run.

    python benchmarks/isomap.py            # writes benchmarks/results/isomap.txt
"""

import platform
import statistics
import time
from pathlib import Path

import numpy as np
import scipy
import sklearn
from scipy.spatial import procrustes
from sklearn.manifold import Isomap
from threadpoolctl import threadpool_limits

from edu_gen import data, manifold

HERE = Path(__file__).parent
N, NEIGHBORS = 4000, 10


def ours(x):
    return manifold.isomap(x, num_components=2, num_neighbors=NEIGHBORS)


def scikit_learn(x):
    return Isomap(n_neighbors=NEIGHBORS, n_components=2).fit_transform(x)


def timed(function, x):
    cpu, wall = time.process_time(), time.perf_counter()
    result = function(x)
    return result, time.process_time() - cpu, time.perf_counter() - wall


def main(rounds: int = 5) -> None:
    x = data.swiss_roll_3d(N, seed=0)[0].double().numpy()
    with threadpool_limits(limits=1):
        ours(x[:500]), scikit_learn(x[:500])  # warm-up: imports, caches
        cpu = {"ours": [], "scikit-learn": []}
        wall = {"ours": [], "scikit-learn": []}
        for r in range(rounds):
            order = [("ours", ours), ("scikit-learn", scikit_learn)]
            for name, function in order if r % 2 == 0 else order[::-1]:
                embedding, c, w = timed(function, x)
                cpu[name].append(c)
                wall[name].append(w)
                if name == "ours":
                    mine = embedding
                else:
                    theirs = embedding
        steps = {}
        start = time.process_time()
        graph = manifold.neighborhood_graph(x, num_neighbors=NEIGHBORS)
        steps["1 neighbourhood graph"] = time.process_time() - start
        start = time.process_time()
        geodesic = manifold.geodesic_distances(graph)
        steps["2 shortest paths (Dijkstra)"] = time.process_time() - start
        start = time.process_time()
        manifold.mds(geodesic, 2)
        steps["3 classical MDS (Lanczos)"] = time.process_time() - start

    disparity = procrustes(mine, theirs)[2]
    # the two must compute the same embedding before their times mean anything: rounding gives ~1e-30
    if not disparity < 1e-27:
        raise RuntimeError(f"the two Isomaps disagree (Procrustes disparity {disparity:.1e}); not recording a timing")
    ours_s, theirs_s = statistics.median(cpu["ours"]), statistics.median(cpu["scikit-learn"])
    lines = [
        f"# Isomap, k = {NEIGHBORS} neighbours, swiss roll N = {N}: edu_gen.manifold.isomap vs sklearn.manifold.Isomap",
        f"# {time.strftime('%Y-%m-%d')} | {platform.machine()} | 1 BLAS/OpenMP thread | numpy {np.__version__} | "
        f"scipy {scipy.__version__} | scikit-learn {sklearn.__version__} | median of {rounds} alternating rounds",
        "implementation   cpu_s    wall_s",
        f"ours            {ours_s:6.2f}    {statistics.median(wall['ours']):6.2f}",
        f"scikit-learn    {theirs_s:6.2f}    {statistics.median(wall['scikit-learn']):6.2f}",
        f"ratio ours / scikit-learn (CPU time): {ours_s / theirs_s:.2f}",
        f"Procrustes disparity between the two embeddings: {disparity:.1e}",
        "ours, by step (CPU s, one run): " + ", ".join(f"{k} {v:.2f}" for k, v in steps.items()),
    ]
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "isomap.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
