"""scikit-learn's callback API (>= 1.9): subtasks, fitted_estimator, stopping.

The oracle for the coefficients seen by callbacks is a plain NumPy
transcription of the lecture's update (fixed alpha, C=inf, no
preconditioner), never the estimator's own output.
"""

import warnings

import numpy as np
import pytest
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import GDLogisticRegression
from sklearn_gdlogreg._compat import sklearn_callback

needs_callbacks = pytest.mark.skipif(
    sklearn_callback is None, reason="sklearn.callback needs scikit-learn >= 1.9"
)
ALPHA = 0.5


def _lecture_iterates(X, y, alpha, n_iter):
    """(w_k, b_k) for k = 0..n_iter, the lecture's update in plain NumPy."""
    w, b, iterates = np.zeros(X.shape[1]), 0.0, []
    for _ in range(n_iter + 1):
        iterates.append((w, b))
        a = 1.0 / (1.0 + np.exp(-(X @ w + b)))
        w, b = w - alpha * X.T @ (a - y) / len(y), b - alpha * np.mean(a - y)
    return iterates


class Recorder:
    """Records every update's fitted_estimator; stops after `stop_at` updates."""

    def __init__(self, stop_at=None):
        self.stop_at = stop_at
        self.ends = []  # (context, fitted_estimator) of the per-update subtasks

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.parent is None:  # the root task: the whole fit
            return False
        self.ends.append((context.task_id, fitted_estimator))
        return self.stop_at is not None and len(self.ends) >= self.stop_at


@needs_callbacks
def test_fitted_estimator_follows_the_lecture_update(breast_cancer):
    X, y = breast_cancer
    rec = Recorder()
    clf = GDLogisticRegression(alpha=ALPHA, C=np.inf, max_iter=6, tol=0)
    clf.set_callbacks(rec)
    with pytest.warns(Warning, match="did not converge"):
        clf.fit(X, y)
    iterates = _lecture_iterates(X, y, ALPHA, 6)
    assert [task_id for task_id, _ in rec.ends] == list(range(6))
    for k, (_, fitted) in enumerate(rec.ends, start=1):
        w, b = iterates[k]
        # Same arithmetic up to float64 summation order: 1e-10 is ample.
        np.testing.assert_allclose(fitted.coef_.ravel(), w, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(fitted.intercept_, [b], rtol=1e-10, atol=1e-12)
        assert fitted.n_iter_ == k
        expected = (X @ w + b > 0).astype(int)
        np.testing.assert_array_equal(fitted.predict(X), expected)


@needs_callbacks
@pytest.mark.parametrize("solver", ["gd", "nesterov"])
def test_a_stop_request_ends_the_fit_consistently(breast_cancer, solver):
    X, y = breast_cancer
    clf = GDLogisticRegression(alpha=ALPHA, C=np.inf, solver=solver, tol=0)
    clf.set_callbacks(Recorder(stop_at=7))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # stopped on request: no ConvergenceWarning
        clf.fit(X, y)
    assert clf.n_iter_ == 7
    assert clf.cost_history_.shape == (8,)
    if solver == "gd":  # the plain update: compare with the transcription
        w, b = _lecture_iterates(X, y, ALPHA, 7)[7]
        np.testing.assert_allclose(clf.coef_.ravel(), w, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(clf.intercept_, [b], rtol=1e-10, atol=1e-12)


@needs_callbacks
@pytest.mark.parametrize("solver", ["gd", "nesterov"])
def test_one_subtask_per_update_when_converging(breast_cancer, solver):
    X, y = breast_cancer
    rec = Recorder()
    clf = GDLogisticRegression(solver=solver, tol=1e-3).set_callbacks(rec).fit(X, y)
    assert len(rec.ends) == clf.n_iter_ > 0
    np.testing.assert_array_equal(rec.ends[-1][1].coef_, clf.coef_)


@needs_callbacks
def test_scoring_monitor_records_one_score_per_update(breast_cancer):
    X, y = breast_cancer
    monitor = sklearn_callback.ScoringMonitor(scoring="accuracy")
    clf = GDLogisticRegression(alpha=ALPHA, C=np.inf, max_iter=5, tol=0)
    clf.set_callbacks(monitor)
    with pytest.warns(Warning, match="did not converge"):
        clf.fit(X, y)
    rows = [r for r in monitor.get_logs().data if r["task_name"] == "gd-iter"]
    assert len(rows) == 5
    for k, (row, (w, b)) in enumerate(
        zip(rows, _lecture_iterates(X, y, ALPHA, 5)[1:]), start=1
    ):
        assert row["task_id"] == k - 1
        assert row["accuracy"] == accuracy_score(y, (X @ w + b > 0).astype(int))


@needs_callbacks
def test_progress_bar_reaches_100_percent(breast_cancer, capsys):
    pytest.importorskip("rich", reason="ProgressBar needs rich")
    X, y = breast_cancer
    clf = GDLogisticRegression(tol=1e-3).set_callbacks(sklearn_callback.ProgressBar())
    clf.fit(X, y)
    out = capsys.readouterr().out
    assert "GDLogisticRegression - fit" in out
    assert "100%" in out


@needs_callbacks
def test_callbacks_propagate_from_a_pipeline(breast_cancer):
    pytest.importorskip("rich", reason="ProgressBar needs rich")
    X, y = breast_cancer
    pipe = make_pipeline(StandardScaler(), GDLogisticRegression(tol=1e-3))
    pipe.set_callbacks(sklearn_callback.ProgressBar(max_propagation_depth=None))
    pipe.fit(X, y)
    assert pipe.score(X, y) > 0.95  # the fit itself is unaffected


@needs_callbacks
def test_no_callback_no_context(breast_cancer):
    X, y = breast_cancer
    clf = GDLogisticRegression(tol=1e-3).fit(X, y)
    assert not hasattr(clf, "_callback_fit_ctx")
    assert not hasattr(clf, "_skl_callbacks")


@pytest.mark.skipif(
    sklearn_callback is not None, reason="checks the scikit-learn < 1.9 fallback"
)
def test_old_sklearn_fits_without_callbacks(breast_cancer):
    X, y = breast_cancer
    clf = GDLogisticRegression(tol=1e-3).fit(X, y)
    assert not hasattr(clf, "set_callbacks")
    assert clf.n_iter_ == clf.cost_history_.size - 1
