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

from ._compat import _check_partial_fit_first_call, _fit_context, validate_data
from ._early_stopping import set_held_out_attributes
from ._fit_state import restores_state_on_error
from ._inputs._checks import sample_weights
from ._inputs._routing import is_array_api_input
from ._objective._coordinates import coef_and_intercept
from ._objective._numpy import LogisticObjective
from ._solvers._descent import learning_rate
from ._solvers._update import lecture_update


class PartialFitMixin:
    """``partial_fit`` of :class:`~sklearn_gdlogreg.GDLogisticRegression`.

    Uses the estimator's parameters and its ``_initial_coef`` (the start of
    ``fit``, warm start included).
    """

    @_fit_context(prefer_skip_nested_validation=True)
    @restores_state_on_error
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One gradient-descent step on a mini-batch.

        Takes the lecture's update ``w := w - alpha * dw``,
        ``b := b - alpha * db`` once, with the gradient of the cost ``J`` of
        this batch alone: calls over a stream of batches are mini-batch
        gradient descent. The step is taken in the plain coordinates (the
        ``preconditioner`` is not used); ``alpha="auto"`` uses ``1/L`` of the
        first batch, kept in ``alpha_``; an ``alpha`` changed with
        ``set_params`` between calls is the step from the next call on (a
        learning-rate schedule). ``n_iter_`` counts the calls and
        ``cost_history_`` gets one entry per call: the batch cost ``J`` at
        the coefficients *before* that call's step (computed in the same pass
        as the gradient). A call after :meth:`fit` continues from its
        coefficients and starts counting afresh.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The mini-batch.
        y : array-like of shape (n_samples,)
            Its labels, all in ``classes``.
        classes : array-like of shape (n_classes,), default=None
            Every class of the stream. Required on the first call, as in
            :class:`~sklearn.linear_model.SGDClassifier`; ignored (but checked)
            afterwards.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the batch's samples. With
            ``class_weight="balanced"`` the class weights are balanced within
            each batch.

        Returns
        -------
        self : object
            The updated estimator (left unchanged if the call raises).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_gdlogreg import GDLogisticRegression
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
        >>> clf = GDLogisticRegression(alpha=1.0)
        >>> for _ in range(3):
        ...     clf = clf.partial_fit(X, [0, 0, 1, 1], classes=[0, 1])
        >>> clf.n_iter_, clf.cost_history_.round(3)
        (3, array([0.693, 0.577, 0.552]))
        """
        X, y, first_call = self._validated_batch(X, y, classes)
        y_enc = _encode(y, self.classes_)
        objective = self._batch_objective(X, y, y_enc, sample_weight)

        if first_call:
            w, b = self._initial_coef(objective, self.classes_)  # as fit starts
        else:
            w, b = self.coef_.T, self.intercept_
        new_stream = (
            first_call or getattr(self, "_partial_fit_coef", None) is not self.coef_
        )
        # The step for the plain coordinates: chosen for a new stream (first
        # call, or continuing from `fit`), and again when alpha was set between
        # calls (a learning-rate schedule).
        if new_stream or self.alpha != self._partial_fit_alpha:
            self.alpha_ = learning_rate(self.alpha, objective)
            self._partial_fit_alpha = self.alpha
        if new_stream:  # count calls and batch costs afresh
            self.n_iter_ = 0
            self.cost_history_ = np.empty(0)
            set_held_out_attributes(self, None)  # a fit's, not the stream's
        theta = objective.from_original(w.astype(X.dtype), b.astype(X.dtype))

        J, dtheta = objective.value_grad(theta)  # one pass over the batch
        alpha = self.alpha_
        theta = objective.prox(lecture_update(theta, dtheta, alpha), alpha)

        self.coef_, self.intercept_ = coef_and_intercept(
            *objective.to_original(theta), centre=False
        )
        self.n_iter_ += 1
        self.cost_history_ = np.append(self.cost_history_, J)
        self._partial_fit_coef = self.coef_  # marks coef_ as partial_fit's own
        return self

    def _validated_batch(self, X, y, classes):
        """``(X, y, first_call)``: the batch validated, ``classes_`` set on
        the first call."""
        if is_array_api_input(X):
            raise ValueError(
                "partial_fit takes NumPy or SciPy batches; with "
                "array_api_dispatch=True, fit() handles torch/CuPy arrays in "
                "their namespace. Convert the batch to NumPy for partial_fit."
            )
        first_call = _check_partial_fit_first_call(self, classes)
        if self.classes_.size < 2:
            raise ValueError(
                "partial_fit needs at least 2 classes in `classes`, got "
                f"{self.classes_!r}."
            )
        with np.errstate(over="ignore", invalid="ignore"):  # as in fit
            X, y = validate_data(
                self,
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
        return X, y, first_call

    def _batch_objective(self, X, y, y_enc, sample_weight):
        """The cost ``J`` of this batch, in plain coordinates."""
        classes = self.classes_
        weighed, weighed_classes = y_enc, classes
        if isinstance(self.class_weight, str):  # "balanced", within the batch
            present = np.unique(y_enc)
            weighed, weighed_classes = np.searchsorted(present, y_enc), classes[present]
        s = sample_weights(
            X, y, weighed, weighed_classes, sample_weight,
            class_weight=self.class_weight, C=self.C,
        )  # fmt: skip
        return LogisticObjective(
            X,
            (y_enc == 1).astype(X.dtype) if classes.size == 2 else y_enc,
            s,
            n_classes=classes.size,
            C=self.C,
            l1_ratio=self.l1_ratio,
            fit_intercept=self.fit_intercept,
            preconditioner=None,
        )


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
