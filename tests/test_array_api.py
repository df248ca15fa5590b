"""Fits on array-API arrays (torch, array-api-strict, CuPy): in their namespace.

The oracle is the NumPy fit on the same data (itself checked against the
lecture's update and LogisticRegression elsewhere), plus scikit-learn's own
array-API estimator checks.

scikit-learn's array-API dispatch needs ``SCIPY_ARRAY_API=1`` set before
SciPy is first imported. When the test session was started without it, the
tests here are skipped one by one, and :func:`test_module_under_scipy_array_api`
runs this whole module once more in a subprocess that sets it.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from sklearn import config_context
from sklearn.datasets import make_classification

from sklearn_gdlogreg import GDLogisticRegression
from sklearn_gdlogreg._compat import SKLEARN_VERSION

if SKLEARN_VERSION < (1, 9):
    pytest.skip(
        "the array-API path is tested with scikit-learn >= 1.9 (its "
        "namespace checks and array-API predict)",
        allow_module_level=True,
    )

ENABLED = os.environ.get("SCIPY_ARRAY_API") == "1"
needs_dispatch = pytest.mark.skipif(
    not ENABLED, reason="SCIPY_ARRAY_API=1 not set (run in a subprocess instead)"
)

# Same float64 operations in another library, summed in another order:
# rounding ~1e-16 per pass; 1e-10 after tens of contracting iterations.
# On a GPU, reductions may be reordered more: the 1e-6.
RTOL = {"cpu": 1e-10, "gpu": 1e-6}


def _namespaces():
    yield pytest.param("array_api_strict", None, id="array_api_strict")
    yield pytest.param("torch", "cpu", id="torch-cpu")
    yield pytest.param("torch", "cuda", id="torch-cuda")
    yield pytest.param("cupy", None, id="cupy")


def _xp_and_device(name, device):
    xp = pytest.importorskip(name)
    if name == "torch" and device == "cuda" and not xp.cuda.is_available():
        pytest.skip("torch: no CUDA device on this machine")
    if name == "cupy":
        try:
            xp.cuda.runtime.getDeviceCount()
        except Exception:  # no driver, no device
            pytest.skip("cupy: no CUDA device on this machine")
    if name == "array_api_strict":
        device = xp.Device("CPU_DEVICE")
    return xp, device


def _to_numpy(a):
    from sklearn_gdlogreg._compat import get_namespace, to_numpy

    with config_context(array_api_dispatch=True):
        return to_numpy(a, get_namespace(a)[0])


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=300, n_features=6, n_informative=4, n_classes=3, random_state=0
    )
    return X, y


CONFIGS = [
    dict(alpha=0.5),
    dict(),  # alpha="auto": Lanczos bound, diagonal preconditioner
    dict(solver="nesterov", l1_ratio=0.5, C=0.5, class_weight="balanced"),
    dict(fit_intercept=False),
]


@needs_dispatch
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("params", CONFIGS)
@pytest.mark.parametrize("name, device", list(_namespaces()))
def test_fit_equals_numpy_fit(data, name, device, params, n_classes):
    xp, device = _xp_and_device(name, device)
    X, y = data
    y = y if n_classes == 3 else (y == 1).astype(np.int64)
    ref = GDLogisticRegression(max_iter=40, **params).fit(X, y)
    with config_context(array_api_dispatch=True):
        X_xp = xp.asarray(X, device=device)
        est = GDLogisticRegression(max_iter=40, **params).fit(
            X_xp, xp.asarray(y, device=device)
        )
        proba = est.predict_proba(X_xp)
        log_proba = est.predict_log_proba(X_xp)
        labels = est.predict(X_xp)
    rtol = RTOL["gpu" if name == "cupy" or device == "cuda" else "cpu"]
    for attribute in ("coef_", "intercept_", "cost_history_"):
        value = getattr(est, attribute)
        assert type(value) is type(X_xp), attribute  # X's namespace
        np.testing.assert_allclose(
            _to_numpy(value), getattr(ref, attribute), rtol=rtol, atol=1e-12
        )
    assert est.n_iter_ == ref.n_iter_
    assert est.alpha_ == pytest.approx(ref.alpha_, rel=rtol)
    np.testing.assert_allclose(_to_numpy(proba), ref.predict_proba(X), atol=1e-10)
    np.testing.assert_allclose(
        _to_numpy(log_proba), ref.predict_log_proba(X), rtol=1e-9, atol=1e-10
    )
    np.testing.assert_array_equal(_to_numpy(labels), ref.predict(X))


@needs_dispatch
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_float32_stays_float32(data):
    torch = pytest.importorskip("torch")
    X, y = data
    X32 = X.astype(np.float32)
    ref = GDLogisticRegression(max_iter=30).fit(X32, y)
    with config_context(array_api_dispatch=True):
        est = GDLogisticRegression(max_iter=30).fit(torch.asarray(X32), y)
    assert est.coef_.dtype == torch.float32
    # float32 sums in another order: ~1e-7 relative per pass.
    np.testing.assert_allclose(_to_numpy(est.coef_), ref.coef_, rtol=1e-4, atol=1e-6)


@needs_dispatch
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_no_host_round_trip_per_iteration(data, monkeypatch):
    # array-api-strict refuses implicit conversion to NumPy, so the fit above
    # already proves there is none; explicit ones (to_numpy) happen only in
    # the setup (moments, Lipschitz bound): their count must not grow with
    # the number of iterations.
    xps = pytest.importorskip("array_api_strict")
    from sklearn_gdlogreg._inputs import _array_api as inputs
    from sklearn_gdlogreg._objective import _array_api as objective

    calls = []
    original = objective.to_numpy

    def counting(a, xp):
        calls.append(a.shape)
        return original(a, xp)

    # Every conversion to NumPy: the labels' (inputs), the objective's.
    for module in (inputs, objective):
        monkeypatch.setattr(module, "to_numpy", counting)
    X, y = data
    counts = []
    for max_iter in (5, 50):
        calls.clear()
        with config_context(array_api_dispatch=True):
            GDLogisticRegression(solver="nesterov", max_iter=max_iter, tol=0).fit(
                xps.asarray(X), xps.asarray(y)
            )
        counts.append(len(calls))
    assert counts[0] == counts[1]
    # Besides the labels (encoded once on the host), only d-sized arrays.
    assert [shape for shape in calls if np.prod(shape) > 7 * 3] == [(X.shape[0],)]


def _sklearn_array_api_checks():
    from sklearn.utils import estimator_checks as checks

    for name, device in [("array_api_strict", "CPU_DEVICE"), ("torch", "cpu")]:
        for dtype in ("float64", "float32"):
            yield pytest.param(
                checks.check_array_api_input, name, device, dtype,
                id=f"input-{name}-{dtype}",
            )  # fmt: skip
        yield pytest.param(
            checks.check_array_api_input_and_values, name, device, "float64",
            id=f"values-{name}",
        )  # fmt: skip


@needs_dispatch
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "check, name, device, dtype", list(_sklearn_array_api_checks())
)
@pytest.mark.parametrize(
    "estimator",
    [GDLogisticRegression(), GDLogisticRegression(solver="nesterov", l1_ratio=0.5)],
    ids=["default", "nesterov-l1"],
)
def test_sklearn_array_api_checks(estimator, check, name, device, dtype):
    pytest.importorskip(name)
    check(type(estimator).__name__, estimator, name, device, dtype)


@needs_dispatch
def test_sklearn_same_namespace_and_mixed_input_checks():
    from sklearn.utils import estimator_checks as checks

    pytest.importorskip("array_api_strict")
    pytest.importorskip("torch")
    from sklearn.utils._array_api import NamespaceAndDevice

    est = GDLogisticRegression()
    checks.check_array_api_same_namespace(
        "GDLogisticRegression", est, "array_api_strict"
    )
    checks.check_array_api_mixed_inputs(
        "GDLogisticRegression",
        est,
        X_ns_and_device=NamespaceAndDevice("torch", "cpu"),
        other_ns_and_device=NamespaceAndDevice("array_api_strict", "device1"),
    )


def test_array_api_support_tag():
    assert GDLogisticRegression().__sklearn_tags__().array_api_support


@pytest.mark.skipif(ENABLED, reason="SCIPY_ARRAY_API=1 already set: run above")
def test_module_under_scipy_array_api():
    if not any(_installed(m) for m in ("array_api_strict", "torch", "cupy")):
        pytest.skip(
            "no array-API library installed (from the repository root: "
            "python -m pip install -e '.[array]')"
        )
    env = dict(os.environ, SCIPY_ARRAY_API="1")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def _installed(module):
    from importlib.util import find_spec

    return find_spec(module) is not None
