"""Command line: ``python -m sklearn_gdlogreg`` or ``gdlogreg``.

With no arguments, fits the breast-cancer data bundled with scikit-learn,
prints what gradient descent did and saves the cost curve (printing where).
``--csv PATH --target COL`` fits a user's table instead. Every estimator
option defaults to :class:`GDLogisticRegression`'s own default. Bad input
ends with a one-line error and exit status 2; a fit that diverges ends with
a one-line error giving the largest stable step, and exit status 1.
"""

import argparse
import csv
import os
import re
import sys
import time
import warnings

import numpy as np

from ._compat import sklearn_callback
from ._cv import GDLogisticRegressionCV
from ._gd_logistic import GDLogisticRegression
from ._plot import CostHistoryDisplay

DEMO_PLOT = "gdlogreg_cost_history.png"
# The package is installed from a clone (it is not on a package index yet).
PLOT_HINT = 'from the repository root: python -m pip install -e ".[plot]"'
# Cells read as a missing value (pandas' read_csv treats these as NaN too).
MISSING = {"", "na", "n/a", "nan", "null", "none"}
# "2/L = 0.5992" in the estimator's divergence warning: the largest stable step.
STABLE_STEP = re.compile(r"2/L = ([-+0-9.eE]+|inf)")


class InputError(Exception):
    """A problem with the user's input: reported in one line, exit status 2."""


class FitError(Exception):
    """The fit failed (it diverged): reported in one line, exit status 1."""


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


def _estimator_defaults():
    """The defaults of the estimator parameters the command exposes.

    Read from :class:`GDLogisticRegression` itself so that the command and the
    Python API can never disagree.
    """
    params = GDLogisticRegression().get_params()
    return {name: params[name] for name in ("alpha", "solver", "C", "max_iter", "tol")}


def build_parser():
    """The argument parser of the ``gdlogreg`` command.

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser; ``--help`` shows every default.

    Examples
    --------
    >>> from sklearn_gdlogreg._cli import build_parser
    >>> build_parser().parse_args(["--alpha", "0.5"]).alpha
    0.5
    """
    defaults = _estimator_defaults()
    p = argparse.ArgumentParser(
        prog="gdlogreg",
        description="Fit logistic regression by gradient descent and report on "
        "it. Without --csv: the breast-cancer demo, which saves the cost curve "
        f"to {DEMO_PLOT} in the current directory (needs matplotlib: "
        f"{PLOT_HINT}). The estimator options default to GDLogisticRegression's "
        "defaults.",
    )
    p.add_argument("--csv", metavar="PATH", help="CSV file with a header row")
    p.add_argument("--target", metavar="COL", help="name of the label column")
    p.add_argument(
        "--alpha",
        type=_alpha,
        default=defaults["alpha"],
        help="learning rate: a number > 0 (a fixed step) or 'auto' "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--solver",
        choices=["auto", "gd", "nesterov"],
        default=defaults["solver"],
        help="'auto': nesterov with the adaptive step when --alpha is auto, "
        "the lecture's gd for a number (default: %(default)s)",
    )
    p.add_argument(
        "--C",
        type=float,
        default=defaults["C"],
        help="inverse penalty, inf for none (default: %(default)s)",
    )
    p.add_argument(
        "--max-iter",
        type=int,
        default=defaults["max_iter"],
        help="most updates (default: %(default)s)",
    )
    p.add_argument(
        "--tol",
        type=float,
        default=defaults["tol"],
        help="stop when the gradient's max-norm is at most this (default: %(default)s)",
    )
    p.add_argument(
        "--cv",
        type=int,
        metavar="K",
        help="K-fold search over --alphas (default: no search)",
    )
    p.add_argument(
        "--alphas", type=_alpha, nargs="+", metavar="A", help="learning rates to try"
    )
    p.add_argument(
        "--plot",
        metavar="FILE.png",
        help=f"save the cost curve (needs matplotlib; default: none, the demo "
        f"saves {DEMO_PLOT})",
    )
    p.add_argument(
        "--progress",
        action="store_true",
        help="show a progress bar (needs scikit-learn >= 1.9 and rich; default: off)",
    )
    p.add_argument(
        "--test-size",
        type=float,
        default=0.25,
        help="held-out share (default: %(default)s)",
    )
    p.add_argument(
        "--random-state",
        type=int,
        default=0,
        help="seed of the split (default: %(default)s)",
    )
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
        Missing file, missing target column, a missing value (an empty cell,
        "NA", "nan", ...), or a non-numeric feature; the message gives the
        line (the header is line 1) and the column.

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
            reader = csv.reader(f)
            # With the line each row ends on: a quoted field may span lines.
            rows = [(reader.line_num, row) for row in reader]
    except OSError as exc:
        raise InputError(f"cannot read --csv {path!r}: {exc.strerror}") from None
    if not rows:
        raise InputError(f"--csv {path!r} is empty")
    header, rows = [h.strip() for h in rows[0][1]], rows[1:]
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
    for i, (line, row) in enumerate(rows):
        if len(row) != len(header):
            raise InputError(
                f"line {line} of {path!r} has {len(row)} fields, expected {len(header)}"
            )
        for j, value in enumerate(row):
            # An empty label is missing too; a label such as "none" is a class.
            if value.strip().lower() in (MISSING if j != t else {""}):
                raise InputError(
                    f"missing value in column {header[j]!r} on line {line} of "
                    f"{path!r} ({value!r}); drop or impute such rows first (e.g. "
                    "pandas' DataFrame.dropna() or sklearn.impute.SimpleImputer)"
                )
        for j, value in enumerate(row[:t] + row[t + 1 :]):
            try:
                X[i, j] = float(value)
            except ValueError:
                raise InputError(
                    f"feature column {names[j]!r} is not numeric (line {line}: "
                    f"{value!r}); encode it as numbers or drop it"
                ) from None
    if not np.isfinite(X).all():
        i, j = np.argwhere(~np.isfinite(X))[0]
        raise InputError(
            f"infinite value in column {names[j]!r} on line {rows[i][0]} of "
            f"{path!r}; drop or clip such rows first"
        )
    y = np.array([row[t].strip() for _, row in rows])
    if np.unique(y).size < 2:
        raise InputError(
            f"--target {target!r} has a single class ({str(y[0])!r}); "
            "classification needs at least two"
        )
    return X, y, names


def _check_extras(args):
    """Fail before any work when an option needs a package that is missing."""
    if args.plot is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise InputError(f"--plot needs matplotlib; {PLOT_HINT}") from None
    if args.progress:
        if sklearn_callback is None:
            raise InputError("--progress needs scikit-learn >= 1.9 (sklearn.callback)")
        try:  # scikit-learn's ProgressBar draws with rich
            import rich  # noqa: F401
        except ImportError:
            raise InputError(
                "--progress needs rich: python -m pip install rich"
            ) from None


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
    """GDLogisticRegressionCV over the learning rates, with clf's parameters."""
    if args.alphas is None:
        raise InputError("--cv K needs --alphas A [A ...], the learning rates to try")
    if args.cv < 2:
        raise InputError(f"--cv must be at least 2, got {args.cv}")
    accepted = GDLogisticRegressionCV().get_params()
    params = {k: v for k, v in clf.get_params().items() if k in accepted}
    if "Cs" in accepted:
        params["Cs"] = [args.C]
    return GDLogisticRegressionCV(alphas=args.alphas, cv=args.cv, **params)


def _fit(args, X_train, y_train):
    """Fit StandardScaler + the model (or the search); ``(model, seconds, notes)``."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = GDLogisticRegression(
        args.alpha,
        C=args.C,
        solver=args.solver,
        max_iter=args.max_iter,
        tol=args.tol,
    )
    last = clf if args.cv is None else _searcher(args, clf)
    model = make_pipeline(StandardScaler(), last)
    if args.progress:
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


def _check_diverged(model, notes):
    """Raise FitError when the reported model diverged.

    The estimator's divergence warning names the largest stable step 2/L; a
    --cv search's summary of the settings that diverged on some folds (scored
    on their lowest-cost iterate there) gives none and stays a note.
    """
    for note in notes:
        step = STABLE_STEP.search(note)
        if "diverged" in note and step is not None:
            alpha = _final(model).alpha  # a number: alpha="auto" never diverges
            raise FitError(
                f"gradient descent diverged with --alpha {alpha:g}: the largest "
                f"stable step for this data (standardized) is 2/L = "
                f"{step.group(1)}; use a smaller --alpha, or --alpha auto"
            )


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


def _report_search(args, search):
    """Print the search's table, and the tie for the best score if any.

    Ties are broken as GridSearchCV breaks them (``best_index_``: the first
    setting with rank 1, in the order given); the tied alphas are listed.
    """
    res = search.cv_results_
    rank = np.asarray(res["rank_test_score"])
    best = getattr(search, "best_index_", int(np.argmin(rank)))
    print(f"  {args.cv}-fold search over alpha:")
    for i, (p, m, s) in enumerate(
        zip(res["params"], res["mean_test_score"], res["std_test_score"])
    ):
        mark = "  <- chosen" if i == best else ""
        print(f"    alpha={p['alpha']:<10g} accuracy {m:.4f} +/- {s:.4f}{mark}")
    tied = np.flatnonzero(rank == rank[best])
    if tied.size > 1:
        alphas = ", ".join(f"{res['params'][i]['alpha']:g}" for i in tied)
        print(
            f"    tie: alphas {alphas} share the best mean accuracy "
            f"{res['mean_test_score'][best]:.4f}; chosen: the first in the order "
            f"given, {res['params'][best]['alpha']:g} (as GridSearchCV does)"
        )


def _report(args, what, model, seconds, scores, gap):
    gd = _final(model)
    n_train = scores["n_train"]
    print(
        f"GDLogisticRegression on {what} ({n_train} training samples, "
        f"{gd.n_features_in_} features, {gd.classes_.size} classes; "
        "StandardScaler first)"
    )
    solver = f"{args.solver!r}"
    if args.solver == "auto":
        solver += f" ({gd._solver()})"  # what "auto" ran
    print(
        f"  solver={solver}  C={args.C:g}  tol={args.tol:g}  max_iter={args.max_iter}"
    )
    if args.cv is not None:
        _report_search(args, model[-1])
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


def _save_plot(model, path):
    """Save the cost curve to ``path`` and print its absolute path.

    Without matplotlib (only possible for the demo: ``--plot`` is checked
    before the fit) say so, and how to install it.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        print(f"  cost curve not saved: it needs matplotlib; {PLOT_HINT}")
        return
    display = CostHistoryDisplay.from_estimator(_final(model))
    display.ax_.set_title("Cost J after each gradient-descent update")
    try:
        display.figure_.savefig(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot save --plot {path!r}: {exc}") from None
    print(f"  cost curve saved to {os.path.abspath(path)}")


def run(args):
    """Fit and report, as ``args`` say; raises InputError or FitError."""
    from sklearn.model_selection import train_test_split

    _check_extras(args)
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
    _check_diverged(model, notes)
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
        _save_plot(model, args.plot or DEMO_PLOT)


def main(argv=None):
    """Entry point of ``gdlogreg`` and ``python -m sklearn_gdlogreg``.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
        0 on success; 2 on bad input, 1 when the fit diverged (each after a
        one-line message on stderr).

    Examples
    --------
    >>> from sklearn_gdlogreg._cli import main
    >>> main(["--csv", "no-such-file.csv", "--target", "y"])
    2
    """
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except (InputError, FitError, ValueError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        print(f"gdlogreg: error: {message}", file=sys.stderr)
        return 1 if isinstance(exc, FitError) else 2
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early
        sys.stdout = open(os.devnull, "w")  # silence the interpreter's final flush
    return 0
