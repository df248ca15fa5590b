"""The rows early stopping holds out: scikit-learn's split for it.

As ``SGDClassifier(early_stopping=True)``: one ``StratifiedShuffleSplit``
with ``test_size=validation_fraction`` and the estimator's ``random_state``.
"""

import math

import numpy as np
from sklearn.model_selection import StratifiedShuffleSplit


def validation_rows(y, *, validation_fraction, random_state):
    """The held-out rows of X, sorted (the rest are trained on).

    ``ceil(validation_fraction * n_samples)`` rows, as SGDClassifier holds
    out (the same rows for the same ``random_state``), or one per class where
    that is fewer: a stratified split needs one (tiny data sets).

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        The labels, for the stratification.
    validation_fraction : float
        In (0, 1).
    random_state : int, RandomState instance or None

    Returns
    -------
    ndarray of shape (n_held_out,)

    Raises
    ------
    ValueError
        The split is impossible (a class with one sample, fewer samples than
        twice the classes): named, with the fix.

    Examples
    --------
    >>> validation_rows(np.array([0, 1] * 5), validation_fraction=0.2, random_state=0)
    array([7, 8])
    """
    n = y.shape[0]
    n_classes = np.unique(y).size
    n_held_out = max(math.ceil(validation_fraction * n), n_classes)
    splitter = StratifiedShuffleSplit(test_size=n_held_out, random_state=random_state)
    try:
        _, held_out = next(splitter.split(np.zeros((n, 1)), y))
    except ValueError as exc:
        raise ValueError(
            f"early_stopping=True holds out validation_fraction="
            f"{validation_fraction} of the {n} samples (at least one per "
            f"class), stratified by class, which is impossible here: {exc} Use "
            "more samples, or early_stopping=False."
        ) from exc
    return np.sort(held_out)
