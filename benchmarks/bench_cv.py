"""GDLogisticRegressionCV against GridSearchCV(GDLogisticRegression): P5.

8 learning rates x 5 folds, the same fixed number of iterations on both sides
(``tol=0`` so that no model stops early; the resulting ConvergenceWarnings are
silenced), on D1 = make_classification(200_000, 100, n_informative=20,
random_state=0) standardized and on D2 = breast cancer standardized. Prints
the median wall time of each side over the repeats (the sides measured
round-robin within each repeat, so that load from elsewhere hits them alike)
and the ratio as a markdown table, and checks that both choose the same
alpha. ``--quick`` (CI): D1 cut to 20,000 rows, fewer iterations and
repeats, GridSearchCV with n_jobs=1 only. Results: ``README_cv.md``.
"""

import argparse
import os
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import GDLogisticRegression, GDLogisticRegressionCV

ALPHAS = [0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]


def _timed(fit):
    start = time.perf_counter()
    result = fit()
    return time.perf_counter() - start, result


def _compare(name, X, y, *, max_iter, repeats, n_jobs_list):
    """Median times, the columns measured round-robin within each repeat."""
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    params = dict(max_iter=max_iter, tol=0.0)

    def ours():
        return GDLogisticRegressionCV(ALPHAS, cv=cv, **params).fit(X, y)

    def theirs(n_jobs):
        grid = {"alpha": ALPHAS}
        search = GridSearchCV(
            GDLogisticRegression(**params), grid, cv=cv, n_jobs=n_jobs
        )
        return search.fit(X, y)

    times = {"ours": [], **{n_jobs: [] for n_jobs in n_jobs_list}}
    chosen = {}
    for repeat in range(repeats):  # load from elsewhere hits every column alike
        t, batched = _timed(ours)
        times["ours"].append(t)
        chosen["ours"] = batched.alpha_
        for n_jobs in n_jobs_list:
            t, search = _timed(lambda n_jobs=n_jobs: theirs(n_jobs))
            times[n_jobs].append(t)
            chosen[n_jobs] = search.best_params_["alpha"]
        progress = ", ".join(
            f"{'ours' if key == 'ours' else f'n_jobs={key}'}: {value[-1]:.3f}s"
            for key, value in times.items()
        )
        print(f"  {name} repeat {repeat + 1}: {progress}", flush=True)
    t_ours = float(np.median(times["ours"]))
    rows = []
    for n_jobs in n_jobs_list:
        t_gs = float(np.median(times[n_jobs]))
        same = chosen[n_jobs] == chosen["ours"]
        rows.append((name, n_jobs, t_gs, t_ours, t_gs / t_ours, same))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small, fast run (CI)")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    quick = args.quick
    repeats = args.repeats or (1 if quick else 5)
    n_rows, max_iter = (20_000, 10) if quick else (200_000, 100)
    n_jobs_list = [1] if quick else [1, 2]

    warnings.simplefilter("ignore", ConvergenceWarning)
    X1, y1 = make_classification(n_rows, 100, n_informative=20, random_state=0)
    X1 = StandardScaler().fit_transform(X1)
    X2, y2 = load_breast_cancer(return_X_y=True)
    X2 = StandardScaler().fit_transform(X2)

    print(f"load average before: {os.getloadavg()}")
    print(
        f"8 alphas x 5 folds, max_iter={max_iter}, tol=0 (same iterations on both "
        f"sides; ConvergenceWarnings silenced), median of {repeats} repeat(s) on D1"
    )
    rows = _compare(
        f"D1 {n_rows}x100",
        X1,
        y1,
        max_iter=max_iter,
        repeats=repeats,
        n_jobs_list=n_jobs_list,
    )
    # D2 takes well under a second a run: more repeats for a stable median.
    rows += _compare(
        "D2 breast cancer",
        X2,
        y2,
        max_iter=max_iter,
        repeats=repeats if quick else max(repeats, 9),
        n_jobs_list=n_jobs_list,
    )
    print()
    print(
        "| data | GridSearchCV n_jobs | GridSearchCV (s) | GDLogisticRegressionCV (s) "
        "| ratio | same alpha |"
    )
    print("|---|---|---|---|---|---|")
    for name, n_jobs, t_gs, t_ours, ratio, same in rows:
        print(
            f"| {name} | {n_jobs} | {t_gs:.3f} | {t_ours:.3f} | {ratio:.1f}x | {same} |"
        )
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
