"""
==========================================================
Early stopping: the training cost and the held-out cost
==========================================================

Gradient descent lowers the training cost ``J`` at every update
``w := w - alpha * dw``, ``b := b - alpha * db``. With many features and
few samples, the later updates fit the noise of the training samples: ``J``
keeps falling while the cost on samples the descent never saw, the
*held-out* cost, turns back up. ``early_stopping=True`` holds out
``validation_fraction`` of the samples, records their cost after every
update in ``validation_cost_history_``, stops once it has not improved for
``n_iter_no_change`` updates, and keeps the iterate where it was lowest.

Here we watch both curves for three learning rates ``alpha``.
"""

# %%
# Data with more features than the signal needs
# ---------------------------------------------
# 1,000 samples, 100 features of which 5 carry the label, 15% of the labels
# flipped: room to overfit. No penalty (``C=np.inf``: the lecture's plain
# cost), so that only stopping early holds the weights back.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import CostHistoryDisplay, GDLogisticRegression

X, y = make_classification(
    n_samples=1000, n_features=100, n_informative=5, flip_y=0.15, random_state=0
)
X = StandardScaler().fit_transform(X)

# %%
# Three learning rates, each with early stopping
# ----------------------------------------------
# The same 30% of the samples are held out in every fit (same
# ``random_state``). ``n_iter_no_change=100`` lets each descent run on for
# 100 updates past its best held-out cost, so that the curves show what
# would have followed.
fits = [
    GDLogisticRegression(
        alpha,
        C=np.inf,
        early_stopping=True,
        validation_fraction=0.3,
        n_iter_no_change=100,
        max_iter=2000,
        random_state=0,
    ).fit(X, y)
    for alpha in (0.01, 0.05, 0.2)
]
for fit in fits:
    J, J_held_out = fit.cost_history_, fit.validation_cost_history_
    print(
        f"alpha={fit.alpha_:<5}: best held-out J {J_held_out[fit.n_iter_]:.3f} "
        f"after {fit.n_iter_} updates; after {len(J) - 1} updates, training J "
        f"{J[-1]:.3f} and held-out J {J_held_out[-1]:.3f}"
    )

# %%
# Training and held-out curves
# ----------------------------
# Solid: the training cost ``J``; dashed: the held-out cost; a dot: the
# iterate kept (``n_iter_``). A larger ``alpha`` gets to the best held-out
# cost in fewer updates, and past it sooner; the best held-out cost itself
# is about the same: it is a point on the path that gradient descent takes
# from ``w = 0``, and all three rates follow nearly the same path.
fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
CostHistoryDisplay.from_estimators(
    fits, names=[f"alpha={fit.alpha_}" for fit in fits], ax=ax
)
ax.set_xscale("symlog", linthresh=1)  # update 0 drawn, then log
ax.set_title("Training J (solid) and held-out J (dashed) per update")
plt.show()
