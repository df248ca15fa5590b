"""Threads: a grid search with ``n_jobs=2`` must not oversubscribe the cores.

The kernels run on OpenMP threads, one per usable core, as scikit-learn's
own. Inside ``GridSearchCV(n_jobs=2)`` each worker process is told by
joblib to use its share of the cores (``OMP_NUM_THREADS`` and threadpoolctl
limits in loky's workers), so two workers of one thread each, not two of
two threads on a 2-core machine. This script times the same search with
``n_jobs=1`` and ``n_jobs=2`` side by side (interleaved, median of
``--repeats``), and reports the kernels' thread count seen inside a worker.

Expected on 2 cores: ``n_jobs=2`` no slower than ``n_jobs=1`` (ratio
n_jobs=2 / n_jobs=1 <= 1; oversubscription would show as a ratio above 1),
and 1 thread per worker.

Run: ``python benchmarks/bench_threads.py`` (``--quick`` for a smoke run).
"""

import warnings

from _data import interleaved_times, load, machine, parse_args, table
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from sklearn_gdlogreg import GDLogisticRegression
from sklearn_gdlogreg._numerics._threads import effective_n_threads

ALPHAS = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]


def search_fn(X, y, n_jobs):
    search = GridSearchCV(
        GDLogisticRegression(solver="nesterov", max_iter=100),
        {"alpha": ALPHAS},
        cv=3,
        n_jobs=n_jobs,
    )

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            search.fit(X, y)

    return run


def main():
    args = parse_args(__doc__)
    print(machine())
    with Parallel(n_jobs=2) as parallel:  # the workers' view of the threads
        workers = parallel(delayed(effective_n_threads)() for _ in range(2))
    print(
        f"kernel threads: {effective_n_threads()} in this process, "
        f"{workers} in GridSearchCV(n_jobs=2)'s workers"
    )
    rows = []
    for name in ("D2", "D1"):
        X, y = load(name, quick=True)  # D1 at one tenth: 20,000 x 100
        t1, t2 = interleaved_times(
            [search_fn(X, y, 1), search_fn(X, y, 2)], args.repeats, warmup=1
        )
        rows.append(
            [
                f"{name} {X.shape[0]:,} x {X.shape[1]}",
                f"{t1 * 1e3:.0f}",
                f"{t2 * 1e3:.0f}",
                f"{t2 / t1:.2f}",
            ]
        )
    print()
    print(
        table(
            ["data", "n_jobs=1 (ms)", "n_jobs=2 (ms)", "n_jobs=2 / n_jobs=1"],
            rows,
        )
    )
    print(
        f"\nGridSearchCV over {len(ALPHAS)} alphas x 3 folds, nesterov, "
        f"max_iter=100; median of {args.repeats}, interleaved."
    )


if __name__ == "__main__":
    main()
