"""Dask fits that lose a worker: they complete or fail in bounded time, never hang.

Each test runs a LocalCluster and a fit in a child process (its own session,
killed with all its workers afterwards) under a hard time limit: a hang
fails the test instead of blocking the suite. The child kills (SIGKILL) or
freezes (SIGSTOP) one worker holding blocks of X at a chosen moment, through
a small hook, and reports the outcome as one JSON line.

The oracle is the same fit on the same cluster with no fault: a fit that
completes on the remaining workers must reproduce its coefficients and cost
history (to rounding: the per-worker sums are regrouped).
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sklearn_gdlogreg

pytest.importorskip("dask.array")
pytest.importorskip("dask.distributed")
pytestmark = pytest.mark.skipif(
    not hasattr(os, "killpg"), reason="SIGKILL and SIGSTOP of worker processes"
)

# The child's hard limit (seconds): a fault-free child takes about 5 s here,
# a hang would take forever.
HANG_LIMIT = 60
# The sklearn_gdlogreg.timeout set for the frozen-worker fit: a pass over
# these 600 x 8 samples takes milliseconds.
FROZEN_TIMEOUT = 3

CHILD = """
import json, os, signal, sys, time
import numpy as np
import dask, dask.array as da, distributed
from sklearn.datasets import make_classification
from sklearn_gdlogreg import GDLogisticRegression
from sklearn_gdlogreg import _dask

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
        results, calls = _dask._BlockActors.results, []

        def hooked_results(self, *args):
            calls.append(1)
            if len(calls) == 5:
                strike(self.client, sorted(PIDS)[0])
            return results(self, *args)

        _dask._BlockActors.results = hooked_results
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
    script.write_text(CHILD)
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
    assert report["outcome"] == "completed", out
    # The fit without fault, to rounding (the sums regrouped per worker).
    assert report["coef_diff"] < 1e-10
    assert report["same_history"]


def test_worker_killed_before_actors_are_placed(tmp_path):
    # The actor pinned to the dead worker would wait for it forever: the
    # blocks are recomputed on the remaining workers and placed again.
    report, out = run_child(tmp_path, "SIGKILL", "placement")
    assert_completed_as_reference(report, out)


@pytest.mark.parametrize("when", ["between", "during"])
def test_worker_killed_mid_fit(tmp_path, when):
    # The pass is repeated on the remaining workers: same fit.
    report, out = run_child(tmp_path, "SIGKILL", when)
    assert_completed_as_reference(report, out)


def test_frozen_worker_fails_within_the_timeout_naming_it(tmp_path):
    report, out = run_child(tmp_path, "SIGSTOP", "between", timeout=FROZEN_TIMEOUT)
    assert report["outcome"] == "TimeoutError", out
    assert report["victim"] in report["message"]
    assert "sklearn_gdlogreg.timeout" in report["message"]
    # The estimator is left as it was before the failed fit.
    assert report["state_kept"]


def test_timeout_setting():
    import dask

    from sklearn_gdlogreg._dask import cluster_timeout

    assert cluster_timeout() == 600  # the default: 10 minutes
    with dask.config.set({"sklearn_gdlogreg.timeout": "2 minutes"}):
        assert cluster_timeout() == 120
    with dask.config.set({"sklearn_gdlogreg.timeout": None}):
        assert cluster_timeout() is None  # no limit
    assert cluster_timeout() == 600
