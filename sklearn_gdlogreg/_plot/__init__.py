"""CostHistoryDisplay: plot ``cost_history_``, the cost J after every update.

Follows scikit-learn's Display conventions (``RocCurveDisplay`` is the
model): ``__init__`` only stores arrays, ``plot`` draws them and sets
``ax_``, ``figure_`` and ``line_``, ``from_estimator`` reads a fitted model
and plots. matplotlib is optional and imported only when drawing.

The display and its drawing are in :mod:`._display`; what it reads from a
fitted model in :mod:`._fitted`; the ``J*`` of ``relative=True`` in
:mod:`._reference`.
"""

from ._display import CostHistoryDisplay

__all__ = ["CostHistoryDisplay"]
