"""Faults: fits interrupted, failing or killed leave nothing damaged, never hang.

- Every fitting method (``fit``, ``partial_fit``, the CV's ``fit``) leaves
  the estimator exactly as it was before the call when it raises: a bad
  input found late, a failing scorer, or an interrupt. The oracle is the
  pickled state taken before the call; it must be byte for byte the same.
- Real signals: a child process interrupts fits with SIGALRM at random
  moments (in the compiled kernels, the step bound, validation, the
  refit...), a few hundred times, under its own time limit.
- No fit depends on an on-disk cache: ``test_readonly_install.py`` fits with
  a read-only package directory and HOME, and checks nothing was written.
"""

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from sklearn_gdlogreg import GDLogisticRegression, GDLogisticRegressionCV, _gd_logistic


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6))
    y = (X[:, 0] + 0.5 * rng.normal(size=300) > 0).astype(int)
    X3 = rng.normal(size=(120, 4))
    return X, y, X3, rng.integers(0, 3, 120)


def _fitted(kind, X, y):
    if kind == "cv":
        return GDLogisticRegressionCV(alphas=[0.1, 1.0], cv=3).fit(X, y)
    est = GDLogisticRegression(max_iter=50)
    if kind == "partial_fit":
        return est.partial_fit(X, y, classes=[0, 1])
    return est.fit(X, y)


def _call(kind, est, X, y):
    if kind == "partial_fit":
        return est.partial_fit(X, y)
    return est.fit(X, y)


class _Interrupt(BaseException):
    """Stands for KeyboardInterrupt or a signal handler's exception."""


def _failures(kind):
    """(name, patch) pairs: ways the call can fail after it started."""
    yield "one class", lambda X, y, X3, y3: (X3, np.zeros(len(X3)))
    # Another number of features: validation against the previous fit fails
    # (partial_fit) or succeeds and the fit fails later on NaN.
    yield "NaN", lambda X, y, X3, y3: (np.where(X3 > 1, np.nan, X3), y3 % 2)
    if kind != "partial_fit":
        yield "other classes", lambda X, y, X3, y3: (X3, y3 + 5)


@pytest.mark.parametrize("kind", ["fit", "partial_fit", "cv"])
def test_failed_call_leaves_state_exactly_as_before(data, kind, monkeypatch):
    X, y, X3, y3 = data
    est = _fitted(kind, X, y)
    before = pickle.dumps(est)
    for name, bad in _failures(kind):
        Xb, yb = bad(X, y, X3, y3)
        if name == "other classes":  # a valid multiclass refit, interrupted
            with pytest.raises(_Interrupt), monkeypatch.context() as patch:
                _interrupt_during(kind, est, patch)
                est.fit(Xb, yb)
        else:
            with pytest.raises(ValueError):
                _call(kind, est, Xb, yb)
        assert pickle.dumps(est) == before, name


def _interrupt_during(kind, est, patch):
    """Make the CV's scorer, or the solver's third iteration, raise."""

    def interrupt(*args, **kwargs):
        raise _Interrupt

    if kind == "cv":
        patch.setattr(est, "scoring", interrupt)
        return
    solvers = _gd_logistic.SOLVERS
    for name, solver in list(solvers.items()):

        def interrupting(objective, theta0, _solver=solver, **kwargs):
            def on_iter(k, theta, J):
                if k == 2:
                    raise _Interrupt
                return False

            return _solver(objective, theta0, **(kwargs | {"on_iter": on_iter}))

        patch.setitem(solvers, name, interrupting)


def test_cv_failed_fit_keeps_previous_model(data):
    # On main the CV's fit set n_features_in_ before failing.
    X, y, X3, _ = data
    cv = GDLogisticRegressionCV(alphas=[0.1], cv=3).fit(X, y)
    before = pickle.dumps(cv)
    with pytest.raises(ValueError, match="at least 2 classes"):
        cv.fit(X3, np.zeros(len(X3)))
    assert pickle.dumps(cv) == before
    assert cv.n_features_in_ == X.shape[1]


# ------------------------------------------------------------ real signals
CHILD = textwrap.dedent(
    """
    import pickle, signal, sys, time, warnings
    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn_gdlogreg import GDLogisticRegression, GDLogisticRegressionCV

    from sklearn_gdlogreg import _fit_state

    warnings.simplefilter("ignore", ConvergenceWarning)
    # The code of the wrapper that restores state: an alarm that lands while
    # a frame of it runs must leave the state as it was; one that lands
    # after the call returned (or before it began) may leave either.
    GUARD = _fit_state.restores_state_on_error(lambda self: None).__code__
    kind, trials = sys.argv[1], int(sys.argv[2])
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 20))
    y = (X[:, 0] + rng.normal(size=20_000) > 0).astype(int)
    X2, y2 = X[::2] * 2.0, y[::2]

    def make():
        if kind == "cv":
            return GDLogisticRegressionCV(alphas=[0.1, 1.0], cv=3, max_iter=30)
        return GDLogisticRegression(max_iter=30)

    def call(est):
        if kind == "partial_fit":
            return est.partial_fit(X2, y2, classes=[0, 1])
        return est.fit(X2, y2)

    class Alarm(Exception):
        pass

    def on_alarm(signum, frame):
        inside = False
        while frame is not None and not inside:
            inside, frame = frame.f_code is GUARD, frame.f_back
        raise Alarm(inside)

    signal.signal(signal.SIGALRM, on_alarm)
    est = make()
    call(est) if kind != "partial_fit" else est.partial_fit(X, y, classes=[0, 1])
    durations = []
    for _ in range(3):  # the very call the trials make
        start = time.perf_counter()
        call(est)
        durations.append(time.perf_counter() - start)
    duration = sorted(durations)[1]
    interrupted = 0
    for trial in range(trials):
        before = pickle.dumps(est)
        delay = rng.uniform(0.0, 1.2 * duration)
        try:
            signal.setitimer(signal.ITIMER_REAL, delay)
            call(est)
            signal.setitimer(signal.ITIMER_REAL, 0)
        except Alarm as alarm:
            if alarm.args[0]:
                interrupted += 1
                assert pickle.dumps(est) == before, f"trial {trial}: state changed"
            continue
        # Completed: a valid model, refitted on X2 (the next trial's start).
        assert est.predict(X2[:5]).shape == (5,)
    print("interrupted", interrupted, "of", trials, f"({duration:.3f} s a call)")
    """
)


@pytest.mark.parametrize("kind", ["fit", "partial_fit", "cv"])
def test_signal_at_a_random_moment_leaves_state_exactly_as_before(kind):
    # Random moments reach every stage: the compiled passes (the exception
    # is raised when they return), the step bound, validation, the CV's
    # refit. Run in a child: a hang or a crash fails the test, bounded.
    trials = 60
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(trials)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    interrupted = int(proc.stdout.split()[1])
    # Most delays land inside the call (their range is 1.2x its median
    # duration); a busy machine stretches calls, so only a floor is asked.
    assert interrupted >= trials // 6, proc.stdout
