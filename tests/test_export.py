"""Leaving the notebook: as_sklearn(), ONNX, skops, pickle and joblib.

Oracles: scikit-learn's own ``LogisticRegression`` (its predictions from the
exported arrays, its own fitted attributes after a refit, its minimiser),
onnxruntime's evaluation of the converted graph, and the original model's
outputs for the round trips (bitwise: serialization must not touch a bit).
"""

import io
import pickle
import warnings

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from sklearn_gdlogreg import GDLogisticRegression

# The fitted arrays are copied, and LogisticRegression and our estimator
# share decision_function (LinearClassifierMixin); only the final sigmoid /
# softmax may be computed by different (equally stable) routines, which
# differ by a few ulps of a probability <= 1.
PROBA_ATOL = 1e-12

# Names skops.io needs to be told to trust to load our estimator: only our
# class; its attributes are numpy arrays and Python scalars, trusted by
# default. docs/errors.rst (UntrustedTypesFoundException) lists the same.
SKOPS_TRUSTED = ["sklearn_gdlogreg._gd_logistic.GDLogisticRegression"]


def _fit(est, X, y, **fit_params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, **fit_params)


@pytest.fixture(scope="module")
def datasets(breast_cancer, three_classes):
    Xb, yb = breast_cancer
    Xm, ym = three_classes
    return {
        "binary": (Xb[:200], yb[:200]),
        "multiclass": (Xm, ym),
        "binary_str": (Xb[:200], np.where(yb[:200] == 1, "benign", "malignant")),
        "multiclass_str": (Xm, np.array(["a", "b", "c"])[ym]),
    }


CONFIGS = {
    "default": {},
    "l1": dict(l1_ratio=1.0, C=0.5),
    "elasticnet": dict(l1_ratio=0.5),
    "no_penalty": dict(C=np.inf),
    "no_intercept": dict(fit_intercept=False),
    "balanced_nesterov": dict(class_weight="balanced", solver="nesterov"),
}


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("data", ["binary", "multiclass", "binary_str"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_as_sklearn_same_model(datasets, data, config, dtype):
    X, y = datasets[data]
    X = X.astype(dtype)
    est = _fit(GDLogisticRegression(max_iter=50, **CONFIGS[config]), X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning from scikit-learn at all
        lr = est.as_sklearn()
        proba = lr.predict_proba(X)
        pred = lr.predict(X)
        lr.get_params()
        repr(lr)
    assert type(lr) is LogisticRegression
    assert_array_equal(lr.classes_, est.classes_)
    assert lr.classes_.dtype == est.classes_.dtype
    assert_array_equal(lr.coef_, est.coef_)
    assert_array_equal(lr.intercept_, est.intercept_)
    assert lr.coef_.dtype == est.coef_.dtype
    assert lr.intercept_.dtype == est.intercept_.dtype
    assert lr.n_features_in_ == est.n_features_in_ == X.shape[1]
    assert not hasattr(lr, "feature_names_in_")
    assert_allclose(proba, est.predict_proba(X), rtol=0, atol=PROBA_ATOL)
    assert_array_equal(pred, est.predict(X))
    # A copy: refitting ours must not change the exported model.
    assert not np.shares_memory(lr.coef_, est.coef_)


def test_as_sklearn_feature_names(datasets):
    pd = pytest.importorskip("pandas")
    X, y = datasets["multiclass_str"]
    df = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    est = _fit(GDLogisticRegression(max_iter=50), df, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a feature-name mismatch would warn
        lr = est.as_sklearn()
        proba = lr.predict_proba(df)
    assert_array_equal(lr.feature_names_in_, est.feature_names_in_)
    assert_allclose(proba, est.predict_proba(df), rtol=0, atol=PROBA_ATOL)


@pytest.mark.parametrize("data", ["binary", "multiclass"])
def test_as_sklearn_attributes_as_sklearn_fit_sets_them(datasets, data):
    """The exported model has exactly the attributes its own refit sets."""
    X, y = datasets[data]
    lr = _fit(GDLogisticRegression(max_iter=20), X, y).as_sklearn()
    refit = _fit(clone(lr).set_params(solver="newton-cholesky"), X, y)
    assert set(vars(lr)) == set(vars(refit))
    for name in ("n_iter_", "coef_", "intercept_", "classes_"):
        got, want = getattr(lr, name), getattr(refit, name)
        assert (type(got), got.shape, got.dtype) == (type(want), want.shape, want.dtype)


@pytest.mark.parametrize("data", ["binary", "multiclass"])
def test_as_sklearn_parameters_describe_the_same_cost(datasets, data):
    """Refitting the exported model's clone reaches our minimiser."""
    X, y = datasets[data]
    params = dict(C=0.5, class_weight="balanced")
    est = _fit(
        GDLogisticRegression(solver="nesterov", tol=1e-10, max_iter=20_000, **params),
        X,
        y,
    )
    refit = _fit(clone(est.as_sklearn()).set_params(solver="newton-cholesky"), X, y)
    refit.set_params(tol=1e-12, max_iter=1000)
    refit = _fit(refit, X, y)

    # Both are within ~tol / mu of the unique minimiser (mu >= 1/(C S) from
    # the L2 penalty: 1e-10 * 0.5 * 300 < 1e-7); softmax coefficients are
    # compared after removing their common per-feature shift, to which the
    # multinomial model is invariant.
    def centred(a):
        return a - a.mean(axis=0) if a.shape[0] > 1 else a

    assert_allclose(centred(est.coef_), centred(refit.coef_), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("l1_ratio", [0.5, 1.0])
def test_as_sklearn_l1_clone_is_refittable(datasets, l1_ratio):
    X, y = datasets["binary"]
    lr = _fit(GDLogisticRegression(l1_ratio=l1_ratio, max_iter=20), X, y).as_sklearn()
    refit = _fit(clone(lr).set_params(max_iter=5), X, y)  # saga: L1 / elastic net
    assert refit.coef_.shape == lr.coef_.shape


def test_as_sklearn_unfitted_raises():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        GDLogisticRegression().as_sklearn()


# ---------------------------------------------------------------------- ONNX
@pytest.mark.parametrize("data", ["binary", "multiclass", "multiclass_str"])
def test_onnx_reproduces_predict_proba(datasets, data):
    skl2onnx = pytest.importorskip("skl2onnx", reason="needs the 'export' extra")
    rt = pytest.importorskip("onnxruntime", reason="needs the 'export' extra")
    X, y = datasets[data]
    est = _fit(GDLogisticRegression(max_iter=50), X, y)
    X32 = X.astype(np.float32)
    onx = skl2onnx.to_onnx(est.as_sklearn(), X32[:1], options={"zipmap": False})
    session = rt.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    label, proba = session.run(None, {session.get_inputs()[0].name: X32})
    # onnxruntime computes in float32: the decision values z = x . w + b of
    # these standardized features (|z| ~ 10) carry relative rounding ~ 1e-7
    # times the sum of |x_j w_j|, and dp/dz <= 1/4: ~1e-6 on probabilities.
    assert_allclose(proba, est.predict_proba(X), rtol=0, atol=1e-5)
    agree = np.mean(label == est.predict(X))
    assert agree >= 0.99, agree  # only exact ties (p ~ 0.5) may flip


# --------------------------------------------------------------- persistence
@pytest.fixture(scope="module")
def fitted(datasets):
    pd = pytest.importorskip("pandas")
    X, y = datasets["multiclass_str"]
    df = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    est = GDLogisticRegression(
        max_iter=30, class_weight="balanced", random_state=np.random.RandomState(0)
    )
    return _fit(est, df, y), df


def _assert_same_fit(loaded, est, X):
    assert type(loaded) is type(est)
    assert loaded.get_params().keys() == est.get_params().keys()
    for name in ("classes_", "coef_", "intercept_", "n_features_in_"):
        assert_array_equal(getattr(loaded, name), getattr(est, name))
    # Bitwise: the same arrays give the same floating-point operations.
    assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))


def test_skops_round_trip_of_our_estimator(fitted):
    sio = pytest.importorskip("skops.io", reason="needs the 'export' extra")
    est, X = fitted
    data = sio.dumps(est)
    assert sio.get_untrusted_types(data=data) == SKOPS_TRUSTED
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException):
        sio.loads(data)
    loaded = sio.loads(data, trusted=SKOPS_TRUSTED)
    _assert_same_fit(loaded, est, X)
    assert_array_equal(loaded.cost_history_, est.cost_history_)
    assert_array_equal(loaded.feature_names_in_, est.feature_names_in_)


def test_skops_round_trip_of_as_sklearn_default_trust(fitted):
    sio = pytest.importorskip("skops.io", reason="needs the 'export' extra")
    est, X = fitted
    lr = est.as_sklearn()
    data = sio.dumps(lr)
    assert sio.get_untrusted_types(data=data) == []
    _assert_same_fit(sio.loads(data), lr, X)


@pytest.mark.parametrize("exported", [False, True], ids=["ours", "as_sklearn"])
def test_pickle_and_joblib_round_trips_are_bitwise(fitted, exported):
    est, X = fitted
    model = est.as_sklearn() if exported else est
    _assert_same_fit(pickle.loads(pickle.dumps(model)), model, X)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    _assert_same_fit(joblib.load(buffer), model, X)


def test_skops_recipe_for_the_cv_and_callbacks(fitted):
    # The types docs/errors.rst (UntrustedTypesFoundException) tells users
    # to trust: the CV search adds its own class; a callback set on a model
    # adds the callback's.
    sio = pytest.importorskip("skops.io", reason="needs the 'export' extra")
    from sklearn_gdlogreg import GDLogisticRegressionCV

    _, X = fitted
    X = np.asarray(X)
    y = (X[:, 0] > np.median(X[:, 0])).astype(int)
    cv = _fit(GDLogisticRegressionCV(alphas=[0.1, 1.0], cv=3), X, y)
    data = sio.dumps(cv)
    trusted = ["sklearn_gdlogreg._cv.GDLogisticRegressionCV", *SKOPS_TRUSTED]
    assert sorted(sio.get_untrusted_types(data=data)) == sorted(trusted)
    loaded = sio.loads(data, trusted=trusted)
    assert_array_equal(loaded.predict_proba(X), cv.predict_proba(X))

    callback = pytest.importorskip("sklearn.callback", reason="scikit-learn >= 1.9")
    est = GDLogisticRegression(max_iter=5).set_callbacks(callback.ProgressBar())
    _fit(est, X, y)
    data = sio.dumps(est)
    trusted = [f"{type(est._skl_callbacks[0]).__module__}.ProgressBar"]
    trusted = sorted([*trusted, *SKOPS_TRUSTED])
    assert sorted(sio.get_untrusted_types(data=data)) == trusted
    loaded = sio.loads(data, trusted=trusted)
    assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
