"""GDLogisticRegressionCV against its oracle, GridSearchCV(GDLogisticRegression)."""

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    make_classification,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_gdlogreg import GDLogisticRegression, GDLogisticRegressionCV
from sklearn_gdlogreg._compat import SKLEARN_VERSION

# Per-fold scores must agree to 1e-6: each batched column runs the same
# updates as a separate fit, differing only in floating-point summation order
# (~1e-13 on the coefficients after 100 steps), far from flipping a label.
SCORE_ATOL = 1e-6


def _iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _three_classes():
    X, y = make_classification(
        300, 6, n_informative=4, n_redundant=0, n_classes=3, random_state=0
    )
    return X, y


def _breast_cancer_float32():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X).astype(np.float32), y


def _sparse():
    rng = np.random.RandomState(0)
    X = sp.random(300, 40, density=0.1, format="csr", random_state=rng)
    y = (X @ rng.normal(size=40) + 0.1 * rng.normal(size=300) > 0).astype(int)
    return X, y


def _grid_search(X, y, alphas, cv, sample_weight=None, **params):
    search = GridSearchCV(GDLogisticRegression(**params), {"alpha": alphas}, cv=cv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return search.fit(X, y, sample_weight=sample_weight)


def _assert_same_search(ours, theirs, n_splits):
    assert ours.best_index_ == theirs.best_index_
    assert ours.alpha_ == theirs.best_params_["alpha"]
    for k in range(n_splits):
        key = f"split{k}_test_score"
        np.testing.assert_allclose(
            ours.cv_results_[key], theirs.cv_results_[key], atol=SCORE_ATOL
        )
    np.testing.assert_array_equal(
        ours.cv_results_["rank_test_score"], theirs.cv_results_["rank_test_score"]
    )
    assert ours.cv_results_["params"] == theirs.cv_results_["params"]


CASES = {
    "breast_cancer": (None, [0.01, 0.1, 1.0, 3.0], {}),
    "iris": (_iris, [0.03, 0.3, 3.0], {}),
    "three_classes": (_three_classes, [0.01, 0.1, 1.0], {"l1_ratio": 0.5}),
    "sparse": (_sparse, [0.3, 1.0, 3.0], {"C": np.inf}),
    "float32": (_breast_cancer_float32, [0.03, 0.3, 3.0], {}),
    "balanced": (None, [0.1, 1.0], {"class_weight": "balanced"}),
    "no_intercept": (_iris, [0.1, 1.0], {"fit_intercept": False}),
    "random_init": (_iris, [0.1, 1.0], {"init": "random", "random_state": 0}),
}


def _set_layout(monkeypatch, layout):
    """How dense X's rows are processed (each layout must give the same).

    "whole": as for small data, every row and every model at once, held-out
    rows weighted 0; "grouped": as for large data, rows grouped by the
    models training on them; "grouped_threads": that, cut in many row
    blocks shared among 2 threads; "fallback": too many groups, so one.
    """
    if layout != "whole":
        monkeypatch.setattr(
            "sklearn_gdlogreg._numerics._batched_passes._SMALL_PRODUCT", 0
        )
    if layout == "grouped_threads":
        monkeypatch.setattr(
            "sklearn_gdlogreg._numerics._batched_passes._BLOCK_ROWS", 64
        )
        monkeypatch.setattr("sklearn_gdlogreg._cv_search._n_threads", lambda X, m: 2)
    if layout == "fallback":
        monkeypatch.setattr("sklearn_gdlogreg._numerics._batched_passes._MAX_GROUPS", 1)


@pytest.mark.parametrize("layout", ["whole", "grouped", "grouped_threads"])
@pytest.mark.parametrize("case", list(CASES))
def test_same_scores_and_choice_as_grid_search(
    case, layout, breast_cancer, monkeypatch
):
    _set_layout(monkeypatch, layout)
    make_data, alphas, params = CASES[case]
    X, y = breast_cancer if make_data is None else make_data()
    cv = StratifiedKFold(4, shuffle=True, random_state=0)
    params = {"max_iter": 60, "tol": 1e-5, **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = GDLogisticRegressionCV(alphas, cv=cv, **params).fit(X, y)
    theirs = _grid_search(X, y, alphas, cv, **params)
    _assert_same_search(ours, theirs, 4)
    # The refitted model is GDLogisticRegression's on all data.
    np.testing.assert_allclose(ours.coef_, theirs.best_estimator_.coef_, rtol=1e-10)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


@pytest.mark.parametrize("layout", ["whole", "grouped", "fallback"])
@pytest.mark.parametrize("weighted", [True, False, "zeros"])
def test_fold_models_match_separate_fits(
    breast_cancer_raw, weighted, layout, monkeypatch
):
    # Unscaled data with the diagonal preconditioner, with and without sample
    # weights (the unweighted loss sums logs as logs of products; zero
    # weights: rows that no model trains on): each batched model's cost
    # history is that of a fit on its training rows.
    _set_layout(monkeypatch, layout)
    X, y = breast_cancer_raw
    low = 0 if weighted == "zeros" else 1
    sw = np.random.RandomState(0).randint(low, 4, size=y.size).astype(float)
    sw = sw if weighted else None
    folds = list(StratifiedKFold(3).split(X, y))
    params = dict(max_iter=30, tol=0.0, preconditioner="diagonal", C=10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = GDLogisticRegressionCV([0.5, 1.0], cv=folds, **params)
        ours.fit(X, y, sample_weight=sw)
        for i, alpha in enumerate([0.5, 1.0]):
            for k, (train, _) in enumerate(folds):
                ref = GDLogisticRegression(alpha=alpha, **params)
                ref.fit(
                    X[train], y[train], sample_weight=None if sw is None else sw[train]
                )
                # J of the same iterates, summed in another order.
                np.testing.assert_allclose(
                    ours.cost_histories_[i][k], ref.cost_history_, rtol=1e-10
                )
    if SKLEARN_VERSION >= (1, 9):  # GridSearchCV weights test scores since 1.9
        theirs = _grid_search(X, y, [0.5, 1.0], folds, sample_weight=sw, **params)
        _assert_same_search(ours, theirs, 3)


def _cut_tracebacks(text):
    """``text`` with each traceback in it reduced to its last line."""
    return re.sub(r"Traceback \(most recent call last\):\n(?:[ \t].*\n)*", "", text)


def _fit_recording(search, X, y):
    """Fit ``search``; return it, its warnings and its ConvergenceWarnings.

    Each warning but the ConvergenceWarnings (one per fit in GridSearchCV,
    a summary in ours) as ``(category, message)``, every traceback cut to
    its last line (the exception): ours and GridSearchCV's stacks differ.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(X, y)
    convergence = [issubclass(w.category, ConvergenceWarning) for w in caught]
    return (
        search,
        [
            (w.category, _cut_tracebacks(str(w.message)))
            for w, conv in zip(caught, convergence)
            if not conv
        ],
        [str(w.message) for w, conv in zip(caught, convergence) if conv],
    )


def _assert_same_cv_results(ours, theirs):
    """Same keys, settings, scores (NaN where NaN), ranks and choice.

    Scores are compared exactly: both fit the same iterates up to summation
    order (~1e-13 relative), and a score is a fraction of correct predictions
    (or the error_score), which such rounding changes only where a decision
    value lies within ~1e-13 of a tie -- none does on these data.
    """
    assert set(ours.cv_results_) == set(theirs.cv_results_)
    assert ours.cv_results_["params"] == theirs.cv_results_["params"]
    for key, value in theirs.cv_results_.items():
        if key.startswith(("split", "mean_test", "std_test", "rank", "param_")):
            np.testing.assert_array_equal(ours.cv_results_[key], value, err_msg=key)
    assert ours.best_index_ == theirs.best_index_
    assert ours.best_params_ == theirs.best_params_
    np.testing.assert_array_equal(ours.best_score_, theirs.best_score_)


@pytest.mark.parametrize("solver", ["gd", "nesterov"])
def test_diverged_settings_scored_as_grid_search(solver):
    # The case: on raw digits, alpha=0.03 and 0.1 diverge on every
    # fold. GridSearchCV scores the lowest-cost iterate that
    # GDLogisticRegression returns then (with a ConvergenceWarning), and so
    # must the CV: batched ("gd") or fitted one by one ("nesterov").
    X, y = load_digits(return_X_y=True)
    alphas = [1e-3, 1e-2, 0.03, 0.1]
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    params = dict(max_iter=50, solver=solver)
    ours = GDLogisticRegressionCV(alphas, cv=cv, **params)
    ours, ours_warnings, ours_convergence = _fit_recording(ours, X, y)
    theirs = GridSearchCV(GDLogisticRegression(**params), {"alpha": alphas}, cv=cv)
    theirs, their_warnings, their_convergence = _fit_recording(theirs, X, y)
    assert np.isfinite(theirs.cv_results_["mean_test_score"]).all()
    _assert_same_cv_results(ours, theirs)
    assert ours_warnings == their_warnings == []
    # One summary of the divergences, for the per-fit warnings.
    assert any("diverged" in m for m in their_convergence)
    assert sum("diverged on some folds" in m for m in ours_convergence) == 1
    np.testing.assert_allclose(ours.coef_, theirs.best_estimator_.coef_, rtol=1e-10)


def _flaky_scorer(estimator, X, y):
    """Accuracy, except for alpha=0.1 on the 189-row test fold: an error."""
    if estimator.alpha == 0.1 and X.shape[0] == 189:
        raise RuntimeError("this scorer fails on purpose")
    return estimator.score(X, y)


# Failing fits: with weights (here class weights), GDLogisticRegression
# refuses C=1e-160 on every fold, its penalty 1/(C S) beyond 1.3e154
# ("penalty"); a training fold of one class fails for every setting
# ("one_class_fold"); "both": every fit of C=1e-160 and those of that fold
# (C=1 first: chosen when all mean scores are NaN, its refit succeeds).
_UNIT_WEIGHTS = {"class_weight": {0: 1.0, 1: 1.0}}
FAILURES = {
    "scorer": dict(scoring=_flaky_scorer),
    "penalty": dict(Cs=[1.0, 1e-160], **_UNIT_WEIGHTS),
    "one_class_fold": dict(one_class_fold=True),
    "both": dict(Cs=[1.0, 1e-160], one_class_fold=True, **_UNIT_WEIGHTS),
}


def _failing_search(breast_cancer, failure, solver, error_score):
    """Ours and GridSearchCV's search, set to fail as ``FAILURES[failure]``."""
    X, y = breast_cancer
    folds = list(KFold(3, shuffle=True, random_state=0).split(X))  # 190, 190, 189
    spec = dict(FAILURES[failure])
    if spec.pop("one_class_fold", False):
        rest = np.flatnonzero(y == 1)
        folds.append((np.flatnonzero(y == 0), rest))
    grid = {"alpha": [0.01, 0.1]}
    if "Cs" in spec:
        grid["C"] = spec["Cs"]
    params = dict(max_iter=30, solver=solver)
    if "class_weight" in spec:
        params["class_weight"] = spec.pop("class_weight")
    ours = GDLogisticRegressionCV(
        grid["alpha"], cv=folds, error_score=error_score, **spec, **params
    )
    theirs = GridSearchCV(
        GDLogisticRegression(**params),
        grid,
        cv=folds,
        scoring=spec.get("scoring"),
        error_score=error_score,
    )
    return ours, theirs


@pytest.mark.parametrize("error_score", [np.nan, 0.0])
@pytest.mark.parametrize("solver", ["gd", "nesterov"])
@pytest.mark.parametrize("failure", list(FAILURES))
def test_failures_scored_as_grid_search(breast_cancer, failure, solver, error_score):
    # A fit or scorer that raises is scored error_score, with GridSearchCV's
    # warnings (FitFailedWarning for fits, UserWarning for scorers, and one
    # for non-finite mean scores); the choice and refit follow.
    ours, theirs = _failing_search(breast_cancer, failure, solver, error_score)
    X, y = breast_cancer
    theirs, their_warnings, _ = _fit_recording(theirs, X, y)
    ours, ours_warnings, _ = _fit_recording(ours, X, y)
    assert their_warnings  # the case does fail somewhere
    _assert_same_cv_results(ours, theirs)
    assert ours_warnings == their_warnings
    np.testing.assert_allclose(ours.coef_, theirs.best_estimator_.coef_, rtol=1e-10)


@pytest.mark.parametrize("solver", ["gd", "nesterov"])
@pytest.mark.parametrize("failure", list(FAILURES))
def test_error_score_raise_raises_as_grid_search(breast_cancer, failure, solver):
    ours, theirs = _failing_search(breast_cancer, failure, solver, "raise")
    X, y = breast_cancer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.raises(Exception) as their_error:
            theirs.fit(X, y)
        message = re.escape(str(their_error.value))
        with pytest.raises(type(their_error.value), match=message):
            ours.fit(X, y)
    assert not hasattr(ours, "cv_results_")  # left as before the fit


@pytest.mark.parametrize("solver", ["gd", "nesterov"])
def test_all_fits_failing_raises_as_grid_search(breast_cancer, solver):
    # Every fit fails (the penalty overflows): GridSearchCV raises, whatever
    # error_score, and so does the CV, with the same message.
    X, y = breast_cancer
    params = dict(max_iter=30, solver=solver, C=1e-160, **_UNIT_WEIGHTS)
    theirs = GridSearchCV(GDLogisticRegression(**params), {"alpha": [0.01, 0.1]}, cv=3)
    with pytest.raises(ValueError, match="All the 6 fits failed") as their_error:
        theirs.fit(X, y)
    ours = GDLogisticRegressionCV([0.01, 0.1], cv=3, **params)
    with pytest.raises(ValueError) as our_error:
        ours.fit(X, y)
    assert _cut_tracebacks(str(our_error.value)) == _cut_tracebacks(
        str(their_error.value)
    )


@pytest.mark.parametrize("solver", ["gd", "nesterov"])
def test_every_score_failing_is_no_error(breast_cancer, solver):
    # Only failed *fits* make GridSearchCV raise: a scorer failing everywhere
    # gives NaN scores, rank 1 for all, the first setting chosen and refitted.
    X, y = breast_cancer

    def failing_scorer(estimator, X, y):
        raise RuntimeError("no score")

    params = dict(max_iter=30, solver=solver)
    ours = GDLogisticRegressionCV([0.01, 0.1], cv=3, scoring=failing_scorer, **params)
    ours, ours_warnings, _ = _fit_recording(ours, X, y)
    theirs = GridSearchCV(
        GDLogisticRegression(**params),
        {"alpha": [0.01, 0.1]},
        cv=3,
        scoring=failing_scorer,
    )
    theirs, their_warnings, _ = _fit_recording(theirs, X, y)
    _assert_same_cv_results(ours, theirs)
    assert np.isnan(ours.best_score_) and ours.alpha_ == 0.01
    assert ours_warnings == their_warnings
    np.testing.assert_allclose(ours.coef_, theirs.best_estimator_.coef_, rtol=1e-10)


def test_cv_results_format_matches_grid_search(breast_cancer):
    X, y = breast_cancer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = GDLogisticRegressionCV([0.1, 1.0], Cs=[0.1, 1.0], cv=3, max_iter=20)
        ours.fit(X, y)
    theirs = GridSearchCV(
        GDLogisticRegression(max_iter=20), {"alpha": [0.1, 1.0], "C": [0.1, 1.0]}, cv=3
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs.fit(X, y)
    assert set(ours.cv_results_) == set(theirs.cv_results_)
    _assert_same_search(ours, theirs, 3)
    assert ours.C_ == theirs.best_params_["C"]
    assert len(ours.cost_histories_) == 4 and len(ours.cost_histories_[0]) == 3


def test_pipeline(breast_cancer_raw):
    X, y = breast_cancer_raw
    pipe = make_pipeline(StandardScaler(), GDLogisticRegressionCV([0.1, 1.0], cv=3))
    pipe.fit(X, y)
    proba = pipe.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert pipe.score(X, y) > 0.95
    np.testing.assert_allclose(np.exp(pipe.predict_log_proba(X)), proba)


@parametrize_with_checks(
    [
        # Plain GD on the checks' unscaled data (features near 100, scale 20)
        # needs a step below 4e-4 for some checks and far larger ones for the
        # class-weight check; the diagonal preconditioner serves both.
        GDLogisticRegressionCV(
            alphas=[0.1, 1.0], preconditioner="diagonal", max_iter=100
        ),
        GDLogisticRegressionCV(
            alphas=[0.3], preconditioner="diagonal", solver="nesterov"
        ),
    ]
)
def test_sklearn_compatible_estimator(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.mark.parametrize("case", ["breast_cancer", "iris"])
def test_as_sklearn_predicts_the_same(case, breast_cancer):
    # The oracle is scikit-learn's own LogisticRegression.predict_proba on the
    # copied arrays: the same sigmoid/softmax of the same X @ coef_.T +
    # intercept_, so only the last-bit rounding of two implementations
    # differs (probabilities in [0, 1]: 1e-12 absolute is ~1e4 ulps).
    X, y = breast_cancer if case == "breast_cancer" else _iris()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = GDLogisticRegressionCV([0.1, 1.0], Cs=[0.5, 2.0], cv=3, max_iter=50)
        ours.fit(X, y)
    exported = ours.as_sklearn()
    assert exported.C == ours.C_
    np.testing.assert_allclose(
        exported.predict_proba(X), ours.predict_proba(X), rtol=0, atol=1e-12
    )
    np.testing.assert_array_equal(exported.predict(X), ours.predict(X))


@pytest.mark.parametrize("scoring", ["neg_log_loss", "balanced_accuracy"])
def test_other_scorers_match_grid_search(scoring, breast_cancer):
    # Any scorer but accuracy scores each model as a GDLogisticRegression;
    # the oracle scores the separately fitted ones (same iterates up to
    # summation order, so 1e-6 as above).
    X, y = breast_cancer
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    alphas, params = [0.03, 0.3], {"max_iter": 40, "tol": 1e-5}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = GDLogisticRegressionCV(alphas, cv=cv, scoring=scoring, **params)
        ours.fit(X, y)
        theirs = GridSearchCV(
            GDLogisticRegression(**params), {"alpha": alphas}, cv=cv, scoring=scoring
        ).fit(X, y)
    _assert_same_search(ours, theirs, 3)


def test_cholesky_preconditioner_is_refused_not_ignored():
    X, y = load_iris(return_X_y=True)
    search = GDLogisticRegressionCV(alphas=[0.1], preconditioner="cholesky")
    with pytest.raises(ValueError, match="'preconditioner' parameter"):
        search.fit(X, y)


def test_vectorized_exp_matches_numpy():
    # The binary kernels' exp(-a), a polynomial with the exponent set in its
    # bits (so that it vectorizes), against NumPy's exp on [0, 40].
    from sklearn_gdlogreg._numerics._batched_kernels import exp_neg_array

    a = np.concatenate(
        [np.linspace(0, 40, 400_001), np.random.RandomState(0).uniform(0, 40, 10**5)]
    )
    out = np.empty_like(a)
    exp_neg_array(a, out)
    np.testing.assert_allclose(out, np.exp(-a), rtol=1e-14, atol=0)


@pytest.mark.parametrize("kind", ["uniform", "masked", "weighted"])
def test_binary_kernels_match_numpy(kind):
    # Residuals, their sums and the loss of one block (1,300 rows: two flushes
    # of the product of factors and a remainder), z from -800 to 800, against
    # NumPy's logaddexp and SciPy's expit.
    from scipy.special import expit

    from sklearn_gdlogreg._numerics import _batched_kernels

    rng = np.random.RandomState(0)
    n, m = 1300, 7
    Z = rng.standard_normal((n, m)) * 8
    Z[:4] = [[-800.0], [800.0], [0.0], [-37.5]]
    b = rng.standard_normal(m)
    y = (rng.uniform(size=n) > 0.5).astype(float)
    c = rng.uniform(0.5, 2.0, size=m)
    s = {
        "uniform": np.tile(c, (n, 1)),
        "masked": np.where(rng.uniform(size=(n, m)) > 0.25, c, 0.0),
        "weighted": rng.uniform(0, 2, size=(n, m)),
    }[kind]
    z = Z + b
    loss = np.sum(s * (np.logaddexp(0, z) - y[:, None] * z), axis=0)
    R = s * (expit(z) - y[:, None])
    acc = np.zeros((4, m))
    acc[2] = 1.0
    E = np.empty((n, m))  # scratch
    if kind == "uniform":
        _batched_kernels.binary_uniform(Z, E, b, 0.5 - y, c, acc)
    elif kind == "masked":
        _batched_kernels.binary_masked(Z, E, b, 0.5 - y, s, acc)
    else:
        _batched_kernels.binary_weighted(Z, E, b, 0.5 - y, s, acc)
    ours = acc[1] if kind == "weighted" else c * (0.5 * acc[1] + acc[3])
    ours += np.sum(s * (0.5 - y)[:, None] * z, axis=0)  # the linear part
    # sigmoid(z) = 1/2 - (1/d - 1/2) for z < 0: ~1e-16 absolute, not relative.
    np.testing.assert_allclose(Z, R, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(acc[0], R.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(ours, loss, rtol=1e-12)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["C", "F", "every_other_row", "every_other_col"])
@pytest.mark.parametrize("rows", ["whole", "contiguous_folds", "shuffled_folds"])
def test_dense_pass_matches_sparse_pass(n_classes, dtype, layout, rows, monkeypatch):
    # The compiled dense pass (BLAS on X's rows or columns as laid out, or on
    # a copy for a layout it cannot read; all rows at once, or grouped by
    # fold: a view of X, or rows gathered; blocks shared among 2 OpenMP
    # threads) against the sparse pass, all NumPy: the same J and gradient up
    # to summation order.
    from sklearn_gdlogreg._objective._batched import BatchedObjective

    if rows != "whole":
        monkeypatch.setattr(
            "sklearn_gdlogreg._numerics._batched_passes._SMALL_PRODUCT", 0
        )
    monkeypatch.setattr("sklearn_gdlogreg._numerics._batched_passes._BLOCK_ROWS", 64)
    rng = np.random.RandomState(0)
    n, d = 500, 7
    X = rng.standard_normal((2 * n, 2 * d)).astype(dtype)
    X = {
        "C": np.ascontiguousarray(X[:n, :d]),
        "F": np.asfortranarray(X[:n, :d]),
        "every_other_row": X[::2, :d],
        "every_other_col": X[:n, ::2],
    }[layout]
    y = rng.randint(n_classes, size=n)
    fold = np.arange(n) * 3 // n
    if rows == "shuffled_folds":
        fold = rng.permutation(fold)
    weights = np.column_stack([fold != k for k in range(3)] * 2).astype(float)
    weights[:, :3] *= rng.uniform(0.5, 2.0, size=(n, 1))  # sample weights
    weights = (weights / weights.sum(axis=0)).astype(dtype)
    labels = y.astype(dtype) if n_classes == 2 else y
    problem = dict(n_classes=n_classes, l2=np.full(6, 0.1), l1=np.zeros(6))
    problem["fit_intercept"] = True
    dense = BatchedObjective(X, labels, weights.copy(), n_threads=2, **problem)
    sparse = BatchedObjective(sp.csr_matrix(X), labels, weights, **problem)
    n_out = 1 if n_classes == 2 else n_classes
    theta = rng.standard_normal((d + 1, 6, n_out)).astype(dtype)
    J, grad = dense.value_grad(theta)
    J_ref, grad_ref = sparse.value_grad(theta)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(J, J_ref, rtol=rtol)
    np.testing.assert_allclose(grad, grad_ref, rtol=rtol, atol=rtol * 1e-2)


# ----------------------------------------------- held-out cost histories
def _lecture_fold(X, y, sw, train, test, *, alpha, C, n_iter, balanced):
    """The oracle of ``validation_cost_histories_``, plain NumPy, one fold.

    The lecture's update on the fold's training rows (weighted mean
    cross-entropy plus ``||w||^2 / (2 C S)``, from zeros, step ``alpha``),
    and at each iterate the weighted mean cross-entropy of the test rows
    (sample weight times the fold's class weights). Returns both histories.
    """
    classes = np.unique(y)
    Y = (y[:, None] == classes).astype(float)
    cw = np.ones(classes.size)
    if balanced:  # compute_class_weight("balanced") on the training rows
        counts = Y[train].T @ sw[train]
        cw = counts.sum() / (classes.size * counts)
    s, v = sw[train] * cw[y[train]], sw[test] * cw[y[test]]
    S = s.sum()
    K = 1 if classes.size == 2 else classes.size
    w, b = np.zeros((X.shape[1], K)), np.zeros(K)

    def loss(rows, weights):  # weighted mean cross-entropy at (w, b)
        Z = X[rows] @ w + b
        if K == 1:
            L = np.logaddexp(0, Z[:, 0]) - Y[rows, 1] * Z[:, 0]
        else:
            L = np.logaddexp.reduce(Z, axis=1) - np.sum(Y[rows] * Z, axis=1)
        return weights @ L / weights.sum(), Z

    J, held_out = [], []
    for step in range(n_iter + 1):
        L_train, Z = loss(train, s)
        J.append(L_train + np.sum(w * w) / (2 * C * S))
        held_out.append(loss(test, v)[0])
        if step == n_iter:
            break
        if K == 1:
            R = 1 / (1 + np.exp(-Z)) - Y[train, 1:]
        else:
            P = np.exp(Z - Z.max(axis=1, keepdims=True))
            R = P / P.sum(axis=1, keepdims=True) - Y[train]
        R *= (s / S)[:, None]
        w, b = w - alpha * (X[train].T @ R + w / (C * S)), b - alpha * R.sum(axis=0)
    return np.array(J), np.array(held_out)


def _held_out_data(n_classes):
    X, y = make_classification(
        120, 5, n_informative=3, n_redundant=0, n_classes=n_classes,
        weights=[0.6] + [0.4 / (n_classes - 1)] * (n_classes - 1), random_state=1,
    )  # fmt: skip
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("layout", ["whole", "grouped", "grouped_threads", "csr"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_validation_cost_histories_match_the_lecture(
    n_classes, weighted, layout, monkeypatch
):
    X, y = _held_out_data(n_classes)
    sw = np.random.RandomState(0).uniform(0.2, 3.0, size=y.size) if weighted else None
    if layout == "csr":
        X_in = sp.csr_matrix(X)
    else:
        X_in = X
        _set_layout(monkeypatch, layout)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)  # test rows scattered
    search = GDLogisticRegressionCV(
        alphas=[0.5],
        C=0.7,
        cv=cv,
        max_iter=6,
        tol=0,
        class_weight="balanced" if weighted else None,
        refit=False,
        record_validation_cost=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X_in, y, sample_weight=sw)
    for k, (train, test) in enumerate(cv.split(X, y)):
        J, held_out = _lecture_fold(
            X, y, np.ones(y.size) if sw is None else sw, train, test,
            alpha=0.5, C=0.7, n_iter=6, balanced=weighted,
        )  # fmt: skip
        # rtol 1e-10: the same float64 arithmetic, summed in another order
        # (blocks, BLAS, threads), ~1e-15 per operation over 6 updates.
        np.testing.assert_allclose(search.cost_histories_[0][k], J, rtol=1e-10)
        history = search.validation_cost_histories_[0][k]
        assert history.dtype == np.float64
        np.testing.assert_allclose(history, held_out, rtol=1e-10)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_validation_cost_histories_csr_equals_dense(n_classes):
    X, y = _held_out_data(n_classes)
    params = dict(alphas=[0.1, 1.0, 30.0], Cs=[0.1, 10.0], cv=4, tol=1e-3)
    params.update(max_iter=50, refit=False, record_validation_cost=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense = GDLogisticRegressionCV(**params).fit(X, y)
        sparse = GDLogisticRegressionCV(**params).fit(sp.csr_matrix(X), y)
    for i, k in np.ndindex(6, 4):
        J, held_out = (
            dense.cost_histories_[i][k],
            dense.validation_cost_histories_[i][k],
        )
        # Same length as cost_histories_, whether the model converged, ran
        # out of iterations or diverged (alpha 30: stopped early).
        assert held_out.shape == J.shape
        np.testing.assert_allclose(
            sparse.validation_cost_histories_[i][k], held_out, rtol=1e-10
        )


def test_validation_cost_histories_none_unless_batched_absent_unless_asked():
    X, y = _held_out_data(2)
    params = dict(alphas=[0.5], cv=3, max_iter=5, tol=0, refit=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sequential = GDLogisticRegressionCV(
            solver="nesterov", record_validation_cost=True, **params
        ).fit(X, y)
        not_asked = GDLogisticRegressionCV(**params).fit(X, y)
    assert len(sequential.cost_histories_[0]) == 3
    assert sequential.validation_cost_histories_ == [[None] * 3]
    assert not hasattr(not_asked, "validation_cost_histories_")
