"""Cost of the callback machinery per gradient-descent iteration.

Measured side by side in one run on the same data: the solver called
directly on the objective (the numerical core, no estimator), the estimator
with no callback set (must cost the same: the solver gets ``on_iter=None``),
and, on scikit-learn >= 1.9, the estimator with a no-op callback and with
``ScoringMonitor``. Prints the median per-iteration time of >= 5 repeats and
the ratio to the bare solver.

Usage: ``python benchmarks/bench_callbacks.py [--quick]``.
"""

import argparse
import os
import statistics
import time
import warnings

import numpy as np
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import GDLogisticRegression
from sklearn_gdlogreg._compat import sklearn_callback
from sklearn_gdlogreg._objective._numpy import LogisticObjective
from sklearn_gdlogreg._solvers._descent import gradient_descent


class NoOp:
    """A callback that does nothing: the price of the protocol itself."""

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context):
        return False


def _median_seconds(cases, repeats):
    """Median time of each case, the repeats interleaved so load hits all alike."""
    times = {name: [] for name, _ in cases}
    for _ in range(repeats):
        for name, fn in cases:
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data (CI)")
    args = parser.parse_args()
    n, d, n_iter, repeats = (5_000, 20, 50, 5) if args.quick else (100_000, 100, 100, 7)
    X, y = make_classification(n, d, n_informative=10, random_state=0)
    X = StandardScaler().fit_transform(X)
    alpha = 0.5

    def bare():
        objective = LogisticObjective(
            X, y.astype(float), np.ones(n), n_classes=2, C=1.0, l1_ratio=0.0,
            fit_intercept=True, preconditioner=None,
        )  # fmt: skip
        theta0 = objective.from_original(np.zeros((d, 1)), np.zeros(1))
        gradient_descent(
            objective, theta0, step=alpha, adaptive=False, max_iter=n_iter, tol=0.0
        )

    def estimator(*callbacks):
        def fit():
            clf = GDLogisticRegression(alpha, max_iter=n_iter, tol=0.0)
            if callbacks:
                clf.set_callbacks(*callbacks)
            clf.fit(X, y)

        return fit

    cases = [("solver alone (no estimator)", bare), ("no callback", estimator())]
    if sklearn_callback is not None:
        cases.append(("no-op callback", estimator(NoOp())))
        monitor = sklearn_callback.ScoringMonitor(scoring="accuracy")
        cases.append(("ScoringMonitor(accuracy)", estimator(monitor)))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average: {load}  (X: {n} x {d}, {n_iter} iterations)")
    print(f"{'case':<30}{'ms/iter':>10}{'ratio':>8}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        seconds = _median_seconds(cases, repeats)
    base = seconds[cases[0][0]] / n_iter
    for name, total in seconds.items():
        per_iter = total / n_iter
        print(f"{name:<30}{per_iter * 1e3:>10.3f}{per_iter / base:>8.2f}")


if __name__ == "__main__":
    main()
