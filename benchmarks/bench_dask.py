"""Per-iteration time of the dask path, against the in-memory one and dask-ml.

On D1 split into row chunks, side by side in one run (median of
``--repeats``), the time of one gradient-descent iteration (J and the
gradient in one pass, plus the proximal step):

- in-memory: the NumPy objective on the same data;
- dask, threaded: the dask objective with dask's local threaded scheduler;
- dask, cluster: the same on a ``LocalCluster`` with 2 worker processes
  (1 thread each), X persisted on the workers;
- dask-ml: ``dask_ml.linear_model.LogisticRegression(solver="gradient_descent")``
  per iteration on the same chunks and cluster (optional: needs dask-ml).

Target (benchmarks/README.md, P8): cluster / in-memory <= 2, dask-ml / cluster >= 20.

``--oom`` also fits data larger than one worker's ``memory_limit``: X made on
the workers (never on the client), persisted across both.

Run: ``python benchmarks/bench_dask.py`` (``--quick`` for a smoke run).
"""

import sys
import time
import warnings

import numpy as np
from _data import interleaved_times, iteration_fn, load, machine, median_time, table

from sklearn_gdlogreg import GDLogisticRegression
from sklearn_gdlogreg._objective._numpy import LogisticObjective


def objective(cls, X, y, s):
    return cls(
        X,
        (y == 1).astype(X.dtype),
        s,
        n_classes=2,
        C=1.0,
        l1_ratio=0.0,
        fit_intercept=True,
        preconditioner="diagonal",
    )


def scattered(client, a, rows):
    """``a`` as a dask array whose row blocks are scattered to the workers."""
    import dask.array as da

    blocks = [a[i : i + rows] for i in range(0, a.shape[0], rows)]
    futures = client.scatter(blocks)
    return da.concatenate(
        [
            da.from_delayed(f, shape=b.shape, dtype=b.dtype, meta=b[:0])
            for f, b in zip(futures, blocks)
        ]
    )


def dask_ml_time(Xd, yd, repeats):
    """Per iteration of dask-ml's gradient_descent, or None if unavailable."""
    try:
        from dask_ml.linear_model import LogisticRegression
    except ImportError:
        return None

    def run(k):
        est = LogisticRegression(solver="gradient_descent", max_iter=k, tol=0.0)
        return lambda: est.fit(Xd, yd)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reps = max(1, repeats // 2)
        return (median_time(run(6), reps) - median_time(run(2), reps)) / 4


def out_of_worker_memory_fit(memory_limit=2**31):
    """Fit X of 1.1 x one worker's memory_limit, generated on the workers.

    X is persisted across the two workers (about 0.55 of each one's limit);
    no worker could hold it alone. Spilling to disk is switched off (its
    default starts at 60% of the limit) so the run measures the fit itself.
    """
    import dask
    import dask.array as da
    from dask.distributed import Client, LocalCluster

    n, d = int(1.1 * memory_limit / 8 / 100), 100
    memory = {
        "distributed.worker.memory.target": False,
        "distributed.worker.memory.spill": False,
        "distributed.worker.memory.pause": 0.95,
    }
    with (
        dask.config.set(memory),
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            memory_limit=memory_limit,
            dashboard_address=None,
        ) as cluster,
        Client(cluster),
    ):
        rng = da.random.default_rng(0)
        X = rng.standard_normal((n, d), chunks=(n // 64, d))
        w_true = np.linspace(-1.0, 1.0, d)
        noise = rng.standard_normal(n, chunks=n // 64)
        y = ((X @ w_true + noise) > 0).astype(int)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # max_iter below convergence
            est = GDLogisticRegression(solver="nesterov", max_iter=30).fit(X, y)
        elapsed = time.perf_counter() - start
    print(
        f"\nOut of one worker's memory: X {n} x {d} float64 = "
        f"{X.nbytes / 2**30:.2f} GiB on 2 workers of memory_limit "
        f"{memory_limit / 2**30:.2f} GiB each: fit ({est.n_iter_} nesterov "
        "iterations; X generated on the workers, persisted, moments and "
        f"Lipschitz bound included) in {elapsed:.1f} s, "
        f"J {est.cost_history_[0]:.4f} -> {est.cost_history_[-1]:.4f}."
    )


def main():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data (CI)")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--oom", action="store_true", help="out-of-memory fit")
    args = parser.parse_args()
    repeats = args.repeats or (2 if args.quick else 9)
    try:
        import dask
        import dask.array as da
        from dask.distributed import Client, LocalCluster

        from sklearn_gdlogreg._objective._dask import DaskLogisticObjective
    except ImportError:
        print("dask[distributed] is not installed: pip install 'dask[distributed]'")
        return
    print(f"Machine: {machine()}\n")
    # Steady state of each path's loop: see _data.interleaved_times.
    steady = {} if args.quick else dict(settle=0.2, warm=0.05, burst=3)
    X, y = load("D1", quick=args.quick)
    s = np.ones(X.shape[0])
    n_chunks = 4  # two per worker
    chunks = (X.shape[0] // n_chunks, X.shape[1])
    Xd, yd = da.from_array(X, chunks=chunks), da.from_array(y, chunks=chunks[0])
    sd = da.from_array(s, chunks=chunks[0])
    in_memory = iteration_fn(objective(LogisticObjective, X, y, s))
    with dask.config.set(scheduler="threads"):
        threaded = iteration_fn(objective(DaskLogisticObjective, Xd, yd, sd))
        t_mem, t_thr = interleaved_times([in_memory, threaded], repeats, **steady)
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
        as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        # The data loaded on the workers, one key per block (as dask would
        # read it from files), not embedded in the graph from the client.
        Xc, yc, sc = (scattered(client, a, chunks[0]) for a in (X, y, s))
        on_cluster = iteration_fn(objective(DaskLogisticObjective, Xc, yc, sc))
        t_mem2, t_clu = interleaved_times([in_memory, on_cluster], repeats, **steady)
        Xp, yp = Xc, yc.astype(float)
        t_dml = dask_ml_time(Xp, yp, repeats)
    header = ["D1", "rows x cols", "chunks", "ms / iteration", "ratio"]
    shape = f"{X.shape[0]} x {X.shape[1]}"
    ms = lambda t: f"{t * 1e3:.1f}"  # noqa: E731
    rows = [
        ["in-memory", shape, "-", ms(t_mem), "1.00"],
        ["dask, threaded", shape, n_chunks, ms(t_thr), f"{t_thr / t_mem:.2f}"],
        ["dask, 2-worker cluster", shape, n_chunks, ms(t_clu),
         f"**{t_clu / t_mem2:.2f}** (P8 <= 2)"],
    ]  # fmt: skip
    if t_dml is not None:
        rows.append(
            ["dask-ml gradient_descent, cluster", shape, n_chunks,
             f"{t_dml * 1e3:.1f}", f"**{t_dml / t_clu:.1f}x ours** (P8 >= 20)"]
        )  # fmt: skip
    print(table(header, rows))
    print(f"(in-memory measured again beside the cluster: {t_mem2 * 1e3:.1f} ms)")
    if t_dml is None:
        print("dask-ml row: n/a (pip install dask-ml)", file=sys.stderr)
    if args.oom:
        out_of_worker_memory_fit()


if __name__ == "__main__":
    main()
