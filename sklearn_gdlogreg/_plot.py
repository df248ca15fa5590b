"""CostHistoryDisplay: plot ``cost_history_``, the cost J after every update.

Follows scikit-learn's Display conventions (``RocCurveDisplay`` is the
model): ``__init__`` only stores arrays, ``plot`` draws them and sets
``ax_``, ``figure_`` and ``line_``, ``from_estimator`` reads a fitted model
and plots. matplotlib is optional and imported only when drawing.
"""

from collections.abc import Mapping

import numpy as np
from sklearn.utils.validation import check_is_fitted


def _pyplot(caller):
    """Import ``matplotlib.pyplot`` lazily, with an error that says what to do."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib, which is not installed. Install it "
            'with `python -m pip install -e ".[plot]"` from the root of a clone '
            "of this package's repository (or `python -m pip install "
            "matplotlib`)."
        ) from exc
    return plt


def _as_history(values, what):
    """Validate one history: a non-empty 1-D float array (NaN padding dropped)."""
    history = np.asarray(values, dtype=np.float64)
    if history.ndim != 1 or history.size == 0:
        raise ValueError(
            f"{what} must be a non-empty 1-D array of costs, got an array of "
            f"shape {history.shape}."
        )
    # Batched fits (GDLogisticRegressionCV) may pad shorter histories with NaN.
    finite = np.isfinite(history)
    if not finite.any():
        raise ValueError(f"{what} has no finite cost to plot.")
    return history[: np.flatnonzero(finite)[-1] + 1]


def _final_estimator(estimator):
    """The last step of a Pipeline, or the estimator itself."""
    return estimator[-1] if hasattr(estimator, "steps") else estimator


def _default_label(estimator):
    alpha = getattr(estimator, "alpha_", None)
    if isinstance(alpha, float):
        return f"{estimator.__class__.__name__} (alpha_={alpha:.3g})"
    return estimator.__class__.__name__


def _histories_of(estimator):
    """``(histories, labels)`` of a fitted model: one, or one per setting.

    Reads ``cost_history_`` (GDLogisticRegression) or ``cost_histories_``
    (GDLogisticRegressionCV: a mapping label -> history, or an array whose
    last axis is the iteration; one curve per leading index).
    """
    est = _final_estimator(estimator)
    if hasattr(est, "cost_histories_"):
        many = est.cost_histories_
        if isinstance(many, Mapping):
            return [np.asarray(v) for v in many.values()], [str(k) for k in many]
        arrays = [np.asarray(h, dtype=np.float64) for h in many]
        if len(arrays) and all(a.ndim > 1 for a in arrays):
            arrays = [row for a in arrays for row in a.reshape(-1, a.shape[-1])]
        labels = [f"{est.__class__.__name__} #{i}" for i in range(len(arrays))]
        params = getattr(est, "cv_results_", {}).get("params", [])
        if len(params) == len(arrays):
            labels = [", ".join(f"{k}={v:.3g}" for k, v in p.items()) for p in params]
        return arrays, labels
    check_is_fitted(est, "cost_history_")
    return [est.cost_history_], [_default_label(est)]


# Decrements of J over which the rate of the best curve is measured: enough to
# span an oscillation of nesterov's momentum (10 to 20 updates).
_TAIL_WINDOW = 30


def _extrapolated_reference(histories):
    """``J*`` for ``relative=True``: below every recorded ``J``, one for all curves.

    Extrapolated from the curve that got lowest: near the optimum gradient
    descent converges linearly, ``J_{k+1} - J* ~ rho (J_k - J*)``, so the
    decrements ``d_k = J_k - J_{k+1}`` shrink by ``rho`` per update and what is
    still to gain after the last one sums to ``d rho / (1 - rho)``.
    """
    best = min(histories, key=np.nanmin)
    head = best[: np.nanargmin(best) + 1]  # up to its lowest J
    lowest = head[-1]
    steps = -np.diff(head)[-_TAIL_WINDOW:]
    tail = 0.0  # J stopped falling: at its minimum, to float precision
    if steps.size and steps[-1] > 0:
        # Decrements that do not shrink give no rate: J* unknown, maybe 0.
        tail = np.inf if lowest > 0 else steps[-1]
        if steps.size > 1 and steps[0] > 0:
            rate = (steps[-1] / steps[0]) ** (1 / (steps.size - 1))
            if rate < 1:
                tail = steps[-1] * rate / (1 - rate)
    # Never closer than the float64 resolution of J, so J - J* > 0 everywhere.
    reference = lowest - max(tail, np.finfo(np.float64).eps * max(abs(lowest), 1.0))
    # The cross-entropy is never negative: J* >= 0 bounds a poor extrapolation.
    return max(reference, 0.0) if lowest > 0 else reference


class CostHistoryDisplay:
    """Cost history visualization: ``J`` against the iteration number.

    The curves that show gradient descent at work: ``J`` falling after every
    update, quickly for a good learning rate, slowly for a small one, and not
    at all for one that is too large. Create it with
    :meth:`from_estimator` or :meth:`from_estimators`; all attributes are
    stored at construction, drawing happens in :meth:`plot`.

    Read more in the :ref:`User Guide <cost_history>`.

    Parameters
    ----------
    cost_history : ndarray of shape (n_iter + 1,) or list of such arrays
        The cost ``J`` at the starting point and after every update, as in
        ``cost_history_``; a list overlays several fits.

    name : str or list of str, default=None
        Label of each curve, shown in the legend. None draws no legend.

    Attributes
    ----------
    line_ : matplotlib Line2D or list of Line2D
        The curve (one history) or the curves (a list of histories).

    ax_ : matplotlib Axes
        Axes with the curves.

    figure_ : matplotlib Figure
        Figure containing the curves.

    reference_cost_ : float or None
        The ``J*`` subtracted by the last ``plot(relative=True)``; None after a
        plot of ``J`` itself.

    See Also
    --------
    sklearn.metrics.RocCurveDisplay : The Display whose conventions this one
        follows.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_gdlogreg import CostHistoryDisplay
    >>> display = CostHistoryDisplay([0.69, 0.4, 0.3, 0.28], name="toy fit")
    >>> display = display.plot()
    >>> display.ax_.get_ylabel()
    'cost J'
    """

    def __init__(self, cost_history, *, name=None):
        self.cost_history = cost_history
        self.name = name

    def _curves(self, name):
        """``(histories, names, single)`` with names one per history or None."""
        values = self.cost_history
        if isinstance(values, np.ndarray):
            single = values.ndim == 1
        else:  # a list of costs, or a list of histories (maybe ragged)
            single = len(values) == 0 or np.ndim(values[0]) == 0
        raw = [values] if single else list(values)
        histories = [_as_history(h, "cost_history") for h in raw]
        name = self.name if name is None else name
        names = [name] if isinstance(name, str) else name
        if names is not None and len(names) != len(histories):
            raise ValueError(
                f"Got {len(names)} names for {len(histories)} cost histories; "
                "give one name per history."
            )
        return histories, names, single

    def plot(self, ax=None, *, name=None, relative=False, reference_cost=None, **kw):
        """Plot the cost histories.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure (constrained layout) is created when
            None. The legend is drawn right of the axes; a figure without
            constrained or tight layout gets ``tight_layout()`` to make room.

        name : str or list of str, default=None
            Curve labels, overriding the ones given at construction.

        relative : bool, default=False
            Plot ``J - J*`` on a logarithmic scale instead of ``J``: linear
            convergence of gradient descent then shows as a straight line.
            ``J*`` is one number for all the curves, below every recorded
            ``J``, so that every update is drawn and the curves compare;
            it is ``reference_cost`` when given, else extrapolated: the
            curve that got lowest is continued at the rate ``rho`` at which
            its last 30 decrements of ``J`` shrank (linear convergence), so
            ``J* = min J - d rho / (1 - rho)`` with ``d`` its last decrement,
            never below 0 (``J* = 0`` when the decrements do not shrink) and
            at least the float resolution of ``J`` below ``min J``. It is an
            estimate, usually within a factor of 3 of the true gap at the
            last update; the y-axis label gives ``J*``. Subtracting
            ``min J`` instead would make the last gap 0 and bend every curve
            down at its end, which reads as a sudden convergence.

        reference_cost : float, default=None
            ``J*`` for ``relative=True``, e.g. the final cost of a fit of the
            same model converged tightly (a small ``tol``); must be below
            every recorded cost. None extrapolates it (see ``relative``).

        **kw : dict
            Keyword arguments passed to :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        display : CostHistoryDisplay
            Object that stores the computed values.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn_gdlogreg import CostHistoryDisplay
        >>> display = CostHistoryDisplay([[0.7, 0.5, 0.45], [0.7, 0.3, 0.2]])
        >>> display = display.plot(name=["small alpha", "large alpha"], relative=True)
        >>> display.ax_.get_yscale()
        'log'
        """
        plt = _pyplot(f"{self.__class__.__name__}.plot")
        histories, names, single = self._curves(name)
        if ax is None:
            # Constrained layout makes room for the legend outside the axes.
            _, ax = plt.subplots(layout="constrained")
        self.reference_cost_ = None
        if relative:
            lowest = min(np.nanmin(h) for h in histories)
            if reference_cost is None:
                # Not min J: its gap 0 would end every curve in a false plunge.
                reference = _extrapolated_reference(histories)
                ylabel = f"J - J*  (J* = {reference:.6g}, extrapolated)"
            else:
                reference = float(reference_cost)
                ylabel = f"J - J*  (J* = {reference:.6g})"
                if not reference < lowest:
                    raise ValueError(
                        f"reference_cost={reference!r} is not below every "
                        f"recorded cost (the lowest is {lowest!r}): J - J* must "
                        "be positive to be drawn on a log scale."
                    )
            # One J* for every curve, so that their gaps compare.
            histories = [h - reference for h in histories]
            self.reference_cost_ = reference
        lines = []
        for i, history in enumerate(histories):
            label = None if names is None else names[i]
            (line,) = ax.plot(np.arange(history.size), history, label=label, **kw)
            lines.append(line)
        ax.set_xlabel("iteration")
        if relative:
            ax.set_yscale("log")
            ax.set_ylabel(ylabel)
        else:
            ax.set_ylabel("cost J")
        if names is not None:
            # Right of the axes: descending curves of different speeds fill
            # every corner of them (a slow one the upper right), so a legend
            # inside would hide some.
            ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)
            from matplotlib.layout_engine import (
                ConstrainedLayoutEngine,
                TightLayoutEngine,
            )

            # A figure laid out once (none, or by an earlier tight_layout)
            # is laid out again to make room; the others do so at every draw.
            figure = ax.figure.figure  # the root Figure, also for a SubFigure
            engine = figure.get_layout_engine()
            if not isinstance(engine, (ConstrainedLayoutEngine, TightLayoutEngine)):
                figure.tight_layout()
        self.line_ = lines[0] if single else lines
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, name=None, ax=None, relative=False, **kw):
        """Plot the cost history of one fitted model.

        Parameters
        ----------
        estimator : estimator or Pipeline
            A fitted :class:`~sklearn_gdlogreg.GDLogisticRegression` (or a
            Pipeline ending in one), or a fitted model with
            ``cost_histories_`` (one curve per setting).

        name : str or list of str, default=None
            Curve label(s); by default the class name and ``alpha_``.

        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        relative : bool, default=False
            Plot ``J - J*`` on a log scale, ``J*`` below every recorded cost;
            see :meth:`plot`.

        **kw : dict
            Keyword arguments passed to :meth:`plot`.

        Returns
        -------
        display : CostHistoryDisplay
            Object that stores the computed values.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn_gdlogreg import CostHistoryDisplay, GDLogisticRegression
        >>> clf = GDLogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
        >>> display = CostHistoryDisplay.from_estimator(clf)
        >>> len(display.line_.get_xdata()) == clf.n_iter_ + 1
        True
        """
        _pyplot(f"{cls.__name__}.from_estimator")
        histories, labels = _histories_of(estimator)
        if hasattr(_final_estimator(estimator), "cost_histories_"):
            display = cls(histories, name=labels)
        else:
            display = cls(histories[0], name=labels[0])
        return display.plot(ax=ax, name=name, relative=relative, **kw)

    @classmethod
    def from_estimators(cls, estimators, *, names=None, ax=None, relative=False, **kw):
        """Overlay the cost histories of several fitted models.

        Parameters
        ----------
        estimators : list of estimators
            Fitted models (or Pipelines) with ``cost_history_``, e.g. one per
            learning rate.

        names : list of str, default=None
            One legend label per model; by default the class name and
            ``alpha_``.

        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        relative : bool, default=False
            Plot ``J - J*`` on a log scale, with one ``J*`` below the costs of
            all the models; see :meth:`plot`.

        **kw : dict
            Keyword arguments passed to :meth:`plot`.

        Returns
        -------
        display : CostHistoryDisplay
            Object that stores the computed values; ``line_`` is a list.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn_gdlogreg import CostHistoryDisplay, GDLogisticRegression
        >>> X, y = [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]
        >>> fits = [GDLogisticRegression(alpha=a).fit(X, y) for a in (0.1, 1.0)]
        >>> display = CostHistoryDisplay.from_estimators(fits)
        >>> len(display.line_)
        2
        """
        _pyplot(f"{cls.__name__}.from_estimators")
        histories, labels = [], []
        for estimator in estimators:
            h, lab = _histories_of(estimator)
            histories += h
            labels += lab
        display = cls(histories, name=labels)
        return display.plot(ax=ax, name=names, relative=relative, **kw)
