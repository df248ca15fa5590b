"""Peak memory of a fit beyond X itself (tracemalloc), float64 and float32.

X and y are built before tracing starts; the peak traced during ``fit`` is
everything the fit allocated on top of them (NumPy reports its buffers to
tracemalloc, the fused pass's scratch buffers included). A small untraced
fit comes first. Target P3 (benchmarks/README.md): <= 10% of the size of X, i.e.
no hidden copy of X.

Run: ``python benchmarks/bench_memory.py`` (``--quick`` for a smoke run).
"""

import tracemalloc
import warnings

import numpy as np
import scipy.sparse as sp
from _data import load, machine, parse_args, table
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from sklearn_gdlogreg import GDLogisticRegression

DATASETS = ("D1", "D1f", "D3")
MAX_ITER = 20


def nbytes(X):
    if sp.issparse(X):
        return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return X.nbytes


def peak_beyond_X(est, X, y):
    # One small fit first, untraced: one-off costs that do not grow with the
    # data (imports, the first use of each compiled kernel) are not the fit's
    # memory.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clone(est).fit(X[:500], y[:500])
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main():
    args = parse_args(__doc__.splitlines()[0], default_repeats=5)
    print(f"Machine: {machine()}\n")
    estimators = {
        "ours gd": lambda: GDLogisticRegression(solver="gd", max_iter=MAX_ITER),
        "ours nesterov": lambda: GDLogisticRegression(
            solver="nesterov", max_iter=MAX_ITER
        ),
        "lbfgs": lambda: LogisticRegression(max_iter=MAX_ITER),
    }
    rows = []
    for name in DATASETS:
        X, y = load(name, quick=args.quick)
        size = nbytes(X)
        peaks = {label: [] for label in estimators}
        for _ in range(args.repeats):  # round-robin, as the timed benchmarks
            for label, make in estimators.items():
                peaks[label].append(peak_beyond_X(make(), X, y))
        for label, runs in peaks.items():
            peak = float(np.median(runs))
            rows.append(
                [
                    name,
                    str(X.dtype),
                    label,
                    f"{size / 2**20:.1f}",
                    f"{peak / 2**20:.2f}",
                    f"{(max(runs) - min(runs)) / 2**20:.2f}",
                    f"**{peak / size:.3f}**"
                    if label.startswith("ours")
                    else f"{peak / size:.3f}",
                ]
            )
    header = [
        "data",
        "dtype",
        "method",
        "X MiB",
        "peak beyond X MiB",
        "max - min MiB",
        "peak / X",
    ]
    print(table(header, rows))
    print(f"\n(fits of {MAX_ITER} iterations; median of {args.repeats} fits each)")


if __name__ == "__main__":
    main()
