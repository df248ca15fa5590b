"""GDLogisticRegression as a citizen of the scikit-learn ecosystem."""

import pickle
import warnings

import joblib
import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_selection import SelectFromModel
from sklearn.inspection import permutation_importance
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import GDLogisticRegression

ALPHAS = [0.01, 0.1, 1.0]


@pytest.fixture(autouse=True)
def _quiet_convergence():
    # Small max_iter keeps these tests fast; convergence is tested elsewhere.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def test_grid_search_over_learning_rate(breast_cancer):
    X, y = breast_cancer
    search = GridSearchCV(GDLogisticRegression(max_iter=50), {"alpha": ALPHAS}, cv=3)
    search.fit(X, y)
    # Oracle: the same search by hand, one fit per alpha and fold.
    scores = [
        cross_validate(GDLogisticRegression(alpha=a, max_iter=50), X, y, cv=3)[
            "test_score"
        ].mean()
        for a in ALPHAS
    ]
    assert search.best_params_["alpha"] == ALPHAS[int(np.argmax(scores))]
    assert_allclose(search.cv_results_["mean_test_score"], scores)


def test_pipeline_grid_search_clf__alpha(breast_cancer_raw):
    X, y = breast_cancer_raw
    pipe = make_pipeline(StandardScaler(), GDLogisticRegression(max_iter=50))
    search = GridSearchCV(pipe, {"gdlogisticregression__alpha": ALPHAS}, cv=3)
    search.fit(X, y)
    assert search.best_params_["gdlogisticregression__alpha"] in ALPHAS
    assert search.score(X, y) > 0.95


def test_meta_estimators(three_classes):
    X, y = three_classes
    est = GDLogisticRegression(max_iter=100)
    assert CalibratedClassifierCV(est, cv=3).fit(X, y).predict_proba(X).shape == (
        300,
        3,
    )
    ovr = OneVsRestClassifier(est).fit(X, y)
    assert len(ovr.estimators_) == 3
    selector = SelectFromModel(GDLogisticRegression(l1_ratio=1.0, C=0.05)).fit(X, y)
    assert 0 < selector.transform(X).shape[1] <= X.shape[1]
    fitted = clone(est).fit(X, y)
    result = permutation_importance(fitted, X, y, n_repeats=2, random_state=0)
    assert result.importances_mean.shape == (X.shape[1],)


def test_metadata_routing_of_sample_weight(breast_cancer):
    X, y = breast_cancer
    sw = np.where(y == 1, 3.0, 1.0)
    with sklearn.config_context(enable_metadata_routing=True):
        est = GDLogisticRegression(max_iter=50).set_fit_request(sample_weight=True)
        pipe = make_pipeline(StandardScaler().set_fit_request(sample_weight=False), est)
        pipe.fit(X, y, sample_weight=sw)
    direct = GDLogisticRegression(max_iter=50).fit(
        StandardScaler().fit_transform(X), y, sample_weight=sw
    )
    assert_allclose(pipe[-1].coef_, direct.coef_, rtol=1e-12)


def test_clone_pickle_joblib_round_trips(tmp_path, three_classes):
    X, y = three_classes
    est = GDLogisticRegression(solver="nesterov", C=0.3).fit(X, y)
    unfitted = clone(est)
    assert unfitted.get_params() == est.get_params()
    assert not hasattr(unfitted, "coef_")
    restored = pickle.loads(pickle.dumps(est))
    assert_array_equal(restored.predict_proba(X), est.predict_proba(X))
    assert_array_equal(restored.cost_history_, est.cost_history_)
    joblib.dump(est, tmp_path / "model.joblib")
    assert_array_equal(
        joblib.load(tmp_path / "model.joblib").predict_proba(X), est.predict_proba(X)
    )
