"""Per-sample cross-entropy and its derivative, in raw-prediction space.

The raw prediction ``z`` is the decision value ``X @ w + b``. Everything here
is elementwise (binary) or row-wise (multinomial) and numerically stable for
``z`` of any magnitude: no overflow, no ``log(0)``, no NaN.

Binary, with ``y`` in {0, 1}::

    L(z, y) = -(y log sigmoid(z) + (1 - y) log(1 - sigmoid(z)))
            = log(1 + exp(z)) - y z  =  logaddexp(0, z) - y z
    dL/dz   = sigmoid(z) - y

Multinomial, with ``Y`` one-hot over K classes::

    L(z, y) = logsumexp(z) - z[y]
    dL/dz   = softmax(z) - Y

:func:`loss_sum` and :func:`loss_and_residual` write these formulas in any
array-API namespace (the array-API objective, :mod:`._array_api`). The
passes that read X fuse them into their loop over the rows, each in its own
code, the same formulas:

- :mod:`.._numerics._fused` (``_binary_loss``, ``_binary_sample``,
  ``_row_terms``): the in-memory and dask objectives (:mod:`._numpy`,
  :mod:`._dask`);
- :mod:`.._numerics._batched_kernels` (``_binary_uniform``,
  ``_binary_masked``, ``_binary_weighted``, ``_multinomial``, with the row
  loops of ``_batched_rows.h``) and its NumPy blocks in
  :mod:`.._numerics._batched_passes` (``_binary_block``,
  ``_weighted_log1p``, ``_multinomial_block``): many models at once, for
  the CV.
"""

# Largest eigenvalue of the per-sample Hessian d^2 L / dz^2: sigmoid' <= 1/4;
# for softmax, diag(p) - p p^T has eigenvalues <= 1/2.
CURVATURE_BOUND = {"binary": 0.25, "multinomial": 0.5}


def loss_sum(xp, Z, Y, s, kind):
    """``sum_i s_i L(z_i, y_i)`` at raw predictions ``Z`` (a 0-d array of xp).

    ``Z`` and the one-hot labels ``Y`` have shape (n_samples, n_out) (one
    column, the positive class, for ``kind="binary"``); ``s`` the weights.
    """
    if kind == "binary":
        e = xp.exp(-xp.abs(Z))  # stable: log(1 + e^z) = max(z, 0) + log1p(e)
        loss = _positive_part(xp, Z) + xp.log1p(e) - Y * Z
    else:
        m = xp.max(Z, axis=1, keepdims=True)
        log_norm = xp.log(xp.sum(xp.exp(Z - m), axis=1, keepdims=True)) + m
        loss = log_norm - xp.sum(Y * Z, axis=1, keepdims=True)
    return xp.sum(s * loss[:, 0])


def loss_and_residual(xp, Z, Y, s, kind, Z_grad=None):
    """:func:`loss_sum` at ``Z`` and the residual ``R = s (dL/dz)`` at ``Z_grad``.

    ``Z_grad`` (Nesterov's extrapolated point) defaults to ``Z``. ``R`` has
    ``Z``'s shape.
    """
    Z_grad = Z if Z_grad is None else Z_grad
    if kind == "binary":
        e = xp.exp(-xp.abs(Z_grad))
        P = xp.where(Z_grad >= 0, 1.0 / (1.0 + e), e / (1.0 + e))  # sigmoid
    else:
        m = xp.max(Z_grad, axis=1, keepdims=True)
        E = xp.exp(Z_grad - m)
        P = E / xp.sum(E, axis=1, keepdims=True)  # softmax
    return loss_sum(xp, Z, Y, s, kind), s[:, None] * (P - Y)


def _positive_part(xp, a):
    """``max(a, 0)``, exactly (a scalar operand is not portable to maximum)."""
    return (a + xp.abs(a)) / 2
