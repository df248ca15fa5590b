"""Demo: ``python -m sklearn_gdlogreg``.

Fits StandardScaler + GDLogisticRegression on scikit-learn's bundled
breast-cancer data, prints what gradient descent did and how close it came
to scikit-learn's own LogisticRegression.
"""

import sys
import time

import numpy as np


def main(argv=None):
    """Run the breast-cancer demo and print a short report.

    Parameters
    ----------
    argv : list of str, optional
        Unused for now; reserved for command-line options.

    Returns
    -------
    int
        Exit status (0).
    """
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from . import GDLogisticRegression

    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    model = make_pipeline(
        StandardScaler(), GDLogisticRegression(solver="nesterov", tol=1e-6)
    )
    start = time.perf_counter()
    model.fit(X_train, y_train)
    elapsed = time.perf_counter() - start
    gd = model[-1]

    reference = make_pipeline(
        StandardScaler(),
        LogisticRegression(solver="newton-cholesky", tol=1e-12, max_iter=1000),
    ).fit(X_train, y_train)[-1]
    gap = np.max(np.abs(gd.coef_ - reference.coef_)) / np.max(
        np.abs(reference.coef_)
    )

    print("GDLogisticRegression on breast cancer (StandardScaler first)")
    print(f"  solver={gd.solver!r}  alpha_={gd.alpha_:.4g}  tol={gd.tol:g}")
    print(f"  iterations      {gd.n_iter_}")
    print(f"  cost J          {gd.cost_history_[0]:.6f} -> {gd.cost_history_[-1]:.6f}")
    print(f"  train accuracy  {model.score(X_train, y_train):.4f}")
    print(f"  test accuracy   {model.score(X_test, y_test):.4f}")
    print(f"  fit time        {elapsed * 1000:.1f} ms")
    print(f"  max |coef - LogisticRegression coef| / max |coef|  {gap:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
