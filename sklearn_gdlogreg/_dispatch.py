"""Fits on inputs other than one in-memory NumPy/SciPy array.

:func:`scale_out_preparation` picks, from X's type, the preparation of a dask
array (:mod:`._dask`) or of an array-API array (:mod:`._array_api`, with
``array_api_dispatch=True``); :func:`fit_scaled_out` then runs the same
solvers as :meth:`GDLogisticRegression.fit` on the objective it built and
sets the fitted attributes. NumPy, SciPy sparse and list input keep the
estimator's own path (the factory returns None).
"""

import numpy as np
from sklearn import get_config
from sklearn.utils import check_random_state

from ._compat import check_same_namespace
from ._solvers import SOLVERS


def scale_out_preparation(X):
    """``prepare(est, X, y, sample_weight) -> (objective, classes)`` or None."""
    from ._dask import is_dask_array

    if is_dask_array(X):
        from ._dask_estimator import prepare_dask

        return prepare_dask
    from ._array_api import is_array_api_input

    if is_array_api_input(X):
        from ._array_api import prepare_array_api

        return prepare_array_api
    return None


def fit_scaled_out(est, prepare, X, y, sample_weight):
    """``est.fit`` on a dask or array-API X: same solvers, same attributes.

    The coefficients come back in the objective's output namespace
    (``objective.as_output``); ``cost_history_`` is a NumPy array.
    """
    objective, classes = prepare(est, X, y, sample_weight)
    theta0 = objective.from_original(*_initial_coef(est, objective, classes))
    if est.alpha == "auto":
        L = objective.lipschitz()
        if not np.isfinite(L):
            raise ValueError(
                "The curvature bound of the cost overflows for this data: "
                "rescale X (e.g. StandardScaler) or convert it to float64."
            )
        step = 1.0 / L if L > 0 else 1.0
    else:
        step = float(est.alpha)
    result = SOLVERS[est.solver](
        objective,
        theta0,
        step=step,
        adaptive=est.alpha == "auto",
        max_iter=est.max_iter,
        tol=est.tol,
        verbose=est.verbose,
    )
    est._warn_if_unconverged(result, objective)
    w, b = objective.to_original(result.theta)
    if classes.size > 2:
        b = b - objective.xp.mean(b)  # softmax is invariant to a common shift
    est.classes_ = classes
    est.coef_ = objective.as_output(w.T)
    est.intercept_ = objective.as_output(b)
    est.n_iter_ = int(result.n_iter)
    est.alpha_ = float(result.step)
    est.cost_history_ = objective.history(result.cost_history)
    return est


def scale_out_predict(est, method, X):
    """``est.<method>(X)`` for dask or array-API X, or None for NumPy X.

    ``method`` is "predict_proba" or "predict_log_proba": a lazy dask array
    for a dask X; the result in X's namespace and device for an array-API X
    (with ``array_api_dispatch=True``, which also checks that X matches the
    namespace and device of the fit).
    """
    from ._dask import is_dask_array
    from ._dask_estimator import lazy_predict

    if is_dask_array(X):
        return lazy_predict(est, method, X)
    if get_config()["array_api_dispatch"]:
        check_same_namespace(X, est, attribute="coef_", method=method)
        from ._array_api import is_array_api_input, predict_proba_xp

        if is_array_api_input(X):
            return predict_proba_xp(est, X, log=method == "predict_log_proba")
    return None


def resolve_preconditioner(est, kind):
    """The estimator's preconditioner for a ``kind`` ("dask", ...) input.

    ``"auto"`` is resolved as in ``fit``; ``"cholesky"`` (a dense d x d
    factorization on the host) is refused with a clear error.
    """
    preconditioner = est.preconditioner
    if preconditioner == "auto":
        return "diagonal" if est.alpha == "auto" else None
    if preconditioner not in (None, "diagonal"):
        raise ValueError(
            f"preconditioner={preconditioner!r} is not supported for {kind} "
            "input; use preconditioner='diagonal' (or 'auto'), or NumPy input."
        )
    return preconditioner


def _initial_coef(est, objective, classes):
    """NumPy ``(w, b)`` to start from: warm start, zeros or small random."""
    d, k, dtype = objective.n_features, objective.n_out, objective.dtype
    if est.warm_start and hasattr(est, "coef_"):
        coef, intercept = (
            objective.to_numpy(est.coef_),
            objective.to_numpy(est.intercept_),
        )
        if coef.shape == (k, d) and np.array_equal(est.classes_, classes):
            return coef.T.astype(dtype), intercept.astype(dtype)
    if est.init == "random":
        rng = check_random_state(est.random_state)
        w = rng.normal(scale=0.01, size=(d, k)).astype(dtype)
        b = rng.normal(scale=0.01, size=k).astype(dtype)
        return w, b if est.fit_intercept else np.zeros(k, dtype=dtype)
    return np.zeros((d, k), dtype=dtype), np.zeros(k, dtype=dtype)
