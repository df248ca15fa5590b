"""Early stopping: the held-out curve and the iterate kept, against a NumPy oracle.

The oracle is the lecture's loop written out in plain NumPy on the rows
SGDClassifier would hold out (``StratifiedShuffleSplit(test_size=
validation_fraction, random_state=...)``): the update on the training rows,
the training cost ``J`` and the held-out log-loss after every update, and
the early-stopping rule (stop after ``n_iter_no_change`` updates without a
lower held-out cost; keep the best iterate).
"""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import log_softmax, softmax
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import GridSearchCV, StratifiedShuffleSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import GDLogisticRegression


def _oracle(X, y, *, alpha, C, fraction, seed, n_iter_no_change, max_iter, s=None):
    """The lecture's gradient descent with early stopping, in plain NumPy.

    Returns the training costs, the held-out costs, the best update and the
    ``(W, b)`` after it. ``s``: per-sample weights (sample times class weight).
    """
    split = StratifiedShuffleSplit(test_size=fraction, random_state=seed)
    train, val = next(split.split(np.zeros((len(y), 1)), y))
    classes = np.unique(y)
    K = classes.size
    Y = (y[:, None] == classes[None, :]).astype(float)
    s = np.ones(len(y)) if s is None else s
    Xt, Yt, st = X[train], Y[train], s[train]
    Xv, Yv, sv = X[val], Y[val], s[val]
    S = st.sum()
    lam = 1.0 / (C * S)
    out = 1 if K == 2 else K
    W, b = np.zeros((X.shape[1], out)), np.zeros(out)

    def losses(Z, Y):  # per-sample cross-entropy
        if K == 2:
            return np.logaddexp(0.0, Z[:, 0]) - Y[:, 1] * Z[:, 0]
        return -np.sum(Y * log_softmax(Z, axis=1), axis=1)

    def residual(Z, Y):  # dL/dz
        if K == 2:
            return 1.0 / (1.0 + np.exp(-Z)) - Y[:, 1:]
        return softmax(Z, axis=1) - Y

    costs, held_out, kept = [], [], []
    best, best_k = np.inf, 0
    for k in range(max_iter + 1):
        Zt = Xt @ W + b
        costs.append(st @ losses(Zt, Yt) / S + 0.5 * lam * np.sum(W * W))
        held_out.append(sv @ losses(Xv @ W + b, Yv) / sv.sum())
        kept.append((W, b))
        if best - held_out[-1] > 1e-12 * max(1.0, abs(held_out[-1])):
            best, best_k = held_out[-1], k
        if k - best_k >= n_iter_no_change or k == max_iter:
            break
        R = residual(Zt, Yt) * st[:, None] / S
        dW, db = Xt.T @ R + lam * W, R.sum(axis=0)
        W, b = W - alpha * dW, b - alpha * db
    return np.array(costs), np.array(held_out), best_k, kept[best_k]


def _data(kind):
    if kind == "binary":
        X, y = load_breast_cancer(return_X_y=True)
        return StandardScaler().fit_transform(X), y
    rng = np.random.default_rng(0)
    X = rng.standard_normal((240, 5))
    y = np.argmax(X[:, :3] + rng.standard_normal((240, 3)), axis=1)
    return X, y


@pytest.mark.parametrize("kind", ["binary", "multinomial"])
@pytest.mark.parametrize("fmt", ["dense", "csr", "csc"])
def test_fixed_alpha_matches_the_numpy_oracle(kind, fmt):
    X, y = _data(kind)
    params = dict(alpha=0.5, C=10.0, validation_fraction=0.2, random_state=3)
    costs, held_out, best_k, (W, b) = _oracle(
        X, y, alpha=0.5, C=10.0, fraction=0.2, seed=3, n_iter_no_change=5,
        max_iter=3000,
    )  # fmt: skip
    Xf = X if fmt == "dense" else getattr(sp, f"{fmt}_matrix")(X)
    est = GDLogisticRegression(
        early_stopping=True, n_iter_no_change=5, max_iter=3000, tol=0, **params
    ).fit(Xf, y)
    assert best_k < len(costs) - 1, "the oracle case must stop early"
    # float64 sums in another order (all rows, held-out ones weighted 0,
    # against the training rows alone): ~1e-15 per pass, not amplified by a
    # contracting descent over these few hundred updates.
    assert_allclose(est.cost_history_, costs, rtol=1e-12)
    assert_allclose(est.validation_cost_history_, held_out, rtol=1e-12)
    assert est.n_iter_ == best_k
    assert_allclose(est.coef_, W.T, rtol=1e-10, atol=1e-13)
    assert_allclose(est.intercept_, b, rtol=1e-10, atol=1e-13)


def test_weights_enter_both_costs():
    X, y = _data("binary")
    rng = np.random.default_rng(1)
    sw = rng.uniform(0.2, 3.0, size=y.size)
    # class_weight="balanced" over all rows (as SGDClassifier): S / (K S_c).
    S_c = np.bincount(y, weights=sw)
    s = sw * (sw.sum() / (2 * S_c))[y]
    costs, held_out, best_k, _ = _oracle(
        X, y, alpha=0.5, C=10.0, fraction=0.2, seed=3, n_iter_no_change=5,
        max_iter=3000, s=s,
    )  # fmt: skip
    est = GDLogisticRegression(
        alpha=0.5, C=10.0, early_stopping=True, validation_fraction=0.2,
        random_state=3, n_iter_no_change=5, max_iter=3000, tol=0,
        class_weight="balanced",
    ).fit(X, y, sample_weight=sw)  # fmt: skip
    assert_allclose(est.cost_history_, costs, rtol=1e-12)  # as above
    assert_allclose(est.validation_cost_history_, held_out, rtol=1e-12)
    assert est.n_iter_ == best_k


def test_float32_follows_the_float64_oracle():
    X, y = _data("binary")
    _, held_out, best_k, _ = _oracle(
        X, y, alpha=0.5, C=10.0, fraction=0.2, seed=3, n_iter_no_change=5,
        max_iter=3000,
    )  # fmt: skip
    est = GDLogisticRegression(
        alpha=0.5, C=10.0, early_stopping=True, validation_fraction=0.2,
        random_state=3, n_iter_no_change=5, max_iter=3000, tol=0,
    ).fit(X.astype(np.float32), y)  # fmt: skip
    assert est.coef_.dtype == np.float32
    # float32 rounding (6e-8 per operation, sums of ~500 terms): 1e-5 relative.
    n = min(len(held_out), len(est.validation_cost_history_))
    assert_allclose(est.validation_cost_history_[:n], held_out[:n], rtol=1e-5)
    # Improvements below float32's rounding of J (1e-5 of max(1, J)) do not
    # count, so the descent stops where the held-out cost falls by less than
    # that per n_iter_no_change updates: the kept iterate may come earlier, a
    # few 1e-5 above the best.
    assert est.n_iter_ <= best_k
    assert 0 <= held_out[est.n_iter_] - held_out[best_k] < 1e-4


@pytest.mark.parametrize("fmt", ["dense", "csr"])
@pytest.mark.parametrize("kind", ["binary", "multinomial"])
def test_nesterov_kept_iterate_has_the_recorded_held_out_cost(kind, fmt):
    # The accelerated solver's passes are at its iterates and at extrapolated
    # points (CSR binary: both in one pass); the held-out curve must be that
    # of the iterates, and coef_ the kept one: the log-loss of the returned
    # model on the held-out rows (scikit-learn's log_loss) equals the value
    # recorded at n_iter_.
    X, y = _data(kind)
    Xf = X if fmt == "dense" else sp.csr_matrix(X)
    est = GDLogisticRegression(
        solver="nesterov", C=np.inf, early_stopping=True, random_state=0
    ).fit(Xf, y)
    split = StratifiedShuffleSplit(test_size=0.1, random_state=0)
    _, val = next(split.split(np.zeros((len(y), 1)), y))
    expected = log_loss(y[val], est.predict_proba(X[val]), labels=est.classes_)
    assert_allclose(est.validation_cost_history_[est.n_iter_], expected, rtol=1e-10)
    assert len(est.validation_cost_history_) == len(est.cost_history_)
    tail = len(est.cost_history_) - 1 - est.n_iter_  # updates after the kept one
    # Binary stops early; multinomial converges (tol) first.
    if kind == "binary":
        assert tail == est.n_iter_no_change
    assert tail <= est.n_iter_no_change
    assert np.all(np.diff(est.cost_history_) <= 1e-12)  # J never rises


def test_scoring_decides_and_is_recorded():
    X, y = _data("binary")
    est = GDLogisticRegression(
        alpha=0.5, early_stopping=True, scoring="accuracy", random_state=0
    ).fit(X, y)
    scores = est.validation_scores_
    assert len(scores) == len(est.cost_history_)
    assert est.best_validation_score_ == scores.max()
    assert est.n_iter_ == int(np.argmax(scores))  # the first best
    _, val = next(StratifiedShuffleSplit(test_size=0.1, random_state=0).split(X, y))
    assert est.best_validation_score_ == accuracy_score(y[val], est.predict(X[val]))


def test_no_convergence_warning_when_stopped_early(recwarn):
    # A fixed split (random_state): on some splits of this data the held-out
    # cost keeps falling for all of max_iter, and the warning is then due.
    X, y = _data("binary")
    est = GDLogisticRegression(alpha=0.5, C=np.inf, early_stopping=True, random_state=0)
    est.fit(X, y)
    assert len(est.cost_history_) == est.n_iter_ + 1 + est.n_iter_no_change
    assert not [w for w in recwarn if issubclass(w.category, ConvergenceWarning)]


def test_refit_without_early_stopping_drops_the_held_out_attributes():
    X, y = _data("binary")
    est = GDLogisticRegression(early_stopping=True, scoring="accuracy").fit(X, y)
    assert hasattr(est, "validation_scores_")
    est.set_params(early_stopping=False).fit(X, y)
    for name in ("validation_cost_history_", "validation_scores_",
                 "best_validation_score_"):  # fmt: skip
        assert not hasattr(est, name)
    assert len(est.cost_history_) == est.n_iter_ + 1


def test_same_split_as_sgdclassifier_and_x_never_copied():
    X, y = _data("binary")
    est = GDLogisticRegression(early_stopping=True, random_state=7)
    est.fit(X, y)
    # The model trained on the other rows only: refitting on them without
    # early stopping for the same number of updates gives the same J curve.
    train, _ = next(StratifiedShuffleSplit(test_size=0.1, random_state=7).split(X, y))
    plain = GDLogisticRegression(max_iter=est.n_iter_, tol=0)
    with pytest.warns(ConvergenceWarning):
        plain.fit(X[train], y[train])
    assert_allclose(
        plain.cost_history_, est.cost_history_[: est.n_iter_ + 1], rtol=1e-9
    )


def test_pipeline_and_grid_search():
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(
        StandardScaler(), GDLogisticRegression(early_stopping=True, random_state=0)
    )
    search = GridSearchCV(pipe, {"gdlogisticregression__alpha": [0.1, 1.0]}, cv=3)
    search.fit(X, y)
    assert search.best_score_ > 0.95
    best = search.best_estimator_[-1]
    assert len(best.validation_cost_history_) == len(best.cost_history_)


@pytest.mark.parametrize(
    "y, match",
    [
        (np.array([0] * 9 + [1]), "1 member"),  # a class of one sample
        (np.array([0, 1, 2]), "early_stopping=False"),  # 3 samples, 3 classes
    ],
)
def test_impossible_split_is_named(y, match):
    X = np.arange(len(y), dtype=float)[:, None]
    with pytest.raises(ValueError, match=match):
        GDLogisticRegression(early_stopping=True).fit(X, y)


def test_zero_weight_held_out_rows_are_refused():
    X, y = _data("binary")
    _, val = next(StratifiedShuffleSplit(test_size=0.1, random_state=0).split(X, y))
    sw = np.ones(y.size)
    sw[val] = 0.0
    with pytest.raises(ValueError, match="held out for early stopping are all zero"):
        GDLogisticRegression(early_stopping=True, random_state=0).fit(
            X, y, sample_weight=sw
        )


def test_tiny_data_holds_out_one_row_per_class():
    X = np.arange(8, dtype=float)[:, None]
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    est = GDLogisticRegression(early_stopping=True, random_state=0).fit(X, y)
    assert len(est.validation_cost_history_) == len(est.cost_history_)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_held_out_rows_never_change_the_training_rows_cost():
    # J is the training rows' cost alone: a held-out row changed beyond
    # recognition leaves cost_history_ bitwise equal.
    X, y = _data("binary")
    kw = dict(alpha=0.5, early_stopping=True, random_state=0, max_iter=50)
    _, val = next(StratifiedShuffleSplit(test_size=0.1, random_state=0).split(X, y))
    X2 = X.copy()
    X2[val] *= 100.0
    a = GDLogisticRegression(**kw).fit(X, y)
    b = GDLogisticRegression(**kw).fit(X2, y)
    n = min(len(a.cost_history_), len(b.cost_history_))
    assert_array_equal(a.cost_history_[:n], b.cost_history_[:n])
    assert not np.allclose(
        a.validation_cost_history_[1:n], b.validation_cost_history_[1:n]
    )


def test_dask_input_is_refused_by_name():
    da = pytest.importorskip("dask.array")
    X, y = _data("binary")
    with pytest.raises(ValueError, match="early_stopping=True needs X as a NumPy"):
        GDLogisticRegression(early_stopping=True).fit(da.from_array(X), y)


def test_partial_fit_after_an_early_stopped_fit_drops_its_held_out_curve():
    X, y = _data("binary")
    est = GDLogisticRegression(early_stopping=True, random_state=0).fit(X, y)
    est.partial_fit(X[:100], y[:100])
    assert not hasattr(est, "validation_cost_history_")
    assert len(est.cost_history_) == est.n_iter_ == 1


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_the_held_out_rows_are_not_copied_out_of_x(fmt):
    # A copy of the held-out 10% of X would be 10% of X's bytes; what the
    # fit allocates beyond X (n-vectors, among them about ten transient ones
    # in StratifiedShuffleSplit; d-vectors) is a few percent of it for 400
    # features.
    import tracemalloc

    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 400))
    y = (X[:, 0] + rng.standard_normal(20_000) > 0).astype(int)
    if fmt == "csr":
        X[rng.random(X.shape) < 0.5] = 0.0
        X = sp.csr_matrix(X)
    size = X.nbytes if fmt == "dense" else X.data.nbytes + X.indices.nbytes
    est = GDLogisticRegression(alpha=0.1, early_stopping=True, max_iter=3)
    est.fit(X, y)  # warm: imports and caches outside the measurement
    tracemalloc.start()
    try:
        est.fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.05 * size, f"peak {peak} bytes, X {size} bytes"
