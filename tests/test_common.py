"""scikit-learn's estimator checks: no expected failures, but one with
early stopping, whose random split cannot treat a repeated row as a doubled
weight."""

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
    GDLogisticRegression(early_stopping=True),
    GDLogisticRegression(early_stopping=True, alpha=0.1, scoring="accuracy"),
]


def _expected_failures(estimator):
    """With early stopping, rows are held out at random: a row repeated twice
    may be split between both sides, a row of weight 2 cannot (as for
    SGDClassifier), so the fit differs from the weighted one."""
    if not estimator.early_stopping:
        return {}
    reason = "a random split holds out repeated rows, not weights"
    return {
        "check_sample_weight_equivalence_on_dense_data": reason,
        "check_sample_weight_equivalence_on_sparse_data": reason,
    }


@parametrize_with_checks(CONFIGURATIONS, expected_failed_checks=_expected_failures)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_poor_score_tag_only_without_intercept():
    # The tag exempts an estimator from accuracy checks: it must be set only
    # where a linear model without intercept honestly cannot pass them.
    assert not GDLogisticRegression().__sklearn_tags__().classifier_tags.poor_score
    tags = GDLogisticRegression(fit_intercept=False).__sklearn_tags__()
    assert tags.classifier_tags.poor_score
    assert GDLogisticRegression().__sklearn_tags__().input_tags.sparse
