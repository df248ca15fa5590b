"""Export a fitted model as scikit-learn's own ``LogisticRegression``.

Our model and ``LogisticRegression`` share the prediction function exactly:
binary problems use ``sigmoid(X @ coef_[0] + intercept_[0])`` and multiclass
problems the softmax of ``X @ coef_.T + intercept_``, and both minimise the
same cost for the same ``C`` and ``l1_ratio`` (README.md, "The cost and the
update"). So the export only copies the fitted arrays into a
``LogisticRegression`` whose parameters describe the same problem, and sets
the fitted attributes scikit-learn's own ``fit`` sets. It never fits anything.

Version differences handled here (see :data:`._compat.SKLEARN_VERSION`):

- scikit-learn >= 1.8 deprecates ``penalty``: the penalty is given by ``C``
  (``np.inf`` for none) and ``l1_ratio`` (0 = L2, 1 = L1) alone.
- scikit-learn < 1.8 reads ``penalty``, and warns at ``fit`` time when
  ``l1_ratio`` is set for a penalty other than ``"elasticnet"``; there
  ``l1_ratio`` is passed only for the elastic net.

Either way, an L1 or elastic-net penalty needs ``solver="saga"`` for the
exported model to be refittable (``clone(model).fit(X, y)``).
"""

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from ._compat import SKLEARN_VERSION

# The release that deprecated ``penalty`` in favour of ``C`` and ``l1_ratio``.
_PENALTY_DEPRECATED_IN = (1, 8)


def _penalty_params(C, l1_ratio):
    """``LogisticRegression`` parameters for our ``C`` and ``l1_ratio``."""
    C, l1_ratio = float(C), float(l1_ratio)
    needs_saga = l1_ratio > 0 and np.isfinite(C)
    params = {"C": C, "solver": "saga" if needs_saga else "lbfgs"}
    if SKLEARN_VERSION >= _PENALTY_DEPRECATED_IN:
        params["l1_ratio"] = l1_ratio
    elif not np.isfinite(C):
        # C=inf with the default "l2" is unpenalized; penalty=None would warn
        # that C is ignored.
        params["penalty"] = "l2"
    elif l1_ratio == 0:
        params["penalty"] = "l2"
    elif l1_ratio == 1:
        params["penalty"] = "l1"
    else:
        params.update(penalty="elasticnet", l1_ratio=l1_ratio)
    return params


def to_logistic_regression(estimator, *, C=None, l1_ratio=None):
    """A fitted ``LogisticRegression`` equivalent to a fitted estimator.

    Parameters
    ----------
    estimator : GDLogisticRegression or compatible
        A fitted estimator with ``classes_``, ``coef_``, ``intercept_``,
        ``n_iter_``, ``n_features_in_`` (and ``feature_names_in_`` when fitted
        on named columns) and the parameters ``C``, ``l1_ratio``,
        ``fit_intercept``, ``class_weight``, ``max_iter`` and ``tol``.
    C, l1_ratio : float, default=None
        The penalty of the exported model; ``None`` takes the estimator's own
        parameter. A cross-validated estimator passes the value it chose.

    Returns
    -------
    model : sklearn.linear_model.LogisticRegression
        Fitted, with copies of the estimator's arrays (it shares no memory
        with the estimator), ``n_iter_`` of shape (1,) as scikit-learn's own
        fit sets it, and the same predictions.

    Examples
    --------
    >>> from sklearn_gdlogreg import GDLogisticRegression
    >>> from sklearn_gdlogreg._export import to_logistic_regression
    >>> clf = GDLogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    >>> to_logistic_regression(clf).predict([[0.2], [2.8]])
    array([0, 1])
    """
    check_is_fitted(estimator)
    params = estimator.get_params(deep=False)
    C = params["C"] if C is None else C
    l1_ratio = params["l1_ratio"] if l1_ratio is None else l1_ratio
    model = LogisticRegression(
        **_penalty_params(C, l1_ratio),
        fit_intercept=params["fit_intercept"],
        class_weight=params.get("class_weight"),
        max_iter=params.get("max_iter", 100),
        tol=params.get("tol", 1e-4),
    )
    model.n_features_in_ = int(estimator.n_features_in_)
    if hasattr(estimator, "feature_names_in_"):
        model.feature_names_in_ = np.array(estimator.feature_names_in_, copy=True)
    model.classes_ = np.array(estimator.classes_, copy=True)
    model.n_iter_ = np.array([estimator.n_iter_], dtype=np.int32)
    model.coef_ = np.array(estimator.coef_, copy=True, order="C")
    model.intercept_ = np.array(estimator.intercept_, copy=True)
    return model
