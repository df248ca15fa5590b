"""Compiled kernels of the fused pass: one read of X per iteration.

One call runs the whole iteration's work on a range of rows, tile by tile
(:data:`TILE` rows, which stay in the L1/L2 cache): for the rows of a tile,
the raw predictions ``Z = X @ W + b``, the per-sample loss and residual
``R = s * dL/dZ`` (``exp`` computed once per sample and shared by the loss
and the sigmoid/softmax), and their share of ``G = X.T @ R``, the tile's
rows of X read from memory once and from cache the second time. Written with
numba (``nogil``: the threads of :class:`._data.FusedPass` run kernels in
parallel) because that fusion cannot be had from NumPy calls: per block, the
``X_b.T @ R_b`` product and the elementwise calls alone cost more than the
1.3 passes of the target (see ``benchmarks/README.md``).

With ``beta != 0`` (Nesterov's extrapolated point ``Z + beta (Z - Z_prev)``)
every kernel also returns the loss sum at that point, from the ``exp`` its
residual needs anyway: the step-size test of the accelerated solver compares
J there and at the next iterate.

Notation as in :mod:`._loss`, with ``K`` outputs (1 for binary, the number
of classes for multinomial). ``Wt`` is ``W.T`` (shape ``(K, d)``), so that
every product runs along a contiguous row; ``Gt`` likewise receives
``(X.T @ R).T``. Per-sample work is in float64; ``Z``, ``R`` and ``Gt`` are
in X's dtype (float32 X runs in float32), the loss sum and ``db`` in
float64.

The kernels know nothing of estimators: plain arrays in, plain arrays out.
"""

import math

import numba
import numpy as np

# Rows per tile for X not in C order (read column by column within a tile).
TILE = 256

# What each kernel computes per sample, ``mode``:
BINARY = 0  # R = s * (sigmoid(z) - y), value = sum s * L(z, y)
MULTINOMIAL = 1  # R = s * (softmax(Z) - Y), value = sum s * L(Z, y)
WEIGHTED = 2  # R = s * Z (the weighted Gram product), value = 0

# Sums may be reordered (so the dot products vectorize) and multiply-adds
# fused; inf and NaN keep their meaning (a divergent fit must show them).
_FASTMATH = {"reassoc", "contract", "arcp", "nsz"}


def _jit(fn=None, **options):
    if fn is None:
        return lambda fn: _jit(fn, **options)
    return numba.njit(nogil=True, fastmath=_FASTMATH, cache=True, **options)(fn)


# ---------------------------------------------------------- per sample
# With uniform weights, the binary loss sum takes the log of a product of
# ``1 + e`` (each in [1, 2]) every this many samples: one log per chunk
# instead of one per sample, the product never above 2^512.
_LOG_CHUNK = 512


@_jit(inline="always")
def _fold_log(log_sum, product, count, factor):
    """Multiply ``factor`` into the running ``product`` of ``count`` factors;
    every :data:`_LOG_CHUNK` of them, move its log into ``log_sum``."""
    product *= factor
    count += 1
    if count == _LOG_CHUNK:
        return log_sum + math.log(product), 1.0, 0
    return log_sum, product, count


@_jit(inline="always")
def _log_total(s, uniform, log_sum, product):
    """The deferred ``sum_i s_i log(1 + e_i)`` of the uniform-weight case."""
    if not uniform or s.shape[0] == 0:
        return 0.0
    return float(s[0]) * (log_sum + math.log(product))


@_jit(inline="always")
def _binary_loss(z, e, yi, s, uniform, zero, one):
    """``(loss, factor)`` of one binary sample, ``e = exp(-|z|)``.

    ``loss`` (float64) is ``s * L(z, y)`` without its ``s * log(1 + e)``
    term when ``uniform``; that term's ``1 + e`` is then returned as
    ``factor`` (else 1), for the caller to multiply up and take one log per
    chunk.
    """
    # log(1 + e^z) - y z = max(z, 0) + log(1 + e^-|z|) - y z
    loss = float(s * (max(z, zero) - yi * z))
    if uniform:
        return loss, float(one + e)
    return loss + float(s * math.log1p(e)), 1.0


@_jit(inline="always")
def _binary_sample(z, z_prev, y, s, uniform, c):
    """One binary sample: ``(loss, factor, loss_y, factor_y, r)``.

    ``loss, factor`` at ``z`` as :func:`_binary_loss` returns them;
    ``r = s * (sigmoid(z') - y)`` at ``z' = z + beta * (z - z_prev)`` and
    ``loss_y, factor_y`` there too (those at ``z`` when ``beta == 0``).
    ``c`` holds ``(0, 1, beta)`` in X's dtype: the arithmetic runs in X's
    dtype (float32 ``exp`` for float32 X).
    """
    z_y = z
    if c[2] != c[0]:
        z_y = z + c[2] * (z - z_prev)
    return _binary_sample_at(z, z_y, y, s, uniform, c)


@_jit(inline="always")
def _binary_sample_at(z, z_y, y, s, uniform, c):
    """:func:`_binary_sample` with the point of the residual given: ``z_y``
    (read only when ``beta = c[2] != 0``)."""
    zero, one, beta = c[0], c[1], c[2]
    # y is 0 or 1, in X's dtype or uint8 (the fit's, an eighth of float64's
    # memory): converted, not tested; a test and select on uint8 labels cost
    # 4-6% of the iteration on D1 and D3.
    yi = zero + y
    e = math.exp(-abs(z))
    loss, factor = _binary_loss(z, e, yi, s, uniform, zero, one)
    loss_y, factor_y = loss, factor
    if beta != zero:
        z = z_y
        e = math.exp(-abs(z))
        loss_y, factor_y = _binary_loss(z, e, yi, s, uniform, zero, one)
    # sigmoid(z) = 1 / (1 + e) for z >= 0, e / (1 + e) for z < 0: both
    # accurate to one rounding, relative.
    p = (one if z >= zero else e) / (one + e)
    return loss, factor, loss_y, factor_y, s * (p - yi)


@_jit(inline="always")
def _binary_totals(s, uniform, beta, value, log_sum, product, value_y, log_y, prod_y):
    """``(value, value_y)`` of the binary hot loops, deferred logs added."""
    value += _log_total(s, uniform, log_sum, product)
    if beta == 0.0:
        return value, value
    return value, value_y + _log_total(s, uniform, log_y, prod_y)


@_jit(inline="always")
def _totals(value, value_y, s, uniform, beta, logs):
    """``(value, value_y)`` with the deferred logs of :func:`_row_terms`."""
    return _binary_totals(
        s, uniform, beta, value, logs[0], logs[1], value_y, logs[3], logs[4]
    )


@_jit(inline="always")
def _constants(like, beta):
    """``(0, 1, beta)`` in the dtype of the array ``like``."""
    c = np.empty(3, like.dtype)
    c[0], c[1], c[2] = 0, 1, beta
    return c


@_jit(inline="always")  # inlined where called: no call with 11 arguments per row
def _row_terms(mode, Z, Z_prev, beta, y, s, uniform, i, r, db, logs, c):
    """Sample ``i``: its residual into ``r`` (K,), added to ``db``.

    The residual is taken at ``Z + beta * (Z - Z_prev)`` when ``beta != 0``
    (Nesterov's extrapolated point), the loss at ``Z`` and there. Returns
    the sample's weighted losses ``(at Z, at the extrapolated point)``,
    except, when ``uniform`` (all ``s`` equal) in binary mode, their
    ``log(1 + e^-|z|)`` parts: those go as factors into the running products
    ``logs[1]`` and ``logs[4]``, whose logs are taken into ``logs[0]`` and
    ``logs[3]`` every :data:`_LOG_CHUNK` samples (see :func:`_log_total`).
    """
    K = Z.shape[1]
    si = float(s[i])
    if mode == BINARY:
        loss, factor, loss_y, factor_y, r[0] = _binary_sample(
            Z[i, 0], Z_prev[i, 0], y[i], s[i], uniform, c
        )
        if uniform:
            logs[0], logs[1], logs[2] = _fold_log(logs[0], logs[1], logs[2], factor)
            if beta != 0.0:
                logs[3], logs[4], logs[5] = _fold_log(
                    logs[3], logs[4], logs[5], factor_y
                )
        db[0] += r[0]
        return loss, loss_y
    if mode == WEIGHTED:
        for k in range(K):
            r[k] = si * Z[i, k]
            db[k] += r[k]
        return 0.0, 0.0
    # MULTINOMIAL: loss logsumexp(Z_i) - Z_ic, residual s (softmax - onehot)
    c = int(y[i])
    z_max = float(Z[i, 0])
    for k in range(1, K):
        z_max = max(z_max, float(Z[i, k]))
    total = 0.0
    for k in range(K):
        e = math.exp(float(Z[i, k]) - z_max)
        r[k] = e
        total += e
    loss = si * (z_max + math.log(total) - float(Z[i, c]))
    loss_y = loss
    if beta != 0.0:  # softmax (and loss) at the extrapolated point instead
        for k in range(K):
            r[k] = Z[i, k] + beta * (Z[i, k] - Z_prev[i, k])
        z_c = float(r[c])
        z_max = float(r[0])
        for k in range(1, K):
            z_max = max(z_max, float(r[k]))
        total = 0.0
        for k in range(K):
            e = math.exp(float(r[k]) - z_max)
            r[k] = e
            total += e
        loss_y = si * (z_max + math.log(total) - z_c)
    scale = si / total
    for k in range(K):
        r[k] = scale * r[k] - (si if k == c else 0.0)
        db[k] += r[k]
    return loss, loss_y


# ------------------------------------------------------------- dense X
@_jit
def _dense_binary_rows(X, w, b, y, s, uniform, Z, Z_prev, beta, g, db):
    """:func:`dense_pass` for binary mode and C-ordered X: the hot loop.

    Two rows at a time: two independent dot products (not one chain of
    dependent additions), and one pass over ``g`` for both updates (two
    measured faster than one or four on D1, float64 and float32).
    """
    m, d = X.shape
    c = _constants(X, beta)
    r2 = np.empty(2, X.dtype)  # residuals in X's dtype: float32 lanes
    value = value_y = 0.0
    r_sum = 0.0
    # The running logs of _fold_log, at Z and at the extrapolated point, in
    # scalars: kept in registers (an array of them was 13% slower on D1).
    log_sum = log_sum_y = 0.0
    product = product_y = 1.0
    count = count_y = 0
    m2 = m - m % 2
    for i in range(0, m2, 2):
        a0 = a1 = b
        for j in range(d):
            wj = w[j]
            a0 += X[i, j] * wj
            a1 += X[i + 1, j] * wj
        Z[i, 0], Z[i + 1, 0] = a0, a1
        for q in range(2):
            loss, factor, loss_y, factor_y, r = _binary_sample(
                Z[i + q, 0], Z_prev[i + q, 0], y[i + q], s[i + q], uniform, c
            )
            value += loss
            log_sum, product, count = _fold_log(log_sum, product, count, factor)
            if beta != 0.0:
                value_y += loss_y
                log_sum_y, product_y, count_y = _fold_log(
                    log_sum_y, product_y, count_y, factor_y
                )
            r_sum += r
            r2[q] = r
        r0, r1 = r2[0], r2[1]
        for j in range(d):
            g[j] += r0 * X[i, j] + r1 * X[i + 1, j]
    for i in range(m2, m):
        acc = b
        for j in range(d):
            acc += X[i, j] * w[j]
        Z[i, 0] = acc
        loss, factor, loss_y, factor_y, r = _binary_sample(
            acc, Z_prev[i, 0], y[i], s[i], uniform, c
        )
        value += loss
        log_sum, product, count = _fold_log(log_sum, product, count, factor)
        if beta != 0.0:
            value_y += loss_y
            log_sum_y, product_y, count_y = _fold_log(
                log_sum_y, product_y, count_y, factor_y
            )
        r_sum += r
        r2[0] = r
        r0 = r2[0]
        for j in range(d):
            g[j] += r0 * X[i, j]
    db[0] = r_sum
    return _binary_totals(
        s, uniform, beta, value, log_sum, product, value_y, log_sum_y, product_y
    )


@_jit
def dense_pass(mode, X, Wt, b, y, s, uniform, Z, Z_prev, beta, R, Gt, db):
    """Fused pass over the rows of dense ``X`` (any strides).

    Rows stored contiguously (C order) are done one at a time: the row's
    ``K`` dot products, its residual, and its ``K`` updates of ``Gt``, with
    the row in L1 between the two. Other layouts go by tiles of
    ``R.shape[0]`` rows, column by column.

    Parameters
    ----------
    mode : int
        :data:`BINARY`, :data:`MULTINOMIAL` or :data:`WEIGHTED`.
    X : ndarray of shape (m, d)
    Wt : ndarray of shape (K, d), X's dtype
    b : ndarray of shape (K,), X's dtype
    y : ndarray of shape (m,)
        Binary: labels, positive class where ``y > 0``. Multinomial: class
        indices. Unused for ``WEIGHTED``.
    s : ndarray of shape (m,)
        Normalised sample weights.
    uniform : bool
        Whether all of ``s`` are equal (the loss sum then takes one log per
        :data:`_LOG_CHUNK` samples).
    Z : ndarray of shape (m, K)
        Output: ``X @ Wt.T + b``.
    Z_prev : ndarray of shape (m, K)
        Raw predictions of the previous point (used when ``beta != 0``).
    beta : float
    R : ndarray of shape (tile, K)
        Scratch.
    Gt : ndarray of shape (K, d)
        Output: ``(X.T @ R).T``.
    db : ndarray of shape (K,), float64
        Output: ``R.sum(axis=0)``.

    Returns
    -------
    value, value_y : float
        Weighted loss sums at ``Z`` and at ``Z + beta * (Z - Z_prev)``.
    """
    m, d = X.shape
    K = Wt.shape[0]
    Gt[:] = 0
    db[:] = 0.0
    logs = np.array([0.0, 1.0, 0.0, 0.0, 1.0, 0.0])
    c = _constants(Z, beta)
    value = value_y = 0.0
    if mode == BINARY and X.strides[1] == X.itemsize:
        return _dense_binary_rows(
            X, Wt[0], b[0], y, s, uniform, Z, Z_prev, beta, Gt[0], db
        )
    if X.strides[1] == X.itemsize:  # C order: row by row
        r = R[0]
        for i in range(m):
            for k in range(K):
                acc = b[k]
                for j in range(d):
                    acc += X[i, j] * Wt[k, j]
                Z[i, k] = acc
            if mode == WEIGHTED:  # written out: the Lanczos passes' hot loop
                si = s[i]
                for k in range(K):
                    r[k] = si * Z[i, k]
                    db[k] += r[k]
            else:
                loss, loss_y = _row_terms(
                    mode, Z, Z_prev, beta, y, s, uniform, i, r, db, logs, c
                )
                value += loss
                value_y += loss_y
            for k in range(K):
                rk = r[k]
                for j in range(d):
                    Gt[k, j] += rk * X[i, j]
        return _totals(value, value_y, s, uniform, beta, logs)
    tile = R.shape[0]
    for t0 in range(0, m, tile):  # other layouts: column by column
        t1 = min(t0 + tile, m)
        for i in range(t0, t1):
            for k in range(K):
                Z[i, k] = b[k]
        for j in range(d):
            for k in range(K):
                w = Wt[k, j]
                for i in range(t0, t1):
                    Z[i, k] += X[i, j] * w
        for i in range(t0, t1):
            r = R[i - t0]
            loss, loss_y = _row_terms(
                mode, Z, Z_prev, beta, y, s, uniform, i, r, db, logs, c
            )
            value += loss
            value_y += loss_y
        for j in range(d):
            for k in range(K):
                acc = Gt[k, j] * 0
                for i in range(t0, t1):
                    acc += R[i - t0, k] * X[i, j]
                Gt[k, j] += acc
    return _totals(value, value_y, s, uniform, beta, logs)


# --------------------------------------------------------------- CSR X
@_jit
def csr_binary_pass(
    data, indices, indptr, W, b, b_y, y, s, uniform, Z, Z_prev, beta, R, Gt, db
):
    """:func:`csr_pass` for binary mode: the sparse hot loop.

    ``W`` has shape (d, 1): the coefficients, or (d, 2): those and, in its
    second column, those of the point where the residual is taken (with
    intercept ``b_y``). With ``beta != 0`` the residual is taken at
    ``X @ W[:, 1] + b_y`` when ``W`` has two columns (each row's two dot
    products from one read of its entries, the two coefficients side by
    side in memory: no n-sized state), else at ``Z + beta * (Z - Z_prev)``.
    ``Z`` receives ``X @ W[:, 0] + b`` if it has rows.

    By tiles of ``R.shape[0]`` rows: first their dot products and residuals,
    then their scatters into ``Gt`` (the tile's entries still in cache). Two
    phases rather than one row at a time, so that the rows' chains of
    dependent loads (gather, exp, scatter) overlap: 2.5 times faster on D3.
    """
    m = indptr.shape[0] - 1
    tile = R.shape[0]
    g = Gt[0]
    g[:] = 0
    c = _constants(R, beta)
    store = Z.shape[0] > 0
    direct = beta != 0.0 and W.shape[1] == 2
    value = value_y = 0.0
    r_sum = 0.0
    log_sum = log_sum_y = 0.0  # in scalars, as in _dense_binary_rows
    product = product_y = 1.0
    count = count_y = 0
    for t0 in range(0, m, tile):
        t1 = min(t0 + tile, m)
        for i in range(t0, t1):
            acc = b
            if direct:
                acc_y = b_y
                for p in range(indptr[i], indptr[i + 1]):
                    v, j = data[p], indices[p]
                    acc += v * W[j, 0]
                    acc_y += v * W[j, 1]
            else:
                for p in range(indptr[i], indptr[i + 1]):
                    acc += data[p] * W[indices[p], 0]
                acc_y = acc
                if beta != 0.0:
                    acc_y = acc + c[2] * (acc - Z_prev[i, 0])
            if store:
                Z[i, 0] = acc
            loss, factor, loss_y, factor_y, ri = _binary_sample_at(
                acc, acc_y, y[i], s[i], uniform, c
            )
            value += loss
            log_sum, product, count = _fold_log(log_sum, product, count, factor)
            if beta != 0.0:
                value_y += loss_y
                log_sum_y, product_y, count_y = _fold_log(
                    log_sum_y, product_y, count_y, factor_y
                )
            r_sum += ri
            R[i - t0, 0] = ri
        for i in range(t0, t1):
            ri = R[i - t0, 0]
            for p in range(indptr[i], indptr[i + 1]):
                g[indices[p]] += ri * data[p]
    db[0] = r_sum
    return _binary_totals(
        s, uniform, beta, value, log_sum, product, value_y, log_sum_y, product_y
    )


@_jit(inline="always")
def _csr_row_dot(data, indices, p0, p1, Wt, k, acc):
    """``acc + x_i @ Wt[k]``, the row's entries at ``p0:p1``."""
    for p in range(p0, p1):
        acc += data[p] * Wt[k, indices[p]]
    return acc


@_jit(inline="always")
def _csr_row_scatter(data, indices, p0, p1, r, Gt):
    """``Gt[k] += r[k] * x_i`` for every output ``k``."""
    for k in range(Gt.shape[0]):
        rk = r[k]
        for p in range(p0, p1):
            Gt[k, indices[p]] += rk * data[p]


@_jit
def csr_pass(
    mode, data, indices, indptr, Wt, b, y, s, uniform, Z, Z_prev, beta, R, Gt, db
):
    """:func:`dense_pass` for the CSR matrix ``(data, indices, indptr)``,
    modes other than binary (see :func:`csr_binary_pass`).

    Row by row. ``indptr`` may start at any offset (rows of a larger
    matrix). Weighted mode needs ``Z`` only as an output, which may then
    have no rows.
    """
    m = indptr.shape[0] - 1
    K = Wt.shape[0]
    Gt[:] = 0
    db[:] = 0.0
    r = R[0]
    if mode == WEIGHTED:  # the Lanczos passes: R = s * Z, row by row
        store = Z.shape[0] > 0
        for i in range(m):
            p0, p1 = indptr[i], indptr[i + 1]
            for k in range(K):
                acc = _csr_row_dot(data, indices, p0, p1, Wt, k, b[k])
                if store:
                    Z[i, k] = acc
                r[k] = s[i] * acc
                db[k] += r[k]
            _csr_row_scatter(data, indices, p0, p1, r, Gt)
        return 0.0, 0.0
    logs = np.array([0.0, 1.0, 0.0, 0.0, 1.0, 0.0])
    c = _constants(Z, beta)
    value = value_y = 0.0
    for i in range(m):
        p0, p1 = indptr[i], indptr[i + 1]
        for k in range(K):
            Z[i, k] = _csr_row_dot(data, indices, p0, p1, Wt, k, b[k])
        loss, loss_y = _row_terms(
            mode, Z, Z_prev, beta, y, s, uniform, i, r, db, logs, c
        )
        value += loss
        value_y += loss_y
        _csr_row_scatter(data, indices, p0, p1, r, Gt)
    return _totals(value, value_y, s, uniform, beta, logs)


# ------------------------------------------- any X: products done outside
@_jit
def sample_pass(mode, Z, Z_prev, beta, y, s, uniform, R, db):
    """Per-sample work on all rows of ``Z`` (given): fills ``R`` (m, K).

    For X whose rows cannot be streamed (CSC): the caller computes
    ``Z = X @ W + b`` before and ``X.T @ R`` after.
    """
    db[:] = 0.0
    logs = np.array([0.0, 1.0, 0.0, 0.0, 1.0, 0.0])
    c = _constants(Z, beta)
    value = value_y = 0.0
    for i in range(Z.shape[0]):
        loss, loss_y = _row_terms(
            mode, Z, Z_prev, beta, y, s, uniform, i, R[i], db, logs, c
        )
        value += loss
        value_y += loss_y
    return _totals(value, value_y, s, uniform, beta, logs)


def empty_labels():
    """A placeholder ``y`` for :data:`WEIGHTED` passes."""
    return np.zeros(0, dtype=np.intp)


# ------------------------------------------------------- column moments
@_jit
def column_moments(X, s, mean, m2):
    """Weighted mean and centred sum of squares of the columns of dense X.

    Tile by tile (:data:`TILE` rows, in cache): the tile's weighted mean, then
    its centred squares (two passes over the tile, one read of X from
    memory), merged into the running ``mean`` and ``m2`` with the pairwise
    update of Chan, Golub & LeVeque (1979): as accurate as the two-pass
    formula, whatever the columns' offsets.

    Parameters
    ----------
    X : ndarray of shape (m, d)
        Any strides.
    s : ndarray of shape (m,), float64
        Non-negative weights.
    mean, m2 : ndarray of shape (d,), float64
        Outputs (overwritten): ``sum_i s_i x_ij / W`` and
        ``sum_i s_i (x_ij - mean_j)^2``.

    Returns
    -------
    W : float
        ``sum_i s_i`` (0: ``mean`` and ``m2`` are zero).
    """
    m, d = X.shape
    mean[:] = 0.0
    m2[:] = 0.0
    t_mean = np.empty(d)
    t_m2 = np.empty(d)
    by_row = X.strides[1] == X.itemsize
    W = 0.0
    for t0 in range(0, m, TILE):
        t1 = min(t0 + TILE, m)
        w_t = 0.0
        for i in range(t0, t1):
            w_t += s[i]
        if w_t == 0.0:
            continue
        t_mean[:] = 0.0
        t_m2[:] = 0.0
        if by_row:  # C order: along each row, so the columns vectorize
            for i in range(t0, t1):
                si = s[i]
                for j in range(d):
                    t_mean[j] += si * X[i, j]
            for j in range(d):
                t_mean[j] /= w_t
            for i in range(t0, t1):
                si = s[i]
                for j in range(d):
                    v = X[i, j] - t_mean[j]
                    t_m2[j] += si * v * v
        else:  # other layouts: down each column of the tile
            for j in range(d):
                acc = 0.0
                for i in range(t0, t1):
                    acc += s[i] * X[i, j]
                mu = acc / w_t
                acc = 0.0
                for i in range(t0, t1):
                    v = X[i, j] - mu
                    acc += s[i] * v * v
                t_mean[j], t_m2[j] = mu, acc
        W = merge_moments(W, mean, m2, w_t, t_mean, t_m2)
    return W


@_jit(inline="always")
def merge_moments(W, mean, m2, W_b, mean_b, m2_b):
    """Merge the moments of other rows into ``(W, mean, m2)``, in place.

    The pairwise update of Chan, Golub & LeVeque (1979): ``mean`` and ``m2``
    (the centred sum of squares) of rows of total weight ``W`` absorb those
    of rows of weight ``W_b``. Returns the total weight.
    """
    if W_b == 0.0:
        return W
    W_new = W + W_b
    f = W_b / W_new
    for j in range(mean.shape[0]):
        delta = mean_b[j] - mean[j]
        mean[j] += delta * f
        m2[j] += m2_b[j] + delta * delta * W * f
    return W_new
