"""GDLogisticRegression against independent oracles.

- scikit-learn's LogisticRegression (newton-cholesky, or saga for L1) for the
  minimiser: same objective for every finite C (README.md, "The cost and the
  update");
- a plain NumPy transcription of the lecture's update for fixed-alpha "gd";
- finite differences (scipy.optimize.approx_fprime) for the gradient;
- sklearn.metrics.log_loss for the value of J.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.optimize import approx_fprime
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from sklearn_gdlogreg import GDLogisticRegression
from sklearn_gdlogreg._compat import SKLEARN_VERSION
from sklearn_gdlogreg._objective._numpy import LogisticObjective

# A tight fit: the (proximal) gradient max-norm below 1e-12 puts the iterate
# within ~1e-12 / mu of the minimiser (mu >= 1/(C S) from the L2 penalty), far
# below the 1e-6 relative tolerance of the comparisons.
TIGHT = dict(solver="nesterov", tol=1e-12, max_iter=200_000)


def reference(X, y, *, C=1.0, l1_ratio=0.0, sample_weight=None, class_weight=None):
    solver = "newton-cholesky" if l1_ratio == 0 else "saga"
    # scikit-learn < 1.8 reads l1_ratio only under penalty="elasticnet".
    penalty = (
        {} if SKLEARN_VERSION >= (1, 8) or l1_ratio == 0 else {"penalty": "elasticnet"}
    )
    ref = LogisticRegression(
        **penalty,
        C=C,
        l1_ratio=l1_ratio,
        solver=solver,
        tol=1e-12 if l1_ratio == 0 else 1e-10,
        max_iter=100_000,
        class_weight=class_weight,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return ref.fit(X, y, sample_weight=sample_weight)


@pytest.mark.parametrize("C", [0.1, 1.0, 10.0])
def test_binary_matches_logistic_regression(breast_cancer, C):
    X, y = breast_cancer
    ours = GDLogisticRegression(C=C, **TIGHT).fit(X, y)
    ref = reference(X, y, C=C)
    # The distance to the minimiser is at most |grad| / mu with mu = 1/(C S):
    # 1e-12 * C * 569 < 1e-8, i.e. 1e-6 relative for every coefficient above
    # 1e-2 in size; for C=10 one coefficient is 5e-4, so the bound applies
    # relative to the largest coefficient.
    atol = 0.0 if C <= 1 else 1e-6 * np.abs(ref.coef_).max()
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=atol)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6)
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-8)


def test_plain_gd_matches_logistic_regression(breast_cancer):
    # The lecture's own solver (no acceleration) reaches the same minimiser;
    # rtol 1e-5: plain gd's linear rate on this conditioning makes 1e-6 cost
    # 5x more iterations than the test is worth.
    X, y = breast_cancer
    ours = GDLogisticRegression(C=0.1, tol=1e-10, max_iter=200_000).fit(X, y)
    ref = reference(X, y, C=0.1)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-5)


@pytest.mark.parametrize("C", [0.5, 1.0])
def test_multinomial_matches_logistic_regression(three_classes, C):
    X, y = three_classes
    ours = GDLogisticRegression(C=C, **TIGHT).fit(X, y)
    ref = reference(X, y, C=C)
    assert ours.coef_.shape == (3, X.shape[1])
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-6)
    # Intercepts are identified only up to a common shift; both centre them.
    assert_allclose(
        ours.intercept_ - ours.intercept_.mean(),
        ref.intercept_ - ref.intercept_.mean(),
        rtol=1e-6,
        atol=1e-9,
    )


@pytest.mark.parametrize("dataset", ["breast_cancer", "three_classes"])
def test_sample_and_class_weights_match(dataset, request, rng):
    X, y = request.getfixturevalue(dataset)
    sw = rng.uniform(0.2, 3.0, size=y.shape[0])
    class_weight = {c: w for c, w in zip(np.unique(y), [1.0, 2.5, 0.7])}
    ours = GDLogisticRegression(class_weight=class_weight, **TIGHT)
    ours.fit(X, y, sample_weight=sw)
    ref = reference(X, y, sample_weight=sw, class_weight=class_weight)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-6)


def test_balanced_class_weight_matches(three_classes):
    X, y = three_classes
    keep = np.r_[np.flatnonzero(y != 2), np.flatnonzero(y == 2)[:20]]  # imbalance
    X, y = X[keep], y[keep]
    ours = GDLogisticRegression(class_weight="balanced", **TIGHT).fit(X, y)
    ref = reference(X, y, class_weight="balanced")
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-6)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_l1_and_elastic_net_match_saga(breast_cancer, l1_ratio):
    X, y = breast_cancer
    X = X[:, :10]  # keeps saga's tight fit fast
    ours = GDLogisticRegression(C=0.05, l1_ratio=l1_ratio, **TIGHT).fit(X, y)
    ref = reference(X, y, C=0.05, l1_ratio=l1_ratio)
    # The soft-threshold step zeroes the same coefficients exactly.
    assert_allclose(ours.coef_ == 0, ref.coef_ == 0)
    assert np.any(ours.coef_ == 0)
    # saga stops on a change-in-coefficients test at 1e-10: rtol 1e-6 is its
    # precision here, not ours.
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-9)


def test_no_penalty_matches(three_classes):
    # C = inf is the lecture's plain cost; data with label noise keeps the
    # minimiser finite.
    X, y = three_classes
    y = (y == 0).astype(int)
    ours = GDLogisticRegression(C=np.inf, **TIGHT).fit(X, y)
    ref = reference(X, y, C=np.inf)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-6)


def lecture_gradient_descent(X, y, alpha, n_steps):
    """The lecture's loop, transcribed literally (binary, no penalty)."""
    m, n = X.shape
    w, b = np.zeros(n), 0.0
    costs = []
    for _ in range(n_steps + 1):
        z = X @ w + b
        a = 1 / (1 + np.exp(-z))  # y_hat = sigmoid(z)
        J = -np.mean(y * np.log(a) + (1 - y) * np.log(1 - a))
        costs.append(J)
        dz = a - y
        dw = X.T @ dz / m
        db = np.mean(dz)
        w = w - alpha * dw
        b = b - alpha * db
    # The last step's update is not part of the fit of n_steps updates.
    return w + alpha * dw, b + alpha * db, np.array(costs)


@pytest.mark.parametrize("alpha", [0.01, 0.5])
def test_fixed_alpha_gd_is_the_lecture_update(breast_cancer, alpha):
    X, y = breast_cancer
    w, b, costs = lecture_gradient_descent(X, y, alpha, n_steps=5)
    est = GDLogisticRegression(alpha=alpha, C=np.inf, max_iter=5, tol=0.0)
    with pytest.warns(ConvergenceWarning, match="max_iter=5"):
        est.fit(X, y)
    # Same arithmetic up to summation order: a few ulps per step.
    assert_allclose(est.coef_.ravel(), w, rtol=1e-12, atol=1e-15)
    assert_allclose(est.intercept_[0], b, rtol=1e-12, atol=1e-15)
    assert_allclose(est.cost_history_, costs, rtol=1e-12)
    assert est.n_iter_ == 5 and est.alpha_ == alpha


def _objective(X, y, n_classes, preconditioner, fit_intercept=True, rng=None):
    s = rng.uniform(0.5, 2.0, size=y.shape[0])
    y_enc = (y == 1).astype(float) if n_classes == 2 else y
    return LogisticObjective(
        X,
        y_enc,
        s,
        n_classes=n_classes,
        C=0.7,
        l1_ratio=0.0,
        fit_intercept=fit_intercept,
        preconditioner=preconditioner,
    ), s


@pytest.mark.parametrize("preconditioner", [None, "diagonal"])
@pytest.mark.parametrize("multiclass", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_gradient_matches_finite_differences(
    three_classes, preconditioner, multiclass, fit_intercept, rng
):
    X, y = three_classes
    if not multiclass:
        y = (y == 1).astype(int)
    K = 3 if multiclass else 2
    obj, _ = _objective(X, y, K, preconditioner, fit_intercept, rng)
    theta = rng.normal(scale=0.3, size=(obj.n_dof, obj.n_out))
    _, grad = obj.value_grad(theta)

    def f(flat):
        return obj.value(flat.reshape(theta.shape))

    # Forward differences with step 1e-7 on a J of order 1 whose curvature
    # is below 1: truncation ~1e-7, rounding ~1e-9 -> atol 1e-6.
    fd = approx_fprime(theta.ravel(), f, 1e-7)
    assert_allclose(grad.ravel(), fd, atol=1e-6)


@pytest.mark.parametrize("multiclass", [False, True])
def test_cost_is_spec_formula(three_classes, multiclass, rng):
    # J = weighted mean log-loss + 1/(C S) * 1/2 ||w||^2, via sklearn's metric.
    X, y = three_classes
    if not multiclass:
        y = (y == 1).astype(int)
    K = 3 if multiclass else 2
    obj, s = _objective(X, y, K, "diagonal", True, rng)
    theta = rng.normal(scale=0.3, size=(obj.n_dof, obj.n_out))
    w, b = obj.to_original(theta)
    Z = X @ w + b
    if K == 2:
        proba = 1 / (1 + np.exp(-Z[:, 0]))
    else:
        proba = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    expected = log_loss(y, proba, sample_weight=s) + 0.5 / (0.7 * s.sum()) * np.sum(
        w**2
    )
    assert_allclose(obj.value(theta), expected, rtol=1e-12)


def test_preconditioner_keeps_the_minimiser(breast_cancer_raw):
    # Unscaled data: with and without the diagonal preconditioner the fixed
    # point is LogisticRegression's; only the path differs.
    X, y = breast_cancer_raw
    X = X[:, :8]
    ref = reference(X, y, C=1.0)
    ours = GDLogisticRegression(C=1.0, preconditioner="diagonal", **TIGHT).fit(X, y)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-6)


# ------------------------------------------------------------------ tol
def numpy_gradient_norm(est, X, y, sample_weight=None):
    """Max-norm of J's (minimum-norm sub)gradient at ``est``'s coefficients,
    in the user's coordinates: written here from the definition of J."""
    from scipy.special import expit, softmax

    s = np.ones(len(y)) if sample_weight is None else sample_weight
    S = s.sum()
    l2 = (1 - est.l1_ratio) / (est.C * S)
    l1 = est.l1_ratio / (est.C * S)
    W, b = est.coef_.T.astype(np.float64), est.intercept_.astype(np.float64)
    Z = X @ W + b
    if W.shape[1] == 1:
        R = expit(Z) - (y == est.classes_[1])[:, None]
    else:
        R = softmax(Z, axis=1) - (y[:, None] == est.classes_[None, :])
    R *= (s / S)[:, None]
    g = X.T @ R + l2 * W
    if l1:  # the minimum-norm subgradient
        shrunk = np.sign(g) * np.maximum(np.abs(g) - l1, 0.0)
        g = np.where(W != 0, g + l1 * np.sign(W), shrunk)
    db = R.sum(axis=0) if est.fit_intercept else np.zeros(1)
    return max(np.abs(g).max(), np.abs(db).max())


def _raw_and_standardized():
    from sklearn.datasets import load_breast_cancer, load_wine
    from sklearn.preprocessing import StandardScaler

    for name, loader in [("breast cancer", load_breast_cancer), ("wine", load_wine)]:
        X, y = loader(return_X_y=True)
        yield pytest.param(X, y, id=f"{name}-raw")
        yield pytest.param(StandardScaler().fit_transform(X), y, id=f"{name}-std")


@pytest.mark.parametrize("X, y", list(_raw_and_standardized()))
@pytest.mark.parametrize("solver", ["gd", "nesterov"])
@pytest.mark.parametrize(
    "preconditioner, l1_ratio",
    [(None, 0.0), ("diagonal", 0.0), ("cholesky", 0.0), ("diagonal", 0.5)],
)
def test_tol_bounds_the_gradient_in_the_users_coordinates(
    X, y, solver, preconditioner, l1_ratio
):
    # LogisticRegression's meaning of tol, whatever the solver's coordinates.
    # On main the fit stopped on the gradient in its own (preconditioned)
    # coordinates: raw breast cancer and wine returned without a warning
    # with max |dJ/dw| of 0.038-0.052, 380-520x tol.
    tol = 1e-4
    est = GDLogisticRegression(
        solver=solver,
        preconditioner=preconditioner,
        l1_ratio=l1_ratio,
        tol=tol,
        max_iter=50_000,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        est.fit(X, y)
    if any(w.category is ConvergenceWarning for w in caught):
        # Honest about it: on raw data, plain steps or unaccelerated ones take
        # more than 50,000 iterations to this tol. The fit claimed nothing.
        assert (preconditioner is None or solver == "gd") and X.max() > 100
        return
    # Both sides compute the same float64 formula in another order: rounding
    # of ~1e-16 times the largest term (|x| up to 4e3 times a residual of
    # order 1), far below tol.
    assert numpy_gradient_norm(est, X, y) <= tol * (1 + 1e-6)
