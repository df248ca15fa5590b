"""The cross-validated search behind GDLogisticRegressionCV.

Everything here is a function of explicit arguments: the data, the candidate
settings (``ParameterGrid`` order), the folds, a scorer and a
:class:`SearchSettings` holding the shared solver parameters and a factory of
unfitted ``GDLogisticRegression``. Nothing reads or sets an estimator's
attributes; :mod:`._cv` validates, calls :func:`search`, selects and refits.

Two paths give the same scores:

- :func:`batched_search`: every (setting, split) model is one column of one
  coefficient matrix, trained by
  :func:`._solvers._batched.batched_gradient_descent`;
  a split's held-out rows get zero weight in its columns (X is never copied).
- :func:`sequential_search`: one ``GDLogisticRegression`` per model, for what
  the batched path does not cover (``solver="nesterov"``, a fold missing a
  class, a fold with zero total weight).

When asked (``record_validation``), the batched path also records each
model's held-out cost at every iterate (``validation_histories``), in the
same passes over X as its training; the sequential path leaves those None.

Either returns a *result* dict (see :func:`empty_result`), which
:mod:`._cv_results` turns into GridSearchCV's ``cv_results_`` and warnings.
A diverged model is scored on its lowest-cost iterate (what
``GDLogisticRegression`` returns then); a fit that raises is recorded with
its traceback and scored ``error_score``, as ``GridSearchCV`` does.
"""

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from traceback import format_exc

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import ParameterGrid
from sklearn.preprocessing import LabelEncoder

from ._cv_results import score
from ._inputs._checks import check_penalty, class_weights, sample_weights, weighted
from ._inputs._start import start_point
from ._numerics import single_threaded_blas
from ._numerics._threads import effective_n_threads
from ._objective._batched import BatchedObjective, diagonal_preconditioner
from ._objective._coordinates import coef_and_intercept
from ._objective._penalty import strengths
from ._solvers._batched import batched_gradient_descent
from ._solvers._rules import rise_rtol, rose

# Below this many multiply-adds per product, one thread is faster (and far
# faster when the cores are shared).
_SMALL_PRODUCT = 10_000_000


@dataclass(frozen=True)
class SearchSettings:
    """The solver parameters every model of the search shares.

    ``make_estimator(**params)`` returns an unfitted ``GDLogisticRegression``
    with these parameters updated by one candidate's ``params``; it scores
    the batched models and fits the sequential ones. ``score_weight`` is the
    per-sample weight of the test scores, or None (unweighted).
    ``accuracy_scoring`` says that the scorer computes the accuracy of
    ``predict``: the batched path then scores all models at once.
    ``error_score`` is GridSearchCV's: the score of a fit or scorer that
    raises, or ``"raise"``. ``record_validation``: the batched path records
    the held-out costs (``validation_histories``).
    """

    make_estimator: Callable
    solver: str
    C: float
    l1_ratio: float
    preconditioner: object
    fit_intercept: bool
    max_iter: int
    tol: float
    init: str
    random_state: object
    class_weight: object
    score_weight: object = None
    accuracy_scoring: bool = False
    error_score: object = np.nan
    record_validation: bool = False


def candidate_grid(alphas, Cs, C):
    """The settings to try, in GridSearchCV's order (``ParameterGrid``'s).

    ``alphas`` must be finite and > 0, ``Cs`` (or ``C`` when ``Cs`` is None)
    > 0; a list of ``{"alpha": a}`` or ``{"C": c, "alpha": a}`` dicts.
    """
    alphas_arr = np.asarray(alphas, dtype=np.float64).ravel()
    Cs_arr = np.asarray(C if Cs is None else Cs, dtype=np.float64).ravel()
    if alphas_arr.size == 0 or not np.all((alphas_arr > 0) & np.isfinite(alphas_arr)):
        raise ValueError(
            "alphas must be a non-empty list of finite learning rates > 0, "
            f"got alphas={alphas!r}."
        )
    if Cs_arr.size == 0 or not np.all(Cs_arr > 0):
        raise ValueError(
            "Cs must be a non-empty list of values > 0 (np.inf allowed), "
            f"got Cs={Cs!r}."
        )
    grid = {"alpha": [float(a) for a in alphas_arr]}
    if Cs is not None:
        grid["C"] = [float(c) for c in Cs_arr]
    return list(ParameterGrid(grid))


def search(X, y, sample_weight, candidates, folds, scorer, settings):
    """Scores of every candidate on every split, batched where possible.

    ``sample_weight`` is the validated array, or None when the user gave
    none (the fits one by one then get none, as in ``GridSearchCV``).

    Returns
    -------
    result : dict
        As :func:`empty_result`, filled in.
    """
    if can_batch(y, folds, settings.solver):
        result = batched_search(
            X, y, sample_weight, candidates, folds, scorer, settings
        )
        if result is not None:
            return result
    return sequential_search(X, y, sample_weight, candidates, folds, scorer, settings)


def can_batch(y, folds, solver):
    """Batched when the plain update applies and every fold sees all classes.

    (``solver="auto"`` is the plain update for the numeric alphas searched.)
    """
    if solver not in ("auto", "gd"):
        return False
    n_classes = np.unique(y).size
    return n_classes >= 2 and all(np.unique(y[tr]).size == n_classes for tr, _ in folds)


def empty_result(n_cand, n_splits):
    """The result of a search before any fit: NaN scores, no histories.

    ``fit_errors[i][k]`` is the traceback of a fit that raised, else None.
    ``validation_histories[i][k]``: the held-out cost at the iterates of
    ``histories[i][k]`` (batched path only; else None).
    """
    return {
        "scores": np.full((n_cand, n_splits), np.nan),
        "fit_errors": [[None] * n_splits for _ in range(n_cand)],
        "fit_time": np.zeros((n_cand, n_splits)),
        "score_time": np.zeros((n_cand, n_splits)),
        "diverged": np.zeros((n_cand, n_splits), dtype=bool),
        "histories": [[None] * n_splits for _ in range(n_cand)],
        "validation_histories": [[None] * n_splits for _ in range(n_cand)],
        "n_unconverged": 0,
    }


# ------------------------------------------------------------ batched path
def batched_search(X, y, sample_weight, candidates, folds, scorer, settings):
    """Every (setting, split) model trained together; None if it cannot be.

    None too when a fold's weights or a candidate's penalty are refused
    (some fits would raise): the sequential path then records each failure,
    as GridSearchCV does for ``error_score``.

    Column ``j`` of the batch is candidate ``j // n_splits`` on split
    ``j % n_splits``. BLAS gets one thread throughout: the products of small
    problems are faster so (far faster when the cores are shared), and the
    row blocks of large dense X are shared among the objective's OpenMP
    threads, each calling BLAS.
    """
    encoder = LabelEncoder()
    y_enc = encoder.fit_transform(y)
    classes = encoder.classes_
    sw = np.ones(y.shape) if sample_weight is None else sample_weight
    try:
        s_folds = np.column_stack(
            [
                fold_weights(y, y_enc, classes, sw, train, settings.class_weight)
                for train, _ in folds
            ]
        )
        S = s_folds.sum(axis=0)
        check_penalty(min(p.get("C", settings.C) for p in candidates), S.min())
    except ValueError:
        return None
    v_folds = None
    if settings.record_validation:
        v_folds = held_out_weights(y, y_enc, classes, sw, folds, settings.class_weight)
    n_threads = _n_threads(X, len(candidates) * len(folds))
    with single_threaded_blas():
        start = time.perf_counter()
        objective, step = _batched_objective(
            X, y_enc, classes.size, s_folds / S, S, candidates, settings, n_threads,
            v_folds,
        )  # fmt: skip
        res = _run_batched(objective, step, settings)
        out = empty_result(len(candidates), len(folds))
        out["fit_time"][:] = (time.perf_counter() - start) / step.size
        out["n_unconverged"] = int(np.sum(~res.converged & ~res.diverged))
        out["diverged"][:] = res.diverged.reshape(len(candidates), len(folds))
        for j, history in enumerate(res.cost_history):
            out["histories"][j // len(folds)][j % len(folds)] = history
        for j, history in enumerate(res.held_out_history or ()):
            out["validation_histories"][j // len(folds)][j % len(folds)] = history
        w_all, b_all = objective.to_original(res.theta)
        if settings.accuracy_scoring:
            _batched_accuracy(out, X, y, classes, w_all, b_all, folds, settings)
            return out

        def model(i, j):  # column j (candidate i) as a fitted GDLogisticRegression
            est = settings.make_estimator(**candidates[i])
            est = fitted_model(est, classes, w_all[:, j], b_all[j])
            est.n_iter_, est.cost_history_ = int(res.n_iter[j]), res.cost_history[j]
            return est

        # Diverged models too: on their lowest-cost iterate, as returned.
        tests = [_test_part(X, y, settings.score_weight, test) for _, test in folds]
        for i, k in np.ndindex(out["scores"].shape):
            est = model(i, i * len(folds) + k)
            score(out, i, k, est, scorer, *tests[k], settings.error_score)
    return out


def _batched_accuracy(out, X, y, classes, w_all, b_all, folds, settings):
    """Accuracy of every model at once: one product per split.

    What ``GDLogisticRegression.score`` computes (``predict`` takes the
    positive class where ``X @ coef_.T + intercept_ > 0``, else the argmax),
    without building one estimator per model.
    """
    n_splits = len(folds)
    for k, (_, test) in enumerate(folds):
        start = time.perf_counter()
        X_test, y_test, w_test = _test_part(X, y, settings.score_weight, test)
        w, b = w_all[:, k::n_splits], b_all[k::n_splits]
        Z = np.asarray(X_test @ w.reshape(w.shape[0], -1)).reshape(-1, *b.shape) + b
        labels = (Z[:, :, 0] > 0).astype(int) if classes.size == 2 else Z.argmax(2)
        correct = classes[labels] == y_test[:, None]
        out["scores"][:, k] = np.average(correct, axis=0, weights=w_test)
        out["score_time"][:, k] = (time.perf_counter() - start) / len(b)


def _batched_objective(
    X, y_enc, n_classes, s_norm, S, candidates, settings, n_threads, v_norm=None
):
    """The BatchedObjective of all models, and their learning rates.

    ``v_norm`` (n_samples, n_splits): each split's normalised held-out
    weights, or None (no held-out costs).
    """
    n_splits = S.size
    split_of = np.tile(np.arange(n_splits), len(candidates))
    C = np.repeat([p.get("C", settings.C) for p in candidates], n_splits)
    l2, l1 = strengths(C, settings.l1_ratio, S[split_of])
    weights = np.ascontiguousarray(s_norm.astype(X.dtype)[:, split_of])
    problem = dict(
        n_classes=n_classes,
        l2=l2,
        l1=l1,
        fit_intercept=settings.fit_intercept,
        n_threads=n_threads,
    )
    if v_norm is not None:
        problem["held_out"] = np.ascontiguousarray(v_norm.astype(X.dtype)[:, split_of])
    if settings.preconditioner == "diagonal":
        problem["mean"], problem["scale"], problem["grad_scale"] = (
            diagonal_preconditioner(
                X,
                weights,
                problem["l2"],
                n_classes=n_classes,
                fit_intercept=settings.fit_intercept,
            )
        )
    y_fit = (y_enc == 1).astype(X.dtype) if n_classes == 2 else y_enc
    step = np.repeat([p["alpha"] for p in candidates], n_splits)
    return BatchedObjective(X, y_fit, weights, **problem), step


def _run_batched(objective, step, settings):
    """Batched gradient descent from every model's initial point."""
    w0, b0 = initial_coef(
        objective.n_features,
        objective.n_out,
        objective.dtype,
        step.size,
        init=settings.init,
        random_state=settings.random_state,
        fit_intercept=settings.fit_intercept,
    )
    return batched_gradient_descent(
        objective,
        objective.from_original(w0, b0),
        step=step,
        max_iter=settings.max_iter,
        tol=settings.tol,
    )


def _n_threads(X, n_models):
    """OpenMP threads for the row blocks, for products large enough.

    As many as OpenMP may use, at most the usable CPUs (see
    :func:`._numerics._threads.effective_n_threads`).
    """
    if sp.issparse(X) or X.shape[0] * X.shape[1] * n_models < _SMALL_PRODUCT:
        return 1
    return effective_n_threads()


def fold_weights(y, y_enc, classes, sw, train, class_weight):
    """``s_i`` of GDLogisticRegression fitted on ``train`` (0 elsewhere).

    Raises ValueError where that fit would (weights it refuses).
    """
    s = np.zeros_like(sw)
    s[train] = sample_weights(
        sw[train], y[train], y_enc[train], classes, sw[train],
        class_weight=class_weight,
        C=np.inf,  # each candidate's C: checked by the caller
    )  # fmt: skip
    return s


def held_out_weights(y, y_enc, classes, sw, folds, class_weight):
    """Each split's held-out weights, normalised: shape (n_samples, n_splits).

    Column ``k``: on split ``k``'s test rows, the sample weight times the
    class weight of the fold's fit (``"balanced"``: from its training rows,
    as :func:`fold_weights`), divided by their sum; 0 elsewhere. A column
    whose sum is 0 or not finite is NaN (no held-out cost).
    """
    v = np.zeros((sw.size, len(folds)))
    for k, (train, test) in enumerate(folds):
        v[test, k] = sw[test]
        if class_weight is not None:
            cw = class_weights(
                class_weight, classes=classes, y=y[train], sample_weight=sw[train]
            )
            v[test, k] = weighted(sw[test], cw, y_enc[test])
    with np.errstate(invalid="ignore", over="ignore"):
        return v / v.sum(axis=0)


def initial_coef(d, k, dtype, n_models, *, init, random_state, fit_intercept):
    """Every model's start ``(w, b)``: GDLogisticRegression's, repeated."""
    w, b = start_point(
        d, k, dtype, init=init, random_state=random_state, fit_intercept=fit_intercept
    )
    return np.repeat(w[:, None], n_models, axis=1), np.repeat(b[None], n_models, axis=0)


def fitted_model(est, classes, w, b):
    """A GDLogisticRegression carrying one batched model's ``(w, b)``."""
    est.n_features_in_ = w.shape[0]
    est.classes_ = classes
    est.coef_, est.intercept_ = coef_and_intercept(w, b)
    est.alpha_ = float(est.alpha)
    return est


# --------------------------------------------------------- sequential path
def sequential_search(X, y, sample_weight, candidates, folds, scorer, settings):
    """One GDLogisticRegression per (setting, split): the general path.

    As GridSearchCV's ``_fit_and_score``: a fit that raises re-raises when
    ``error_score="raise"``, else is scored ``error_score`` and its traceback
    kept for :func:`._cv_results.report_fit_failures`.
    """
    out = empty_result(len(candidates), len(folds))
    error_score = settings.error_score
    for (i, params), (k, (train, test)) in itertools.product(
        enumerate(candidates), enumerate(folds)
    ):
        est = settings.make_estimator(**params)
        fit_weight = None if sample_weight is None else sample_weight[train]
        start = time.perf_counter()
        try:
            est.fit(X[train], y[train], sample_weight=fit_weight)
        except Exception:
            if error_score == "raise":
                raise
            out["fit_time"][i, k] = time.perf_counter() - start
            out["scores"][i, k] = error_score
            out["fit_errors"][i][k] = format_exc()
            continue
        out["fit_time"][i, k] = time.perf_counter() - start
        J = est.cost_history_
        out["histories"][i][k] = J
        # For the summary only: a diverged model is scored as returned.
        out["diverged"][i, k] = rose(J[-1], J[0], rise_rtol(X.dtype))
        test_part = _test_part(X, y, settings.score_weight, test)
        score(out, i, k, est, scorer, *test_part, error_score)
    return out


def _test_part(X, y, score_weight, test):
    """A split's test rows: ``X``, ``y`` and the score weights (or None)."""
    return X[test], y[test], None if score_weight is None else score_weight[test]
