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

# Largest eigenvalue of the per-sample Hessian d^2 L / dz^2: sigmoid' <= 1/4;
# for softmax, diag(p) - p p^T has eigenvalues <= 1/2.
CURVATURE_BOUND = {"binary": 0.25, "multinomial": 0.5}
