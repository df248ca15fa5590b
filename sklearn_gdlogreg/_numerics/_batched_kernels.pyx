"""Kernels of the batched CV's passes over X (:mod:`._batched_passes`).

Per row block of dense X, for a group of models sharing its rows::

    Z = X_blk @ W                 (BLAS gemm)
    Z := R, the weighted residuals, in place, with the loss sums
    G += X_blk.T @ R              (BLAS gemm)
    Z_v = X_blk @ W_v             (optional: held-out loss sums only)

The per-entry kernels compute one exp per entry, vectorized (_exp.h), and
their inner loops over a row are C (_batched_rows.h): both are compiled for
several CPUs (AVX-512, AVX2, SSE2), the one running picked at load time.

:func:`dense_rows_pass` runs the blocks of all groups, one contiguous chunk
of blocks per OpenMP thread (``prange``), each thread with its own buffers
and its own sums, which the caller adds up. BLAS is called from these
threads: it must run on one thread then (the callers limit it with
threadpoolctl).

The per-entry kernels (``binary_*``) and :func:`gather_rows` are also
exposed one block at a time, for tests.
"""

from ._threads import effective_n_threads

from cpython.pycapsule cimport PyCapsule_GetName, PyCapsule_GetPointer
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, fabs, log
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

cdef extern from *:
    """
    /* A hint that *p is read soon (the row gather's next rows). */
    #if defined(__GNUC__) || defined(__clang__)
    #define gd_prefetch(p) __builtin_prefetch(p)
    #else
    #define gd_prefetch(p) ((void)0)
    #endif
    """
    void gd_prefetch(const void *p) noexcept nogil

cdef extern from "_exp.h":
    double GD_EXP_CLAMP
    void gd_exp_neg_inplace(double *e, Py_ssize_t n) noexcept nogil
    void gd_shift_abs_clamp_d(
        double *Z, const double *b, double *E, Py_ssize_t n_rows,
        Py_ssize_t n_cols) noexcept nogil
    void gd_shift_abs_clamp_f(
        float *Z, const float *b, double *E, Py_ssize_t n_rows,
        Py_ssize_t n_cols) noexcept nogil

cdef extern from "_batched_rows.h":
    void gd_uniform_rows_d(
        double *Z, const double *E, const double *hy, const double *c,
        double *acc0, double *acc1, double *acc2, Py_ssize_t n_rows,
        Py_ssize_t n_cols) noexcept nogil
    void gd_uniform_rows_f(
        float *Z, const double *E, const float *hy, const double *c,
        double *acc0, double *acc1, double *acc2, Py_ssize_t n_rows,
        Py_ssize_t n_cols) noexcept nogil
    void gd_masked_rows_d(
        double *Z, const double *E, const double *hy, const double *S,
        double *acc0, double *acc1, double *acc2, Py_ssize_t n_rows,
        Py_ssize_t n_cols) noexcept nogil
    void gd_masked_rows_f(
        float *Z, const double *E, const float *hy, const float *S,
        double *acc0, double *acc1, double *acc2, Py_ssize_t n_rows,
        Py_ssize_t n_cols) noexcept nogil
    void gd_weighted_rows_d(
        double *Z, const double *E, const double *hy, const double *S,
        double *acc0, double *acc1, Py_ssize_t n_rows,
        Py_ssize_t n_cols) noexcept nogil
    void gd_weighted_rows_f(
        float *Z, const double *E, const float *hy, const float *S,
        double *acc0, double *acc1, Py_ssize_t n_rows,
        Py_ssize_t n_cols) noexcept nogil


# SciPy's BLAS (scipy.linalg.cython_blas), as ``cimport`` would bind it,
# but looked up when this module is imported: the build then needs no SciPy
# (the build environment of pyproject.toml has none).
ctypedef void (*_dgemm_t)(
    char *transa, char *transb, int *m, int *n, int *k, double *alpha,
    double *a, int *lda, double *b, int *ldb, double *beta, double *c, int *ldc
) noexcept nogil
ctypedef void (*_sgemm_t)(
    char *transa, char *transb, int *m, int *n, int *k, float *alpha,
    float *a, int *lda, float *b, int *ldb, float *beta, float *c, int *ldc
) noexcept nogil

cdef _dgemm_t dgemm
cdef _sgemm_t sgemm


cdef void *_scipy_blas(str name) except NULL:
    """The address of ``scipy.linalg.cython_blas``'s function ``name``."""
    from scipy.linalg import cython_blas

    capsule = cython_blas.__pyx_capi__[name]
    return PyCapsule_GetPointer(capsule, PyCapsule_GetName(capsule))


dgemm = <_dgemm_t>_scipy_blas("dgemm")
sgemm = <_sgemm_t>_scipy_blas("sgemm")


cdef enum:
    # Factors in [1, 2] multiplied before one log: their product stays below
    # 2^512 (see _binary_uniform).
    _PRODUCT_ROWS_C = 512

PRODUCT_ROWS = _PRODUCT_ROWS_C

# The per-entry kernel of a group (see _RowGroup in _batched_passes).
cdef enum:
    KIND_UNIFORM = 0  # binary, weight c[j] on every row
    KIND_MASKED = 1  # binary, weights 0 or c[j]
    KIND_WEIGHTED = 2  # binary, any weights s
    KIND_MULTINOMIAL = 3  # softmax, weights s (or c[j] on every row)

# The kinds, for the callers of dense_rows_pass.
UNIFORM, MASKED, WEIGHTED, MULTINOMIAL = (
    KIND_UNIFORM, KIND_MASKED, KIND_WEIGHTED, KIND_MULTINOMIAL
)


cdef struct _Group:
    # Rows: X[start + i] when rows is NULL, else X[rows[i]].
    Py_ssize_t start
    const Py_ssize_t *rows
    Py_ssize_t n_models  # the group's models
    Py_ssize_t width  # n_models * n_out: columns of W, Z and G
    int kind
    const void *W  # (n_features, width), X's dtype, C order
    const void *b  # (width,), X's dtype
    const void *y  # binary: 1/2 - y, X's dtype; multinomial: class, intp
    const double *c  # (n_models,) or NULL
    const void *s  # (n_rows, n_models), X's dtype, or NULL
    Py_ssize_t g_off  # where the group's G starts in a thread's sums
    Py_ssize_t a_off  # where its float64 sums start
    # The models whose held-out rows these are (v_width 0: none), their
    # coefficients and held-out weights, as W, b, s; their sums at v_a_off.
    Py_ssize_t v_models
    Py_ssize_t v_width
    const void *v_W
    const void *v_b
    const void *v_s
    Py_ssize_t v_a_off


# ------------------------------------------------------- per-entry kernels
cdef inline void _shift_and_exp(
    floating *Z, double *E, const floating *b, Py_ssize_t n_rows, Py_ssize_t n_cols
) noexcept nogil:
    """``Z += b``, then ``E := exp(-|Z|)``, both (n_rows, n_cols) C order.

    The exp runs as one flat loop over all entries: vectorized as a loop
    over a row of ``n_cols`` entries, the last ``n_cols % 8`` of every row
    would run one by one.
    """
    if floating is double:
        gd_shift_abs_clamp_d(Z, b, E, n_rows, n_cols)
    else:
        gd_shift_abs_clamp_f(Z, b, E, n_rows, n_cols)
    gd_exp_neg_inplace(E, n_rows * n_cols)


cdef void _binary_uniform(
    floating *Z,
    double *E,
    const floating *b,
    const floating *half_minus_y,
    const double *c,
    double *acc,
    Py_ssize_t n_rows,
    Py_ssize_t n_cols,
) noexcept nogil:
    """Binary residuals in place, weights ``c[j]`` on every row.

    ``Z`` (n_rows, n_cols) holds ``X_blk @ W``; it becomes
    ``R = c * (sigmoid(z) - y)`` with ``z = Z + b``. Adds to ``acc`` (4,
    n_cols), float64: ``sum R``, ``sum |z|``, and the log of the product of
    the ``1 + exp(-|z|)`` (running product in ``acc[2]``, its log added to
    ``acc[3]`` every ``_PRODUCT_ROWS_C`` rows and at the end: factors in
    [1, 2], so the product stays below 2^512). The loss of the block, less
    its linear part, is ``c * (acc[1] / 2 + acc[3])``.
    """
    cdef Py_ssize_t i, j, k
    cdef double *acc2 = acc + 2 * n_cols
    cdef double *acc3 = acc + 3 * n_cols
    _shift_and_exp(Z, E, b, n_rows, n_cols)
    i = 0
    while i < n_rows:  # chunks of _PRODUCT_ROWS_C rows
        k = min(n_rows - i, <Py_ssize_t>_PRODUCT_ROWS_C)
        if floating is double:
            gd_uniform_rows_d(Z + i * n_cols, E + i * n_cols, half_minus_y + i,
                              c, acc, acc + n_cols, acc2, k, n_cols)
        else:
            gd_uniform_rows_f(Z + i * n_cols, E + i * n_cols, half_minus_y + i,
                              c, acc, acc + n_cols, acc2, k, n_cols)
        for j in range(n_cols):  # the product of <= 512 factors, to a log
            acc3[j] += log(acc2[j])
            acc2[j] = 1.0
        i += k


# A kernel of its own, not _binary_uniform's with s = c broadcast: such
# stride-0 weights are slower per block (benchmarks/README.md, "Tuned
# constants").
cdef void _binary_masked(
    floating *Z,
    double *E,
    const floating *b,
    const floating *half_minus_y,
    const floating *s,
    double *acc,
    Py_ssize_t n_rows,
    Py_ssize_t n_cols,
) noexcept nogil:
    """As :func:`_binary_uniform`, with weights ``s`` (n_rows, n_cols) each 0
    or its column's one nonzero weight ``c``: rows of weight 0 add nothing
    to ``acc``, and the block's loss is again ``c * (acc[1] / 2 + acc[3])``.
    """
    cdef Py_ssize_t i, j, k
    cdef double *acc2 = acc + 2 * n_cols
    cdef double *acc3 = acc + 3 * n_cols
    _shift_and_exp(Z, E, b, n_rows, n_cols)
    i = 0
    while i < n_rows:  # chunks of _PRODUCT_ROWS_C rows
        k = min(n_rows - i, <Py_ssize_t>_PRODUCT_ROWS_C)
        if floating is double:
            gd_masked_rows_d(Z + i * n_cols, E + i * n_cols, half_minus_y + i,
                             s + i * n_cols, acc, acc + n_cols, acc2, k, n_cols)
        else:
            gd_masked_rows_f(Z + i * n_cols, E + i * n_cols, half_minus_y + i,
                             s + i * n_cols, acc, acc + n_cols, acc2, k, n_cols)
        for j in range(n_cols):
            acc3[j] += log(acc2[j])
            acc2[j] = 1.0
        i += k


cdef void _binary_weighted(
    floating *Z,
    double *E,
    const floating *b,
    const floating *half_minus_y,
    const floating *s,
    double *acc,
    Py_ssize_t n_rows,
    Py_ssize_t n_cols,
) noexcept nogil:
    """As :func:`_binary_uniform` with per-entry weights ``s`` (n_rows, n_cols).

    Adds ``sum R`` to ``acc[0]`` and the weighted loss less its linear part,
    ``sum s (|z|/2 + log(1 + exp(-|z|)))``, to ``acc[1]``.
    """
    _shift_and_exp(Z, E, b, n_rows, n_cols)
    if floating is double:
        gd_weighted_rows_d(Z, E, half_minus_y, s, acc, acc + n_cols, n_rows, n_cols)
    else:
        gd_weighted_rows_f(Z, E, half_minus_y, s, acc, acc + n_cols, n_rows, n_cols)


cdef void _multinomial(
    floating *Z,
    const floating *b,
    const Py_ssize_t *y,
    const floating *s,
    const double *c,
    double *acc,
    Py_ssize_t n_rows,
    Py_ssize_t n_models,
    Py_ssize_t n_out,
) noexcept nogil:
    """Multinomial residuals ``s * (softmax(z) - Y)`` in place, ``z = Z + b``.

    ``Z`` (n_rows, n_models * n_out) C order, ``y`` the class indices,
    weights ``s`` (n_rows, n_models) or, when ``s`` is NULL, ``c[j]`` on
    every row. Adds the weighted loss ``log(sum exp z) - z_y`` to
    ``acc[:n_models]`` and ``sum R`` to ``acc[n_models:]`` (float64).
    logsumexp and softmax come from one ``exp``, after subtracting the max.
    """
    cdef Py_ssize_t i, j, k, yi
    cdef floating *z
    cdef const floating *bj
    cdef floating z_max, z_y
    cdef double total, w
    cdef double *loss = acc
    cdef double *db = acc + n_models
    for i in range(n_rows):
        yi = y[i]
        for j in range(n_models):
            z = Z + (i * n_models + j) * n_out
            bj = b + j * n_out
            z[0] += bj[0]
            z_max = z[0]
            for k in range(1, n_out):
                z[k] += bj[k]
                if z[k] > z_max:
                    z_max = z[k]
            z_y = z[yi] - z_max
            total = 0.0
            for k in range(n_out):
                z[k] = <floating>exp(z[k] - z_max)
                total += z[k]
            w = s[i * n_models + j] if s != NULL else c[j]
            loss[j] += w * (log(total) - z_y)
            for k in range(n_out):
                z[k] = <floating>((z[k] / total - (1.0 if k == yi else 0.0)) * w)
                db[j * n_out + k] += z[k]


# ------------------------------------------------------------- row blocks
cdef void _gather(
    const floating *X,
    Py_ssize_t row_stride,
    Py_ssize_t col_stride,
    const Py_ssize_t *rows,
    Py_ssize_t n_rows,
    Py_ssize_t n_cols,
    floating *out,
) noexcept nogil:
    """``out[:n_rows] = X[rows]`` (``out`` C order, X's strides in items)."""
    cdef Py_ssize_t i, j, line = 64 // sizeof(floating)
    cdef const floating *x_row
    for i in range(n_rows):
        x_row = X + rows[i] * row_stride
        if col_stride == 1:  # C-ordered X: a row is one copy
            # The rows are scattered in X: asking for the row 8 ahead now
            # hides its memory latency (the gather ran 1.5x slower without).
            if i + 8 < n_rows:
                j = 0
                while j < n_cols:
                    gd_prefetch(X + rows[i + 8] * row_stride + j)
                    j += line
            memcpy(out + i * n_cols, x_row, n_cols * sizeof(floating))
            continue
        for j in range(n_cols):
            out[i * n_cols + j] = x_row[j * col_stride]


cdef inline void _gemm(
    char transa,
    char transb,
    int m,
    int n,
    int k,
    const floating *A,
    int lda,
    const floating *B,
    int ldb,
    floating beta,
    floating *C,
    int ldc,
) noexcept nogil:
    """Fortran ``C := op(A) op(B) + beta C`` (``C`` m x n), d- or sgemm."""
    cdef floating alpha = 1.0
    if floating is double:
        dgemm(&transa, &transb, &m, &n, &k, &alpha, <double *>A, &lda,
              <double *>B, &ldb, &beta, C, &ldc)
    else:
        sgemm(&transa, &transb, &m, &n, &k, &alpha, <float *>A, &lda,
              <float *>B, &ldb, &beta, C, &ldc)


cdef void _run_chunk(
    const floating *X,
    bint x_c_order,
    Py_ssize_t ldx,
    Py_ssize_t n_features,
    const _Group *groups,
    const Py_ssize_t *block_group,
    const Py_ssize_t *block_lo,
    const Py_ssize_t *block_hi,
    Py_ssize_t first,
    Py_ssize_t last,
    floating *X_buf,
    floating *Z_buf,
    double *E_buf,
    floating *G,
    double *acc,
) noexcept nogil:
    """Blocks ``first:last`` of one thread; sums into its ``G`` and ``acc``.

    A C-ordered (rows, cols) array is the Fortran (cols, rows) matrix: with
    ``Z`` (k, width) and ``G`` (d, width) in C order, ``Z = X_blk @ W`` is
    Fortran ``Z' = W' X_blk'`` and ``G += X_blk' Z`` is ``G' += Z' X_blk``.
    """
    cdef Py_ssize_t bi, lo, k, m
    cdef const _Group *g
    cdef const floating *X_blk
    cdef const floating *s_blk
    cdef bint c_order
    cdef int ld, d = <int>n_features
    cdef char t_N = b"N"
    cdef char t_T = b"T"
    for bi in range(first, last):
        g = &groups[block_group[bi]]
        lo = block_lo[bi]
        k = block_hi[bi] - lo
        m = g.n_models
        if g.rows == NULL:  # contiguous rows: a view of X
            c_order, ld = x_c_order, <int>ldx
            X_blk = X + (g.start + lo) * (ldx if x_c_order else 1)
        else:  # the rows gathered, C order
            _gather(X, ldx if x_c_order else 1, 1 if x_c_order else ldx,
                    g.rows + lo, k, n_features, X_buf)
            c_order, ld, X_blk = True, d, X_buf
        # Z' (width x k) = W' (width x d) X_blk' (d x k)
        _gemm(t_N, t_N if c_order else t_T, <int>g.width, <int>k, d,
              <const floating *>g.W, <int>g.width, X_blk, ld, 0.0,
              Z_buf, <int>g.width)
        if g.kind == KIND_UNIFORM:
            _binary_uniform(Z_buf, E_buf, <const floating *>g.b,
                            <const floating *>g.y + lo, g.c,
                            acc + g.a_off, k, m)
        elif g.kind == KIND_MASKED:
            _binary_masked(Z_buf, E_buf, <const floating *>g.b,
                           <const floating *>g.y + lo,
                           <const floating *>g.s + lo * m, acc + g.a_off, k, m)
        elif g.kind == KIND_WEIGHTED:
            _binary_weighted(Z_buf, E_buf, <const floating *>g.b,
                             <const floating *>g.y + lo,
                             <const floating *>g.s + lo * m, acc + g.a_off, k, m)
        else:
            s_blk = NULL
            if g.s != NULL:
                s_blk = <const floating *>g.s + lo * m
            _multinomial(Z_buf, <const floating *>g.b,
                         <const Py_ssize_t *>g.y + lo, s_blk, g.c,
                         acc + g.a_off, k, m, g.width // m)
        # G' (width x d) += Z' (width x k) X_blk (k x d)
        _gemm(t_N, t_T if c_order else t_N, <int>g.width, d, <int>k,
              Z_buf, <int>g.width, X_blk, ld, 1.0, G + g.g_off, <int>g.width)
        if g.v_width:
            _held_out(g, X_blk, c_order, ld, d, lo, k, Z_buf, E_buf, acc)


cdef void _held_out(
    const _Group *g,
    const floating *X_blk,
    bint c_order,
    int ld,
    int d,
    Py_ssize_t lo,
    Py_ssize_t k,
    floating *Z_buf,
    double *E_buf,
    double *acc,
) noexcept nogil:
    """The held-out loss of the block's rows for the models ``v_W``.

    The block of X is still in cache; ``Z_buf`` is free again. The weighted
    kernels add the loss (binary: less its linear part) to ``acc`` as for
    training; the residuals they leave in ``Z_buf`` are not used.
    """
    cdef Py_ssize_t m = g.v_models
    cdef char t_N = b"N"
    cdef char t_T = b"T"
    _gemm(t_N, t_N if c_order else t_T, <int>g.v_width, <int>k, d,
          <const floating *>g.v_W, <int>g.v_width, X_blk, ld, 0.0,
          Z_buf, <int>g.v_width)
    if g.kind == KIND_MULTINOMIAL:
        _multinomial(Z_buf, <const floating *>g.v_b,
                     <const Py_ssize_t *>g.y + lo,
                     <const floating *>g.v_s + lo * m, NULL,
                     acc + g.v_a_off, k, m, g.v_width // m)
    else:
        _binary_weighted(Z_buf, E_buf, <const floating *>g.v_b,
                         <const floating *>g.y + lo,
                         <const floating *>g.v_s + lo * m,
                         acc + g.v_a_off, k, m)


def dense_rows_pass(
    const floating[:, :] X,
    list groups,
    const Py_ssize_t[::1] block_group,
    const Py_ssize_t[::1] block_lo,
    const Py_ssize_t[::1] block_hi,
    const Py_ssize_t[::1] chunk_start,
    floating[:, ::1] X_buf,
    floating[:, ::1] Z_buf,
    double[:, ::1] E_buf,
    floating[:, ::1] G,
    double[:, ::1] acc,
):
    """Loss and gradient sums of row groups of dense X, one chunk per thread.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
        C- or Fortran-ordered rows (a row's entries, or a column's, at
        consecutive addresses), as BLAS reads it.
    groups : list of tuple
        Per group ``(start, rows, kind, W, b, y, c, s)``, or with
        ``(W_v, b_v, s_v)`` appended (else None): its rows are
        ``X[start:start + n]`` (``rows`` None) or ``X[rows]`` (intp);
        ``kind`` 0 (binary uniform), 1 (masked), 2 (weighted), 3
        (multinomial); ``W`` (n_features, width) C order and ``b``
        (width,) the group's coefficients, X's dtype; ``y`` its rows'
        ``1/2 - y`` (X's dtype) or class indices (intp); ``c``
        (n_models,) float64 or None; ``s`` (n, n_models) X's dtype or None;
        ``W_v`` (n_features, width_v), ``b_v`` and ``s_v`` (n, models_v):
        the models that hold these rows out, whose held-out loss is summed
        (binary: as :func:`binary_weighted`; multinomial: the loss only).
    block_group, block_lo, block_hi : ndarray of intp
        Blocks: rows ``lo:hi`` of group ``block_group``.
    chunk_start : ndarray of intp of shape (n_chunks + 1,)
        Thread ``t`` runs blocks ``chunk_start[t]:chunk_start[t + 1]``.
    X_buf, Z_buf : ndarray of shape (n_chunks, ...), X's dtype
        Per-thread scratch: at least ``block_rows * n_features`` (for
        gathered rows) and ``block_rows * max width`` entries (held-out
        widths included).
    E_buf : ndarray of shape (n_chunks, ...), float64
        Per-thread scratch of ``Z_buf``'s size: ``exp(-|z|)``.
    G : ndarray of shape (n_chunks, sum of n_features * width), X's dtype
        Per-thread ``X_blk.T @ R`` of each group, (n_features, width) C
        order, one after the other; overwritten.
    acc : ndarray of shape (n_chunks, sum of 4 * n_models), float64
        Per-thread sums of each group, overwritten: binary ``(4, n_models)``
        as :func:`binary_uniform` leaves them (the running product back to
        1), multinomial ``(1 + n_out, n_models)``: loss, then ``sum R``;
        each followed by the group's held-out sums (binary ``(2, models_v)``:
        ``sum R``, the loss less its linear part; multinomial: the loss,
        then ``sum R``).
    """
    cdef Py_ssize_t n_groups = len(groups)
    cdef Py_ssize_t n_chunks = chunk_start.shape[0] - 1
    cdef Py_ssize_t d = X.shape[1], item = sizeof(floating)
    cdef Py_ssize_t gi, t, j, m, g_size = 0, a_size = 0, ldx
    cdef int n_threads
    cdef bint x_c_order
    cdef _Group *gs
    cdef const floating[:, ::1] W_v, Wv_v
    cdef const floating[::1] b_v, y_v, s_v, bv_v, sv_v
    cdef const Py_ssize_t[::1] rows_v, cls_v
    cdef const double[::1] c_v
    if X.strides[1] == item and X.strides[0] >= d * item:
        x_c_order, ldx = True, X.strides[0] // item
    elif X.strides[0] == item and X.strides[1] >= X.shape[0] * item:
        x_c_order, ldx = False, X.strides[1] // item
    else:
        raise ValueError("X must have C- or Fortran-ordered rows")
    gs = <_Group *>malloc(max(n_groups, 1) * sizeof(_Group))
    if gs == NULL:
        raise MemoryError()
    try:
        for gi, group in enumerate(groups):
            start, rows, kind, W, b, y, c, s = group[:8]
            W_held, b_held, s_held = group[8:] if len(group) > 8 else (None,) * 3
            W_v = W
            b_v = b
            gs[gi].kind = kind
            gs[gi].width = W_v.shape[1]
            gs[gi].n_models = W_v.shape[1] if kind != KIND_MULTINOMIAL else (
                len(c) if c is not None else s.shape[1]
            )
            gs[gi].W = &W_v[0, 0]
            gs[gi].b = &b_v[0]
            gs[gi].start = start
            gs[gi].rows = NULL
            if rows is not None:
                rows_v = rows
                gs[gi].rows = &rows_v[0]
            if kind == KIND_MULTINOMIAL:
                cls_v = y
                gs[gi].y = &cls_v[0]
            else:
                y_v = y
                gs[gi].y = &y_v[0]
            gs[gi].c = NULL
            if c is not None:
                c_v = c
                gs[gi].c = &c_v[0]
            gs[gi].s = NULL
            if s is not None:
                s_v = s.reshape(-1)
                gs[gi].s = &s_v[0]
            gs[gi].g_off, gs[gi].a_off = g_size, a_size
            g_size += d * gs[gi].width
            a_size += (4 * gs[gi].n_models if kind != KIND_MULTINOMIAL
                       else gs[gi].n_models + gs[gi].width)
            gs[gi].v_width = gs[gi].v_models = 0
            gs[gi].v_a_off = a_size
            if W_held is not None:
                Wv_v = W_held
                bv_v = b_held
                sv_v = s_held.reshape(-1)
                gs[gi].v_W, gs[gi].v_b, gs[gi].v_s = &Wv_v[0, 0], &bv_v[0], &sv_v[0]
                gs[gi].v_width = Wv_v.shape[1]
                gs[gi].v_models = s_held.shape[1]
                a_size += (2 * gs[gi].v_models if kind != KIND_MULTINOMIAL
                           else gs[gi].v_models + gs[gi].v_width)
        if G.shape[1] < g_size or acc.shape[1] < a_size or G.shape[0] < n_chunks:
            raise ValueError("G or acc too small")
        # At most OpenMP's limit (one thread in a child forked after this
        # process ran threads: see _threads.effective_n_threads).
        n_threads = min(n_chunks, effective_n_threads())
        with nogil:
            for t in prange(n_chunks, num_threads=n_threads, schedule="static",
                            chunksize=1):
                memset(&G[t, 0], 0, g_size * item)
                memset(&acc[t, 0], 0, a_size * sizeof(double))
                for gi in range(n_groups):  # running products start at 1
                    if gs[gi].kind != KIND_MULTINOMIAL:
                        m = gs[gi].n_models
                        for j in range(m):
                            acc[t, gs[gi].a_off + 2 * m + j] = 1.0
                _run_chunk(&X[0, 0], x_c_order, ldx, d, gs, &block_group[0],
                           &block_lo[0], &block_hi[0], chunk_start[t],
                           chunk_start[t + 1], &X_buf[t, 0], &Z_buf[t, 0],
                           &E_buf[t, 0], &G[t, 0], &acc[t, 0])
    finally:
        free(gs)


# ------------------------------------------------- one block, for tests
def binary_uniform(
    floating[:, ::1] Z,
    double[:, ::1] E,
    const floating[::1] b,
    const floating[::1] half_minus_y,
    const double[::1] c,
    double[:, ::1] acc,
):
    """Binary residuals of one block in place, weight ``c[j]`` on every row.

    Parameters
    ----------
    Z : ndarray of shape (n_rows, n_models), float32 or float64
        ``X_blk @ W`` in; ``R = c * (sigmoid(Z + b) - y)`` out.
    E : ndarray of shape (n_rows, n_models), float64
        Scratch.
    b : ndarray of shape (n_models,), Z's dtype
    half_minus_y : ndarray of shape (n_rows,), Z's dtype
    c : ndarray of shape (n_models,), float64
    acc : ndarray of shape (4, n_models), float64
        Sums added to (``acc[2]`` must hold 1): ``sum R``, ``sum |z|``, the
        running product (back to 1), the sum of logs of ``1 + exp(-|z|)``.
    """
    _check_block(Z.shape, E.shape, acc.shape, b.shape[0],
                 half_minus_y.shape[0], c.shape[0])
    _binary_uniform(&Z[0, 0], &E[0, 0], &b[0], &half_minus_y[0], &c[0],
                    &acc[0, 0], Z.shape[0], Z.shape[1])


def binary_masked(
    floating[:, ::1] Z,
    double[:, ::1] E,
    const floating[::1] b,
    const floating[::1] half_minus_y,
    const floating[:, ::1] s,
    double[:, ::1] acc,
):
    """As :func:`binary_uniform`, weights ``s`` (Z's shape) each 0 or ``c[j]``.

    Rows of weight 0 add nothing to ``acc``.
    """
    _check_block(Z.shape, E.shape, acc.shape, b.shape[0],
                 half_minus_y.shape[0], Z.shape[1])
    if s.shape[0] != Z.shape[0] or s.shape[1] != Z.shape[1]:
        raise ValueError("s must have Z's shape")
    _binary_masked(&Z[0, 0], &E[0, 0], &b[0], &half_minus_y[0], &s[0, 0],
                   &acc[0, 0], Z.shape[0], Z.shape[1])


def binary_weighted(
    floating[:, ::1] Z,
    double[:, ::1] E,
    const floating[::1] b,
    const floating[::1] half_minus_y,
    const floating[:, ::1] s,
    double[:, ::1] acc,
):
    """As :func:`binary_uniform` with any weights ``s`` (Z's shape).

    Adds ``sum R`` to ``acc[0]`` and ``sum s (|z|/2 + log(1 + exp(-|z|)))``
    to ``acc[1]``.
    """
    _check_block(Z.shape, E.shape, acc.shape, b.shape[0],
                 half_minus_y.shape[0], Z.shape[1])
    if s.shape[0] != Z.shape[0] or s.shape[1] != Z.shape[1]:
        raise ValueError("s must have Z's shape")
    _binary_weighted(&Z[0, 0], &E[0, 0], &b[0], &half_minus_y[0], &s[0, 0],
                     &acc[0, 0], Z.shape[0], Z.shape[1])


cdef _check_block(const Py_ssize_t *z_shape, const Py_ssize_t *e_shape,
                  const Py_ssize_t *acc_shape, Py_ssize_t n_b, Py_ssize_t n_y,
                  Py_ssize_t n_c):
    """Shapes of a block's arrays (out-of-range writes otherwise)."""
    cdef Py_ssize_t n = z_shape[0], m = z_shape[1]
    if n == 0 or m == 0:
        raise ValueError("empty block")
    if e_shape[0] != n or e_shape[1] != m or acc_shape[0] < 4 or acc_shape[1] != m:
        raise ValueError("E must have Z's shape and acc (4, n_models)")
    if n_b != m or n_y != n or n_c != m:
        raise ValueError("b, c: one per model; half_minus_y: one per row")


def gather_rows(const floating[:, :] X, const Py_ssize_t[::1] rows,
                floating[:, ::1] out):
    """``out[:len(rows)] = X[rows]`` (NumPy's take is ~2x slower here)."""
    cdef Py_ssize_t i
    if out.shape[0] < rows.shape[0] or out.shape[1] != X.shape[1]:
        raise ValueError("out too small")
    for i in range(rows.shape[0]):
        if not 0 <= rows[i] < X.shape[0]:
            raise IndexError(f"row {rows[i]} out of range")
    if rows.shape[0] == 0:
        return
    _gather(&X[0, 0], X.strides[0] // sizeof(floating),
            X.strides[1] // sizeof(floating), &rows[0], rows.shape[0],
            X.shape[1], &out[0, 0])


def exp_neg_array(const double[::1] a, double[::1] out):
    """``out = exp(-a)`` by the kernels' exp loop, for ``0 <= a <= 40``.

    (The kernels' input is ``min(|z|, 40)``: ``a`` is clamped so too.)
    """
    cdef Py_ssize_t t
    if out.shape[0] != a.shape[0]:
        raise ValueError("out must have a's shape")
    for t in range(a.shape[0]):
        out[t] = fabs(a[t]) if fabs(a[t]) < GD_EXP_CLAMP else GD_EXP_CLAMP
    gd_exp_neg_inplace(&out[0] if a.shape[0] else NULL, a.shape[0])
