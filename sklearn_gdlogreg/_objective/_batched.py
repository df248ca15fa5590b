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
the loss and the sigmoid), and the blocks are shared among OpenMP threads
(:mod:`._numerics._batched_kernels`, BLAS called from each thread).

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
from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np
import scipy.sparse as sp

from .._numerics import _batched_kernels, weighted_column_moments
from ._coordinates import diagonal_coordinates, original_gradient
from ._loss import CURVATURE_BOUND
from ._penalty import soft_threshold

# D1-D4 below: the benchmarks' reference data sets, defined in benchmarks/README.md
# ("Reference data and targets").

# Same rule as _solvers: J has risen when it exceeds its reference by more
# than rounding.
_RISE_RTOL = 1e-12
# Rows per block: a block of X (100 features: 1.6 MiB), its Z for 40 models
# (640 KiB) and one scratch array of Z's size stay in cache (1024 and 4096
# measured no faster on D1).
_BLOCK_ROWS = 2048
# Factors in [1, 2] multiplied before one log (see _weighted_log1p and the
# binary kernels): the compiled kernels' constant.
_PRODUCT_ROWS = _batched_kernels.PRODUCT_ROWS
# Below this many multiply-adds per product, rows are not grouped.
_SMALL_PRODUCT = 10_000_000
# Rows are grouped by the set of models that train on them (see _row_groups)
# unless there are more such sets than this.
_MAX_GROUPS = 64


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
        weights, float64 products: see ``binary_masked`` in
        :mod:`._numerics._batched_kernels`); else None.
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


@dataclass
class _DensePlan:
    """What :meth:`BatchedObjective._dense_pass` reuses every iteration.

    Attributes
    ----------
    X : ndarray
        X, or a C-ordered copy when BLAS cannot read it (see
        :func:`_blas_readable`).
    groups : list of tuple
        Per group, what does not change between iterations:
        ``(start, rows, kind)`` and ``(y, c, s)`` (see
        ``dense_rows_pass`` of :mod:`._numerics._batched_kernels`).
    cols : list of ndarray
        Per group, its columns of ``W`` (models x outputs).
    blocks : tuple of ndarray of intp
        ``(group, lo, hi)`` of every block, the chunks one after the other,
        and ``chunk_start`` (n_chunks + 1): thread ``t``'s blocks.
    buffers : tuple of ndarray
        Per-thread scratch ``(X_buf, Z_buf, E_buf)``, one row per thread.
    sizes : tuple of int
        A thread's number of gradient entries and of float64 sums.
    """

    X: np.ndarray
    groups: list
    cols: list
    blocks: tuple
    buffers: tuple
    sizes: tuple


def _blas_readable(X):
    """X when BLAS reads it as is (its rows or its columns contiguous), else
    a C-ordered copy (a strided view: once per fit, not per iteration)."""
    n, d = X.shape
    s0, s1 = X.strides
    item = X.itemsize
    c_rows = s1 == item and s0 >= d * item
    f_cols = s0 == item and s1 >= n * item
    if (c_rows or f_cols) and max(s0, s1) // item < 2**31:  # BLAS ints
        return X
    return np.ascontiguousarray(X)


def _kind(group, n_out):
    """The per-entry kernel of a group (see :class:`_RowGroup`)."""
    if n_out != 1:
        return _batched_kernels.MULTINOMIAL
    if group.s is None:
        return _batched_kernels.UNIFORM
    if group.c is not None:
        return _batched_kernels.MASKED
    return _batched_kernels.WEIGHTED


def _out_columns(cols, n_out):
    """Columns of ``W`` (models x outputs, flattened) of the models ``cols``."""
    return (cols[:, None] * n_out + np.arange(n_out)).ravel()


class BatchedObjective:
    """The cost ``J`` of ``_objective`` for ``n_models`` models at once.

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
    grad_scale : ndarray of shape (n_features, n_models), default=None
        The chain rule's factor that goes with them (see
        :func:`._preconditioner.diagonal_coordinates`).
    n_threads : int, default=1
        OpenMP threads sharing the row blocks of dense X, each calling BLAS:
        give BLAS one thread then (threadpoolctl).
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
        grad_scale=None,
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
        self._plan = None  # see _dense_plan
        self._precompute()
        if scale is not None:
            self._mean = mean.astype(self.dtype)[:, :, None]
            self._scale = scale.astype(self.dtype)[:, :, None]
            self._grad_scale = grad_scale.astype(self.dtype)[:, :, None]

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
        sub._plan = None
        if self._groups is not None:
            sub._groups = _subset_groups(self._groups, keep)
        names = ("weights", "_train_mask", "_lin_w", "_mean", "_scale", "_grad_scale")
        for name in names:
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

    def gradient_norms(self, theta, dtheta):
        """Each model's :meth:`LogisticObjective.gradient_norm`: shape (m,).

        The max-norm of J's gradient in the user's coordinates (the
        minimum-norm subgradient with an L1 penalty), what ``tol`` bounds.
        """
        d = self.n_features
        db = dtheta[d] if self.fit_intercept else None
        diagonal = self.scale is not None
        w = self.to_original(theta)[0] if self._has_l1 else None
        g = original_gradient(
            dtheta[:d],
            db if diagonal else None,
            scale=self._scale if diagonal else 1.0,
            mean=self._mean if diagonal else 0.0,
            w=w,
            l1=self.l1.astype(self.dtype)[:, None],
        )
        norms = np.abs(g).max(axis=(0, 2), initial=0.0).astype(np.float64)
        if db is not None:
            norms = np.maximum(norms, np.abs(db).max(axis=1, initial=0.0))
        return norms

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

        with the blocks shared among ``n_threads`` OpenMP threads. Sparse X: one
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
            dw = (dw - self._mean * db) * self._grad_scale
        grad = [dw, db] if self.fit_intercept else [dw]
        return J, np.concatenate(grad).astype(self.dtype, copy=False)

    def _dense_pass(self, W, b):
        """Loss and gradient sums over all rows, in ``n_threads`` chunks.

        Group by group (rows trained on by the same models), block by block
        of its rows: a block of X (a view, or its rows gathered), ``Z`` for
        the group's models only, their residuals in place, ``X_blk.T @ R``
        added to the group's gradient; the groups' sums then go to their
        models' columns. Rows no model trains on are never read. The blocks
        run in compiled code, one chunk of them per OpenMP thread, each
        thread with its own sums, added up here.
        """
        plan = self._dense_plan()
        whole = len(plan.groups) == 1 and plan.cols[0].size == W.shape[1]
        if whole:  # small problems: one group of every model
            Wg, bg = [np.ascontiguousarray(W)], [np.ascontiguousarray(b)]
        else:
            Wg = [np.ascontiguousarray(W[:, c]) for c in plan.cols]
            bg = [b[c] for c in plan.cols]
        n_chunks = plan.blocks[-1].size - 1
        G = np.empty((n_chunks, plan.sizes[0]), dtype=self.dtype)
        acc = np.empty((n_chunks, plan.sizes[1]))
        _batched_kernels.dense_rows_pass(
            plan.X,
            [
                (*head, Wg[gi], bg[gi], *tail)
                for gi, (head, tail) in enumerate(plan.groups)
            ],
            *plan.blocks,
            *plan.buffers,
            G,
            acc,
        )
        # The threads' sums (a sum of n_chunks rows: in thread order).
        G, acc = (G[0], acc[0]) if n_chunks == 1 else (G.sum(0), acc.sum(0))
        if whole:
            return self._group_sums(self._groups[0], G, acc)
        loss = np.zeros(self.n_models)
        dW, db = np.zeros_like(W), np.zeros(W.shape[1])
        for group, cols, (loss_g, dW_g, db_g) in zip(
            self._groups, plan.cols, self._split_sums(G, acc), strict=True
        ):
            loss[group.cols] += loss_g
            dW[:, cols] += dW_g
            db[cols] += db_g
        return loss, dW, db

    def _dense_plan(self):
        """The blocks, threads' chunks and scratch of dense X (built once)."""
        if self._plan is not None:
            return self._plan
        chunks = _split_blocks(self._groups, self.n_threads)
        blocks = [np.array(b, dtype=np.intp).reshape(-1, 3) for b in chunks]
        chunk_start = np.cumsum([0, *(b.shape[0] for b in blocks)])
        group, lo, hi = np.concatenate(blocks).T
        groups, cols = [], []
        for g in self._groups:
            gathered = not isinstance(g.rows, slice)
            multinomial = self.n_out != 1
            groups.append(
                (
                    (
                        0 if gathered else g.rows.start,
                        np.asarray(g.rows, dtype=np.intp) if gathered else None,
                        _kind(g, self.n_out),
                    ),
                    (
                        np.asarray(g.y, dtype=np.intp if multinomial else self.dtype),
                        g.c,
                        g.s,
                    ),
                )
            )
            cols.append(_out_columns(g.cols, self.n_out))
        width = max(c.size for c in cols)
        d, rows = self.n_features, int((hi - lo).max())
        any_gathered = any(head[1] is not None for head, _ in groups)
        n_chunks = len(chunks)
        buffers = (
            np.empty((n_chunks, rows * d if any_gathered else 1), dtype=self.dtype),
            np.empty((n_chunks, rows * width), dtype=self.dtype),
            np.empty((n_chunks, rows * width if self.n_out == 1 else 1)),
        )
        sizes = (
            sum(d * c.size for c in cols),
            sum(self._n_sums(g) for g in self._groups),
        )
        self._plan = _DensePlan(
            _blas_readable(self.X),
            groups,
            cols,
            (
                np.ascontiguousarray(group),
                np.ascontiguousarray(lo),
                np.ascontiguousarray(hi),
                chunk_start.astype(np.intp),
            ),
            buffers,
            sizes,
        )
        return self._plan

    def _split_sums(self, G, acc):
        """Each group's ``(loss, X.T @ R, sum R)`` from all groups' sums."""
        d, g_off, a_off = self.n_features, 0, 0
        for group in self._groups:
            width, n_acc = group.cols.size * self.n_out, self._n_sums(group)
            yield self._group_sums(
                group, G[g_off : g_off + d * width], acc[a_off : a_off + n_acc]
            )
            g_off, a_off = g_off + d * width, a_off + n_acc

    def _n_sums(self, group):
        """Number of a group's float64 sums (see :meth:`_group_sums`)."""
        m = group.cols.size
        return 4 * m if self.n_out == 1 else m * (1 + self.n_out)

    def _group_sums(self, group, G, acc):
        """A group's loss (less its linear part), ``X.T @ R`` and ``sum R``.

        ``G``: its ``X.T @ R``, flat; ``acc``: its float64 sums, flat, as the
        kernels leave them (binary: ``sum R``, ``sum |z|`` or the weighted
        loss, the running product, the sum of logs; multinomial: the loss,
        then ``sum R``).
        """
        m = group.cols.size
        dW = G.reshape(self.n_features, -1)
        if self.n_out != 1:
            return acc[:m], dW, acc[m:]
        acc = acc.reshape(4, m)
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
        np.copyto(w, soft_threshold(w, threshold))
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
        A model stops when the max-norm of its gradient in the user's
        coordinates is <= tol (:meth:`BatchedObjective.gradient_norms`).

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
        done = state.objective.gradient_norms(state.theta, state.dtheta) <= tol
        if done.any():
            out.converged[state.cols[done]] = True
            _finish(out, state, done, state.theta, k)
            if not state.cols.size:
                break
        theta_new = state.objective.prox(
            state.theta - state.step_b * state.dtheta, state.step
        )
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
    mean, scale, grad_scale : ndarray of shape (n_features, n_models), float64
        Weighted column means, ``sqrt(var + l2 / c)`` and the chain rule's
        factor, as ``LogisticObjective`` computes them for each model's
        weights alone (:func:`._preconditioner.diagonal_coordinates`).
        Models with the same weights share one computation.
    """
    unique, inverse = np.unique(weights, axis=1, return_inverse=True)
    mean, var = _weighted_moments(X, unique.astype(np.float64))
    return diagonal_coordinates(
        mean[:, inverse.ravel()],
        var[:, inverse.ravel()],
        l2=l2,
        curvature=CURVATURE_BOUND["binary" if n_classes == 2 else "multinomial"],
        fit_intercept=fit_intercept,
    )


def _weighted_moments(X, S):
    """Weighted mean and variance of X's columns, one weight column at a time.

    The compiled pass of :func:`._numerics.weighted_column_moments` (what
    ``LogisticObjective`` uses for one model's weights): no copy of X.
    """
    moments = [weighted_column_moments(X, S[:, f]) for f in range(S.shape[1])]
    return (
        np.column_stack([m[0] for m in moments]),
        np.column_stack([m[1] for m in moments]),
    )
