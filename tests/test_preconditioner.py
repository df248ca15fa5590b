"""The Cholesky (whitening) preconditioner against independent oracles.

- scikit-learn's LogisticRegression(newton-cholesky) for the minimiser;
- scipy.optimize.approx_fprime for the gradient in the whitened coordinates;
- central differences of that gradient for the Hessian, whose largest
  eigenvalue must respect the step bound ``L = c`` that ``lipschitz`` claims.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from scipy.optimize import approx_fprime
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from sklearn_gdlogreg import GDLogisticRegression
from sklearn_gdlogreg._objective._coordinates import MAX_FEATURES
from sklearn_gdlogreg._objective._loss import CURVATURE_BOUND
from sklearn_gdlogreg._objective._numpy import LogisticObjective

# Gradient max-norm below 1e-12 in whitened coordinates: the iterate is within
# ~1e-12 / mu' of the minimiser there, mu' >= l2 / lambda_max(Sigma) with
# l2 = 1/(C S); mapped back by R^{-T} this is orders of magnitude below the
# 1e-6 relative tolerance of the comparisons.
TIGHT = dict(preconditioner="cholesky", solver="nesterov", tol=1e-12, max_iter=50_000)


def reference(X, y, *, sample_weight=None, fit_intercept=True):
    ref = LogisticRegression(
        solver="newton-cholesky", tol=1e-12, max_iter=1000, fit_intercept=fit_intercept
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return ref.fit(X, y, sample_weight=sample_weight)


def assert_same_model(ours, ref):
    # rtol 1e-6 on every coefficient, with an absolute floor of 1e-6 times the
    # largest one: the distance to the minimiser is bounded in norm, not
    # coefficient by coefficient (some are near zero).
    atol = 1e-6 * np.abs(ref.coef_).max()
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=atol)
    # Multinomial intercepts are identified up to a common shift: centre both.
    b, b_ref = ours.intercept_, ref.intercept_
    if b.size > 1:
        b, b_ref = b - b.mean(), b_ref - b_ref.mean()
    assert_allclose(b, b_ref, rtol=1e-6, atol=atol)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize(
    "data", ["breast_cancer", "breast_cancer_raw", "three_classes"]
)
def test_cholesky_matches_newton_cholesky(data, fit_intercept, request):
    X, y = request.getfixturevalue(data)
    ours = GDLogisticRegression(fit_intercept=fit_intercept, **TIGHT).fit(X, y)
    assert ours.n_iter_ < TIGHT["max_iter"]
    assert_same_model(ours, reference(X, y, fit_intercept=fit_intercept))


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("data", ["breast_cancer_raw", "three_classes"])
def test_cholesky_with_sample_weight(data, fit_intercept, request, rng):
    X, y = request.getfixturevalue(data)
    sw = rng.uniform(0.2, 3.0, size=y.shape[0])
    sw[::7] = 0.0  # zero weights: those samples must not count at all
    ours = GDLogisticRegression(fit_intercept=fit_intercept, **TIGHT)
    ours.fit(X, y, sample_weight=sw)
    ref = reference(X, y, sample_weight=sw, fit_intercept=fit_intercept)
    assert_same_model(ours, ref)


def test_constant_and_duplicate_columns(breast_cancer):
    # Sigma is singular without its ridge (a constant column, a duplicate);
    # the fit must still reach the minimiser, which splits the duplicate's
    # weight evenly and gives the constant column weight 0.
    X, y = breast_cancer
    X = np.column_stack([X, np.full(len(y), 3.0), X[:, 0]])
    ours = GDLogisticRegression(**TIGHT).fit(X, y)
    assert_same_model(ours, reference(X, y))


def test_plain_gd_cost_never_increases(breast_cancer_raw):
    # Step 1/c is a true bound on the curvature: every gd update lowers J.
    X, y = breast_cancer_raw
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = GDLogisticRegression(
            solver="gd", preconditioner="cholesky", max_iter=500
        ).fit(X, y)
    history = est.cost_history_
    assert np.all(np.diff(history) <= 1e-12 * np.abs(history[:-1]))
    assert history[-1] < history[0]
    # alpha="auto" takes 1/L with L = c exactly (the binary sigmoid's 1/4).
    assert est.alpha_ == 1.0 / CURVATURE_BOUND["binary"]


def _objective(X, y, n_classes, fit_intercept, rng, C=1.0):
    s = rng.uniform(0.5, 2.0, size=len(y))
    y = (y == 1).astype(X.dtype) if n_classes == 2 else y
    return LogisticObjective(
        X,
        y,
        s,
        n_classes=n_classes,
        C=C,
        l1_ratio=0.0,
        fit_intercept=fit_intercept,
        preconditioner="cholesky",
    )


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("multiclass", [False, True])
def test_gradient_matches_finite_differences(
    three_classes, multiclass, fit_intercept, rng
):
    X, y = three_classes
    K = 3 if multiclass else 2
    obj = _objective(X, y, K, fit_intercept, rng)
    theta = rng.normal(scale=0.5, size=(obj.n_dof, obj.n_out))
    _, grad = obj.value_grad(theta)

    def f(flat):
        return obj.value(flat.reshape(theta.shape))

    # Forward differences with step 1e-7 on a J of order 1 whose curvature in
    # these coordinates is at most c <= 1/2: truncation ~1e-7, rounding ~1e-9.
    fd = approx_fprime(theta.ravel(), f, 1e-7)
    assert_allclose(grad.ravel(), fd, atol=1e-6)


def _hessian_fd(obj, theta, h=1e-5):
    """Central differences of the gradient: the Hessian in solver coordinates."""
    flat = theta.ravel()
    H = np.empty((flat.size, flat.size))
    for j in range(flat.size):
        e = np.zeros_like(flat)
        e[j] = h
        g_plus = obj.value_grad((flat + e).reshape(theta.shape))[1].ravel()
        g_minus = obj.value_grad((flat - e).reshape(theta.shape))[1].ravel()
        H[:, j] = (g_plus - g_minus) / (2 * h)
    return 0.5 * (H + H.T)


@pytest.mark.parametrize("fit_intercept", [True, False])
# Standardized data: on the unscaled one (cond(Sigma) ~ 1e13) the rounding of
# the gradient, divided by the difference step, swamps the 1e-7 tolerance.
@pytest.mark.parametrize("data", ["breast_cancer", "three_classes"])
def test_hessian_is_bounded_by_lipschitz(data, fit_intercept, request, rng):
    X, y = request.getfixturevalue(data)
    K = np.unique(y).size
    obj = _objective(X, y, K, fit_intercept, rng)
    L = obj.lipschitz()
    assert L == CURVATURE_BOUND[obj.kind]
    # Central differences: error ~h^2 * (third derivative) ~ 1e-10, rounding
    # ~1e-16 / h ~ 1e-11; 1e-7 covers both.
    for scale in (0.0, 1.0):
        theta = rng.normal(scale=scale, size=(obj.n_dof, obj.n_out))
        H = _hessian_fd(obj, theta)
        assert np.linalg.eigvalsh(H)[-1] <= L + 1e-7
    if K == 2:
        # At theta = 0 every sigmoid has curvature exactly 1/4 = c: the
        # whitened Hessian is then c I (identity weighted Gram of the
        # whitened, centred columns, L2 term included; up to the 1e-10
        # relative ridge), so the bound is tight.
        H0 = _hessian_fd(obj, np.zeros((obj.n_dof, 1)))
        assert_allclose(H0, L * np.eye(obj.n_dof), atol=1e-7)


def test_float32(breast_cancer):
    # float32 X: the pass runs in float32 (Sigma and R in float64); the fit
    # reaches the minimiser to float32's ~1e-7 relative rounding of J, i.e.
    # ~1e-3 relative in coefficients (sqrt of the rounding over the curvature).
    X, y = breast_cancer
    ours = GDLogisticRegression(preconditioner="cholesky", solver="nesterov")
    ours.set_params(tol=1e-5).fit(X.astype(np.float32), y)
    assert ours.coef_.dtype == np.float32
    ref = reference(X, y)
    assert_allclose(ours.coef_, ref.coef_, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize(
    "make_X, params, match",
    [
        (lambda X: sp.csr_matrix(X), {}, "dense X"),
        (lambda X: X, {"l1_ratio": 0.5}, "l1_ratio"),
        (
            lambda X: np.tile(X[:, :1], (1, MAX_FEATURES + 1)),
            {},
            "n_features <= 2000",
        ),
    ],
    ids=["sparse", "l1", "too-many-features"],
)
def test_errors(breast_cancer, make_X, params, match):
    X, y = breast_cancer
    est = GDLogisticRegression(preconditioner="cholesky", **params)
    with pytest.raises(ValueError, match=match):
        est.fit(make_X(X), y)
