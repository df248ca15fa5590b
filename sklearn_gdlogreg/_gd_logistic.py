"""GDLogisticRegression: validate, build the objective, run a solver, unpack."""

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model._base import LinearClassifierMixin, SparseCoefMixin
from sklearn.metrics import get_scorer_names
from sklearn.utils.validation import check_is_fitted

from ._callbacks import FitCallbacks
from ._compat import (
    CallbackSupportMixin,
    Interval,
    StrOptions,
    _fit_context,
    get_namespace,
    validate_data,
)
from ._early_stopping import held_out_monitor, set_held_out_attributes
from ._export import to_logistic_regression
from ._fit_state import LoadsOlderModels, caller_stacklevel, restores_state_on_error
from ._inputs._array_api import prepare_array_api
from ._inputs._dask import prepare_dask
from ._inputs._numpy import prepare_numpy
from ._inputs._routing import input_kind
from ._inputs._start import start_point
from ._numerics import weighted_column_moments
from ._objective._coordinates import (
    cholesky_applies,
    coef_and_intercept,
    resolve_preconditioner,
)
from ._partial_fit import PartialFitMixin
from ._predict import DaskPredictMixin, non_numpy_proba
from ._solvers._descent import SOLVERS, learning_rate


def _in_memory(X):
    """Whether X is a NumPy or SciPy array (not a dask or array-API one)."""
    return isinstance(X, np.ndarray) or sp.issparse(X)


def _looks_unscaled(objective):
    """Whether scaling X would help the plain step (one pass over X).

    The features' weighted standard deviations span more than a factor of
    10, or a mean exceeds 10 standard deviations. True when X is not a
    NumPy or SciPy array (not measured).
    """
    X = objective.X
    if not _in_memory(X):
        return True
    mean, var = weighted_column_moments(X, objective.s)
    std = np.sqrt(var)
    varying = std > 0
    if not varying.any():
        return False
    std, mean = std[varying], mean[varying]
    return bool(std.max() > 10 * std.min() or np.any(np.abs(mean) > 10 * std))


class GDLogisticRegression(
    LoadsOlderModels,
    CallbackSupportMixin,
    PartialFitMixin,
    DaskPredictMixin,
    LinearClassifierMixin,
    SparseCoefMixin,
    BaseEstimator,
):
    """Logistic regression fitted by explicit gradient descent.

    Minimises the (weighted, penalized) cross-entropy cost ``J(w, b)`` with
    the update of the classic lecture, ``w := w - alpha * dw`` and
    ``b := b - alpha * db``, recording ``J`` at every iteration in
    ``cost_history_``. Binary problems use the sigmoid, three or more classes
    one multinomial (softmax) model. For every finite ``C`` the minimiser is
    that of :class:`sklearn.linear_model.LogisticRegression` with the same
    ``C`` and ``l1_ratio``.

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------
    alpha : float or "auto", default="auto"
        The learning rate (step size) of gradient descent. **Not** a penalty
        strength, unlike ``alpha`` in :class:`~sklearn.linear_model.Ridge` or
        :class:`~sklearn.linear_model.SGDClassifier`; the penalty is set by
        ``C``. A float > 0 is used as a fixed step, exactly as in the lecture.
        ``"auto"`` uses ``1/L``, with ``L`` an upper bound on the curvature
        of ``J`` estimated by a few Lanczos iterations, a step that provably
        decreases ``J`` (halved should it ever fail to). With
        ``solver="nesterov"``, ``"auto"`` then adapts the step to the local
        curvature: each update tries a step 1.1 times the last (1.5 times
        until the first halving) and halves it until it passes the
        backtracking test of FISTA. The step used last is
        stored in ``alpha_``.

    C : float, default=1.0
        Inverse of regularization strength, as in ``LogisticRegression``;
        ``np.inf`` means no penalty (the lecture's plain cost).

    l1_ratio : float, default=0.0
        Elastic-net mixing: 0 is L2, 1 is L1, in between both. The L1 part is
        handled by a proximal (soft-thresholding) step.

    solver : {"auto", "gd", "nesterov"}, default="auto"
        ``"gd"``: the lecture's plain (proximal) gradient step.
        ``"nesterov"``: accelerated gradient (FISTA for L1) with adaptive
        restart, which needs far fewer iterations on ill-conditioned data
        (with ``alpha="auto"``, its step also adapts; see ``alpha``).
        ``"auto"``: ``"nesterov"`` when ``alpha="auto"`` (the fastest method
        of the package), ``"gd"`` when alpha is a number (the lecture's
        update, which a grid search over the learning rate compares).

    preconditioner : {"auto", "diagonal", "cholesky"} or None, default="auto"
        ``"diagonal"``: descend in standardized coordinates: features are
        implicitly centred and scaled by their weighted mean and standard
        deviation (X is never copied); the penalty stays on the original
        coefficients, so the minimiser is unchanged. ``"cholesky"``: descend
        in implicitly centred and whitened coordinates (the Cholesky factor of
        the features' weighted covariance plus the L2 term), where ``1/L`` is
        exact and correlated features no longer slow the descent; costs one
        ``n_features x n_features`` factorization, and needs dense X,
        ``l1_ratio=0`` and ``n_features <= 2000`` (else ValueError).
        ``None``: the lecture's plain step. ``"auto"``: ``"diagonal"`` when
        ``alpha="auto"`` (on every kind of input, so that dense, sparse, dask
        and array-API fits of the same data take the same iterates), None
        when alpha is a number, so that a fixed alpha is always exactly the
        lecture's update.

    fit_intercept : bool, default=True
        Whether to fit the (never penalized) intercept ``b``.

    max_iter : int, default=10_000
        Maximum number of updates. A first-order method needs more of them
        than a quasi-Newton one where features are correlated: raw breast
        cancer takes about 5,500 with every default (lbfgs: 2,300).

    tol : float, default=1e-4
        Stop when the max-norm of the gradient of ``J`` in the coordinates
        of ``coef_`` and ``intercept_`` is at most ``tol`` (with an L1
        penalty, of its minimum-norm subgradient): the quantity
        :class:`~sklearn.linear_model.LogisticRegression`'s lbfgs bounds,
        whatever the preconditioner.

    init : {"zeros", "random"}, default="zeros"
        Starting point: zeros (the lecture's advice), or small random values
        (standard deviation 0.01) drawn from ``random_state``.

    random_state : int, RandomState instance or None, default=None
        Seeds ``init="random"`` and the held-out split of
        ``early_stopping``.

    class_weight : dict or "balanced", default=None
        Weights of the classes, multiplied into the sample weights, as in
        ``LogisticRegression``.

    warm_start : bool, default=False
        Start from the previous fit's coefficients when refitting on data
        with the same classes and features.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the samples (the split
        :class:`~sklearn.linear_model.SGDClassifier` makes: one
        :class:`~sklearn.model_selection.StratifiedShuffleSplit` seeded by
        ``random_state``, at least one sample per class), descend on the
        others, record the held-out cost after every update in
        ``validation_cost_history_``, stop once ``n_iter_no_change`` updates
        in a row have not improved the held-out value (the cost, or the
        ``scoring``), and keep the iterate with the best one. The held-out
        rows stay in X with weight zero in ``J``: X is not copied, and each
        pass over X gives their cost with the gradient. Only for NumPy and
        SciPy input (ValueError for dask and array-API arrays); ``partial_fit``
        ignores it.

    validation_fraction : float, default=0.1
        Fraction of the samples held out by ``early_stopping``, in (0, 1).

    n_iter_no_change : int, default=10
        Updates without a better held-out value after which
        ``early_stopping`` stops. The held-out cost counts as better when it
        falls by more than float rounding (1e-12 of ``max(1, cost)`` in
        float64, 1e-5 in float32), a score when it rises.

    scoring : str or callable, default=None
        With ``early_stopping``, a scikit-learn scoring (e.g.
        ``"accuracy"``, or ``scorer(estimator, X, y)``), higher is better,
        evaluated on the held-out samples (with their ``sample_weight``)
        after every update; it then decides the best iterate, and is
        recorded in ``validation_scores_``. It predicts on a copy of the
        held-out rows, a read of them per update. None: the held-out cost
        decides.

    verbose : int, default=0
        Print ``J``, the gradient norm and the step at every iteration when
        > 0.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.

    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Weights ``w``, one row for binary problems, one per class otherwise;
        in X's floating dtype.

    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercept ``b`` (zeros when ``fit_intercept=False``).

    n_iter_ : int
        Number of gradient-descent updates performed; with
        ``early_stopping``, the update after which the kept iterate was
        reached (the descent went on for at most ``n_iter_no_change`` more,
        which the histories record).

    alpha_ : float
        The step size used (the fixed alpha, or the one ``"auto"`` chose; for
        ``solver="nesterov"``, that of the last update).

    cost_history_ : ndarray of shape (n_iter_ + 1,)
        The cost ``J`` at the starting point and after every update (with
        ``early_stopping``, of every update made: up to
        ``n_iter_ + 1 + n_iter_no_change`` values, on the training rows).

    validation_cost_history_ : ndarray of shape (len(cost_history_),)
        Only with ``early_stopping``: the held-out cost, the weighted mean
        cross-entropy of the held-out samples (no penalty), at the same
        points as ``cost_history_``.

    validation_scores_ : ndarray of shape (len(cost_history_),)
        Only with ``early_stopping`` and a ``scoring``: the held-out score at
        the same points.

    best_validation_score_ : float
        Only with ``early_stopping`` and a ``scoring``: the score of the kept
        iterate, ``validation_scores_[n_iter_]``.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.linear_model.LogisticRegression : The same model fitted by
        second-order or coordinate solvers.
    sklearn.linear_model.SGDClassifier : Stochastic gradient descent.

    Notes
    -----
    The cost minimised, with ``s_i`` the sample weight times class weight of
    sample ``i`` and ``S = sum_i s_i``, is::

        J(w, b) = (1/S) sum_i s_i L(y_hat_i, y_i)
                  + 1/(C S) * ((1 - l1_ratio)/2 ||w||_2^2 + l1_ratio ||w||_1)

    with ``L`` the cross-entropy and ``y_hat = sigmoid(w . x + b)`` (softmax
    for three or more classes). With ``C=np.inf`` it is the lecture's
    ``J = 1/m sum L``. Reaching ``max_iter`` before ``tol`` emits a
    :class:`~sklearn.exceptions.ConvergenceWarning`; so does a fixed alpha that
    makes ``J`` rise above its starting value (the fit stops there and keeps
    the coefficients with the lowest ``J``; the warning gives ``2/L``, the
    largest step guaranteed to be stable for the data).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_gdlogreg import GDLogisticRegression
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), GDLogisticRegression(alpha=1.0))
    >>> clf = clf.fit(X, y)
    >>> gd = clf[-1]
    >>> print(f"J: {gd.cost_history_[0]:.3f} -> {gd.cost_history_[-1]:.3f}")
    J: 0.693 -> 0.066
    >>> round(clf.score(X, y), 2)
    0.99

    Early stopping holds out 10% of the samples and keeps the iterate with
    the lowest held-out cost:

    >>> gd = GDLogisticRegression(
    ...     alpha=1.0, C=float("inf"), early_stopping=True, random_state=0
    ... )
    >>> gd = make_pipeline(StandardScaler(), gd).fit(X, y)[-1]
    >>> gd.n_iter_, len(gd.cost_history_) - 1  # kept, and updates made
    (392, 402)
    >>> print(f"held-out J: {gd.validation_cost_history_[gd.n_iter_]:.3f}")
    held-out J: 0.075
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "C": [Interval(Real, 0, None, closed="right")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "solver": [StrOptions({"auto", "gd", "nesterov"})],
        "preconditioner": [StrOptions({"auto", "diagonal", "cholesky"}), None],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "init": [StrOptions({"zeros", "random"})],
        "random_state": ["random_state"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "warm_start": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        alpha="auto",
        *,
        C=1.0,
        l1_ratio=0.0,
        solver="auto",
        preconditioner="auto",
        fit_intercept=True,
        max_iter=10_000,
        tol=1e-4,
        init="zeros",
        random_state=None,
        class_weight=None,
        warm_start=False,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        scoring=None,
        verbose=0,
    ):
        self.alpha = alpha
        self.C = C
        self.l1_ratio = l1_ratio
        self.solver = solver
        self.preconditioner = preconditioner
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.random_state = random_state
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.scoring = scoring
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.array_api_support = True  # torch, CuPy, ...: see _array_api.py
        # Without an intercept a linear model cannot reach the class-weight
        # check's accuracy bar (LogisticRegression(fit_intercept=False) fails
        # it too); that is the only case where this tag is honest.
        tags.classifier_tags.poor_score = not self.fit_intercept
        return tags

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    @restores_state_on_error
    def fit(self, X, y, sample_weight=None):
        """Fit the model by gradient descent on ``J``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; float32 data is fitted in float32. CSR and CSC
            matrices are used as they are, never densified.
        y : array-like of shape (n_samples,)
            Target labels, two or more classes.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples.

        Returns
        -------
        self : object
            The fitted estimator. If fitting raises, the estimator is left as
            it was before the call.

        Examples
        --------
        >>> from sklearn_gdlogreg import GDLogisticRegression
        >>> clf = GDLogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
        >>> clf.predict([[0.2], [2.8]])
        array([0, 1])
        """
        return self._fit(X, y, sample_weight)

    def _fit(self, X, y, sample_weight):
        kind = input_kind(X)
        if self.early_stopping and kind != "numpy":
            raise ValueError(
                f"early_stopping=True needs X as a NumPy array or SciPy sparse "
                f"matrix, got {kind} input. Convert it (e.g. np.asarray, or "
                f"dask's .compute()), or fit with early_stopping=False."
            )
        cost = {
            "C": self.C,
            "l1_ratio": self.l1_ratio,
            "fit_intercept": self.fit_intercept,
            "preconditioner": resolve_preconditioner(
                self.preconditioner, self.alpha, None if kind == "numpy" else kind
            ),
        }
        if kind == "dask":
            objective, classes = prepare_dask(
                X, y, sample_weight, class_weight=self.class_weight, cost=cost
            )
            self.n_features_in_ = X.shape[1]
            self.__dict__.pop("feature_names_in_", None)  # a dask array has no names
            return self._solve(objective, classes)
        if kind == "array-API":
            xp, _ = get_namespace(X)
            X = validate_data(self, X, dtype=[xp.float64, xp.float32])
            objective, classes = prepare_array_api(
                X, y, sample_weight, class_weight=self.class_weight, cost=cost
            )
            return self._solve(objective, classes)
        # scikit-learn's finiteness check sums X in X's dtype: float32 data
        # near its maximum overflows there (then falls back to an exact test).
        with np.errstate(over="ignore", invalid="ignore"):
            X, y = validate_data(
                self, X, y, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32]
            )
        validation = None
        if self.early_stopping:
            validation = {
                "validation_fraction": self.validation_fraction,
                "random_state": self.random_state,
            }
        objective, classes = prepare_numpy(
            X, y, sample_weight, class_weight=self.class_weight, cost=cost,
            validation=validation,
        )  # fmt: skip
        data = (objective.X, y, sample_weight)
        monitor = None
        if validation is not None:
            monitor = held_out_monitor(self, objective, classes, data)
        # BLAS limited once for the descent (large problems only), not once
        # per pass: a pass's limit then costs a counter, not a call into BLAS.
        with objective.blas_context():
            return self._solve(objective, classes, callback_data=data, monitor=monitor)

    def _solve(self, objective, classes, callback_data=None, monitor=None):
        """Pick the step, run the solver, set the fitted attributes.

        Shared by every input path (NumPy/SciPy, dask, array API).
        ``callback_data``, the validated ``(X, y, sample_weight)``, enables
        scikit-learn callbacks; ``monitor``, a ``HeldOutMonitor``, early
        stopping.
        """
        step = learning_rate(self.alpha, objective)

        # The starting point, after the step bound (its Lanczos vectors and
        # this are never alive at once), in a list that hands the solver the
        # only reference: it is freed after the first update (D3: 0.6% of X).
        start = [objective.from_original(*self._initial_coef(objective, classes))]
        # scikit-learn >= 1.9 callbacks (set_callbacks); None when none is set.
        callbacks = (
            None
            if callback_data is None
            else FitCallbacks.begin(self, *callback_data, objective, classes, start[0])
        )
        result = SOLVERS[self._solver()](
            objective,
            start.pop(),
            step=step,
            adaptive=self.alpha == "auto",
            max_iter=self.max_iter,
            tol=self.tol,
            verbose=self.verbose,
            on_iter=None if callbacks is None else callbacks.on_iter,
            held_out=monitor,
        )
        stopped = (callbacks is not None and callbacks.stopped) or (
            monitor is not None and monitor.stopped
        )
        if not stopped or result.diverged:
            self._warn_if_unconverged(result, objective)

        # With early stopping, the iterate with the best held-out value.
        theta, n_iter = result.theta, result.n_iter
        if monitor is not None:
            theta, n_iter = monitor.best_theta, monitor.best_iter
            if self.verbose and monitor.stopped:
                print(
                    f"Early stopping: no better held-out value in the last "
                    f"{self.n_iter_no_change} updates; keeping iterate {n_iter}."
                )
        self.classes_ = classes
        self.coef_, self.intercept_ = coef_and_intercept(
            *objective.to_original(theta),
            xp=objective.xp,
            as_output=objective.as_output,
        )
        self.n_iter_ = int(n_iter)
        set_held_out_attributes(self, monitor)
        self.alpha_ = float(result.step)
        self.cost_history_ = objective.history(result.cost_history)
        if callbacks is not None:
            callbacks.end(result)
        return self

    def _solver(self):
        """The solver that runs: ``"auto"`` resolved (see ``solver``)."""
        if self.solver != "auto":
            return self.solver
        return "nesterov" if self.alpha == "auto" else "gd"

    def _initial_coef(self, objective, classes):
        """NumPy ``(w, b)`` to start from: warm start, zeros or small random."""
        d, k, dtype = objective.n_features, objective.n_out, objective.dtype
        if self.warm_start and hasattr(self, "coef_"):
            coef = objective.to_numpy(self.coef_)
            intercept = objective.to_numpy(self.intercept_)
            if coef.shape == (k, d) and np.array_equal(self.classes_, classes):
                return coef.T.astype(dtype), intercept.astype(dtype)
        return start_point(
            d, k, dtype, init=self.init, random_state=self.random_state,
            fit_intercept=self.fit_intercept,
        )  # fmt: skip

    def _warn_if_unconverged(self, result, objective):
        history = result.cost_history
        if result.diverged:
            L = objective.lipschitz()
            auto = "" if self.alpha == "auto" else " or alpha='auto'"
            warnings.warn(
                f"Gradient descent diverged: with alpha={self.alpha!r} the cost "
                f"J rose from {history[0]:.6g} to {history[-1]:.6g} at "
                f"iteration {result.n_iter}. The largest step guaranteed to be "
                f"stable for this data is 2/L = {2.0 / L:.4g}; use a smaller "
                f"alpha (e.g. 1/L = {1.0 / L:.4g}){auto}. coef_ and "
                "intercept_ are those of the iterate with the lowest "
                + ("held-out value." if self.early_stopping else "cost."),
                ConvergenceWarning,
                stacklevel=caller_stacklevel(),
            )
        elif not result.converged:
            warnings.warn(
                f"Gradient descent did not converge in max_iter={self.max_iter} "
                f"iterations (tol={self.tol}, solver={self._solver()!r}, "
                f"alpha={self.alpha!r}, preconditioner="
                f"{objective.preconditioner!r}). What may help: "
                + "; ".join(self._convergence_advice(objective))
                + ".",
                ConvergenceWarning,
                stacklevel=caller_stacklevel(),
            )

    def _convergence_advice(self, objective):
        """What would help this fit converge: never what it already uses."""
        advice = [
            f"increase max_iter (now {self.max_iter})",
            f"loosen tol (now {self.tol})",
        ]
        if self._solver() == "gd":
            advice.append("solver='nesterov' (accelerated: far fewer iterations)")
        if self.alpha != "auto":
            advice.append(
                "alpha='auto' (a step from the curvature bound, in scaled or "
                "whitened coordinates)"
            )
        used = objective.preconditioner
        if used is None:
            if _looks_unscaled(objective):
                advice.append("scale the features (e.g. StandardScaler)")
            if self.alpha == "auto":
                advice.append("preconditioner='auto' (scaled coordinates)")
        elif (
            used == "diagonal"
            and _in_memory(objective.X)
            and cholesky_applies(objective.X, objective.l1)
        ):
            advice.append("preconditioner='cholesky' (for correlated features)")
        return advice

    # --------------------------------------------------------------- export
    def as_sklearn(self):
        """The fitted model as scikit-learn's own ``LogisticRegression``.

        For serving where only scikit-learn's classes are understood: ONNX
        export with skl2onnx, skops' default trusted types, model registries.
        Nothing is refitted; the arrays are copied.

        Returns
        -------
        model : sklearn.linear_model.LogisticRegression
            Fitted, with the same ``classes_``, ``coef_``, ``intercept_``,
            ``n_features_in_`` (and ``feature_names_in_``) and hence the same
            predictions; its ``C`` and ``l1_ratio`` describe the same cost, so
            refitting a clone solves the same problem.

        Examples
        --------
        >>> from sklearn_gdlogreg import GDLogisticRegression
        >>> clf = GDLogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
        >>> lr = clf.as_sklearn()
        >>> type(lr).__name__
        'LogisticRegression'
        >>> bool((lr.predict_proba([[1.2]]) == clf.predict_proba([[1.2]])).all())
        True
        """
        return to_logistic_regression(self)

    # -------------------------------------------------------------- predict
    def predict_proba(self, X):
        """Probability estimates, one column per class in ``classes_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Sigmoid (binary) or softmax (multiclass) of the decision values,
            computed stably for any magnitude.

        Examples
        --------
        >>> from sklearn_gdlogreg import GDLogisticRegression
        >>> clf = GDLogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
        >>> clf.predict_proba([[1.5]]).round(2)
        array([[0.5, 0.5]])
        """
        check_is_fitted(self)
        if (proba := non_numpy_proba(self, "predict_proba", X)) is not None:
            return proba  # dask: lazy; array API: in X's namespace
        scores = self.decision_function(X)
        if scores.ndim == 1:
            p1 = expit(scores)
            return np.column_stack([1.0 - p1, p1])
        return softmax(scores, axis=1)

    def predict_log_proba(self, X):
        """Log of probability estimates, computed without ``log(0)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            ``log_sigmoid`` (binary) or ``log_softmax`` of the decision
            values; finite for decision values of any magnitude.

        Examples
        --------
        >>> from sklearn_gdlogreg import GDLogisticRegression
        >>> clf = GDLogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
        >>> clf.predict_log_proba([[1.5]]).round(2)
        array([[-0.69, -0.69]])
        """
        check_is_fitted(self)
        if (proba := non_numpy_proba(self, "predict_log_proba", X)) is not None:
            return proba  # dask: lazy; array API: in X's namespace
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return np.column_stack([log_expit(-scores), log_expit(scores)])
        return log_softmax(scores, axis=1)
