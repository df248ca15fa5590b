"""The cost of record_validation_cost: base vs new (off, on), interleaved.

Usage: ``python benchmarks/bench_cv_validation.py BASE_TREE NEW_TREE [N]``,
each tree a checkout with its compiled kernels. One worker process per side
times ``GDLogisticRegressionCV(refit=False).fit`` (5 stratified folds,
``tol=0``, fixed iterations); the sides run in rotating order, round by
round, so that load from elsewhere hits them alike; the first round is a
warm-up. Prints the medians of N rounds as a markdown table
(``README_cv.md``, "Held-out cost histories").
"""

import os
import subprocess
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import GDLogisticRegressionCV

CASES = ["bc_dense_10x5", "dense_20000x100_8x5", "csr_20000x2000_1pct_8x5"]


def _cases():
    X, y = load_breast_cancer(return_X_y=True)
    out = {CASES[0]: (StandardScaler().fit_transform(X), y, np.logspace(-3, 0.5, 10))}
    X, y = make_classification(20000, 100, n_informative=20, random_state=0)
    out[CASES[1]] = (StandardScaler().fit_transform(X), y, np.logspace(-2, 1, 8))
    rng = np.random.RandomState(0)
    X = sp.random(20000, 2000, density=0.01, format="csr", random_state=rng)
    y = (X @ rng.normal(size=2000) + 0.1 * rng.normal(size=20000) > 0).astype(int)
    out[CASES[2]] = (X, y, np.logspace(-1, 2, 8))
    return out


def worker():
    """Read ``case [record]`` lines, print the fit's wall time for each."""
    warnings.simplefilter("ignore", ConvergenceWarning)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    cases = _cases()
    print("ready", flush=True)
    for line in sys.stdin:
        name, *record = line.split()
        X, y, alphas = cases[name]
        kw = {"record_validation_cost": True} if record else {}
        est = GDLogisticRegressionCV(
            alphas=alphas, cv=cv, max_iter=200 if name == CASES[0] else 100,
            tol=0, refit=False, **kw,
        )  # fmt: skip
        start = time.perf_counter()
        est.fit(X, y)
        print(time.perf_counter() - start, flush=True)


def main(base, new, n):
    trees = {"base": base, "off": new, "on": new}
    procs = {
        side: subprocess.Popen(
            [sys.executable, __file__, "--worker"],
            cwd=tree,
            env={**os.environ, "PYTHONPATH": tree},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for side, tree in trees.items()
    }
    for p in procs.values():
        assert p.stdout.readline().strip() == "ready"
    print(os.popen("uptime").read().strip())
    print("| case | base (s) | off (s) | off vs base | on (s) | on vs base |")
    print("|---|---|---|---|---|---|")
    orders = [["base", "off", "on"], ["on", "off", "base"], ["off", "base", "on"]]
    for name in CASES:
        times = {side: [] for side in procs}
        for r in range(n + 1):
            for side in orders[r % 3]:
                procs[side].stdin.write(name + (" record\n" if side == "on" else "\n"))
                procs[side].stdin.flush()
                t = float(procs[side].stdout.readline())
                if r:  # round 0: warm-up
                    times[side].append(t)
        b, off, on = (np.median(times[s]) for s in ("base", "off", "on"))
        print(
            f"| {name} | {b:.3f} | {off:.3f} | {100 * (off / b - 1):+.1f}% "
            f"| {on:.3f} | {100 * (on / b - 1):+.1f}% |",
            flush=True,
        )
    print(os.popen("uptime").read().strip())


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        worker()
    else:
        main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 7)
