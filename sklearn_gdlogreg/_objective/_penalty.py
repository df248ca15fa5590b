"""The penalty of ``J``: ``l2/2 ||w||^2 + l1 ||w||_1`` on the user's weights.

Its strengths from the estimator's parameters, and the proximal step of its
L1 part (the soft-threshold), written once for every array world (NumPy,
dask, the array API, the batched CV).
"""

import numpy as np


def strengths(C, l1_ratio, S):
    """``(l2, l1) = ((1 - l1_ratio) / (C S), l1_ratio / (C S))``.

    Parameters
    ----------
    C : float or ndarray
        Inverse penalty strength; ``inf`` gives no penalty (``1/inf = 0``).
    l1_ratio : float
        Elastic-net mixing, 0 = L2, 1 = L1.
    S : float or ndarray
        The sum of the sample weights (positive), one per model for arrays.

    Returns
    -------
    l2, l1 : float or ndarray
        Python floats for float arguments (they multiply arrays of any
        namespace).

    Examples
    --------
    >>> strengths(1.0, 0.5, 4.0)
    (0.125, 0.125)
    """
    penalty = 1.0 / (C * S)
    return (1.0 - l1_ratio) * penalty, l1_ratio * penalty


def soft_threshold(w, threshold, xp=np):
    """The L1 proximal step: ``sign(w) max(|w| - threshold, 0)``, elementwise.

    ``max(a, 0)`` is taken as ``(a + |a|) / 2``, exactly (a scalar operand
    is not portable to the array API's ``maximum``).

    Parameters
    ----------
    w : array
    threshold : float or array broadcasting against ``w``
    xp : namespace

    Returns
    -------
    array of the shape of ``w``

    Examples
    --------
    >>> soft_threshold(np.array([-2.0, 0.5, 3.0]), 1.0)
    array([-1.,  0.,  2.])
    """
    a = xp.abs(w) - threshold
    return xp.sign(w) * ((a + xp.abs(a)) / 2)
