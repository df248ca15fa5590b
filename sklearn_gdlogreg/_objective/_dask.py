"""The cost J on a dask array: every pass computed where the row blocks live.

X is a dask array chunked by rows (its columns are merged into one chunk).
The coefficients ``theta`` stay a small NumPy array on the client. Each pass
over X sums, over the row blocks, that block's share of the data term and
of the gradient, ``s_b . L_b`` and ``X_b.T @ R_b``, computed where the block
lives; only these d-sized vectors travel. X, y and the weights are persisted
once, before the first pass; the blocks, the passes over them and the
cluster's workers are :class:`~.._numerics._dask_blocks.RowBlocks`' business.

Everything that does not touch X (coordinates, penalty, gradient chain rule,
prox) is :class:`LogisticObjective`'s own code, so the iterates are those of
the in-memory path up to the order of the floating-point sums.
"""

import numpy as np

from .._numerics._dask_blocks import RowBlocks, block_gram, block_terms
from ._numpy import LogisticObjective
from ._step_bound import RTOL, default_n_vectors, lambda_max


class DaskLogisticObjective(LogisticObjective):
    """:class:`LogisticObjective` on dask arrays: blockwise passes, d-sized sums.

    Parameters
    ----------
    X : dask array of shape (n_samples, n_features)
        Float32 or float64, chunked by rows (known chunk sizes).
    y : dask array of shape (n_samples,)
        Binary: 0/1 labels in X's dtype. Multinomial: int class indices.
    sample_weight : dask array of shape (n_samples,)
        Non-negative weights ``s_i``.
    n_classes, C, l1_ratio, fit_intercept, preconditioner
        As in :class:`LogisticObjective`.

    Notes
    -----
    On a ``dask.distributed`` cluster, every wait on the workers holding X
    (placing their actors, each pass) is bounded by the dask setting
    ``sklearn_gdlogreg.timeout`` (seconds, or a string such as
    ``"10 minutes"``, the default; None for no limit): a worker that does
    not answer in time raises TimeoutError naming it. A worker that leaves
    the cluster is not an error: its blocks are recomputed on the others
    and the pass is repeated. RuntimeError names the workers when that
    fails three times in a row.
    """

    def __init__(
        self,
        X,
        y,
        sample_weight,
        *,
        n_classes,
        C,
        l1_ratio,
        fit_intercept,
        preconditioner,
    ):
        X = X.rechunk({1: -1})  # whole rows per block
        rows = X.chunks[0]
        self.dtype = np.dtype(X.dtype)
        sample_weight = sample_weight.astype(np.float64).rechunk((rows,))
        S = float(sample_weight.sum().compute())
        s = (sample_weight / S).astype(self.dtype)
        self.blocks = RowBlocks(X, y, s)  # persisted: the passes' data
        self.X, self.y, self.s = self.blocks.X, self.blocks.y, self.blocks.s
        self._set_problem(
            X.shape[1], n_classes=n_classes, fit_intercept=fit_intercept,
            C=C, l1_ratio=l1_ratio, S=S, preconditioner=preconditioner,
        )  # fmt: skip
        self._setup_preconditioner(preconditioner)

    def _column_moments(self):
        """:meth:`LogisticObjective._column_moments`, blockwise: two-pass, as
        in memory, of X minus its first row (a constant column's variance
        exactly zero)."""
        s = self.s.astype(np.float64)
        shift = self.X[0].astype(np.float64).compute()
        mean = (s @ (self.X - shift)).compute()
        var = (s @ (self.X - shift - mean) ** 2).compute()
        return mean + shift, var

    def new_raw(self):
        """No buffer: raw predictions are recomputed block by block."""
        return None

    def _pass(self, theta, theta_grad=None):
        """J's data term at theta and at theta_grad, ``X.T @ R``, ``sum R``.

        The residual (and the second data term) at theta_grad when given,
        else at theta.
        """
        w, b = self.to_original(theta)
        if theta_grad is not None:
            w_g, b_g = self.to_original(theta_grad)
            w, b = np.hstack([w, w_g]), np.concatenate([b, b_g])
        d, k = self.n_features, self.n_out
        out = self.blocks.sum(
            block_terms, 2 + (d + 1) * k, ("y", "s"),
            W=w, b=b, kind=self.kind, n_out=k,
        )  # fmt: skip
        G = out[2 : 2 + d * k].reshape(d, k).astype(self.dtype)
        db = out[2 + d * k :].astype(self.dtype)
        return float(out[0]), float(out[1]), G, db

    def value(self, theta):
        """``J`` at ``theta``; one blockwise pass."""
        return self.value_grad(theta)[0]

    def value_grad(self, theta):
        """``J`` and the smooth gradient at ``theta``; one blockwise pass."""
        data, _, G, db = self._pass(theta)
        return data + self.penalty(theta), self._solver_gradient(theta, G, db)

    def value_grad_pass(self, theta, Z, momentum=None):
        """``J`` at theta and the gradient at theta or Nesterov's point.

        As :meth:`LogisticObjective.value_grad_pass`, in one blockwise pass;
        ``Z`` and the previous raw predictions are not used.
        """
        if momentum is None:
            return self.value_grad(theta)
        _, theta_grad, _ = momentum
        data, data_y, G, db = self._pass(theta, theta_grad)
        value = data + self.penalty(theta)
        value_y = data_y + self.penalty(theta_grad)
        return value, self._solver_gradient(theta_grad, G, db), value_y

    def lipschitz(self, n_vectors=None, max_iter=12, rtol=RTOL):
        """As :meth:`LogisticObjective.lipschitz`, one blockwise pass a product."""
        d, p = self.n_features, self.n_dof
        if n_vectors is None:
            n_vectors = default_n_vectors(self.X.shape)
        mean, scale = self.mean[:, None], self.scale[:, None]

        def gram_times(V):  # A^T diag(s) A V, A = [(X - mean)/scale, 1]
            m = V.shape[1]
            U = V[:d] / scale
            c = V[d] - self.mean @ U if self.fit_intercept else np.zeros(m)
            out = self.blocks.sum(
                block_gram, (d + 1) * m, ("s",),
                U=U.astype(self.dtype), c=c.astype(self.dtype),
            ).reshape(d + 1, m)  # fmt: skip
            rows = [(out[:d] - mean * out[d]) / scale]
            if self.fit_intercept:
                rows.append(out[d][None, :])
            return np.concatenate(rows)

        lam = lambda_max(gram_times, p, n_vectors, max_iter, rtol)
        return self._curvature_bound(lam)
