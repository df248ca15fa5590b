"""CostHistoryDisplay: the display, the checks of its arrays, how it draws a fit.

matplotlib is optional and imported only when drawing.
"""

import operator
from typing import NamedTuple

import numpy as np

from ._fitted import _display_args, _final_estimator
from ._reference import _reference


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


def _one_per_history(values, single, n_histories, what):
    """``values`` as a list of one entry per history; all None when None."""
    if single:
        return [values]
    if values is None:
        return [None] * n_histories
    values = list(values) if np.iterable(values) else [values]
    if len(values) != n_histories:
        raise ValueError(
            f"{what} has {len(values)} entries for {n_histories} cost histories; "
            "give one per history (None where there is none)."
        )
    return values


class _Curve(NamedTuple):
    """One fit to draw: its training history, held-out history and stop or None."""

    history: np.ndarray
    validation: np.ndarray | None
    stop: int | None

    @classmethod
    def of(cls, history, validation, stop):
        """Validate a held-out history and a stop against ``history``."""
        if validation is not None:
            validation = _as_history(validation, "validation_cost_history")
            if validation.size != history.size:
                raise ValueError(
                    f"validation_cost_history has {validation.size} costs where "
                    f"its cost_history has {history.size}: the held-out cost is "
                    "recorded at the same points as the training cost."
                )
        if stop is not None:
            stop = operator.index(stop)
            if not 0 <= stop < history.size:
                raise ValueError(
                    f"stop={stop} is not an iteration of its cost history "
                    f"(0 to {history.size - 1})."
                )
        return cls(history, validation, stop)


def _draw(ax, curve, history, label, kw):
    """Draw one fit: ``(training line, held-out line or None, marker or None)``.

    The held-out curve is dashed in the colour of the training one; the stop is
    marked on it, or on the training curve when there is none.
    """
    (line,) = ax.plot(np.arange(history.size), history, label=label, **kw)
    color = line.get_color()
    held_out = marker = None
    if curve.validation is not None:
        (held_out,) = ax.plot(
            np.arange(curve.validation.size),
            curve.validation,
            label=None if label is None else f"{label} (held-out)",
            **{**kw, "linestyle": "--", "color": color},
        )
    if curve.stop is not None:
        marked = history if held_out is None else curve.validation
        (marker,) = ax.plot(
            [curve.stop], [marked[curve.stop]], linestyle="", marker="o", color=color
        )
    return line, held_out, marker


def _legend_outside(ax):
    """The legend right of the axes, with room made for it.

    Right of the axes: descending curves of different speeds fill every corner
    of them (a slow one the upper right), so a legend inside would hide some.
    """
    from matplotlib.layout_engine import ConstrainedLayoutEngine, TightLayoutEngine

    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)
    # A figure laid out once (none, or by an earlier tight_layout) is laid out
    # again to make room; the others do so at every draw.
    figure = ax.figure.figure  # the root Figure, also for a SubFigure
    engine = figure.get_layout_engine()
    if not isinstance(engine, (ConstrainedLayoutEngine, TightLayoutEngine)):
        figure.tight_layout()


class CostHistoryDisplay:
    """Cost history visualization: ``J`` against the iteration number.

    The curves that show gradient descent at work: ``J`` falling after every
    update, quickly for a good learning rate, slowly for a small one, and not
    at all for one that is too large. With early stopping, the held-out cost
    of each fit is drawn dashed in the colour of its training curve, and the
    iterate kept is marked on it. Create it with
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

    validation_cost_history : ndarray of shape (n_iter + 1,) or list, default=None
        The held-out cost at the same points as ``cost_history``, as in
        ``validation_cost_history_``: one array for one history, or a list
        with one array (or None, for no held-out curve) per history.

    stop : int or list of int, default=None
        The iteration of the iterate kept, as in ``n_iter_``, marked on the
        held-out curve (on the training curve where there is none): one int
        for one history, or a list with one int (or None, for no mark) per
        history.

    Attributes
    ----------
    line_ : matplotlib Line2D or list of Line2D
        The training curve (one history) or curves (a list of histories).

    validation_line_ : matplotlib Line2D or None, or list of those
        The held-out curve of each history; None where there is none, and
        after ``plot(relative=True)``.

    stop_marker_ : matplotlib Line2D or None, or list of those
        The mark of each ``stop``; None where there is none.

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

    A fit stopped early: its held-out cost, and the iterate kept.

    >>> display = CostHistoryDisplay(
    ...     [0.69, 0.4, 0.3, 0.28],
    ...     validation_cost_history=[0.7, 0.5, 0.48, 0.49],
    ...     stop=2,
    ... ).plot()
    >>> display.validation_line_.get_linestyle()
    '--'
    >>> display.stop_marker_.get_xydata().tolist()
    [[2.0, 0.48]]
    """

    def __init__(
        self, cost_history, *, name=None, validation_cost_history=None, stop=None
    ):
        self.cost_history = cost_history
        self.name = name
        self.validation_cost_history = validation_cost_history
        self.stop = stop

    def _curves(self, name):
        """``(curves, names, single)``: a :class:`_Curve` per history, names or None."""
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
        held_out = _one_per_history(
            self.validation_cost_history,
            single,
            len(histories),
            "validation_cost_history",
        )
        stops = _one_per_history(self.stop, single, len(histories), "stop")
        curves = [_Curve.of(*args) for args in zip(histories, held_out, stops)]
        return curves, names, single

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
            down at its end, which reads as a sudden convergence. Only the
            training curves are drawn: the held-out cost is another function,
            whose minimum is the iterate kept, so its gap to that minimum
            would be 0 there. A ``stop`` is marked on the training curve.

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
        from matplotlib import cbook
        from matplotlib.lines import Line2D

        curves, names, single = self._curves(name)
        if ax is None:
            # Constrained layout makes room for the legend outside the axes.
            _, ax = plt.subplots(layout="constrained")
        histories = [curve.history for curve in curves]
        self.reference_cost_ = None
        if relative:
            self.reference_cost_, ylabel = _reference(histories, reference_cost)
            # One J* for every curve, so that their gaps compare.
            histories = [h - self.reference_cost_ for h in histories]
            # The held-out cost is another function, with its own minimum.
            curves = [curve._replace(validation=None) for curve in curves]
        elif any(curve.validation is not None for curve in curves):
            ylabel = "cost (solid: training J, dashed: held-out log-loss)"
        else:
            ylabel = "cost J"
        kw = cbook.normalize_kwargs(kw, Line2D)
        drawn = [
            _draw(ax, curve, history, None if names is None else names[i], kw)
            for i, (curve, history) in enumerate(zip(curves, histories))
        ]
        ax.set_xlabel("iteration")
        ax.set_ylabel(ylabel)
        if relative:
            ax.set_yscale("log")
        if names is not None:
            _legend_outside(ax)
        lines, validation_lines, markers = (list(d) for d in zip(*drawn))
        self.line_ = lines[0] if single else lines
        self.validation_line_ = validation_lines[0] if single else validation_lines
        self.stop_marker_ = markers[0] if single else markers
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
            ``cost_histories_`` (one curve per setting, or per setting and
            split). A model with ``validation_cost_history_`` (early
            stopping) also gets its held-out curve, with the iterate kept,
            ``n_iter_``, marked on it; one with ``validation_cost_histories_``
            a held-out curve per fit that has one.

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
        args = _display_args([estimator])
        if not hasattr(_final_estimator(estimator), "cost_histories_"):
            args = {key: values[0] for key, values in args.items()}  # one fit
        return cls(**args).plot(ax=ax, name=name, relative=relative, **kw)

    @classmethod
    def from_estimators(cls, estimators, *, names=None, ax=None, relative=False, **kw):
        """Overlay the cost histories of several fitted models.

        Parameters
        ----------
        estimators : list of estimators
            Fitted models (or Pipelines) with ``cost_history_``, e.g. one per
            learning rate; those that stopped early also get their held-out
            curve and their ``n_iter_`` marked, as in :meth:`from_estimator`.

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
        display = cls(**_display_args(estimators))
        return display.plot(ax=ax, name=names, relative=relative, **kw)
