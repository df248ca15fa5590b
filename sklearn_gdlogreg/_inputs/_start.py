"""The starting point of the descent: zeros (the lecture's advice) or small
random values."""

import numpy as np
from sklearn.utils import check_random_state


def start_point(n_features, n_out, dtype, *, init, random_state, fit_intercept):
    """``(w, b)`` of shapes ``(n_features, n_out)`` and ``(n_out,)``.

    Parameters
    ----------
    n_features, n_out : int
    dtype : dtype
    init : {"zeros", "random"}
        ``"random"``: normal with standard deviation 0.01, ``w`` drawn
        before ``b`` (``b`` is drawn, then zeroed, without an intercept, so
        that ``w`` is the same either way).
    random_state : int, RandomState instance or None
    fit_intercept : bool

    Returns
    -------
    w, b : ndarray

    Examples
    --------
    >>> w, b = start_point(2, 1, "float64", init="zeros", random_state=None,
    ...                    fit_intercept=True)
    >>> w.shape, b.shape
    ((2, 1), (1,))
    """
    d, k = n_features, n_out
    if init == "random":
        rng = check_random_state(random_state)
        w = rng.normal(scale=0.01, size=(d, k)).astype(dtype)
        b = rng.normal(scale=0.01, size=k).astype(dtype)
        return w, b if fit_intercept else np.zeros(k, dtype=dtype)
    return np.zeros((d, k), dtype=dtype), np.zeros(k, dtype=dtype)
