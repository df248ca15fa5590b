"""
=============================================
Gradient descent on the cost bowl (1 feature)
=============================================

With one feature, the cost ``J(w, b)`` is a surface over the plane of the
weight ``w`` and the bias ``b``. For logistic regression it is convex: one
bowl, one minimum. Gradient descent started from two very different points
walks down to the same bottom.
"""

# %%
# Data with one feature
# ---------------------
# Labels drawn from a true model ``sigmoid(2 x - 1)``, so the classes overlap
# and ``J`` has a finite minimum even without a penalty.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from sklearn_gdlogreg import GDLogisticRegression

rng = np.random.default_rng(0)
x = rng.normal(size=300)
y = (rng.random(300) < 1 / (1 + np.exp(-(2 * x - 1)))).astype(int)
X = x[:, None]

# %%
# The cost over a grid of (w, b)
# ------------------------------
# ``J = mean(log(1 + exp(z)) - y z)`` with ``z = w x + b``, computed stably.
w_grid, b_grid = np.meshgrid(np.linspace(-2, 6, 120), np.linspace(-5, 3, 120))
z = w_grid[..., None] * x + b_grid[..., None]
J = np.mean(np.logaddexp(0, z) - y * z, axis=-1)


# %%
# Descent paths from two starts
# -----------------------------
# ``warm_start=True`` with ``max_iter=1`` makes each ``fit`` one update of
# the lecture's rule from the current coefficients, so we can record them.
def descent_path(w0, b0, n_steps=150, alpha=1.5):
    clf = GDLogisticRegression(alpha, C=np.inf, max_iter=1, warm_start=True)
    clf.coef_, clf.intercept_ = np.array([[w0]]), np.array([b0])
    clf.classes_ = np.array([0, 1])
    path = [(w0, b0)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # one step at a time
        for _ in range(n_steps):
            clf.fit(X, y)
            path.append((clf.coef_[0, 0], clf.intercept_[0]))
    return np.array(path)


paths = {"start A": descent_path(-1.5, 2.5), "start B": descent_path(5.5, -4.5)}
best = GDLogisticRegression(alpha=1.5, C=np.inf, tol=1e-10).fit(X, y)
print(f"minimum: w = {best.coef_[0, 0]:.3f}, b = {best.intercept_[0]:.3f}")
for name, path in paths.items():
    print(f"{name} ends at w = {path[-1, 0]:.3f}, b = {path[-1, 1]:.3f}")

# %%
# Plot
# ----
fig, ax = plt.subplots(figsize=(6.5, 5.5))
levels = np.quantile(J, np.linspace(0, 1, 25) ** 2)
contours = ax.contour(w_grid, b_grid, J, levels=levels, cmap="viridis")
fig.colorbar(contours, ax=ax, label="cost J")
for (name, path), color in zip(paths.items(), ["tab:red", "tab:orange"]):
    ax.plot(path[:, 0], path[:, 1], ".-", ms=4, color=color, label=name)
ax.plot(best.coef_[0, 0], best.intercept_[0], "k*", ms=14, label="minimum")
ax.set_xlabel("weight w")
ax.set_ylabel("bias b")
ax.set_title("Gradient descent on the cost bowl J(w, b) from two starts")
ax.legend(loc="lower left")
plt.show()
