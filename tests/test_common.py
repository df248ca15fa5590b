"""scikit-learn's estimator checks, with no expected failures."""

import numpy as np
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_gdlogreg import GDLogisticRegression

CONFIGURATIONS = [
    GDLogisticRegression(),
    GDLogisticRegression(solver="nesterov"),
    GDLogisticRegression(l1_ratio=1.0),
    GDLogisticRegression(alpha=0.1),
    GDLogisticRegression(class_weight="balanced"),
    GDLogisticRegression(fit_intercept=False),
    GDLogisticRegression(l1_ratio=0.5, solver="nesterov", C=np.inf),
]


@parametrize_with_checks(CONFIGURATIONS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_poor_score_tag_only_without_intercept():
    # The tag exempts an estimator from accuracy checks: it must be set only
    # where a linear model without intercept honestly cannot pass them.
    assert not GDLogisticRegression().__sklearn_tags__().classifier_tags.poor_score
    tags = GDLogisticRegression(fit_intercept=False).__sklearn_tags__()
    assert tags.classifier_tags.poor_score
    assert GDLogisticRegression().__sklearn_tags__().input_tags.sparse
