"""Gradient descent for many logistic models on the same rows, all at once.

The models are the columns of one coefficient array ``theta`` of shape
``(n_dof, n_models, n_out)``: for model ``j``, ``theta[:, j, :]`` is laid out
as in :mod:`._objective` (rows ``0 .. n_features - 1`` the weights ``w``, the
last row the intercept ``b`` when ``fit_intercept``; ``n_out = 1`` for
binary, ``n_classes`` for multinomial). One iteration of all of them costs
two matrix products over X, whatever the number of models::

    Z = X @ W + b           (n_samples, n_models * n_out)
    G = X.T @ R + l2 * W    R = s * dL/dZ, the weighted residuals

For dense X both run block of rows by block of rows (each block of X is read
from memory once; its ``Z`` is turned into ``R`` in place, in cache, by a
compiled kernel that computes ``exp`` once per entry, vectorized, shared by
the loss and the sigmoid), and the blocks are shared among threads.

Which rows a model trains on is said by its column of ``weights``: the
normalised sample weights ``s_ij / S_j`` of its training rows, zero on the
rows it must not see (a cross-validation fold's held-out rows), so no fold
copies X. For large dense X the rows are grouped by the set of models that
train on them (with k folds: k groups, each trained on by (k-1)/k of the
models), and each group's products and per-entry work cover those models
only: a k-th less work, the group's rows gathered block by block.

Each model has its own step ``alpha_j``, penalty ``l2_j, l1_j``
(``1/(C S_j)`` with its own ``C`` and training weight sum ``S_j``), and stops
on its own: when its gradient max-norm reaches ``tol``, or when ``J`` rises
above its starting value (divergence). A stopped model leaves the batch.

Per model this is exactly :func:`._solvers.gradient_descent` with a fixed
step and no preconditioner (the lecture's update), so each column's iterates,
cost history and iteration count are those of ``GDLogisticRegression`` fitted
on that model's rows alone, up to floating-point summation order.
"""

import copy
import functools
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from itertools import pairwise

import numba
import numpy as np
import scipy.sparse as sp
from numba import types
from numba.extending import intrinsic

from ._loss import CURVATURE_BOUND

# Same rule as _solvers: J has risen when it exceeds its reference by more
# than rounding.
_RISE_RTOL = 1e-12
# Rows per block: a block of X (100 features: 1.6 MiB), its Z for 40 models
# (640 KiB) and one scratch array of Z's size stay in cache (1024 and 4096
# measured no faster on D1).
_BLOCK_ROWS = 2048
# Factors in [1, 2] multiplied before one log (see _weighted_log1p and
# _binary_uniform).
_PRODUCT_ROWS = 512
# Below this many multiply-adds per product, rows are not grouped.
_SMALL_PRODUCT = 10_000_000
# Rows are grouped by the set of models that train on them (see _row_groups)
# unless there are more such sets than this.
_MAX_GROUPS = 64


# ------------------------------------------------------- compiled kernels
# ``exp(-a)`` written out so that LLVM vectorizes it (it does not vectorize
# a call to libm's exp): a = n ln2 + r with |r| <= ln2/2 (ln2 in two parts,
# Cody and Waite), exp(-r) by its Taylor polynomial of degree 13 (remainder
# < 1e-17), 2^-n built in the exponent bits. Relative error ~2e-16.
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
_2_POW_52 = 4503599627370496.0
# 1 + exp(-a) rounds to 1 for a > 37.5 in float64: a larger a changes nothing.
_EXP_CLAMP = 40.0
# No division-by-zero checks (error_model="numpy") and fused multiply-adds
# only: no reordering, and inf and NaN keep their meaning (a divergent model
# must show them in J).
_JIT = dict(nogil=True, cache=True, error_model="numpy", fastmath={"contract"})


@intrinsic
def _float_bits(typingctx, x):
    """The bits of a float64 as an int64 (a no-op the vectorizer keeps)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return types.int64(types.float64), codegen


@intrinsic
def _bits_float(typingctx, i):
    """The float64 whose bits are the int64 ``i``."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return types.float64(types.int64), codegen


@numba.njit(inline="always", **_JIT)
def _exp_neg(a):
    """``exp(-a)`` for ``0 <= a <= _EXP_CLAMP``, vectorizable."""
    n = np.floor(a * _INV_LN2 + 0.5)
    x = (n * _LN2_HI - a) + n * _LN2_LO  # -r
    p = 1.0 / 6227020800.0  # 1/13!
    p = p * x + 1.0 / 479001600.0
    p = p * x + 1.0 / 39916800.0
    p = p * x + 1.0 / 3628800.0
    p = p * x + 1.0 / 362880.0
    p = p * x + 1.0 / 40320.0
    p = p * x + 1.0 / 5040.0
    p = p * x + 1.0 / 720.0
    p = p * x + 1.0 / 120.0
    p = p * x + 1.0 / 24.0
    p = p * x + 1.0 / 6.0
    p = p * x + 0.5
    p = p * x + 1.0
    p = p * x + 1.0
    # 2^-n: the integer 1023 - n sits in the low bits of (1023 - n) + 2^52;
    # shifted into the exponent field it is the float 2^-n.
    return p * _bits_float(_float_bits((1023.0 - n) + _2_POW_52) << 52)


@numba.njit(inline="always", **_JIT)
def _shift_and_exp(Z, b, Z_flat, E_flat):
    """``Z += b``, then ``E := exp(-|Z|)`` (``*_flat``: 1-d views of both).

    The exp runs as one flat loop over all entries: vectorized as a loop over
    a row of ``n_models`` entries, the last ``n_models % 16`` of every row
    would run one by one, each ~4x slower than the rest.
    """
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            Z[i, j] += b[j]
    for t in range(Z_flat.size):
        a = abs(Z_flat[t])
        E_flat[t] = _exp_neg(a if a < _EXP_CLAMP else _EXP_CLAMP)


@numba.njit(**_JIT)
def _binary_uniform(Z, E, b, half_minus_y, c, acc):
    """Binary residuals in place, weights ``c[j]`` on every row.

    ``Z`` (rows, models), C-contiguous, holds ``X_blk @ W``; it becomes
    ``R = c * (sigmoid(z) - y)`` with ``z = Z + b``. Adds to ``acc`` (4,
    models), float64: ``sum R``, ``sum |z|``, and the log of the product of
    the ``1 + exp(-|z|)`` (running product in ``acc[2]``, its log added to
    ``acc[3]`` every ``_PRODUCT_ROWS`` rows and at the end: factors in
    [1, 2], so the product stays below 2^512). The loss of the block, less
    its linear part, is ``c * (acc[1] / 2 + acc[3])``.
    """
    n_rows, n_cols = Z.shape
    _shift_and_exp(Z, b, Z.reshape(-1), E.reshape(-1))
    for i in range(n_rows):
        h = half_minus_y[i]
        e = E[i]
        for j in range(n_cols):
            z = Z[i, j]
            a = abs(z)
            d = 1.0 + e[j]
            r = (math.copysign(1.0 / d - 0.5, z) + h) * c[j]
            Z[i, j] = r
            acc[0, j] += r
            acc[1, j] += a
            acc[2, j] *= d
        if (i + 1) % _PRODUCT_ROWS == 0 or i + 1 == n_rows:
            for j in range(n_cols):
                acc[3, j] += math.log(acc[2, j])
                acc[2, j] = 1.0


# Not folded into _binary_uniform's caller as ``s = broadcast_to(c)``: the
# stride-0 weights measured 1.5x slower per block than the two kernels.
@numba.njit(**_JIT)
def _binary_masked(Z, E, b, half_minus_y, s, acc):
    """As :func:`_binary_uniform`, with weights ``s`` (rows, models) each 0
    or its column's one nonzero weight: rows of weight 0 add nothing to
    ``acc``, and the block's loss is again ``c * (acc[1] / 2 + acc[3])``.
    """
    n_rows, n_cols = Z.shape
    _shift_and_exp(Z, b, Z.reshape(-1), E.reshape(-1))
    for i in range(n_rows):
        h = half_minus_y[i]
        e = E[i]
        for j in range(n_cols):
            z = Z[i, j]
            a = abs(z)
            d = 1.0 + e[j]
            w = s[i, j]
            r = (math.copysign(1.0 / d - 0.5, z) + h) * w
            Z[i, j] = r
            acc[0, j] += r
            acc[1, j] += a if w > 0 else 0.0
            acc[2, j] *= d if w > 0 else 1.0
        if (i + 1) % _PRODUCT_ROWS == 0 or i + 1 == n_rows:
            for j in range(n_cols):
                acc[3, j] += math.log(acc[2, j])
                acc[2, j] = 1.0


@numba.njit(**_JIT)
def _binary_weighted(Z, E, b, half_minus_y, s, acc):
    """As :func:`_binary_uniform` with per-entry weights ``s`` (rows, models).

    Adds ``sum R`` to ``acc[0]`` and the weighted loss less its linear part,
    ``sum s (|z|/2 + log(1 + exp(-|z|)))``, to ``acc[1]``.
    """
    n_rows, n_cols = Z.shape
    _shift_and_exp(Z, b, Z.reshape(-1), E.reshape(-1))
    for i in range(n_rows):
        h = half_minus_y[i]
        e = E[i]
        for j in range(n_cols):
            z = Z[i, j]
            a = abs(z)
            d = 1.0 + e[j]
            w = s[i, j]
            r = (math.copysign(1.0 / d - 0.5, z) + h) * w
            Z[i, j] = r
            acc[0, j] += r
            acc[1, j] += w * (0.5 * a + math.log(d))


@numba.njit(**_JIT)
def _gather_rows(X, rows, out):
    """``out[:len(rows)] = X[rows]`` (NumPy's take is ~2x slower here)."""
    for i in range(rows.size):
        r = rows[i]
        for j in range(X.shape[1]):
            out[i, j] = X[r, j]


# ------------------------------------------------------------- row groups
@dataclass
class _RowGroup:
    """Rows of dense X that the same models train on.

    Attributes
    ----------
    rows : slice or ndarray of int
        The rows (a slice when contiguous: X is then read as a view).
    cols : ndarray of int
        The models training on them (all others give them weight 0).
    y : ndarray of shape (n_rows,)
        Their labels: ``1/2 - y`` (binary), class indices (multinomial).
    c : ndarray of shape (n_cols,) or None
        Each model's one nonzero weight, when it has one (no sample or class
        weights, float64 products: see :func:`_binary_masked`); else None.
    s : ndarray of shape (n_rows, n_cols) or None
        The weights; None when they are ``c`` on every row.
    """

    rows: object
    cols: np.ndarray
    y: np.ndarray
    c: object
    s: object

    @property
    def n_rows(self):
        if isinstance(self.rows, slice):
            return self.rows.stop - self.rows.start
        return self.rows.size


def _row_groups(weights, labels, *, n_features):
    """Dense X's rows grouped by the set of models training on them.

    With k-fold splits, a row in split f's test part is trained on by every
    model but split f's: computing ``Z`` and ``R`` on it for these models
    only saves ``1/k`` of the products and of the per-entry work, and rows
    no model trains on (zero sample weight) are skipped. A group's rows are
    gathered block by block (X is never copied). For small problems (where
    a group's calls cost more than the work it saves) or beyond
    ``_MAX_GROUPS`` groups: one group of all rows and all models, weights 0
    included.
    """
    n_rows, n_models = weights.shape
    if n_rows * n_features * n_models < _SMALL_PRODUCT:
        return [_make_group(weights, labels, slice(0, n_rows), np.arange(n_models))]
    patterns, inverse = _unique_rows(np.packbits(weights > 0, axis=1))
    if patterns.shape[0] > _MAX_GROUPS:
        return [_make_group(weights, labels, slice(0, n_rows), np.arange(n_models))]
    order = np.argsort(inverse, kind="stable")  # each group's rows ascending
    bounds = np.searchsorted(inverse[order], np.arange(patterns.shape[0] + 1))
    groups = []
    for p, pattern in enumerate(patterns):
        cols = np.flatnonzero(np.unpackbits(pattern)[:n_models])
        if cols.size == 0:  # rows no model trains on
            continue
        rows = order[bounds[p] : bounds[p + 1]]
        if rows[-1] - rows[0] + 1 == rows.size:
            rows = slice(int(rows[0]), int(rows[-1]) + 1)
        groups.append(_make_group(weights, labels, rows, cols))
    return groups


def _unique_rows(bits):
    """``np.unique(bits, axis=0, return_inverse=True)``, fast for <= 8 bytes.

    (Sorting rows of bytes is ~30x slower than sorting one uint64 a row.)
    """
    if bits.shape[1] > 8:
        patterns, inverse = np.unique(bits, axis=0, return_inverse=True)
        return patterns, inverse.ravel()
    padded = np.zeros((bits.shape[0], 8), dtype=np.uint8)
    padded[:, : bits.shape[1]] = bits
    keys, inverse = np.unique(padded.view(np.uint64).ravel(), return_inverse=True)
    patterns = keys.view(np.uint8).reshape(-1, 8)[:, : bits.shape[1]]
    return patterns, inverse.ravel()


def _make_group(weights, labels, rows, cols):
    s = weights[rows][:, cols]
    c = s.max(axis=0)
    if np.all(s == c):  # no sample or class weights, every row trained on
        return _RowGroup(rows, cols, labels[rows], c.astype(np.float64), None)
    # Products of 512 factors in [1, 2] need float64's range.
    masked = np.all((s == c) | (s == 0)) and s.dtype == np.float64
    c = c.astype(np.float64) if masked else None
    return _RowGroup(rows, cols, labels[rows], c, np.ascontiguousarray(s))


def _subset_groups(groups, keep):
    """The groups of the models ``keep`` (boolean mask), renumbered."""
    index = np.cumsum(keep) - 1
    out = []
    for group in groups:
        sel = keep[group.cols]
        if sel.any():
            out.append(
                replace(
                    group,
                    cols=index[group.cols[sel]],
                    c=None if group.c is None else group.c[sel],
                    s=None
                    if group.s is None
                    else np.ascontiguousarray(group.s[:, sel]),
                )
            )
    return out


def _thread_pool(n_threads):
    """Worker threads for the row chunks beyond the caller's, kept for reuse
    (starting threads every iteration costs ~3 ms); one pool per process, as
    a forked child has none of its parent's threads."""
    return _process_thread_pool(n_threads, os.getpid())


@functools.cache
def _process_thread_pool(n_threads, pid):
    return ThreadPoolExecutor(n_threads, thread_name_prefix="gdlogreg-batched")


def _split_blocks(groups, n_threads):
    """Blocks ``(group, lo, hi)`` of at most ``_BLOCK_ROWS`` rows, per thread."""
    blocks = [
        (gi, lo, min(lo + _BLOCK_ROWS, group.n_rows))
        for gi, group in enumerate(groups)
        for lo in range(0, group.n_rows, _BLOCK_ROWS)
    ]
    n_threads = max(1, min(n_threads, len(blocks)))
    bounds = np.linspace(0, len(blocks), n_threads + 1).astype(int)
    return [blocks[start:stop] for start, stop in pairwise(bounds)]


def _out_columns(cols, n_out):
    """Columns of ``W`` (models x outputs, flattened) of the models ``cols``."""
    return (cols[:, None] * n_out + np.arange(n_out)).ravel()


class BatchedObjective:
    """The cost ``J`` of SPEC section 1 for ``n_models`` models at once.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Data shared by all models; never modified or copied.
    y : ndarray of shape (n_samples,)
        Binary: 0/1 labels in X's dtype. Multinomial: int class indices.
    weights : ndarray of shape (n_samples, n_models)
        Column ``j``: model ``j``'s sample weights divided by their sum, zero
        on rows the model does not train on. X's dtype. For dense X they are
        kept only within the row groups (the attribute is then None).
    n_classes : int
        2 for sigmoid models, K >= 3 for softmax models.
    l2, l1 : ndarray of shape (n_models,)
        Penalty strengths ``(1 - l1_ratio)/(C S_j)`` and ``l1_ratio/(C S_j)``.
    fit_intercept : bool
        Whether ``theta`` carries an (unpenalized) intercept row.
    mean, scale : ndarray of shape (n_features, n_models), default=None
        Each model's diagonal preconditioner, as in :mod:`._objective`
        (``w = w' / scale``, ``b = b' - mean . w``); None: the plain step.
    n_threads : int, default=1
        Threads sharing the row blocks of dense X (NumPy's ufuncs and BLAS
        release the GIL); give BLAS one thread then.
    """

    def __init__(
        self,
        X,
        y,
        weights,
        *,
        n_classes,
        l2,
        l1,
        fit_intercept,
        mean=None,
        scale=None,
        n_threads=1,
    ):
        self.X, self.y, self.weights = X, y, weights
        self.dtype = X.dtype
        self.n_features = X.shape[1]
        self.n_classes = n_classes
        self.n_out = 1 if n_classes == 2 else n_classes
        self.l2 = np.asarray(l2, dtype=np.float64)
        self.l1 = np.asarray(l1, dtype=np.float64)
        self._l2 = self.l2.astype(X.dtype)
        self._has_l1 = bool(np.any(self.l1 > 0))
        self.fit_intercept = fit_intercept
        self.mean, self.scale = mean, scale
        self.n_threads = n_threads
        self._chunks, self._buffers = None, {}
        self._precompute()
        if scale is not None:
            self._mean = mean.astype(self.dtype)[:, :, None]
            self._scale = scale.astype(self.dtype)[:, :, None]

    def _precompute(self):
        """Per-model constants of the loss, and dense X's row groups."""
        self._train_mask = self._column_weight = self._groups = None
        labels = self.y
        if self.n_out == 1:
            self._half_minus_y = labels = (0.5 - self.y).astype(self.dtype)
            s_c = self.weights * self._half_minus_y[:, None]
            self._lin_w = np.asarray(self.X.T @ s_c, dtype=np.float64)
            self._lin_b = s_c.sum(axis=0, dtype=np.float64)
        if not sp.issparse(self.X):
            # The groups carry their rows' weights: dense X needs no more.
            self._groups = _row_groups(self.weights, labels, n_features=self.n_features)
            self.weights = None
        elif self.n_out == 1:
            self._sparse_log_constants()

    def _sparse_log_constants(self):
        """What :meth:`_weighted_log1p` needs for its product of factors."""
        column_weight = self.weights.max(axis=0)
        train = self.weights > 0
        # Products of 512 factors in [1, 2] need float64's range (2**1024).
        uniform = np.all((self.weights == column_weight) | ~train)
        if uniform and self.dtype == np.float64:
            self._train_mask = train.astype(self.dtype)
            self._column_weight = column_weight.astype(np.float64)

    @property
    def n_dof(self):
        """Number of rows of ``theta``."""
        return self.n_features + int(self.fit_intercept)

    @property
    def n_models(self):
        """Number of models (columns of ``theta``)."""
        return self.l2.size

    def subset(self, keep):
        """The objective of the models ``keep`` (boolean mask) only."""
        sub = copy.copy(self)
        sub._chunks, sub._buffers = None, {}
        if self._groups is not None:
            sub._groups = _subset_groups(self._groups, keep)
        for name in ("weights", "_train_mask", "_lin_w", "_mean", "_scale"):
            value = getattr(self, name, None)
            if value is not None:
                setattr(sub, name, np.ascontiguousarray(value[:, keep]))
        for name in ("l2", "_l2", "l1", "_lin_b", "_column_weight"):
            value = getattr(self, name, None)
            if value is not None:
                setattr(sub, name, value[keep])
        if self.scale is not None:
            sub.mean, sub.scale = self.mean[:, keep], self.scale[:, keep]
        return sub

    def to_original(self, theta):
        """Solver coordinates to ``(w, b)``: shapes (d, m, n_out), (m, n_out)."""
        d = self.n_features
        w = theta[:d]
        if self.scale is not None:
            w = w / self._scale
        if not self.fit_intercept:
            return w, np.zeros(theta.shape[1:], dtype=self.dtype)
        b = theta[d]
        if self.scale is not None:
            b = b - np.einsum("jm,jmk->mk", self._mean[:, :, 0], w)
        return w, b

    def from_original(self, w, b):
        """``(w, b)`` to solver coordinates (inverse of :meth:`to_original`)."""
        if self.scale is not None:
            if self.fit_intercept:
                b = b + np.einsum("jm,jmk->mk", self._mean[:, :, 0], w)
            w = w * self._scale
        rows = [w, b[None]] if self.fit_intercept else [w]
        return np.concatenate(rows).astype(self.dtype, copy=False)

    def penalty(self, theta):
        """``l2/2 ||w||^2 + l1 ||w||_1`` per model, shape (n_models,)."""
        return self._penalty(self.to_original(theta)[0])

    def _penalty(self, w):
        w = w.astype(np.float64, copy=False)
        out = 0.5 * self.l2 * np.einsum("jmk,jmk->m", w, w)
        if self._has_l1:
            out += self.l1 * np.sum(np.abs(w), axis=(0, 2))
        return out

    def value_grad(self, theta):
        """``J`` per model and the gradient of its smooth part.

        Dense X, row block by row block (a block of X is read from memory
        once, and its ``Z`` never leaves the cache)::

            Z = X_blk @ W + b;  per-sample loss;  R = s * dL/dZ (in place)
            dW += X_blk.T @ R;  db += sum(R)

        with the blocks shared among ``n_threads`` threads. Sparse X: one
        product ``X @ W``, the per-sample work by blocks, one ``X.T @ R``.

        Returns
        -------
        J : ndarray of shape (n_models,), float64
        grad : ndarray of shape (n_dof, n_models, n_out)
            ``(dw, db)`` for every model, in X's dtype.
        """
        d, n_models = self.n_features, theta.shape[1]
        w, b = self.to_original(theta)
        W, b = np.ascontiguousarray(w).reshape(d, -1), b.reshape(-1)
        if sp.issparse(self.X):
            loss, dw, db = self._sparse_pass(W, b)
        else:
            loss, dw, db = self._dense_pass(W, b)
        if self.n_out == 1:  # the linear part of the binary loss
            loss += np.einsum("jm,jm->m", self._lin_w, W) + self._lin_b * b
        J = loss + self._penalty(w)
        dw = dw.reshape(d, n_models, self.n_out)
        dw += self._l2[:, None] * w
        db = db.reshape(1, n_models, self.n_out)
        if self.scale is not None:  # chain rule through w = w'/scale, b = ...
            dw = (dw - self._mean * db) / self._scale
        grad = [dw, db] if self.fit_intercept else [dw]
        return J, np.concatenate(grad).astype(self.dtype, copy=False)

    def _dense_pass(self, W, b):
        """Loss and gradient sums over all rows, in ``n_threads`` chunks.

        Group by group (rows trained on by the same models), block by block
        of its rows: a block of X (a view, or its rows gathered), ``Z`` for
        the group's models only, their residuals in place, ``X_blk.T @ R``
        added to the group's gradient; the groups' sums then go to their
        models' columns. Rows no model trains on are never read.
        """
        if self._chunks is None:
            self._chunks = _split_blocks(self._groups, self.n_threads)
        if len(self._chunks) == 1 and len(self._groups) == 1:
            # Small problems: one group of every model, nothing to scatter.
            ((loss, dW, db),) = self._dense_rows([W], [b], 0).values()
            return loss, dW, db
        cols = [_out_columns(g.cols, self.n_out) for g in self._groups]
        Wg = [np.ascontiguousarray(W[:, c]) for c in cols]
        bg = [b[c] for c in cols]
        others = [
            _thread_pool(len(self._chunks) - 1).submit(self._dense_rows, Wg, bg, i)
            for i in range(1, len(self._chunks))
        ]
        parts = [self._dense_rows(Wg, bg, 0), *(f.result() for f in others)]
        loss = np.zeros(self.n_models)
        dW, db = np.zeros_like(W), np.zeros(W.shape[1])
        for part in parts:
            for gi, (loss_g, dW_g, db_g) in part.items():
                loss[self._groups[gi].cols] += loss_g
                dW[:, cols[gi]] += dW_g
                db[cols[gi]] += db_g
        return loss, dW, db

    def _dense_rows(self, Wg, bg, chunk):
        """``{group: (loss, X_blk.T @ R, sum R)}`` over chunk ``chunk``'s blocks."""
        if chunk not in self._buffers:  # this chunk's, reused every iteration
            width = max(w.shape[1] for w in Wg)
            d = self.n_features
            self._buffers[chunk] = (
                np.empty((_BLOCK_ROWS, d), dtype=self.dtype),
                np.empty(_BLOCK_ROWS * width, dtype=self.dtype),
                np.empty(d * width, dtype=self.dtype),
                np.empty(_BLOCK_ROWS * width),  # exp(-|z|), see _shift_and_exp
            )
        X_buf, Z_buf, G_buf, E_buf = self._buffers[chunk]
        sums = {}
        for gi, lo, hi in self._chunks[chunk]:
            group, k, width = self._groups[gi], hi - lo, Wg[gi].shape[1]
            if isinstance(group.rows, slice):
                X_blk = self.X[group.rows.start + lo : group.rows.start + hi]
            else:
                X_blk = X_buf[:k]
                _gather_rows(self.X, group.rows[lo:hi], X_blk)
            R = np.matmul(X_blk, Wg[gi], out=Z_buf[: k * width].reshape(k, width))
            E = E_buf[: k * width].reshape(k, width)
            if gi not in sums:  # the group's first block
                acc = self._new_sums(group)
                self._group_block(R, E, bg[gi], group, lo, hi, acc)
                sums[gi] = (acc, X_blk.T @ R)
                continue
            acc, dW = sums[gi]
            self._group_block(R, E, bg[gi], group, lo, hi, acc)
            dW += np.matmul(
                X_blk.T, R, out=G_buf[: X_blk.shape[1] * width].reshape(-1, width)
            )
        return {
            gi: self._group_sums(self._groups[gi], acc, dW)
            for gi, (acc, dW) in sums.items()
        }

    def _new_sums(self, group):
        """Zeroed per-block accumulators of one group (see :meth:`_group_block`)."""
        if self.n_out == 1:
            acc = np.zeros((4, group.cols.size))
            acc[2] = 1.0  # the running product of _binary_uniform
            return acc
        return [np.zeros(group.cols.size), np.zeros(group.cols.size * self.n_out)]

    def _group_block(self, R, E, b, group, lo, hi, acc):
        """Rows ``lo:hi`` of ``group``: ``R`` (holding ``X_blk @ W``) := residuals.

        ``E``: float64 scratch of ``R``'s shape.
        """
        if self.n_out == 1 and group.s is None:
            _binary_uniform(R, E, b, group.y[lo:hi], group.c, acc)
        elif self.n_out == 1 and group.c is not None:
            _binary_masked(R, E, b, group.y[lo:hi], group.s[lo:hi], acc)
        elif self.n_out == 1:
            _binary_weighted(R, E, b, group.y[lo:hi], group.s[lo:hi], acc)
        else:
            s = (
                group.s[lo:hi]
                if group.s is not None
                else np.broadcast_to(group.c, (hi - lo, group.c.size))
            )
            R += b
            z = R.reshape(hi - lo, -1, self.n_out)
            acc[0] += self._multinomial_block(z, s, group.y[lo:hi])
            acc[1] += R.sum(axis=0)

    def _group_sums(self, group, acc, dW):
        """A group's loss (less its linear part), ``X.T @ R`` and ``sum R``."""
        if self.n_out != 1:
            return acc[0], dW, acc[1]
        if group.c is not None:
            return group.c * (0.5 * acc[1] + acc[3]), dW, acc[0]
        return acc[1], dW, acc[0]

    def _sparse_pass(self, W, b):
        """Loss and gradient sums: ``X @ W`` and ``X.T @ R`` over all rows."""
        R = np.ascontiguousarray(self.X @ W)
        work = np.empty((_BLOCK_ROWS, R.shape[1]), dtype=self.dtype)
        loss = np.zeros(self.n_models)
        for first in range(0, R.shape[0], _BLOCK_ROWS):
            rows = slice(first, first + _BLOCK_ROWS)
            loss += self._per_sample(R[rows], b, rows, work[: R[rows].shape[0]])
        return loss, np.asarray(self.X.T @ R), R.sum(axis=0)

    def _per_sample(self, Z, b, rows, work):
        """Weighted loss of ``rows`` per model; ``Z`` becomes ``s * dL/dZ``."""
        Z += b
        if self.n_out == 1:
            return self._binary_block(Z, rows, work)
        z = Z.reshape(Z.shape[0], -1, self.n_out)
        return self._multinomial_block(z, self.weights[rows], self.y[rows])

    def _binary_block(self, z, rows, work):
        """Binary loss (less its linear part) and residual on one row block.

        With ``e = exp(-|z|)`` computed once per sample and ``d = 1 + e``::

            L(z, y)    = log(d) + |z|/2 + (1/2 - y) z
            sigmoid(z) = 1/2 + copysign(1/d - 1/2, z)

        The last term of ``L`` is linear in ``(w, b)``: its weighted sum is
        ``lin_w . w + lin_b b`` (added by :meth:`value_grad`), precomputed,
        so it costs nothing per sample.
        """
        s = self.weights[rows]
        e = np.abs(z, out=work)
        loss = 0.5 * np.einsum("ij,ij->j", s, e)
        np.negative(e, out=e)
        np.exp(e, out=e)
        loss += self._weighted_log1p(e, s, rows)
        np.reciprocal(e, out=e)  # e held 1 + e: now 1/d
        e -= 0.5
        np.copysign(e, z, out=z)
        z += self._half_minus_y[rows, None]
        z *= s
        return loss

    def _weighted_log1p(self, e, s, rows):
        """``sum_i s_ij log(1 + e_ij)`` per model; leaves ``1 + e`` in ``e``.

        When each model's nonzero weights are all equal (no sample or class
        weights: ``s_ij = c_j`` on its training rows) and X is float64, the
        sum of logs is taken as the log of products of ``_PRODUCT_ROWS``
        factors in [1, 2] (at most 2**512, no overflow): one ``log`` per 512
        samples instead of one per sample, at the price of <= 511 roundings
        per product, an error ~1e-13 on a sum of 512 terms.
        """
        if self._train_mask is None:
            e += 1.0
            return np.einsum("ij,ij->j", s, np.log(e))
        e *= self._train_mask[rows]  # held-out rows: factor 1
        e += 1.0
        n_full = e.shape[0] // _PRODUCT_ROWS * _PRODUCT_ROWS
        groups = e[:n_full].reshape(-1, _PRODUCT_ROWS, e.shape[1])
        total = np.log(np.multiply.reduce(groups, axis=1)).sum(axis=0)
        if n_full < e.shape[0]:
            total += np.log(np.multiply.reduce(e[n_full:], axis=0))
        return self._column_weight * total

    @staticmethod
    def _multinomial_block(z, s, y):
        """Multinomial loss and ``s * (softmax - Y)`` on one row block.

        ``z`` has shape (block_rows, n_models, K), ``s`` (block_rows,
        n_models), ``y`` (block_rows,) the class indices. logsumexp and
        softmax come from one ``exp``, after subtracting the row max.
        """
        idx = np.arange(z.shape[0])
        z_max = z.max(axis=2, keepdims=True)
        z_y = z[idx, :, y] - z_max[:, :, 0]
        z -= z_max
        np.exp(z, out=z)
        total = z.sum(axis=2, keepdims=True)
        loss = np.einsum("ij,ij->j", s, np.log(total[:, :, 0]) - z_y)
        z /= total  # softmax
        z[idx, :, y] -= 1
        z *= s[:, :, None]
        return loss

    def prox(self, theta, step):
        """Soft-threshold every model's weights by ``step_j * l1_j``."""
        if not self._has_l1:
            return theta
        out = theta.copy()
        w = out[: self.n_features]
        threshold = (step * self.l1).astype(self.dtype)[:, None]
        if self.scale is not None:
            threshold = threshold / self._scale
        np.copyto(w, np.sign(w) * np.maximum(np.abs(w) - threshold, 0.0))
        return out


@dataclass
class BatchedResult:
    """What :func:`batched_gradient_descent` returns, one entry per model.

    Attributes
    ----------
    theta : ndarray of shape (n_dof, n_models, n_out)
        Final coefficients (for a diverged model: its lowest-cost iterate).
    cost_histories : list of ndarray
        ``J`` at the start and after every update, one array per model.
    n_iter : ndarray of shape (n_models,), int
    converged, diverged : ndarray of shape (n_models,), bool
    """

    theta: np.ndarray
    cost_histories: list
    n_iter: np.ndarray
    converged: np.ndarray
    diverged: np.ndarray


class _Active:
    """Mutable state of the models still descending (compacted on removal)."""

    def __init__(self, objective, theta, step):
        self.objective = objective
        self.cols = np.arange(theta.shape[1])
        self.theta = theta
        self.step = np.asarray(step, dtype=np.float64)
        self.step_b = self.step.astype(theta.dtype)[:, None]
        self.J, self.dtheta = objective.value_grad(theta)
        # J has risen (divergence) when above this: J0 plus rounding.
        self.J_limit = self.J + _RISE_RTOL * np.maximum(1.0, np.abs(self.J))
        self.best_J, self.best_theta = self.J.copy(), theta.copy()

    def keep_only(self, keep):
        self.objective = self.objective.subset(keep)
        for name in (
            "cols",
            "theta",
            "step",
            "step_b",
            "J",
            "dtheta",
            "J_limit",
            "best_J",
        ):
            value = getattr(self, name)
            setattr(self, name, value[:, keep] if value.ndim == 3 else value[keep])
        self.best_theta = self.best_theta[:, keep]


def batched_gradient_descent(objective, theta0, *, step, max_iter, tol):
    """The lecture's update ``w := w - alpha_j dw``, ``b := b - alpha_j db``.

    Parameters
    ----------
    objective : BatchedObjective
    theta0 : ndarray of shape (n_dof, n_models, n_out)
        Starting points.
    step : ndarray of shape (n_models,)
        Each model's fixed learning rate ``alpha_j``.
    max_iter : int
    tol : float
        A model stops when its (proximal) gradient max-norm is <= tol.

    Returns
    -------
    BatchedResult
    """
    n_models = theta0.shape[1]
    out = BatchedResult(
        theta0.copy(),
        [None] * n_models,
        np.zeros(n_models, dtype=int),
        np.zeros(n_models, dtype=bool),
        np.zeros(n_models, dtype=bool),
    )
    state = _Active(objective, theta0, step)
    histories = np.full((max_iter + 1, n_models), np.nan)
    histories[0] = state.J
    k = 0
    while k < max_iter and state.cols.size:
        theta_new = state.objective.prox(
            state.theta - state.step_b * state.dtheta, state.step
        )
        diff = state.theta - theta_new
        diff = np.abs(diff, out=diff).max(axis=(0, 2), initial=0.0)
        gnorm = diff.astype(np.float64) / state.step
        done = gnorm <= tol
        if done.any():
            out.converged[state.cols[done]] = True
            _finish(out, state, done, state.theta, k)
            theta_new = theta_new[:, ~done]
            if not state.cols.size:
                break
        J, dtheta = state.objective.value_grad(theta_new)
        k += 1
        histories[k, state.cols] = J
        state.theta, state.J, state.dtheta = theta_new, J, dtheta
        rose = ~(J <= state.J_limit)  # NaN included
        better = ~rose & (J < state.best_J)
        np.copyto(state.best_J, J, where=better)
        np.copyto(state.best_theta, theta_new, where=better[:, None])
        if rose.any():
            out.diverged[state.cols[rose]] = True
            _finish(out, state, rose, state.best_theta, k)
    _finish(out, state, np.ones(state.cols.size, dtype=bool), state.theta, k)
    out.cost_histories = [
        histories[: n + 1, j].copy() for j, n in enumerate(out.n_iter)
    ]
    return out


def _finish(out, state, mask, theta, k):
    """Record the models ``mask`` of the active set as stopped at ``k``."""
    if not mask.any():
        return
    cols = state.cols[mask]
    out.theta[:, cols] = theta[:, mask]
    out.n_iter[cols] = k
    if not mask.all():
        state.keep_only(~mask)
    else:
        state.cols = state.cols[:0]


def diagonal_preconditioner(X, weights, l2, *, n_classes, fit_intercept):
    """Per-model ``mean`` and ``scale`` of ``_objective``'s diagonal step.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
    weights : ndarray of shape (n_samples, n_models)
        Normalised weights, as given to :class:`BatchedObjective`.
    l2 : ndarray of shape (n_models,)
    n_classes : int
    fit_intercept : bool

    Returns
    -------
    mean, scale : ndarray of shape (n_features, n_models), float64
        Weighted column means and ``sqrt(var + l2 / c)``, as
        ``LogisticObjective`` computes them for each model's weights alone.
        Models with the same weights share one computation.
    """
    unique, inverse = np.unique(weights, axis=1, return_inverse=True)
    mean, var = _weighted_moments(X, unique.astype(np.float64))
    mean, var = mean[:, inverse.ravel()], var[:, inverse.ravel()]
    if not fit_intercept:  # the shift cannot be absorbed in b
        var, mean = var + mean**2, np.zeros_like(mean)
    scale = np.sqrt(
        var + l2 / CURVATURE_BOUND["binary" if n_classes == 2 else "multinomial"]
    )
    scale[scale == 0.0] = 1.0
    return mean, scale


def _weighted_moments(X, S):
    """Weighted mean and (two-pass, for dense X) variance of X's columns."""
    mean = np.asarray(X.T @ S, dtype=np.float64)
    if sp.issparse(X):
        sq = X.multiply(X).T @ S  # E[x^2] - mean^2: sparse data is never centred
        return mean, np.maximum(np.asarray(sq) - mean**2, 0.0)
    var = np.zeros_like(mean)
    for start in range(0, X.shape[0], _BLOCK_ROWS):
        rows = slice(start, start + _BLOCK_ROWS)
        for f in range(S.shape[1]):
            centred = X[rows] - mean[:, f]
            var[:, f] += S[rows, f] @ (centred * centred)
    return mean, var
