"""A read-only install: nothing is compiled, cached or written at import or fit.

Guards against a regression of the numba kernels: in a read-only install (a
container image, a service account with no writable HOME or site-packages)
the package failed with numba's "cannot cache function ...: no locator
available". The kernels are now compiled when the package is installed;
nothing may compile or cache anything at import or fit, and numba must not
be loaded at all.

A fresh process imports the package and fits binary, multinomial, float32
and CSR problems (both solvers, a weighted fit, a ``partial_fit``) and a
``GDLogisticRegressionCV``, with HOME and XDG_CACHE_HOME pointing to an empty
directory of mode 0o500. Afterwards the package directory's listing (every
file and folder, recursively, with size and mtime) must be unchanged, and
the temporary HOME still empty.
"""

import importlib.util
import os
import pathlib
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import os
    import sys
    import warnings

    import numpy as np
    import scipy.sparse as sp
    from sklearn.datasets import load_breast_cancer, load_wine
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.preprocessing import StandardScaler

    import sklearn_gdlogreg
    from sklearn_gdlogreg import GDLogisticRegression, GDLogisticRegressionCV

    # The package imported is the one whose directory the parent lists.
    origin = os.path.realpath(sklearn_gdlogreg.__file__)
    assert origin.startswith(sys.argv[1] + os.sep), origin
    warnings.simplefilter("ignore", ConvergenceWarning)  # short fits

    def scaled(loader):
        X, y = loader(return_X_y=True)
        return StandardScaler().fit_transform(X), y

    X, y = scaled(load_breast_cancer)
    rng = np.random.default_rng(0)
    Xs = sp.random(500, 50, density=0.05, format="csr", random_state=rng)
    zs = Xs @ rng.normal(size=50)
    problems = {
        "binary": (X, y),
        "multinomial": scaled(load_wine),
        "float32": (X.astype(np.float32), y),
        "csr": (Xs, (zs > np.median(zs)).astype(int)),
    }
    for name, (X_, y_) in problems.items():
        for solver in ("gd", "nesterov"):
            est = GDLogisticRegression(solver=solver, max_iter=200).fit(X_, y_)
            est.predict_proba(X_)
        weights = np.linspace(0.5, 1.5, X_.shape[0])
        GDLogisticRegression(max_iter=200).fit(X_, y_, sample_weight=weights)
        GDLogisticRegression(max_iter=50).partial_fit(X_, y_, classes=np.unique(y_))
    GDLogisticRegressionCV(alphas=[0.01, 0.1, 1.0], cv=3, max_iter=200).fit(X, y)

    # (Not Cython: SciPy's import loads it whenever it is installed.)
    loaded = [m for m in ("numba", "pyximport") if m in sys.modules]
    assert not loaded, f"loaded at import or fit: {loaded}"
    print("OK")
    """
)


def _listing(root):
    """Every file and folder under ``root`` (itself included): size, mtime."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [".", *dirnames, *filenames]:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            out[os.path.relpath(path, root)] = (st.st_size, st.st_mtime_ns)
    return out


def _diff(before, after):
    added = sorted(after.keys() - before.keys())
    removed = sorted(before.keys() - after.keys())
    changed = sorted(k for k in before.keys() & after.keys() if before[k] != after[k])
    return {
        k: v
        for k, v in (("added", added), ("removed", removed), ("changed", changed))
        if v
    }


def test_fit_writes_nothing_in_package_or_home(tmp_path):
    # Located without importing: the parent does nothing to the directory.
    spec = importlib.util.find_spec("sklearn_gdlogreg")
    package = pathlib.Path(spec.origin).resolve().parent
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ)
    # Variables that would send a cache elsewhere than HOME (or nowhere).
    for var in ("NUMBA_CACHE_DIR", "PYXBLD_DIR", "PYTHONPYCACHEPREFIX"):
        env.pop(var, None)
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home),
        XDG_CONFIG_HOME=str(home),
        # The interpreter's own bytecode cache is not the package's doing (a
        # real install ships its .pyc files, compiled by pip at install).
        PYTHONDONTWRITEBYTECODE="1",
    )
    before = _listing(package)
    home.chmod(0o500)
    try:
        # As root (containers, CI), mode 0o500 stops no write: there the
        # listings compared below are the real check. As another user, a
        # write would also fail in the child itself.
        res = subprocess.run(
            [sys.executable, "-c", CHILD, str(package)],
            cwd=home,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        home.chmod(0o700)
    changes = _diff(before, _listing(package))
    in_home = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
    # Every problem in one message: the child's failure and what it wrote.
    problems = []
    if res.returncode != 0:
        problems.append(f"child failed:\n{res.stderr[-3000:]}")
    if changes:
        problems.append(f"package directory {package} changed: {changes}")
    if in_home:
        problems.append(f"files written under HOME: {in_home}")
    assert not problems, "\n".join(problems)
    assert res.stdout.strip().endswith("OK")
