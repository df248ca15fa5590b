"""Every input container and layout gives the same fit; X is never touched."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.preprocessing import LabelEncoder

from sklearn_gdlogreg import GDLogisticRegression

# Converged fits from the same start reach the same point; only summation
# order differs between layouts, a 1e-15 relative effect that the contraction
# of the iteration keeps below 1e-8 after a tight fit.
FIT = dict(solver="nesterov", tol=1e-10, max_iter=20_000)


@pytest.fixture(scope="module")
def data():
    X, y = np.random.default_rng(0).normal(size=(400, 8)), None
    w = np.arange(8) - 3.5
    y = (X @ w + np.random.default_rng(1).normal(scale=2, size=400) > 0).astype(int)
    X[:, 3] *= 50.0
    return X, y


@pytest.fixture(scope="module")
def dense_fit(data):
    X, y = data
    return GDLogisticRegression(**FIT).fit(X, y)


@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csc_matrix, sp.csr_array])
def test_sparse_equals_dense(data, dense_fit, container):
    X, y = data
    X = X.copy()
    X[np.abs(X) < 0.5] = 0.0  # actually sparse
    dense = GDLogisticRegression(**FIT).fit(X, y)
    Xs = container(X)
    est = GDLogisticRegression(**FIT).fit(Xs, y)
    # Both fits converge to tol=1e-10, but not along the same iterates: the
    # step bound's Lanczos adds two directions per pass over dense X and one
    # over sparse X, so alpha_ differs in its third digit. They agree to the
    # solver's precision: coefficients to 1e-8 relative; probabilities too,
    # except the smallest (~1e-7), whose relative error is that of z (~1e-8
    # absolute), hence an absolute floor far below any probability that
    # matters.
    assert_allclose(est.coef_, dense.coef_, rtol=1e-8)
    assert_allclose(
        est.predict_proba(Xs), dense.predict_proba(X), rtol=1e-8, atol=1e-12
    )


def test_sparse_is_never_densified(monkeypatch, data):
    X, y = data
    Xs = sp.csr_matrix(X)

    def refuse(*args, **kwargs):
        raise AssertionError("X was densified")

    monkeypatch.setattr(type(Xs), "toarray", refuse)
    monkeypatch.setattr(type(Xs), "todense", refuse)
    GDLogisticRegression(max_iter=20, tol=0.5).fit(Xs, y)


def test_float32_stays_float32(data, dense_fit):
    X, y = data
    X32 = X.astype(np.float32)
    # tol=1e-6: the stopping error (~tol / mu) well below the bound below;
    # at tol=1e-4 float64 itself is 2.6e-3 away from the tight fit.
    est = GDLogisticRegression(solver="nesterov", tol=1e-6).fit(X32, y)
    assert est.coef_.dtype == np.float32 and est.intercept_.dtype == np.float32
    assert est.decision_function(X32).dtype == np.float32
    assert est.predict_proba(X32).dtype == np.float32
    # float32 rounding (6e-8) in a gradient of 400 terms: 1e-3 relative.
    assert_allclose(est.coef_, dense_fit.coef_, rtol=1e-3, atol=1e-3)


def test_fortran_order_and_lists(data, dense_fit):
    X, y = data
    est = GDLogisticRegression(**FIT).fit(np.asfortranarray(X), y)
    assert_allclose(est.coef_, dense_fit.coef_, rtol=1e-8)
    est = GDLogisticRegression(**FIT).fit(X.tolist(), y.tolist())
    assert_allclose(est.coef_, dense_fit.coef_, rtol=1e-8)


def test_read_only_memmap(tmp_path, data, dense_fit):
    X, y = data
    path = tmp_path / "X.npy"
    np.save(path, X)
    X_mm = np.load(path, mmap_mode="r")
    est = GDLogisticRegression(**FIT).fit(X_mm, y)
    assert_allclose(est.coef_, dense_fit.coef_, rtol=1e-8)


@pytest.mark.parametrize("fmt", ["dense", "csr", "csc"])
def test_fit_never_modifies_X_or_weights(data, fmt):
    X, y = data
    X = X if fmt == "dense" else sp.csr_matrix(X).asformat(fmt)
    X_before = X.copy()
    sw = np.linspace(0.5, 2, len(y))
    sw_before = sw.copy()
    GDLogisticRegression(max_iter=50, tol=0.5).fit(X, y, sample_weight=sw)
    if fmt == "dense":
        assert_array_equal(X, X_before)
    else:
        assert_array_equal(X.toarray(), X_before.toarray())
    assert_array_equal(sw, sw_before)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_no_copy_of_X(dtype):
    # A copy of X would raise the traced peak above X's size; the fit's own
    # n-sized vectors and block buffers stay far below it.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100_000, 50)).astype(dtype)
    y = (X[:, 0] > 0).astype(int)
    est = GDLogisticRegression(max_iter=10, tol=0.0)
    tracemalloc.start()
    try:
        est.fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.5 * X.nbytes, f"peak {peak / X.nbytes:.2f} x size(X)"


def test_pandas_and_polars(data, dense_fit):
    pd = pytest.importorskip("pandas")
    X, y = data
    names = [f"f{i}" for i in range(X.shape[1])]
    est = GDLogisticRegression(**FIT).fit(pd.DataFrame(X, columns=names), pd.Series(y))
    assert_array_equal(est.feature_names_in_, names)
    assert_allclose(est.coef_, dense_fit.coef_, rtol=1e-8)
    pl = pytest.importorskip("polars")
    est = GDLogisticRegression(**FIT).fit(pl.DataFrame(X, schema=names), y)
    assert_allclose(est.coef_, dense_fit.coef_, rtol=1e-8)


def test_string_labels_and_multiclass_shapes(data):
    X, y = data
    labels = np.array(["cat", "dog", "eel"])[(y + (X[:, 0] > 1)).astype(int)]
    est = GDLogisticRegression().fit(X, labels)
    assert_array_equal(est.classes_, ["cat", "dog", "eel"])
    assert est.coef_.shape == (3, 8) and est.intercept_.shape == (3,)
    assert est.predict_proba(X).shape == (400, 3)
    assert set(est.predict(X)) <= {"cat", "dog", "eel"}


@pytest.mark.parametrize(
    "labels",
    [
        np.array([False, True]),
        np.array([-7, 2, 40], dtype=np.int8),
        np.array([3, 9, 250], dtype=np.uint8),
        np.array([-1.0, 2.0, 1e9]),
    ],
    ids=["bool", "int8", "uint8", "float"],
)
def test_numeric_labels_encoded_as_label_encoder_does(data, labels):
    # Numeric labels are encoded without LabelEncoder.transform (a fast path
    # in fit): the fit must equal one on the indices that transform gives,
    # the oracle, bit for bit (same arithmetic from the same start).
    X, _ = data
    y_lab = labels[(X[:, 0] > 0).astype(int) + (X[:, 1] > 1) * (len(labels) - 2)]
    y_idx = LabelEncoder().fit_transform(y_lab)
    est = GDLogisticRegression(max_iter=30).fit(X, y_lab)
    ref = GDLogisticRegression(max_iter=30).fit(X, y_idx)
    assert_array_equal(est.classes_, np.unique(y_lab))
    assert_array_equal(est.coef_, ref.coef_)
    assert_array_equal(est.intercept_, ref.intercept_)
    assert_array_equal(est.predict(X), est.classes_[ref.predict(X)])


def test_warm_start_continues(data):
    X, y = data
    cold = GDLogisticRegression(max_iter=1000, tol=1e-6, solver="nesterov").fit(X, y)
    warm = GDLogisticRegression(warm_start=True, solver="nesterov", tol=1e-6).fit(X, y)
    warm.fit(X, y)  # already converged: starts at the optimum
    assert warm.n_iter_ <= 2
    assert_allclose(warm.coef_, cold.coef_, rtol=1e-4)


def test_random_init_reaches_the_same_minimiser(data, dense_fit):
    # J is convex: the starting point does not matter (the lecture's point).
    X, y = data
    est = GDLogisticRegression(init="random", random_state=0, **FIT).fit(X, y)
    assert est.cost_history_[0] != dense_fit.cost_history_[0]
    assert_allclose(est.coef_, dense_fit.coef_, rtol=1e-7)
