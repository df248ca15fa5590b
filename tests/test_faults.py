"""Faults: fits interrupted, failing or killed leave nothing damaged, never hang.

- Every fitting method (``fit``, ``partial_fit``, the CV's ``fit``) leaves
  the estimator exactly as it was before the call when it raises: a bad
  input found late, a failing scorer, or an interrupt. The oracle is the
  pickled state taken before the call; it must be byte for byte the same.
- Real signals: a child process interrupts fits with SIGALRM at random
  moments (in the compiled kernels, the step bound, validation, the
  refit...), a few hundred times, under its own time limit.
- Dask workers killed (SIGKILL) or frozen (SIGSTOP) at chosen moments: the
  fit completes on the remaining workers with the fault-free fit's iterates
  (to rounding: the per-worker sums are regrouped), or fails within the
  ``sklearn_gdlogreg.timeout`` dask setting with an error naming the
  worker. Each runs a LocalCluster in a child process (its own session,
  killed with its workers afterwards) under a hard time limit.
- No fit depends on an on-disk cache: ``test_readonly_install.py`` fits with
  a read-only package directory and HOME, and checks nothing was written.
"""

import importlib.util
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import sklearn_gdlogreg
from sklearn_gdlogreg import GDLogisticRegression, GDLogisticRegressionCV, _gd_logistic

# Short fits: not converging is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


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


# ------------------------------------------------------------- dask workers
needs_cluster = pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None or not hasattr(os, "killpg"),
    reason="needs dask.distributed, and SIGKILL/SIGSTOP of worker processes",
)

# The child's hard limit (seconds): a fault-free child takes about 5 s here,
# a hang would take forever.
HANG_LIMIT = 60
# The sklearn_gdlogreg.timeout set for the frozen-worker fit: a pass over
# these 600 x 8 samples takes milliseconds.
FROZEN_TIMEOUT = 3

DASK_CHILD = """
import json, os, signal, sys, time
import numpy as np
import dask, dask.array as da, distributed
from sklearn.datasets import make_classification
from sklearn_gdlogreg import GDLogisticRegression
from sklearn_gdlogreg._numerics import _dask_blocks

FAULT, WHEN = sys.argv[1], sys.argv[2]
X, y = make_classification(n_samples=600, n_features=8, random_state=0)


def dask_fit(est):
    return est.fit(da.from_array(X, chunks=150), da.from_array(y, chunks=150))


def strike(client, victim):
    # SIGKILL or SIGSTOP the worker process; once killed, wait until the
    # scheduler has removed it (its nanny starts a new one).
    os.kill(PIDS[victim], getattr(signal, FAULT))
    start = time.monotonic()
    while WHEN != "during" and FAULT == "SIGKILL" and victim in client.nthreads():
        assert time.monotonic() - start < 20, "the scheduler kept a dead worker"
        time.sleep(0.05)
    report["victim"] = victim


if __name__ == "__main__":
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, dashboard_address=None
    )
    client = distributed.Client(cluster)
    reference = dask_fit(GDLogisticRegression(alpha=0.5, max_iter=15))
    PIDS = client.run(os.getpid)  # worker address -> its process id
    report = {}
    if WHEN == "placement":
        # Between finding where the blocks are and placing the actors.
        who_has = distributed.Client.who_has

        def hooked_who_has(self, *args, **kwargs):
            where = who_has(self, *args, **kwargs)
            if "victim" not in report:
                strike(self, next(iter(where.values()))[0])
            return where

        distributed.Client.who_has = hooked_who_has
    else:
        # Before the 5th pass through the actors; "during": without waiting
        # for the scheduler to notice, so that the call meets a dead worker.
        results, calls = _dask_blocks._BlockActors.results, []

        def hooked_results(self, *args):
            calls.append(1)
            if len(calls) == 5:
                strike(self.client, sorted(PIDS)[0])
            return results(self, *args)

        _dask_blocks._BlockActors.results = hooked_results
    dask.config.set({"sklearn_gdlogreg.timeout": float(sys.argv[3])})
    est = GDLogisticRegression(alpha=0.5, max_iter=15).fit(X[:, :5], y)
    before = {k: np.copy(v) for k, v in vars(est).items() if k.endswith("_")}
    try:
        dask_fit(est)
        report["outcome"] = "completed"
        report["coef_diff"] = float(np.max(np.abs(est.coef_ - reference.coef_)))
        report["same_history"] = bool(np.allclose(
            est.cost_history_, reference.cost_history_, rtol=1e-10, atol=0
        ))
    except Exception as error:
        report["outcome"] = type(error).__name__
        report["message"] = str(error)
        after = {k: v for k, v in vars(est).items() if k.endswith("_")}
        report["state_kept"] = before.keys() == after.keys() and all(
            np.array_equal(before[k], after[k]) for k in before
        )
    print("REPORT " + json.dumps(report), flush=True)
    os._exit(0)  # the parent kills the cluster's processes
"""


def run_child(tmp_path, fault, when, timeout=600):
    """Run the child under HANG_LIMIT; its report and its wall time."""
    script = tmp_path / "child.py"
    script.write_text(DASK_CHILD)
    root = str(Path(sklearn_gdlogreg.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *sys.path])}
    log = tmp_path / "child.log"  # not a pipe: the workers would hold it open
    start = time.monotonic()
    with log.open("w") as output:
        child = subprocess.Popen(
            [sys.executable, str(script), fault, when, str(timeout)],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
            start_new_session=True,  # its workers too are killed below
        )
    try:
        child.wait(timeout=HANG_LIMIT)
        hung = False
    except subprocess.TimeoutExpired:
        hung = True
    finally:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:  # all of them gone already
            pass
        child.wait()
    elapsed = time.monotonic() - start
    out = log.read_text()
    if hung:
        pytest.fail(f"the dask fit hung: killed after {HANG_LIMIT} s\n{out[-3000:]}")
    reports = [line for line in out.splitlines() if line.startswith("REPORT ")]
    assert reports, out
    print(f"{fault} at {when}: {elapsed:.1f} s")
    return json.loads(reports[-1][len("REPORT ") :]), out


def assert_completed_as_reference(report, out):
    assert "victim" in report, out  # the fault was injected (the hook ran)
    assert report["outcome"] == "completed", out
    # The fit without fault, to rounding (the sums regrouped per worker).
    assert report["coef_diff"] < 1e-10
    assert report["same_history"]


@needs_cluster
def test_worker_killed_before_actors_are_placed(tmp_path):
    # The actor pinned to the dead worker would wait for it forever: the
    # blocks are recomputed on the remaining workers and placed again.
    report, out = run_child(tmp_path, "SIGKILL", "placement")
    assert_completed_as_reference(report, out)


@needs_cluster
@pytest.mark.parametrize("when", ["between", "during"])
def test_worker_killed_mid_fit(tmp_path, when):
    # The pass is repeated on the remaining workers: same fit.
    report, out = run_child(tmp_path, "SIGKILL", when)
    assert_completed_as_reference(report, out)


@needs_cluster
def test_frozen_worker_fails_within_the_timeout_naming_it(tmp_path):
    report, out = run_child(tmp_path, "SIGSTOP", "between", timeout=FROZEN_TIMEOUT)
    assert report["outcome"] == "TimeoutError", out
    assert report["victim"] in report["message"]
    assert "sklearn_gdlogreg.timeout" in report["message"]
    # The estimator is left as it was before the failed fit.
    assert report["state_kept"]


@needs_cluster
def test_timeout_setting():
    import dask

    from sklearn_gdlogreg._numerics._dask_blocks import cluster_timeout

    assert cluster_timeout() == 600  # the default: 10 minutes
    with dask.config.set({"sklearn_gdlogreg.timeout": "2 minutes"}):
        assert cluster_timeout() == 120
    with dask.config.set({"sklearn_gdlogreg.timeout": None}):
        assert cluster_timeout() is None  # no limit
    assert cluster_timeout() == 600
