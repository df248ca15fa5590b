"""Predictions of inputs other than NumPy/SciPy, in X's own world.

A dask X gets lazy dask arrays, computed block by block with the NumPy
methods (:class:`DaskPredictMixin`, :func:`lazy_predict`); an array-API X
(with ``array_api_dispatch=True``) gets its probabilities in its namespace,
on its device (:func:`predict_proba_xp`). :func:`non_numpy_proba` routes.
"""

import numpy as np
from sklearn import get_config

from ._compat import check_same_namespace, get_namespace
from ._inputs._routing import is_array_api_input, is_dask_array


def non_numpy_proba(est, method, X):
    """``est.<method>(X)`` for dask or array-API X, or None for NumPy X.

    ``method`` is "predict_proba" or "predict_log_proba": a lazy dask array
    for a dask X; the result in X's namespace and device for an array-API X
    (with ``array_api_dispatch=True``, which also checks that X matches the
    namespace and device of the fit).
    """
    if is_dask_array(X):
        return lazy_predict(est, method, X)
    if get_config()["array_api_dispatch"]:
        check_same_namespace(X, est, attribute="coef_", method=method)
        if is_array_api_input(X):
            return predict_proba_xp(est, X, log=method == "predict_log_proba")
    return None


def predict_proba_xp(est, X, log=False):
    """(Log-)probabilities of an array-API X, in its namespace and device."""
    xp, _ = get_namespace(X)
    scores = est.decision_function(X)
    if scores.ndim == 1:  # [1 - sigmoid(s), sigmoid(s)] = softmax([0, s])
        scores = xp.stack([xp.zeros_like(scores), scores], axis=1)
    m = xp.max(scores, axis=1, keepdims=True)
    shifted = scores - m
    log_norm = xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))
    return shifted - log_norm if log else xp.exp(shifted - log_norm)


def lazy_predict(est, method, X):
    """``est.<method>`` of a dask array: a lazy dask array, block by block."""
    X = X.rechunk({1: -1})
    func = getattr(est, method)
    n_classes = est.classes_.size
    if method == "predict" or (method == "decision_function" and n_classes == 2):
        dtype = est.classes_.dtype if method == "predict" else X.dtype
        return X.map_blocks(func, drop_axis=1, dtype=dtype, meta=np.empty(0, dtype))
    dtype = np.result_type(X.dtype, est.coef_.dtype)
    return X.map_blocks(
        func, chunks=(X.chunks[0], (n_classes,)), dtype=dtype,
        meta=np.empty((0, 0), dtype),
    )  # fmt: skip


class DaskPredictMixin:
    """``decision_function`` and ``predict`` of a dask array stay lazy."""

    def decision_function(self, X):
        """Decision values ``X @ coef_.T + intercept_`` (lazy for dask X).

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        scores : ndarray or dask array of shape (n_samples,) or (n_samples, n_classes)
            A lazy dask array, computed block by block, when X is one.
        """
        if is_dask_array(X):
            return lazy_predict(self, "decision_function", X)
        return super().decision_function(X)

    def predict(self, X):
        """Predicted class labels (lazy for dask X).

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        labels : ndarray or dask array of shape (n_samples,)
            A lazy dask array, computed block by block, when X is one.
        """
        if is_dask_array(X):
            return lazy_predict(self, "predict", X)
        return super().predict(X)
