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
