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
