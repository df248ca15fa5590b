"""
==================================================
Tuning the learning rate in a Pipeline with search
==================================================

:class:`~sklearn_gdlogreg.GDLogisticRegression` is a regular scikit-learn
estimator: it goes in a :class:`~sklearn.pipeline.Pipeline` after a scaler,
and :class:`~sklearn.model_selection.GridSearchCV` tunes its learning rate
through the ``clf__alpha`` parameter.
"""

# %%
# Pipeline and grid
# -----------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import CostHistoryDisplay, GDLogisticRegression

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
pipe = Pipeline(
    [("scale", StandardScaler()), ("clf", GDLogisticRegression(max_iter=100))]
)
alphas = np.logspace(-3, 0.5, 8)
search = GridSearchCV(pipe, {"clf__alpha": alphas}, cv=5)
with warnings.catch_warnings():
    # 100 updates are too few for the smallest steps: that is the point.
    warnings.simplefilter("ignore", ConvergenceWarning)
    search.fit(X_train, y_train)
print("best alpha:", search.best_params_["clf__alpha"])
print(f"cross-validated accuracy: {search.best_score_:.4f}")
print(f"test accuracy: {search.score(X_test, y_test):.4f}")

# %%
# Score against learning rate, and the chosen model's cost curve
# ---------------------------------------------------------------
res = search.cv_results_
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
ax1.errorbar(alphas, res["mean_test_score"], yerr=res["std_test_score"], marker="o")
ax1.set_xscale("log")
ax1.set_xlabel("learning rate alpha")
ax1.set_ylabel("mean CV accuracy")
ax1.set_title("Cross-validated accuracy per learning rate")
CostHistoryDisplay.from_estimator(search.best_estimator_, ax=ax2)
ax2.set_title("Cost J of the refitted best model")
fig.tight_layout()
plt.show()
