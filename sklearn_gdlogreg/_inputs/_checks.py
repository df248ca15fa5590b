"""What a fit is given, checked once: its classes and its weights ``s_i``.

Every input kind (NumPy and SciPy, the array API, dask, each fold of the
CV) checks its labels and takes its class weights and ``s_i`` (sample
weight times class weight) here, so that a bad input is reported by name,
with the fix, wherever it enters: never as an error about X, and never as a
silently wrong model.

The cost divides by ``S = sum_i s_i`` and its penalty is ``1 / (C S)``; only
the weights' ratios and the product ``C S`` matter. Multiplying every weight
by ``k`` and dividing ``C`` by ``k`` gives the same model, which is the fix
offered when ``S`` overflows or a weight is too small for float64.
"""

import numpy as np

from .._compat import _check_sample_weight, compute_class_weight

_TINY = np.finfo(np.float64).tiny  # the smallest normal float64, 2.2e-308
# The largest penalty 1 / (C S): its square (in the step bound and the
# diagonal scale) stays finite. Beyond it every coefficient is zero to
# float64's precision anyway.
_MAX_PENALTY = float(np.sqrt(np.finfo(np.float64).max))  # 1.3e154


def check_two_classes(classes):
    """Raise ValueError unless there are at least two classes.

    Parameters
    ----------
    classes : array of shape (n_classes,)
        The distinct labels of the training data.
    """
    if len(classes) < 2:
        raise ValueError(
            "This solver needs samples of at least 2 classes in the data, "
            f"but the data contains only one class: {classes[0]!r}."
        )


def class_weights(class_weight, *, classes, y, sample_weight):
    """The weight of each class, as ``compute_class_weight`` gives it, checked.

    Parameters
    ----------
    class_weight : dict or "balanced"
        The estimator's parameter.
    classes : ndarray of shape (n_classes,)
    y : ndarray of shape (n_samples,)
        Labels (for "balanced").
    sample_weight : ndarray of shape (n_samples,)
        Validated sample weights (for "balanced").

    Returns
    -------
    ndarray of shape (n_classes,)
        With "balanced", a class whose samples all weigh zero gets an
        infinite weight; its samples keep weight zero (see :func:`weighted`).

    Raises
    ------
    ValueError
        A dict value that is negative, NaN or infinite.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        cw = compute_class_weight(
            class_weight, classes=classes, y=y, sample_weight=sample_weight
        )
    if not isinstance(class_weight, str):
        bad = ~(np.isfinite(cw) & (cw >= 0))
        if bad.any():
            given = {c.item(): w.item() for c, w in zip(classes[bad], cw[bad])}
            raise ValueError(
                f"class_weight values must be finite and non-negative; got "
                f"{given}. Give each class a weight >= 0 (0 drops its samples)."
            )
    return cw


def weighted(s, cw, y_enc):
    """``s_i`` times the weight of sample i's class (0 where ``s_i`` is 0)."""
    with np.errstate(invalid="ignore"):  # 0 * inf for an empty balanced class
        return np.where(s > 0, s * cw[y_enc], 0.0)


def check_weights(s, C):
    """Check the weights ``s_i`` the cost is built from (see module docstring).

    Parameters
    ----------
    s : ndarray of shape (n_samples,)
        Non-negative, finite weights (sample weight times class weight).
    C : float
        The inverse penalty strength (the penalty is ``1 / (C S)``).

    Raises
    ------
    ValueError
        They sum to zero, their sum overflows, a positive one is below
        float64's normal range (it has lost precision), or ``1 / (C S)``
        overflows.
    """
    smallest = float(np.min(s, where=s > 0, initial=np.inf))
    with np.errstate(over="ignore"):  # an overflowing sum is reported below
        total = float(np.sum(s))
    check_weight_sum(total, smallest if np.isfinite(smallest) else 0.0, C)


def check_weight_sum(total, smallest_positive, C):
    """:func:`check_weights` from two scalars (computed lazily for dask).

    Parameters
    ----------
    total : float
        ``sum_i s_i``.
    smallest_positive : float
        The smallest positive ``s_i`` (0 when there is none).
    C : float
    """
    if not total > 0:
        raise ValueError(
            "The sample weights (times the class weights) sum to zero: "
            "at least one sample must have a positive weight."
        )
    if not np.isfinite(total):
        raise ValueError(
            "The sample weights (times the class weights) sum to more than "
            "float64 holds (1.8e308). Only their ratios and C times their sum "
            "matter: divide sample_weight by a constant k and multiply C by k "
            "for the same model."
        )
    if smallest_positive < _TINY:
        raise ValueError(
            f"A sample weight (times its class weight) is "
            f"{smallest_positive:.3g}, below float64's normal range (2.2e-308), "
            "where it has lost precision. Only the weights' ratios and C times "
            "their sum matter: multiply sample_weight (or every class_weight "
            "value) by a constant k and divide C by k for the same model."
        )
    check_penalty(C, total)


def check_penalty(C, total):
    """Raise ValueError when the penalty ``1 / (C S)`` exceeds 1.3e154.

    Parameters
    ----------
    C : float
    total : float
        ``S = sum_i s_i``, positive.
    """
    with np.errstate(divide="ignore", over="ignore"):
        too_large = not 1.0 / (C * total) <= _MAX_PENALTY
    if too_large:
        raise ValueError(
            f"The penalty 1 / (C * sum of sample weights) is beyond 1.3e154 "
            f"(C={C:.3g}, sum={total:.3g}): every coefficient would be zero "
            "to float64's precision, and its square overflows. Only the "
            "weights' ratios and C times their sum matter: increase C, or the "
            "weights keeping C."
        )


def sample_weights(X, y, y_enc, classes, sample_weight, *, class_weight, C):
    """``s_i`` = sample weight times class weight, validated, float64.

    Parameters
    ----------
    X : array of shape (n_samples, ...)
        Only its number of rows is read.
    y, y_enc : ndarray of shape (n_samples,)
        The labels and their indices in ``classes``.
    classes : ndarray of shape (n_classes,)
    sample_weight : array-like of shape (n_samples,) or None
    class_weight : dict, "balanced" or None
    C : float
        The penalty's inverse strength, checked with the weights' sum.

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    s = _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True
    )
    if class_weight is not None:
        cw = class_weights(class_weight, classes=classes, y=y, sample_weight=s)
        s = weighted(s, cw, y_enc)
    check_weights(s, C)
    return s
