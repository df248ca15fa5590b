"""The lecture's update, written once: every solver takes its steps here.

The solvers hold the weights and the intercept in one array ``theta``
(``w`` in rows ``0 .. n_features - 1``, ``b`` in the last row, one column
per output) and their gradients in ``dtheta`` of the same layout, so the
lecture's two lines are one expression over the stacked array.

``theta`` is in the objective's coordinates (:mod:`.._objective._coordinates`):
with the diagonal preconditioner ``w = w' / scale`` and
``b = b' - mean . w``, with the Cholesky one ``w = R^{-T} w'``, and without
one ``w' = w``, ``b' = b``: the lecture's step itself. The objective's
``to_original`` maps the result back to ``coef_`` and ``intercept_``.
"""


def lecture_update(theta, dtheta, alpha):
    """One gradient-descent step: ``w := w - alpha * dw``, ``b := b - alpha * db``.

    Parameters
    ----------
    theta : array of shape (n_dof, ...)
        ``w`` stacked over ``b`` (the intercept row last, when fitted).
    dtheta : array of the shape of ``theta``
        ``dw`` stacked over ``db``: the gradient of ``J`` at ``theta``.
    alpha : float or array
        The learning rate (one per model for the batched CV, broadcasting
        against ``theta``'s trailing dimensions).

    Returns
    -------
    array
        A new array; ``theta`` is not modified. With an L1 penalty the
        solver follows it with the objective's proximal step.

    Examples
    --------
    >>> import numpy as np
    >>> w, b, dw, db = np.array([1.0, 2.0]), 0.5, np.array([0.5, -1.0]), 0.25
    >>> theta, dtheta = np.append(w, b), np.append(dw, db)
    >>> lecture_update(theta, dtheta, alpha=0.1)
    array([0.95 , 2.1  , 0.475])
    """
    return theta - alpha * dtheta
