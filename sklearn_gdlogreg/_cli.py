"""Command line: ``python -m sklearn_gdlogreg`` or ``gdlogreg``.

With no arguments, fits the breast-cancer data bundled with scikit-learn and
prints what gradient descent did. ``--csv PATH --target COL`` fits a user's
table instead. Bad input ends with a one-line error and exit status 2.
"""

import argparse
import csv
import os
import sys
import time
import warnings

import numpy as np

DEMO_PLOT = "gdlogreg_cost_history.png"


class InputError(Exception):
    """A problem with the user's input: reported in one line, exit status 2."""


def _alpha(text):
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0 or 'auto', got {text}")
    return value


def build_parser():
    """The argument parser of the ``gdlogreg`` command.

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser.

    Examples
    --------
    >>> from sklearn_gdlogreg._cli import build_parser
    >>> build_parser().parse_args(["--alpha", "0.5"]).alpha
    0.5
    """
    p = argparse.ArgumentParser(
        prog="gdlogreg",
        description="Fit logistic regression by gradient descent and report on "
        "it. Without --csv: the breast-cancer demo (saves the cost curve to "
        f"{DEMO_PLOT} when matplotlib is installed).",
    )
    p.add_argument("--csv", metavar="PATH", help="CSV file with a header row")
    p.add_argument("--target", metavar="COL", help="name of the label column")
    p.add_argument("--alpha", type=_alpha, default="auto", help="learning rate")
    p.add_argument("--solver", choices=["gd", "nesterov"], default="nesterov")
    p.add_argument("--C", type=float, default=1.0, help="inverse penalty (inf: none)")
    p.add_argument("--max-iter", type=int, default=1000)
    p.add_argument("--tol", type=float, default=1e-6)
    p.add_argument("--cv", type=int, metavar="K", help="K-fold search over --alphas")
    p.add_argument("--alphas", type=_alpha, nargs="+", metavar="A")
    p.add_argument("--plot", metavar="FILE.png", help="save the cost curve")
    p.add_argument("--progress", action="store_true", help="show a progress bar")
    p.add_argument("--test-size", type=float, default=0.25)
    p.add_argument("--random-state", type=int, default=0)
    return p


def read_csv(path, target):
    """Read numeric features and a label column from a CSV file.

    Parameters
    ----------
    path : str
        The file; its first row names the columns.
    target : str
        The name of the label column; every other column must be numeric.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The feature columns as float64.
    y : ndarray of shape (n_samples,)
        The labels, as strings.
    names : list of str
        The feature column names.

    Raises
    ------
    InputError
        Missing file, missing target column, or a non-numeric feature.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_gdlogreg._cli import read_csv
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = os.path.join(d, "t.csv")
    ...     with open(path, "w") as f:
    ...         _ = f.write("x,label\\n1.5,a\\n2.5,b\\n")
    ...     X, y, names = read_csv(path, "label")
    >>> X.ravel().tolist(), y.tolist(), names
    ([1.5, 2.5], ['a', 'b'], ['x'])
    """
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as exc:
        raise InputError(f"cannot read --csv {path!r}: {exc.strerror}") from None
    if not rows:
        raise InputError(f"--csv {path!r} is empty")
    header, rows = [h.strip() for h in rows[0]], rows[1:]
    if target not in header:
        raise InputError(
            f"--target {target!r} is not a column of {path!r}; columns: "
            + ", ".join(header)
        )
    if not rows:
        raise InputError(f"--csv {path!r} has a header but no data rows")
    t = header.index(target)
    names = [h for j, h in enumerate(header) if j != t]
    X = np.empty((len(rows), len(names)))
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise InputError(
                f"line {i + 2} of {path!r} has {len(row)} fields, "
                f"expected {len(header)}"
            )
        for j, value in enumerate(row[:t] + row[t + 1 :]):
            try:
                X[i, j] = float(value)
            except ValueError:
                raise InputError(
                    f"feature column {names[j]!r} is not numeric (line {i + 2}: "
                    f"{value!r}); encode it as numbers or drop it"
                ) from None
    if not np.isfinite(X).all():
        raise InputError(f"--csv {path!r} has missing or infinite feature values")
    y = np.array([row[t].strip() for row in rows])
    if np.unique(y).size < 2:
        raise InputError(
            f"--target {target!r} has a single class ({str(y[0])!r}); "
            "classification needs at least two"
        )
    return X, y, names


def _load(args):
    """``(X, y, description)`` of the demo data or of the user's CSV."""
    if args.csv is None:
        if args.target is not None:
            raise InputError("--target needs --csv PATH")
        from sklearn.datasets import load_breast_cancer

        X, y = load_breast_cancer(return_X_y=True)
        return X, y, "breast cancer"
    if args.target is None:
        raise InputError("--csv needs --target COL, the name of the label column")
    X, y, _ = read_csv(args.csv, args.target)
    return X, y, args.csv


def _searcher(args, clf):
    """GDLogisticRegressionCV when available, else GridSearchCV over alpha."""
    if args.alphas is None:
        raise InputError("--cv K needs --alphas A [A ...], the learning rates to try")
    if args.cv < 2:
        raise InputError(f"--cv must be at least 2, got {args.cv}")
    try:
        from . import GDLogisticRegressionCV
    except ImportError:
        from sklearn.model_selection import GridSearchCV

        return GridSearchCV(clf, {"alpha": args.alphas}, cv=args.cv)
    accepted = GDLogisticRegressionCV().get_params()
    params = {k: v for k, v in clf.get_params().items() if k in accepted}
    if "Cs" in accepted:
        params["Cs"] = [args.C]
    return GDLogisticRegressionCV(alphas=args.alphas, cv=args.cv, **params)


def _fit(args, X_train, y_train):
    """Fit StandardScaler + the model (or the search); ``(model, seconds, notes)``."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from . import GDLogisticRegression

    clf = GDLogisticRegression(
        args.alpha, C=args.C, solver=args.solver, max_iter=args.max_iter, tol=args.tol
    )
    last = clf if args.cv is None else _searcher(args, clf)
    model = make_pipeline(StandardScaler(), last)
    if args.progress:
        from ._compat import sklearn_callback

        if sklearn_callback is None:
            raise InputError("--progress needs scikit-learn >= 1.9 (sklearn.callback)")
        try:
            model.set_callbacks(
                sklearn_callback.ProgressBar(max_propagation_depth=None)
            )
        except ImportError as exc:
            raise InputError(f"--progress: {exc}") from None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
    notes = sorted(
        {str(w.message) for w in caught if w.category.__name__ != "DeprecationWarning"}
    )
    return model, seconds, notes


def _final(model):
    """The fitted GDLogisticRegression inside the pipeline (or the search)."""
    last = model[-1]
    return getattr(last, "best_estimator_", last)


def _gap_to_sklearn(model, X_train, y_train, C):
    """max |coef - LogisticRegression coef| / max |coef|, same C, same scaling."""
    from sklearn.linear_model import LogisticRegression

    gd = _final(model)
    Xs = model[0].transform(X_train)
    ref = LogisticRegression(
        C=C,
        solver="newton-cholesky",
        tol=1e-12,
        max_iter=1000,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.fit(Xs, y_train)
    return np.max(np.abs(gd.coef_ - ref.coef_)) / np.max(np.abs(ref.coef_))


def _report(args, what, model, seconds, scores, gap):
    gd = _final(model)
    n_train = scores["n_train"]
    print(
        f"GDLogisticRegression on {what} ({n_train} training samples, "
        f"{gd.n_features_in_} features, {gd.classes_.size} classes; "
        "StandardScaler first)"
    )
    print(
        f"  solver={args.solver!r}  C={args.C:g}  tol={args.tol:g}  "
        f"max_iter={args.max_iter}"
    )
    if args.cv is not None:
        search = model[-1]
        res = search.cv_results_
        chosen = getattr(search, "best_params_", {}).get("alpha", gd.alpha_)
        print(f"  {args.cv}-fold search over alpha:")
        for p, m, s in zip(
            res["params"], res["mean_test_score"], res["std_test_score"]
        ):
            mark = "  <- chosen" if p["alpha"] == chosen else ""
            print(f"    alpha={p['alpha']:<10g} accuracy {m:.4f} +/- {s:.4f}{mark}")
    rows = [
        ("iterations", f"{gd.n_iter_}"),
        ("final cost J", f"{gd.cost_history_[-1]:.6f}"),
        ("step alpha_", f"{gd.alpha_:.4g}"),
        ("train accuracy", f"{scores['train']:.4f}"),
        ("test accuracy", f"{scores['test']:.4f}"),
        ("fit time", f"{seconds * 1000:.1f} ms"),
        ("coef gap to LogisticRegression", f"{gap:.2e}"),
    ]
    for name, value in rows:
        print(f"  {name:<32}{value}")


def _save_plot(model, path, required):
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        if required:
            raise InputError(
                '--plot needs matplotlib: pip install "sklearn-gdlogreg[plot]"'
            ) from None
        return
    from ._plot import CostHistoryDisplay

    display = CostHistoryDisplay.from_estimator(_final(model))
    display.ax_.set_title("Cost J after each gradient-descent update")
    try:
        display.figure_.savefig(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot save --plot {path!r}: {exc}") from None
    print(f"  cost curve saved to {path}")


def run(args):
    """Fit and report, as the parsed arguments ``args`` say; raises InputError."""
    from sklearn.model_selection import train_test_split

    X, y, what = _load(args)
    if not 0 < args.test_size < 1:
        raise InputError(f"--test-size must be in (0, 1), got {args.test_size}")
    _, counts = np.unique(y, return_counts=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X,
        y,
        test_size=args.test_size,
        random_state=args.random_state,
        stratify=y if counts.min() >= 2 else None,
    )
    if np.unique(y_train).size < 2:
        raise InputError("the training split has a single class; add more samples")
    model, seconds, notes = _fit(args, X_train, y_train)
    scores = {
        "n_train": len(y_train),
        "train": model.score(X_train, y_train),
        "test": model.score(X_test, y_test),
    }
    gap = _gap_to_sklearn(model, X_train, y_train, args.C)
    _report(args, what, model, seconds, scores, gap)
    for note in notes:
        print(f"  warning: {note}")
    if args.plot is not None or args.csv is None:
        _save_plot(model, args.plot or DEMO_PLOT, required=args.plot is not None)


def main(argv=None):
    """Entry point of ``gdlogreg`` and ``python -m sklearn_gdlogreg``.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
        0 on success, 2 on bad input (after a one-line message on stderr).

    Examples
    --------
    >>> from sklearn_gdlogreg._cli import main
    >>> main(["--csv", "no-such-file.csv", "--target", "y"])
    2
    """
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except (InputError, ValueError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        print(f"gdlogreg: error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early
        sys.stdout = open(os.devnull, "w")  # silence the interpreter's final flush
    return 0
