"""Early stopping for GDLogisticRegression: the monitor of a fit, and what
it leaves on the estimator.

The rows held out (:mod:`._inputs._split`) stay in X with weight zero in
``J``; every pass over X computes their raw predictions with the others, and
the monitor (:class:`._solvers._early_stopping.HeldOutMonitor`) turns them
into the held-out cost. Only a ``scoring`` needs the held-out rows on their
own: they are copied out once, for the scorer to predict on.
"""

import numpy as np
from sklearn.base import clone
from sklearn.metrics import check_scoring

from ._callbacks import fitted_attributes
from ._solvers._early_stopping import HeldOutMonitor

# The fitted attributes early stopping sets; a fit without it removes them.
_ATTRIBUTES = (
    "validation_cost_history_",
    "validation_scores_",
    "best_validation_score_",
)


def held_out_monitor(estimator, objective, classes, data):
    """The monitor of one fit with ``early_stopping=True``.

    Parameters
    ----------
    estimator : GDLogisticRegression
        Its ``n_iter_no_change`` and ``scoring``.
    objective : LogisticObjective
        Built with held-out rows (its ``held_out_rows``).
    classes : ndarray
    data : tuple (X, y, sample_weight)
        The validated training data, for a scorer.

    Returns
    -------
    HeldOutMonitor
    """
    score = None
    if estimator.scoring is not None:
        rows = objective.held_out_rows
        score = _scorer_at(estimator, objective, classes, data, rows)
    return HeldOutMonitor(
        objective, n_iter_no_change=estimator.n_iter_no_change, score=score
    )


def _scorer_at(estimator, objective, classes, data, rows):
    """``score(theta)``: the estimator's ``scoring`` on the held-out rows of
    the model at ``theta`` (weighted by their sample weights, if any)."""
    X, y, sample_weight = data
    scorer = check_scoring(estimator, scoring=estimator.scoring)
    X_val, y_val = X[rows], y[rows]
    weights = {}
    if sample_weight is not None:
        weights["sample_weight"] = np.asarray(sample_weight)[rows]
    model = clone(estimator)
    model.n_features_in_ = X.shape[1]

    def score(theta):
        for name, value in fitted_attributes(objective, theta, classes).items():
            setattr(model, name, value)
        return scorer(model, X_val, y_val, **weights)

    return score


def set_held_out_attributes(estimator, monitor):
    """Set (or, without ``monitor``, remove) the held-out fitted attributes."""
    for name in _ATTRIBUTES:
        estimator.__dict__.pop(name, None)
    if monitor is None:
        return
    costs, scores = monitor.histories()
    estimator.validation_cost_history_ = costs
    if scores is not None:
        estimator.validation_scores_ = scores
        estimator.best_validation_score_ = float(monitor.best_value)
