"""Memory of a fit (target P3): the step bound's Lanczos, the fit's n-vectors.

Bounds follow from what the algorithms need (a few blocks of the Krylov
basis; one n-vector of raw predictions and one byte of label per sample),
measured with tracemalloc, never with a clock.
"""

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from sklearn_gdlogreg import GDLogisticRegression
from sklearn_gdlogreg._numerics import weighted_column_moments
from sklearn_gdlogreg._objective._numpy import LogisticObjective
from sklearn_gdlogreg._objective._step_bound import lambda_max
from sklearn_gdlogreg._solvers._descent import SOLVERS


def _psd(rng, p, rank=None, gap=False):
    """A random p x p PSD matrix of the given rank, eigenvalues in [0, 1].

    With ``gap``, the top eigenvalue is 1 and the others at most 1/2.
    """
    rank = p if rank is None else rank
    Q = np.linalg.qr(rng.normal(size=(p, rank)))[0]
    eigenvalues = rng.random(rank)
    if gap:
        eigenvalues = np.r_[1.0, eigenvalues[1:] / 2]
    return (Q * eigenvalues) @ Q.T


def _peak(fn):
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("n_vectors", [1, 2, 3])
@pytest.mark.parametrize("p", [1, 2, 5, 40])
def test_lanczos_exact_when_the_space_fills(p, n_vectors, rng):
    # Oracle: numpy's dense eigvalsh. Enough passes to span R^p: the top
    # Ritz value is the top eigenvalue, to rounding.
    M = _psd(rng, p)
    lam = lambda_max(lambda V: M @ V, p, n_vectors, max_iter=p + 2, rtol=0.0)
    assert lam == pytest.approx(np.linalg.eigvalsh(M)[-1], rel=1e-10)


@pytest.mark.parametrize("n_vectors", [1, 2])
def test_lanczos_is_a_close_lower_bound(n_vectors, rng):
    # Oracle: eigvalsh. Few passes on a 500 x 500 matrix: a lower bound at
    # every number of passes (the Ritz values of a growing subspace), and
    # close once the top eigenvalue stands apart from the others.
    p = 500
    M = _psd(rng, p, gap=True)
    top = np.linalg.eigvalsh(M)[-1]
    previous = 0.0
    for passes in (1, 2, 4, 8, 16, 32):
        lam = lambda_max(lambda V: M @ V, p, n_vectors, max_iter=passes, rtol=0.0)
        assert previous * (1 - 1e-12) <= lam <= top * (1 + 1e-12)
        previous = lam
    assert lam == pytest.approx(top, rel=1e-8)


def test_lanczos_stops_on_an_invariant_subspace(rng):
    # Rank 3: after three directions the residual vanishes; the Ritz value is
    # then exact and the recurrence must stop, not divide by zero.
    p = 50
    M = _psd(rng, p, rank=3)
    calls = []

    def gram_times(V):
        calls.append(V.shape[1])
        return M @ V

    lam = lambda_max(gram_times, p, 1, max_iter=20, rtol=0.0)
    assert lam == pytest.approx(np.linalg.eigvalsh(M)[-1], rel=1e-10)
    assert len(calls) <= 4


def test_lanczos_memory_does_not_grow_with_the_passes():
    # Three-term recurrence: the current and the previous block, the
    # product and a temporary, whatever the number of passes (a stored basis
    # would hold 2 x 40 vectors here).
    p = 100_000
    diagonal = np.linspace(0.0, 1.0, p)

    def gram_times(V):
        return diagonal[:, None] * V

    _, peak = _peak(lambda: lambda_max(gram_times, p, 1, max_iter=40, rtol=0.0))
    assert peak <= 6 * 8 * p


def test_sparse_fit_holds_no_n_vector_of_weights_or_float_labels():
    # Few features: the d-sized arrays are negligible, what remains are the
    # n-sized ones. The fit needs the raw predictions (8 bytes a sample) and
    # the labels (1 byte); label encoding is as large for a moment (int64
    # codes). Float64 labels or weights would each add 8 bytes a sample.
    n, d = 200_000, 20
    X = sp.random(n, d, density=0.1, format="csr", random_state=0)
    y = np.random.default_rng(0).integers(0, 2, n)

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return GDLogisticRegression(max_iter=5).fit(X, y)

    fit()  # one-off costs (compiled kernels, thread pool) before tracing
    _, peak = _peak(fit)
    assert peak <= 12 * n


@pytest.mark.parametrize("solver", ["gd", "nesterov"])
def test_csr_binary_solvers_hold_no_raw_predictions(solver):
    # CSR binary passes make each row's dot products (Nesterov's point's
    # too) in the kernel and keep none: the solver, its step bound included,
    # allocates no n-vector (8 bytes a sample; nesterov kept two of them).
    # What remains is d-sized (20 features) and the threads' residual tiles.
    n, d = 200_000, 20
    X = sp.random(n, d, density=0.1, format="csr", random_state=0)
    y = np.random.default_rng(0).integers(0, 2, n).astype(np.float64)
    obj = LogisticObjective(
        X,
        y,
        np.broadcast_to(1.0 / n, (n,)),
        n_classes=2,
        C=1.0,
        l1_ratio=0.0,
        fit_intercept=True,
        preconditioner="diagonal",
    )

    def solve():
        theta0 = np.zeros((obj.n_dof, 1))
        step = 1.0 / obj.lipschitz()
        return SOLVERS[solver](
            obj, theta0, step=step, adaptive=True, max_iter=5, tol=0.0
        )

    solve()  # one-off costs (compiled kernels, thread pool) before tracing
    res, peak = _peak(solve)
    assert res.n_iter == 5
    assert peak <= 2 * n


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("uniform", [True, False])
def test_sparse_moments_match_dense_numpy(fmt, dtype, uniform, rng):
    # Oracle: NumPy's weighted mean and centred variance of the dense copy.
    # The weights as the fit passes them: equal ones as a zero-stride view.
    n, d = 3000, 40
    X = sp.random(n, d, density=0.05, format=fmt, dtype=dtype, random_state=0)
    s = np.broadcast_to(1.0 / n, (n,)) if uniform else rng.random(n)
    s = s / s.sum()
    mean, var = weighted_column_moments(X, s)
    Xd = X.toarray().astype(np.float64)
    expected_mean = s @ Xd
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(var, s @ (Xd - expected_mean) ** 2, rtol=1e-10)
