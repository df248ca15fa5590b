"""Shared fixtures: reference data sets, built on demand (never at import)."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.preprocessing import StandardScaler


@pytest.fixture(scope="session")
def breast_cancer():
    """Standardized breast-cancer data (569 x 30, binary)."""
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="session")
def breast_cancer_raw():
    """Unscaled breast-cancer data: feature scales from 1e-3 to 1e3."""
    return load_breast_cancer(return_X_y=True)


@pytest.fixture(scope="session")
def three_classes():
    """A 3-class problem with label noise (300 x 6)."""
    X, y = make_classification(
        n_samples=300,
        n_features=6,
        n_informative=4,
        n_redundant=0,
        n_classes=3,
        flip_y=0.1,
        random_state=0,
    )
    return X, y


@pytest.fixture
def rng():
    return np.random.default_rng(0)
