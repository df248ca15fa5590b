"""A dask fit's input: validated and weighted lazily, nothing n-sized gathered.

:func:`prepare_dask` checks X, y and the weights where their blocks live and
builds a :class:`~.._objective._dask.DaskLogisticObjective`; only the
classes, the class counts and a few scalars reach the client.
"""

import numpy as np
from sklearn.utils.multiclass import check_classification_targets

from .._objective._dask import DaskLogisticObjective
from ._checks import check_two_classes, check_weight_sum, class_weights


def prepare_dask(X, y, sample_weight, *, class_weight, cost):
    """Validate dask inputs and build the objective, gathering nothing n-sized.

    X, y and the weights are persisted where they are computed (on the
    cluster's workers); only the classes, class counts and a few scalars
    come back to the client.

    Parameters are those of :func:`._numpy.prepare_numpy`, X a dask array
    (y and sample_weight dask arrays too, or NumPy ones).

    Returns
    -------
    objective : DaskLogisticObjective
    classes : ndarray of shape (n_classes,)

    Raises
    ------
    TimeoutError
        A worker holding blocks of X did not answer within the dask setting
        ``sklearn_gdlogreg.timeout`` (default ``"10 minutes"``); the
        message names it. Also raised later, by a pass of the fit.
    RuntimeError
        Workers holding blocks kept leaving the cluster (a worker that
        leaves once has its blocks recomputed on the others).
    """
    import dask
    import dask.array as da

    if X.ndim != 2 or any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError(
            f"X must be a 2-D dask array with known chunk sizes, got shape "
            f"{X.shape}; call X.compute_chunk_sizes() first."
        )
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    rows = X.chunks[0]
    y = da.asarray(y)
    if y.shape != X.shape[:1]:
        raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}.")
    y = y.rechunk((rows,))
    s = (
        da.ones(X.shape[0], chunks=(rows,))
        if sample_weight is None
        else da.asarray(sample_weight).astype(np.float64).rechunk((rows,))
    )
    if s.shape != X.shape[:1]:
        raise ValueError(f"sample_weight must have shape ({X.shape[0]},).")
    X, y, s = dask.persist(X.rechunk({1: -1}), y, s)  # read X's source once
    classes, finite, negative = dask.compute(
        da.unique(y), da.isfinite(X).all(), (s < 0).any()
    )
    if not finite:
        raise ValueError("Input X contains NaN or infinity.")
    if negative:
        raise ValueError("Negative values in data passed to `sample_weight`.")
    classes = np.unique(classes)
    check_classification_targets(classes)
    check_two_classes(classes)
    y_enc = y.map_blocks(_encode, classes=classes, dtype=np.intp)
    s = _class_weighted(class_weight, s, y_enc, classes, cost["C"])
    objective = DaskLogisticObjective(
        X,
        (y_enc == 1).astype(X.dtype) if classes.size == 2 else y_enc,
        s,
        n_classes=classes.size,
        **cost,
    )
    return objective, classes


def _encode(y_b, classes):
    return np.searchsorted(classes, y_b)


def _take(i_b, table):
    return table[i_b]


def _class_weighted(class_weight, s, y_enc, classes, C):
    """``s_i`` times the weight of sample i's class, lazily; checked
    (:func:`._checks.check_weight_sum`)."""
    import dask.array as da

    if class_weight is None:
        cw = np.ones(classes.size)
    elif isinstance(class_weight, str):  # "balanced": S / (K S_k), as sklearn's
        per_class = da.bincount(y_enc, weights=s, minlength=classes.size).compute()
        with np.errstate(divide="ignore"):
            cw = per_class.sum() / (classes.size * per_class)
    else:
        cw = class_weights(class_weight, classes=classes, y=classes, sample_weight=None)
    # A class whose samples all weigh zero gets an infinite balanced weight;
    # its samples keep weight zero.
    s = da.where(s > 0, s * y_enc.map_blocks(_take, table=cw, dtype=cw.dtype), 0.0)
    blocks = ((1,) * s.numblocks[0], (2,))
    stats = s.map_blocks(_weight_stats, chunks=blocks, new_axis=1).compute()
    with np.errstate(over="ignore"):  # an overflowing sum is reported
        total = float(stats[:, 0].sum())
    smallest = float(stats[:, 1].min())
    check_weight_sum(total, smallest if np.isfinite(smallest) else 0.0, C)
    return s


def _weight_stats(s_b):
    """A block's weight sum and smallest positive weight (quietly: an
    overflowing sum is reported by the caller)."""
    with np.errstate(over="ignore"):
        return np.array([[np.sum(s_b), np.min(s_b, where=s_b > 0, initial=np.inf)]])
