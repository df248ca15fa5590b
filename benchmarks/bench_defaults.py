"""First contact: ``GDLogisticRegression()`` with every default, on the data
sets users try first and on the reference data D1-D4.

For each data set: the iterations of the fit, whether it raised a
ConvergenceWarning, and its time, beside ``LogisticRegression()``'s
(lbfgs, ``max_iter=1000``). The first-contact data sets are scikit-learn's
bundled breast cancer, wine, digits and iris, raw and standardized; D1-D4
are defined in ``benchmarks/README.md`` (``--quick``: at one tenth, and
without the lbfgs columns).

Target (issue "First contact"): no warning anywhere, in the fewest passes
over X the package can manage.

Run: ``python benchmarks/bench_defaults.py`` (``--quick`` for a smoke run).
"""

import time
import warnings

from _data import load, machine, parse_args, table
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import GDLogisticRegression

LOADERS = {
    "breast cancer": load_breast_cancer,
    "wine": load_wine,
    "digits": load_digits,
    "iris": load_iris,
}


def datasets(quick):
    for name, loader in LOADERS.items():
        X, y = loader(return_X_y=True)
        yield f"{name}, raw", X, y
        yield f"{name}, standardized", StandardScaler().fit_transform(X), y
    for name in ("D1", "D2", "D3", "D4"):
        X, y = load(name, quick=quick)
        yield name + (" (one tenth)" if quick and name != "D2" else ""), X, y


def fit(est, X, y):
    """``(fitted, warned, seconds)``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        est.fit(X, y)
        seconds = time.perf_counter() - start
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return est, warned, seconds


def main():
    args = parse_args(__doc__.splitlines()[0], default_repeats=1)
    print(f"Machine: {machine()}\n")
    rows = []
    for name, X, y in datasets(args.quick):
        ours, warned, t_ours = fit(GDLogisticRegression(), X, y)
        row = [name, ours.n_iter_, "yes" if warned else "no", f"{t_ours * 1e3:.1f}"]
        if args.quick:  # lbfgs takes seconds on raw data: not in CI's smoke run
            row += ["n/a"] * 3
        else:
            lr, lr_warned, t_lr = fit(LogisticRegression(max_iter=1000), X, y)
            row += [
                int(max(lr.n_iter_)),
                "yes" if lr_warned else "no",
                f"{t_lr * 1e3:.1f}",
            ]
        rows.append(row)
    header = [
        "data",
        "ours: iterations",
        "warned",
        "ms",
        "lbfgs: iterations",
        "warned",
        "ms",
    ]
    print(table(header, rows))
    print(
        "\nours: GDLogisticRegression() (solver='auto': nesterov, alpha='auto', "
        "preconditioner='auto': diagonal, tol=1e-4, max_iter=10000); "
        "lbfgs: LogisticRegression(max_iter=1000). One fit each."
    )


if __name__ == "__main__":
    main()
