"""The solvers' coordinates: the diagonal and the full (Cholesky) preconditioners.

The diagonal one (:func:`diagonal_coordinates`) centres and scales each
column: ``w = theta / scale``, ``b = b' - mean . w``. It is the same formula
for every array library (NumPy, dask, array API, the batched CV), written
once here.

The full (Cholesky) preconditioner: whitened solver coordinates.

With the weighted mean ``mean`` of the columns (zero without an intercept)
and the lower-triangular Cholesky factor ``R`` of::

    Sigma = (X - mean)^T diag(s) (X - mean) + (l2 / c) I = R R^T

(``s`` the normalized sample weights, ``c`` the loss's curvature bound), the
solvers work in coordinates ``theta' = (w', b')`` with::

    w = R^{-T} w',    b = b' - mean . w

so that ``X @ w + b = ((X - mean) R^{-T}) @ w' + b'``: gradient descent on
implicitly centred and *whitened* features. X is never copied or modified;
the penalty stays on the original ``w`` (same minimiser).

Why the step ``1/c`` is exact
-----------------------------
In these coordinates the Hessian of the data term is at most
``c A^T diag(s) A`` with ``A = [(X - mean) R^{-T}, 1]``. The centred columns
are weighted-orthogonal to the intercept column (``(X - mean)^T s = 0``), so
``A^T diag(s) A = blockdiag(R^{-1} M R^{-T}, 1)`` with ``M`` the weighted
centred Gram matrix, and the L2 term adds ``l2 R^{-1} R^{-T}``. Together::

    H <= blockdiag(R^{-1} (c M + l2 I) R^{-T}, c) = c I,

exactly, since ``c M + l2 I = c Sigma = c R R^T``. The tiny ridge added to
``Sigma`` (for constant or collinear columns without a penalty) only makes
``Sigma`` larger, so the bound still holds.
"""

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from .._numerics import single_threaded_blas, weighted_gram
from ._penalty import soft_threshold

# Largest n_features for which Sigma (d x d, float64) is formed and factored.
MAX_FEATURES = 2000
# Ridge added to Sigma, relative to its mean diagonal: keeps the factorization
# defined for constant or collinear columns when l2 = 0, and changes nothing
# that matters otherwise (directions this flat are not worth preconditioning).
_RIDGE_RTOL = 1e-10


def resolve_preconditioner(preconditioner, alpha, kind=None):
    """The coordinates a fit works in: ``"auto"`` resolved, support checked.

    Parameters
    ----------
    preconditioner : {"auto", "diagonal", "cholesky"} or None
        The estimator's parameter.
    alpha : float or "auto"
        The estimator's learning rate.
    kind : str, optional
        An input other than in-memory NumPy/SciPy (``"dask"``,
        ``"array-API"``), which supports the plain and diagonal coordinates
        only: ``"cholesky"`` (a dense d x d factorization on the host) is
        refused with a clear error.

    Returns
    -------
    {"diagonal", "cholesky"} or None
        ``"auto"`` is ``"diagonal"`` for ``alpha="auto"`` and the plain
        coordinates for a fixed alpha, which is then exactly the lecture's
        step.
    """
    if preconditioner == "auto":
        return "diagonal" if alpha == "auto" else None
    if kind is not None and preconditioner not in (None, "diagonal"):
        raise ValueError(
            f"preconditioner={preconditioner!r} is not supported for {kind} "
            "input; use preconditioner='diagonal' (or 'auto'), or NumPy input."
        )
    return preconditioner


def coef_and_intercept(w, b, *, centre=True, xp=np, as_output=np.ascontiguousarray):
    """``coef_`` and ``intercept_`` of a fitted model from its ``(w, b)``.

    Parameters
    ----------
    w : array of shape (n_features, n_out)
    b : array of shape (n_out,)
    centre : bool, default=True
        Softmax is invariant to a common shift of ``b``: multinomial
        intercepts are returned centred (summing to 0), as
        LogisticRegression's. ``partial_fit`` keeps ``b`` as its update
        leaves it (False): the next call steps from there.
    xp : namespace, default=numpy
    as_output : callable, default=numpy.ascontiguousarray
        Makes the fitted attribute (the objective's ``as_output``).

    Returns
    -------
    coef : array of shape (n_out, n_features)
    intercept : array of shape (n_out,)

    Examples
    --------
    >>> coef, intercept = coef_and_intercept(np.ones((2, 3)), np.array([1.0, 2, 3]))
    >>> coef.shape, intercept
    ((3, 2), array([-1.,  0.,  1.]))
    """
    if centre and b.shape[0] > 1:
        b = b - xp.mean(b)
    return as_output(w.T), as_output(b)


def diagonal_coordinates(mean, var, *, l2, curvature, fit_intercept, xp=np):
    """Shift and scale of the diagonal preconditioner, from column moments.

    Parameters
    ----------
    mean, var : array of shape (n_features,) or (n_features, n_models)
        Weighted column means and variances (a constant column's variance
        exactly zero: see :func:`._numerics.weighted_column_moments`).
    l2 : float or array of shape (n_models,)
        L2 penalty strength of the cost.
    curvature : float
        The loss's curvature bound ``c``.
    fit_intercept : bool
        Centre the columns (the shift is absorbed in the intercept).
    xp : namespace
        The arrays' library (array API).

    Returns
    -------
    mean, scale : arrays of the shape of ``mean``
        ``scale = sqrt(var + l2 / c)``, the root of the Hessian bound's
        diagonal in centred coordinates; 1 where that is zero (a constant
        column without a penalty, whose centred values are zero).
    grad_scale : array of the shape of ``mean``
        The chain rule's factor ``d theta = dw * grad_scale``: ``1 / scale``,
        and 0 for those constant columns. Their gradient is zero exactly
        (``c sum R - c sum R``); computed, it is the rounding error of that
        difference, which would move the coefficient by about
        ``eps * |c|`` per iteration (3e-6 after 2,000 iterations for
        ``c = 3e7``, 100 in the decision function, offset by the intercept).
    """
    if not fit_intercept:
        # Without an intercept the shift cannot be absorbed in b: scale by
        # the root mean square instead of the std.
        var, mean = var + mean**2, xp.zeros_like(mean)
    scale = xp.sqrt(var + l2 / curvature)
    constant = scale == 0.0
    scale = xp.where(constant, xp.ones_like(scale), scale)
    return mean, scale, xp.where(constant, xp.zeros_like(scale), 1.0 / scale)


def original_gradient(dw, db, *, scale, mean, w, l1, xp=np):
    """The gradient of ``J`` in the user's coordinates ``(w, b)``: the ``w`` part.

    What ``tol`` bounds (the intercept's part is ``db`` itself), as
    LogisticRegression's lbfgs bounds its gradient: the solvers' chain rule
    ``dw' = (dJ/dw - mean db) / scale`` undone, a d-sized operation::

        dJ/dw = scale * dw' + mean * db

    (``R dw'`` in place of ``scale * dw'`` for the Cholesky coordinates: the
    caller passes ``R dw'`` and ``scale=1``). With an L1 penalty, the
    minimum-norm subgradient: ``dJ/dw + l1 sign(w)`` where ``w != 0``, the
    soft-threshold of ``dJ/dw`` by ``l1`` where ``w = 0``; zero exactly at
    the optimum.

    Parameters
    ----------
    dw : array of shape (n_features, ..., n_out)
        The smooth part's gradient in the solver's coordinates.
    db : array of shape (..., n_out) or None
        The intercept's gradient (None without an intercept).
    scale, mean : arrays broadcasting against ``dw``
        The diagonal coordinates (:func:`diagonal_coordinates`).
    w : array of the shape of ``dw`` or None
        The weights in the user's coordinates; None without an L1 penalty
        (then ``l1`` is not read: this runs every iteration, and on small
        data each microsecond counts).
    l1 : float or array broadcasting against ``dw``
        The L1 penalty strength.
    xp : namespace

    Returns
    -------
    array of the shape of ``dw``
    """
    g = dw * scale
    if db is not None:
        g = g + mean * db
    if w is None:
        return g
    return xp.where(w != 0, g + l1 * xp.sign(w), soft_threshold(g, l1, xp))


def cholesky_applies(X, l1):
    """Whether ``preconditioner="cholesky"`` can be used for this problem."""
    try:
        check_cholesky_applicable(X, l1)
    except ValueError:
        return False
    return True


def check_cholesky_applicable(X, l1):
    """Raise ValueError when the Cholesky preconditioner cannot be used."""
    if sp.issparse(X):
        raise ValueError(
            "preconditioner='cholesky' needs dense X (centring and whitening "
            "a sparse matrix would be dense); got a sparse matrix. Use "
            "preconditioner='diagonal', or densify X with X.toarray()."
        )
    if l1 > 0.0:
        raise ValueError(
            "preconditioner='cholesky' supports only the L2 penalty "
            "(l1_ratio=0): the L1 proximal step is not separable in whitened "
            "coordinates. Use preconditioner='diagonal' with l1_ratio > 0."
        )
    if X.shape[1] > MAX_FEATURES:
        raise ValueError(
            f"preconditioner='cholesky' forms a n_features x n_features "
            f"matrix and is limited to n_features <= {MAX_FEATURES}; got "
            f"n_features={X.shape[1]}. Use preconditioner='diagonal'."
        )


class CholeskyPreconditioner:
    """Change of coordinates ``w = R^{-T} w'`` (see the module docstring).

    Parameters
    ----------
    mean : ndarray of shape (n_features,)
        Weighted column means (zero without an intercept).
    R : ndarray of shape (n_features, n_features)
        Lower-triangular Cholesky factor of ``Sigma``.

    Notes
    -----
    ``R^{-1}`` is formed once (a triangular solve against the identity) and
    applied by NumPy's matrix product: every iteration maps coefficients and
    gradients, and on small problems a SciPy triangular solve per call costs
    more than the rest of the iteration. Triangular inverses are about as
    accurate as the solves in practice (Higham, *Accuracy and Stability of
    Numerical Algorithms*, ch. 8).
    """

    def __init__(self, mean, R):
        self.mean, self.R = mean, R
        eye = np.eye(R.shape[0])
        self.R_inv = scipy.linalg.solve_triangular(R, eye, lower=True)
        self._R_inv_T = np.ascontiguousarray(self.R_inv.T)

    @classmethod
    def from_data(cls, X, s, *, l2, curvature, fit_intercept):
        """Form ``Sigma`` from X (two blocked passes) and factor it.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        s : ndarray of shape (n_samples,)
            Normalized sample weights (sum one).
        l2 : float
            L2 penalty strength of the cost.
        curvature : float
            The loss's curvature bound ``c``.
        fit_intercept : bool
            Centre the columns (the shift is absorbed in the intercept).

        Returns
        -------
        CholeskyPreconditioner
        """
        d = X.shape[1]
        # One BLAS thread, as in the fused pass: ~0.1 s for 200,000 x 100,
        # where BLAS's own threads stall for seconds on a busy machine.
        with single_threaded_blas():
            mean, Sigma = weighted_gram(X, s, center=fit_intercept)
            mean_diag = float(np.trace(Sigma)) / d if d else 0.0
            ridge = l2 / curvature + _RIDGE_RTOL * (mean_diag or 1.0)
            Sigma[np.diag_indices(d)] += ridge
            R = scipy.linalg.cholesky(Sigma, lower=True, check_finite=False)
            return cls(mean, R)

    def to_original(self, w_prime):
        """``w = R^{-T} w'`` for ``w'`` of shape (n_features, n_out)."""
        return self._R_inv_T @ w_prime

    def from_original(self, w):
        """``w' = R^T w`` (inverse of :meth:`to_original`)."""
        return self.R.T @ w

    def chain(self, dw):
        """Gradient in ``w'`` from the gradient ``dw`` in ``w``: ``R^{-1} dw``."""
        return self.R_inv @ dw

    def unchain(self, dw_prime):
        """Inverse of :meth:`chain`: ``R dw'``."""
        return self.R @ dw_prime
