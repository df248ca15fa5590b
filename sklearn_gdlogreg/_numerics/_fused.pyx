"""Compiled kernels of the fused pass: one read of X per iteration.

One call runs the whole iteration's work over the rows of X, split into
chunks of rows that the OpenMP threads take as they finish (``prange``,
dynamic schedule, ``nogil``). Within a chunk, row by row (or tile by tile of
:data:`TILE` rows, which stay in the L1/L2 cache): the raw predictions
``Z = X @ W + b``, the per-sample loss and residual ``R = s * dL/dZ``
(``exp`` computed once per sample and shared by the loss and the
sigmoid/softmax), and their share of ``G = X.T @ R``, the rows of X read
from memory once and from cache the second time. The rows are cut into a
fixed number of chunks (set by the caller, not by the threads): each chunk's
sums go to its own slot of the output arrays (first axis: the chunk), added
up in chunk order after the parallel loop, so that the result is the same
bits whatever the number of threads and whichever thread ran which chunk.
A thread slowed by another process on its core (a busy machine) leaves its
later chunks to the others instead of holding up the pass.

With ``beta != 0`` (Nesterov's extrapolated point ``Z + beta (Z - Z_prev)``)
every kernel also returns the loss sum at that point, from the ``exp`` its
residual needs anyway: the step-size test of the accelerated solver compares
J there and at the next iterate.

Notation: ``K`` outputs (1 for binary, the number of classes for
multinomial). ``Wt`` is ``W.T`` (shape ``(K, d)``), so that every product runs
along a contiguous row; ``Gt`` likewise receives ``(X.T @ R).T``. ``Z``, ``R``
and ``Gt`` are in X's dtype (float32 X runs in float32, ``exp`` included),
the loss sums and ``db`` in float64. Binary labels are uint8 (0/1),
multinomial ones class indices (intp).

The kernels know nothing of estimators: plain arrays in, plain arrays out.
"""

from cython cimport floating
from cython.parallel cimport parallel, prange, threadid
from libc.math cimport exp, expf, fabs, fabsf, log, log1p, log1pf

import numpy as np

# What each kernel computes per sample, ``mode``:
BINARY = 0  # R = s * (sigmoid(z) - y), value = sum s * L(z, y)
MULTINOMIAL = 1  # R = s * (softmax(Z) - Y), value = sum s * L(Z, y)
WEIGHTED = 2  # R = s * Z (the weighted Gram product), value = 0

cdef enum:
    _BINARY = 0
    _MULTINOMIAL = 1
    _WEIGHTED = 2

# Rows per tile: X not in C order (read column by column within a tile), the
# CSR binary kernel's two phases, the column moments.
TILE = 256
cdef Py_ssize_t _TILE = 256

# With uniform weights, the binary loss sum takes the log of a product of
# ``1 + e`` (each in [1, 2]) every this many samples: one log per chunk
# instead of one per sample, the product never above 2^512.
cdef int _LOG_CHUNK = 512

cdef extern from "_simd.h" nogil:
    void gd_dot2_d(const double*, const double*, const double*, Py_ssize_t,
                   double*, double*)
    void gd_dot2_f(const float*, const float*, const float*, Py_ssize_t,
                   float*, float*)
    double gd_dot_d(const double*, const double*, Py_ssize_t, double)
    float gd_dot_f(const float*, const float*, Py_ssize_t, float)
    void gd_axpy2_d(double*, double, const double*, double, const double*,
                    Py_ssize_t)
    void gd_axpy2_f(float*, float, const float*, float, const float*, Py_ssize_t)
    void gd_axpy_d(double*, double, const double*, Py_ssize_t)
    void gd_axpy_f(float*, float, const float*, Py_ssize_t)


# Along a row of C-ordered X (_simd.h: with an AVX2 clone chosen at load).
cdef inline void _dot2(
    const floating* x0, const floating* x1, const floating* w, Py_ssize_t d,
    floating* a0, floating* a1
) noexcept nogil:
    """``a0 += x0 . w``, ``a1 += x1 . w``."""
    if floating is float:
        gd_dot2_f(x0, x1, w, d, a0, a1)
    else:
        gd_dot2_d(x0, x1, w, d, a0, a1)


cdef inline floating _dot(
    const floating* x, const floating* w, Py_ssize_t d, floating a
) noexcept nogil:
    """``a + x . w``."""
    if floating is float:
        return gd_dot_f(x, w, d, a)
    else:
        return gd_dot_d(x, w, d, a)


cdef inline void _axpy2(
    floating* g, floating r0, const floating* x0, floating r1,
    const floating* x1, Py_ssize_t d
) noexcept nogil:
    """``g += r0 x0 + r1 x1``."""
    if floating is float:
        gd_axpy2_f(g, r0, x0, r1, x1, d)
    else:
        gd_axpy2_d(g, r0, x0, r1, x1, d)


cdef inline void _axpy(
    floating* g, floating r, const floating* x, Py_ssize_t d
) noexcept nogil:
    """``g += r x``."""
    if floating is float:
        gd_axpy_f(g, r, x, d)
    else:
        gd_axpy_d(g, r, x, d)


ctypedef fused index_t:
    int
    long long


# ------------------------------------------------------------ per sample
cdef struct LogFold:
    double log_sum
    double product
    int count


cdef struct Sums:
    double value  # weighted loss sum at Z (less the folded logs)
    double value_y  # same at the extrapolated point
    LogFold f  # the folded log(1 + e) terms at Z (uniform weights)
    LogFold f_y  # and at the extrapolated point


cdef inline void _sums_init(Sums* acc) noexcept nogil:
    acc.value = 0.0
    acc.value_y = 0.0
    acc.f.log_sum = 0.0
    acc.f.product = 1.0
    acc.f.count = 0
    acc.f_y.log_sum = 0.0
    acc.f_y.product = 1.0
    acc.f_y.count = 0


cdef inline void _fold(LogFold* f, double factor) noexcept nogil:
    """Multiply ``factor`` into the running product; every :data:`_LOG_CHUNK`
    factors, move its log into ``log_sum``."""
    f.product *= factor
    f.count += 1
    if f.count == _LOG_CHUNK:
        f.log_sum += log(f.product)
        f.product = 1.0
        f.count = 0


cdef inline double _common_weight(
    const floating[:] s, Py_ssize_t lo, Py_ssize_t hi
) noexcept nogil:
    """The weight every sample of ``lo:hi`` with a nonzero one has, when
    ``uniform``: the first nonzero (a zero one is a row held out)."""
    cdef Py_ssize_t i
    for i in range(lo, hi):
        if s[i] != 0:
            return s[i]
    return 0.0


cdef inline void _totals(
    Sums* acc, double s0, bint uniform, bint at_y, double* out
) noexcept nogil:
    """``out[0:2] += (value, value_y)``, the deferred logs added (``s0``: the
    common weight when ``uniform``, see :func:`_common_weight`)."""
    cdef double value = acc.value, value_y = acc.value_y
    if uniform:
        value += s0 * (acc.f.log_sum + log(acc.f.product))
        value_y += s0 * (acc.f_y.log_sum + log(acc.f_y.product))
    out[0] += value
    out[1] += value_y if at_y else value


cdef inline floating _exp(floating x) noexcept nogil:
    if floating is float:
        return expf(x)
    else:
        return exp(x)


cdef inline floating _log1p(floating x) noexcept nogil:
    if floating is float:
        return log1pf(x)
    else:
        return log1p(x)


cdef inline floating _abs(floating x) noexcept nogil:
    if floating is float:
        return fabsf(x)
    else:
        return fabs(x)


cdef inline void _binary_loss(
    floating z, floating e, floating yi, floating si, bint uniform,
    double* value, LogFold* f
) noexcept nogil:
    """Add ``s * L(z, y)`` (``e = exp(-|z|)``) to ``value``; with uniform
    weights its ``s * log(1 + e)`` part goes into ``f`` as the factor
    ``1 + e`` instead (none for a sample of weight zero: a held-out row)."""
    cdef floating zero = 0, one = 1
    # log(1 + e^z) - y z = max(z, 0) + log(1 + e^-|z|) - y z
    value[0] += <double>(si * ((z if z > zero else zero) - yi * z))
    if uniform:
        if si != zero:
            _fold(f, <double>(one + e))
    else:
        value[0] += <double>(si * _log1p(e))


cdef inline floating _binary_sample(
    floating z, floating z_y, bint at_y, floating yi, floating si,
    bint uniform, Sums* acc
) noexcept nogil:
    """One binary sample: its loss at ``z`` (and at ``z_y`` when ``at_y``)
    into ``acc``; returns ``s * (sigmoid(z') - y)`` at ``z' = z_y`` when
    ``at_y``, else at ``z``. Arithmetic in X's dtype (float32 ``exp`` for
    float32 X)."""
    cdef floating zero = 0, one = 1
    cdef floating e = _exp(-_abs(z))
    _binary_loss(z, e, yi, si, uniform, &acc.value, &acc.f)
    if at_y:
        z = z_y
        e = _exp(-_abs(z))
        _binary_loss(z, e, yi, si, uniform, &acc.value_y, &acc.f_y)
    # sigmoid(z) = 1 / (1 + e) for z >= 0, e / (1 + e) for z < 0: both
    # accurate to one rounding, relative.
    return si * ((one if z >= zero else e) / (one + e) - yi)


cdef inline void _row_terms(
    int mode, floating* z, const floating* z_prev, floating beta, bint at_y,
    const unsigned char[:] y01, const Py_ssize_t[:] yk, Py_ssize_t i,
    floating si, bint uniform, floating* r, double* db, Sums* acc, Py_ssize_t K
) noexcept nogil:
    """Sample ``i`` with raw predictions ``z`` (K,): residual into ``r``
    (K,), added to ``db``, losses into ``acc``.

    The residual is taken at ``z + beta * (z - z_prev)`` when ``at_y``
    (Nesterov's extrapolated point), the loss at ``z`` and there.
    """
    cdef Py_ssize_t k, c
    cdef double z_max, total, e, scale, z_c
    if mode == _BINARY:
        r[0] = _binary_sample(
            z[0], z[0] + beta * (z[0] - z_prev[0]) if at_y else z[0],
            at_y, <floating>y01[i], si, uniform, acc,
        )
        db[0] += r[0]
        return
    if mode == _WEIGHTED:
        for k in range(K):
            r[k] = si * z[k]
            db[k] += r[k]
        return
    # MULTINOMIAL: loss logsumexp(z) - z_c, residual s (softmax - onehot),
    # in float64.
    c = yk[i]
    z_max = z[0]
    for k in range(1, K):
        z_max = max(z_max, <double>z[k])
    total = 0.0
    for k in range(K):
        e = exp(z[k] - z_max)
        r[k] = <floating>e
        total += e
    acc.value += si * (z_max + log(total) - z[c])
    if at_y:  # softmax (and loss) at the extrapolated point instead
        for k in range(K):
            r[k] = z[k] + beta * (z[k] - z_prev[k])
        z_c = r[c]
        z_max = r[0]
        for k in range(1, K):
            z_max = max(z_max, <double>r[k])
        total = 0.0
        for k in range(K):
            e = exp(r[k] - z_max)
            r[k] = <floating>e
            total += e
        acc.value_y += si * (z_max + log(total) - z_c)
    scale = si / total
    for k in range(K):
        r[k] = <floating>(scale * r[k] - (si if k == c else 0.0))
        db[k] += r[k]


cdef inline Py_ssize_t _n_ranges(
    Py_ssize_t m, int n_threads, Py_ssize_t slots, Py_ssize_t min_rows
) noexcept nogil:
    """Row ranges of a pass: one per thread, at most ``slots``, and at least
    ``min_rows`` rows each (below, starting a thread costs more)."""
    cdef Py_ssize_t n = min(<Py_ssize_t>n_threads, slots)
    n = min(n, m // max(min_rows, 1))
    return max(n, 1)


# ------------------------------------------------------------- dense X
cdef void _dense_binary_rows(
    const floating[:, :] X, Py_ssize_t lo, Py_ssize_t hi,
    const floating* w, floating b, const unsigned char[:] y01,
    const floating[:] s, bint uniform, floating[:, :] Z,
    const floating[:, :] Z_prev, floating beta, floating* g, double* db,
    Sums* acc
) noexcept nogil:
    """:func:`dense_pass`'s hot loop: binary mode, rows contiguous.

    Two rows at a time: two independent dot products (not one chain of
    dependent additions), and one pass over ``g`` for both updates.
    """
    cdef Py_ssize_t d = X.shape[1], ldx = X.strides[0] // sizeof(floating)
    cdef Py_ssize_t i = lo, j
    cdef bint at_y = beta != 0
    cdef const floating* x0
    cdef const floating* x1
    cdef floating a0, a1, r0, r1
    cdef double r_sum = 0.0
    while i + 1 < hi:
        x0 = &X[i, 0]
        x1 = x0 + ldx
        a0 = b
        a1 = b
        _dot2(x0, x1, w, d, &a0, &a1)
        Z[i, 0] = a0
        Z[i + 1, 0] = a1
        r0 = _binary_sample(
            a0, a0 + beta * (a0 - Z_prev[i, 0]) if at_y else a0,
            at_y, <floating>y01[i], s[i], uniform, acc,
        )
        r1 = _binary_sample(
            a1, a1 + beta * (a1 - Z_prev[i + 1, 0]) if at_y else a1,
            at_y, <floating>y01[i + 1], s[i + 1], uniform, acc,
        )
        r_sum += r0
        r_sum += r1
        _axpy2(g, r0, x0, r1, x1, d)
        i += 2
    if i < hi:
        x0 = &X[i, 0]
        a0 = _dot(x0, w, d, b)
        Z[i, 0] = a0
        r0 = _binary_sample(
            a0, a0 + beta * (a0 - Z_prev[i, 0]) if at_y else a0,
            at_y, <floating>y01[i], s[i], uniform, acc,
        )
        r_sum += r0
        _axpy(g, r0, x0, d)
    db[0] += r_sum


cdef void _dense_range(
    int mode, const floating[:, :] X, Py_ssize_t lo, Py_ssize_t hi,
    const floating[:, ::1] Wt, const floating[::1] b,
    const unsigned char[:] y01, const Py_ssize_t[:] yk,
    const floating[:] s, bint uniform, floating[:, :] Z,
    const floating[:, :] Z_prev, floating beta, floating[:, ::1] R,
    floating[:, ::1] Gt, double* db, double* out
) noexcept nogil:
    """The fused pass over rows ``lo:hi`` of dense ``X``, added to a slot."""
    cdef Py_ssize_t d = X.shape[1], K = Wt.shape[0], i, j, k, t0, t1
    cdef bint at_y = beta != 0
    cdef bint by_row = X.strides[1] == sizeof(floating)
    cdef Py_ssize_t tile = R.shape[0]
    cdef floating acc_f, rk, wkj
    cdef const floating* xi
    cdef floating* r
    cdef Sums acc
    _sums_init(&acc)
    if mode == _BINARY and by_row:
        _dense_binary_rows(
            X, lo, hi, &Wt[0, 0], b[0], y01, s, uniform, Z, Z_prev, beta,
            &Gt[0, 0], db, &acc,
        )
    elif by_row:  # C order: row by row, the row in L1 between its two uses
        r = &R[0, 0]
        for i in range(lo, hi):
            xi = &X[i, 0]
            for k in range(K):
                Z[i, k] = _dot(xi, &Wt[k, 0], d, b[k])
            _row_terms(
                mode, &Z[i, 0], &Z_prev[i, 0], beta, at_y, y01, yk, i, s[i],
                uniform, r, db, &acc, K,
            )
            for k in range(K):
                _axpy(&Gt[k, 0], r[k], xi, d)
    else:  # other layouts: tile by tile, column by column
        t0 = lo
        while t0 < hi:
            t1 = min(t0 + tile, hi)
            for i in range(t0, t1):
                for k in range(K):
                    Z[i, k] = b[k]
            for j in range(d):
                for k in range(K):
                    wkj = Wt[k, j]
                    for i in range(t0, t1):
                        Z[i, k] = Z[i, k] + X[i, j] * wkj
            for i in range(t0, t1):
                _row_terms(
                    mode, &Z[i, 0], &Z_prev[i, 0], beta, at_y, y01, yk, i,
                    s[i], uniform, &R[i - t0, 0], db, &acc, K,
                )
            for j in range(d):
                for k in range(K):
                    acc_f = 0
                    for i in range(t0, t1):
                        acc_f = acc_f + R[i - t0, k] * X[i, j]
                    Gt[k, j] = Gt[k, j] + acc_f
            t0 = t1
    _totals(&acc, _common_weight(s, lo, hi), uniform, at_y, out)


cdef void _zero_slots(
    floating[:, :, ::1] Gt, double[:, ::1] db, double[:, ::1] sums,
    Py_ssize_t n
) noexcept nogil:
    """Zero slots ``0:n`` of the outputs (the chunks add to them)."""
    cdef Py_ssize_t c, k, j
    for c in range(n):
        for k in range(Gt.shape[1]):
            db[c, k] = 0.0
            for j in range(Gt.shape[2]):
                Gt[c, k, j] = 0
        sums[c, 0] = 0.0
        sums[c, 1] = 0.0


cdef void _reduce_slots(
    floating[:, :, ::1] Gt, double[:, ::1] db, double[:, ::1] sums,
    Py_ssize_t n, Py_ssize_t d
) noexcept nogil:
    """Sum slots ``1:n`` of the outputs into slot 0 (``d`` columns of Gt)."""
    cdef Py_ssize_t c, k, j
    for c in range(1, n):
        for k in range(Gt.shape[1]):
            db[0, k] += db[c, k]
            for j in range(d):
                Gt[0, k, j] += Gt[c, k, j]
        sums[0, 0] += sums[c, 0]
        sums[0, 1] += sums[c, 1]


def dense_pass(
    int mode,
    const floating[:, :] X,
    const floating[:, ::1] Wt,
    const floating[::1] b,
    const unsigned char[:] y01,
    const Py_ssize_t[:] yk,
    const floating[:] s,
    bint uniform,
    floating[:, :] Z,
    const floating[:, :] Z_prev,
    double beta,
    floating[:, :, ::1] R,
    floating[:, :, ::1] Gt,
    double[:, ::1] db,
    double[:, ::1] sums,
    int n_threads,
):
    """Fused pass over the rows of dense ``X`` (any strides).

    Rows stored contiguously (C order) are done one at a time: the row's
    ``K`` dot products, its residual, and its ``K`` updates of ``Gt``, with
    the row in L1 between the two. Other layouts go by tiles of
    ``R.shape[1]`` rows, column by column.

    Parameters
    ----------
    mode : int
        :data:`BINARY`, :data:`MULTINOMIAL` or :data:`WEIGHTED`.
    X : ndarray of shape (m, d)
    Wt : ndarray of shape (K, d), X's dtype
    b : ndarray of shape (K,), X's dtype
    y01 : ndarray of shape (m,), uint8
        Binary labels (0/1); empty in the other modes.
    yk : ndarray of shape (m,), intp
        Multinomial class indices; empty in the other modes.
    s : ndarray of shape (m,)
        Normalised sample weights (any stride, 0 included).
    uniform : bool
        Whether all nonzero ``s`` are equal (the loss sum then takes one log
        per 512 samples; a zero one is a row held out).
    Z : ndarray of shape (m, K)
        Output: ``X @ Wt.T + b``.
    Z_prev : ndarray of shape (m, K)
        Raw predictions of the previous point (read when ``beta != 0``).
    beta : float
    R : ndarray of shape (threads, tile, K)
        Scratch, one tile per thread.
    Gt : ndarray of shape (chunks, K, d_padded)
        Output: slot 0's first ``d`` columns receive ``(X.T @ R).T``; the
        other slots are scratch. The rows are cut into ``chunks`` equal
        chunks, taken by the threads as they finish, each chunk's sums in
        its own slot, added up in chunk order: the result does not depend on
        the number of threads, nor on which thread ran which chunk. (Padded
        so that no two slots share a cache line.)
    db : ndarray of shape (chunks, K), float64
        Output: slot 0 receives ``R.sum(axis=0)``.
    sums : ndarray of shape (chunks, 2), float64
        Scratch for the loss sums.
    n_threads : int
        OpenMP threads, at most ``threads`` and ``chunks``.

    Returns
    -------
    value, value_y : float
        Weighted loss sums at ``Z`` and at ``Z + beta * (Z - Z_prev)``.
    """
    cdef Py_ssize_t m = X.shape[0], n_chunks = Gt.shape[0]
    cdef Py_ssize_t n = min(<Py_ssize_t>n_threads, R.shape[0], n_chunks)
    cdef Py_ssize_t c, t
    cdef floating beta_f = <floating>beta
    with nogil:
        _zero_slots(Gt, db, sums, n_chunks)
        if n <= 1:
            for c in range(n_chunks):
                _dense_range(
                    mode, X, m * c // n_chunks, m * (c + 1) // n_chunks, Wt, b,
                    y01, yk, s, uniform, Z, Z_prev, beta_f, R[0], Gt[c],
                    &db[c, 0], &sums[c, 0],
                )
        else:
            with parallel(num_threads=n):
                for c in prange(n_chunks, schedule="dynamic"):
                    t = threadid()
                    _dense_range(
                        mode, X, m * c // n_chunks, m * (c + 1) // n_chunks, Wt,
                        b, y01, yk, s, uniform, Z, Z_prev, beta_f, R[t], Gt[c],
                        &db[c, 0], &sums[c, 0],
                    )
        _reduce_slots(Gt, db, sums, n_chunks, X.shape[1])
    return sums[0, 0], sums[0, 1]


# --------------------------------------------------------------- CSR X
cdef void _csr_binary_range(
    const floating[::1] data, const index_t[::1] indices,
    const index_t[::1] indptr, Py_ssize_t lo, Py_ssize_t hi,
    const floating[:, ::1] W, floating b, floating b_y,
    const unsigned char[:] y01, const floating[:] s, bint uniform,
    floating[:, :] Z, const floating[:, :] Z_prev, floating beta,
    floating* rt, floating* g, Py_ssize_t d, double* db, double* out
) noexcept nogil:
    """The CSR binary hot loop over rows ``lo:hi`` into one slot.

    ``W`` has shape (d, 1): the coefficients, or (d, 2): those and, in its
    second column, those of the point where the residual is taken (with
    intercept ``b_y``). With ``beta != 0`` the residual is taken at
    ``X @ W[:, 1] + b_y`` when ``W`` has two columns (each row's two dot
    products from one read of its entries, the two coefficients side by
    side in memory: no n-sized state), else at ``Z + beta * (Z - Z_prev)``.
    ``Z`` receives ``X @ W[:, 0] + b`` if it has rows.

    By tiles of :data:`TILE` rows: first their dot products and residuals,
    then their scatters into ``g`` (the tile's entries still in cache). Two
    phases rather than one row at a time, so that the rows' chains of
    dependent loads (gather, exp, scatter) overlap.
    """
    cdef Py_ssize_t i, t0, t1, p, j
    cdef bint at_y = beta != 0
    cdef bint store = Z.shape[0] > 0
    cdef bint direct = at_y and W.shape[1] == 2
    cdef floating acc, acc_y, v, ri
    cdef double r_sum = 0.0
    cdef Sums sums
    _sums_init(&sums)
    t0 = lo
    while t0 < hi:
        t1 = min(t0 + _TILE, hi)
        for i in range(t0, t1):
            acc = b
            if direct:
                acc_y = b_y
                for p in range(indptr[i], indptr[i + 1]):
                    v = data[p]
                    j = indices[p]
                    acc = acc + v * W[j, 0]
                    acc_y = acc_y + v * W[j, 1]
            else:
                for p in range(indptr[i], indptr[i + 1]):
                    acc = acc + data[p] * W[indices[p], 0]
                acc_y = acc
                if at_y:
                    acc_y = acc + beta * (acc - Z_prev[i, 0])
            if store:
                Z[i, 0] = acc
            ri = _binary_sample(
                acc, acc_y, at_y, <floating>y01[i], s[i], uniform, &sums
            )
            r_sum += ri
            rt[i - t0] = ri
        for i in range(t0, t1):
            ri = rt[i - t0]
            for p in range(indptr[i], indptr[i + 1]):
                g[indices[p]] += ri * data[p]
        t0 = t1
    db[0] += r_sum
    _totals(&sums, _common_weight(s, lo, hi), uniform, at_y, out)


cdef void _csr_range(
    int mode, const floating[::1] data, const index_t[::1] indices,
    const index_t[::1] indptr, Py_ssize_t lo, Py_ssize_t hi,
    const floating[:, ::1] Wt, const floating[::1] b,
    const unsigned char[:] y01, const Py_ssize_t[:] yk,
    const floating[:] s, bint uniform, floating[:, :] Z,
    const floating[:, :] Z_prev, floating beta, floating* r,
    floating[:, ::1] Gt, double* db, double* out
) noexcept nogil:
    """CSR rows ``lo:hi``, modes other than binary, row by row.

    Weighted mode needs ``Z`` only as an output, which may then have no
    rows.
    """
    cdef Py_ssize_t K = Wt.shape[0], i, k, p, p0, p1, j
    cdef bint at_y = beta != 0
    cdef bint store = Z.shape[0] > 0
    cdef floating acc, rk
    cdef Sums sums
    _sums_init(&sums)
    for i in range(lo, hi):
        p0 = indptr[i]
        p1 = indptr[i + 1]
        for k in range(K):
            acc = b[k]
            for p in range(p0, p1):
                acc = acc + data[p] * Wt[k, indices[p]]
            if mode == _WEIGHTED:  # the Lanczos passes: no Z needed
                if store:
                    Z[i, k] = acc
                r[k] = s[i] * acc
                db[k] += r[k]
            else:
                Z[i, k] = acc
        if mode != _WEIGHTED:
            _row_terms(
                mode, &Z[i, 0], &Z_prev[i, 0], beta, at_y, y01, yk, i, s[i],
                uniform, r, db, &sums, K,
            )
        for k in range(K):
            rk = r[k]
            for p in range(p0, p1):
                Gt[k, indices[p]] += rk * data[p]
    _totals(&sums, _common_weight(s, lo, hi), uniform, at_y, out)


def csr_pass(
    int mode,
    const floating[::1] data,
    const index_t[::1] indices,
    const index_t[::1] indptr,
    const floating[:, ::1] W,
    const floating[::1] b,
    const floating[::1] b_y,
    const unsigned char[:] y01,
    const Py_ssize_t[:] yk,
    const floating[:] s,
    bint uniform,
    floating[:, :] Z,
    const floating[:, :] Z_prev,
    double beta,
    floating[:, :, ::1] R,
    floating[:, :, ::1] Gt,
    double[:, ::1] db,
    double[:, ::1] sums,
    int n_threads,
):
    """:func:`dense_pass` for the CSR matrix ``(data, indices, indptr)``.

    Binary mode takes ``W`` of shape (d, 1), or (d, 2) with Nesterov's point
    in its second column (intercept ``b_y``, see :func:`_csr_binary_range`);
    the other modes take ``W.T``, shape (K, d). ``R`` has shape (slots,
    TILE, K). Returns as :func:`dense_pass`.
    """
    cdef Py_ssize_t m = indptr.shape[0] - 1, n_chunks = Gt.shape[0]
    cdef Py_ssize_t n = max(1, min(<Py_ssize_t>n_threads, R.shape[0], n_chunks))
    cdef Py_ssize_t c, t
    cdef Py_ssize_t d = W.shape[0] if mode == _BINARY else W.shape[1]
    cdef floating beta_f = <floating>beta
    with nogil:
        _zero_slots(Gt, db, sums, n_chunks)
        # (One thread: a parallel region of one, which a forked child can run.)
        with parallel(num_threads=n):
            for c in prange(n_chunks, schedule="dynamic"):
                t = threadid()
                if mode == _BINARY:
                    _csr_binary_range(
                        data, indices, indptr, m * c // n_chunks,
                        m * (c + 1) // n_chunks, W, b[0], b_y[0], y01, s,
                        uniform, Z, Z_prev, beta_f, &R[t, 0, 0], &Gt[c, 0, 0],
                        d, &db[c, 0], &sums[c, 0],
                    )
                else:
                    _csr_range(
                        mode, data, indices, indptr, m * c // n_chunks,
                        m * (c + 1) // n_chunks, W, b, y01, yk, s, uniform, Z,
                        Z_prev, beta_f, &R[t, 0, 0], Gt[c], &db[c, 0],
                        &sums[c, 0],
                    )
        _reduce_slots(Gt, db, sums, n_chunks, d)
    return sums[0, 0], sums[0, 1]


# ------------------------------------------- any X: products done outside
def sample_pass(
    int mode,
    floating[:, :] Z,
    const floating[:, :] Z_prev,
    double beta,
    const unsigned char[:] y01,
    const Py_ssize_t[:] yk,
    const floating[:] s,
    bint uniform,
    floating[:, ::1] R,
    double[::1] db,
):
    """Per-sample work on all rows of ``Z`` (given): fills ``R`` (m, K).

    For X whose rows cannot be streamed (CSC): the caller computes
    ``Z = X @ W + b`` before and ``X.T @ R`` after. Returns as
    :func:`dense_pass`.
    """
    cdef Py_ssize_t m = Z.shape[0], K = Z.shape[1], i, k
    cdef floating beta_f = <floating>beta
    cdef bint at_y = beta != 0
    cdef double out[2]
    cdef Sums acc
    out[0] = 0.0
    out[1] = 0.0
    with nogil:
        _sums_init(&acc)
        for k in range(K):
            db[k] = 0.0
        for i in range(m):
            _row_terms(
                mode, &Z[i, 0], &Z_prev[i, 0], beta_f, at_y, y01, yk, i, s[i],
                uniform, &R[i, 0], &db[0], &acc, K,
            )
        _totals(&acc, _common_weight(s, 0, m), uniform, at_y, out)
    return out[0], out[1]


# ------------------------------------------------------- column moments
cdef inline double _merge_moments(
    double W, double* mean, double* m2, double W_b, const double* mean_b,
    const double* m2_b, Py_ssize_t d
) noexcept nogil:
    """Merge the moments of other rows into ``(W, mean, m2)``, in place.

    The pairwise update of Chan, Golub & LeVeque (1979): ``mean`` and ``m2``
    (the centred sum of squares) of rows of total weight ``W`` absorb those
    of rows of weight ``W_b``. Returns the total weight.
    """
    cdef double W_new, f, delta
    cdef Py_ssize_t j
    if W_b == 0.0:
        return W
    W_new = W + W_b
    f = W_b / W_new
    for j in range(d):
        delta = mean_b[j] - mean[j]
        mean[j] += delta * f
        m2[j] += m2_b[j] + delta * delta * W * f
    return W_new


cdef double _moments_range(
    const floating[:, :] X, const double[:] s, const double* shift,
    Py_ssize_t lo, Py_ssize_t hi, double* mean, double* m2, double* t_mean,
    double* t_m2
) noexcept nogil:
    """Weighted moments of rows ``lo:hi`` of ``X - shift``: tile by tile,
    each tile's two-pass moments (in cache) merged into ``mean``, ``m2``."""
    cdef Py_ssize_t d = X.shape[1], i, j, t0, t1
    cdef bint by_row = X.strides[1] == sizeof(floating)
    cdef double W = 0.0, w_t, si, v, acc, mu
    cdef const floating* xi
    for j in range(d):
        mean[j] = 0.0
        m2[j] = 0.0
    for t0 in range(lo, hi, 256):  # _TILE rows (a constant step: a C loop)
        t1 = min(t0 + _TILE, hi)
        w_t = 0.0
        for i in range(t0, t1):
            w_t += s[i]
        if w_t == 0.0:
            continue
        for j in range(d):
            t_mean[j] = 0.0
            t_m2[j] = 0.0
        if by_row:  # C order: along each row, so the columns vectorize
            for i in range(t0, t1):
                si = s[i]
                xi = &X[i, 0]
                for j in range(d):
                    t_mean[j] += si * (xi[j] - shift[j])
            for j in range(d):
                t_mean[j] /= w_t
            for i in range(t0, t1):
                si = s[i]
                xi = &X[i, 0]
                for j in range(d):
                    v = (xi[j] - shift[j]) - t_mean[j]
                    t_m2[j] += si * v * v
        else:  # other layouts: down each column of the tile
            for j in range(d):
                acc = 0.0
                for i in range(t0, t1):
                    acc += s[i] * (X[i, j] - shift[j])
                mu = acc / w_t
                acc = 0.0
                for i in range(t0, t1):
                    v = (X[i, j] - shift[j]) - mu
                    acc += s[i] * v * v
                t_mean[j] = mu
                t_m2[j] = acc
        W = _merge_moments(W, mean, m2, w_t, t_mean, t_m2, d)
    return W


def column_moments(
    const floating[:, :] X,
    const double[:] s,
    const double[::1] shift,
    double[:, ::1] mean,
    double[:, ::1] m2,
    int n_threads,
    Py_ssize_t min_rows,
):
    """Weighted mean and centred sum of squares of the columns of dense X.

    The moments of ``X - shift`` are taken, ``shift`` added back to the
    mean: with a row of X as ``shift``, a constant column's differences, and
    so its variance, are exactly zero (unshifted, its mean is rounded and the
    variance is about ``(eps * mean)^2``, which would make that column's
    diagonal scale tiny and its coefficient huge). One read of X, one
    contiguous range of rows per thread; within a range,
    tile by tile (:data:`TILE` rows, in cache): the tile's weighted mean,
    then its centred squares (two passes over the tile, one read of X from
    memory), merged into the running moments with the pairwise update of
    Chan, Golub & LeVeque (1979), and the ranges' moments merged the same
    way: as accurate as the two-pass formula, whatever the columns' offsets.

    Parameters
    ----------
    X : ndarray of shape (m, d)
        Any strides.
    s : ndarray of shape (m,), float64
        Non-negative weights.
    shift : ndarray of shape (d,), float64
        Subtracted from every row (a row of X; zeros for the plain moments).
    mean, m2 : ndarray of shape (2 * slots, d_padded), float64
        Outputs in the first ``d`` columns of row 0 (the others scratch):
        ``sum_i s_i x_ij / W`` and ``sum_i s_i (x_ij - mean_j)^2``.
    n_threads, min_rows : int
        As in :func:`dense_pass`.

    Returns
    -------
    W : float
        ``sum_i s_i`` (0: ``mean`` and ``m2`` are zero).
    """
    cdef Py_ssize_t m = X.shape[0], d = X.shape[1], c
    cdef Py_ssize_t n = _n_ranges(m, n_threads, mean.shape[0] // 2, min_rows)
    cdef double W
    cdef double[::1] W_c = np.empty(n)
    cdef const double* K = &shift[0] if d else NULL
    for c in prange(n, nogil=True, num_threads=n, schedule="static", chunksize=1):
        W_c[c] = _moments_range(
            X, s, K, m * c // n, m * (c + 1) // n, &mean[2 * c, 0],
            &m2[2 * c, 0], &mean[2 * c + 1, 0], &m2[2 * c + 1, 0],
        )
    W = W_c[0]
    with nogil:
        for c in range(1, n):
            W = _merge_moments(
                W, &mean[0, 0], &m2[0, 0], W_c[c], &mean[2 * c, 0],
                &m2[2 * c, 0], d,
            )
        for c in range(d if W > 0.0 else 0):
            mean[0, c] += shift[c]
    return W
