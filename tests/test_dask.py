"""Fits on dask arrays: the in-memory iterates, blockwise, on a cluster.

The oracle is the in-memory fit on the same data (itself checked against
the lecture's update and LogisticRegression elsewhere): the dask path must
reproduce its iterates, cost history and step, to rounding.
"""

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning

from sklearn_gdlogreg import GDLogisticRegression

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("dask.distributed")

# The two paths do the same float64 arithmetic, except that the block sums
# are added in a different order (rounding ~1e-16 relative per pass); over
# 15 contracting iterations that stays far below 1e-10.
RTOL = 1e-10
CHUNK = 150


@pytest.fixture(scope="module")
def client():
    """A LocalCluster with 2 worker processes, closed after the module."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=600, n_features=8, n_informative=5, n_classes=3, random_state=0
    )
    s = np.random.default_rng(0).uniform(0.5, 2.0, size=y.size)
    return X, y, s


CONFIGS = [
    dict(alpha=0.5),
    dict(),  # alpha="auto": Lanczos step bound and diagonal preconditioner
    dict(solver="nesterov"),
    dict(solver="nesterov", l1_ratio=0.5, C=0.5, class_weight="balanced"),
    dict(fit_intercept=False, preconditioner="diagonal", alpha=0.3),
]


def _assert_same_fit(a, b):
    np.testing.assert_array_equal(a.classes_, b.classes_)
    np.testing.assert_allclose(b.coef_, a.coef_, rtol=RTOL, atol=1e-13)
    np.testing.assert_allclose(b.intercept_, a.intercept_, rtol=RTOL, atol=1e-13)
    np.testing.assert_allclose(b.cost_history_, a.cost_history_, rtol=RTOL)
    assert b.n_iter_ == a.n_iter_
    assert b.alpha_ == pytest.approx(a.alpha_, rel=RTOL)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("params", CONFIGS)
def test_cluster_fit_equals_in_memory_fit(client, data, params, n_classes):
    X, y, s = data
    y = y if n_classes == 3 else (y == 1).astype(int)
    est = GDLogisticRegression(max_iter=15, **params)
    in_memory = est.fit(X, y, sample_weight=s)
    on_cluster = GDLogisticRegression(max_iter=15, **params).fit(
        da.from_array(X, chunks=(CHUNK, 4)),  # column chunks get merged
        da.from_array(y, chunks=CHUNK),
        sample_weight=da.from_array(s, chunks=CHUNK),
    )
    _assert_same_fit(in_memory, on_cluster)
    assert isinstance(on_cluster.coef_, np.ndarray)


def test_float32_and_numpy_labels_threaded(data):
    X, y, _ = data
    X32 = X.astype(np.float32)
    with pytest.warns(ConvergenceWarning):
        a = GDLogisticRegression(max_iter=20).fit(X32, y)
    with pytest.warns(ConvergenceWarning):
        b = GDLogisticRegression(max_iter=20).fit(da.from_array(X32, chunks=100), y)
    assert b.coef_.dtype == np.float32
    # float32 sums in a different order: ~1e-7 relative per pass.
    np.testing.assert_allclose(b.coef_, a.coef_, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("where", ["threads", "cluster"])
def test_only_small_results_reach_the_client(where, data, monkeypatch, request):
    # Every computed result that comes back to the client is recorded: none
    # may be n-sized (X, raw predictions, residuals stay in the blocks).
    # Threaded scheduler: graphs computed; cluster: also the per-worker sums
    # of the block actors (one call per worker and pass).
    import dask
    import dask.base

    from sklearn_gdlogreg._numerics._dask_blocks import _BlockActors

    sizes, actor_calls = [], []
    compute = dask.base.compute
    results = _BlockActors.results

    def recording_compute(*args, **kwargs):
        out = compute(*args, **kwargs)
        sizes.extend(np.size(r) for r in out)
        return out

    def recording_results(self, *args):
        out = results(self, *args)
        sizes.extend(np.size(r) for r in out)
        actor_calls.append(len(out))
        return out

    monkeypatch.setattr(dask.base, "compute", recording_compute)
    monkeypatch.setattr(dask, "compute", recording_compute)
    monkeypatch.setattr(_BlockActors, "results", recording_results)
    if where == "cluster":
        request.getfixturevalue("client")
    X, y, _ = data
    with (
        dask.config.set(scheduler="threads" if where == "threads" else None),
        pytest.warns(ConvergenceWarning),
    ):
        GDLogisticRegression(solver="nesterov", max_iter=10).fit(
            da.from_array(X, chunks=CHUNK), da.from_array(y, chunks=CHUNK)
        )
    assert len(sizes) > 10  # the recorders saw the passes
    # On the cluster, the passes went through the actors (one per worker).
    assert (len(actor_calls) > 10) == (where == "cluster")
    assert set(actor_calls) <= {1, 2}
    # At most one d-sized row per block: [J, J at Nesterov's point,
    # X_b.T @ R_b, sum R_b], 3 classes.
    n_blocks, width = X.shape[0] // CHUNK, 2 + (X.shape[1] + 1) * 3
    assert max(sizes) <= n_blocks * width < X.shape[0]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_predictions_are_lazy_and_equal_in_memory(client, data):
    X, y, _ = data
    est = GDLogisticRegression(alpha=0.5, max_iter=200).fit(X, y)
    Xd = da.from_array(X, chunks=CHUNK)
    for method in ["predict", "predict_proba", "predict_log_proba"]:
        lazy = getattr(est, method)(Xd)
        assert isinstance(lazy, da.Array), method
        np.testing.assert_allclose(lazy.compute(), getattr(est, method)(X))
    binary = GDLogisticRegression(alpha=0.5).fit(X, y == 1)
    scores = binary.decision_function(Xd)
    assert isinstance(scores, da.Array) and scores.shape == (X.shape[0],)
    np.testing.assert_allclose(scores.compute(), binary.decision_function(X))


def test_bad_dask_input_gives_clear_errors(data):
    X, y, _ = data
    Xd = da.from_array(X, chunks=CHUNK)
    unknown = Xd[Xd[:, 0] > 0]  # chunk sizes unknown until computed
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        GDLogisticRegression().fit(unknown, y)
    with pytest.raises(ValueError, match="y must have shape"):
        GDLogisticRegression().fit(Xd, da.from_array(y[:10]))
    X_nan = X.copy()
    X_nan[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        GDLogisticRegression().fit(da.from_array(X_nan, chunks=CHUNK), y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        GDLogisticRegression().fit(Xd, np.zeros(X.shape[0]))


def test_cholesky_preconditioner_refused_for_dask(data):
    X, y, _ = data
    with pytest.raises(ValueError, match="preconditioner='cholesky' is not supp"):
        GDLogisticRegression(preconditioner="cholesky").fit(
            da.from_array(X, chunks=CHUNK), y
        )
