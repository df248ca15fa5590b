"""Record today's exact results for ``tests/test_golden.py``.

Run from the repository root, on the code whose results are to be recorded::

    python tests/golden/make_golden.py

with scikit-learn >= 1.9 and the ``test`` and ``export`` extras installed
(dask, array-api-strict, skops). It fits every case of :data:`CASES` (small
deterministic data, ``tol=0`` and few iterations, so that the iterates are
compared, not where they converge), checks that each case gives bitwise the
same arrays twice in this process and once in a fresh one (the array-API
cases in processes with ``SCIPY_ARRAY_API=1``), then writes, beside this
file:

- ``results.npz``: the arrays, keyed ``"<case>/<attribute>"``, and for each
  stored model ``"models/<model>/<what>"`` (the X it predicts on, the
  expected ``predict_proba``, the state after one more ``partial_fit``);
- ``environment.json``: the versions and machine the results were made on
  (``tests/test_golden.py`` compares bitwise only on the same ones);
- ``models/``: fitted models saved with ``pickle`` (protocol 4),
  ``joblib.dump`` and ``skops.io.dump``, which later versions must still load.

Regenerating is legitimate only for an intended change of behaviour, said in
the commit that regenerates (see ``tests/test_golden.py``).

The module is also imported by ``tests/test_golden.py``, which refits the
same cases with :func:`run_case`: importing it fits nothing, and imports
dask and array-api-strict only when a case needs them.
"""

import argparse
import itertools
import json
import os
import pickle
import platform
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.npz"
ENVIRONMENT = HERE / "environment.json"
MODELS = HERE / "models"

MAX_ITER = 25  # with tol=0: every fit takes exactly this many updates
ALPHA = 0.2  # a fixed learning rate below 2/L of the data below
CHUNK = 25  # rows per dask block: three blocks of the data sets below

# skops: the types docs/errors.rst (UntrustedTypesFoundException) tells users
# to trust for each stored model.
GD = "sklearn_gdlogreg._gd_logistic.GDLogisticRegression"
CV = "sklearn_gdlogreg._cv.GDLogisticRegressionCV"


# ------------------------------------------------------------------- data
def datasets():
    """The data of every case: ``{name: (X, y, sample_weight)}``, float64.

    Built from one fixed ``np.random.RandomState`` (its stream is frozen by
    NumPy's compatibility policy). Columns on different scales, with offsets
    and one correlated pair, so that the preconditioners change the
    iterates; the ``*_sparse`` sets have about half their entries zero.
    """
    rng = np.random.RandomState(17)
    out = {}

    n, d = 72, 5
    Z = rng.normal(size=(n, d))
    Z[:, 1] += 0.8 * Z[:, 0]
    X = Z * [1.0, 2.0, 0.5, 1.5, 1.0] + [0.0, 1.0, -1.0, 0.5, 2.0]
    y = (Z @ [1.5, -1.0, 2.0, 0.3, 0.0] + rng.logistic(size=n) > 0).astype(np.int64)
    out["bin"] = (X, y, rng.uniform(0.5, 2.0, size=n))

    n, d = 78, 4
    Z = rng.normal(size=(n, d))
    Z[:, 2] += 0.6 * Z[:, 0]
    X = Z * [1.0, 0.5, 2.0, 1.0] + [1.0, 0.0, -0.5, 1.5]
    W = np.array(
        [[2.0, -1.0, 0.0], [0.0, 1.5, -1.0], [-0.5, 0.0, 1.0], [1.0, 1.0, 0.0]]
    )
    y = np.argmax(Z @ W + rng.gumbel(size=(n, 3)), axis=1).astype(np.int64)
    out["mc"] = (X, y, rng.uniform(0.5, 2.0, size=n))
    out["mc_str"] = (X, np.array(["cat", "dog", "emu"])[y], out["mc"][2])

    for name in ("bin", "mc"):
        X, y, s = out[name]
        keep = rng.uniform(size=X.shape) < 0.5
        out[f"{name}_sparse"] = (np.where(keep, X, 0.0), y, s)
    return out


def as_input(X, kind):
    """X (dense float64) in the form a case fits: see :data:`INPUTS`."""
    if kind == "f64":
        return np.ascontiguousarray(X)
    if kind == "f64F":
        return np.asfortranarray(X)
    if kind == "f32":
        return X.astype(np.float32)
    if kind == "csr":
        return sp.csr_matrix(X)
    if kind == "csc":
        return sp.csc_matrix(X)
    if kind == "csr32":
        return sp.csr_matrix(X.astype(np.float32))
    if kind == "dask":
        import dask.array as da

        return da.from_array(X, chunks=(CHUNK, X.shape[1]))
    if kind in ("xp", "xp32"):
        import array_api_strict as xps

        return xps.asarray(X.astype(np.float32 if kind == "xp32" else np.float64))
    raise ValueError(kind)


INPUTS = ("f64", "f64F", "f32", "csr", "csc", "csr32", "dask", "xp", "xp32")


def _vector(v, kind):
    """y or sample_weight in the form that goes with X of ``kind``."""
    if v is None:
        return None
    if kind == "dask":
        import dask.array as da

        return da.from_array(v, chunks=CHUNK)
    if kind in ("xp", "xp32") and v.dtype.kind != "U":
        import array_api_strict as xps

        return xps.asarray(v)
    return v


# ------------------------------------------------------------------ cases
def _case(data, inp="f64", kind="fit", weights=False, sklearn=(1, 6), **params):
    """A case: its data set, input form (:data:`INPUTS`), what is fitted
    (see :func:`fit_case`), whether with sample weights, the oldest
    scikit-learn whose results it reproduces, and the estimator's params."""
    if inp in ("xp", "xp32"):
        sklearn = max(sklearn, (1, 9))  # the array-API path is tested from 1.9
    return dict(
        data=data, input=inp, kind=kind, weights=weights, sklearn=sklearn, params=params
    )


NESTEROV = dict(solver="nesterov")
GD_FIXED = dict(solver="gd", alpha=ALPHA)
ENET = dict(l1_ratio=0.5, C=0.5)

# name -> case. Every value of every dimension appears at least once:
# binary/multinomial; float64 (C and F order), float32, CSR, CSC, float32
# CSR, dask, array API; solver gd/nesterov (and "auto"); alpha "auto"/fixed;
# preconditioner None/"diagonal"/"cholesky" (and "auto"); L2, elastic net,
# L1, C=inf; sample weights; class_weight "balanced" and a dict;
# fit_intercept=False; warm_start; init="random"; a diverging fixed alpha;
# both paths of the CV search; partial_fit.
CASES = {
    # --- binary, dense float64
    "bin_default": _case("bin"),  # auto: nesterov, alpha auto, diagonal
    "bin_gd_fixed": _case("bin", **GD_FIXED),  # the lecture's plain update
    "bin_gd_auto_none": _case("bin", solver="gd", preconditioner=None),
    "bin_gd_auto_diag": _case("bin", solver="gd", preconditioner="diagonal"),
    "bin_gd_auto_cholesky": _case("bin", solver="gd", preconditioner="cholesky"),
    "bin_gd_fixed_diag": _case("bin", **GD_FIXED, preconditioner="diagonal"),
    "bin_gd_fixed_cholesky": _case("bin", **GD_FIXED, preconditioner="cholesky"),
    "bin_nesterov_auto_cholesky": _case(
        "bin", **NESTEROV, preconditioner="cholesky", C=0.3
    ),
    "bin_nesterov_auto_none": _case("bin", **NESTEROV, preconditioner=None),
    "bin_nesterov_fixed": _case("bin", **NESTEROV, alpha=ALPHA),
    "bin_nesterov_fixed_diag": _case(
        "bin", **NESTEROV, alpha=0.5, preconditioner="diagonal"
    ),
    "bin_enet_gd_fixed": _case("bin", **GD_FIXED, **ENET),
    "bin_enet_nesterov_auto": _case("bin", **NESTEROV, **ENET),
    "bin_l1_nesterov_auto": _case("bin", **NESTEROV, l1_ratio=1.0, C=0.2),
    "bin_no_penalty": _case("bin", C=np.inf),
    "bin_weights_nesterov_cholesky": _case(
        "bin", weights=True, **NESTEROV, preconditioner="cholesky"
    ),
    "bin_weights_gd_fixed": _case("bin", weights=True, **GD_FIXED),
    "bin_balanced_gd_fixed": _case("bin", **GD_FIXED, class_weight="balanced"),
    "bin_class_weight_dict": _case("bin", class_weight={0: 2.0, 1: 0.5}),
    "bin_no_intercept": _case("bin", fit_intercept=False),
    "bin_no_intercept_gd_fixed": _case("bin", **GD_FIXED, fit_intercept=False),
    "bin_random_init_gd_fixed": _case("bin", **GD_FIXED, init="random", random_state=3),
    "bin_warm_start": _case("bin", kind="warm_start", **NESTEROV),
    "bin_diverges": _case("bin", solver="gd", alpha=1.0),  # stops at update 3
    "bin_fortran": _case("bin", "f64F", weights=True, **ENET),
    # --- binary, float32 and sparse
    "bin_f32_default": _case("bin", "f32"),
    "bin_f32_gd_fixed": _case("bin", "f32", **GD_FIXED),
    "bin_f32_nesterov_cholesky": _case(
        "bin", "f32", **NESTEROV, preconditioner="cholesky"
    ),
    "bin_f32_enet_gd_diag_weights": _case(
        "bin", "f32", weights=True, solver="gd", preconditioner="diagonal", **ENET
    ),
    "bin_csr_default": _case("bin_sparse", "csr"),
    "bin_csr_gd_fixed": _case("bin_sparse", "csr", **GD_FIXED),
    "bin_csr_enet_gd_diag_weights": _case(
        "bin_sparse",
        "csr",
        weights=True,
        solver="gd",
        preconditioner="diagonal",
        **ENET,
    ),
    "bin_csr_no_intercept": _case("bin_sparse", "csr", fit_intercept=False),
    "bin_csc_default": _case("bin_sparse", "csc"),
    "bin_csc_enet_nesterov_fixed": _case(
        "bin_sparse", "csc", **NESTEROV, alpha=ALPHA, **ENET
    ),
    "bin_csr32_default_weights": _case("bin_sparse", "csr32", weights=True),
    "bin_dense_of_sparse_default": _case("bin_sparse"),  # dense twin of csr
    # --- multinomial
    "mc_default": _case("mc"),
    "mc_gd_fixed": _case("mc", **GD_FIXED),
    "mc_gd_auto_none": _case("mc", solver="gd", preconditioner=None),
    "mc_gd_fixed_diag": _case("mc", **GD_FIXED, preconditioner="diagonal"),
    "mc_nesterov_auto_cholesky": _case("mc", **NESTEROV, preconditioner="cholesky"),
    "mc_gd_auto_cholesky_weights": _case(
        "mc", weights=True, solver="gd", preconditioner="cholesky"
    ),
    "mc_enet_nesterov_diag_weights": _case(
        "mc", weights=True, **NESTEROV, preconditioner="diagonal", **ENET
    ),
    "mc_l1_gd_fixed": _case("mc", **GD_FIXED, l1_ratio=1.0, C=0.3),
    "mc_no_penalty_gd_fixed": _case("mc", **GD_FIXED, C=np.inf),
    "mc_balanced_nesterov": _case("mc", **NESTEROV, class_weight="balanced"),
    "mc_random_init_nesterov": _case("mc", **NESTEROV, init="random", random_state=5),
    "mc_no_intercept_gd_fixed": _case("mc", **GD_FIXED, fit_intercept=False),
    "mc_warm_start_gd_fixed": _case("mc", kind="warm_start", **GD_FIXED),
    "mc_string_labels": _case("mc_str", weights=True),
    "mc_f32_default": _case("mc", "f32"),
    "mc_f32_enet_gd_fixed": _case("mc", "f32", **GD_FIXED, **ENET),
    "mc_csr_default_weights": _case("mc_sparse", "csr", weights=True),
    "mc_csc_gd_fixed": _case("mc_sparse", "csc", **GD_FIXED),
    "mc_csr_l1_nesterov_fixed": _case(
        "mc_sparse", "csr", **NESTEROV, alpha=ALPHA, l1_ratio=1.0, C=0.3
    ),
    # --- GDLogisticRegressionCV: batched path (solver "gd"/"auto", every
    # training fold sees every class) and sequential path (solver
    # "nesterov", or a training fold missing a class).
    "cv_bin_batched": _case("bin", kind="cv"),
    "cv_bin_batched_diag_Cs_weights_logloss": _case(
        "bin",
        kind="cv",
        weights=True,
        preconditioner="diagonal",
        Cs=[0.1, 1.0],
        scoring="neg_log_loss",
    ),
    "cv_bin_batched_csr_random_init": _case(
        "bin_sparse", "csr", kind="cv", init="random", random_state=2, **ENET
    ),
    "cv_bin_batched_f32_no_intercept": _case(
        "bin", "f32", kind="cv", fit_intercept=False
    ),
    "cv_mc_batched_enet_balanced": _case(
        "mc", kind="cv", class_weight="balanced", **ENET
    ),
    # The default scoring weighs the test scores by sample_weight from
    # scikit-learn 1.9 on (as GridSearchCV), not before; "accuracy" always.
    "cv_mc_batched_diag_weights": _case(
        "mc", kind="cv", weights=True, preconditioner="diagonal", sklearn=(1, 9)
    ),
    "cv_bin_sequential_nesterov": _case("bin", kind="cv", **NESTEROV),
    "cv_mc_sequential_nesterov_diag_weights": _case(
        "mc",
        kind="cv",
        weights=True,
        **NESTEROV,
        preconditioner="diagonal",
        scoring="accuracy",
    ),
    "cv_mc_sequential_missing_class": _case("mc", kind="cv_missing_class"),
    # --- partial_fit over batches (a few calls; see _run_partial_fit)
    "pf_bin_auto": _case("bin", kind="partial_fit"),
    "pf_bin_fixed_schedule": _case("bin", kind="partial_fit", alpha=0.5),
    "pf_mc_fixed_enet_weights": _case(
        "mc", kind="partial_fit", weights=True, alpha=0.5, **ENET
    ),
    "pf_bin_csr_balanced": _case(
        "bin_sparse", "csr", kind="partial_fit", class_weight="balanced"
    ),
    "pf_mc_f32_auto": _case("mc", "f32", kind="partial_fit"),
    "pf_bin_after_fit": _case("bin", kind="fit_then_partial_fit", alpha=0.5),
    # --- dask arrays, threaded scheduler (no cluster)
    "dask_bin_default": _case("bin", "dask"),
    "dask_bin_gd_fixed_weights": _case("bin", "dask", weights=True, **GD_FIXED),
    "dask_mc_enet_nesterov_balanced": _case(
        "mc", "dask", **NESTEROV, class_weight="balanced", **ENET
    ),
    "dask_mc_gd_auto_none_no_intercept": _case(
        "mc", "dask", solver="gd", preconditioner=None, fit_intercept=False
    ),
    # --- array-api-strict arrays (array_api_dispatch=True)
    "xp_bin_default": _case("bin", "xp"),
    "xp_bin_gd_fixed_weights": _case("bin", "xp", weights=True, **GD_FIXED),
    "xp_mc_enet_nesterov_balanced": _case(
        "mc", "xp", **NESTEROV, class_weight="balanced", **ENET
    ),
    "xp_mc_f32_gd_auto_none": _case("mc", "xp32", solver="gd", preconditioner=None),
}

# The fitted models stored in models/: name -> the case that fits them.
MODEL_CASES = {
    "binary": "bin_enet_nesterov_auto",
    "multinomial": "mc_nesterov_auto_cholesky",
    "cv": "cv_mc_batched_enet_balanced",
    "partial_fit": "pf_bin_auto",
}
# Saved with pickle (protocol 4) and skops; these also with joblib.dump.
JOBLIB_MODELS = ("binary",)


def needs(name):
    """The optional module a case needs: "dask", "array_api" or None."""
    inp = CASES[name]["input"]
    if inp == "dask":
        return "dask"
    if inp in ("xp", "xp32"):
        return "array_api"
    return None


# ---------------------------------------------------------------- fitting
def estimator(name):
    """The unfitted estimator of case ``name``."""
    from sklearn_gdlogreg import GDLogisticRegression, GDLogisticRegressionCV

    case = CASES[name]
    params = dict(max_iter=MAX_ITER, tol=0, **case["params"])
    if case["kind"].startswith("cv"):
        return GDLogisticRegressionCV(alphas=[0.05, 0.2, 0.6], cv=3, **params)
    return GDLogisticRegression(**params)


def fit_case(est, name):
    """Fit ``est`` (unfitted, as :func:`estimator` gives) as case ``name``."""
    case = CASES[name]
    X, y, s = datasets()[case["data"]]
    s = s if case["weights"] else None
    inp, kind = case["input"], case["kind"]
    with warnings.catch_warnings():
        # tol=0: every fit stops at max_iter (one case on purpose diverges).
        from sklearn.exceptions import ConvergenceWarning

        warnings.simplefilter("ignore", ConvergenceWarning)
        if kind == "partial_fit":
            return _run_partial_fit(est, X, y, s, inp)
        if kind == "fit_then_partial_fit":
            est.fit(as_input(X, inp), y, sample_weight=s)
            return _run_partial_fit(est, X, y, s, inp, first=False)
        if kind == "cv_missing_class":
            return est.set_params(cv=_folds_missing_a_class(y)).fit(X, y)
        Xi, yi, si = as_input(X, inp), _vector(y, inp), _vector(s, inp)
        if kind == "warm_start":  # a first fit, then more updates from there
            est.set_params(max_iter=10).fit(Xi, yi, sample_weight=si)
            est.set_params(warm_start=True, max_iter=MAX_ITER)
        if inp in ("xp", "xp32"):
            from sklearn import config_context

            with config_context(array_api_dispatch=True):
                return est.fit(Xi, yi, sample_weight=si)
        if inp == "dask":
            import dask

            with dask.config.set(scheduler="threads"):
                return est.fit(Xi, yi, sample_weight=si)
        return est.fit(Xi, yi, sample_weight=si)


def _batches(X, y, s):
    """Three batches of consecutive rows."""
    edges = np.linspace(0, y.size, 4).astype(int)
    for a, b in itertools.pairwise(edges):
        yield X[a:b], y[a:b], None if s is None else s[a:b]


def _run_partial_fit(est, X, y, s, inp, first=True):
    """Five calls: the three batches, then the first two again. A case with
    a numeric alpha gets ``set_params(alpha=alpha / 5)`` after the third call
    (a learning-rate schedule)."""
    classes = np.unique(y)
    batches = list(_batches(X, y, s))
    for k, (Xb, yb, sb) in enumerate(batches + batches[:2]):
        if k == 3 and est.alpha != "auto":
            est.set_params(alpha=est.alpha / 5)
        est.partial_fit(
            as_input(Xb, inp),
            yb,
            classes=classes if first and k == 0 else None,
            sample_weight=sb,
        )
    return est


def _folds_missing_a_class(y):
    """Three folds; the first one's training rows lack class 2 (its test
    rows are all of class 2's samples and some others)."""
    idx = np.arange(y.size)
    test0 = np.concatenate([idx[y == 2], idx[y != 2][:6]])
    rest = np.setdiff1d(idx, test0)
    return [
        (np.setdiff1d(idx, test0), test0),
        (np.setdiff1d(idx, rest[::2]), rest[::2]),
        (np.setdiff1d(idx, rest[1::2]), rest[1::2]),
    ]


# -------------------------------------------------------------- recording
def to_numpy(a):
    """A fitted array (NumPy, dask or array-API) as a NumPy array."""
    if isinstance(a, np.ndarray):
        return a
    if hasattr(a, "compute"):  # dask
        return np.asarray(a.compute())
    if hasattr(a, "__dlpack__"):  # array-api-strict (no implicit conversion)
        return np.from_dlpack(a)
    return np.asarray(a)


def prediction_X(name):
    """The X ``predict_proba`` of case ``name`` is recorded on: its data's
    first 20 rows, in the case's input form."""
    case = CASES[name]
    inp = "f64" if case["kind"] == "cv_missing_class" else case["input"]
    return as_input(datasets()[case["data"]][0][:20], inp)


def record(est, name):
    """The numeric fitted attributes of ``est`` (fitted as case ``name``)."""
    out = {}
    names = ["classes_", "coef_", "intercept_", "cost_history_", "n_iter_", "alpha_"]
    if CASES[name]["kind"].startswith("cv"):
        names += ["C_", "best_index_", "best_score_", "n_splits_"]
        for key, value in est.cv_results_.items():
            if key == "params" or key.endswith("_time"):
                continue  # dicts, and wall-clock times
            out[f"cv_results_/{key}"] = np.asarray(np.ma.getdata(value))
        histories = [h for per_setting in est.cost_histories_ for h in per_setting]
        out["cost_histories_"] = np.concatenate(histories)
        out["cost_histories_/lengths"] = np.array([h.size for h in histories])
    for attr in names:
        out[attr] = np.asarray(to_numpy(getattr(est, attr)))
    X_pred = prediction_X(name)
    if CASES[name]["input"] in ("xp", "xp32"):
        from sklearn import config_context

        with config_context(array_api_dispatch=True):
            out["predict_proba"] = to_numpy(est.predict_proba(X_pred))
    elif CASES[name]["input"] == "dask":
        import dask

        with dask.config.set(scheduler="threads"):
            out["predict_proba"] = to_numpy(est.predict_proba(X_pred))
    else:
        out["predict_proba"] = est.predict_proba(X_pred)
    return out


def run_case(name):
    """Fit case ``name`` with today's code: ``(arrays, fitted estimator)``."""
    est = fit_case(estimator(name), name)
    return record(est, name), est


def compute(names):
    """``{"<case>/<attribute>": array}`` of the given cases."""
    out = {}
    for name in names:
        arrays, _ = run_case(name)
        out.update({f"{name}/{key}": value for key, value in arrays.items()})
    return out


def differences(a, b):
    """The keys whose arrays are not bitwise equal (or not in both)."""
    bad = sorted(set(a) ^ set(b))
    for key in sorted(set(a) & set(b)):
        x, y = a[key], b[key]
        if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
            bad.append(key)
    return bad


# ------------------------------------------------------------ environment
def _x86_64_v3():
    """Whether the CPU runs the ``x86-64-v3`` clones of the compiled kernels
    (``target_clones`` in ``_numerics/_simd.h``: another clone rounds
    otherwise); None where ``/proc/cpuinfo`` does not tell."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            need = {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe"}
            return need <= flags
    return None


def _blas():
    """NumPy's and SciPy's BLAS as loaded: library, version and the CPU
    kernels it picked at run time (they round differently)."""
    import numpy
    import scipy
    import scipy.linalg  # loads SciPy's BLAS
    from threadpoolctl import threadpool_info

    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    roots = [os.path.dirname(m.__file__) for m in (numpy, scipy)]
    ours = [i for i in blas if any(i["filepath"].startswith(r) for r in roots)]
    return sorted(
        {
            f"{i['internal_api']} {i['version']} {i.get('architecture')}"
            for i in ours or blas
        }
    )


def environment():
    """What the bitwise comparison depends on, and a few versions more."""
    import scipy
    import sklearn

    env = {
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "machine": platform.machine(),
        "blas": _blas(),
        "x86_64_v3": _x86_64_v3(),
        "scikit-learn": sklearn.__version__,
        "python": platform.python_version(),
    }
    for module in ("dask", "array_api_strict", "skops", "joblib"):
        try:
            env[module] = __import__(module).__version__
        except ImportError:
            env[module] = None
    return env


# Keys of environment() that must match for the comparison to be bitwise
# (scikit-learn's version need not: CI also runs with 1.6.1), and those that
# must match too for the cases needing an optional module.
BITWISE_KEYS = ("numpy", "scipy", "machine", "blas", "x86_64_v3")
BITWISE_KEYS_OF = {"dask": ("dask",), "array_api": ("array_api_strict",)}


# ----------------------------------------------------------------- models
def save_models(arrays):
    """Fit and save the models of :data:`MODEL_CASES`; add to ``arrays``
    what the tests expect of them."""
    import joblib
    import skops.io as sio

    MODELS.mkdir(exist_ok=True)
    for model, name in MODEL_CASES.items():
        _, est = run_case(name)
        X = np.ascontiguousarray(datasets()[CASES[name]["data"]][0][-12:])
        arrays[f"models/{model}/X"] = X
        arrays[f"models/{model}/predict_proba"] = est.predict_proba(X)
        with open(MODELS / f"{model}.pkl", "wb") as f:
            pickle.dump(est, f, protocol=4)
        if model in JOBLIB_MODELS:
            joblib.dump(est, MODELS / f"{model}.joblib")
        sio.dump(est, MODELS / f"{model}.skops")
        if model == "partial_fit":
            after = extra_partial_fit(pickle.loads(pickle.dumps(est, protocol=4)))
            for attr in ("coef_", "intercept_", "n_iter_", "alpha_", "cost_history_"):
                arrays[f"models/{model}/after/{attr}"] = np.asarray(
                    getattr(after, attr)
                )


def extra_partial_fit(est):
    """One more ``partial_fit`` call on a stored partial_fit model."""
    X, y, _ = datasets()[CASES[MODEL_CASES["partial_fit"]]["data"]]
    return est.partial_fit(X[:30], y[:30])


# ------------------------------------------------------------------- main
def _compute_in_subprocess(names, env=None, twice=False):
    """:func:`compute` in a fresh interpreter (``env``: extra variables)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.npz"
        cmd = [sys.executable, __file__, "--compute", str(out), "--cases", *names]
        if twice:
            cmd.append("--twice")
        subprocess.run(cmd, env={**os.environ, **(env or {})}, check=True)
        with np.load(out) as f:
            return dict(f)


def _compute_checked(names, twice):
    first = compute(names)
    if twice:
        bad = differences(first, compute(names))
        if bad:
            raise SystemExit(f"Not deterministic within a process: {bad}")
    return first


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compute", help=argparse.SUPPRESS)  # subprocess mode
    parser.add_argument("--cases", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--twice", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.compute:
        np.savez(args.compute, **_compute_checked(args.cases, args.twice))
        return

    import sklearn

    if tuple(int(p) for p in sklearn.__version__.split(".")[:2]) < (1, 9):
        raise SystemExit("Record with scikit-learn >= 1.9 (the array-API cases).")
    plain = [n for n in CASES if needs(n) != "array_api"]
    xp = [n for n in CASES if needs(n) == "array_api"]
    # The array-API path needs SCIPY_ARRAY_API=1 before SciPy is imported;
    # the other cases are recorded without it (as the test suite runs).
    xp_env = {"SCIPY_ARRAY_API": "1"}
    arrays = _compute_checked(plain, twice=True)
    checks = {
        "a fresh process": (arrays, _compute_in_subprocess(plain)),
        "a fresh process with SCIPY_ARRAY_API=1": (
            arrays,
            _compute_in_subprocess(plain, xp_env),
        ),
    }
    xp_arrays = _compute_in_subprocess(xp, xp_env, twice=True)
    checks["a second fresh process (array API)"] = (
        xp_arrays,
        _compute_in_subprocess(xp, xp_env),
    )
    for where, (a, b) in checks.items():
        bad = differences(a, b)
        if bad:
            raise SystemExit(f"Not the same in {where}: {bad}")
    arrays.update(xp_arrays)
    save_models(arrays)
    np.savez_compressed(RESULTS, **arrays)
    ENVIRONMENT.write_text(json.dumps(environment(), indent=2) + "\n")
    print(
        f"{len(CASES)} cases, {len(arrays)} arrays: {RESULTS}, {ENVIRONMENT}, {MODELS}"
    )


if __name__ == "__main__":
    main()
