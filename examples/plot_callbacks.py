"""
=========================================
Callbacks: progress bar and a live score
=========================================

With scikit-learn >= 1.9, :class:`~sklearn_gdlogreg.GDLogisticRegression`
reports each gradient-descent update to the callbacks set with
``set_callbacks``: ``ProgressBar`` shows a live bar, ``ScoringMonitor``
scores the model after every update, and your own callback can score it on
held-out data, or stop the fit.
"""

# %%
# A progress bar
# --------------
import matplotlib.pyplot as plt
from sklearn.callback import ProgressBar, ScoringMonitor
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import GDLogisticRegression

X, y = load_breast_cancer(return_X_y=True)
X_train, X_val, y_train, y_val = train_test_split(X, y, stratify=y, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)

clf = GDLogisticRegression(solver="nesterov", max_iter=300)
clf.set_callbacks(ProgressBar())
clf.fit(X_train, y_train)
print(f"{clf.n_iter_} updates")


# %%
# A score per update, on training and on validation data
# -------------------------------------------------------
# ``ScoringMonitor`` scores the training data it is given by ``fit``. For
# held-out data, a callback of a few lines asks for ``fitted_estimator`` (a
# copy of the model at the current update) and scores it; returning True
# from ``on_fit_task_end`` would stop the fit there.
class ValidationLoss:
    """Record the validation log-loss after every update."""

    def __init__(self, X, y):
        self.X, self.y, self.losses = X, y, []

    def setup(self, estimator, context):
        self.losses = []

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.parent is not None:  # an update, not the whole fit
            self.losses.append(log_loss(self.y, fitted_estimator.predict_proba(self.X)))
        return False


monitor = ScoringMonitor(scoring="neg_log_loss")
validation = ValidationLoss(X_val, y_val)
clf.set_callbacks(monitor, validation).fit(X_train, y_train)
train_loss = [
    -row["neg_log_loss"]
    for row in monitor.get_logs().data
    if row["task_name"] == "gd-iter"
]
print(
    f"final log-loss: train {train_loss[-1]:.4f}, "
    f"validation {validation.losses[-1]:.4f}"
)

# %%
fig, ax = plt.subplots(figsize=(7, 4.5))
ax.plot(range(1, len(train_loss) + 1), train_loss, label="training (ScoringMonitor)")
ax.plot(
    range(1, len(validation.losses) + 1),
    validation.losses,
    label="validation (own callback)",
)
ax.set_yscale("log")
ax.set_xlabel("iteration")
ax.set_ylabel("log-loss")
ax.set_title("Log-loss after each update, recorded by callbacks")
ax.legend()
plt.show()
