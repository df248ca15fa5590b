"""
=====================================================
Learning rate: too small, about right, and too large
=====================================================

The learning rate ``alpha`` sets the size of each gradient-descent step
``w := w - alpha * dw``. The curvature of the cost ``J`` is bounded by a
constant ``L``: a step of ``1/L`` is guaranteed to decrease ``J`` at every
update. Here we measure ``1/L`` on the breast-cancer data and compare steps
from far too small to far too large.
"""

# %%
# Find the safe step ``1/L`` for this data
# ----------------------------------------
# ``alpha="auto"`` with no preconditioner uses exactly ``1/L`` and stores it
# in ``alpha_`` (``max_iter=0``: we only want the step).
import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import CostHistoryDisplay, GDLogisticRegression

X, y = load_breast_cancer(return_X_y=True)
X = StandardScaler().fit_transform(X)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    safe_step = GDLogisticRegression(preconditioner=None, max_iter=0).fit(X, y).alpha_
print(f"1/L = {safe_step:.3g}")

# %%
# Fit with four fixed steps
# -------------------------
# Each fit runs at most 150 updates of the lecture's plain rule.
steps = {
    "too small (0.05/L)": 0.05 * safe_step,
    "safe (1/L)": safe_step,
    "bold (10/L)": 10 * safe_step,
    "too large (60/L)": 60 * safe_step,
}
fits = []
for name, alpha in steps.items():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        fits.append(GDLogisticRegression(alpha, max_iter=150).fit(X, y))
    for w in caught:
        print(f"{name}: {str(w.message)[:75]}...")

# %%
# Cost curves
# -----------
# The small step crawls; ``1/L`` falls fast and flattens towards the
# minimum. ``L`` bounds the curvature everywhere, and for logistic regression
# the curvature is largest at the start, so a step several times ``1/L`` can
# still work -- faster. A step far too large overshoots: ``J`` jumps above
# its starting value at the first update, the fit stops there and warns with
# the largest step that is provably stable, ``2/L``.
fig, ax = plt.subplots(figsize=(7, 4.5))
CostHistoryDisplay.from_estimators(fits, names=list(steps), ax=ax, marker=".")
ax.set_ylim(0, 1.8)
ax.set_title("Cost J per update for four learning rates")
plt.show()
