"""Interrupted fits and concurrent use.

- A fit interrupted by an exception (KeyboardInterrupt from inside the
  solver loop, or from the step-size setup before it) leaves the estimator
  exactly as it was before the call: unfitted, or with its previous fit.
- Clones fitted in several threads at once, and one model predicting in
  several threads, give the serial results bit for bit (the oracle is the
  same computation run serially first).
- A process forked after a fit fits too (the fused pass's thread pool is
  per process).
- BLAS's process-wide thread count is what it was after fits in threads,
  whatever their interleaving, and a process forked while other threads
  fit does not hang (the limit of BLAS to one thread is one reference-counted
  limiter, locked across a fork).
"""

import copy
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

import sklearn_gdlogreg
from sklearn_gdlogreg import GDLogisticRegression, _gd_logistic
from sklearn_gdlogreg._numerics import FusedPass, single_threaded_blas
from sklearn_gdlogreg._objective._numpy import LogisticObjective

N_THREADS = 4
# Short fits: not converging is expected. (A module-level filter, because
# warnings.catch_warnings is not thread-safe.)
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _interrupting(solver, at_iter):
    """Wrap a solver so that its per-iteration hook raises KeyboardInterrupt."""

    def wrapper(objective, theta0, **kwargs):
        inner = kwargs.get("on_iter")

        def on_iter(k, theta, J):
            if k == at_iter:
                raise KeyboardInterrupt
            return inner(k, theta, J) if inner is not None else False

        kwargs["on_iter"] = on_iter
        return solver(objective, theta0, **kwargs)

    return wrapper


@pytest.fixture(params=["gd", "nesterov"])
def interrupted_solver(request, monkeypatch):
    name = request.param
    solvers = _gd_logistic.SOLVERS
    monkeypatch.setitem(solvers, name, _interrupting(solvers[name], at_iter=3))
    return name


def _state(est):
    """A deep copy of everything the estimator holds."""
    return copy.deepcopy(vars(est))


def _assert_same_state(est, before):
    after = vars(est)
    assert after.keys() == before.keys()
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            assert_array_equal(after[key], value, err_msg=key)
            assert after[key].dtype == value.dtype
        else:
            assert type(after[key]) is type(value) and after[key] == value, key


def test_interrupted_fit_leaves_fresh_estimator_unfitted(
    breast_cancer, interrupted_solver
):
    X, y = breast_cancer
    est = GDLogisticRegression(solver=interrupted_solver, max_iter=20)
    before = _state(est)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    _assert_same_state(est, before)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


@pytest.mark.parametrize("warm_start", [False, True])
def test_interrupted_refit_keeps_previous_fit(
    breast_cancer, three_classes, interrupted_solver, monkeypatch, warm_start
):
    X, y = breast_cancer
    est = GDLogisticRegression(
        solver=interrupted_solver, max_iter=2, warm_start=warm_start
    )
    est.fit(X, y)  # at_iter=3 is never reached with max_iter=2
    proba = est.predict_proba(X)
    before = _state(est)
    # Refit on other data (multiclass), then on the same data with a new
    # parameter: both interrupted mid-way.
    with pytest.raises(KeyboardInterrupt):
        est.set_params(max_iter=20).fit(*three_classes)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    est.set_params(max_iter=2)
    _assert_same_state(est, before)
    assert_array_equal(est.predict_proba(X), proba)


def test_interrupt_before_the_solver_keeps_previous_fit(breast_cancer, monkeypatch):
    X, y = breast_cancer
    est = GDLogisticRegression(max_iter=2)
    est.fit(X, y)
    before = _state(est)

    def interrupt(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(LogisticObjective, "lipschitz", interrupt)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X[::2], y[::2])  # alpha="auto" computes the bound first
    _assert_same_state(est, before)


# ----------------------------------------------------------------- threads
CONFIGS = [
    dict(alpha=a, solver=s, l1_ratio=r)
    for a in ("auto", 0.5)
    for s in ("gd", "nesterov")
    for r in (0.0, 1.0)
]


@pytest.mark.parametrize("data", ["breast_cancer", "three_classes"])
def test_clones_fitted_in_threads_match_serial_fits(request, data):
    X, y = request.getfixturevalue(data)
    base = GDLogisticRegression(max_iter=30)
    serial = [clone(base).set_params(**c).fit(X, y) for c in CONFIGS]
    with ThreadPoolExecutor(N_THREADS) as pool:
        threaded = list(
            pool.map(lambda c: clone(base).set_params(**c).fit(X, y), CONFIGS)
        )
    for ref, got in zip(serial, threaded):
        for name in ("coef_", "intercept_", "cost_history_"):
            assert_array_equal(getattr(got, name), getattr(ref, name), err_msg=name)
        assert (got.n_iter_, got.alpha_) == (ref.n_iter_, ref.alpha_)


@pytest.mark.parametrize("data", ["breast_cancer", "three_classes"])
def test_one_model_predicting_in_threads_matches_serial(request, data):
    X, y = request.getfixturevalue(data)
    est = GDLogisticRegression(max_iter=30).fit(X, y)
    chunks = np.array_split(X, 16)
    methods = ("predict_proba", "predict_log_proba", "decision_function", "predict")
    serial = [[getattr(est, m)(c) for m in methods] for c in chunks]

    def work(chunk):
        return [getattr(est, m)(chunk) for m in methods]

    with ThreadPoolExecutor(N_THREADS) as pool:
        threaded = list(pool.map(work, chunks * 4))  # each chunk four times
    for i, got in enumerate(threaded):
        for ref_out, got_out in zip(serial[i % len(chunks)], got):
            assert_array_equal(got_out, ref_out)


def _fit_in_child(X, y, queue):
    est = GDLogisticRegression(max_iter=3).fit(X, y)
    queue.put(est.coef_)


@pytest.mark.skipif(
    "fork" not in __import__("multiprocessing").get_all_start_methods(),
    reason="the fork start method does not exist on this platform",
)
def test_fit_in_a_process_forked_after_a_fit():
    # A forked child inherits the parent's cached thread pool but not its
    # threads: the fused pass must not wait on it. Large enough for two row
    # ranges (two threads). Oracle: the same fit in the parent.
    import multiprocessing

    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 5))
    y = (X[:, 0] + rng.standard_normal(20_000) > 0).astype(int)
    expected = GDLogisticRegression(max_iter=3).fit(X, y).coef_  # pool made
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_fit_in_child, args=(X, y, queue))
    child.start()
    child.join(60)
    hung = child.is_alive()
    if hung:
        child.kill()
    assert not hung, "the fit in the forked process never finished"
    np.testing.assert_allclose(queue.get(timeout=10), expected, rtol=1e-12)


# ------------------------------------------------------- BLAS thread limit
def _blas_threads():
    """The thread count of every BLAS library loaded."""
    from threadpoolctl import threadpool_info

    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


@pytest.fixture
def blas_threads():
    """BLAS's thread counts before the test, put back after it if it leaked."""
    before = _blas_threads()
    if not before or all(n == 1 for n in before):
        pytest.skip("BLAS runs one thread: a leaked limit of one cannot show")
    yield before
    if _blas_threads() != before:
        import threadpoolctl

        libs = threadpoolctl.ThreadpoolController().select(user_api="blas")
        for lib, n in zip(libs.lib_controllers, before):
            lib.set_num_threads(n)
        # threadpoolctl >= 3.8: hand back control of OpenBLAS's count.
        openblas = getattr(threadpoolctl, "OpenBLASController", None)
        clear = getattr(openblas, "clear_controlling_thread", None)
        if clear is not None:
            clear(force=True)


def _large_binary(n=4096, d=16, seed=0):
    """Dense data just large enough that a fit limits BLAS (FusedPass.large)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = (X[:, 0] + rng.standard_normal(n) > 0).astype(int)
    assert FusedPass(X, 1, "binary", y, np.full(n, 1 / n)).large
    return X, y


def test_blas_limit_outlives_the_thread_that_set_it(blas_threads):
    # The interleaving that leaked: T1 enters, T2 enters, T1 leaves, T2
    # leaves. BLAS stays at one thread while T2 is inside, and is back to
    # the counts before once both have left.
    inside = []
    t1_in, t2_in, t1_out = threading.Event(), threading.Event(), threading.Event()

    def t1():
        with single_threaded_blas():
            t1_in.set()
            t2_in.wait(10)
        t1_out.set()

    def t2():
        t1_in.wait(10)
        with single_threaded_blas():
            t2_in.set()
            t1_out.wait(10)
            inside.append(_blas_threads())

    threads = [threading.Thread(target=t1), threading.Thread(target=t2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert inside == [[1] * len(blas_threads)]
    assert _blas_threads() == blas_threads


def test_grid_search_in_threads_leaves_blas_threads(blas_threads):
    # The report: GridSearchCV(n_jobs=2) on the threading backend left BLAS
    # on one thread (about one search in two, on 2 cores). Each search's
    # training folds are large enough to limit BLAS.
    import joblib
    from sklearn.model_selection import GridSearchCV

    X, y = _large_binary(n=6144)
    grid = {"alpha": [0.05, 0.1, 0.2, 0.4]}
    with joblib.parallel_backend("threading"):
        for _ in range(8):
            search = GridSearchCV(
                GDLogisticRegression(max_iter=10), grid, n_jobs=2, cv=3
            )
            search.fit(X, y)
            assert _blas_threads() == blas_threads


def test_fits_forced_to_interleave_leave_blas_threads(blas_threads):
    # Four fits start together (a barrier) in every round; after each round
    # BLAS's counts are those before. (Per pass, the old limiter saved and
    # restored its own: some round left one thread.)
    X, y = _large_binary()
    n_threads, rounds = 4, 40
    barrier = threading.Barrier(n_threads)

    def fit(alpha):
        barrier.wait(30)
        return GDLogisticRegression(alpha=alpha, max_iter=5, tol=0).fit(X, y)

    with ThreadPoolExecutor(n_threads) as pool:
        for _ in range(rounds):
            list(pool.map(fit, [0.05, 0.1, 0.2, 0.4]))
            assert _blas_threads() == blas_threads


@pytest.mark.skipif(
    not hasattr(os, "register_at_fork"), reason="os.fork does not exist here"
)
def test_child_forked_while_another_thread_limits_blas_gets_it_back(blas_threads):
    # The thread holding the limit does not exist in the child: the child
    # starts with BLAS's counts as before the limit; the parent keeps its
    # limit until that thread leaves.
    entered, leave = threading.Event(), threading.Event()

    def hold():
        with single_threaded_blas():
            entered.set()
            leave.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        entered.wait(30)
        pid = os.fork()
        if pid == 0:
            os._exit(0 if _blas_threads() == blas_threads else 1)
        status = _wait_child(pid, timeout=30)
        assert _blas_threads() == [1] * len(blas_threads)
    finally:
        leave.set()
        holder.join(30)
    assert status == 0, "the child kept the limit of a thread it does not have"
    assert _blas_threads() == blas_threads


def _wait_child(pid, timeout):
    """The exit status of child ``pid``; killed (and None) after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(0.005)


# A process that forks while other threads fit and limit BLAS; each child
# limits BLAS (what its first fit would do first) and exits. A child still running after
# CHILD_TIMEOUT seconds hung: the script reports it and exits 1 at once.
_FORK_SCRIPT = """
import os, sys, threading, time, warnings
import numpy as np
from sklearn_gdlogreg import GDLogisticRegression
from sklearn_gdlogreg._numerics import single_threaded_blas

warnings.simplefilter("ignore")
N_FORKS, CHILD_TIMEOUT = {n_forks}, {child_timeout}
# GIL handovers at almost every bytecode: the fork lands anywhere in the
# other threads' limits, as it does once in a hundred on a busy machine.
sys.setswitchinterval(1e-5)
rng = np.random.default_rng(0)
X = rng.standard_normal((4096, 16))
y = (X[:, 0] > 0).astype(int)
stop = threading.Event()

def fits():
    while not stop.is_set():
        GDLogisticRegression(max_iter=20, tol=0, alpha=0.1).fit(X, y)

def limits():  # the limiter every fit enters, without the fit around it
    while not stop.is_set():
        with single_threaded_blas():
            pass

threads = [threading.Thread(target=fits)]
threads += [threading.Thread(target=limits) for _ in range(3)]
for thread in threads:
    thread.start()
hung = None
for i in range(N_FORKS):
    pid = os.fork()
    if pid == 0:  # the child's first limit of BLAS, as its first fit's
        with single_threaded_blas():
            np.ones(64) @ np.ones(64)
        os._exit(0)
    deadline = time.monotonic() + CHILD_TIMEOUT
    while os.waitpid(pid, os.WNOHANG)[0] == 0:
        if time.monotonic() > deadline:
            hung = i
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            break
        time.sleep(0.002)
    if hung is not None:
        break
stop.set()
for thread in threads:
    thread.join()
if hung is not None:
    print(f"child of fork {{hung}} of {{N_FORKS}} still running after "
          f"{{CHILD_TIMEOUT}} s")
    sys.exit(1)
print(f"{{N_FORKS}} children exited")
"""


@pytest.mark.skipif(
    not hasattr(os, "register_at_fork"), reason="os.fork does not exist here"
)
def test_forks_beside_fitting_threads_do_not_hang():
    # In a process of its own, bounded in time (a hung fork must not hang
    # the test run). Before the fix, a child hung in about one fork in ten
    # of this script, inside threadpoolctl's OpenBLAS setter: its lock was
    # taken by another thread at the fork.
    _large_binary()  # asserts the script's data are large enough to limit BLAS
    script = textwrap.dedent(_FORK_SCRIPT.format(n_forks=150, child_timeout=10))
    root = os.path.dirname(os.path.dirname(sklearn_gdlogreg.__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, *sys.path]))
    try:
        result = subprocess.run(
            [sys.executable, "-c", script],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the forking process itself hung")
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
