"""Data access: the thin wrappers of the compiled kernels, which read X.

Gradient descent touches X through two products per iteration, ``X @ W`` and
``X.T @ R`` (fused into one pass), plus one-off passes for the weighted column
moments or Gram matrix used by the preconditioners. They work unchanged on
dense arrays (C or F order, read-only, memory-mapped) and on scipy CSR/CSC
matrices, and never copy or densify X.

:class:`FusedPass` is the iteration's hot loop: for dense and CSR X it
streams the rows once through a compiled kernel of :mod:`._fused` (raw
predictions, loss, residual and ``X.T @ R``, row by row while the row is in
cache), its rows cut into chunks that the OpenMP threads take as they
finish, into buffers allocated once.
"""

import contextlib
import time

import numpy as np
import scipy.sparse as sp

from . import _fused
from ._blas_limit import BLAS_LIMIT
from ._threads import effective_n_threads

# D1-D4 below: the benchmarks' reference data sets, defined in benchmarks/README.md
# ("Reference data and targets").

# Rows per block of the moments pass: about this many bytes of X.
_BLOCK_BYTES = 1 << 21
# A thread for every this many rows at least: below, starting it costs more.
_MIN_ROWS = 4096
# Chunks of rows of a pass, per usable CPU (taken by the threads as they
# finish), and at least this many rows in a chunk.
_CHUNKS_PER_CPU = 8
_CHUNK_ROWS = 1024
# The chunks' partial gradients take at most this fraction of X's memory
# (else fewer chunks): D3's gradient is 0.6% of X per chunk.
_CHUNK_MEMORY = 1 / 64
# A pass that may use several threads first runs this many times on them and
# as many on one, alternately; then on the faster, the other tried again once
# every this many seconds (load from elsewhere comes and goes).
_THREAD_TRIALS = 2
_THREAD_RECHECK = 0.25
# Problems with fewer entries than this run without touching BLAS's threads.
_LARGE = 1 << 16
# OpenBLAS threads a level-1 call (a dot product, an axpy) on vectors longer
# than this.
_BLAS_THREADED = 10_000


def _chunks(n, per_item_bytes):
    """Slices of ``range(n)`` covering about ``_BLOCK_BYTES / 4`` each."""
    step = max(1, int(_BLOCK_BYTES // 4 // max(per_item_bytes, 1)))
    for start in range(0, n, step):
        yield slice(start, min(start + step, n))


def _n_threads():
    """OpenMP threads for a pass (see :func:`._threads.effective_n_threads`)."""
    return effective_n_threads()


def _slots(n):
    """Row ranges a pass over ``n`` rows may be split into: one per usable
    thread, at least ``_MIN_ROWS`` rows each."""
    return max(1, min(_n_threads(), n // _MIN_ROWS))


def _n_chunks(n, threads, slot_bytes, x_bytes):
    """Chunks of a pass over ``n`` rows (see :func:`._fused.dense_pass`).

    Fixed for the pass's life, whatever the threads do later: several per
    CPU when threads run, so that a thread slowed by a busy core leaves work
    to the others, within the memory bound ``_CHUNK_MEMORY`` of X.
    """
    if threads == 1:
        return 1
    by_rows = max(1, n // _CHUNK_ROWS)
    by_memory = max(1, int(x_bytes * _CHUNK_MEMORY // max(slot_bytes, 1)))
    return max(threads, min(_CHUNKS_PER_CPU * threads, by_rows, by_memory))


def _nbytes(X):
    """Bytes of X's arrays (dense or sparse)."""
    if sp.issparse(X):
        return sum(a.nbytes for a in (X.data, X.indices, X.indptr))
    return X.nbytes


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
        Dense X: one compiled read of X, a range of rows per thread, each
        tile's centred (two-pass) moments merged pairwise
        (:func:`._fused.column_moments`); no temporary larger than a few
        d-vectors. The moments are those of X minus its first row, the row
        added back to the mean: a constant column's variance is exactly
        zero, so that its diagonal scale is not a rounding error's square
        root (which made its coefficient grow to 1e12 without a penalty).
    """
    s = np.asarray(s, dtype=np.float64)
    if sp.issparse(X):
        return _sparse_weighted_moments(X, s)
    X = _plain(X)
    n, d = X.shape
    slots = _slots(n)
    shift = X[0].astype(np.float64) if n else np.zeros(d)
    mean, m2 = _padded((2 * slots, d), np.float64), _padded((2 * slots, d), np.float64)
    W = _fused.column_moments(X, s, shift, mean, m2, _n_threads(), _MIN_ROWS)
    mean, m2 = mean[0, :d], m2[0, :d]
    return mean, (m2 / W if W > 0.0 else m2)


def _sparse_weighted_moments(X, s):
    """:func:`weighted_column_moments` of sparse X, without densifying it.

    ``E[(x - K)^2] - (E[x] - K)^2`` per column, with ``K`` the first stored
    value of a column that stores every row (so a constant column gives
    exactly zero, as in the dense pass) and ``K = 0`` for the others (whose
    unstored zeros stay unread).
    """
    n, d = X.shape
    shift = np.zeros(d)
    if X.has_canonical_format and X.nnz >= n > 0:
        # Indices sorted and unique: the columns that store all n rows.
        full = np.flatnonzero(_stored_per_column(X) == n)
        if full.size:
            shift[full] = _first_stored(X, full)
    total, sq = _sparse_weighted_sums(X, s, shift)
    var = sq - total**2  # s sums to one
    return total + shift, np.maximum(var, 0.0, out=var)


def _stored_per_column(X):
    """Stored entries per column of CSR or CSC X (in blocks: no nnz-sized
    temporary)."""
    if X.format == "csc":
        return np.diff(X.indptr)
    d = X.shape[1]
    stored = np.zeros(d, dtype=np.intp)
    for block in _chunks(X.nnz, 8):
        stored += np.bincount(X.indices[block], minlength=d)
    return stored


def _first_stored(X, columns):
    """The first stored value of each of ``columns`` of canonical X."""
    if X.format == "csc":
        return X.data[X.indptr[columns]]
    row = np.zeros(X.shape[1])  # row 0, which every full column stores
    p0, p1 = X.indptr[0], X.indptr[1]
    row[X.indices[p0:p1]] = X.data[p0:p1]
    return row[columns]


def _padded_length(n, dtype):
    """``n`` items of ``dtype`` padded to whole cache lines and one line more."""
    line = 64 // np.dtype(dtype).itemsize
    return -(-n // line) * line + line


def _padded(shape, dtype):
    """A zeroed C-ordered array whose last axis is padded by
    :func:`_padded_length` (the kernels read the true length from X): the
    threads' slots never share a line (a shared line, written by two cores
    at every row, made the two-thread pass slower than one thread)."""
    return np.zeros((*shape[:-1], _padded_length(shape[-1], dtype)), dtype)


def _plain(X):
    """Dense X as a plain ndarray (a memmap or other subclass: its view)."""
    X = np.asarray(X)
    return X if type(X) is np.ndarray else X.view(np.ndarray)


def _sparse_weighted_sums(X, s, shift):
    """``sum_i s_i y_ij`` and ``sum_i s_i y_ij^2`` per column, float64, of
    the stored entries ``y_ij = x_ij - shift_j``.

    In blocks of the compressed axis of 32768 stored entries: the temporaries
    are a block's weighted values (256 KiB) and a d-vector of bin sums.
    (``X.T @ s`` would first copy a zero-stride ``s`` into an n-vector.)
    """
    n_major = X.shape[0] if X.format == "csr" else X.shape[1]
    nnz_per_major = X.nnz / max(n_major, 1)
    d = X.shape[1]
    total, sq = np.zeros(d), np.zeros(d)
    shifted = bool(np.any(shift))
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
        y = X.data[p0:p1]
        if shifted:
            y = y - shift[offset + bins]
        values *= y
        total[offset : offset + length] += np.bincount(bins, values, length)
        values *= y
        sq[offset : offset + length] += np.bincount(bins, values, length)
    return total, sq


# ------------------------------------------------------------ fused pass
def single_threaded_blas():
    """Context manager limiting BLAS to one thread.

    The fused pass makes its own threads; beside them, for the small
    products around them, BLAS's threads would only add synchronisation,
    which stalls badly when the machine is busy. The limit is the
    process-wide, reference-counted and fork-safe one of
    :mod:`._blas_limit`, shared by every fit in the process: the blocks of
    concurrent fits cannot leave it set behind them, and nested blocks cost
    no call into BLAS.
    """
    return BLAS_LIMIT


class ThreadChoice:
    """How many threads passes of one size run on: all they may, or one.

    A pass on every core ends when its slowest thread does, and its threads
    then spin for a while, ready for the next pass. Where other processes
    hold the cores, a thread waits for a scheduler time slice (milliseconds)
    and the spinning ones take the core the fit's own Python code needs
    between passes: a fit then takes several times as long (D1 with two
    cores kept busy: 3.4x its time on one thread), while on one thread it
    neither waits nor spins. Rather than guess the machine's load, the
    passes measure their cycle, from a pass's start to the next pass's start
    (the pass and the work between passes, which spinning slows). The first
    cycles alternate between the counts, ``_THREAD_TRIALS`` each; then the
    faster count is kept (by the fastest of its last three cycles), the
    other tried again every ``_THREAD_RECHECK`` seconds. One choice serves
    every pass of one kind over data of about the same size
    (:func:`thread_choice`), so that a fit starts from what the fits before
    it learnt. A pass's result
    does not depend on its number of threads (its chunks are fixed), so
    neither does the fit's.

    Parameters
    ----------
    threads : int
        The most threads the passes may use.

    Examples
    --------
    >>> choice = ThreadChoice(2)
    >>> cycle = choice.cycle()
    >>> [cycle.start() for _ in range(2)]  # the trials alternate
    [2, 1]
    """

    def __init__(self, threads):
        self.counts = (threads, 1) if threads > 1 else (1,)
        self._times = {count: [] for count in self.counts}
        self._best = threads
        self._cycles = 0
        self._checked = 0.0  # when the count not kept last ran

    def cycle(self):
        """The cycle timer of one pass object (its passes follow each other)."""
        return _Cycle(self)

    def _next(self, now):
        if self._cycles < _THREAD_TRIALS * 2:
            self._checked = now  # the trials count as a check
            return self.counts[self._cycles % 2]
        if now - self._checked > _THREAD_RECHECK:
            self._checked = now
            return self.counts[1 - self.counts.index(self._best)]
        return self._best

    def _record(self, count, seconds):
        self._cycles += 1
        times = self._times[count]
        times.append(seconds)
        del times[:-3]
        if all(self._times.values()):
            self._best = min(self.counts, key=lambda c: min(self._times[c]))


class _Cycle:
    """One pass object's cycles, reported to its :class:`ThreadChoice`."""

    def __init__(self, choice):
        self._choice = choice
        self._last = None  # (count, start) of the pass last started

    def start(self):
        """The count of a pass that starts now (ending the last one's cycle)."""
        if len(self._choice.counts) == 1:
            return 1  # nothing to choose: no clock
        now = time.perf_counter()
        if self._last is not None:
            self._choice._record(self._last[0], now - self._last[1])
        count = self._choice._next(now)
        self._last = (count, now)
        return count

    def ran(self, count):
        """The pass ran on ``count`` threads (fewer than chosen: a limit)."""
        if self._last is not None and count != self._last[0]:
            self._last = None  # not a cycle of either count


_CHOICES = {}


def thread_choice(threads, nbytes, kind=None):
    """The :class:`ThreadChoice` of passes of one ``kind`` on ``threads`` over
    ``nbytes`` of X (one per power of two): passes whose cycles compare."""
    key = (threads, int(nbytes).bit_length(), kind)
    if key not in _CHOICES:
        _CHOICES[key] = ThreadChoice(threads)
    return _CHOICES[key]


def _labels(mode, y):
    """``(y01, yk)``: the kernels' binary (uint8) and class-index (intp)
    labels, one of them empty. No copy when ``y`` already has that dtype."""
    empty01, emptyk = np.zeros(0, np.uint8), np.zeros(0, np.intp)
    if mode == _fused.BINARY:
        y = np.asarray(y)
        y01 = y if y.dtype == np.uint8 else (y > 0).view(np.uint8)
        return y01, emptyk
    if mode == _fused.MULTINOMIAL:
        return empty01, np.asarray(y, dtype=np.intp)
    return empty01, emptyk


def _equal_nonzero(s):
    """Whether every nonzero weight of ``s`` is the same (True when none is)."""
    nonzero = s[s != 0]
    return bool(nonzero.size == 0 or np.all(nonzero == nonzero[0]))


class FusedPass:
    """One pass over X: raw predictions, loss, residual and ``X.T @ R``.

    The work is a compiled kernel of :mod:`._fused` that streams the rows
    of dense or CSR X once, computing for each row (in cache) its raw
    predictions ``Z_i = x_i @ W + b``, its loss and residual, and its share
    of ``X.T @ R``. The rows are cut into chunks, fixed here, that the OpenMP
    threads take as they finish, each chunk's sums in its own slot of the
    buffers allocated here, added up in chunk order. CSC X, whose rows
    cannot be streamed, gets the two sparse products and the same
    per-sample kernel in between.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
    n_out : int
        Columns of ``W`` (1 for binary, n_classes for multinomial).
    mode : {"binary", "multinomial", "weighted"}
        The per-sample work: the cross-entropy's loss and residual
        ``R = s * dL/dZ`` (see :mod:`.._objective._loss`), or ``R = s * Z`` (the
        weighted Gram product, loss 0).
    y : ndarray of shape (n_samples,) or None
        Binary: 0/1 labels (positive where ``y > 0``); multinomial: class
        indices; weighted: None.
    s : ndarray of shape (n_samples,)
        Normalised sample weights.
    n_threads : int, optional
        Threads; by default OpenMP's (see
        :func:`._threads.effective_n_threads`), at most one per 4096 rows.
        The rows are cut into chunks that the threads take as they finish;
        the result does not depend on the number of threads a pass gets.
    """

    _MODES = {
        "binary": _fused.BINARY,
        "multinomial": _fused.MULTINOMIAL,
        "weighted": _fused.WEIGHTED,
    }

    def __init__(self, X, n_out, mode, y, s, n_threads=None):
        if not sp.issparse(X):
            X = _plain(X)
        self.X, self.n_out, self.mode = X, n_out, self._MODES[mode]
        n, d = X.shape
        self.y01, self.yk = _labels(self.mode, y)
        self.s = s = np.asarray(s, dtype=X.dtype)
        # Which kernel runs: tested once here, not per pass.
        self.format = X.format if sp.issparse(X) else "dense"
        # Equal weights (no sample_weight), but for zeros (rows held out by
        # early stopping): one log per chunk of samples. A zero-stride view of
        # one weight is equal without a look.
        self.uniform = s.strides[0] == 0 or _equal_nonzero(s)
        self.n_threads = n_threads
        threads = 1 if self.format == "csc" else _slots(n)
        if n_threads is not None:
            threads = min(threads, n_threads)
        # A tile of residual scratch per thread (CSC keeps all rows'
        # residuals, for X.T @ R); Gt, db and the loss sums per chunk (slot
        # 0 receives the totals).
        rows = n if self.format == "csc" else _fused.TILE
        self._R = np.empty((threads, rows, n_out), X.dtype)
        # The thread count chosen by timing, unless the caller fixed it.
        # Passes of a kind (mode, columns) compare: the step bound's passes
        # and the solver's do different work around them.
        self._cycle = None
        if n_threads is None:
            kind = (self.mode, n_out)
            self._cycle = thread_choice(threads, _nbytes(X), kind).cycle()
        slot_bytes = n_out * _padded_length(d, X.dtype) * X.dtype.itemsize
        chunks = _n_chunks(n, threads, slot_bytes, _nbytes(X))
        self._Gt = _padded((chunks, n_out, d), X.dtype)
        self._db = np.empty((chunks, n_out))
        self._sums = np.empty((chunks, 2))
        if self.format in ("csr", "csc"):
            self._csr = (X.data, X.indices, X.indptr)
        # Limiting BLAS costs a call into threadpoolctl (far more for the
        # first controller of a process): worth it only where BLAS would thread
        # beside the pass, whose threads its spinning ones would slow down:
        # products on large dense X, or d-sized vector operations (around
        # every pass) long enough for OpenBLAS to thread them.
        self.large = (
            self.format == "dense" and (threads > 1 or n * (d + n_out) >= _LARGE)
        ) or d * n_out >= _BLAS_THREADED
        # CSR binary takes W as (d, 1), or (d, 2) with Nesterov's point as
        # coefficients (at_point_and_extrapolation). It, and the weighted
        # mode, make each row's dot products, use and drop them in the
        # kernel: the pass needs no n-sized raw predictions (on D3 each is
        # 3% of X).
        self._csr_binary = self.format == "csr" and self.mode == _fused.BINARY
        self.keeps_raw = not (
            self._csr_binary or (self.format == "csr" and self.mode == _fused.WEIGHTED)
        )
        self._no_raw = np.empty(
            (0, n_out), X.dtype
        )  # the Z of at_point_and_extrapolation

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

        ``G`` and ``db`` are views of the pass's buffers, valid until the
        next call (no d-sized copies per pass: on sparse data such as D3
        each is 0.6% of X).
        """
        W = np.asarray(W, dtype=self.X.dtype)
        if Z_prev is None:
            Z_prev, beta = Z, 0.0
        return self._pass(W, b, b, Z, Z_prev, beta)

    def at_point_and_extrapolation(self, W2, b, b_y, beta, Z=None):
        """The pass of CSR binary data (not :attr:`keeps_raw`) for Nesterov.

        ``J``'s loss sum at ``X @ W2[:, 0] + b``; the residual and the loss
        sum at ``X @ W2[:, 1] + b_y`` (with ``beta != 0``; else at the first
        point): each row's two dot products from one read of its entries,
        the two coefficients side by side in ``W2`` (shape (d, 2)), and no
        n-sized raw predictions, unless ``Z`` (shape (n_samples, 1)) is
        given: it then receives those at the first point. Returns as
        :meth:`__call__`.
        """
        if not self._csr_binary:
            raise ValueError("this pass takes the extrapolated point as Z_prev")
        Z = self._no_raw if Z is None else Z
        return self._pass(np.asarray(W2, dtype=self.X.dtype), b, b_y, Z, Z, beta)

    def _pass(self, W, b, b_y, Z, Z_prev, beta):
        dtype, d = self.X.dtype, self.X.shape[1]
        # CSR binary reads W (d, 1) or (d, 2); the others W.T (K, d).
        Wt = np.ascontiguousarray(W if self._csr_binary else W.T)
        b = np.ascontiguousarray(b, dtype=dtype).reshape(self.n_out)
        if self._cycle is None:
            n_threads = self.n_threads
        else:
            # OpenMP's limit read now: threadpool_limits may have lowered it.
            n_threads = min(self._cycle.start(), _n_threads())
        labels = (self.y01, self.yk, self.s, self.uniform)
        out = (self._R, self._Gt, self._db, self._sums)
        if self.format == "dense":
            value, value_y = _fused.dense_pass(
                self.mode,
                self.X,
                Wt,
                b,
                *labels,
                Z,
                Z_prev,
                float(beta),
                *out,
                n_threads,
            )
        elif self.format == "csr":
            b_y = np.ascontiguousarray(b_y, dtype=dtype).reshape(self.n_out)
            value, value_y = _fused.csr_pass(
                self.mode,
                *self._csr,
                Wt,
                b,
                b_y,
                *labels,
                Z,
                Z_prev,
                float(beta),
                *out,
                n_threads,
            )
        else:  # CSC: Z = X @ W + b, the per-sample kernel, then G = X.T @ R.
            np.add(self.X @ Wt.T, b, out=Z)
            R, db = self._R[0], self._db[0]
            value, value_y = _fused.sample_pass(
                self.mode, Z, Z_prev, float(beta), *labels, R, db
            )
            self._Gt[0, :, :d] = (self.X.T @ R).T
        if self._cycle is not None:
            self._cycle.ran(n_threads)
        return value, value_y, self._Gt[0, :, :d].T, self._db[0]


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
