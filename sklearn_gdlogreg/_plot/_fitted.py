"""What a fitted model gives :class:`CostHistoryDisplay` to draw, fit by fit.

``cost_history_`` of one fit, or ``cost_histories_`` of a cross-validated
search (per setting, and per split), with their held-out histories and the
iterate kept when the model stopped early.
"""

from collections.abc import Mapping

import numpy as np
from sklearn.utils.validation import check_is_fitted


def _final_estimator(estimator):
    """The last step of a Pipeline, or the estimator itself."""
    return estimator[-1] if hasattr(estimator, "steps") else estimator


def _default_label(estimator):
    alpha = getattr(estimator, "alpha_", None)
    if isinstance(alpha, float):
        return f"{estimator.__class__.__name__} (alpha_={alpha:.3g})"
    return estimator.__class__.__name__


def _per_split(setting):
    """One setting's histories: itself, or one per split (a list or a 2-D array)."""
    if isinstance(setting, np.ndarray):
        return list(setting.reshape(-1, setting.shape[-1]))
    per_split = len(setting) > 0 and (setting[0] is None or np.ndim(setting[0]) > 0)
    return list(setting) if per_split else [setting]


def _histories_of(estimator):
    """``(history, label, held-out history, stop)`` of each fit of a fitted model.

    Reads ``cost_history_`` (GDLogisticRegression), with
    ``validation_cost_history_`` and the iterate kept, ``n_iter_``, when it
    stopped early; or ``cost_histories_`` (GDLogisticRegressionCV: a list or
    mapping label -> entry, an entry per setting holding one history or one per
    split, or an array whose last axis is the iteration), with
    ``validation_cost_histories_`` of the same shape when present. A fit
    without a history (None: it raised) is left out, a None held-out history
    is no curve, and no stop is marked in a cross-validated model.
    """
    est = _final_estimator(estimator)
    if not hasattr(est, "cost_histories_"):
        check_is_fitted(est, "cost_history_")
        held_out = getattr(est, "validation_cost_history_", None)
        stop = None if held_out is None else est.n_iter_
        yield est.cost_history_, _default_label(est), held_out, stop
        return
    many = est.cost_histories_
    held_out = getattr(est, "validation_cost_histories_", None)
    if isinstance(many, Mapping):
        labels = [str(k) for k in many]
        held_out = None if held_out is None else [held_out.get(k) for k in many]
        many = list(many.values())
    else:
        labels = [f"{est.__class__.__name__} #{i}" for i in range(len(many))]
        params = getattr(est, "cv_results_", {}).get("params", [])
        if len(params) == len(many):
            labels = [", ".join(f"{k}={v:.3g}" for k, v in p.items()) for p in params]
    if held_out is None:
        held_out = [None] * len(many)
    for label, setting, held_out_setting in zip(labels, many, held_out, strict=True):
        fits = _per_split(setting)
        held_outs = [None] * len(fits)
        if held_out_setting is not None:
            held_outs = _per_split(held_out_setting)
        for k, (history, validation) in enumerate(zip(fits, held_outs, strict=True)):
            name = label if len(fits) == 1 else f"{label}, split {k}"
            if history is not None:
                yield history, name, validation, None


def _display_args(estimators):
    """The constructor's arguments for fitted models: lists, one entry per fit."""
    fits = [fit for estimator in estimators for fit in _histories_of(estimator)]
    keys = ("cost_history", "name", "validation_cost_history", "stop")
    return {key: [fit[i] for fit in fits] for i, key in enumerate(keys)}
