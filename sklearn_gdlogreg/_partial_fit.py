"""``partial_fit``: one gradient step of the lecture's update per mini-batch.

Each call builds the cost ``J`` of ``_objective`` on the given batch alone
(its own ``S = sum_i s_i``, so the penalty is ``1/(C S)`` of that batch),
evaluates ``J`` and its gradient at the current coefficients in one pass over
the batch, and takes one step::

    w := w - alpha * dw,    b := b - alpha * db

(followed by the soft-threshold for an L1 penalty): mini-batch gradient
descent. The step is always taken in the plain coordinates (the diagonal
preconditioner would change coordinates with every batch). ``alpha="auto"``
uses ``1/L`` for the first batch's curvature bound ``L`` and keeps it. An
``alpha`` changed with ``set_params`` between calls (a learning-rate
schedule) is the step from the next call on.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.utils.multiclass import check_classification_targets

from ._compat import _check_partial_fit_first_call, validate_data
from ._objective._array_api import is_array_api_input
from ._objective._numpy import LogisticObjective
from ._solvers._descent import learning_rate


def partial_fit(est, X, y, classes, sample_weight):
    """One mini-batch gradient step of ``est``.

    Parameters
    ----------
    est : GDLogisticRegression
        The estimator; its fitted attributes are created or updated (the
        caller restores them on error).
    X, y, classes, sample_weight
        As in :meth:`GDLogisticRegression.partial_fit`.

    Returns
    -------
    est : GDLogisticRegression
    """
    if is_array_api_input(X):
        raise ValueError(
            "partial_fit takes NumPy or SciPy batches; with "
            "array_api_dispatch=True, fit() handles torch/CuPy arrays in their "
            "namespace. Convert the batch to NumPy for partial_fit."
        )
    first_call = _check_partial_fit_first_call(est, classes)
    if est.classes_.size < 2:
        raise ValueError(
            f"partial_fit needs at least 2 classes in `classes`, got {est.classes_!r}."
        )
    with np.errstate(over="ignore", invalid="ignore"):  # as in fit
        X, y = validate_data(
            est,
            X,
            y,
            reset=first_call,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
        )
    if sp.issparse(X) and not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    check_classification_targets(y)
    y_enc = _encode(y, est.classes_)
    objective = _batch_objective(est, X, y, y_enc, sample_weight)

    if first_call:
        w, b = est._initial_coef(objective, est.classes_)  # as fit starts
    else:
        w, b = est.coef_.T, est.intercept_
    new_stream = first_call or getattr(est, "_partial_fit_coef", None) is not est.coef_
    # The step for the plain coordinates: chosen for a new stream (first
    # call, or continuing from `fit`), and again when alpha was set between
    # calls (a learning-rate schedule).
    if new_stream or est.alpha != est._partial_fit_alpha:
        est.alpha_ = learning_rate(est.alpha, objective)
        est._partial_fit_alpha = est.alpha
    if new_stream:  # count calls and batch costs afresh
        est.n_iter_ = 0
        est.cost_history_ = np.empty(0)
    theta = objective.from_original(w.astype(X.dtype), b.astype(X.dtype))

    J, dtheta = objective.value_grad(theta)  # one pass over the batch
    step = est.alpha_
    theta = objective.prox(theta - step * dtheta, step)  # the lecture's update

    w, b = objective.to_original(theta)
    est.coef_ = np.ascontiguousarray(w.T)
    est.intercept_ = np.asarray(b, dtype=X.dtype)
    est.n_iter_ += 1
    est.cost_history_ = np.append(est.cost_history_, J)
    est._partial_fit_coef = est.coef_  # marks coef_ as partial_fit's own
    return est


def _encode(y, classes):
    """Indices of ``y`` in ``classes``; every label must be one of them."""
    unknown = ~np.isin(y, classes)
    if unknown.any():
        raise ValueError(
            f"y contains labels {np.unique(y[unknown]).tolist()} that are not in "
            f"the classes {classes.tolist()} given on the first call to "
            "partial_fit; pass every class of the stream in `classes`."
        )
    return np.searchsorted(classes, y)


def _batch_objective(est, X, y, y_enc, sample_weight):
    """The cost ``J`` of this batch, in plain coordinates."""
    classes = est.classes_
    if isinstance(est.class_weight, str):  # "balanced", within the batch
        present = np.unique(y_enc)
        s = est._sample_weights(
            X, y, np.searchsorted(present, y_enc), classes[present], sample_weight
        )
    else:
        s = est._sample_weights(X, y, y_enc, classes, sample_weight)
    return LogisticObjective(
        X,
        (y_enc == 1).astype(X.dtype) if classes.size == 2 else y_enc,
        s,
        n_classes=classes.size,
        C=est.C,
        l1_ratio=est.l1_ratio,
        fit_intercept=est.fit_intercept,
        preconditioner=None,
    )
