"""The solvers ``bench_peers.py`` compares, each mapped onto the same objective.

    J(w, b) = mean log-loss + ||w||^2 / (2 C n),  intercept b not penalised,

scikit-learn's ``LogisticRegression(C=C)``. Every solver is a :class:`Solver`:
a fit at a tolerance (its own stopping knob, the one ``bench_peers.py``
searches), the ``(w, b)`` of the fitted model with class 1 positive, and a
reason to skip the data where it cannot run. Each peer's mapping of its
regularisation onto ``J`` is written next to it with its source
(``shared/peers-mapping.md`` of the steering notes, checked against each
package's docstrings); :func:`check_mapping` fits each one tightly on a
small problem and fails loudly unless it reaches ``J*`` to a relative 1e-9.

Peers are imported only inside their fits: a peer that is not installed is
reported as such (:func:`installed`) and never imported.
"""

import importlib.util
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from _data import j_star, objective
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import GDLogisticRegression
from sklearn_gdlogreg._objective._coordinates import cholesky_applies

C = 1.0
# Newton and IRLS solvers form a dense n_features x n_features Hessian (D3's
# 20,000 features: 3.2 GB a copy): skipped above this many features.
NEWTON_MAX_FEATURES = 5_000


def _threads():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Solver:
    """One row of the comparison.

    ``fit(X, y, tol)`` returns a fitted model (the call that is timed;
    ``X, y`` are what ``prepare(X, y)`` returns, when given, a conversion
    into the peer's own data format made once, untimed);
    ``coef(model)`` its ``(w, b)`` with class 1 positive; ``skip(X)`` a
    reason not to run on ``X``, or None; ``setting(X)`` the row's label on
    ``X``; ``requires`` the module to look for (None: always present);
    ``peer`` False for our own rows; ``knob`` the name of the searched
    tolerance in the solver's own API; ``mapping`` how its parameters give
    ``J`` (None for scikit-learn's own solvers, which define it).
    """

    name: str
    fit: Callable
    coef: Callable
    requires: str | None = None
    peer: bool = True
    skip: Callable = lambda X: None
    setting: Callable | None = None
    knob: str = "tol"
    mapping: str | None = None
    prepare: Callable | None = None

    def data(self, X, y):
        return self.prepare(X, y) if self.prepare is not None else (X, y)

    def label(self, X):
        return self.setting(X) if self.setting is not None else self.name


def installed(solver):
    """Whether the solver's package can be imported (without importing it)."""
    return solver.requires is None or importlib.util.find_spec(solver.requires)


def _sklearn_coef(model):
    return np.ravel(model.coef_), float(np.ravel(model.intercept_)[0])


def _too_wide(X):
    if X.shape[1] > NEWTON_MAX_FEATURES:
        return f"skipped: dense {X.shape[1]:,} x {X.shape[1]:,} Hessian"
    return None


# --- ours: J exactly (GDLogisticRegression's C is LogisticRegression's) ---


def _ours_default(X, y, tol):
    return GDLogisticRegression(C=C, tol=tol).fit(X, y)


def _best_is_cholesky(X):
    # The package's own test: dense X, L2, at most 2,000 features.
    return cholesky_applies(X, 0.0)


def _ours_best(X, y, tol):
    # The best documented setting (user guide, benchmarks/README.md P4, P7):
    # whitened coordinates where dense, the plain step on sparse data.
    if _best_is_cholesky(X):
        est = GDLogisticRegression(
            C=C, solver="nesterov", preconditioner="cholesky", tol=tol
        )
    elif sp.issparse(X):
        est = GDLogisticRegression(C=C, solver="gd", tol=tol)
    else:
        est = GDLogisticRegression(C=C, solver="nesterov", tol=tol)
    return est.fit(X, y)


def _ours_best_setting(X):
    if _best_is_cholesky(X):
        return 'ours, best documented (solver="nesterov", preconditioner="cholesky")'
    if sp.issparse(X):
        return 'ours, best documented (solver="gd", sparse X)'
    return 'ours, best documented (solver="nesterov")'


# --- scikit-learn: the definition of J ---


def _sklearn(solver, max_iter):
    def fit(X, y, tol):
        return LogisticRegression(C=C, solver=solver, tol=tol, max_iter=max_iter).fit(
            X, y
        )

    return fit


# --- scikit-learn-intelex: C=C. Source: daal4py sklearn/linear_model/
# logistic_path.py (the L2 term is 1/(2 C n) of the mean loss). Only lbfgs is
# accelerated (newton-cg with SKLEARNEX_PREVIEW=1); sparse X falls back to
# stock scikit-learn. ---


def _sklearnex(X, y, tol):
    from sklearnex.linear_model import LogisticRegression as IntelLR

    return IntelLR(C=C, solver="lbfgs", tol=tol, max_iter=1000).fit(X, y)


# --- glum: alpha = 1/(C n), l1_ratio=0. Source: the class docstring of
# GeneralizedLinearRegressor, _glm.py and _distribution.py: with the sample
# weights normalised to sum 1 the objective is 1/(2 S) deviance
# + alpha/2 ||w||^2, and the binomial deviance is 2 x the log-loss. Its
# default solver for L2 is IRLS ("irls-ls", a dense Hessian, skipped where d
# is large); its lbfgs in a second row. ---


def _glum(solver):
    def fit(X, y, tol):
        from glum import GeneralizedLinearRegressor

        return GeneralizedLinearRegressor(
            family="binomial",
            alpha=1.0 / (C * X.shape[0]),
            l1_ratio=0.0,
            solver=solver,
            gradient_tol=tol,
            max_iter=1000,
        ).fit(X, y)

    return fit


def _glum_coef(model):
    return np.ravel(model.coef_), float(model.intercept_)


# --- skglm: alpha = 1/(C n), l1_ratio=0. Source: datafits/single_task.py
# (Logistic = mean log(1 + e^(-y Xw))) and penalties L1_plus_L2
# (alpha (1 - l1_ratio)/2 ||w||^2). Its pure L2 penalty works only with its
# LBFGS solver, which fits no intercept: SparseLogisticRegression with
# l1_ratio=0 (Anderson-accelerated coordinate descent) instead. ---


def _skglm(X, y, tol):
    from skglm import SparseLogisticRegression

    return SparseLogisticRegression(
        alpha=1.0 / (C * X.shape[0]),
        l1_ratio=0.0,
        tol=tol,
        max_iter=100,
        max_epochs=100_000,
        fit_intercept=True,
    ).fit(X, y)


# --- cyanure: lambda_1 = 1/(C n), penalty="l2" (psi(w) = lambda_1/2 ||w||^2
# on the mean loss), intercept not regularised. Source: its estimators.py
# docstrings. tol is its relative duality gap. ---


def _cyanure(X, y, tol):
    from cyanure.estimators import LogisticRegression as CyanureLR

    with warnings.catch_warnings():  # it warns when max_iter stops it
        warnings.simplefilter("ignore")
        return CyanureLR(
            penalty="l2",
            lambda_1=1.0 / (C * X.shape[0]),
            fit_intercept=True,
            tol=tol,
            max_iter=1000,
            verbose=False,
        ).fit(X, y)


# --- liblinear-multicore: -s 0 -c C -B 1 -R. Source: liblinearutil.train's
# docstring: -s 0 minimises 1/2 ||w||^2 + C sum log-loss (trust-region
# Newton in the primal), which is n C J; -B 1 appends a constant feature for
# the bias and -R leaves it unregularised. -e is its tolerance
# (|f'(w)| <= eps min(pos, neg)/n |f'(0)|), -m its threads. Its Python
# binding converts X into its own sparse format in a Python loop (slower than
# the fit on dense data): made once, untimed, so its row is the solver's
# own time. ---


def _liblinear_problem(X, y):
    from liblinear.liblinearutil import problem

    prob = problem(y.astype(np.float64), X)
    prob.set_bias(1)  # -B 1's constant feature, written once here
    return prob, None


def _liblinear(prob, _, tol):
    from liblinear.liblinearutil import parameter, train

    return train(prob, parameter(f"-s 0 -c {C} -B 1 -R -e {tol} -m {_threads()} -q"))


def _liblinear_coef(model):
    w, b = model.get_decfun()
    w, b = np.asarray(w), float(b)
    sign = 1.0 if model.get_labels()[0] == 1 else -1.0  # decision for label 0
    return sign * w, sign * b


SOLVERS = (
    Solver(
        "ours, default (GDLogisticRegression())",
        _ours_default,
        _sklearn_coef,
        peer=False,
        mapping="C=C",
    ),
    Solver(
        "ours, best documented",
        _ours_best,
        _sklearn_coef,
        peer=False,
        setting=_ours_best_setting,
        mapping="C=C",
    ),
    Solver("scikit-learn lbfgs", _sklearn("lbfgs", 1000), _sklearn_coef),
    Solver(
        "scikit-learn newton-cholesky",
        _sklearn("newton-cholesky", 100),
        _sklearn_coef,
        skip=_too_wide,
    ),
    Solver("scikit-learn sag", _sklearn("sag", 1000), _sklearn_coef),
    Solver("scikit-learn saga", _sklearn("saga", 1000), _sklearn_coef),
    Solver(
        "scikit-learn-intelex lbfgs",
        _sklearnex,
        _sklearn_coef,
        requires="sklearnex",
        setting=lambda X: (
            "scikit-learn-intelex lbfgs"
            + (" (sparse: stock scikit-learn)" if sp.issparse(X) else "")
        ),
        mapping="C=C",
    ),
    Solver(
        "glum irls-ls",
        _glum("irls-ls"),
        _glum_coef,
        requires="glum",
        skip=_too_wide,
        knob="gradient_tol",
        mapping="alpha=1/(C n), l1_ratio=0",
    ),
    Solver(
        "glum lbfgs",
        _glum("lbfgs"),
        _glum_coef,
        requires="glum",
        knob="gradient_tol",
        mapping="alpha=1/(C n), l1_ratio=0",
    ),
    Solver(
        "skglm SparseLogisticRegression",
        _skglm,
        _sklearn_coef,
        requires="skglm",
        mapping="alpha=1/(C n), l1_ratio=0",
    ),
    Solver(
        "cyanure",
        _cyanure,
        _sklearn_coef,
        requires="cyanure",
        mapping='lambda_1=1/(C n), penalty="l2"',
    ),
    Solver(
        "liblinear-multicore -s 0",
        _liblinear,
        _liblinear_coef,
        requires="liblinear",
        knob="-e",
        mapping="-c C -B 1 -R",
        prepare=_liblinear_problem,
    ),
)


def check_mapping(tol=1e-12, max_gap=1e-9):
    """Fit every installed mapped solver tightly on breast cancer; gap per name.

    The solvers with a ``mapping`` (ours and the peers outside scikit-learn)
    at ``tol``, against newton-cholesky's J* (standardized breast cancer,
    569 x 30). Raises AssertionError naming those whose relative gap
    exceeds ``max_gap``: a wrong mapping of the regularisation, of the
    intercept or of the class order shows as a gap of 1e-3 or more.
    """
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    J_star = j_star(X, y)
    gaps = {}
    for solver in SOLVERS:
        if solver.mapping is None or not installed(solver):
            continue
        with warnings.catch_warnings():  # skglm's numba performance notes
            warnings.simplefilter("ignore")
            w, b = solver.coef(solver.fit(*solver.data(X, y), tol))
        gaps[solver.name] = (objective(X, y, w, b, C) - J_star) / J_star
    wrong = {name: gap for name, gap in gaps.items() if abs(gap) > max_gap}
    assert not wrong, f"mapping onto J off (relative gap > {max_gap:g}): {wrong}"
    return gaps
