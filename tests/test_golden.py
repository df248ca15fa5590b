"""Golden test: today's exact results, and stored models that must keep loading.

Written for the refactor of issue 17 (modules moved into folders), which must
change no behaviour: every case of ``tests/golden/make_golden.py`` is refitted
here and compared with the arrays recorded in ``tests/golden/results.npz``,
bitwise where the numerics can be reproduced bit for bit (same NumPy, SciPy,
BLAS kernels and CPU as ``tests/golden/environment.json``); and the models
saved in ``tests/golden/models/`` with pickle, joblib and skops must load,
predict the recorded probabilities, accept one more ``partial_fit`` and be
cloned and refitted. A moved module that a stored pickle names, a fitted
attribute renamed, or a sum taken in another order fails here.

To regenerate, from the repository root::

    python tests/golden/make_golden.py

Regenerating is legitimate only for an intended change of behaviour (a bug
fix, a new default, a different update), said in the commit that regenerates;
never to make this test pass after a change meant to change nothing, such as
the refactor of issue 17. Adding a case or a stored model is fine (regenerate,
and check that the existing arrays did not move: ``git diff`` shows
``results.npz`` as binary, so compare them with ``np.load``).
"""

import importlib.util
import json
import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import InconsistentVersionWarning

import sklearn_gdlogreg
from sklearn_gdlogreg import GDLogisticRegression, GDLogisticRegressionCV

GOLDEN = Path(__file__).resolve().parent / "golden"
_spec = importlib.util.spec_from_file_location(
    "_gdlogreg_golden", GOLDEN / "make_golden.py"
)
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)

with np.load(GOLDEN / "results.npz") as _f:
    RECORDED = dict(_f)
RECORDED_ENV = json.loads((GOLDEN / "environment.json").read_text())
ENV = golden.environment()
SKLEARN_VERSION = tuple(int(p) for p in ENV["scikit-learn"].split(".")[:2])

# Where this is not the environment of the recording, another NumPy, SciPy or
# BLAS (or the other clone of the compiled kernels) may add the same numbers
# in another order: a few ulps per operation, which 25 contracting updates
# keep far below these bounds (relative to the largest entry of the array,
# as some entries are zero or cancel).
RTOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-4}


def _bitwise(keys):
    return all(ENV.get(k) == RECORDED_ENV.get(k) for k in keys)


def bitwise(case=None):
    """Whether the results of ``case`` (or of NumPy alone) must be bitwise."""
    keys = golden.BITWISE_KEYS
    if case is not None and golden.needs(case):
        keys += golden.BITWISE_KEYS_OF[golden.needs(case)]
    return _bitwise(keys)


def assert_same(actual, expected, exact, what):
    actual = np.asarray(actual)
    assert actual.dtype == expected.dtype, what
    assert actual.shape == expected.shape, what
    if exact or expected.dtype.kind not in "fc":
        # Bitwise up to the sign of zero and NaN payloads (assert_array_equal
        # treats -0.0 as 0.0 and NaN as NaN).
        assert_array_equal(actual, expected, err_msg=what, strict=True)
    else:
        rtol = RTOL[expected.dtype]
        scale = np.max(np.abs(expected), initial=0.0)
        assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=what)


def assert_case(actual, name, exact):
    prefix = f"{name}/"
    expected = {
        k[len(prefix) :]: v for k, v in RECORDED.items() if k.startswith(prefix)
    }
    assert sorted(actual) == sorted(expected)
    for key, value in expected.items():
        assert_same(actual[key], value, exact, f"{name}: {key}")


def _skip_unless_available(name):
    oldest = golden.CASES[name]["sklearn"]
    if SKLEARN_VERSION < oldest:
        pytest.skip(f"reproduces scikit-learn >= {'.'.join(map(str, oldest))}")
    needed = golden.needs(name)
    if needed == "dask":
        pytest.importorskip("dask.array")
    elif needed == "array_api":
        pytest.importorskip("array_api_strict")


# ------------------------------------------------------------------ cases
@pytest.fixture(scope="module")
def array_api_results(tmp_path_factory):
    """The array-API cases, fitted where SciPy's array API is enabled.

    ``SCIPY_ARRAY_API=1`` must be set before SciPy is first imported: in this
    process if it was, else in one fresh process for all of them.
    """
    names = [n for n in golden.CASES if golden.needs(n) == "array_api"]
    if os.environ.get("SCIPY_ARRAY_API") == "1":
        return golden.compute(names)
    out = tmp_path_factory.mktemp("golden") / "array_api.npz"
    # The subprocess imports the sklearn_gdlogreg this process tests.
    root = str(Path(sklearn_gdlogreg.__file__).resolve().parent.parent)
    path = os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])
    env = dict(os.environ, SCIPY_ARRAY_API="1", PYTHONPATH=path)
    cmd = [sys.executable, str(GOLDEN / "make_golden.py"), "--compute", str(out)]
    result = subprocess.run(
        [*cmd, "--cases", *names],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    with np.load(out) as f:
        return dict(f)


@pytest.mark.parametrize("name", list(golden.CASES))
def test_case_gives_the_recorded_results(name, request):
    _skip_unless_available(name)
    if golden.needs(name) == "array_api":
        computed = request.getfixturevalue("array_api_results")
        prefix = f"{name}/"
        actual = {
            k[len(prefix) :]: v for k, v in computed.items() if k.startswith(prefix)
        }
    else:
        actual, _ = golden.run_case(name)
    assert_case(actual, name, bitwise(name))


def test_every_recorded_case_is_a_case():
    recorded = {k.split("/")[0] for k in RECORDED if not k.startswith("models/")}
    assert recorded == set(golden.CASES)


# ----------------------------------------------------------- stored models
def _load(path):
    """A stored model, loaded as users load it."""
    with warnings.catch_warnings():
        # Stored with another scikit-learn version (CI also runs 1.6.1).
        warnings.simplefilter("ignore", InconsistentVersionWarning)
        if path.suffix == ".pkl":
            with open(path, "rb") as f:
                return pickle.load(f)
        if path.suffix == ".joblib":
            return joblib.load(path)
        sio = pytest.importorskip("skops.io", reason="needs the 'export' extra")
        trusted = SKOPS_TRUSTED[path.stem]
        # Exactly the types docs/errors.rst tells users to trust.
        assert sorted(sio.get_untrusted_types(file=path)) == sorted(trusted)
        return sio.load(path, trusted=trusted)


# What docs/errors.rst (UntrustedTypesFoundException) tells users to trust.
SKOPS_TRUSTED = {
    "binary": [golden.GD],
    "multinomial": [golden.GD],
    "partial_fit": [golden.GD],
    "cv": [golden.CV, golden.GD],
}
CLASSES = {"cv": GDLogisticRegressionCV}


def _stored():
    for model in golden.MODEL_CASES:
        yield pytest.param(model, "pkl", id=f"{model}-pickle")
        if model in golden.JOBLIB_MODELS:
            yield pytest.param(model, "joblib", id=f"{model}-joblib")
        yield pytest.param(model, "skops", id=f"{model}-skops")


@pytest.mark.parametrize("model, suffix", list(_stored()))
def test_stored_model_loads_and_predicts(model, suffix):
    est = _load(GOLDEN / "models" / f"{model}.{suffix}")
    assert type(est) is CLASSES.get(model, GDLogisticRegression)
    X = RECORDED[f"models/{model}/X"]
    assert_same(
        est.predict_proba(X),
        RECORDED[f"models/{model}/predict_proba"],
        bitwise(),
        f"{model}.{suffix}: predict_proba",
    )
    # A model fitted today has the attributes of the stored one: a fitted
    # attribute added, renamed or dropped could break the stored models.
    name = golden.MODEL_CASES[model]
    fresh = golden.fit_case(golden.estimator(name), name)
    assert sorted(vars(est)) == sorted(vars(fresh))


@pytest.mark.parametrize("suffix", ["pkl", "skops"])
def test_stored_partial_fit_model_continues_its_stream(suffix):
    est = _load(GOLDEN / "models" / f"partial_fit.{suffix}")
    est = golden.extra_partial_fit(est)
    for attr in ("coef_", "intercept_", "n_iter_", "alpha_", "cost_history_"):
        expected = RECORDED[f"models/partial_fit/after/{attr}"]
        assert_same(getattr(est, attr), expected, bitwise(), f"{suffix}: {attr}")


@pytest.mark.parametrize("model", list(golden.MODEL_CASES))
def test_stored_model_clones_and_refits(model):
    est = _load(GOLDEN / "models" / f"{model}.pkl")
    name = golden.MODEL_CASES[model]
    unfitted = clone(est)
    params, expected = unfitted.get_params(), golden.estimator(name).get_params()
    assert params.keys() == expected.keys()
    for key, value in expected.items():  # error_score is NaN: NaN != NaN
        assert params[key] == value or (params[key] != params[key] and value != value)
    refitted = golden.fit_case(unfitted, name)
    assert_case(golden.record(refitted, name), name, bitwise(name))


def test_skops_trusted_types_are_those_documented():
    # The stored files are loaded with SKOPS_TRUSTED: the recipe of
    # docs/errors.rst must name the same types.
    docs = (Path(__file__).resolve().parents[1] / "docs" / "errors.rst").read_text()
    for name in {t for types in SKOPS_TRUSTED.values() for t in types}:
        assert f'"{name}"' in docs
