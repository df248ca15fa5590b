"""The passes over X of the batched CV: loss and gradient of many models at once.

The models are the columns of one weight array ``W`` of shape
``(n_features, n_models * n_out)`` and one intercept vector ``b``
(``n_out = 1`` for binary, ``n_classes`` for multinomial), all in the
user's coordinates. :class:`BatchedPass` computes every model's weighted
loss and gradient sums with two matrix products over X, whatever the number
of models::

    Z = X @ W + b           (n_samples, n_models * n_out)
    dW = X.T @ R, db = sum R      R = s * dL/dZ, the weighted residuals

For dense X both run block of rows by block of rows (each block of X is read
from memory once; its ``Z`` is turned into ``R`` in place, in cache, by a
compiled kernel that computes ``exp`` once per entry, vectorized, shared by
the loss and the sigmoid), and the blocks are shared among OpenMP threads
(:mod:`._batched_kernels`, BLAS called from each thread). Sparse X: one
product ``X @ W``, the per-sample work in NumPy by blocks, one ``X.T @ R``.

Which rows a model trains on is said by its column of ``weights``: the
normalised sample weights ``s_ij / S_j`` of its training rows, zero on the
rows it must not see (a cross-validation fold's held-out rows), so no fold
copies X. For large dense X the rows are grouped by the set of models that
train on them (with k folds: k groups, each trained on by (k-1)/k of the
models), and each group's products and per-entry work cover those models
only: a k-th less work, the group's rows gathered block by block.

The cost ``J`` built on these sums (coordinates, penalty, chain rule) is
:class:`.._objective._batched.BatchedObjective`; the descent,
:func:`.._solvers._batched.batched_gradient_descent`.
:func:`batched_column_moments` is the one-off pass of the models' diagonal
preconditioner.
"""

import copy
from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np
import scipy.sparse as sp

from . import _batched_kernels
from ._passes import weighted_column_moments

# D1-D4 below: the benchmarks' reference data sets, defined in benchmarks/README.md
# ("Reference data and targets").

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
        :mod:`._batched_kernels`); else None.
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
    """What :meth:`BatchedPass._dense_pass` reuses every iteration.

    Attributes
    ----------
    X : ndarray
        X, or a C-ordered copy when BLAS cannot read it (see
        :func:`_blas_readable`).
    groups : list of tuple
        Per group, what does not change between iterations:
        ``(start, rows, kind)`` and ``(y, c, s)`` (see
        ``dense_rows_pass`` of :mod:`._batched_kernels`).
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


class BatchedPass:
    """Loss and gradient sums of ``n_models`` logistic models over the same X.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Data shared by all models; never modified or copied (but for a
        C-ordered copy of a strided view BLAS cannot read, once: see
        :func:`_blas_readable`).
    y : ndarray of shape (n_samples,)
        Binary: 0/1 labels in X's dtype. Multinomial: int class indices.
    weights : ndarray of shape (n_samples, n_models)
        Column ``j``: model ``j``'s sample weights divided by their sum, zero
        on rows the model does not train on. X's dtype. For dense X they are
        kept only within the row groups (the attribute is then None).
    n_classes : int
        2 for sigmoid models, K >= 3 for softmax models.
    n_threads : int, default=1
        OpenMP threads sharing the row blocks of dense X, each calling BLAS:
        give BLAS one thread then (threadpoolctl).
    """

    def __init__(self, X, y, weights, *, n_classes, n_threads=1):
        self.X, self.y, self.weights = X, y, weights
        self.dtype = X.dtype
        self.n_features = X.shape[1]
        self.n_out = 1 if n_classes == 2 else n_classes
        self.n_models = weights.shape[1]
        self.n_threads = n_threads
        self._plan = None  # see _dense_plan
        self._precompute()

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

    def subset(self, keep):
        """The pass of the models ``keep`` (boolean mask) only."""
        sub = copy.copy(self)
        sub._plan = None
        sub.n_models = int(np.count_nonzero(keep))
        if self._groups is not None:
            sub._groups = _subset_groups(self._groups, keep)
        for name in ("weights", "_train_mask", "_lin_w"):
            value = getattr(self, name, None)
            if value is not None:
                setattr(sub, name, np.ascontiguousarray(value[:, keep]))
        for name in ("_lin_b", "_column_weight"):
            value = getattr(self, name, None)
            if value is not None:
                setattr(sub, name, value[keep])
        return sub

    def loss_grad(self, W, b):
        """Every model's weighted loss and gradient sums at ``(W, b)``.

        Parameters
        ----------
        W : ndarray of shape (n_features, n_models * n_out)
            The weights ``w`` of the models in the user's coordinates, model
            ``j``'s outputs in columns ``j * n_out .. (j + 1) * n_out - 1``.
        b : ndarray of shape (n_models * n_out,)
            Their intercepts.

        Returns
        -------
        loss : ndarray of shape (n_models,), float64
            ``sum_i s_ij L(z_ij, y_i)``: the weighted loss, no penalty.
        dW : ndarray of shape (n_features, n_models * n_out)
            ``X.T @ R``, in X's dtype.
        db : ndarray of shape (n_models * n_out,)
            ``sum_i R_i``.
        """
        if sp.issparse(self.X):
            loss, dW, db = self._sparse_pass(W, b)
        else:
            loss, dW, db = self._dense_pass(W, b)
        if self.n_out == 1:  # the linear part of the binary loss
            loss += np.einsum("jm,jm->m", self._lin_w, W) + self._lin_b * b
        return loss, dW, db

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
        ``lin_w . w + lin_b b`` (added by :meth:`loss_grad`), precomputed,
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


def batched_column_moments(X, S):
    """Weighted mean and variance of X's columns, one weight column at a time.

    The compiled pass of :func:`._passes.weighted_column_moments` (what
    ``LogisticObjective`` uses for one model's weights): no copy of X.
    """
    moments = [weighted_column_moments(X, S[:, f]) for f in range(S.shape[1])]
    return (
        np.column_stack([m[0] for m in moments]),
        np.column_stack([m[1] for m in moments]),
    )
