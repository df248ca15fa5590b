"""partial_fit: one step of the lecture's update per mini-batch.

The oracle is a plain NumPy transcription of the lecture's update on each
batch's own cost J (README.md, "The cost and the update"), written
independently of the package.
"""

import numpy as np
import pytest
from scipy.special import expit, log_softmax, softmax

from sklearn_gdlogreg import GDLogisticRegression
from sklearn_gdlogreg._objective._step_bound import RTOL as LANCZOS_RTOL

# Both sides do the same float64 arithmetic in a different order (fused
# blocked passes vs plain products): agreement to ~1e-15 per step, a few
# steps: 1e-10 leaves room and still catches any wrong term or factor.
RTOL = 1e-10


def lecture_step(w, b, X, y, s, *, C, l1_ratio, alpha):
    """One proximal step of the lecture's update on J of (X, y, s).

    ``w`` has shape (d, K), ``b`` (K,), with K = 1 (sigmoid) or the number of
    classes (softmax, ``y`` class indices). Returns (w, b, J before the step).
    """
    S = s.sum()
    l2, l1 = (1 - l1_ratio) / (C * S), l1_ratio / (C * S)
    z = X @ w + b
    if w.shape[1] == 1:
        a = expit(z[:, 0])
        log_a, log_1ma = np.log(a), np.log1p(-a)
        loss = -(y * log_a + (1 - y) * log_1ma)
        dz = (a - y)[:, None]
    else:
        Y = np.eye(w.shape[1])[y]
        loss = -(Y * log_softmax(z, axis=1)).sum(axis=1)
        dz = softmax(z, axis=1) - Y
    J = (s @ loss) / S + l2 / 2 * np.sum(w * w) + l1 * np.sum(np.abs(w))
    dz = dz * (s / S)[:, None]
    dw = X.T @ dz + l2 * w
    db = dz.sum(axis=0)
    w = w - alpha * dw
    w = np.sign(w) * np.maximum(np.abs(w) - alpha * l1, 0.0)  # soft-threshold
    return w, b - alpha * db, J


def batches(n, size):
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


@pytest.mark.parametrize(
    "C, l1_ratio", [(np.inf, 0.0), (1.0, 0.0), (0.5, 1.0), (2.0, 0.5)]
)
def test_binary_batches_equal_lecture_steps(breast_cancer, rng, C, l1_ratio):
    X, y = breast_cancer
    s = rng.uniform(0.5, 2.0, size=y.size)
    clf = GDLogisticRegression(alpha=0.3, C=C, l1_ratio=l1_ratio)
    w, b, costs = np.zeros((X.shape[1], 1)), np.zeros(1), []
    for rows in batches(y.size, 128):  # the batches cover the data once
        clf.partial_fit(X[rows], y[rows], classes=[0, 1], sample_weight=s[rows])
        w, b, J = lecture_step(
            w, b, X[rows], y[rows], s[rows], C=C, l1_ratio=l1_ratio, alpha=0.3
        )
        costs.append(J)
    np.testing.assert_allclose(clf.coef_, w.T, rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(clf.intercept_, b, rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(clf.cost_history_, costs, rtol=RTOL)
    assert clf.n_iter_ == len(costs) == 5
    assert clf.alpha_ == 0.3


def test_multinomial_batches_equal_lecture_steps(three_classes):
    X, y = three_classes
    labels = np.array(["a", "b", "c"])
    clf = GDLogisticRegression(alpha=0.5, C=1.0)
    w, b, costs = np.zeros((X.shape[1], 3)), np.zeros(3), []
    for rows in batches(y.size, 70):
        clf.partial_fit(X[rows], labels[y[rows]], classes=labels)
        ones = np.ones(y[rows].size)
        w, b, J = lecture_step(
            w, b, X[rows], y[rows], ones, C=1.0, l1_ratio=0.0, alpha=0.5
        )
        costs.append(J)
    np.testing.assert_allclose(clf.coef_, w.T, rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(clf.intercept_, b, rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(clf.cost_history_, costs, rtol=RTOL)
    np.testing.assert_array_equal(
        clf.predict(X[:5]), labels[np.argmax(X[:5] @ w + b, 1)]
    )


def test_auto_alpha_is_one_over_L_of_first_batch_and_kept(breast_cancer):
    X, y = breast_cancer
    X1, X2 = X[:200, :5], X[200:400, :5]
    clf = GDLogisticRegression(C=np.inf).partial_fit(X1, y[:200], classes=[0, 1])
    # L = 1/4 lambda_max(A^T A / n), A = [X, 1]: the sigmoid's curvature
    # bound times the Gram matrix's largest eigenvalue (dense, independent).
    A = np.column_stack([X1, np.ones(200)])
    L = 0.25 * np.linalg.eigvalsh(A.T @ A / 200)[-1]
    # Lanczos on 6 dimensions: exact up to its stopping rule (LANCZOS_RTOL).
    assert 1.0 / clf.alpha_ == pytest.approx(L, rel=LANCZOS_RTOL)
    alpha = clf.alpha_
    clf.partial_fit(X2, y[200:400])
    assert clf.alpha_ == alpha and clf.n_iter_ == 2


def test_partial_fit_after_fit_continues_from_fit(breast_cancer):
    X, y = breast_cancer
    clf = GDLogisticRegression(alpha=0.5, max_iter=5)
    with pytest.warns(Warning, match="did not converge"):
        clf.fit(X, y)
    w, b = clf.coef_.T.copy(), clf.intercept_.copy()
    clf.partial_fit(X[:100], y[:100])
    w, b, J = lecture_step(
        w, b, X[:100], y[:100], np.ones(100), C=1.0, l1_ratio=0.0, alpha=0.5
    )
    np.testing.assert_allclose(clf.coef_, w.T, rtol=RTOL)
    np.testing.assert_allclose(clf.cost_history_, [J], rtol=RTOL)
    assert clf.n_iter_ == 1


def test_float32_batches_stay_float32(breast_cancer):
    X, y = breast_cancer
    clf = GDLogisticRegression(alpha=0.5)
    clf.partial_fit(X[:100].astype(np.float32), y[:100], classes=[0, 1])
    assert clf.coef_.dtype == clf.intercept_.dtype == np.float32


def test_classes_required_on_first_call(breast_cancer):
    X, y = breast_cancer
    clf = GDLogisticRegression()
    with pytest.raises(ValueError, match="classes must be passed on the first"):
        clf.partial_fit(X, y)
    assert not hasattr(clf, "coef_")


def test_unknown_label_names_the_label_and_leaves_model_unchanged(breast_cancer):
    X, y = breast_cancer
    clf = GDLogisticRegression(alpha=0.5).partial_fit(X, y, classes=[0, 1])
    coef = clf.coef_.copy()
    with pytest.raises(ValueError, match=r"labels \[7\] that are not in the classes"):
        clf.partial_fit(X[:3], [0, 7, 1])
    np.testing.assert_array_equal(clf.coef_, coef)
    assert clf.n_iter_ == 1
    with pytest.raises(ValueError, match="at least 2 classes"):
        GDLogisticRegression().partial_fit(X, np.zeros(y.size), classes=[0])


def test_dask_ml_incremental_feeds_blocks_in_order(breast_cancer):
    da = pytest.importorskip("dask.array")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, y = breast_cancer
    Xd, yd = da.from_array(X, chunks=150), da.from_array(y, chunks=150)
    inc = wrappers.Incremental(GDLogisticRegression(alpha=0.3), shuffle_blocks=False)
    inc.fit(Xd, yd, classes=[0, 1])
    clf = GDLogisticRegression(alpha=0.3)
    for rows in batches(y.size, 150):  # the oracle: the same calls by hand
        clf.partial_fit(X[rows], y[rows], classes=[0, 1])
    np.testing.assert_allclose(inc.estimator_.coef_, clf.coef_, rtol=1e-12)
    assert inc.estimator_.n_iter_ == 4


def test_balanced_class_weight_is_balanced_within_each_batch(three_classes):
    X, y = three_classes
    rows = np.flatnonzero(y != 2)[:40]  # a batch without class 2
    clf = GDLogisticRegression(alpha=0.5, class_weight="balanced")
    clf.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
    # The oracle's weights: n / (K_batch * n_k) over the classes in the batch.
    yb = y[rows]
    present, counts = np.unique(yb, return_counts=True)
    s = (yb.size / (present.size * counts))[np.searchsorted(present, yb)]
    w, b, J = lecture_step(
        np.zeros((X.shape[1], 3)), np.zeros(3), X[rows], yb, s,
        C=1.0, l1_ratio=0.0, alpha=0.5,
    )  # fmt: skip
    np.testing.assert_allclose(clf.coef_, w.T, rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(clf.intercept_, b, rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(clf.cost_history_, [J], rtol=RTOL)


def test_sparse_batches_equal_dense_batches(breast_cancer):
    import scipy.sparse as sp

    X, y = breast_cancer
    dense, sparse = GDLogisticRegression(alpha=0.3), GDLogisticRegression(alpha=0.3)
    for rows in batches(y.size, 200):
        dense.partial_fit(X[rows], y[rows], classes=[0, 1])
        sparse.partial_fit(sp.csr_matrix(X[rows]), y[rows], classes=[0, 1])
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(sparse.cost_history_, dense.cost_history_, rtol=RTOL)


def test_alpha_set_between_calls_is_the_next_step(breast_cancer):
    # A learning-rate schedule written around partial_fit: alpha halved
    # before every call. On main the first call's alpha_ stayed.
    X, y = breast_cancer
    s = np.ones(y.size)
    clf = GDLogisticRegression(alpha=0.4)
    w, b = np.zeros((X.shape[1], 1)), np.zeros(1)
    for k, rows in enumerate(batches(y.size, 128)):
        alpha = 0.4 / 2**k
        clf.set_params(alpha=alpha).partial_fit(X[rows], y[rows], classes=[0, 1])
        w, b, _ = lecture_step(
            w, b, X[rows], y[rows], s[rows], C=1.0, l1_ratio=0.0, alpha=alpha
        )
        assert clf.alpha_ == alpha
    assert clf.n_iter_ == k + 1  # one stream: the counts go on
    np.testing.assert_allclose(clf.coef_, w.T, rtol=RTOL)
    np.testing.assert_allclose(clf.intercept_, b, rtol=RTOL)
    # Back to "auto": 1/L of the batch at hand (within the Lanczos bound's
    # tolerance of the exact curvature bound, computed here by eigvalsh).
    rows = batches(y.size, 128)[0]
    clf.set_params(alpha="auto").partial_fit(X[rows], y[rows])
    Xb = np.c_[X[rows], np.ones(len(X[rows]))]
    L = 0.25 * np.linalg.eigvalsh(Xb.T @ Xb / len(Xb))[-1] + 1.0 / len(Xb)
    assert clf.alpha_ == pytest.approx(1.0 / L, rel=LANCZOS_RTOL)
