"""Interrupted fits and concurrent use.

- A fit interrupted by an exception (KeyboardInterrupt from inside the
  solver loop, or from the step-size setup before it) leaves the estimator
  exactly as it was before the call: unfitted, or with its previous fit.
- Clones fitted in several threads at once, and one model predicting in
  several threads, give the serial results bit for bit (the oracle is the
  same computation run serially first).
- A process forked after a fit fits too (the fused pass's thread pool is
  per process).
"""

import copy
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from sklearn_gdlogreg import GDLogisticRegression, _gd_logistic
from sklearn_gdlogreg._objective import LogisticObjective

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
