"""Largest eigenvalue of a Gram matrix known only through its products.

The step bound ``L`` of the cost needs ``lambda_max(A^T diag(s) A)``; every
objective (NumPy, dask, array API) can only apply that matrix, one pass over
its data per product. This block Lanczos iteration, with the pass supplied as
a function, serves all of them.
"""

import numpy as np

# The constants below were chosen by measurement: benchmarks/README.md,
# "Tuned constants".

# Directions added per pass over dense data: a pass is bound by reading X, so
# two products cost about one, and the block space grows twice as fast.
# Sparse passes keep one: their multi-column kernel costs about a pass per
# column.
N_VECTORS_DENSE = 2
# Below this many entries of X a pass costs less than the Python around it,
# and one direction per pass is cheaper.
_SMALL_ENTRIES = 1 << 16
# Stop when the Ritz value moves by less than this. The curvature bound c
# is loose by far more (the step is 1/L of a bound, and the solvers back
# off should J rise); a tighter rtol costs passes for nothing.
RTOL = 1e-2


def default_n_vectors(shape, sparse=False):
    """Directions per pass for data of ``shape``: :data:`N_VECTORS_DENSE`
    for dense X, one for sparse or small X. Shared by every objective, so
    that NumPy, dask and array-API fits take the same step bound."""
    n_samples, n_features = shape
    small = n_samples * (n_features + N_VECTORS_DENSE) < _SMALL_ENTRIES
    return 1 if sparse or small else N_VECTORS_DENSE


def lambda_max(gram_times, p, n_vectors=1, max_iter=12, rtol=RTOL):
    """Largest Ritz value of a block Krylov space of a p x p PSD matrix M.

    Block Lanczos: the three-term recurrence
    ``M Q_j = Q_{j-1} B_{j-1}^T + Q_j A_j + Q_{j+1} B_j`` keeps only the last
    two blocks of the basis, and the Ritz values are those of the small
    block-tridiagonal matrix of the ``A_j`` and ``B_j``: memory of about
    four blocks of ``p x n_vectors``, whatever the number of passes (a
    stored basis and its products took 2 x 12 vectors of ``p`` on sparse
    data, 8% of X on D3). The older blocks are not reorthogonalized:
    rounding then only repeats converged Ritz values (ghosts), and the
    largest stays a lower bound of ``lambda_max(M)``, up to rounding. On
    D1, D2, D3 and D4 it equals the Rayleigh-Ritz value of the whole stored
    basis to 1e-14.

    Parameters
    ----------
    gram_times : callable
        ``gram_times(V) -> M @ V`` for a float64 array ``V`` of shape
        ``(p, m)``, ``m <= n_vectors``: one pass over the data.
    p : int
        Order of ``M``.
    n_vectors : int
        Directions added to the space per pass.
    max_iter : int
        Most passes.
    rtol : float
        Stop when the Ritz value moves by less than ``rtol`` of itself.

    Returns
    -------
    lam : float
        A lower bound on ``lambda_max(M)`` (exact when the space fills
        ``R^p``), non-negative.
    """
    k = min(n_vectors, p)
    V = np.random.default_rng(0).standard_normal((p, k))
    V[:, 0] = 1.0
    Q = np.linalg.qr(V)[0]  # the current block, orthonormal
    del V
    Q_prev = B = None  # the block before; B couples Q to it (Q B = residual)
    T = np.zeros((0, 0))  # the projected, block-tridiagonal matrix
    lam = 0.0
    for _ in range(max_iter):
        W = gram_times(Q)
        A = Q.T @ W
        T = _grow(T, (A + A.T) / 2, B)
        lam, lam_old = float(np.linalg.eigvalsh(T)[-1]), lam
        if T.shape[0] >= p or abs(lam - lam_old) <= rtol * lam:
            break  # the whole space (exact), or converged
        Q_prev, Q, B = _next_block(W, Q, Q_prev, B, p - T.shape[0], lam)
        del W  # not alive through the next pass
        if Q.shape[1] == 0:
            break  # invariant subspace: the Ritz values are exact
    return max(lam, 0.0)


def _grow(T, A, B):
    """T with the diagonal block A appended, coupled to the last by B."""
    n, m = T.shape[0], A.shape[0]
    T_new = np.zeros((n + m, n + m))
    T_new[:n, :n] = T
    T_new[n:, n:] = A
    if B is not None:
        j = n - B.shape[1]  # where the last block starts
        T_new[n:, j:n] = B
        T_new[j:n, n:] = B.T
    return T_new


def _next_block(W, Q, Q_prev, B, room, lam):
    """``(Q, Q_next, B_next)`` from ``W = M Q`` by the three-term recurrence.

    ``W`` is orthogonalized (in place) against the last two blocks, twice
    (the second sweep takes off what rounding left of them), and factored as
    ``Q_next B_next``: directions whose singular value is negligible against
    ``lam`` are dropped (the space is invariant in them), and at most
    ``room`` are kept (the space fills ``R^p``). A single direction is
    normalized in place, where an SVD would take two more vectors.
    """
    for _ in range(2):
        W -= Q @ (Q.T @ W)
        if Q_prev is not None:
            W -= Q_prev @ (Q_prev.T @ W)
    tiny = 1e-10 * max(lam, 1e-300)
    if W.shape[1] == 1:
        # ||W|| without overflow (NumPy's norm squares the entries, which
        # overflows from 1e154): scaled by the largest entry first, in place.
        scale = max(float(W.max()), -float(W.min())) if W.size else 0.0
        sigma = 0.0
        if scale > 0.0:
            W /= scale
            sigma = float(np.linalg.norm(W))
            W /= sigma
            sigma *= scale
        keep = min(int(sigma > tiny), room)
        return Q, W[:, :keep], np.full((keep, 1), sigma)
    U, sigma, Vt = np.linalg.svd(W, full_matrices=False)
    keep = min(int(np.sum(sigma > tiny)), room)
    return Q, U[:, :keep], sigma[:keep, None] * Vt[:keep]
