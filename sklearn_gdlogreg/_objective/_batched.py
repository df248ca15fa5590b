"""The cost J of many logistic models on the same rows, for the batched CV.

The models are the columns of one coefficient array ``theta`` of shape
``(n_dof, n_models, n_out)``: for model ``j``, ``theta[:, j, :]`` is laid out
as in :mod:`._numpy` (rows ``0 .. n_features - 1`` the weights ``w``, the
last row the intercept ``b`` when ``fit_intercept``; ``n_out = 1`` for
binary, ``n_classes`` for multinomial).

:class:`BatchedObjective` holds what is the cost's own: each model's
coordinates (plain, or its own diagonal preconditioner, set up by
:func:`diagonal_preconditioner`), its penalty ``l2_j, l1_j`` (``1/(C S_j)``
with its own ``C`` and training weight sum ``S_j``), the L2 term of the
gradient, the chain rule and the proximal step. The weighted loss and its
gradient sums, all models at once in two matrix products over X, come from
:class:`.._numerics._batched_passes.BatchedPass` (X is read there only);
:func:`.._solvers._batched.batched_gradient_descent` descends on ``J``.
"""

import copy

import numpy as np

from .._numerics import BatchedPass, batched_column_moments
from ._coordinates import diagonal_coordinates, original_gradient
from ._loss import CURVATURE_BOUND
from ._penalty import soft_threshold


class BatchedObjective:
    """The cost ``J`` of :mod:`._numpy` for ``n_models`` models at once.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Data shared by all models; never modified or copied. Read by the
        :class:`.._numerics._batched_passes.BatchedPass` built here only.
    y : ndarray of shape (n_samples,)
        Binary: 0/1 labels in X's dtype. Multinomial: int class indices.
    weights : ndarray of shape (n_samples, n_models)
        Column ``j``: model ``j``'s sample weights divided by their sum, zero
        on rows the model does not train on. X's dtype.
    n_classes : int
        2 for sigmoid models, K >= 3 for softmax models.
    l2, l1 : ndarray of shape (n_models,)
        Penalty strengths ``(1 - l1_ratio)/(C S_j)`` and ``l1_ratio/(C S_j)``.
    fit_intercept : bool
        Whether ``theta`` carries an (unpenalized) intercept row.
    mean, scale : ndarray of shape (n_features, n_models), default=None
        Each model's diagonal preconditioner, as in :mod:`._numpy`
        (``w = w' / scale``, ``b = b' - mean . w``); None: the plain step.
    grad_scale : ndarray of shape (n_features, n_models), default=None
        The chain rule's factor that goes with them (see
        :func:`._coordinates.diagonal_coordinates`).
    n_threads : int, default=1
        OpenMP threads sharing the row blocks of dense X, each calling BLAS:
        give BLAS one thread then (threadpoolctl).
    held_out : ndarray of shape (n_samples, n_models), default=None
        Column ``j``: model ``j``'s held-out weights divided by their sum,
        zero on the rows it is not evaluated on; X's dtype. Then
        :meth:`value_grad_held_out` gives each model's held-out cost too.
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
        held_out=None,
    ):
        self._pass = BatchedPass(
            X, y, weights, n_classes=n_classes, n_threads=n_threads, held_out=held_out
        )
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
        if scale is not None:
            self._mean = mean.astype(self.dtype)[:, :, None]
            self._scale = scale.astype(self.dtype)[:, :, None]
            self._grad_scale = grad_scale.astype(self.dtype)[:, :, None]

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
        sub._pass = self._pass.subset(keep)
        for name in ("_mean", "_scale", "_grad_scale"):
            value = getattr(self, name, None)
            if value is not None:
                setattr(sub, name, np.ascontiguousarray(value[:, keep]))
        for name in ("l2", "_l2", "l1"):
            setattr(sub, name, getattr(self, name)[keep])
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
        """``J`` per model and the gradient of its smooth part (see
        :meth:`value_grad_held_out`)."""
        return self.value_grad_held_out(theta)[:2]

    def value_grad_held_out(self, theta):
        """``J`` per model, the gradient of its smooth part, the held-out cost.

        Every model's weighted loss and sums ``X.T @ R``, ``sum R`` at
        ``(w, b)`` come from one pass over X (``BatchedPass.loss_grad``);
        added here: the penalty, the L2 term of the gradient and, with a
        preconditioner, the chain rule to the solver's coordinates.

        Returns
        -------
        J : ndarray of shape (n_models,), float64
        grad : ndarray of shape (n_dof, n_models, n_out)
            ``(dw, db)`` for every model, in X's dtype.
        held_out : ndarray of shape (n_models,), float64, or None
            The weighted mean loss (no penalty) of each model's held-out
            rows, from the same pass over X; None without ``held_out``.
        """
        d, n_models = self.n_features, theta.shape[1]
        w, b = self.to_original(theta)
        W, b = np.ascontiguousarray(w).reshape(d, -1), b.reshape(-1)
        loss, dw, db, held_out = self._pass.loss_grad(W, b)
        J = loss + self._penalty(w)
        dw = dw.reshape(d, n_models, self.n_out)
        dw += self._l2[:, None] * w
        db = db.reshape(1, n_models, self.n_out)
        if self.scale is not None:  # chain rule through w = w'/scale, b = ...
            dw = (dw - self._mean * db) * self._grad_scale
        grad = [dw, db] if self.fit_intercept else [dw]
        return J, np.concatenate(grad).astype(self.dtype, copy=False), held_out

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


def diagonal_preconditioner(X, weights, l2, *, n_classes, fit_intercept):
    """Per-model ``mean`` and ``scale`` of :mod:`._numpy`'s diagonal step.

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
        weights alone (:func:`._coordinates.diagonal_coordinates`).
        Models with the same weights share one computation.
    """
    unique, inverse = np.unique(weights, axis=1, return_inverse=True)
    mean, var = batched_column_moments(X, unique.astype(np.float64))
    return diagonal_coordinates(
        mean[:, inverse.ravel()],
        var[:, inverse.ravel()],
        l2=l2,
        curvature=CURVATURE_BOUND["binary" if n_classes == 2 else "multinomial"],
        fit_intercept=fit_intercept,
    )
