"""Cost of early stopping per gradient-descent update.

``GDLogisticRegression(early_stopping=True)`` keeps the held-out rows in X
with weight zero and takes their cost from each pass's raw predictions; this
measures what that adds to an update. Per data set, side by side in one run
(round-robin, medians of ``--repeats``): fits with a fixed alpha, ``tol=0``
and ``n_iter_no_change`` above ``max_iter`` (so both run every update), at
two values of ``max_iter``; the difference of their times over the
difference of updates is the time per update, free of the fit's fixed costs
(validation, the split, the weights). The ratio is early stopping's time
per update over the plain fit's (target: <= 1.1 on D1).

Usage: ``python benchmarks/bench_early_stopping.py [--quick] [--repeats N]``.
"""

import warnings

from _data import interleaved_times, load, machine, parse_args, table
from sklearn.exceptions import ConvergenceWarning

from sklearn_gdlogreg import GDLogisticRegression


def _fit(X, y, n_iter, early_stopping):
    est = GDLogisticRegression(
        alpha=0.1,
        max_iter=n_iter,
        tol=0.0,
        early_stopping=early_stopping,
        n_iter_no_change=n_iter + 1,
        random_state=0,
    )
    return lambda: est.fit(X, y)


def main():
    args = parse_args(__doc__.splitlines()[0], default_repeats=5)
    few, many = (5, 25) if args.quick else (10, 50)
    print(machine())
    print()
    rows = []
    for name in ("D1", "D1f", "D3"):
        X, y = load(name, quick=args.quick)
        fns = [_fit(X, y, n, es) for es in (False, True) for n in (few, many)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t = interleaved_times(fns, args.repeats)
        plain, early = ((t[i + 1] - t[i]) / (many - few) for i in (0, 2))
        rows.append(
            (
                f"{name} {X.shape[0]} x {X.shape[1]}",
                f"{plain * 1e3:.2f}",
                f"{early * 1e3:.2f}",
                f"{early / plain:.2f}",
            )
        )
    header = ("data", "plain ms/update", "early_stopping ms/update", "ratio")
    print(table(header, rows))


if __name__ == "__main__":
    main()
