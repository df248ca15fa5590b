"""Bridge from the solvers' ``on_iter`` hook to scikit-learn's callback API.

scikit-learn >= 1.9 lets users attach callbacks to an estimator
(``est.set_callbacks(ProgressBar())``, ``ScoringMonitor(...)``). Its protocol:
the fit is a root task of a :class:`sklearn.callback.CallbackContext`; each
gradient-descent update is one subtask, announced to the callbacks with
``on_fit_task_begin`` / ``on_fit_task_end``; a callback may ask for a
``fitted_estimator`` (a copy of the estimator set to the current
coefficients, built only when some callback asks for it) and may return True
from ``on_fit_task_end`` to stop the fit after that update.

The solvers know nothing of this: they call ``on_iter(k, theta, J)`` after
update ``k``, and stop when it returns True. :class:`FitCallbacks` turns those
calls into subtasks. When no callback is set, :func:`FitCallbacks.begin`
returns None and the solvers get ``on_iter=None``: no cost at all.
"""

from ._compat import sklearn_callback
from ._objective._coordinates import coef_and_intercept


def fitted_attributes(objective, theta, classes):
    """``coef_``, ``intercept_``, ``classes_`` from solver coordinates ``theta``."""
    coef, intercept = coef_and_intercept(*objective.to_original(theta))
    return {"classes_": classes, "coef_": coef, "intercept_": intercept}


class FitCallbacks:
    """The callback context of one fit: a root task, one subtask per update.

    Create it with :meth:`begin`; pass :meth:`on_iter` to the solver; call
    :meth:`end` with the solver's result once the fitted attributes are set.
    """

    def __init__(self, estimator, context, *, X, y, metadata, objective, classes):
        self._estimator = estimator
        self._root = context
        self._data = {"X": X, "y": y, "metadata": metadata}
        self._objective = objective
        self._classes = classes
        self._previous = None  # theta before the current update
        self.n_tasks = 0
        self.stopped = False  # a callback asked to stop

    @classmethod
    def begin(cls, estimator, X, y, sample_weight, objective, classes, theta0):
        """Start the fit's root task, or return None when no callback is set.

        Parameters
        ----------
        estimator : GDLogisticRegression
            The estimator being fitted.
        X, y, sample_weight : arrays
            The validated training data, as the callbacks should see it.
        objective : LogisticObjective
            Maps solver coordinates back to ``coef_`` and ``intercept_``.
        classes : ndarray
            The class labels, for ``fitted_estimator``.
        theta0 : ndarray
            The starting point, in solver coordinates.

        Returns
        -------
        FitCallbacks or None
        """
        if sklearn_callback is None or not (
            getattr(estimator, "_skl_callbacks", None)
            or hasattr(estimator, "_parent_callback_ctx")
        ):
            return None
        context = estimator._init_callback_context(max_subtasks=estimator.max_iter)
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        context.call_on_fit_task_begin(estimator=estimator, X=X, y=y, metadata=metadata)
        bridge = cls(
            estimator,
            context,
            X=X,
            y=y,
            metadata=metadata,
            objective=objective,
            classes=classes,
        )
        bridge._previous = theta0
        return bridge

    def _reconstruction(self, theta, k):
        # A callable: evaluated only if a callback asks for fitted_estimator.
        def attributes():
            return {
                **fitted_attributes(self._objective, theta, self._classes),
                "n_iter_": k,
            }

        return attributes

    def on_iter(self, k, theta, J):
        """Report update ``k`` as one subtask; True when a callback says stop.

        Parameters
        ----------
        k : int
            Number of updates done so far (1 for the first).
        theta : ndarray
            The coefficients after update ``k``, in solver coordinates.
        J : float
            The cost after update ``k``.

        Returns
        -------
        stop : bool
            Whether a callback asked to stop the fit here.
        """
        task = self._root.subcontext(task_name="gd-iter")
        task.call_on_fit_task_begin(
            estimator=self._estimator,
            **self._data,
            reconstruction_attributes=self._reconstruction(self._previous, k - 1),
        )
        stop = task.call_on_fit_task_end(
            estimator=self._estimator,
            **self._data,
            reconstruction_attributes=self._reconstruction(theta, k),
        )
        self._previous = theta
        self.n_tasks = k
        self.stopped = bool(stop)
        return self.stopped

    def end(self, result):
        """Close the root task, after the estimator's attributes are set.

        A solver does not call ``on_iter`` for the update that ends the fit
        by convergence or divergence; that update is reported here, so that
        there is exactly one subtask per update in ``n_iter_``.

        Parameters
        ----------
        result : SolverResult
            What the solver returned.
        """
        for k in range(self.n_tasks + 1, result.n_iter + 1):
            self.on_iter(k, result.theta, result.cost_history[k])
        self._root.call_on_fit_task_end(
            estimator=self._estimator, **self._data, reconstruction_attributes={}
        )
