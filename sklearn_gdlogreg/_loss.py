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
"""

import numpy as np
from scipy.special import expit, logsumexp, softmax

# Largest eigenvalue of the per-sample Hessian d^2 L / dz^2: sigmoid' <= 1/4;
# for softmax, diag(p) - p p^T has eigenvalues <= 1/2.
CURVATURE_BOUND = {"binary": 0.25, "multinomial": 0.5}


def binary_loss_gradient(z, y):
    """Per-sample binary cross-entropy and ``dL/dz`` at raw predictions ``z``.

    Parameters
    ----------
    z : ndarray of shape (n_samples,)
        Raw predictions (decision values).
    y : ndarray of shape (n_samples,)
        Labels encoded as 0.0 / 1.0, same dtype as ``z``.

    Returns
    -------
    loss : ndarray of shape (n_samples,)
    dz : ndarray of shape (n_samples,)
        ``sigmoid(z) - y``.
    """
    # log(1 + e^z) - y z, written so that the large term never cancels:
    # for y = 1 it is log(1 + e^-z), for y = 0 it is log(1 + e^z).
    loss = np.logaddexp(0, np.where(y > 0, -z, z))
    dz = expit(z)
    dz -= y
    return loss, dz


def multinomial_loss_gradient(Z, y):
    """Per-sample multinomial cross-entropy and ``dL/dZ`` at raw predictions.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_classes)
        Raw predictions, one column per class.
    y : ndarray of shape (n_samples,), dtype int
        Class indices in ``[0, n_classes)``.

    Returns
    -------
    loss : ndarray of shape (n_samples,)
    dZ : ndarray of shape (n_samples, n_classes)
        ``softmax(Z) - Y`` with ``Y`` the one-hot encoding of ``y``.
    """
    rows = np.arange(Z.shape[0])
    loss = logsumexp(Z, axis=1) - Z[rows, y]
    dZ = softmax(Z, axis=1)
    dZ[rows, y] -= 1
    return loss, dZ


def binary_proba(z):
    """Probability of the positive class, ``sigmoid(z)``, stable for any z."""
    return expit(z)


def multinomial_proba(Z):
    """Class probabilities, ``softmax(Z)`` after subtracting the row max."""
    return softmax(Z, axis=1)


# --------------------------------------------------------------------------
# Fused block kernels: the per-sample work of one iteration on a block of
# rows, written into preallocated buffers. ``exp`` is computed once per
# sample and shared by the loss and the sigmoid/softmax.
#
# Binary, with e = exp(-|z|) and d = 1 + e:
#     L(z, y)    = max(z, 0) + log(d) - y z
#     sigmoid(z) = 1/d if z >= 0 else 1 - 1/d  =  1/2 + copysign(1/d - 1/2, z)
# (the second form is exact to one rounding in absolute terms, which is all a
# residual ``sigmoid(z) - y`` needs).


def _one_plus_exp_neg_abs(z, out):
    """``out = 1 + exp(-|z|)``, in place, no temporaries."""
    np.abs(z, out=out)
    np.negative(out, out=out)
    np.exp(out, out=out)
    out += 1.0
    return out


def binary_block(z, y_s, s, r, work, z_grad=None):
    """Weighted loss sum at ``z`` and residual at ``z_grad``, in place.

    Parameters
    ----------
    z : ndarray of shape (m,)
        Raw predictions where the loss is evaluated.
    y_s : ndarray of shape (m,)
        ``s * y``, the weighted 0/1 labels.
    s : ndarray of shape (m,)
        Normalized sample weights.
    r : ndarray of shape (m,)
        Output: ``s * (sigmoid(z_grad) - y)``, the weighted residual.
    work : ndarray of shape (m,)
        Scratch buffer.
    z_grad : ndarray of shape (m,), optional
        Raw predictions where the residual is taken; defaults to ``z``.

    Returns
    -------
    value : float
        ``sum_i s_i L(z_i, y_i)``.
    """
    d = _one_plus_exp_neg_abs(z, work)
    np.log(d, out=r)
    value = float(np.dot(s, r))
    np.maximum(z, 0.0, out=r)
    value += float(np.dot(s, r)) - float(np.dot(y_s, z))
    if z_grad is not None:
        d = _one_plus_exp_neg_abs(z_grad, work)
    else:
        z_grad = z
    np.reciprocal(d, out=r)
    r -= 0.5
    np.copysign(r, z_grad, out=r)
    r += 0.5
    r *= s
    r -= y_s
    return value


def _softmax_into(Z, out):
    """``out = softmax(Z)`` row-wise; returns ``log(sum(exp(Z - max)))+max``."""
    z_max = Z.max(axis=1)
    np.subtract(Z, z_max[:, None], out=out)
    np.exp(out, out=out)
    total = out.sum(axis=1)
    out /= total[:, None]
    np.log(total, out=total)
    total += z_max
    return total


def multinomial_block(Z, y, s, R, work, Z_grad=None):
    """Multinomial counterpart of :func:`binary_block`.

    ``Z``, ``R``, ``work`` and ``Z_grad`` have shape (m, n_classes); ``y``
    holds class indices. ``R`` receives ``s * (softmax(Z_grad) - Y)``.
    """
    rows = np.arange(Z.shape[0])
    log_norm = _softmax_into(Z, R)  # logsumexp(Z) per row
    value = float(np.dot(s, log_norm)) - float(np.dot(s, Z[rows, y]))
    if Z_grad is not None:
        _softmax_into(Z_grad, R)
    R *= s[:, None]
    R[rows, y] -= s
    return value
