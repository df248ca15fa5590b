"""Reference data (benchmarks/README.md), and the helpers every benchmark shares.

D1  make_classification(200_000, 100, n_informative=20, random_state=0),
    standardized, float64;  D1f its float32 copy;
D2  the breast-cancer data bundled with scikit-learn, standardized;
D3  CSR 100,000 x 20,000 at 0.1% density (labels from a sparse linear model);
D4  D1 with its columns multiplied by logspace(-2, 2, 100): unscaled.

``--quick`` shrinks every data set (same recipe, fewer rows/columns) so that
the benchmark scripts run in seconds in CI.
"""

import argparse
import contextlib
import multiprocessing
import os
import platform
import statistics
import time

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.preprocessing import StandardScaler

NAMES = ("D1", "D1f", "D2", "D3", "D4")


def _d1(quick, n_redundant=2):
    n, d = (20_000, 100) if quick else (200_000, 100)
    X, y = make_classification(
        n, d, n_informative=20, n_redundant=n_redundant, random_state=0
    )
    return StandardScaler().fit_transform(X), y


def load(name, quick=False, n_redundant=2):
    """Return ``(X, y)`` for one of :data:`NAMES`.

    ``n_redundant`` (D1 and D4 only) changes make_classification's number of
    redundant columns, exact linear combinations of the informative ones
    (2 by default, as in the reference data): for ablations only.
    """
    if name in ("D1", "D4") and n_redundant != 2:
        X, y = _d1(quick, n_redundant)
        return (X if name == "D1" else X * np.logspace(-2, 2, X.shape[1])), y
    if name == "D1":
        return _d1(quick)
    if name == "D1f":
        X, y = _d1(quick)
        return X.astype(np.float32), y
    if name == "D2":
        X, y = load_breast_cancer(return_X_y=True)
        return StandardScaler().fit_transform(X), y
    if name == "D3":
        n, d = (10_000, 2_000) if quick else (100_000, 20_000)
        rng = np.random.default_rng(0)
        X = sp.random(n, d, density=0.001, format="csr", random_state=rng)
        w = rng.normal(size=d)
        z = X @ w
        y = (z + 0.1 * rng.normal(size=n) > np.median(z)).astype(int)
        return X, y
    if name == "D4":
        X, y = _d1(quick)
        return X * np.logspace(-2, 2, X.shape[1]), y
    raise ValueError(f"unknown data set {name!r}; choose from {NAMES}")


def _spin(stop):
    while not stop.is_set():
        pass


@contextlib.contextmanager
def busy_cores(n):
    """Keep ``n`` cores busy with other processes (pure spinning) meanwhile:
    fits beside other work, as in a shared machine or ``n_jobs`` searches."""
    stop = multiprocessing.Event()
    spinners = [multiprocessing.Process(target=_spin, args=(stop,)) for _ in range(n)]
    for p in spinners:
        p.start()
    time.sleep(0.5 if n else 0.0)  # running before the first timed fit
    try:
        yield
    finally:
        stop.set()
        for p in spinners:
            p.join()


def parse_args(description, default_repeats=7, quick_repeats=2, add_arguments=None):
    """``--quick`` (small data, ``quick_repeats`` repeats) and ``--repeats``.

    ``add_arguments(parser)``, if given, adds a script's own options.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"small data, {quick_repeats} repeat(s) (CI smoke run)",
    )
    parser.add_argument("--repeats", type=int, default=None)
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args()
    if args.repeats is None:
        args.repeats = quick_repeats if args.quick else default_repeats
    return args


def median_time(fn, repeats, warmup=1):
    """Median wall time of ``fn()`` over ``repeats`` runs, in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_times(fns, repeats, warmup=1, settle=0.0, burst=1, warm=0.0):
    """Median wall time of each function, the runs interleaved round-robin.

    Measuring side by side this way, a burst of load from elsewhere on the
    machine hits every column alike instead of one of them.

    For the steady state of a loop (a fit runs its iterations back to back):
    ``settle`` seconds of sleep before each column's turn let the previous
    column's threads go idle (OpenBLAS keeps its threads spinning for a
    while after every multi-threaded call, which on a 2-core machine halves
    the speed of whatever runs next); then the function runs untimed for
    ``warm`` seconds (on this machine's virtual cores the first tens of
    milliseconds after an idle pause run up to 2x slower), and ``burst``
    timed calls back to back give the time per call.
    """
    for fn in fns:
        for _ in range(warmup):
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times):
            if settle:
                time.sleep(settle)
            start = time.perf_counter()
            while time.perf_counter() - start < warm:
                fn()
            start = time.perf_counter()
            for _ in range(burst):
                fn()
            ts.append((time.perf_counter() - start) / burst)
    return [statistics.median(ts) for ts in times]


def iteration_fn(obj):
    """One iteration of gradient_descent's loop body on ``obj``, as a function.

    The proximal step, the convergence test's max-norm (in the objective's
    own namespace) and J with the gradient in one pass, at a fixed step
    ``1/L``; any objective (NumPy, dask, array API).
    """
    step = 1.0 / obj.lipschitz()
    theta = obj.from_original(
        np.zeros((obj.n_features, 1), obj.dtype), np.zeros(1, obj.dtype)
    )
    Z = obj.new_raw()
    _, dtheta = obj.value_grad_pass(theta, Z)
    max_abs = getattr(obj, "max_abs", lambda a: float(np.max(np.abs(a))))

    def iteration():
        theta_new = obj.prox(theta - step * dtheta, step)
        max_abs(theta - theta_new)  # the convergence test
        return obj.value_grad_pass(theta_new, Z)

    return iteration


def machine():
    """One line describing the machine and its current load."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",) * 3
    try:
        n_cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        n_cpus = os.cpu_count()
    import numpy
    import scipy
    import sklearn

    return (
        f"{platform.processor() or platform.machine()}, {n_cpus} CPUs; "
        f"Python {platform.python_version()}, NumPy {numpy.__version__}, "
        f"SciPy {scipy.__version__}, scikit-learn {sklearn.__version__}; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


def objective(X, y, w, b, C=1.0):
    """J of the top-level README.md (uniform weights, L2, y in {0, 1}), float64.

    ``J(w, b) = mean log-loss + ||w||^2 / (2 C n)``, the intercept ``b`` not
    penalised: scikit-learn's ``LogisticRegression(C=C)``.
    """
    w = np.asarray(w, dtype=np.float64).ravel()
    z = X @ w + float(b)
    return float(np.mean(np.logaddexp(0.0, z) - y * z)) + 0.5 / (C * len(y)) * w @ w


def cost(X, y, est, C=1.0):
    """:func:`objective` at a fitted binary estimator's ``coef_``, ``intercept_``."""
    return objective(X, y, est.coef_, np.ravel(est.intercept_)[0], C)


def j_star(X, y):
    """J* (the minimum of ``cost``) from newton-cholesky run to tol 1e-10.

    Newton-cholesky forms the dense ``n_features x n_features`` Hessian:
    use it only where that fits (``bench_peers.py`` picks another reference
    for D3's 20,000 features).
    """
    from sklearn.linear_model import LogisticRegression

    ref = LogisticRegression(solver="newton-cholesky", tol=1e-10, max_iter=1000)
    return cost(X, y, ref.fit(X, y))


def table(header, rows):
    """A markdown table as a string."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
