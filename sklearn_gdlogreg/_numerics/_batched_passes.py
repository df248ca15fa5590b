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

Given held-out weights (a split's test rows, for its models), the same pass
also sums each model's held-out loss: for dense X, each block's rows, still
in cache, are multiplied by the columns of the models holding them out (a
group's held-out part); for sparse X, the held-out entries of ``X @ W`` are
read before they become residuals. The training sums are unchanged by it.

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
    v_cols : ndarray of int or None
        The models holding out some of these rows (None: no held-out loss).
    v_s : ndarray of shape (n_rows, v_cols.size) or None
        Their held-out weights on these rows.
    """

    rows: object
    cols: np.ndarray
    y: np.ndarray
    c: object
    s: object
    v_cols: object = None
    v_s: object = None

    @property
    def n_rows(self):
        if isinstance(self.rows, slice):
            return self.rows.stop - self.rows.start
        return self.rows.size


def _row_groups(weights, labels, *, n_features, held_out=None):
    """Dense X's rows grouped by the set of models training on them.

    With k-fold splits, a row in split f's test part is trained on by every
    model but split f's: computing ``Z`` and ``R`` on it for these models
    only saves ``1/k`` of the products and of the per-entry work, and rows
    no model trains on (zero sample weight) are skipped. A group's rows are
    gathered block by block (X is never copied). For small problems (where
    a group's calls cost more than the work it saves) or beyond
    ``_MAX_GROUPS`` groups, or when a row is held out but trained on by no
    model: one group of all rows and all models, weights 0 included.
    ``held_out`` (as ``weights``, or None): each group gets the models
    holding out some of its rows (:func:`_with_held_out`).
    """
    n_rows, n_models = weights.shape
    whole = (weights, labels, slice(0, n_rows), np.arange(n_models))
    trained = weights > 0
    if n_rows * n_features * n_models < _SMALL_PRODUCT or (
        held_out is not None and np.any((held_out > 0).any(1) & ~trained.any(1))
    ):
        return _with_held_out([_make_group(*whole)], held_out)
    patterns, inverse = _unique_rows(np.packbits(trained, axis=1))
    if patterns.shape[0] > _MAX_GROUPS:
        return _with_held_out([_make_group(*whole)], held_out)
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
    return _with_held_out(groups, held_out)


def _with_held_out(groups, held_out):
    """The groups with the models holding out some of their rows, if any."""
    if held_out is None:
        return groups
    out = []
    for group in groups:
        v = held_out[group.rows]
        v_cols = np.flatnonzero(v.any(axis=0))
        if v_cols.size:
            group = replace(
                group, v_cols=v_cols, v_s=np.ascontiguousarray(v[:, v_cols])
            )
        out.append(group)
    return out


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
            v_cols, v_s = group.v_cols, group.v_s
            if v_cols is not None:
                v_sel = keep[v_cols]
                v_cols, v_s = (
                    (index[v_cols[v_sel]], np.ascontiguousarray(v_s[:, v_sel]))
                    if v_sel.any()
                    else (None, None)
                )
            out.append(
                replace(
                    group,
                    cols=index[group.cols[sel]],
                    c=None if group.c is None else group.c[sel],
                    s=None
                    if group.s is None
                    else np.ascontiguousarray(group.s[:, sel]),
                    v_cols=v_cols,
                    v_s=v_s,
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
    v_cols : list of ndarray or None
        Per group, the columns of ``W`` of its held-out part, or None.
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
    v_cols: list
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
    held_out : ndarray of shape (n_samples, n_models), default=None
        Column ``j``: model ``j``'s held-out weights (normalised, zero on
        the rows it does not evaluate on), X's dtype; then
        :meth:`loss_grad` also returns every model's held-out loss, from the
        same pass. None: no held-out loss.
    """

    def __init__(self, X, y, weights, *, n_classes, n_threads=1, held_out=None):
        self.X, self.y, self.weights = X, y, weights
        self.dtype = X.dtype
        self.n_features = X.shape[1]
        self.n_out = 1 if n_classes == 2 else n_classes
        self.n_models = weights.shape[1]
        self.n_threads = n_threads
        self._plan = None  # see _dense_plan
        self._precompute(held_out)

    def _precompute(self, held_out):
        """Per-model constants of the loss, and dense X's row groups."""
        self._train_mask = self._column_weight = self._groups = None
        self._v_lin_w = self._v_lin_b = self._held = None
        self.records_held_out = held_out is not None
        labels = self.y
        if self.n_out == 1:
            self._half_minus_y = labels = (0.5 - self.y).astype(self.dtype)
            self._lin_w, self._lin_b = self._linear_part(self.weights)
        if not sp.issparse(self.X):
            # The groups carry their rows' weights: dense X needs no more.
            self._groups = _row_groups(
                self.weights, labels, n_features=self.n_features, held_out=held_out
            )
            self.weights = None
            if held_out is not None and self.n_out == 1:
                self._v_lin_w, self._v_lin_b = self._linear_part(held_out)
            return
        if held_out is not None:  # the held-out entries, row by row
            rows, cols = np.nonzero(held_out)
            self._held = rows, cols, held_out[rows, cols].astype(np.float64)
        if self.n_out == 1:
            self._sparse_log_constants()

    def _linear_part(self, weights):
        """``X.T @ (s (1/2 - y))`` and its intercept sum: the binary loss's
        linear part (see :meth:`_binary_block`), float64."""
        s_c = weights * self._half_minus_y[:, None]
        return np.asarray(self.X.T @ s_c, dtype=np.float64), s_c.sum(
            axis=0, dtype=np.float64
        )

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
        for name in ("weights", "_train_mask", "_lin_w", "_v_lin_w"):
            value = getattr(self, name, None)
            if value is not None:
                setattr(sub, name, np.ascontiguousarray(value[:, keep]))
        for name in ("_lin_b", "_column_weight", "_v_lin_b"):
            value = getattr(self, name, None)
            if value is not None:
                setattr(sub, name, value[keep])
        if self._held is not None:
            rows, cols, v = self._held
            sel = keep[cols]
            sub._held = rows[sel], (np.cumsum(keep) - 1)[cols[sel]], v[sel]
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
        held_out : ndarray of shape (n_models,), float64, or None
            ``sum_i v_ij L(z_ij, y_i)``: the held-out loss (None unless
            ``held_out`` weights were given).
        """
        if sp.issparse(self.X):
            loss, dW, db, held = self._sparse_pass(W, b)
        else:
            loss, dW, db, held = self._dense_pass(W, b)
        if self.n_out == 1:  # the linear part of the binary loss
            loss += np.einsum("jm,jm->m", self._lin_w, W) + self._lin_b * b
            if self._v_lin_w is not None:
                held += np.einsum("jm,jm->m", self._v_lin_w, W) + self._v_lin_b * b
        return loss, dW, db, held

    def _dense_pass(self, W, b):
        """Loss and gradient sums over all rows, in ``n_threads`` chunks.

        Group by group (rows trained on by the same models), block by block
        of its rows: a block of X (a view, or its rows gathered), ``Z`` for
        the group's models only, their residuals in place, ``X_blk.T @ R``
        added to the group's gradient; the groups' sums then go to their
        models' columns. Rows no model trains on are never read. The blocks
        run in compiled code, one chunk of them per OpenMP thread, each
        thread with its own sums, added up here. A group's held-out part
        multiplies the same block by its models' columns.
        """
        plan = self._dense_plan()
        whole = len(plan.groups) == 1 and plan.cols[0].size == W.shape[1]
        if whole:  # small problems: one group of every model
            Wg, bg = [np.ascontiguousarray(W)], [np.ascontiguousarray(b)]
        else:
            Wg = [np.ascontiguousarray(W[:, c]) for c in plan.cols]
            bg = [b[c] for c in plan.cols]
        held = [
            ()
            if c is None
            else (np.ascontiguousarray(W[:, c]), np.ascontiguousarray(b[c]), g.v_s)
            for g, c in zip(self._groups, plan.v_cols, strict=True)
        ]
        n_chunks = plan.blocks[-1].size - 1
        G = np.empty((n_chunks, plan.sizes[0]), dtype=self.dtype)
        acc = np.empty((n_chunks, plan.sizes[1]))
        _batched_kernels.dense_rows_pass(
            plan.X,
            [
                (*head, Wg[gi], bg[gi], *tail, *held[gi])
                for gi, (head, tail) in enumerate(plan.groups)
            ],
            *plan.blocks,
            *plan.buffers,
            G,
            acc,
        )
        # The threads' sums (a sum of n_chunks rows: in thread order).
        G, acc = (G[0], acc[0]) if n_chunks == 1 else (G.sum(0), acc.sum(0))
        sums = list(self._split_sums(G, acc))
        held = None
        if self.records_held_out:
            held = np.zeros(self.n_models)
            for group, (*_, held_g) in zip(self._groups, sums, strict=True):
                if held_g is not None:
                    held[group.v_cols] += held_g
        if whole:
            return (*sums[0][:3], held)
        loss = np.zeros(self.n_models)
        dW, db = np.zeros_like(W), np.zeros(W.shape[1])
        for group, cols, (loss_g, dW_g, db_g, _) in zip(
            self._groups, plan.cols, sums, strict=True
        ):
            loss[group.cols] += loss_g
            dW[:, cols] += dW_g
            db[cols] += db_g
        return loss, dW, db, held

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
        v_cols = [
            None if g.v_cols is None else _out_columns(g.v_cols, self.n_out)
            for g in self._groups
        ]
        width = max(c.size for c in cols + [v for v in v_cols if v is not None])
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
            v_cols,
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
        """Each group's ``(loss, X.T @ R, sum R, held-out loss)`` from all
        groups' sums."""
        d, g_off, a_off = self.n_features, 0, 0
        for group in self._groups:
            width, n_acc = group.cols.size * self.n_out, self._n_sums(group)
            yield self._group_sums(
                group, G[g_off : g_off + d * width], acc[a_off : a_off + n_acc]
            )
            g_off, a_off = g_off + d * width, a_off + n_acc

    def _n_sums(self, group, held_out=True):
        """Number of a group's float64 sums (see :meth:`_group_sums`)."""
        m = group.cols.size
        n = 4 * m if self.n_out == 1 else m * (1 + self.n_out)
        if held_out and group.v_cols is not None:
            n += group.v_cols.size * (1 + self.n_out)
        return n

    def _group_sums(self, group, G, acc):
        """A group's loss (less its linear part), ``X.T @ R``, ``sum R``, and
        its held-out part's loss (less its linear part; None without one).

        ``G``: its ``X.T @ R``, flat; ``acc``: its float64 sums, flat, as the
        kernels leave them (binary: ``sum R``, ``sum |z|`` or the weighted
        loss, the running product, the sum of logs; multinomial: the loss,
        then ``sum R``), then its held-out part's (binary: ``sum R``, the
        loss; multinomial: the loss, then ``sum R``).
        """
        m, n = group.cols.size, self._n_sums(group, held_out=False)
        held = None
        if group.v_cols is not None:
            v_m = group.v_cols.size
            held = acc[n + v_m : n + 2 * v_m] if self.n_out == 1 else acc[n : n + v_m]
        acc, dW = acc[:n], G.reshape(self.n_features, -1)
        if self.n_out != 1:
            return acc[:m], dW, acc[m:], held
        acc = acc.reshape(4, m)
        if group.c is not None:
            return group.c * (0.5 * acc[1] + acc[3]), dW, acc[0], held
        return acc[1], dW, acc[0], held

    def _sparse_pass(self, W, b):
        """Loss and gradient sums: ``X @ W`` and ``X.T @ R`` over all rows;
        the held-out loss from ``X @ W`` before it becomes ``R``."""
        R = np.ascontiguousarray(self.X @ W)
        work = np.empty((_BLOCK_ROWS, R.shape[1]), dtype=self.dtype)
        loss = np.zeros(self.n_models)
        held = None if self._held is None else np.zeros(self.n_models)
        for first in range(0, R.shape[0], _BLOCK_ROWS):
            rows = slice(first, first + _BLOCK_ROWS)
            Z = R[rows]
            Z += b
            if held is not None:
                held += self._sparse_held_out(Z, rows)
            loss += self._per_sample(Z, rows, work[: Z.shape[0]])
        return loss, np.asarray(self.X.T @ R), R.sum(axis=0), held

    def _sparse_held_out(self, Z, rows):
        """Held-out loss per model of the block ``Z = X[rows] @ W + b``.

        Only its held-out entries are read (``1/k`` of them for k folds).
        Binary ``L = |z|/2 + log(1 + exp(-|z|)) + (1/2 - y) z``; multinomial
        ``logsumexp(z) - z_y`` after subtracting the max; float64.
        """
        r, cols, v = self._held
        lo, hi = np.searchsorted(r, [rows.start, rows.stop])
        i, cols, v = r[lo:hi], cols[lo:hi], v[lo:hi]
        if self.n_out == 1:
            z = Z[i - rows.start, cols].astype(np.float64)
            a = np.abs(z)
            L = 0.5 * a + np.log1p(np.exp(-a)) + self._half_minus_y[i] * z
        else:
            z = Z.reshape(Z.shape[0], -1, self.n_out)[i - rows.start, cols]
            z = z.astype(np.float64)
            z_max = z.max(axis=1)
            z_y = z[np.arange(z.shape[0]), self.y[i]] - z_max
            L = np.log(np.exp(z - z_max[:, None]).sum(axis=1)) - z_y
        return np.bincount(cols, weights=v * L, minlength=self.n_models)

    def _per_sample(self, Z, rows, work):
        """Weighted loss of ``rows`` per model; ``Z = X @ W + b`` becomes
        ``s * dL/dZ``."""
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
