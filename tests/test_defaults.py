"""First contact: the defaults converge, and a warning's advice fits the fit.

With every default, a fit converges (no ConvergenceWarning) on the data sets
users try first, raw and standardized. When a fit does warn, its advice
names what would help that configuration and never what it already uses.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import GDLogisticRegression

LOADERS = {
    "breast_cancer": load_breast_cancer,
    "wine": load_wine,
    "digits": load_digits,
    "iris": load_iris,
}


@pytest.mark.parametrize("scaled", [False, True])
@pytest.mark.parametrize("name", list(LOADERS))
def test_defaults_converge_on_first_contact_data(name, scaled):
    X, y = LOADERS[name](return_X_y=True)
    if scaled:
        X = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = GDLogisticRegression().fit(X, y)
    assert clf.n_iter_ < clf.max_iter
    # A sanity check of what converged (the precision of the minimiser is
    # tested in test_correctness): the oracle's training accuracy, within
    # two samples in a hundred.
    oracle = LogisticRegression(solver="newton-cholesky", tol=1e-10).fit(X, y)
    assert abs(clf.score(X, y) - oracle.score(X, y)) <= 0.02


def test_auto_solver_is_the_lecture_update_for_a_numeric_alpha():
    # solver="auto" with a number: exactly gd's iterates (what a grid
    # search over the learning rate compares), not nesterov's.
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    params = dict(alpha=0.5, max_iter=7, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        auto = GDLogisticRegression(**params).fit(X, y)
        gd = GDLogisticRegression(solver="gd", **params).fit(X, y)
        nesterov = GDLogisticRegression(solver="nesterov", **params).fit(X, y)
    np.testing.assert_array_equal(auto.cost_history_, gd.cost_history_)
    assert not np.array_equal(auto.cost_history_, nesterov.cost_history_)


def _advice(X, y, **params):
    """The text after "What may help:" of the fit's ConvergenceWarning."""
    with pytest.warns(ConvergenceWarning, match="did not converge") as record:
        GDLogisticRegression(max_iter=2, **params).fit(X, y)
    (message,) = [str(w.message) for w in record if "converge" in str(w.message)]
    return message.split("What may help:")[1]


@pytest.fixture
def raw_digits():
    return load_digits(return_X_y=True)


def test_advice_for_the_defaults_names_no_parameter_in_use(raw_digits):
    advice = _advice(*raw_digits)
    assert "max_iter" in advice and "tol" in advice
    for in_use in ("solver='nesterov'", "alpha='auto'", "preconditioner='auto'"):
        assert in_use not in advice
    # The defaults' diagonal preconditioner runs: the whitening would help.
    assert "preconditioner='cholesky'" in advice


def test_advice_for_a_fixed_alpha_on_raw_data(raw_digits):
    advice = _advice(*raw_digits, alpha=1e-4)
    assert "solver='nesterov'" in advice
    assert "alpha='auto'" in advice
    assert "StandardScaler" in advice  # pixel columns: stds from 0 to 6.5


def test_advice_for_a_fixed_alpha_on_scaled_data(raw_digits):
    X, y = raw_digits
    advice = _advice(StandardScaler().fit_transform(X), y, alpha=1e-2)
    assert "StandardScaler" not in advice
    assert "alpha='auto'" in advice


def test_advice_for_nesterov_with_a_fixed_alpha(raw_digits):
    advice = _advice(*raw_digits, alpha=1e-4, solver="nesterov")
    assert "solver='nesterov'" not in advice
    assert "alpha='auto'" in advice


def test_advice_for_gd_with_auto_alpha(raw_digits):
    advice = _advice(*raw_digits, solver="gd")
    assert "solver='nesterov'" in advice
    assert "alpha='auto'" not in advice
    assert "preconditioner='auto'" not in advice


def test_advice_suggests_cholesky_where_diagonal_runs_and_it_applies(raw_digits):
    advice = _advice(*raw_digits, preconditioner="diagonal")
    assert "preconditioner='cholesky'" in advice
    X, y = raw_digits  # sparse X: cholesky does not apply
    advice = _advice(sp.csr_matrix(X), y, preconditioner="diagonal")
    assert "cholesky" not in advice


def test_advice_suggests_a_preconditioner_when_none_is_used(raw_digits):
    advice = _advice(*raw_digits, preconditioner=None)
    assert "preconditioner='auto'" in advice
    assert "StandardScaler" in advice


def test_divergence_advice_never_suggests_the_alpha_in_use(raw_digits):
    X, y = raw_digits
    with pytest.warns(ConvergenceWarning, match="diverged") as record:
        GDLogisticRegression(alpha=10.0, max_iter=50).fit(X, y)
    message = str(record[0].message)
    assert "2/L = " in message and "alpha='auto'" in message
