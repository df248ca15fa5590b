"""Largest eigenvalue of a Gram matrix known only through its products.

The step bound ``L`` of the cost needs ``lambda_max(A^T diag(s) A)``; every
objective (NumPy, dask, array API) can only apply that matrix, one pass over
its data per product. This block Lanczos iteration, with the pass supplied as
a function, serves all of them.
"""

import numpy as np

# Directions added per pass over dense data: a pass is bound by reading X, so
# two products cost about one, and the block space grows twice as fast
# (D1: 52 ms instead of 72 ms, to the same Ritz value). Sparse passes keep
# one: their multi-column kernel costs about a pass per column.
N_VECTORS_DENSE = 2
# Stop when the Ritz value moves by less than this. The curvature bound c
# is loose by far more (the step is 1/L of a bound, and the solvers back
# off should J rise), and 1e-3 took about twice the passes on D1 and D3
# for Ritz values 0.1% to 2% larger.
RTOL = 1e-2


def lambda_max(gram_times, p, n_vectors=1, max_iter=12, rtol=RTOL):
    """Largest Ritz value of a block Krylov space of a p x p PSD matrix M.

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
    Q = np.linalg.qr(V)[0]  # orthonormal basis of the Krylov space
    MQ = np.empty((p, 0))
    lam = 0.0
    for _ in range(max_iter):
        MQ = np.hstack([MQ, gram_times(Q[:, MQ.shape[1] :])])
        H = Q.T @ MQ
        lam, lam_old = float(np.linalg.eigvalsh((H + H.T) / 2)[-1]), lam
        if Q.shape[1] >= p or abs(lam - lam_old) <= rtol * lam:
            break  # the whole space (exact), or converged
        # Next block: the new directions, orthogonalized (twice) against Q.
        W = MQ[:, -k:]
        for _ in range(2):
            W = W - Q @ (Q.T @ W)
        W, r = np.linalg.qr(W)
        W = W[:, np.abs(np.diag(r)) > 1e-10 * max(lam, 1e-300)]
        if W.shape[1] == 0:
            break  # invariant subspace: the Ritz values are exact
        Q = np.hstack([Q, W[:, : p - Q.shape[1]]])
    return max(lam, 0.0)
