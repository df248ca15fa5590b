"""Bad input: a clear error, and the estimator left exactly as it was."""

import pickle

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from sklearn_gdlogreg import GDLogisticRegression


@pytest.fixture
def Xy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    return X, (X[:, 0] > 0).astype(int)


@pytest.mark.parametrize(
    "params, name",
    [
        (dict(alpha=0.0), "alpha"),
        (dict(alpha=-1.0), "alpha"),
        (dict(alpha="big"), "alpha"),
        (dict(C=0.0), "C"),
        (dict(l1_ratio=1.5), "l1_ratio"),
        (dict(solver="sgd"), "solver"),
        (dict(preconditioner="full"), "preconditioner"),
        (dict(max_iter=-1), "max_iter"),
        (dict(max_iter=2.5), "max_iter"),
        (dict(tol=-1e-3), "tol"),
        (dict(init="ones"), "init"),
        (dict(class_weight="unbalanced"), "class_weight"),
        (dict(fit_intercept="yes"), "fit_intercept"),
    ],
)
def test_bad_parameter_is_named(Xy, params, name):
    with pytest.raises(ValueError, match=f"The '{name}' parameter of"):
        GDLogisticRegression(**params).fit(*Xy)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_X(Xy, bad):
    X, y = Xy
    X = X.copy()
    X[3, 1] = bad
    with pytest.raises(ValueError, match=r"Input X contains (NaN|infinity)"):
        GDLogisticRegression().fit(X, y)


def test_single_class(Xy):
    X, _ = Xy
    with pytest.raises(ValueError, match="only one class"):
        GDLogisticRegression().fit(X, np.ones(len(X)))


def test_continuous_target(Xy):
    X, _ = Xy
    with pytest.raises(ValueError, match="Unknown label type"):
        GDLogisticRegression().fit(X, np.linspace(0, 1, len(X)))


def test_sample_weight_errors(Xy):
    X, y = Xy
    with pytest.raises(ValueError, match=r"[Nn]egative"):
        GDLogisticRegression().fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match=r"non-zero|sum to zero"):
        GDLogisticRegression().fit(X, y, sample_weight=np.zeros(len(y)))


def test_wrong_number_of_features_at_predict(Xy):
    X, y = Xy
    est = GDLogisticRegression().fit(X, y)
    for method in (
        "predict",
        "predict_proba",
        "predict_log_proba",
        "decision_function",
    ):
        with pytest.raises(ValueError, match=r"X has 2 features.*expecting 3"):
            getattr(est, method)(X[:, :2])


def test_predict_before_fit(Xy):
    X, _ = Xy
    est = GDLogisticRegression()
    for method in (
        "predict",
        "predict_proba",
        "predict_log_proba",
        "decision_function",
    ):
        with pytest.raises(NotFittedError):
            getattr(est, method)(X)


@pytest.mark.parametrize(
    "bad_fit",
    [
        lambda est, X, y: est.fit(np.c_[X, X], np.ones(len(y))),  # one class
        lambda est, X, y: est.fit(np.where(X > 1, np.nan, X), y),  # NaN
        lambda est, X, y: est.fit(X[:, :2], np.linspace(0, 1, len(y))),  # continuous
        lambda est, X, y: est.set_params(alpha=-1.0).fit(X, y),  # bad parameter
    ],
)
def test_failed_fit_leaves_estimator_unchanged(Xy, bad_fit):
    X, y = Xy
    est = GDLogisticRegression().fit(X, y)
    before = pickle.dumps(est.__dict__ | {"alpha": "auto"})
    with pytest.raises(ValueError):
        bad_fit(est, X, y)
    est.set_params(alpha="auto")
    assert pickle.dumps(est.__dict__) == before


def test_failed_first_fit_leaves_estimator_unfitted(Xy):
    X, _ = Xy
    est = GDLogisticRegression()
    with pytest.raises(ValueError):
        est.fit(X, np.zeros(len(X)))
    assert not hasattr(est, "n_features_in_")
    with pytest.raises(NotFittedError):
        est.predict(X)


def _fitters():
    """Each way weights enter a fit: in memory, partial_fit, the CV, dask."""
    from sklearn_gdlogreg import GDLogisticRegressionCV

    def dask_fit(est, X, y, sample_weight=None):
        da = pytest.importorskip("dask.array")
        import dask

        sw = None if sample_weight is None else da.from_array(sample_weight, 20)
        with dask.config.set(scheduler="threads"):
            return est.fit(da.from_array(X, 20), da.from_array(y, 20), sw)

    yield pytest.param(lambda est, *a: est.fit(*a), GDLogisticRegression, id="fit")
    yield pytest.param(
        lambda est, X, y, sw=None: est.partial_fit(X, y, [0, 1], sample_weight=sw),
        GDLogisticRegression,
        id="partial_fit",
    )
    yield pytest.param(
        lambda est, *a: est.fit(*a),
        lambda **p: GDLogisticRegressionCV(alphas=[0.1], cv=2, **p),
        id="cv",
    )
    yield pytest.param(dask_fit, GDLogisticRegression, id="dask")


@pytest.mark.parametrize("value", [-1.0, np.nan, np.inf])
@pytest.mark.parametrize("fit, make", list(_fitters()))
def test_bad_class_weight_value_is_named(Xy, fit, make, value):
    # On main: "weights sum to zero" (NaN) or "features too large ...
    # rescale X" (negative, infinite), which blamed X.
    X, y = Xy
    with pytest.raises(ValueError, match=r"class_weight values must be finite"):
        fit(make(class_weight={0: value, 1: 1.0}), X, y)


@pytest.mark.parametrize(
    "value, message",
    [
        (1e307, r"sum to more than float64 holds.*divide sample_weight"),
        (1e-320, r"below float64's normal range.*multiply sample_weight"),
    ],
)
@pytest.mark.parametrize("fit, make", list(_fitters()))
def test_sample_weights_beyond_float64_are_named(Xy, fit, make, value, message):
    # On main: 1e307 gave a zero model without a warning (the sum overflowed,
    # so every normalised weight was 0), 1e-320 an error blaming X.
    X, y = Xy
    with pytest.raises(ValueError, match=message):
        fit(make(), X, y, np.full(len(y), value))


@pytest.mark.parametrize("weights", [None, 1e-10])
def test_penalty_overflow_is_named(Xy, weights):
    X, y = Xy
    sw = None if weights is None else np.full(len(y), weights)
    with pytest.raises(ValueError, match=r"1 / \(C \* sum of sample weights\).*C"):
        GDLogisticRegression(C=1e-160 if sw is None else 1e-300).fit(X, y, sw)


def test_only_weight_ratios_and_C_times_their_sum_matter(Xy):
    # The fix the errors above offer: weights times k, C divided by k, same
    # model. Oracle: LogisticRegression with unit weights and C=1.
    from sklearn.linear_model import LogisticRegression

    X, y = Xy
    ref = LogisticRegression(solver="newton-cholesky", tol=1e-12).fit(X, y)
    est = GDLogisticRegression(C=1e-300, tol=1e-10, max_iter=10_000)
    est.fit(X, y, sample_weight=np.full(len(y), 1e300))
    # tol=1e-10 on the gradient of a strongly convex J (C=1 on 60 samples):
    # coefficients within ~1e-8 of the optimum.
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-6)
    np.testing.assert_allclose(est.intercept_, ref.intercept_, rtol=1e-6, atol=1e-8)
