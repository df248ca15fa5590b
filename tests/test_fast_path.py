"""The fused one-pass core against a straightforward NumPy transcription.

The fast path (``LogisticObjective.value_grad_pass``: X streamed once in row
blocks, split between threads, the exponential shared by loss and residual)
must give the cost, raw predictions, gradients and solver iterates of the
plain formulas, to rounding: dense, CSR and CSC; float64 and float32; binary
and multinomial; with and without the diagonal preconditioner. The oracle is
written here from the math of README.md's "The cost and the update"
(``logaddexp``/``logsumexp`` for the loss, ``X.T @ (s * (p - y)) / S`` for
the gradient), and the gradient is also checked against finite differences.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from scipy.optimize import approx_fprime
from scipy.special import expit, logsumexp, softmax
from sklearn.datasets import make_classification

from sklearn_gdlogreg._numerics import _fused, _passes
from sklearn_gdlogreg._objective._numpy import LogisticObjective
from sklearn_gdlogreg._objective._step_bound import RTOL
from sklearn_gdlogreg._solvers._descent import SOLVERS

C, L1_RATIO = 0.5, 0.3


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    # Two threads whatever the machine, even for the 700 rows of the test
    # data: the reduction between threads and the row ranges' edges are
    # exercised (and, for Fortran-ordered X, tiles of rows with a partial one
    # at each range's end).
    monkeypatch.setattr(_passes, "_MIN_ROWS", 64)
    monkeypatch.setattr(_passes, "_n_threads", lambda: 2)


def make_problem(n_classes, fmt, dtype, seed=0, weights="random"):
    X, y = make_classification(
        n_samples=700,
        n_features=6,
        n_informative=4,
        n_redundant=0,
        n_classes=n_classes,
        random_state=seed,
    )
    rng = np.random.default_rng(seed)
    # Unequal scales and offsets, so that the preconditioner does something.
    X = X * np.logspace(-1, 1, X.shape[1]) + rng.normal(size=X.shape[1])
    if fmt in ("csr", "csc"):
        X[rng.random(X.shape) < 0.6] = 0.0
        X = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    elif fmt == "dense_f":  # columns contiguous: the kernel's tiled loop
        X = np.asfortranarray(X)
    # Uniform weights take another route in the kernels (one log per chunk
    # of samples for the binary loss sum).
    s = rng.uniform(0.5, 2.0, size=y.size) if weights == "random" else np.ones(y.size)
    return X.astype(dtype), y, s


def make_objective(X, y, s, n_classes, preconditioner, fit_intercept=True):
    y_enc = y.astype(X.dtype) if n_classes == 2 else y
    return LogisticObjective(
        X,
        y_enc,
        s,
        n_classes=n_classes,
        C=C,
        l1_ratio=L1_RATIO,
        fit_intercept=fit_intercept,
        preconditioner=preconditioner,
    )


def plain_value_grad(X, y, s, w, b, n_classes):
    """J and (dJ/dw, dJ/db) at original coordinates, float64, by the book."""
    X = X.toarray() if sp.issparse(X) else np.asarray(X)
    X, w, b = X.astype(np.float64), w.astype(np.float64), b.astype(np.float64)
    S = s.sum()
    Z = X @ w + b
    if n_classes == 2:
        z = Z[:, 0]
        loss = np.logaddexp(0.0, z) - y * z
        R = (s * (expit(z) - y))[:, None]
    else:
        Y = np.eye(n_classes)[y]
        loss = logsumexp(Z, axis=1) - np.sum(Z * Y, axis=1)
        R = s[:, None] * (softmax(Z, axis=1) - Y)
    l2 = (1.0 - L1_RATIO) / (C * S)
    l1 = L1_RATIO / (C * S)
    J = s @ loss / S + 0.5 * l2 * np.sum(w * w) + l1 * np.sum(np.abs(w))
    return J, Z, X.T @ R / S + l2 * w, R.sum(axis=0) / S


def to_solver_gradient(obj, dw, db):
    """Chain rule by linearity: component (i, j) is <grad, to_original(e_ij)>."""
    grad = np.zeros((obj.n_dof, obj.n_out))
    for i in range(obj.n_dof):
        for j in range(obj.n_out):
            e = np.zeros((obj.n_dof, obj.n_out), dtype=obj.dtype)
            e[i, j] = 1.0
            w_e, b_e = obj.to_original(e)
            grad[i, j] = np.sum(dw * w_e) + (
                np.sum(db * b_e) if obj.fit_intercept else 0
            )
    return grad


def plain_in_solver_coords(obj, X, y, s, theta, n_classes):
    w, b = obj.to_original(theta)
    J, Z, dw, db = plain_value_grad(X, y, s, w, b, n_classes)
    return J, Z, to_solver_gradient(obj, dw, db)


def tolerances(dtype):
    # float64: sums of 700 terms reordered (blocks, threads): ~1e-13 relative.
    # float32: every product and exp rounded to 6e-8, sums of 700 such terms
    # accumulated in float32: a few 1e-6 relative; 1e-4 leaves a margin.
    return (
        {"rtol": 1e-9, "atol": 1e-11}
        if dtype == np.float64
        else {
            "rtol": 1e-4,
            "atol": 1e-5,
        }
    )


def random_theta(obj, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(scale=0.5, size=(obj.n_dof, obj.n_out)).astype(obj.dtype)


CASES = pytest.mark.parametrize(
    "fmt, dtype, n_classes, preconditioner",
    [
        (fmt, dtype, k, pre)
        for fmt in ("dense", "dense_f", "csr", "csc")
        for dtype in (np.float64, np.float32)
        for k in (2, 3)
        for pre in (None, "diagonal")
    ],
)


@CASES
@pytest.mark.parametrize("weights", ["random", "uniform"])
def test_value_grad_pass_matches_plain_formula(
    fmt, dtype, n_classes, preconditioner, weights
):
    X, y, s = make_problem(n_classes, fmt, dtype, weights=weights)
    obj = make_objective(X, y, s, n_classes, preconditioner)
    theta = random_theta(obj, 1)
    # CSR binary keeps no raw predictions (each row's are made and used in
    # the kernel); a buffer with rows still receives them.
    n_raw = 0 if (fmt, n_classes) == ("csr", 2) else X.shape[0]
    assert obj.new_raw().shape == (n_raw, obj.n_out)
    Z = np.empty((X.shape[0], obj.n_out), dtype=dtype)
    J, grad = obj.value_grad_pass(theta, Z)
    J_ref, Z_ref, grad_ref = plain_in_solver_coords(obj, X, y, s, theta, n_classes)
    tol = tolerances(dtype)
    assert Z.dtype == grad.dtype == dtype  # float32 stays float32
    assert_allclose(Z, Z_ref, **tol)
    assert_allclose(obj.value_grad_pass(theta, obj.new_raw())[0], J_ref, **tol)
    assert_allclose(J, J_ref, **tol)
    assert_allclose(
        grad, grad_ref, rtol=tol["rtol"], atol=tol["atol"] * abs(grad_ref).max()
    )


@CASES
@pytest.mark.parametrize("weights", ["random", "uniform"])
def test_momentum_gradient_at_extrapolated_point(
    fmt, dtype, n_classes, preconditioner, weights
):
    # Nesterov's pass: J at theta, gradient and J at the extrapolated point
    # theta + beta (theta - theta_prev), from the extrapolated raw predictions.
    X, y, s = make_problem(n_classes, fmt, dtype, weights=weights)
    obj = make_objective(X, y, s, n_classes, preconditioner)
    theta, theta_prev = random_theta(obj, 1), random_theta(obj, 2)
    beta = 0.7
    Z_prev = obj.new_raw()
    obj.value_grad_pass(theta_prev, Z_prev)
    Z = obj.new_raw()
    at = theta + beta * (theta - theta_prev)
    J, grad, J_at = obj.value_grad_pass(theta, Z, momentum=(beta, at, Z_prev))
    J_ref, _, _ = plain_in_solver_coords(obj, X, y, s, theta, n_classes)
    J_at_ref, _, grad_ref = plain_in_solver_coords(obj, X, y, s, at, n_classes)
    tol = tolerances(dtype)
    assert_allclose(J, J_ref, **tol)
    assert_allclose(J_at, J_at_ref, **tol)
    assert_allclose(
        grad, grad_ref, rtol=tol["rtol"], atol=tol["atol"] * abs(grad_ref).max()
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weights", ["random", "uniform"])
def test_csr_binary_pass_both_ways_to_the_extrapolated_point(dtype, weights):
    # The CSR binary kernel takes Nesterov's point either as coefficients
    # (the fit's way: two dot products per row, no raw predictions kept) or
    # extrapolated from raw predictions (the dask blocks' way). Oracle: the
    # plain formulas at that point, in original coordinates.
    X, y, s = make_problem(2, "csr", dtype, weights=weights)
    rng = np.random.default_rng(4)
    W, W_prev = (rng.normal(size=(X.shape[1], 1)).astype(dtype) for _ in "ab")
    b, b_prev = np.array([0.3], dtype), np.array([-0.2], dtype)
    beta = 0.6
    W_y, b_y = W + beta * (W - W_prev), b + beta * (b - b_prev)
    s_n = (s / s.sum()).astype(dtype)
    pass_ = _passes.FusedPass(X, 1, "binary", y.astype(dtype), s_n)
    assert not pass_.keeps_raw

    def plain(W, b):
        z = np.asarray(X @ W.astype(np.float64)).ravel() + float(b[0])
        r = s_n * (expit(z) - y)
        return s_n @ (np.logaddexp(0.0, z) - y * z), X.T @ r, r.sum()

    value_ref, _, _ = plain(W, b)
    value_y_ref, G_ref, db_ref = plain(W_y, b_y)
    Z_prev = np.asarray(X @ W_prev + b_prev, dtype=dtype)
    Z = np.empty_like(Z_prev)
    tol = tolerances(dtype)
    # (Each result is checked before the next call, which reuses G and db.)
    for how in ("extrapolated", "direct"):
        if how == "extrapolated":
            value, value_y, G, db = pass_(W, b, Z, Z_prev=Z_prev, beta=beta)
            assert_allclose(Z, X @ W + b, **tol)
        else:
            value, value_y, G, db = pass_.at_point_and_extrapolation(
                np.hstack([W, W_y]), b, b_y, beta
            )
        assert_allclose([value, value_y], [value_ref, value_y_ref], **tol)
        assert_allclose(G[:, 0], G_ref, rtol=tol["rtol"], atol=tol["atol"])
        assert_allclose(db[0], db_ref, rtol=tol["rtol"], atol=tol["atol"])


@pytest.mark.parametrize("fmt", ["dense", "csr"])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_gradient_against_finite_differences(fmt, n_classes, fit_intercept):
    X, y, s = make_problem(n_classes, fmt, np.float64)
    obj = make_objective(X, y, s, n_classes, "diagonal", fit_intercept)
    obj.l1 = 0.0  # J must be smooth for finite differences
    theta = random_theta(obj, 3)
    _, grad = obj.value_grad_pass(theta, obj.new_raw())

    def J(flat):
        return obj.value_grad_pass(flat.reshape(theta.shape), obj.new_raw())[0]

    # Forward differences with step 1e-7: error ~ h * curvature / 2 + eps/h,
    # both below 1e-6 for this well-scaled J.
    fd = approx_fprime(theta.ravel(), J, 1e-7).reshape(theta.shape)
    assert_allclose(grad, fd, atol=1e-6)


class PlainObjective(LogisticObjective):
    """The same objective, every pass done by the plain formulas above."""

    def value_grad_pass(self, theta, Z, momentum=None):
        J, Z_ref, grad = plain_in_solver_coords(
            self, self.X, self._y_plain, self._s_plain, theta, self._k
        )
        if Z.shape[0]:  # CSR binary: the solver's buffers have no rows
            Z[...] = Z_ref
        if momentum is None:
            return J, grad.astype(self.dtype)
        _, at, _ = momentum
        J_at, _, grad = plain_in_solver_coords(
            self, self.X, self._y_plain, self._s_plain, at, self._k
        )
        return J, grad.astype(self.dtype), J_at


@pytest.mark.parametrize(
    "fmt, dtype, n_classes, preconditioner, solver",
    [
        ("dense", np.float64, 2, None, "gd"),
        ("dense", np.float32, 2, "diagonal", "gd"),
        ("dense", np.float64, 3, "diagonal", "gd"),
        ("dense", np.float32, 3, None, "gd"),
        ("csr", np.float64, 2, "diagonal", "gd"),
        ("csc", np.float32, 3, "diagonal", "gd"),
        ("dense", np.float64, 2, "diagonal", "nesterov"),
        ("dense", np.float64, 3, None, "nesterov"),
        ("csr", np.float64, 3, "diagonal", "nesterov"),
        ("csc", np.float64, 2, None, "nesterov"),
    ],
)
def test_solver_iterates_match_plain_formula(
    fmt, dtype, n_classes, preconditioner, solver
):
    X, y, s = make_problem(n_classes, fmt, dtype)
    fast = make_objective(X, y, s, n_classes, preconditioner)
    plain = PlainObjective.__new__(PlainObjective)
    plain.__dict__.update(make_objective(X, y, s, n_classes, preconditioner).__dict__)
    plain._y_plain, plain._s_plain, plain._k = y, s, n_classes
    step = 1.0 / fast.lipschitz()
    theta0 = np.zeros((fast.n_dof, fast.n_out), dtype=dtype)
    kwargs = {"step": step, "adaptive": False, "max_iter": 20, "tol": 0.0}
    res = SOLVERS[solver](fast, theta0, **kwargs)
    ref = SOLVERS[solver](plain, theta0, **kwargs)
    tol = tolerances(dtype)
    assert res.n_iter == ref.n_iter == 20
    assert_allclose(res.cost_history, ref.cost_history, **tol)
    assert_allclose(res.theta, ref.theta, rtol=tol["rtol"], atol=tol["atol"] * 10)


@pytest.mark.parametrize("fmt", ["dense", "csr", "csc"])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("preconditioner", [None, "diagonal"])
def test_lipschitz_matches_dense_eigenvalue(fmt, n_classes, preconditioner):
    # Oracle: c * lambda_max(A^T diag(s/S) A) + l2 max(1/scale^2), with A the
    # explicit [(X - mean)/scale, 1]: what the Krylov estimate approximates.
    X, y, s = make_problem(n_classes, fmt, np.float64)
    obj = make_objective(X, y, s, n_classes, preconditioner)
    Xd = X.toarray() if sp.issparse(X) else X
    A = np.hstack([(Xd - obj.mean) / obj.scale, np.ones((Xd.shape[0], 1))])
    lam = np.linalg.eigvalsh(A.T @ (A * (s / s.sum())[:, None]))[-1]
    c = 0.25 if n_classes == 2 else 0.5
    expected = c * lam + obj.l2 * np.max(1.0 / obj.scale**2)
    L = obj.lipschitz()
    # Ritz values approach lambda_max from below, stopped once a pass moves
    # them by less than RTOL: the residual error is of that order (2 RTOL
    # leaves room for a slow last step), never above the oracle.
    assert expected * (1 - 2 * RTOL) <= L <= expected * (1 + 1e-12)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_column_moments_match_two_pass_numpy(order, dtype, n_threads, monkeypatch):
    # Oracle: NumPy's two-pass weighted mean and centred variance in float64.
    # Offsets up to 1e6 times the spread: a one-pass E[x^2] - mean^2 would
    # lose 12 digits there; the kernel's per-tile two-pass and pairwise merge
    # must not. Zero-weight rows, a zero-weight tile and a constant column.
    monkeypatch.setattr(_passes, "_n_threads", lambda: n_threads)
    monkeypatch.setattr(_passes, "_MIN_ROWS", 1000)
    rng = np.random.default_rng(0)
    n = 3001  # not a multiple of the tile
    X = rng.normal(size=(n, 6)) * [1, 1e-3, 1e3, 1, 1, 0] + [0, 5, -1e6, 1e6, 3, 7]
    X = np.asarray(X, dtype=dtype, order=order)
    s = rng.random(n)
    s[: 2 * _fused.TILE] = 0.0
    s[1000:1010] = 0.0
    s /= s.sum()
    mean, var = _passes.weighted_column_moments(X, s)
    Xd = X.astype(np.float64)
    expected_mean = s @ Xd
    expected_var = s @ (Xd - expected_mean) ** 2
    # Sums of ~3000 terms in float64: rounding ~1e-13 of the largest terms
    # (|x| up to 1e6 on a spread of 1e3 or less: 1e-10 of the variance).
    assert_allclose(mean, expected_mean, rtol=1e-12, atol=1e-12)
    assert_allclose(var, expected_var, rtol=1e-9, atol=1e-15)
