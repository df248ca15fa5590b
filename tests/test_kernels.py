"""Every compiled kernel of the fused pass against a plain NumPy formula.

One pass (:class:`FusedPass`) for every mode (binary, multinomial, weighted
Gram product), every layout (dense C and F order, CSR, CSC), float64 and
float32, uniform, random and held-out (equal but for zeros) weights, with
and without Nesterov's
extrapolated point, on one thread and split over two row ranges. The oracle
is written here from the math: ``logaddexp``/``logsumexp`` for the loss,
``X.T @ (s * (p - y))`` for the gradient, in float64.

Tolerances: float64 rtol 1e-10 (sums of a few hundred terms, each rounded
once: ~1e-14, far below it; a wrong term shows at 1e-3 or more); float32
rtol 1e-4 (float32 arithmetic, relative rounding 6e-8 per operation,
accumulated over ~200 terms per sum: ~1e-5 at worst). ``atol`` covers
gradient entries that cancel to near zero.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from scipy.special import expit, logsumexp, softmax

from sklearn_gdlogreg._numerics import FusedPass, _passes

TOL = {
    np.float64: {"rtol": 1e-10, "atol": 1e-12},
    np.float32: {"rtol": 1e-4, "atol": 1e-6},
}
BETA = 0.6


def make_data(fmt, dtype, n_out, weights, seed=0):
    rng = np.random.default_rng(seed)
    n, d = 613, 7  # odd rows: the two-row loop's remainder; > 2 tiles
    X = rng.normal(size=(n, d)) * np.logspace(-1, 1, d) + rng.normal(size=d)
    if fmt in ("csr", "csc"):
        X[rng.random(X.shape) < 0.5] = 0.0
        X = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    elif fmt == "dense_f":
        X = np.asfortranarray(X)
    X = X.astype(dtype)
    y = rng.integers(0, max(n_out, 2), size=n)
    s = rng.uniform(0.5, 2.0, size=n) if weights == "random" else np.ones(n)
    if weights == "held_out":  # equal but for zeros, the first row's too
        s[rng.random(n) < 0.25] = 0.0
        s[:3] = 0.0
    s = (s / s.sum()).astype(dtype)
    W = (rng.normal(size=(d, n_out)) * 0.5).astype(dtype)
    W_prev = (rng.normal(size=(d, n_out)) * 0.5).astype(dtype)
    b = rng.normal(size=n_out).astype(dtype)
    return X, y, s, W, W_prev, b


def oracle(mode, X, y, s, W, b, Z_y):
    """``(value, value_y, G, db)`` in float64; the residual taken at ``Z_y``."""
    X64 = X.astype(np.float64)
    s = s.astype(np.float64)
    Z = np.asarray(X64 @ W.astype(np.float64)) + b.astype(np.float64)
    if mode == "weighted":
        R = s[:, None] * Z
        return 0.0, 0.0, np.asarray(X64.T @ R), R.sum(axis=0), Z

    def loss(Z):
        if mode == "binary":
            z = Z[:, 0]
            return s @ (np.logaddexp(0.0, z) - y * z)
        return s @ (logsumexp(Z, axis=1) - Z[np.arange(len(y)), y])

    if mode == "binary":
        R = (s * (expit(Z_y[:, 0]) - y))[:, None]
    else:
        R = s[:, None] * (softmax(Z_y, axis=1) - np.eye(Z.shape[1])[y])
    return loss(Z), loss(Z_y), np.asarray(X64.T @ R), R.sum(axis=0), Z


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("weights", ["uniform", "random", "held_out"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fmt", ["dense", "dense_f", "csr", "csc"])
@pytest.mark.parametrize(
    "mode, beta",  # the Gram product has no extrapolated point
    [
        ("binary", 0.0),
        ("binary", BETA),
        ("multinomial", 0.0),
        ("multinomial", BETA),
        ("weighted", 0.0),
    ],
)
def test_fused_pass_matches_numpy(
    mode, beta, fmt, dtype, weights, n_threads, monkeypatch
):
    # Two row ranges even for 613 rows: the reduction between them is tested.
    monkeypatch.setattr(_passes, "_MIN_ROWS", 64)
    monkeypatch.setattr(_passes, "_n_threads", lambda: n_threads)
    n_out = {"binary": 1, "multinomial": 3, "weighted": 2}[mode]
    X, y, s, W, W_prev, b = make_data(fmt, dtype, n_out, weights)
    labels = None if mode == "weighted" else y
    pass_ = FusedPass(X, n_out, mode, labels, s)
    # Rows held out by early stopping (weight zero) keep the folded logs.
    assert pass_.uniform == (weights != "random")
    assert len(pass_._R) == (1 if fmt == "csc" else n_threads)
    Z = np.empty((X.shape[0] if pass_.keeps_raw else 0, n_out), dtype)
    Z_prev = np.asarray(X @ W_prev + b, dtype=dtype)
    if beta:
        Z_full = np.asarray(X @ W.astype(np.float64)) + b
        Z_y = Z_full + beta * (Z_full - Z_prev.astype(np.float64))
        if not pass_.keeps_raw:  # CSR binary: needs Z to extrapolate from
            Z = np.empty((X.shape[0], n_out), dtype)
        value, value_y, G, db = pass_(W, b, Z, Z_prev=Z_prev, beta=beta)
    else:
        Z_y = np.asarray(X @ W.astype(np.float64)) + b
        value, value_y, G, db = pass_(W, b, Z)
    ref_value, ref_value_y, ref_G, ref_db, ref_Z = oracle(mode, X, y, s, W, b, Z_y)
    tol = TOL[dtype]
    assert_allclose([value, value_y], [ref_value, ref_value_y], **tol)
    assert_allclose(G, ref_G, **tol)
    assert_allclose(db, ref_db, **tol)
    if Z.shape[0]:
        assert_allclose(Z, ref_Z, **tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_csr_binary_two_points_match_numpy(dtype, monkeypatch):
    # Nesterov's point given as coefficients (second column of W2): each
    # row's two dot products from one read, no raw predictions kept.
    monkeypatch.setattr(_passes, "_MIN_ROWS", 64)
    monkeypatch.setattr(_passes, "_n_threads", lambda: 2)
    X, y, s, W, W_y, b = make_data("csr", dtype, 1, "random")
    b_y = (b - 0.3).astype(dtype)
    pass_ = FusedPass(X, 1, "binary", y, s)
    value, value_y, G, db = pass_.at_point_and_extrapolation(
        np.hstack([W, W_y]), b, b_y, BETA
    )
    Z_y = np.asarray(X @ W_y.astype(np.float64)) + b_y
    ref = oracle("binary", X, y, s, W, b, Z_y)
    tol = TOL[dtype]
    assert_allclose([value, value_y], ref[:2], **tol)
    assert_allclose(G, ref[2], **tol)
    assert_allclose(db, ref[3], **tol)


def test_threadpool_limits_bounds_the_kernels_threads():
    # The kernels' threads are OpenMP's: threadpoolctl's limit reaches them
    # (it sets the limit of every OpenMP runtime loaded, this package's too).
    from threadpoolctl import threadpool_limits

    from sklearn_gdlogreg._numerics._threads import effective_n_threads

    with threadpool_limits(limits=1, user_api="openmp"):
        assert effective_n_threads() == 1
        X = np.random.default_rng(0).normal(size=(3 * _passes._MIN_ROWS, 3))
        pass_ = FusedPass(X, 1, "weighted", None, np.full(X.shape[0], 1.0))
        assert len(pass_._R) == 1


@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_pass_gives_the_same_bits_on_any_number_of_threads(fmt, monkeypatch):
    # The rows are cut into chunks fixed at construction, each summed into
    # its own slot and added up in chunk order: one thread or two, and
    # whichever thread takes which chunk, the same floating-point sums.
    monkeypatch.setattr(_passes, "_MIN_ROWS", 64)
    monkeypatch.setattr(_passes, "_CHUNK_ROWS", 32)
    monkeypatch.setattr(_passes, "_n_threads", lambda: 2)
    X, y, s, W, _, b = make_data(fmt, np.float64, 1, "random")
    pass_ = FusedPass(X, 1, "binary", y, s)
    assert len(pass_._Gt) > 2  # more chunks than threads
    Z = np.empty((X.shape[0] if pass_.keeps_raw else 0, 1))
    results = []
    for threads in (2, 1, 2):
        monkeypatch.setattr(_passes, "_n_threads", lambda threads=threads: threads)
        value, value_y, G, db = pass_(W, b, Z)
        results.append((value, value_y, G.copy(), db.copy()))
    for other in results[1:]:
        assert other[:2] == results[0][:2]
        np.testing.assert_array_equal(other[2], results[0][2])
        np.testing.assert_array_equal(other[3], results[0][3])


class _Clock:
    """A fake ``time`` module whose clock the test advances."""

    def __init__(self):
        self.now = 100.0

    def perf_counter(self):
        return self.now


def test_thread_choice_keeps_the_faster_count_and_rechecks(monkeypatch):
    # Cycles on 2 threads take 3 ms, on one 1 ms (as where other processes
    # hold the cores): after two trials each, one thread is kept, and two
    # are tried again once every _THREAD_RECHECK seconds.
    clock = _Clock()
    monkeypatch.setattr(_passes, "time", clock)
    cycle = _passes.ThreadChoice(2).cycle()

    def run(n, cost, pause=0.0):  # n passes, each cycle cost[count] long
        counts = []
        for _ in range(n):
            clock.now += pause
            counts.append(cycle.start())
            clock.now += cost[counts[-1]]
        return counts

    loaded = {2: 0.003, 1: 0.001}
    assert run(4, loaded) == [2, 1, 2, 1]  # the trials
    assert run(36, loaded) == [1] * 36  # 36 ms: no recheck yet
    clock.now += _passes._THREAD_RECHECK
    assert run(3, loaded) == [2, 1, 1]  # one recheck
    # The load goes: 2 threads are faster again, and kept after a check.
    quiet = {2: 0.0005, 1: 0.001}
    # (Passes a third of the recheck interval apart: every third one checks.)
    counts = run(12, quiet, pause=_passes._THREAD_RECHECK / 3)
    assert counts[-6:].count(2) == 4  # 2 kept, 1 checked every third pass
    assert _passes.ThreadChoice(1).cycle().start() == 1


def test_passes_of_a_size_share_their_choice():
    a = _passes.thread_choice(2, 1_100_000)
    assert _passes.thread_choice(2, 1_900_000) is a  # the same power of two
    assert _passes.thread_choice(2, 3_000_000) is not a
    assert _passes.thread_choice(1, 1_100_000) is not a
    # The step bound's passes and the solver's do different work around them.
    assert _passes.thread_choice(2, 1_100_000, (0, 1)) is not a
