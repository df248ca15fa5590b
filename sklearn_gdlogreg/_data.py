"""Data access: the only places that read X.

Gradient descent touches X through two products per iteration, ``X @ W`` and
``X.T @ R`` (fused into one pass), plus one-off passes for the weighted column
moments or Gram matrix used by the preconditioners. They work unchanged on
dense arrays (C or F order, read-only, memory-mapped) and on scipy CSR/CSC
matrices, and never copy or densify X.

:class:`FusedPass` is the iteration's hot loop: for dense and CSR X it
streams the rows once through a compiled kernel of :mod:`._kernels` (raw
predictions, loss, residual and ``X.T @ R``, row by row while the row is in
cache), one contiguous range of rows per thread, with preallocated buffers.
"""

import contextlib
import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import numpy as np
import scipy.sparse as sp

from . import _kernels

# Rows per block of the moments pass: about this many bytes of X.
_BLOCK_BYTES = 1 << 21
# A thread for every this many rows at least: below, starting it costs more.
_MIN_ROWS = 4096
# Problems with fewer entries than this run without touching BLAS's threads.
_LARGE = 1 << 16


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
        Dense X: one compiled read of X, split between the threads, each
        tile's centred (two-pass) moments merged pairwise
        (:func:`._kernels.column_moments`); no temporary larger than a
        d-vector.
    """
    s = np.asarray(s, dtype=np.float64)
    if sp.issparse(X):
        mean, sq = _sparse_weighted_sums(X, s)
        # E[(x - mean)^2] = E[x^2] - mean^2 (sparse data is never centred).
        sq -= mean**2
        return mean, np.maximum(sq, 0.0, out=sq)
    return _dense_moments(np.asarray(X), s)


def _dense_moments(X, s):
    """:func:`weighted_column_moments` of dense X, one row range a thread."""
    d = X.shape[1]

    def moments(rows):
        mean, m2 = np.empty(d), np.empty(d)
        return _kernels.column_moments(X[rows], s[rows], mean, m2), mean, m2

    (W, mean, m2), *others = _map_threads(moments, _row_ranges(X.shape[0]))
    for part in others:  # the threads' moments merged as the kernel's tiles
        W = _kernels.merge_moments(W, mean, m2, *part)
    return mean, (m2 / W if W > 0.0 else m2)


def _sparse_weighted_sums(X, s):
    """``sum_i s_i x_ij`` and ``sum_i s_i x_ij^2`` per column, float64.

    In blocks of the compressed axis of 32768 stored entries: the temporaries
    are a block's weighted values (256 KiB) and a d-vector of bin sums.
    (``X.T @ s`` would first copy a zero-stride ``s`` into an n-vector.)
    """
    n_major = X.shape[0] if X.format == "csr" else X.shape[1]
    nnz_per_major = X.nnz / max(n_major, 1)
    d = X.shape[1]
    total, sq = np.zeros(d), np.zeros(d)
    for major in _chunks(n_major, 16 * nnz_per_major):
        p0, p1 = X.indptr[major.start], X.indptr[major.stop]
        counts = np.diff(X.indptr[major.start : major.stop + 1])
        if X.format == "csr":  # major = rows: weight by row, bin by column
            values = np.repeat(s[major], counts)
            bins, offset, length = X.indices[p0:p1], 0, d
        else:  # csc, major = columns: weight by row index, bin by column
            values = s[X.indices[p0:p1]]
            bins = np.repeat(np.arange(major.stop - major.start), counts)
            offset, length = major.start, major.stop - major.start
        values *= X.data[p0:p1]
        total[offset : offset + length] += np.bincount(bins, values, length)
        values *= X.data[p0:p1]
        sq[offset : offset + length] += np.bincount(bins, values, length)
    return total, sq


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


def _executor(n_threads):
    """This process's thread pool for the fused pass.

    Keyed by process id: a process forked after a fit inherits the cached
    pool but not its threads, and would wait forever on it.
    """
    return _process_executor(n_threads, os.getpid())


@cache
def _process_executor(n_threads, pid):
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


def _row_ranges(n, n_threads=None):
    """Contiguous slices of ``range(n)``, one per thread.

    By default as many as BLAS's thread limit allows, with at least
    ``_MIN_ROWS`` rows each.
    """
    if n_threads is None:
        # Asking BLAS its limit takes ~50 us: not when one thread is all
        # the rows allow (small data, where that is a tenth of the setup).
        few = n < 2 * _MIN_ROWS
        n_threads = 1 if few else max(1, min(_n_threads(), n // _MIN_ROWS))
    if n_threads == 1:
        return [slice(0, n)]
    bounds = np.linspace(0, n, n_threads + 1).astype(int)
    return [slice(a, b) for a, b in itertools.pairwise(bounds)]


def _map_threads(fn, items):
    """``[fn(item) for item in items]``, the first on the calling thread and
    the others in parallel on this process's pool (the kernels release the
    GIL)."""
    pool = _executor(len(items) - 1) if len(items) > 1 else None
    futures = [pool.submit(fn, item) for item in items[1:]]
    return [fn(items[0])] + [f.result() for f in futures]


def _unsigned(a):
    """An index array viewed as the unsigned integers of the same size."""
    return a.view(np.dtype(f"u{a.itemsize}"))


class _Worker:
    """One thread's rows of X and y, its weights and preallocated buffers.

    Everything that does not change between passes is sliced here, once:
    on small data (D2) the slicing per pass cost a tenth of the iteration.
    """

    def __init__(self, rows, X, n_out, y, s):
        self.rows = rows  # a slice of the samples
        n_features = X.shape[1]
        m = _kernels.TILE  # rows of residual scratch: a tile
        if not sp.issparse(X):
            self.X = X[rows]  # a view
        elif X.format == "csr":  # the kernel reads data[indptr[i]:indptr[i+1]]
            indptr = X.indptr[rows.start : rows.stop + 1]
            # Unsigned views (no copy): indexing with them spares the compiled
            # code the test for negative indices, twice as fast on D3.
            self.X = (X.data, _unsigned(X.indices), _unsigned(indptr))
        else:  # csc: the products are made outside the kernel, on all of X
            self.X = X
            m = rows.stop - rows.start  # all rows' residuals, for X.T @ R
        self.y = y[rows] if y.shape[0] else y  # views
        self.s = s[rows]
        self.R = np.empty((m, n_out), X.dtype)
        self.Gt = np.empty((n_out, n_features), X.dtype)
        self.db = np.empty(n_out, np.float64)


class FusedPass:
    """One pass over X: raw predictions, loss, residual and ``X.T @ R``.

    The work is a compiled kernel of :mod:`._kernels` that streams the rows
    of dense or CSR X once, computing for each row (in cache) its raw
    predictions ``Z_i = x_i @ W + b``, its loss and residual, and its share
    of ``X.T @ R``. The rows are split into one contiguous range per thread
    (the kernels release the GIL). CSC X, whose rows cannot be streamed,
    gets the two sparse products and the same per-sample kernel in between.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
    n_out : int
        Columns of ``W`` (1 for binary, n_classes for multinomial).
    mode : {"binary", "multinomial", "weighted"}
        The per-sample work: the cross-entropy's loss and residual
        ``R = s * dL/dZ`` (see :mod:`._loss`), or ``R = s * Z`` (the
        weighted Gram product, loss 0).
    y : ndarray of shape (n_samples,) or None
        Binary: 0/1 labels; multinomial: class indices; weighted: None.
    s : ndarray of shape (n_samples,)
        Normalised sample weights.
    n_threads : int, optional
        Threads (row ranges); by default BLAS's thread limit, at most one
        per 4096 rows.
    """

    _MODES = {
        "binary": _kernels.BINARY,
        "multinomial": _kernels.MULTINOMIAL,
        "weighted": _kernels.WEIGHTED,
    }

    def __init__(self, X, n_out, mode, y, s, n_threads=None):
        if not sp.issparse(X):
            X = np.asarray(X)  # a memmap or other subclass: its plain view
        self.X, self.n_out, self.mode = X, n_out, self._MODES[mode]
        self.y = _kernels.empty_labels() if y is None else y
        self.s = s
        # Which kernel runs: tested once here, not per pass.
        self.format = X.format if sp.issparse(X) else "dense"
        n = X.shape[0]
        # Equal weights (no sample_weight): one log per chunk of samples.
        # A zero-stride view of one weight is equal without a look.
        self.uniform = bool(n == 0 or s.strides[0] == 0 or np.all(s == s[0]))
        if self.format == "csc":
            n_threads = 1  # the products run on all of X
        self.workers = [
            _Worker(rows, X, n_out, self.y, s) for rows in _row_ranges(n, n_threads)
        ]
        # Limiting BLAS costs tens of microseconds: worth it only where BLAS
        # would thread (large products), not on small problems.
        self.large = len(self.workers) > 1 or n * (X.shape[1] + n_out) >= _LARGE
        # CSR binary has its own kernel, which also takes Nesterov's point as
        # coefficients (two_points). It, and the weighted mode, make each
        # row's dot products, use and drop them in the kernel: the pass needs
        # no n-sized raw predictions (on D3 each is 3% of X).
        self._csr_binary = self.format == "csr" and self.mode == _kernels.BINARY
        self.keeps_raw = not (
            self._csr_binary
            or (self.format == "csr" and self.mode == _kernels.WEIGHTED)
        )
        self._no_raw = np.empty((0, n_out), X.dtype)  # the Z of two_points

    def blas_context(self):
        """``single_threaded_blas()`` for large problems, else a no-op."""
        return single_threaded_blas() if self.large else contextlib.nullcontext()

    def __call__(self, W, b, Z, Z_prev=None, beta=0.0):
        """Run the pass at coefficients ``(W, b)``.

        Writes ``Z = X @ W + b`` (shape (n_samples, n_out)), unless ``Z`` has
        no rows (allowed when not :attr:`keeps_raw`). The residual is taken
        at ``Z + beta * (Z - Z_prev)`` when ``Z_prev`` is given (the
        extrapolated point of Nesterov's method; ``X @ theta`` is linear).

        Returns
        -------
        value : float
            Weighted loss sum at ``Z``.
        value_y : float
            Weighted loss sum at ``Z + beta * (Z - Z_prev)`` (``value``
            when ``Z_prev`` is not given).
        G : ndarray of shape (n_features, n_out)
            ``X.T @ R``.
        db : ndarray of shape (n_out,)
            ``R.sum(axis=0)``.

        ``G`` and ``db`` are views of the first thread's accumulators, valid
        until the next call (no d-sized copies per pass: on sparse data such
        as D3 each is 0.6% of X).
        """
        W = np.asarray(W, dtype=self.X.dtype)
        if Z_prev is None:
            Z_prev, beta = Z, 0.0
        return self._pass(W, b, b, Z, Z_prev, beta)

    def two_points(self, W2, b, b_y, beta):
        """The pass of CSR binary data (not :attr:`keeps_raw`) for Nesterov.

        ``J``'s loss sum at ``X @ W2[:, 0] + b``; the residual and the loss
        sum at ``X @ W2[:, 1] + b_y`` (with ``beta != 0``; else at the first
        point): each row's two dot products from one read of its entries,
        the two coefficients side by side in ``W2`` (shape (d, 2)), and no
        n-sized raw predictions. Returns as :meth:`__call__`.
        """
        if not self._csr_binary:
            raise ValueError("this pass takes the extrapolated point as Z_prev")
        Z = self._no_raw
        return self._pass(np.asarray(W2, dtype=self.X.dtype), b, b_y, Z, Z, beta)

    def _pass(self, W, b, b_y, Z, Z_prev, beta):
        dtype = self.X.dtype
        if self._csr_binary:
            Wt = np.ascontiguousarray(W)  # (d, 1) or (d, 2): see csr_binary_pass
        else:
            Wt = np.ascontiguousarray(W.T)
        b = np.ascontiguousarray(b, dtype=dtype).reshape(self.n_out)
        b_y = np.ascontiguousarray(b_y, dtype=dtype).reshape(self.n_out)
        args = (Wt, b, b_y, Z, Z_prev, float(beta))
        first = self.workers[0]
        if len(self.workers) == 1:  # small data: no pool, no reduction
            value, value_y = self._run(first, *args)
            return value, value_y, first.Gt.T, first.db
        values = _map_threads(lambda wk: self._run(wk, *args), self.workers)
        Gt, db = first.Gt, first.db
        for wk in self.workers[1:]:
            Gt += wk.Gt
            db += wk.db
        value, value_y = (sum(v) for v in zip(*values))
        return value, value_y, Gt.T, db

    def _run(self, wk, Wt, b, b_y, Z, Z_prev, beta):
        rows = wk.rows
        common = (wk.y, wk.s, self.uniform, Z[rows], Z_prev[rows], beta)
        if self.format == "dense":
            return _kernels.dense_pass(
                self.mode, wk.X, Wt, b, *common, wk.R, wk.Gt, wk.db
            )
        if self._csr_binary:
            return _kernels.csr_binary_pass(
                *wk.X, Wt, b[0], b_y[0], *common, wk.R, wk.Gt, wk.db
            )
        if self.format == "csr":
            return _kernels.csr_pass(
                self.mode, *wk.X, Wt, b, *common, wk.R, wk.Gt, wk.db
            )
        # CSC: Z = X @ W + b, the per-sample kernel, then G = X.T @ R.
        np.add(self.X @ Wt.T, b, out=Z)
        values = _kernels.sample_pass(
            self.mode, Z, Z_prev, beta, wk.y, wk.s, self.uniform, wk.R, wk.db
        )
        wk.Gt[...] = (self.X.T @ wk.R).T
        return values


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
