"""GDLogisticRegressionCV: every learning rate and every fold trained at once."""

import time
import warnings
from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import check_cv
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ._compat import StrOptions, _check_sample_weight, _fit_context, validate_data
from ._cv_results import (
    accepts_sample_weight,
    format_results,
    report_fit_failures,
    warn_summary,
)
from ._cv_search import SearchSettings, candidate_grid, search
from ._export import to_logistic_regression
from ._fit_state import LoadsOlderModels, restores_state_on_error
from ._gd_logistic import GDLogisticRegression
from ._inputs._checks import check_two_classes

# GDLogisticRegression's parameters that GDLogisticRegressionCV shares.
_SOLVER_PARAMS = (
    "C",
    "l1_ratio",
    "solver",
    "preconditioner",
    "fit_intercept",
    "max_iter",
    "tol",
    "init",
    "random_state",
    "class_weight",
    "verbose",
)


class GDLogisticRegressionCV(LoadsOlderModels, LinearClassifierMixin, BaseEstimator):
    """Gradient-descent logistic regression with the learning rate chosen by CV.

    Does what ``GridSearchCV(GDLogisticRegression(...), {"alpha": alphas},
    cv=cv, scoring=scoring)`` does -- same folds, same scores, same choice --
    but trains every (alpha, C, fold) model at once: their coefficients are
    the columns of one matrix, so one iteration of all of them is one matrix
    product ``X @ W`` and one ``X.T @ R`` instead of two matrix-vector
    products per model. A fold's held-out rows are excluded by giving them
    zero weight in that fold's columns; X is never copied.

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------
    alphas : array-like of float
        The learning rates (step sizes, **not** penalties) to try, each > 0.

    Cs : array-like of float, default=None
        Inverse regularization strengths to try as well (grid over
        ``C x alpha``); None keeps ``C`` fixed.

    cv : int, cross-validation generator or iterable, default=None
        As in :class:`~sklearn.model_selection.GridSearchCV`: None is 5-fold,
        an int is the number of folds (stratified), or a splitter, or an
        iterable of (train, test) index arrays.

    scoring : str or callable, default=None
        A single metric as in ``GridSearchCV``; None uses the estimator's
        ``score`` (accuracy).

    refit : bool, default=True
        Refit the best setting on the whole data (then ``predict`` etc. work).

    error_score : "raise" or float, default=np.nan
        As in :class:`~sklearn.model_selection.GridSearchCV`: the score of a
        (setting, split) whose fit or scorer raises, with a
        :class:`~sklearn.exceptions.FitFailedWarning` (failed fits) or a
        ``UserWarning`` (failed scorer); ``"raise"`` re-raises the error. If
        every fit fails, ``fit`` raises ``ValueError`` whatever this is. A
        fit that diverges does not fail: it is scored as returned.

    C : float, default=1.0
        Inverse regularization strength, as in :class:`GDLogisticRegression`;
        ignored when ``Cs`` is given.

    l1_ratio : float, default=0.0
        Elastic-net mixing, as in :class:`GDLogisticRegression`.

    solver : {"auto", "gd", "nesterov"}, default="auto"
        The batched path covers ``"gd"``, the lecture's plain update, which
        ``"auto"`` means for the numeric learning rates searched here (as in
        :class:`GDLogisticRegression`). With ``"nesterov"`` the models are
        fitted one by one with :class:`GDLogisticRegression` instead: same
        results, no speed-up.

    preconditioner : {"auto", "diagonal"} or None, default="auto"
        As in :class:`GDLogisticRegression`: for numeric alphas ``"auto"``
        means None, the lecture's plain step; ``"diagonal"`` is batched too,
        with each fold's own weighted mean and scale.

    fit_intercept : bool, default=True
        Whether to fit the (never penalized) intercept.

    max_iter : int, default=1000
        Maximum number of updates of every model.

    tol : float, default=1e-4
        Each model stops when the max-norm of its gradient in the
        coordinates of ``coef_`` and ``intercept_`` (the minimum-norm
        subgradient with an L1 penalty) is at most ``tol``, as
        :class:`GDLogisticRegression`.

    init : {"zeros", "random"}, default="zeros"
        Starting point of every model.

    random_state : int, RandomState instance or None, default=None
        Seeds ``init="random"``.

    class_weight : dict or "balanced", default=None
        As in :class:`GDLogisticRegression`; "balanced" is computed on each
        fold's training rows, as ``GridSearchCV`` would.

    verbose : int, default=0
        Verbosity of the refit.

    record_validation_cost : bool, default=False
        Record each model's held-out cost at every iterate
        (``validation_cost_histories_``), in the same passes over X as its
        training. Off by default: it adds a product and a loss per held-out
        entry, about 10% to 100% to the search's time
        (``benchmarks/README_cv.md``).

    Attributes
    ----------
    alpha_ : float
        The chosen learning rate.

    C_ : float
        The chosen ``C``.

    best_score_ : float
        Mean cross-validated score of the chosen setting (NaN when every
        setting has a NaN score: then the first is chosen, as in
        ``GridSearchCV``).

    best_index_ : int
        Index of the chosen setting in ``cv_results_``.

    best_params_ : dict
        The chosen setting.

    cv_results_ : dict of ndarray
        In :class:`~sklearn.model_selection.GridSearchCV`'s format: ``params``,
        ``param_alpha`` (``param_C`` when ``Cs`` is given),
        ``split{k}_test_score``, ``mean_test_score``, ``std_test_score``,
        ``rank_test_score``, ``mean_fit_time`` (the batched fit's time shared
        equally among its models), ``std_fit_time``, ``mean_score_time``,
        ``std_score_time``. A model that diverged is scored on the iterate
        with the lowest cost, which :class:`GDLogisticRegression` returns
        after a divergence; a fit or scorer that raised scores
        ``error_score``. NaN mean scores rank last, as in ``GridSearchCV``.

    cost_histories_ : list of list of ndarray
        ``cost_histories_[i][k]``: the cost ``J`` of setting ``i`` on the
        training part of split ``k``, at the start and after every update.

    validation_cost_histories_ : list of list of ndarray or None
        Only with ``record_validation_cost=True``:
        ``validation_cost_histories_[i][k]`` is the held-out cost of setting
        ``i`` on split ``k`` at the same iterates as
        ``cost_histories_[i][k]`` (same length), float64: the weighted mean
        log-loss, without penalty, of split ``k``'s test rows, weighted by
        ``sample_weight`` times the class weights of that fold's fit
        (``"balanced"``: computed on its training rows). Computed in the
        same passes over X as the training. None where the models were
        fitted one by one (``solver="nesterov"``, or a training fold
        missing a class); NaN when the test weights sum to zero.

    n_splits_ : int
        Number of cross-validation splits.

    best_estimator_ : GDLogisticRegression
        The refitted model (only when ``refit=True``).

    classes_, coef_, intercept_, n_iter_, cost_history_ :
        Those of ``best_estimator_`` (only when ``refit=True``).

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    GDLogisticRegression : The estimator tuned here.
    sklearn.model_selection.GridSearchCV : The general search it reproduces.

    Notes
    -----
    Model ``j`` (setting ``(alpha, C)``, split ``k``) minimises, by the
    lecture's update with step ``alpha``, the cost of
    :class:`GDLogisticRegression` on split ``k``'s training rows: weights
    ``s_i`` normalised by their sum ``S_k`` over those rows and penalty
    ``1/(C S_k)``; with ``class_weight="balanced"`` the class weights are
    computed on those rows, as a fit on them would. Each model stops on its
    own tolerance, or when ``J`` rises above its start (divergence): it is
    then scored on its lowest-cost iterate, as ``GridSearchCV`` scores the
    ``GDLogisticRegression`` that diverges the same way.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_gdlogreg import GDLogisticRegressionCV
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> search = GDLogisticRegressionCV(alphas=[0.3, 1.0, 3.0], cv=3, tol=1e-3)
    >>> search = search.fit(X, y)
    >>> bool(search.best_index_ == search.cv_results_["rank_test_score"].argmin())
    True
    >>> round(search.score(X, y), 2)
    0.99
    """

    _parameter_constraints: dict = {
        **{
            name: GDLogisticRegression._parameter_constraints[name]
            for name in _SOLVER_PARAMS
        },
        "alphas": ["array-like"],
        "Cs": ["array-like", None],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "refit": ["boolean"],
        "record_validation_cost": ["boolean"],
        "error_score": [StrOptions({"raise"}), Real],
        # The batched search implements the plain and diagonal coordinates
        # only; "cholesky" is refused here rather than silently ignored.
        "preconditioner": [StrOptions({"auto", "diagonal"}), None],
    }

    def __init__(
        self,
        alphas=(0.001, 0.01, 0.1, 1.0),
        *,
        Cs=None,
        cv=None,
        scoring=None,
        refit=True,
        error_score=np.nan,
        C=1.0,
        l1_ratio=0.0,
        solver="auto",
        preconditioner="auto",
        fit_intercept=True,
        max_iter=1000,
        tol=1e-4,
        init="zeros",
        random_state=None,
        class_weight=None,
        verbose=0,
        record_validation_cost=False,
    ):
        self.alphas = alphas
        self.Cs = Cs
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.error_score = error_score
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
        self.verbose = verbose
        self.record_validation_cost = record_validation_cost

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.poor_score = not self.fit_intercept
        return tags

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    @restores_state_on_error
    def fit(self, X, y, sample_weight=None, groups=None):
        """Fit every (alpha, C, fold) model, select, refit the best.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data (CSR/CSC never densified, never copied per fold).
        y : array-like of shape (n_samples,)
            Target labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the training samples (the test scores are unweighted,
            as in ``GridSearchCV``).
        groups : array-like of shape (n_samples,), default=None
            Group labels for a group splitter given as ``cv``.

        Returns
        -------
        self : object
            The fitted estimator. If fitting raises (or is interrupted), the
            estimator is left as it was before the call.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.preprocessing import StandardScaler
        >>> from sklearn_gdlogreg import GDLogisticRegressionCV
        >>> X, y = load_iris(return_X_y=True)
        >>> X = StandardScaler().fit_transform(X)
        >>> search = GDLogisticRegressionCV(alphas=[0.3, 3.0], tol=1e-3, cv=3)
        >>> search.fit(X, y).alpha_  # a tie: the first, as GridSearchCV
        0.3
        """
        X, y = validate_data(
            self, X, y, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32]
        )
        if sp.issparse(X) and not X.has_canonical_format:
            X = X.copy()
            X.sum_duplicates()
        check_classification_targets(y)
        check_two_classes(np.unique(y))
        sw = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        candidates = candidate_grid(self.alphas, self.Cs, self.C)
        folds = list(check_cv(self.cv, y, classifier=True).split(X, y, groups))
        scorer = check_scoring(self._base_estimator(), self.scoring)
        # As GridSearchCV (scikit-learn >= 1.9): test scores are weighted
        # when sample_weight is given and the scorer accepts it.
        weighted = sample_weight is not None and accepts_sample_weight(scorer)
        settings = self._search_settings(sw if weighted else None)
        fit_weight = None if sample_weight is None else sw
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            result = search(X, y, fit_weight, candidates, folds, scorer, settings)
        # GridSearchCV's order: scorer warnings, failed fits, non-finite means.
        warn_summary(caught, result, candidates)
        report_fit_failures(result, self.error_score)

        self.n_splits_ = len(folds)
        self.cost_histories_ = result["histories"]
        # Set only when asked for (as GDLogisticRegression's held-out curve):
        # a refit without it removes it.
        self.__dict__.pop("validation_cost_histories_", None)
        if self.record_validation_cost:
            self.validation_cost_histories_ = result["validation_histories"]
        self.cv_results_ = format_results(candidates, result)
        self._select(candidates)
        if self.refit:
            self._refit(X, y, sample_weight)
        return self

    def _base_estimator(self, **params):
        est = GDLogisticRegression(
            **{name: getattr(self, name) for name in _SOLVER_PARAMS}
        )
        return est.set_params(**params)

    def _search_settings(self, score_weight):
        """The shared solver parameters, for the functions of ``_cv_search``."""
        return SearchSettings(
            make_estimator=self._base_estimator,
            score_weight=score_weight,
            accuracy_scoring=self.scoring in (None, "accuracy"),
            error_score=self.error_score,
            record_validation=self.record_validation_cost,
            **{
                name: getattr(self, name)
                for name in _SOLVER_PARAMS
                if name != "verbose"
            },
        )

    # ------------------------------------------------ selection and refit
    def _select(self, candidates):
        """The best rank, the first among ties (all NaN: all rank 1)."""
        means = self.cv_results_["mean_test_score"]
        self.best_index_ = int(np.argmin(self.cv_results_["rank_test_score"]))
        self.best_params_ = dict(candidates[self.best_index_])
        self.best_score_ = float(means[self.best_index_])
        self.alpha_ = self.best_params_["alpha"]
        self.C_ = self.best_params_.get("C", self.C)

    def _refit(self, X, y, sample_weight):
        best = self._base_estimator(**self.best_params_)
        start = time.perf_counter()
        best.fit(X, y, sample_weight=sample_weight)
        self.refit_time_ = time.perf_counter() - start
        self.best_estimator_ = best
        for name in ("classes_", "coef_", "intercept_", "n_iter_", "cost_history_"):
            setattr(self, name, getattr(best, name))

    # --------------------------------------------------------------- export
    def as_sklearn(self):
        """The refitted model as scikit-learn's own ``LogisticRegression``.

        As :meth:`GDLogisticRegression.as_sklearn`, with the chosen ``C_``:
        nothing is refitted, the arrays are copied, the predictions are the
        same. Needs ``refit=True``.

        Returns
        -------
        model : sklearn.linear_model.LogisticRegression
            Fitted, with the same ``classes_``, ``coef_``, ``intercept_``,
            ``n_features_in_`` (and ``feature_names_in_``), and ``C=C_``.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.preprocessing import StandardScaler
        >>> from sklearn_gdlogreg import GDLogisticRegressionCV
        >>> X, y = load_iris(return_X_y=True)
        >>> X = StandardScaler().fit_transform(X)
        >>> search = GDLogisticRegressionCV(alphas=[0.3, 3.0], tol=1e-3, cv=3)
        >>> lr = search.fit(X, y).as_sklearn()
        >>> type(lr).__name__
        'LogisticRegression'
        >>> bool((lr.predict(X) == search.predict(X)).all())
        True
        """
        check_is_fitted(self, "coef_")
        return to_logistic_regression(self, C=self.C_)

    # -------------------------------------------------------------- predict
    def predict_proba(self, X):
        """Probability estimates of the refitted model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            One column per class in ``classes_``.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.preprocessing import StandardScaler
        >>> from sklearn_gdlogreg import GDLogisticRegressionCV
        >>> X, y = load_iris(return_X_y=True)
        >>> X = StandardScaler().fit_transform(X)
        >>> search = GDLogisticRegressionCV(alphas=[0.3, 3.0], tol=1e-3, cv=3)
        >>> search.fit(X, y).predict_proba(X[:3]).shape
        (3, 3)
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", reset=False)
        return self.best_estimator_.predict_proba(X)

    def predict_log_proba(self, X):
        """Log of the refitted model's probability estimates, stably.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            One column per class in ``classes_``.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.preprocessing import StandardScaler
        >>> from sklearn_gdlogreg import GDLogisticRegressionCV
        >>> X, y = load_iris(return_X_y=True)
        >>> X = StandardScaler().fit_transform(X)
        >>> search = GDLogisticRegressionCV(alphas=[0.3, 3.0], tol=1e-3, cv=3)
        >>> search.fit(X, y).predict_log_proba(X[:3]).shape
        (3, 3)
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", reset=False)
        return self.best_estimator_.predict_log_proba(X)
