"""The cost of record_validation_cost: base vs new (off, on), interleaved.

Usage: ``python benchmarks/bench_cv_validation.py [--base TREE] [--repeats N]
[--quick]``: this checkout with recording off and on, against ``TREE``
(another checkout with its compiled kernels; default: this one, its
recording off). One worker process per side
times ``GDLogisticRegressionCV(refit=False).fit`` (5 stratified folds,
``tol=0``, fixed iterations); the sides run in rotating order, round by
round, so that load from elsewhere hits them alike; the first round is a
warm-up. Prints the medians of N rounds as a markdown table
(``README_cv.md``, "Held-out cost histories").
"""

import argparse
import os
import pathlib
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
        name, max_iter, *record = line.split()
        X, y, alphas = cases[name]
        kw = {"record_validation_cost": True} if record else {}
        est = GDLogisticRegressionCV(
            alphas=alphas, cv=cv, max_iter=int(max_iter), tol=0, refit=False, **kw
        )
        start = time.perf_counter()
        est.fit(X, y)
        print(time.perf_counter() - start, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="checkout to compare with (default: this)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="5 updates, 1 round")
    args = parser.parse_args()
    new = str(pathlib.Path(__file__).resolve().parents[1])
    n = 1 if args.quick else args.repeats
    trees = {"base": args.base or new, "off": new, "on": new}
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
        max_iter = 5 if args.quick else 200 if name == CASES[0] else 100
        times = {side: [] for side in procs}
        for r in range(n + 1):
            for side in orders[r % 3]:
                record = " record" if side == "on" else ""
                procs[side].stdin.write(f"{name} {max_iter}{record}\n")
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
    for p in procs.values():
        p.stdin.close()
        p.wait()


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        worker()
    else:
        main()
