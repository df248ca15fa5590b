"""Data access: the only places that read X.

Gradient descent touches X through two products per iteration, ``X @ W`` and
``X.T @ R``, plus a one-off pass for the weighted column moments used by the
diagonal preconditioner. They work unchanged on dense arrays (C or F order,
read-only, memory-mapped) and on scipy CSR/CSC matrices, and never copy or
densify X.

:class:`FusedPass` is the iteration's hot loop: for dense X it streams the
rows once, in cache-sized blocks, and while a block is in cache computes its
raw predictions, hands them to a per-sample callback (loss and residual) and
accumulates its share of ``X.T @ R``; the blocks are split between threads
(NumPy and BLAS release the GIL), each with preallocated buffers.
"""

import contextlib
import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import numpy as np
import scipy.sparse as sp

# Rows per block of the fused pass: about this many bytes of X, so that the
# block is still in cache when it is read the second time (X_b.T @ R_b).
_BLOCK_BYTES = 1 << 21
# Problems with fewer entries than this run without touching BLAS's threads.
_LARGE = 1 << 16


def matmul(X, W):
    """Return ``X @ W`` for dense or sparse ``X`` and dense ``W`` (2-D)."""
    return np.asarray(X @ W)


def rmatmul(X, R):
    """Return ``X.T @ R`` for dense or sparse ``X`` and dense ``R`` (2-D)."""
    return np.asarray(X.T @ R)


def _chunks(n, per_item_bytes):
    """Slices of ``range(n)`` covering about ``_BLOCK_BYTES / 4`` each."""
    step = max(1, int(_BLOCK_BYTES // 4 // max(per_item_bytes, 1)))
    for start in range(0, n, step):
        yield slice(start, min(start + step, n))


def weighted_column_moments(X, s):
    """Weighted mean and variance of every column of X.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
    s : ndarray of shape (n_samples,)
        Non-negative weights summing to one.

    Returns
    -------
    mean, var : ndarray of shape (n_features,), float64
        Dense X: two-pass (centred) variance. Computed block by block, with
        temporaries of one block (about ``_BLOCK_BYTES``) only.
    """
    s = np.asarray(s, dtype=np.float64)
    n, d = X.shape
    if sp.issparse(X):
        mean = np.asarray(X.T @ s, dtype=np.float64).ravel()
        # E[(x - mean)^2] = E[x^2] - mean^2 (sparse data is never centred).
        return mean, np.maximum(_sparse_weighted_sq(X, s) - mean**2, 0.0)
    mean = np.zeros(d)
    for rows in _chunks(n, 8 * d):
        mean += s[rows] @ X[rows]
    var = np.zeros(d)
    for rows in _chunks(n, 8 * d):
        centred = X[rows] - mean  # one float64 block
        np.square(centred, out=centred)
        var += s[rows] @ centred
    return mean, var


def _sparse_weighted_sq(X, s):
    """``sum_i s_i x_ij^2`` per column, in blocks of the compressed axis."""
    n_major = X.shape[0] if X.format == "csr" else X.shape[1]
    nnz_per_major = X.nnz / max(n_major, 1)
    sq = np.zeros(X.shape[1])
    for major in _chunks(n_major, 16 * nnz_per_major):
        p0, p1 = X.indptr[major.start], X.indptr[major.stop]
        counts = np.diff(X.indptr[major.start : major.stop + 1])
        values = np.square(X.data[p0:p1], dtype=np.float64)
        if X.format == "csr":  # major = rows: weight by row, bin by column
            values *= np.repeat(s[major], counts)
            sq += np.bincount(X.indices[p0:p1], values, minlength=X.shape[1])
        else:  # csc, major = columns: weight by row index, bin by column
            values *= s[X.indices[p0:p1]]
            cols = np.repeat(np.arange(major.stop - major.start), counts)
            sq[major] += np.bincount(cols, values, minlength=major.stop - major.start)
    return sq


# ------------------------------------------------------------ fused pass
@cache
def _threadpool_controller():
    from threadpoolctl import ThreadpoolController  # a scikit-learn dependency

    return ThreadpoolController()


def single_threaded_blas():
    """Context manager limiting BLAS to one thread.

    The fused pass makes its own threads; inside them, and for the small
    products around them, BLAS's threads would only add synchronisation,
    which stalls badly when the machine is busy.
    """
    return _threadpool_controller().limit(limits=1, user_api="blas")


@cache
def _executor(n_threads):
    return ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="gdlogreg")


def _n_threads():
    """Threads for the fused pass: BLAS's current limit, at most the CPUs."""
    try:
        n_cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n_cpus = os.cpu_count() or 1
    info = _threadpool_controller().select(user_api="blas").info()
    n_blas = max((lib["num_threads"] for lib in info), default=1)
    return max(1, min(n_cpus, n_blas))


class _Worker:
    """One thread's row blocks (views of X) and its preallocated buffers."""

    def __init__(self, blocks, n_features, n_out, dtype):
        self.blocks = blocks  # [(rows, X_rows), ...], X_rows a view of X
        m = max((rows.stop - rows.start for rows, _ in blocks), default=1)
        self.Z_grad = np.empty((m, n_out), dtype)
        self.R = np.empty((m, n_out), dtype)
        self.work = np.empty((m, n_out), dtype)
        self.G = np.empty((n_features, n_out), dtype)
        self.G_block = np.empty((n_features, n_out), dtype)
        self.db = np.empty(n_out, dtype)


def _csr_rows(X, start, stop):
    """Rows ``start:stop`` of a CSR matrix as a view (X[start:stop] copies).

    The arrays are set after construction: scipy's constructor would "prune"
    (copy) data and indices that are small views of larger arrays.
    """
    p0, p1 = X.indptr[start], X.indptr[stop]
    block = sp.csr_matrix((stop - start, X.shape[1]), dtype=X.dtype)
    block.indptr = X.indptr[start : stop + 1] - p0
    block.indices = X.indices[p0:p1]
    block.data = X.data[p0:p1]
    return block


def _row_views(X, bounds):
    """Views of X on consecutive row ranges (CSC: all of X, one range)."""
    if not sp.issparse(X):
        return [(slice(a, b), X[a:b]) for a, b in itertools.pairwise(bounds)]
    if X.format == "csr":
        return [
            (slice(a, b), _csr_rows(X, a, b)) for a, b in itertools.pairwise(bounds)
        ]
    return [(slice(0, X.shape[0]), X)]


class FusedPass:
    """One pass over X: raw predictions, loss, residual and ``X.T @ R``.

    Dense and CSR X are cut into row blocks of about ``_BLOCK_BYTES`` (views,
    no copy), shared out between threads; for each block ``Z_b = X_b @ W + b``,
    the per-sample work, and ``X_b.T @ R_b`` while the block is in cache. CSC
    X (whose rows cannot be viewed) gets the two products over the whole X.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
    n_out : int
        Columns of ``W`` (1 for binary, n_classes for multinomial).
    block_fn : callable
        ``block_fn(rows, Z, R, work, Z_grad) -> float``: given the raw
        predictions ``Z`` of the samples ``rows`` (a slice), fill ``R`` with
        the weighted residual at ``Z_grad`` (``Z`` when None) and return the
        weighted loss sum at ``Z``. Arrays are 1-D when ``n_out == 1``.
    """

    def __init__(self, X, n_out, block_fn):
        self.X, self.n_out, self.block_fn = X, n_out, block_fn
        n, d = X.shape
        if sp.issparse(X):
            nnz_bytes = X.data.itemsize + X.indices.itemsize
            row_bytes = X.nnz / max(n, 1) * nnz_bytes + X.indices.itemsize
        else:
            row_bytes = max(d, 1) * X.dtype.itemsize
        block = int(np.clip(_BLOCK_BYTES // max(row_bytes, 1), 64, 1 << 16))
        n_blocks = max(-(-n // block), 1)
        csc = sp.issparse(X) and X.format == "csc"
        n_threads = 1 if csc else min(_n_threads(), n_blocks)
        # Each thread gets a contiguous range of rows, cut into blocks.
        bounds = np.linspace(0, n, n_threads + 1).astype(int)
        self.workers = []
        for lo, hi in itertools.pairwise(bounds):
            cuts = np.linspace(lo, hi, max(-(-(hi - lo) // block), 1) + 1)
            blocks = _row_views(X, cuts.astype(int))
            self.workers.append(_Worker(blocks, d, n_out, X.dtype))
        # Limiting BLAS costs tens of microseconds: worth it only where BLAS
        # would thread (large products), not on small problems.
        self.large = len(self.workers) > 1 or n * (d + n_out) >= _LARGE

    def blas_context(self):
        """``single_threaded_blas()`` for large problems, else a no-op."""
        return single_threaded_blas() if self.large else contextlib.nullcontext()

    def __call__(self, W, b, Z, Z_prev=None, beta=0.0):
        """Run the pass at coefficients ``(W, b)``.

        Writes ``Z = X @ W + b`` (shape (n_samples, n_out)). The residual is
        taken at ``Z + beta * (Z - Z_prev)`` when ``Z_prev`` is given (the
        extrapolated point of Nesterov's method; ``X @ theta`` is linear).

        Returns
        -------
        value : float
            Weighted loss sum at ``Z``.
        G : ndarray of shape (n_features, n_out)
            ``X.T @ R``.
        db : ndarray of shape (n_out,)
            ``R.sum(axis=0)``.
        """
        args = (W, b, Z, Z_prev, beta)
        run = self._run
        if len(self.workers) == 1:
            results = [run(self.workers[0], *args)]
        else:
            with single_threaded_blas():  # one BLAS thread per worker thread
                pool = _executor(len(self.workers))
                futures = [pool.submit(run, wk, *args) for wk in self.workers]
                results = [f.result() for f in futures]
        value = sum(results)
        G = self.workers[0].G.copy()
        db = self.workers[0].db.astype(np.float64)
        for wk in self.workers[1:]:
            G += wk.G
            db += wk.db
        return value, G, db

    def _block(self, wk, rows, Z, Z_prev, beta):
        """Per-sample work on the raw predictions ``Z[rows]``; fills ``wk.R``."""
        m = rows.stop - rows.start
        Zb, R, work = Z[rows], wk.R[:m], wk.work[:m]
        Zg = None
        if Z_prev is not None and beta != 0.0:
            Zg = wk.Z_grad[:m]
            np.subtract(Zb, Z_prev[rows], out=Zg)
            Zg *= beta
            Zg += Zb
        if self.n_out == 1:
            Zb, R, work = Zb[:, 0], R[:, 0], work[:, 0]
            Zg = None if Zg is None else Zg[:, 0]
        return self.block_fn(rows, Zb, R, work, Zg)

    def _run(self, wk, W, b, Z, Z_prev, beta):
        one = self.n_out == 1
        W = np.asarray(W, dtype=Z.dtype)  # float32 X: float32 products
        W = W[:, 0] if one else W  # matrix-vector products are the fast ones
        wk.G.fill(0.0)
        wk.db.fill(0.0)
        value = 0.0
        for rows, Xb in wk.blocks:
            m = rows.stop - rows.start
            Zb = Z[rows, 0] if one else Z[rows]
            if sp.issparse(Xb):
                Zb[...] = Xb @ W
            else:
                np.dot(Xb, W, out=Zb)
            Zb += b
            value += self._block(wk, rows, Z, Z_prev, beta)
            R = wk.R[:m, 0] if one else wk.R[:m]
            G_block = wk.G_block[:, 0] if one else wk.G_block
            if sp.issparse(Xb):
                G_block[...] = Xb.T @ R
            else:
                np.dot(Xb.T, R, out=G_block)  # X_b.T @ R_b, X_b still in cache
            wk.G += wk.G_block
            wk.db += R.sum(axis=0)
        return value


# Row blocks of the Gram pass: 4 MiB of X at a time.
_GRAM_BLOCK_BYTES = 1 << 22


def weighted_gram(X, s, *, center):
    """Weighted column mean and centred Gram matrix of dense X.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    s : ndarray of shape (n_samples,)
        Non-negative weights summing to one.
    center : bool
        Whether to centre the columns on their weighted mean.

    Returns
    -------
    mean : ndarray of shape (n_features,), float64
        Zero when ``center`` is False.
    M : ndarray of shape (n_features, n_features), float64
        ``(X - mean)^T diag(s) (X - mean)``. Two passes over X in row blocks
        (the mean, then the Gram matrix of ``sqrt(s) (X - mean)``, for which
        NumPy calls BLAS's ``syrk``): temporaries of one block only, never
        n_samples x n_features.
    """
    n, d = X.shape
    s = np.asarray(s, dtype=np.float64)
    step = max(1, _GRAM_BLOCK_BYTES // (8 * max(d, 1)))
    blocks = [slice(i, min(i + step, n)) for i in range(0, n, step)]
    mean = np.zeros(d)
    if center:
        for rows in blocks:
            mean += s[rows] @ X[rows]
    M = np.zeros((d, d))
    for rows in blocks:
        B = np.asarray(X[rows], dtype=np.float64) - mean  # one float64 block
        B *= np.sqrt(s[rows])[:, None]
        # NumPy's own BLAS (as every other product on X), not SciPy's: two
        # OpenBLAS thread pools taking turns stall each other on 2 cores.
        M += B.T @ B
    return mean, M
