"""CostHistoryDisplay: what is drawn is exactly the fitted cost history."""

import copy
import sys

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import CostHistoryDisplay, GDLogisticRegression

matplotlib = pytest.importorskip("matplotlib", reason="plotting needs matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Short fits stop at max_iter on purpose: the curves, not the optimum, matter.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fits(breast_cancer):
    X, y = breast_cancer
    return [GDLogisticRegression(alpha=a, max_iter=40).fit(X, y) for a in (0.01, 0.5)]


def _lecture_costs(X, y, alpha, n_iter):
    """J after each update of the lecture's loop in plain NumPy (C=inf)."""
    w, b, costs = np.zeros(X.shape[1]), 0.0, []
    for _ in range(n_iter + 1):
        a = 1.0 / (1.0 + np.exp(-(X @ w + b)))
        costs.append(-np.mean(y * np.log(a) + (1 - y) * np.log(1 - a)))
        w, b = w - alpha * X.T @ (a - y) / len(y), b - alpha * np.mean(a - y)
    return np.array(costs)


def test_from_estimator_draws_the_lecture_costs(breast_cancer):
    X, y = breast_cancer
    clf = GDLogisticRegression(alpha=0.1, C=np.inf, max_iter=15, tol=0)
    with pytest.warns(ConvergenceWarning):  # max_iter reached on purpose
        clf.fit(X, y)
    display = CostHistoryDisplay.from_estimator(clf)
    x, J = display.line_.get_xdata(), display.line_.get_ydata()
    np.testing.assert_array_equal(x, np.arange(16))
    # Independent oracle: the plain transcription of the lecture's update; the
    # two differ only by float64 rounding in the sums (~1e-15 relative).
    np.testing.assert_allclose(J, _lecture_costs(X, y, 0.1, 15), rtol=1e-12)
    assert display.ax_.get_xlabel() == "iteration"
    assert display.ax_.get_ylabel() == "cost J"
    assert display.figure_ is display.ax_.figure
    assert "alpha_=0.1" in display.line_.get_label()


def test_from_estimator_accepts_a_pipeline_and_an_axes(breast_cancer):
    X, y = breast_cancer
    pipe = make_pipeline(StandardScaler(), GDLogisticRegression()).fit(X, y)
    _, ax = plt.subplots()
    display = CostHistoryDisplay.from_estimator(pipe, ax=ax, name="mine", lw=3)
    assert display.ax_ is ax
    assert display.line_.get_label() == "mine"
    assert display.line_.get_linewidth() == 3
    np.testing.assert_array_equal(display.line_.get_ydata(), pipe[-1].cost_history_)


def test_from_estimators_overlays_one_curve_per_fit(fits):
    display = CostHistoryDisplay.from_estimators(fits, names=["slow", "fast"])
    assert isinstance(display.line_, list) and len(display.line_) == 2
    for line, fit in zip(display.line_, fits):
        np.testing.assert_array_equal(line.get_ydata(), fit.cost_history_)
    legend = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert legend == ["slow", "fast"]


def _relative_curves(display):
    lines = display.line_ if isinstance(display.line_, list) else [display.line_]
    return [np.asarray(line.get_ydata(), dtype=float) for line in lines]


def test_relative_plots_the_gap_on_a_log_scale(fits):
    display = CostHistoryDisplay.from_estimators(fits, relative=True)
    J_star = display.reference_cost_
    assert display.ax_.get_yscale() == "log"
    assert display.ax_.get_ylabel().startswith("J - J*")
    for line, fit in zip(display.line_, fits):
        # Every update is drawn, none left out: J* is below every recorded J.
        np.testing.assert_array_equal(line.get_xdata(), np.arange(fit.n_iter_ + 1))
        np.testing.assert_allclose(line.get_ydata(), fit.cost_history_ - J_star)


@pytest.mark.parametrize(
    "params",
    [{"alpha": 1.0, "max_iter": 3000}, {"solver": "nesterov"}, {}],
    ids=["gd-converged", "nesterov-converged", "gd-defaults-at-max-iter"],
)
def test_relative_gap_stays_positive_and_does_not_plunge_at_the_end(
    breast_cancer, params
):
    X, y = breast_cancer
    clf = GDLogisticRegression(**params).fit(X, y)
    display = CostHistoryDisplay.from_estimator(clf, relative=True)
    gap = display.line_.get_ydata()
    assert gap.size == clf.n_iter_ + 1
    assert np.all(np.isfinite(gap)) and np.all(gap > 0)
    # J - min J fell by orders of magnitude at the last updates (to 0 at the
    # last one); the gap to a J* below the curve shrinks at the curve's rate.
    assert gap[-1] / gap[-2] > 0.1
    # And it is the true gap within a factor 3 (nesterov's decrements shrink
    # less regularly than gd's): J* of a fit converged tightly (nesterov
    # reaches the same optimum, tol 1e-12) is the oracle.
    tight = GDLogisticRegression(solver="nesterov", tol=1e-12, max_iter=10_000)
    true_gap = clf.cost_history_[-1] - tight.fit(X, y).cost_history_.min()
    assert 1 / 3 < gap[-1] / true_gap < 3


def test_overlaid_fits_share_one_reference_cost(breast_cancer):
    X, y = breast_cancer
    fits = [GDLogisticRegression(alpha=a, max_iter=300).fit(X, y) for a in (0.1, 1)]

    class FakeCV:  # a cross-validated model's histories, padded with NaN
        cost_histories_ = np.array([[0.69, 0.3, 0.2, np.nan], [0.69, 0.4, 0.1, 0.05]])

    histories = [f.cost_history_ for f in fits] + [
        h[np.isfinite(h)] for h in FakeCV.cost_histories_
    ]
    for display in [
        CostHistoryDisplay.from_estimators(fits, relative=True),
        CostHistoryDisplay.from_estimator(FakeCV(), relative=True),
        CostHistoryDisplay(histories).plot(relative=True),
    ]:
        curves = list(zip(display.cost_history, _relative_curves(display)))
        J_star = curves[0][0][0] - curves[0][1][0]
        assert J_star < min(np.nanmin(h) for h, _ in curves)
        for h, gap in curves:
            assert np.all(gap > 0)
            # One J* for all curves: the gaps are J minus the same number.
            np.testing.assert_allclose(np.asarray(h)[: gap.size] - gap, J_star)
        assert display.reference_cost_ == pytest.approx(J_star)


def test_relative_with_a_reference_cost():
    display = CostHistoryDisplay([1.0, 0.5, 0.25]).plot(
        relative=True, reference_cost=0.0
    )
    np.testing.assert_array_equal(display.line_.get_ydata(), [1.0, 0.5, 0.25])
    assert display.reference_cost_ == 0.0
    with pytest.raises(ValueError, match="below every recorded cost"):
        CostHistoryDisplay([1.0, 0.5, 0.25]).plot(relative=True, reference_cost=0.25)


def test_relative_extrapolates_a_geometric_tail():
    # Gaps halving at every update: J* is where the geometric series ends.
    history = 0.1 + 0.5 ** np.arange(12)
    display = CostHistoryDisplay(history).plot(relative=True)
    assert display.reference_cost_ == pytest.approx(0.1, rel=1e-12)
    assert "extrapolated" in display.ax_.get_ylabel()


def _overlaps(bbox, points):
    inside = (
        (points[:, 0] >= bbox.x0)
        & (points[:, 0] <= bbox.x1)
        & (points[:, 1] >= bbox.y0)
        & (points[:, 1] <= bbox.y1)
    )
    return inside.any()


@pytest.mark.parametrize("relative", [False, True])
@pytest.mark.parametrize("own_axes", [False, True])
def test_legend_does_not_hide_the_curves(breast_cancer, relative, own_axes):
    X, y = breast_cancer
    # Curves that fill the axes: a slow one stays high to the right edge, a
    # fast one falls to the bottom; default labels are long.
    alphas = (0.003, 0.03, 1.0)
    fits = [GDLogisticRegression(alpha=a, max_iter=200).fit(X, y) for a in alphas]
    if own_axes:  # a user's figure: two Axes side by side, a legend on each
        fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    else:
        fig, axes = None, [None]
    displays = [
        CostHistoryDisplay.from_estimators(fits, ax=ax, relative=relative, marker=".")
        for ax in axes
    ]
    fig = displays[0].figure_
    fig.canvas.draw()
    for display in displays:
        legend = display.ax_.get_legend().get_window_extent()
        # Outside the axes: over no point of any curve, and over no Axes.
        for line in display.line_:
            xy = np.column_stack([line.get_xdata(), line.get_ydata()])
            assert not _overlaps(legend, display.ax_.transData.transform(xy))
        for ax in fig.axes:
            assert not legend.overlaps(ax.get_window_extent())
        # And not cut off by the figure's edge.
        assert fig.bbox.x0 <= legend.x0 and legend.x1 <= fig.bbox.x1


def test_plot_keeps_stored_arrays_and_allows_redrawing():
    history = np.array([0.7, 0.6, 0.5])
    display = CostHistoryDisplay(history, name="a")
    assert display.cost_history is history  # __init__ only stores
    first = display.plot().ax_
    second = display.plot(name="b").ax_
    assert first is not second
    assert display.line_.get_label() == "b"


def test_cost_histories_of_a_batched_cv_model(fits):
    class FakeCV:  # what GDLogisticRegressionCV exposes, duck-typed
        cost_histories_ = np.array([[0.7, 0.5, np.nan], [0.7, 0.4, 0.3]])
        cv_results_ = {"params": [{"alpha": 0.1}, {"alpha": 1.0}]}

    display = CostHistoryDisplay.from_estimator(FakeCV())
    labels = [line.get_label() for line in display.line_]
    assert labels == ["alpha=0.1", "alpha=1"]
    # NaN padding of the shorter history is dropped, not drawn.
    np.testing.assert_array_equal(display.line_[0].get_ydata(), [0.7, 0.5])

    class FakeDictCV:
        cost_histories_ = {"alpha=0.01": fits[0].cost_history_}

    display = CostHistoryDisplay.from_estimator(FakeDictCV())
    assert display.line_[0].get_label() == "alpha=0.01"


def test_unfitted_estimator_raises():
    with pytest.raises(NotFittedError):
        CostHistoryDisplay.from_estimator(GDLogisticRegression())


@pytest.mark.parametrize(
    "history, name, match",
    [
        ([[0.5, 0.4]], ["a", "b"], "Got 2 names for 1 cost histories"),
        ([np.nan, np.nan], None, "no finite cost"),
        ([], None, "non-empty 1-D"),
    ],
)
def test_bad_inputs_are_named(history, name, match):
    with pytest.raises(ValueError, match=match):
        CostHistoryDisplay(history, name=name).plot()


def test_missing_matplotlib_gives_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"requires matplotlib.*\[plot\]"):
        CostHistoryDisplay([0.7, 0.5]).plot()


def test_held_out_curve_is_dashed_in_the_colour_of_its_training_curve():
    J, held_out = [0.69, 0.4, 0.3, 0.28], [0.7, 0.5, 0.45, 0.47]
    display = CostHistoryDisplay(
        np.array(J), name="fit", validation_cost_history=held_out, stop=2
    ).plot(ls=":", lw=3)
    line, validation = display.line_, display.validation_line_
    np.testing.assert_array_equal(line.get_ydata(), J)
    np.testing.assert_array_equal(validation.get_xdata(), np.arange(4))
    np.testing.assert_array_equal(validation.get_ydata(), held_out)
    assert validation.get_color() == line.get_color()
    # Dashed whatever the training curve's style; the other keywords apply.
    assert (line.get_linestyle(), validation.get_linestyle()) == (":", "--")
    assert validation.get_linewidth() == 3
    # The iterate kept, marked on the held-out curve in the same colour.
    np.testing.assert_array_equal(display.stop_marker_.get_xydata(), [[2, 0.45]])
    assert display.stop_marker_.get_color() == line.get_color()
    legend = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert legend == ["fit", "fit (held-out)"]
    assert "held-out" in display.ax_.get_ylabel()


def test_several_fits_with_and_without_held_out_curves():
    J = [[0.7, 0.5, 0.4], [0.7, 0.6, 0.5, 0.45], [0.7, 0.3]]
    held_out = [[0.7, 0.55, 0.6], None, [0.71, 0.35]]
    display = CostHistoryDisplay(
        J, validation_cost_history=held_out, stop=[1, 3, None]
    ).plot()
    assert display.validation_line_[1] is None
    for line, validation in zip(display.line_, display.validation_line_):
        if validation is not None:
            assert validation.get_color() == line.get_color()
    np.testing.assert_array_equal(display.validation_line_[0].get_ydata(), held_out[0])
    np.testing.assert_array_equal(display.validation_line_[2].get_ydata(), held_out[2])
    # Where there is no held-out curve the stop is marked on the training one.
    marks = [m if m is None else m.get_xydata().tolist() for m in display.stop_marker_]
    assert marks == [[[1, 0.55]], [[3, 0.45]], None]
    assert len(display.ax_.get_lines()) == 3 + 2 + 2


def test_without_held_out_curves_nothing_more_is_drawn():
    display = CostHistoryDisplay([0.7, 0.5, 0.4]).plot()
    assert display.validation_line_ is None and display.stop_marker_ is None
    assert display.ax_.get_lines() == [display.line_]
    assert display.ax_.get_ylabel() == "cost J"


def test_relative_draws_the_training_gaps_only():
    J = np.array([1.0, 0.5, 0.25, 0.2])
    display = CostHistoryDisplay(
        J, validation_cost_history=[1.1, 0.7, 0.6, 0.65], stop=2
    ).plot(relative=True, reference_cost=0.0)
    # The held-out cost is another function: not drawn against the training J*.
    assert display.validation_line_ is None
    assert display.ax_.get_ylabel().startswith("J - J*")
    np.testing.assert_array_equal(display.line_.get_ydata(), J)
    np.testing.assert_array_equal(display.stop_marker_.get_xydata(), [[2, 0.25]])
    assert len(display.ax_.get_lines()) == 2


@pytest.mark.parametrize(
    "kw, match",
    [
        (
            {"validation_cost_history": [0.7, 0.6]},
            "validation_cost_history has 2 costs where its cost_history has 3",
        ),
        ({"validation_cost_history": [[0.7, 0.6, 0.5]]}, "must be a non-empty 1-D"),
        ({"stop": 3}, r"stop=3 is not an iteration .*\(0 to 2\)"),
    ],
)
def test_bad_held_out_inputs_are_named(kw, match):
    with pytest.raises(ValueError, match=match):
        CostHistoryDisplay([0.7, 0.5, 0.4], **kw).plot()


@pytest.mark.parametrize("param", ["validation_cost_history", "stop"])
def test_one_held_out_entry_per_history(param):
    with pytest.raises(ValueError, match=f"{param} has 1 entries for 2 cost"):
        CostHistoryDisplay([[0.7, 0.5], [0.7, 0.4]], **{param: [None]}).plot()


def _stopped_early(fit, n_iter):
    """``fit`` as early stopping leaves it: a held-out history, ``n_iter_`` kept."""
    fit = copy.deepcopy(fit)
    # Not a real held-out cost, but one whose every value is known: it falls,
    # then rises past n_iter.
    steps = np.arange(fit.cost_history_.size)
    fit.validation_cost_history_ = 0.5 + 0.01 * (steps - n_iter) ** 2
    fit.n_iter_ = n_iter
    return fit


def test_from_estimator_draws_the_held_out_curve_and_marks_n_iter(breast_cancer):
    X, y = breast_cancer
    pipe = make_pipeline(StandardScaler(), GDLogisticRegression(max_iter=10))
    pipe = pipe.fit(X, y)
    pipe.steps[-1] = ("clf", _stopped_early(pipe[-1], n_iter=4))
    fit = pipe[-1]
    display = CostHistoryDisplay.from_estimator(pipe)
    np.testing.assert_array_equal(display.line_.get_ydata(), fit.cost_history_)
    held_out = display.validation_line_
    np.testing.assert_array_equal(held_out.get_xdata(), np.arange(11))
    np.testing.assert_array_equal(held_out.get_ydata(), fit.validation_cost_history_)
    assert held_out.get_color() == display.line_.get_color()
    assert held_out.get_label() == f"{display.line_.get_label()} (held-out)"
    np.testing.assert_array_equal(
        display.stop_marker_.get_xydata(), [[4, fit.validation_cost_history_[4]]]
    )


def test_from_estimators_one_held_out_curve_per_fit_that_has_one(fits):
    display = CostHistoryDisplay.from_estimators([_stopped_early(fits[0], 30), fits[1]])
    first, second = display.validation_line_
    np.testing.assert_array_equal(
        first.get_ydata(), 0.5 + 0.01 * (np.arange(41) - 30) ** 2
    )
    assert first.get_color() == display.line_[0].get_color()
    # A fit without early stopping: no held-out curve, and its n_iter_ unmarked.
    assert second is None
    assert display.stop_marker_[1] is None
    np.testing.assert_array_equal(display.stop_marker_[0].get_xydata(), [[30, 0.5]])


def test_held_out_histories_of_a_cv_model():
    class FakeCV:  # a sequential search: ragged histories, a fit that raised
        cost_histories_ = [[[0.7, 0.5], [0.7, 0.6, 0.4]], [None, [0.7, 0.3]]]
        validation_cost_histories_ = [[[0.7, 0.6], None], [None, [0.72, 0.4]]]
        cv_results_ = {"params": [{"alpha": 0.1}, {"alpha": 1.0}]}

    display = CostHistoryDisplay.from_estimator(FakeCV())
    labels = [line.get_label() for line in display.line_]
    assert labels == ["alpha=0.1, split 0", "alpha=0.1, split 1", "alpha=1, split 1"]
    held_out = [
        None if v is None else v.get_ydata().tolist() for v in display.validation_line_
    ]
    assert held_out == [[0.7, 0.6], None, [0.72, 0.4]]
    assert display.stop_marker_ == [None, None, None]


def test_from_estimator_of_a_real_early_stopped_fit(breast_cancer):
    # The fit's own attributes, not hand-set ones: what early stopping
    # records is what is drawn, the dot at the iterate kept.
    X, y = breast_cancer
    fit = GDLogisticRegression(
        alpha=1.0, C=np.inf, early_stopping=True, random_state=0
    ).fit(X, y)
    assert len(fit.cost_history_) > fit.n_iter_ + 1  # it ran on past the best
    display = CostHistoryDisplay.from_estimator(fit)
    np.testing.assert_array_equal(display.line_.get_ydata(), fit.cost_history_)
    np.testing.assert_array_equal(
        display.validation_line_.get_ydata(), fit.validation_cost_history_
    )
    x, J = display.stop_marker_.get_xydata()[0]
    assert (x, J) == (fit.n_iter_, fit.validation_cost_history_[fit.n_iter_])
