"""Stability, monotone descent, divergence detection, convergence warnings."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning

from sklearn_gdlogreg import GDLogisticRegression
from sklearn_gdlogreg._numerics import _fused

HUGE = np.array([-1e4, -1e3, -40.0, 0.0, 40.0, 1e3, 1e4])


def per_sample(mode, Z, y, uniform):
    """Each sample's loss and residual, by the kernel run on it alone."""
    losses, R = [], []
    for z, label in zip(Z, y):
        z = np.asarray(z, dtype=np.float64).reshape(1, -1)
        r, db = np.empty_like(z), np.empty(z.shape[1])
        s = np.ones(1)
        y01 = (
            np.array([label], np.uint8)
            if mode == _fused.BINARY
            else np.zeros(0, np.uint8)
        )
        yk = (
            np.array([label], np.intp)
            if mode == _fused.MULTINOMIAL
            else np.zeros(0, np.intp)
        )
        value, _ = _fused.sample_pass(mode, z, z, 0.0, y01, yk, s, uniform, r, db)
        losses.append(value)
        R.append(r[0])
    return np.array(losses), np.array(R)


@pytest.mark.parametrize("uniform", [False, True])
def test_binary_loss_is_stable_for_huge_decision_values(uniform):
    # uniform: the log of the loss is taken on a product (one per chunk).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss1, dz1 = per_sample(_fused.BINARY, HUGE, np.ones_like(HUGE), uniform)
        loss0, dz0 = per_sample(_fused.BINARY, HUGE, np.zeros_like(HUGE), uniform)
    # Oracle: log(1 + e^{-z}) ~ -z for z -> -inf, ~ e^{-z} for z -> +inf.
    assert_allclose(loss1[:2], [1e4, 1e3])
    assert_allclose(loss0[-2:], [1e3, 1e4])
    assert loss1[-1] == 0.0 and loss0[0] == 0.0
    assert_allclose(loss1[3], np.log(2))
    # log(1 + e^-40) = 4.2e-18: exact to rounding sample by sample; through
    # the product (uniform) the 1 + e^-40 rounds to 1, an absolute error of
    # at most one rounding of 1 (2.2e-16) per sample.
    tol = {"atol": 2.3e-16} if uniform else {"rtol": 1e-15}
    assert_allclose(loss1[4], np.log1p(np.exp(-40.0)), **tol)
    assert_allclose(dz1[:, 0], [-1, -1, -1, -0.5, 0, 0, 0], atol=1e-17)
    assert np.all(np.isfinite(dz0)) and np.all(np.isfinite(loss0))


def test_multinomial_loss_is_stable_for_huge_decision_values():
    Z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [0.0, 1e4, 1e4]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, dZ = per_sample(_fused.MULTINOMIAL, Z, np.array([1, 0, 2]), True)
    assert_allclose(loss, [2e4, np.log(3), np.log(2)])
    assert_allclose(dZ.sum(axis=1), 0.0, atol=1e-15)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("multiclass", [False, True])
def test_predictions_finite_for_huge_decision_values(three_classes, multiclass):
    X, y = three_classes
    if not multiclass:
        y = (y == 0).astype(int)
    est = GDLogisticRegression(solver="nesterov").fit(X, y)
    est.coef_ = est.coef_ * 1e4 / np.abs(est.coef_).max()  # |z| up to ~1e4
    scores = est.decision_function(X)
    assert np.abs(scores).max() > 5e3
    proba = est.predict_proba(X)
    log_proba = est.predict_log_proba(X)
    assert np.all(np.isfinite(proba)) and np.all(np.isfinite(log_proba))
    assert_allclose(proba.sum(axis=1), 1.0)
    assert log_proba.min() < -1e3  # log(0) would have been -inf


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_cost_history_finite_from_a_huge_start(three_classes):
    X, y = three_classes
    y = (y == 0).astype(int)
    est = GDLogisticRegression(solver="nesterov", max_iter=3, warm_start=True)
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)
    est.coef_[:] = 1e4  # a warm start with |z| ~ 1e4 on every sample
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)
    assert est.cost_history_[0] > 1e3
    assert np.all(np.isfinite(est.cost_history_))
    assert np.all(np.isfinite(est.coef_))


def assert_non_increasing(history):
    # "auto" steps decrease J exactly in real arithmetic; J itself is a sum
    # of n float64 terms, so allow its rounding, 1e-12 relative.
    slack = 1e-12 * np.maximum(1.0, np.abs(history[:-1]))
    assert np.all(np.diff(history) <= slack)


@pytest.mark.parametrize("solver", ["gd", "nesterov"])
@pytest.mark.parametrize("preconditioner", ["diagonal", None])
@pytest.mark.parametrize("l1_ratio", [0.0, 1.0])
def test_auto_alpha_never_increases_cost(
    breast_cancer_raw, solver, preconditioner, l1_ratio
):
    X, y = breast_cancer_raw
    est = GDLogisticRegression(
        solver=solver, preconditioner=preconditioner, l1_ratio=l1_ratio, max_iter=300
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    assert est.n_iter_ > 0
    assert_non_increasing(est.cost_history_)


def test_auto_alpha_never_increases_cost_multinomial(three_classes):
    X, y = three_classes
    est = GDLogisticRegression(max_iter=500).fit(X * [1, 10, 100, 1, 1, 0.01], y)
    assert_non_increasing(est.cost_history_)


def curvature_bound(X, C):
    """L = 1/4 lambda_max([X, 1]^T [X, 1] / n) + 1/(C n), by dense algebra."""
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    return 0.25 * np.linalg.eigvalsh(A.T @ A / X.shape[0])[-1] + 1 / (C * X.shape[0])


def test_nesterov_auto_step_grows_past_one_over_L(breast_cancer):
    # alpha="auto" lets nesterov's step grow while the step test holds: the
    # curvature bound 1/4 of the sigmoid is the curvature at p = 1/2 only,
    # and near the optimum of breast cancer (almost separable) most samples
    # have p(1 - p) far below it. Oracle: the same solver with the fixed
    # step 1/L, L from dense algebra (the classic accelerated method).
    X, y = breast_cancer
    L = curvature_bound(X, C=1.0)
    params = dict(solver="nesterov", preconditioner=None, tol=1e-6, max_iter=20_000)
    fixed = GDLogisticRegression(alpha=1.0 / L, **params).fit(X, y)
    auto = GDLogisticRegression(alpha="auto", **params).fit(X, y)
    assert auto.alpha_ > 2.0 / L
    assert auto.n_iter_ < fixed.n_iter_ / 2
    assert_non_increasing(auto.cost_history_)
    # Same minimiser: both stop at |grad|_max <= 1e-6, so each is within
    # ||grad||_2^2 / (2 mu) <= 31e-12 / (2 * 1.8e-3) ~ 1e-8 of J* (mu >= the
    # L2 term 1/(C n)), about 1.3e-7 of J* ~ 0.07: rtol 1e-6 leaves room.
    assert_allclose(auto.cost_history_[-1], fixed.cost_history_[-1], rtol=1e-6)


def test_too_large_alpha_is_detected_and_reported(breast_cancer):
    X, y = breast_cancer
    L = curvature_bound(X, C=1.0)
    est = GDLogisticRegression(alpha=100.0)
    with pytest.warns(ConvergenceWarning, match="diverged") as record:
        est.fit(X, y)
    message = str(record[0].message)
    assert "alpha=100.0" in message
    assert f"2/L = {2 / L:.4g}" in message
    assert np.all(np.isfinite(est.coef_)) and np.all(np.isfinite(est.cost_history_))
    assert est.cost_history_[-1] > est.cost_history_[0]  # what was seen
    # The kept coefficients are those of the lowest cost seen (here the start).
    assert_allclose(est.coef_, 0.0)
    assert len(est.cost_history_) == est.n_iter_ + 1


def test_alpha_below_two_over_L_is_stable(breast_cancer):
    # The descent lemma: any fixed step below 2/L decreases J at every step.
    X, y = breast_cancer
    alpha = 1.9 / curvature_bound(X, C=1.0)
    est = GDLogisticRegression(alpha=alpha, max_iter=200)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # in particular: no divergence warning
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    assert est.n_iter_ == 200
    assert_non_increasing(est.cost_history_)


def test_nesterov_fixed_alpha_divergence_detected(breast_cancer):
    X, y = breast_cancer
    with pytest.warns(ConvergenceWarning, match="diverged"):
        est = GDLogisticRegression(alpha=50.0, solver="nesterov").fit(X, y)
    assert np.all(np.isfinite(est.coef_))


def test_max_iter_reached_warns(breast_cancer):
    X, y = breast_cancer
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        est = GDLogisticRegression(max_iter=3).fit(X, y)
    assert est.n_iter_ == 3 and est.cost_history_.shape == (4,)


def test_converged_fit_does_not_warn(breast_cancer):
    X, y = breast_cancer
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = GDLogisticRegression(solver="nesterov").fit(X, y)
    assert 0 < est.n_iter_ < 1000
    assert est.cost_history_.dtype == np.float64


# Constant columns of several magnitudes: unshifted, their weighted mean is
# rounded and the variance comes out about (eps * value)^2 instead of zero.
CONSTANTS = np.array([3.7, -0.1, 1e8 / 3])


def _with_constant_columns(X, dtype=np.float64):
    columns = np.broadcast_to(CONSTANTS, (X.shape[0], CONSTANTS.size))
    return np.hstack([columns, X]).astype(dtype)


@pytest.mark.parametrize("layout", ["C", "F", "float32", "csr", "csc"])
@pytest.mark.parametrize("weighted", [False, True])
def test_constant_column_has_exactly_zero_variance(layout, weighted):
    import scipy.sparse as sp

    from sklearn_gdlogreg._numerics import weighted_column_moments

    rng = np.random.default_rng(0)
    n = 10_000  # several tiles and row ranges: the merges are exercised too
    X = _with_constant_columns(
        rng.normal(size=(n, 4)), np.float32 if layout == "float32" else np.float64
    )
    X = {
        "F": np.asfortranarray,
        "csr": sp.csr_array,
        "csc": sp.csc_array,
    }.get(layout, np.ascontiguousarray)(X)
    s = rng.uniform(0.5, 2.0, n) if weighted else np.ones(n)
    mean, var = weighted_column_moments(X, s / s.sum())
    k = CONSTANTS.size
    # Exact: the oracle is the definition (a constant has no spread), and
    # the mean is the constant itself as X stores it.
    assert np.all(var[:k] == 0.0)
    assert np.all(mean[:k] == CONSTANTS.astype(X.dtype))
    # The other columns still agree with the two-pass formula in NumPy.
    dense = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    s = s / s.sum()
    ref_mean = s @ dense
    assert_allclose(mean[k:], ref_mean[k:], rtol=1e-12, atol=1e-14)
    assert_allclose(var[k:], (s @ (dense - ref_mean) ** 2)[k:], rtol=1e-10)


@pytest.fixture(scope="module")
def unpenalized_constant_column():
    """Breast cancer's first five standardized features (not separable) with
    a constant column, and the unpenalized optimum without that column."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)[:, :5]
    ref = LogisticRegression(
        C=np.inf, solver="newton-cholesky", tol=1e-12, max_iter=1000
    ).fit(X, y)
    return _with_constant_columns(X), y, ref


@pytest.mark.parametrize("input_kind", ["numpy", "csr", "dask"])
def test_constant_column_without_penalty_gets_no_weight(
    unpenalized_constant_column, input_kind
):
    # Without a penalty a constant column and the intercept are
    # interchangeable; in centred coordinates the column's gradient is zero,
    # so descent from zero leaves its coefficient at zero and reaches the
    # optimum without it. On main its scale was sqrt(1e-28): coefficients of
    # 1e12-1e15, J above the optimum, and a fit that depended on the
    # column's exact value.
    import scipy.sparse as sp

    X_np, y, ref = unpenalized_constant_column
    X = X_np
    if input_kind == "csr":
        X = sp.csr_array(X)
    elif input_kind == "dask":
        da = pytest.importorskip("dask.array")
        X = da.from_array(X, chunks=200)
    est = GDLogisticRegression(C=np.inf, tol=1e-8, max_iter=20_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        if input_kind == "dask":
            import dask

            with dask.config.set(scheduler="threads"):
                est.fit(X, y)
        else:
            est.fit(X, y)
    k = CONSTANTS.size
    # Rounding only: centred values of exactly zero, coefficients of order 1.
    assert np.all(np.abs(est.coef_[:, :k]) < 1e-10)
    # tol=1e-8 on the gradient, Hessian eigenvalues above 1e-3 on these
    # standardized features: coefficients within ~1e-5 of the optimum.
    assert_allclose(est.coef_[:, k:], ref.coef_, atol=1e-3)
    assert_allclose(est.intercept_, ref.intercept_, atol=1e-3)
    # Probabilities move by at most a quarter of the decision values' error
    # (|x|_1 * 1e-3 here); measured 1e-5.
    proba = ref.predict_proba(X_np[:, k:])
    assert_allclose(np.asarray(est.predict_proba(X)), proba, atol=1e-4)


def test_cv_constant_column_without_penalty_gets_no_weight(
    unpenalized_constant_column,
):
    # The batched CV computes the same diagonal coordinates per fold: on
    # main every setting diverged on this data (scale sqrt(1e-28)).
    from sklearn_gdlogreg import GDLogisticRegressionCV

    X, y, _ = unpenalized_constant_column
    cv = GDLogisticRegressionCV(
        alphas=[0.5, 1.0], C=np.inf, preconditioner="diagonal", max_iter=2000
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cv.fit(X, y)
    k = CONSTANTS.size
    assert np.all(np.abs(cv.coef_[:, :k]) < 1e-10)
    # The model does not depend on the constant's exact value: shifting the
    # column by 0.1% changes a prediction by |coef| * 0.1% * value.
    shifted = X.copy()
    shifted[:, :k] *= 1.001
    assert_allclose(cv.predict_proba(shifted), cv.predict_proba(X), atol=1e-9)


def test_convergence_warnings_point_at_the_callers_line(breast_cancer):
    # As scikit-learn's own warnings: at the user's line, not inside this
    # package or scikit-learn's fit wrapper (on main: sklearn/base.py).
    from sklearn_gdlogreg import GDLogisticRegressionCV

    X, y = breast_cancer
    fits = [
        lambda: GDLogisticRegression(max_iter=2).fit(X, y),
        lambda: GDLogisticRegressionCV(alphas=[0.1, 1e4], max_iter=2, cv=2).fit(X, y),
    ]
    for fit in fits:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit()
        where = {w.filename for w in caught if w.category is ConvergenceWarning}
        assert where == {__file__}
