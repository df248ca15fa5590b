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
            'with `pip install "sklearn-gdlogreg[plot]"` (or `pip install '
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
            Axes to draw on; a new figure is created when None.

        name : str or list of str, default=None
            Curve labels, overriding the ones given at construction.

        relative : bool, default=False
            Plot ``J - J_min`` on a logarithmic scale instead of ``J``: linear
            convergence of gradient descent then shows as a straight line.
            Iterations where ``J`` equals ``J_min`` are not drawn (the log of
            zero is undefined).

        reference_cost : float, default=None
            ``J_min`` for ``relative=True``; defaults to the smallest cost over
            all plotted histories. Pass the optimum of a tightly converged fit
            to compare fits on the same scale.

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
            _, ax = plt.subplots()
        if relative:
            floor = (
                min(h.min() for h in histories)
                if reference_cost is None
                else float(reference_cost)
            )
            # Gaps of exactly zero (the minimum itself) cannot be drawn on a log
            # axis: NaN leaves them out instead of warning.
            histories = [np.where(h - floor > 0, h - floor, np.nan) for h in histories]
        lines = []
        for i, history in enumerate(histories):
            label = None if names is None else names[i]
            (line,) = ax.plot(np.arange(history.size), history, label=label, **kw)
            lines.append(line)
        ax.set_xlabel("iteration")
        if relative:
            ax.set_yscale("log")
            ax.set_ylabel("J - min J")
        else:
            ax.set_ylabel("cost J")
        if names is not None:
            ax.legend(loc="upper right")
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
            Plot ``J - min J`` on a log scale; see :meth:`plot`.

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
            Plot ``J - min J`` on a log scale, with the minimum taken over all
            the models; see :meth:`plot`.

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
