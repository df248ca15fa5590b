"""When ``J`` has risen: the one test of every solver.

An update has raised ``J`` when ``J`` is not finite or exceeds its reference
by more than rounding, relative to ``max(1, |J|)``. float32 sums of a few
thousand terms are good to about 1e-6 at best: below that a "rise" is
rounding, and halving the step (or stopping as diverged) for it would stall
the descent.
"""

import math

import numpy as np

RISE_RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5}


def rise_rtol(dtype):
    """The relative rise of ``J`` that is more than rounding, for ``dtype``.

    Examples
    --------
    >>> rise_rtol(np.float32)
    1e-05
    """
    return RISE_RTOL[np.dtype(dtype)]


def rose(J_new, J_ref, rtol):
    """Whether ``J_new`` is not finite or exceeds ``J_ref`` beyond rounding.

    Scalar arithmetic only (no NumPy call): the solvers test every update,
    and on small data a NumPy call is a visible part of the iteration.

    Examples
    --------
    >>> rose(1.0 + 1e-13, 1.0, rise_rtol(np.float64)), rose(1.1, 1.0, 1e-12)
    (False, True)
    """
    return not math.isfinite(J_new) or J_new > J_ref + rtol * max(1.0, abs(J_ref))


def rise_limits(J, rtol):
    """The largest value each model's ``J`` may take: :func:`rose`, vectorized.

    Parameters
    ----------
    J : ndarray of shape (n_models,)
        The references (each model's starting cost).
    rtol : float

    Returns
    -------
    ndarray of shape (n_models,)
        A value above its limit, or NaN, is a rise.
    """
    return J + rtol * np.maximum(1.0, np.abs(J))
