"""Start-up cost: the import and the first fit, each in a fresh process.

What a user of a script or a notebook waits for once per process, which no
steady-state benchmark sees: ``import sklearn_gdlogreg`` against
``import sklearn.linear_model``, and the first ``fit`` of each kind of data
against scikit-learn's ``LogisticRegression`` (defaults, ``max_iter=1000``
so that lbfgs does not warn) in its own fresh process:

- binary float64: breast cancer, standardized;
- multinomial float64: digits, standardized (``--quick``: wine);
- binary float32: breast cancer, standardized, as float32;
- binary CSR: ``scipy.sparse.random`` 10,000 x 2,000 at 0.5% density, labels
  from a random linear model, fixed seed (``--quick``: 2,000 x 400);
- CV: ``GDLogisticRegressionCV(alphas=[0.01, 0.1, 1.0], cv=3)`` against
  ``LogisticRegressionCV(Cs=3, cv=3, max_iter=1000)`` on breast cancer.

Every sample is a new ``python -c`` child (``sys.executable``). The child
times with ``time.perf_counter()`` and prints the result for this script to
parse. For the import it imports nothing before the timer (both sides load
NumPy, SciPy and scikit-learn: that cost belongs to the import measured).
For a fit, the imports and the data come first, untimed, then the timer
covers the first ``fit`` call only. ConvergenceWarnings are caught in the
child (not printed) and reported in the "warned" column (ours / theirs).
The children run interleaved round-robin (ours, theirs, ours, ...) so that
load from elsewhere on the machine hits both columns alike; median of
``--repeats`` (5; ``--quick``: 1 and the smallest data).

Fits this small are sensitive to load: on a 2-core machine with one core
busy elsewhere, OpenBLAS's threads can make lbfgs's breast-cancer fit
take ~130 ms instead of ~3 ms, in some processes and not others.
Check the load average printed, and run on a quiet machine.

"ours 1st / 2nd" is the first fit over a second identical fit in the same
child: a one-off cost (compilation, caches warmed) shows up there. The last
line lists the JIT or build machinery (numba, pyximport) found
loaded in our children after the import or the fit: there should be none.

Targets: S1 the first fit of every data kind <= 1.5x LogisticRegression's
first fit; the import <= 1.2x ``import sklearn.linear_model``; nothing
compiled at import or fit.

Run: ``python benchmarks/bench_startup.py`` (``--quick`` for a smoke run).
"""

import json
import pathlib
import statistics
import subprocess
import sys

from _data import machine, parse_args, table

HERE = pathlib.Path(__file__).parent
KINDS = ("binary float64", "multinomial float64", "binary float32", "binary CSR", "CV")
# Modules whose presence in a child means something may compile at run time.
# (Not Cython: SciPy's import loads it whenever it is installed.)
JIT = ("numba", "pyximport")

# The import, timed alone: nothing but the builtins ``sys`` and ``time``
# before the timer (``__import__`` needs no import of importlib).
IMPORT_CHILD = """
import sys, time
t0 = time.perf_counter()
__import__(sys.argv[1])
t = time.perf_counter() - t0
import json
jit = [m for m in {jit!r} if m in sys.modules]
print("RESULT " + json.dumps({{"t": t, "jit": jit}}))
"""

FIT_CHILD = """
import json, sys, time, warnings
import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

side, kind, quick = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
if side == "ours":
    from sklearn_gdlogreg import GDLogisticRegression as Est
    from sklearn_gdlogreg import GDLogisticRegressionCV as EstCV
    make = lambda: Est()
    make_cv = lambda: EstCV(alphas=[0.01, 0.1, 1.0], cv=3)
else:
    from sklearn.linear_model import LogisticRegression as Est
    from sklearn.linear_model import LogisticRegressionCV as EstCV
    make = lambda: Est(max_iter=1000)
    make_cv = lambda: EstCV(Cs=3, cv=3, max_iter=1000)

def scaled(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y

if kind == "multinomial float64":
    X, y = scaled(load_wine if quick else load_digits)
elif kind == "binary CSR":
    n, d = (2_000, 400) if quick else (10_000, 2_000)
    rng = np.random.default_rng(0)
    X = sp.random(n, d, density=0.005, format="csr", random_state=rng)
    z = X @ rng.normal(size=d)
    y = (z + 0.1 * rng.normal(size=n) > np.median(z)).astype(int)
else:
    X, y = scaled(load_breast_cancer)
    if kind == "binary float32":
        X = X.astype(np.float32)

times, warned = [], False
for _ in range(2):  # the first fit, then the same fit again (for 1st / 2nd)
    est = make_cv() if kind == "CV" else make()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        t0 = time.perf_counter()
        est.fit(X, y)
        times.append(time.perf_counter() - t0)
    warned |= any(issubclass(w.category, ConvergenceWarning) for w in caught)
jit = [m for m in {jit!r} if m in sys.modules]
print("RESULT " + json.dumps({{"t": times[0], "t2": times[1], "warned": warned,
                              "jit": jit}}))
"""


def child(source, *args):
    """Run one fresh child; return the dict it printed on its RESULT line."""
    res = subprocess.run(
        [sys.executable, "-c", source.format(jit=JIT), *args],
        # The benchmarks folder, as for the other scripts here: the installed
        # sklearn_gdlogreg is imported, not a checkout that shadows it.
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if res.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{res.stderr}")
    line = [ln for ln in res.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line.removeprefix("RESULT "))


def interleaved(ours, theirs, repeats):
    """Results of ``repeats`` rounds of ``ours()`` then ``theirs()``."""
    results = ([], [])
    for _ in range(repeats):
        for fn, out in zip((ours, theirs), results):
            out.append(fn())
    return results


def median(results, key):
    return statistics.median(r[key] for r in results)


def main():
    args = parse_args(__doc__.splitlines()[0], default_repeats=5)
    if args.quick:
        args.repeats = 1
    print(f"Machine: {machine()}\n")
    quick = "1" if args.quick else "0"
    jit_loaded = set()

    ours, theirs = interleaved(
        lambda: child(IMPORT_CHILD, "sklearn_gdlogreg"),
        lambda: child(IMPORT_CHILD, "sklearn.linear_model"),
        args.repeats,
    )
    jit_loaded.update(m for r in ours for m in r["jit"])
    t_ours, t_theirs = median(ours, "t"), median(theirs, "t")
    rows = [
        [
            "import (vs sklearn.linear_model)",
            f"{t_ours * 1e3:.0f}",
            f"{t_theirs * 1e3:.0f}",
            f"**{t_ours / t_theirs:.2f}**",
            "",
            "",
        ]
    ]
    for kind in KINDS:
        ours, theirs = interleaved(
            lambda kind=kind: child(FIT_CHILD, "ours", kind, quick),
            lambda kind=kind: child(FIT_CHILD, "theirs", kind, quick),
            args.repeats,
        )
        jit_loaded.update(m for r in ours for m in r["jit"])
        t_ours, t_theirs = median(ours, "t"), median(theirs, "t")
        first_second = statistics.median(r["t"] / r["t2"] for r in ours)
        warned = [
            "yes" if any(r["warned"] for r in side) else "no" for side in (ours, theirs)
        ]
        rows.append(
            [
                f"first fit, {kind}",
                f"{t_ours * 1e3:.1f}",
                f"{t_theirs * 1e3:.1f}",
                f"**{t_ours / t_theirs:.2f}**",
                f"{first_second:.1f}",
                " / ".join(warned),
            ]
        )
    header = [
        "kind",
        "ours (ms)",
        "LogisticRegression (ms)",
        "ratio",
        "ours 1st / 2nd",
        "warned (ours / LR)",
    ]
    print(table(header, rows))
    print(
        f"\nmedian of {args.repeats} fresh processes per cell, interleaved; "
        "targets: import ratio <= 1.2, first-fit ratios <= 1.5 (S1)."
    )
    print(
        "JIT/build machinery loaded in our children: "
        + (", ".join(sorted(jit_loaded)) or "none")
    )


if __name__ == "__main__":
    main()
