"""
=======================================================
Same answer as LogisticRegression, reached by descent
=======================================================

For every finite ``C``, :class:`~sklearn_gdlogreg.GDLogisticRegression`
minimises the same cost as :class:`~sklearn.linear_model.LogisticRegression`
and finds the same coefficients. We check that, then compare how fast plain
gradient descent, Nesterov's accelerated descent and scikit-learn's lbfgs get
close to the minimum.
"""

# %%
# Same coefficients
# -----------------
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import GDLogisticRegression

X, y = load_breast_cancer(return_X_y=True)
X = StandardScaler().fit_transform(X)
C = 1.0
reference = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12).fit(X, y)
nesterov = GDLogisticRegression(C=C, solver="nesterov", tol=1e-9, max_iter=20000)
nesterov.fit(X, y)
gap = np.max(np.abs(nesterov.coef_ - reference.coef_))
print(f"max |coef difference| = {gap:.2e} after {nesterov.n_iter_} updates")


def cost(coef, intercept):
    """J = mean log-loss + ||w||^2 / (2 C m), the cost both estimators minimise."""
    z = X @ coef.ravel() + intercept[0]
    return np.mean(np.logaddexp(0, z) - y * z) + coef.ravel() @ coef.ravel() / (
        2 * C * len(y)
    )


J_star = cost(reference.coef_, reference.intercept_)

# %%
# Convergence over time
# ---------------------
# Our solvers record ``J`` after every update; spreading the fit's wall time
# evenly over its updates gives ``J`` against time. For lbfgs we refit with
# growing ``max_iter``.
curves = {}
for solver in ["gd", "nesterov"]:
    clf = GDLogisticRegression(C=C, solver=solver, tol=1e-9, max_iter=3000)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    seconds = time.perf_counter() - start
    curves[solver] = (
        np.linspace(0, seconds, clf.n_iter_ + 1),
        clf.cost_history_ - J_star,
    )
times, gaps = [], []
for max_iter in [1, 2, 3, 5, 8, 12, 18, 25, 35, 50, 70, 100]:
    lbfgs = LogisticRegression(C=C, max_iter=max_iter, tol=1e-12)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        lbfgs.fit(X, y)
    times.append(time.perf_counter() - start)
    gaps.append(cost(lbfgs.coef_, lbfgs.intercept_) - J_star)
curves["lbfgs (LogisticRegression)"] = (np.array(times), np.array(gaps))

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.3))
ax1.plot(reference.coef_.ravel(), nesterov.coef_.ravel(), "o")
lim = np.abs(reference.coef_).max() * 1.1
ax1.plot([-lim, lim], [-lim, lim], "k--", lw=1)
ax1.set_xlabel("LogisticRegression coef_")
ax1.set_ylabel("GDLogisticRegression coef_")
ax1.set_title("Same coefficients")
for name, (t, g) in curves.items():
    keep = g > 0
    ax2.plot(t[keep] * 1000, g[keep], label=name)
ax2.set_yscale("log")
ax2.set_xlabel("time (ms)")
ax2.set_ylabel("J - J*")
ax2.set_title("Convergence over time: gd vs nesterov vs lbfgs")
ax2.legend()
fig.tight_layout()
plt.show()
