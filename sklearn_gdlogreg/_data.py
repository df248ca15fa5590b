"""Data access: the only places that read X.

Gradient descent touches X through two products per iteration, ``X @ W`` and
``X.T @ R``, plus a one-off pass for the weighted column moments used by the
diagonal preconditioner. They work unchanged on dense arrays (C or F order,
read-only, memory-mapped) and on scipy CSR/CSC matrices, and never copy or
densify X.
"""

import numpy as np
import scipy.sparse as sp

_BLOCK_ROWS = 4096


def matmul(X, W):
    """Return ``X @ W`` for dense or sparse ``X`` and dense ``W`` (2-D)."""
    return np.asarray(X @ W)


def rmatmul(X, R):
    """Return ``X.T @ R`` for dense or sparse ``X`` and dense ``R`` (2-D)."""
    return np.asarray(X.T @ R)


def _row_blocks(n):
    for start in range(0, n, _BLOCK_ROWS):
        yield slice(start, min(start + _BLOCK_ROWS, n))


def weighted_column_moments(X, s):
    """Weighted mean and variance of every column of X.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
    s : ndarray of shape (n_samples,)
        Non-negative weights summing to one.

    Returns
    -------
    mean, var : ndarray of shape (n_features,), float64
        Two-pass (centred) variance, computed block by block so that no
        temporary of the size of X is made.
    """
    s = np.asarray(s, dtype=np.float64)
    if sp.issparse(X):
        mean = np.asarray(X.T @ s, dtype=np.float64).ravel()
        # E[(x - mean)^2] = E[x^2] - mean^2 (sparse data is never centred).
        data = np.asarray(X.data, dtype=np.float64)
        if X.format == "csr":
            cols = X.indices
            row_w = np.repeat(s, np.diff(X.indptr))
        else:  # csc
            cols = np.repeat(np.arange(X.shape[1]), np.diff(X.indptr))
            row_w = s[X.indices]
        sq = np.bincount(cols, weights=data * data * row_w, minlength=X.shape[1])
        var = np.maximum(sq - mean**2, 0.0)
        return mean, var
    mean = np.zeros(X.shape[1])
    for rows in _row_blocks(X.shape[0]):
        mean += s[rows] @ X[rows]
    var = np.zeros(X.shape[1])
    for rows in _row_blocks(X.shape[0]):
        centred = X[rows] - mean
        var += s[rows] @ (centred * centred)
    return mean, var


def weighted_gram(X, s, mean, scale, fit_intercept):
    """``A.T @ diag(s) @ A`` for ``A = [(X - mean) / scale, 1]``, dense X.

    Computed in row blocks: one pass over X, temporaries of one block only.
    The trailing row/column of ones is present only when ``fit_intercept``.
    """
    p = X.shape[1] + int(fit_intercept)
    gram = np.zeros((p, p))
    for rows in _row_blocks(X.shape[0]):
        A = (np.asarray(X[rows], dtype=np.float64) - mean) / scale
        if fit_intercept:
            A = np.hstack([A, np.ones((A.shape[0], 1))])
        gram += (A * s[rows, None]).T @ A
    return gram
