"""Per-iteration time of gradient descent, against its floor and its peers.

For each data set, side by side in one run (median of ``--repeats``):

- floor: one ``X @ w`` pass over X (sparse: the two products ``X @ w`` and
  ``X.T @ r`` that any gradient iteration needs);
- ours: one ``solver="gd"`` iteration, cost J included: the body of the
  solver's loop (proximal step, then J and the gradient in one fused pass);
- lecture: a plain NumPy transcription of the lecture's iteration;
- dask-ml: ``dask_ml.linear_model.LogisticRegression(solver="gradient_descent")``
  per iteration, when dask-ml is installed (optional column);
- the one-off cost of the Lipschitz bound behind ``alpha="auto"``.

Each column's turn is 0.05 s of untimed calls, then 5 timed back to back
(the steady state of a fit's loop), after a 0.2 s pause so that the
previous column's BLAS threads are idle (see ``_data.interleaved_times``).

Targets (benchmarks/README.md): P1 ours/floor <= 1.3 on D1; P2 D1f/D1 <= 0.6;
P6 ours/floor <= 1.3 on D3.

Run: ``python benchmarks/bench_iteration.py`` (``--quick`` for a smoke run).
"""

import warnings

import numpy as np
import scipy.sparse as sp
from _data import (
    interleaved_times,
    iteration_fn,
    load,
    machine,
    median_time,
    parse_args,
    table,
)

from sklearn_gdlogreg._objective._numpy import LogisticObjective

DATASETS = ("D1", "D1f", "D2", "D3")


def make_objective(X, y):
    return LogisticObjective(
        X,
        (y == 1).astype(X.dtype),
        np.ones(X.shape[0]),
        n_classes=2,
        C=1.0,
        l1_ratio=0.0,
        fit_intercept=True,
        preconditioner="diagonal",
    )


def floor_fn(X):
    w = np.full(X.shape[1], 0.01, dtype=X.dtype)
    r = np.full(X.shape[0], 0.01, dtype=X.dtype)
    if sp.issparse(X):
        return lambda: (X @ w, X.T @ r)
    return lambda: X @ w


def lecture_fn(X, y):
    """The lecture's loop body, transcribed plainly (one iteration)."""
    m = X.shape[0]
    y = y.astype(X.dtype)
    w, b, alpha = np.zeros(X.shape[1], dtype=X.dtype), 0.0, 0.1

    def iteration():
        nonlocal w, b
        with np.errstate(all="ignore"):
            z = X @ w + b
            a = 1.0 / (1.0 + np.exp(-z))
            J = -np.mean(y * np.log(a) + (1 - y) * np.log(1 - a))
            dz = a - y
            dw = X.T @ dz / m
            db = np.mean(dz)
        w = w - alpha * dw
        b = b - alpha * db
        return J

    return iteration


def dask_ml_time(X, y, repeats):
    """Per iteration of dask-ml's gradient_descent, or None if unavailable."""
    try:
        import dask.array as da
        from dask_ml.linear_model import LogisticRegression
    except ImportError:
        return None
    if sp.issparse(X):
        return None  # dask-ml's gradient descent wants dense dask arrays
    Xd = da.from_array(X, chunks=(max(X.shape[0] // 4, 1), X.shape[1]))
    yd = da.from_array(y.astype(float), chunks=Xd.chunks[0])

    def run(k):
        est = LogisticRegression(solver="gradient_descent", max_iter=k, tol=0.0)
        return lambda: est.fit(Xd, yd)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reps = max(1, repeats // 2)
        return (median_time(run(4), reps) - median_time(run(2), reps)) / 2


def main():
    args = parse_args(__doc__.splitlines()[0], default_repeats=15)
    print(f"Machine: {machine()}\n")
    rows, per_iter = [], {}
    for name in DATASETS:
        X, y = load(name, quick=args.quick)
        obj = make_objective(X, y)
        t_floor, t_ours, t_lect = interleaved_times(
            [floor_fn(X), iteration_fn(obj), lecture_fn(X, y)],
            args.repeats,
            settle=0.2,
            warm=0.0 if args.quick else 0.05,
            burst=1 if args.quick else 5,
        )
        t_dask = dask_ml_time(X, y, args.repeats)
        t_lip = median_time(obj.lipschitz, max(1, args.repeats // 2), warmup=0)
        per_iter[name] = t_ours
        rows.append(
            [
                name,
                f"{t_floor * 1e3:.2f}",
                f"{t_ours * 1e3:.2f}",
                f"**{t_ours / t_floor:.2f}**",
                f"{t_lect / t_floor:.2f}",
                "n/a" if t_dask is None else f"{t_dask / t_floor:.1f}",
                f"{t_lect / t_ours:.2f}",
                f"{t_lip * 1e3:.1f} ({t_lip / t_ours:.1f} it)",
            ]
        )
    header = [
        "data",
        "floor ms",
        "ours ms/it",
        "ours / floor",
        "lecture / floor",
        "dask-ml / floor",
        "lecture / ours",
        "Lipschitz ms (iterations)",
    ]
    print(table(header, rows))
    print(
        "\nfloor: one X @ w pass (D3 sparse: X @ w plus X.T @ r). "
        f"P2 float32/float64 (D1f/D1): {per_iter['D1f'] / per_iter['D1']:.2f}"
    )
    if any(r[5] == "n/a" for r in rows[:1]):
        print("dask-ml column: n/a (dask-ml not installed; pip install dask-ml)")


if __name__ == "__main__":
    main()
