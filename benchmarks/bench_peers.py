"""Time to relative gap 1e-6 of the same objective, ours against every peer.

The objective is ``J = mean log-loss + ||w||^2 / (2 C n)``, C = 1, the
intercept not penalised (scikit-learn's ``LogisticRegression(C=1)``); each
peer's regularisation is mapped onto it exactly (``_peers.py``, the mapping
and its source next to each peer). Before anything is timed,
``check_mapping`` fits ours and every installed peer tightly on breast
cancer and stops the script unless each reaches newton-cholesky's J* to a
relative 1e-9 (scikit-learn's own solvers define J: not checked).

For each data set (D1-D4, benchmarks/README.md; at full size and at one
tenth, the sizes ``--quick`` of the other scripts uses):

1. J* from ``LogisticRegression(solver="newton-cholesky", tol=1e-10)``; where
   the d x d Hessian is too large (D3: 20,000 features) from the lower J of
   lbfgs (tol=1e-12) and ours (nesterov, tol=1e-12), the line under the
   table says which (and whether any solver went below J*).
2. Each solver at the cheapest setting of its own knob that reaches the gap:
   its tolerance is lowered along 1e-1, 3.2e-2, 1e-2, ..., 1e-12 until the
   fitted J (recomputed here, in float64, from its coefficients) is within
   ``(J - J*) / J* <= 1e-6``. The search of a solver stops after one fit
   longer than 30 s (one tenth: 5 s) or 120 s of fits (30 s): such a solver
   is reported with the best gap it reached.
3. The fits at those settings are timed side by side: all the solvers of
   one data set interleaved round-robin, median of ``--repeats`` rounds,
   back to back (``--settle`` pauses before each fit: on the shared 2-core
   machine a 0.25 s pause made scikit-learn's lbfgs on D2 take 186 ms
   instead of 11 ms, its OpenMP and OpenBLAS threads waking up together).

Ours has two rows: the user's default ``GDLogisticRegression()`` (tol
searched) and the best documented setting (nesterov with the Cholesky
preconditioner where X is dense, plain gd where it is sparse). The ratio
column is each row's time over the fastest peer's (scikit-learn's own
solvers count as peers). A peer that is not installed has a row saying so
(``pip install -e ".[bench]"`` installs them all).

Run: ``python benchmarks/bench_peers.py --readme`` (D1-D4, full size and one
tenth, 5 repeats; ``--readme`` also writes the tables into the README's peers
section; ``--size full|tenth|both``, ``--data D1 D3``, ``--repeats``);
``--quick``: 2,000 rows of the one-tenth data, one repeat, seconds (CI).
"""

import pathlib
import time
import warnings

import numpy as np
import scipy.sparse as sp
from _data import (
    busy_cores,
    cost,
    interleaved_times,
    load,
    machine,
    objective,
    parse_args,
    table,
)
from _peers import NEWTON_MAX_FEATURES, SOLVERS, C, check_mapping, installed
from sklearn.linear_model import LogisticRegression

from sklearn_gdlogreg import GDLogisticRegression

GAP = 1e-6
TOLS = tuple(10.0 ** (-k / 2) for k in range(2, 25))  # 1e-1 ... 1e-12
DATA = ("D1", "D2", "D3", "D4")
QUICK_ROWS = 2_000
# Seconds: the search of a solver's setting stops after a fit longer than the
# first number (a tighter tolerance would take longer still) or after fits
# adding up to the second.
TIME_CAP = {"full": (30.0, 120.0), "tenth": (5.0, 30.0), "quick": (0.5, 2.0)}


def add_arguments(parser):
    parser.add_argument("--size", choices=("full", "tenth", "both"), default="both")
    parser.add_argument("--data", nargs="+", choices=DATA, default=list(DATA))
    parser.add_argument(
        "--settle",
        type=float,
        default=0.0,
        help="seconds of pause before each timed fit (default none: see README)",
    )
    parser.add_argument(
        "--busy",
        type=int,
        default=0,
        metavar="N",
        help="keep N cores busy with other processes while timing",
    )
    parser.add_argument(
        "--readme",
        action="store_true",
        help="also write the tables into benchmarks/README.md (its peers section)",
    )


def dataset(name, size):
    """``(X, y)`` of one data set at ``size`` (full, tenth or quick)."""
    X, y = load(name, quick=size != "full")
    if size == "quick":
        X, y = X[:QUICK_ROWS], y[:QUICK_ROWS]
    return X, y


def describe(name, X):
    kind = "CSR" if sp.issparse(X) else "dense"
    return f"{name} {X.shape[0]:,} x {X.shape[1]:,} {kind}"


def quietly(fn, *args):
    """``fn(*args)`` with the solvers' warnings (max_iter reached...) hidden."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


def reference(X, y):
    """``(J*, how it was obtained)``: the tightest solver that runs on X."""
    if X.shape[1] <= NEWTON_MAX_FEATURES:
        ref = LogisticRegression(
            C=C, solver="newton-cholesky", tol=1e-10, max_iter=1000
        )
        return cost(X, y, quietly(ref.fit, X, y), C), "newton-cholesky (tol=1e-10)"
    candidates = {
        "lbfgs (tol=1e-12)": LogisticRegression(
            C=C, solver="lbfgs", tol=1e-12, max_iter=2_000
        ),
        "ours nesterov (tol=1e-12)": GDLogisticRegression(
            C=C, solver="nesterov", tol=1e-12, max_iter=20_000
        ),
    }
    Js = {how: cost(X, y, quietly(est.fit, X, y), C) for how, est in candidates.items()}
    how = min(Js, key=Js.get)
    others = ", ".join(
        f"{h} at {J / Js[how] - 1:+.1e} relative" for h, J in Js.items() if h != how
    )
    return Js[how], f"{how}, the lower J (newton-cholesky skipped); {others}"


def cheapest_tol(solver, X, y, J_star, time_cap):
    """``(tol, gap, s)``: the loosest tolerance whose fit reaches GAP.

    ``tol`` is None when none did within ``time_cap`` (seconds of one fit,
    and of all); ``gap`` is then the best one reached.
    """
    fit_cap, search_cap = time_cap
    spent, best = 0.0, np.inf
    data = solver.data(X, y)
    quietly(solver.fit, *data, TOLS[0])  # untimed: skglm compiles (numba) here
    for tol in TOLS:
        start = time.perf_counter()
        model = quietly(solver.fit, *data, tol)
        elapsed = time.perf_counter() - start
        spent += elapsed
        gap = (objective(X, y, *solver.coef(model), C) - J_star) / J_star
        if gap <= GAP:
            return tol, gap, spent
        best = min(best, gap)
        if elapsed > fit_cap or spent > search_cap:
            break
    return None, best, spent


def search(X, y, J_star, time_cap):
    """Per solver: ``(label, tol, gap, s)``, or ``(label, None, why, None)``."""
    found = []
    for solver in SOLVERS:
        label = solver.label(X)
        if not installed(solver):
            found.append((solver, label, None, "not installed", None))
            continue
        reason = solver.skip(X)
        if reason is not None:
            found.append((solver, label, None, reason, None))
            continue
        try:
            tol, gap, spent = cheapest_tol(solver, X, y, J_star, time_cap)
        except Exception as exc:  # a peer failing on one data set: say so
            found.append((solver, label, None, f"failed: {exc!r:.80}", None))
            continue
        if tol is None:
            why = f"not reached (best gap {gap:.1e}, {spent:.1f} s of search)"
            found.append((solver, label, None, why, None))
        else:
            found.append((solver, label, tol, gap, spent))
    return found


def measure(name, X, y, args, time_cap):
    """The table rows of one data set, and the line telling how J* was got."""
    J_star, how = reference(X, y)
    found = search(X, y, J_star, time_cap)
    reached = [f for f in found if f[2] is not None]
    fns = [
        lambda s=s, t=t, data=s.data(X, y): s.fit(*data, t) for s, _, t, _, _ in reached
    ]
    elapsed = quietly(interleaved_times, fns, args.repeats, 1, args.settle)
    times = dict(zip([f[1] for f in reached], elapsed))
    peers = [times[f[1]] for f in reached if f[0].peer]
    fastest = min(peers, default=np.nan)
    rows = []
    for solver, label, tol, gap, _ in found:
        if tol is None:
            rows.append([describe(name, X), label, gap, ""])
            continue
        sep = " " if solver.knob.startswith("-") else "="
        setting = f"{label}, {solver.knob}{sep}{tol:.2g}"
        ratio = times[label] / fastest
        rows.append([describe(name, X), setting, f"{times[label] * 1e3:.1f}", ratio])
    for row in rows:
        if isinstance(row[3], float):
            row[3] = f"{row[3]:.2f}" if np.isfinite(row[3]) else "no peer reached"
    note = f"{name}: J* = {J_star:.10g} from {how}"
    below = [(f[3], f[1]) for f in reached if f[3] < -1e-9]
    if below:  # J* was not the minimum: the gaps above are too small by that
        gap, label = min(below)
        note += f"; J* NOT TIGHT: {label} reached {gap:+.1e} relative"
    return rows, note


SIZE_TITLES = {
    "full": "Full size",
    "tenth": "One tenth (D1, D4 20,000 x 100; D3 10,000 x 2,000; D2 as is)",
    "quick": f"--quick ({QUICK_ROWS:,} rows of the one-tenth data)",
}
README = pathlib.Path(__file__).parent / "README.md"
BEGIN, END = "<!-- peers-results -->", "<!-- /peers-results -->"


def run_size(size, args):
    """The markdown section of one size: machine line, table, J* lines."""
    lines = [f"#### {SIZE_TITLES[size]}", "", f"Machine: {machine()}", ""]
    rows, notes = [], []
    for name in args.data:
        X, y = dataset(name, size)
        data_rows, note = measure(name, X, y, args, TIME_CAP[size])
        rows += data_rows
        notes.append(note)
        # Each data set's rows as soon as measured: a full-size run takes
        # more than 45 minutes on 2 cores.
        rows_text = "\n".join(f"[{size}] " + " | ".join(map(str, r)) for r in data_rows)
        print(rows_text, flush=True)
    header = ["data", "solver (setting)", "ms to gap 1e-6", "ratio to fastest peer"]
    lines += [table(header, rows), "", *notes, ""]
    lines.append(f"(after the run: {machine().rsplit('; ', 1)[-1]})")
    return "\n".join(lines)


def write_readme(text):
    """Replace the text between the peers-results markers of the README."""
    head, rest = README.read_text().split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{BEGIN}\n\n{text}\n\n{END}{tail}")


def main():
    args = parse_args(
        __doc__.splitlines()[0],
        default_repeats=5,
        quick_repeats=1,
        add_arguments=add_arguments,
    )
    gaps = check_mapping()
    sections = [
        "Mapping check (breast cancer, tol 1e-12; relative gap to newton-cholesky's"
        " J*, each must be <= 1e-9): "
        + ", ".join(f"{name} {gap:.1e}" for name, gap in gaps.items())
    ]
    missing = [s.name for s in SOLVERS if not installed(s)]
    if missing:
        sections.append(
            "Not installed (pip install -e '.[bench]'): " + ", ".join(missing)
        )
    print("\n\n".join(sections), flush=True)
    if args.quick:
        sizes = ["quick"]
    else:
        sizes = ["full", "tenth"] if args.size == "both" else [args.size]
    if args.busy:
        sections.append(f"{args.busy} core(s) kept busy by other processes.")
    for size in sizes:
        with busy_cores(args.busy):
            sections.append(run_size(size, args))
        print("\n" + sections[-1], flush=True)
    if args.readme:
        write_readme("\n\n".join(sections))


if __name__ == "__main__":
    main()
