"""Where the milliseconds of one small fit go, quiet and beside other work.

For each data set (default: D3 at one tenth, D2 breast cancer), with
``--busy N`` cores kept busy by other processes (default: 0 and 1, side by
side): the median wall time of ``GDLogisticRegression(tol=1e-6).fit`` over
``--repeats`` fits, with the passes' thread count chosen by timing (the
package's default, :class:`sklearn_gdlogreg._numerics._passes.ThreadChoice`)
and held at 2 and at 1 threads, interleaved. Then, quiet, one profiled fit
(cProfile: it adds its own overhead to every Python call, so read its
columns as shares, not times): the functions with the most cumulative time.

Usage: ``python benchmarks/bench_profile.py [--data D3 D2] [--busy 0 1 2]
[--repeats N] [--top N] [--quick]``.
"""

import cProfile
import io
import pstats
import statistics
import time
import warnings

from _data import busy_cores, load, machine, parse_args
from sklearn.exceptions import ConvergenceWarning

from sklearn_gdlogreg import GDLogisticRegression
from sklearn_gdlogreg._numerics import _passes


class _Held:
    """A pass's cycle timer that holds a thread count (for comparison)."""

    threads = 2

    def __init__(self, choice):
        self._most = choice.counts[0]

    def start(self):
        return min(self.threads, self._most)

    def ran(self, count):
        pass


class _One(_Held):
    threads = 1


def _add_arguments(parser):
    parser.add_argument("--data", nargs="+", default=["D3", "D2"])
    parser.add_argument("--busy", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--top", type=int, default=20)


def _fit_fn(name, quick):
    X, y = load(name, quick=quick or name != "D2")
    est = GDLogisticRegression(tol=1e-6)
    return lambda: est.fit(X, y)


def _timings(fit, repeats):
    """Median fit time (ms) per thread policy, the policies interleaved."""
    policies = {"by timing": _passes._Cycle, "2 threads": _Held, "1 thread": _One}
    times = {name: [] for name in policies}
    try:
        for _ in range(repeats + 1):  # the first round: warm-up
            for name, cycle in policies.items():
                _passes._Cycle = cycle
                start = time.perf_counter()
                fit()
                times[name].append(time.perf_counter() - start)
    finally:
        _passes._Cycle = policies["by timing"]
    return {name: statistics.median(t[1:]) * 1e3 for name, t in times.items()}


def _print_profile(stats, top):
    """The functions with the most cumulative time, in ms, as a markdown table."""
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][3])[:top]
    total = max(ct for _, (_, _, _, ct, _) in stats.stats.items())
    print("\n| function | calls | own ms | cumulative ms | share |")
    print("|---|---|---|---|---|")
    for (path, line, func), (_, calls, own, cumulative, _) in rows:
        where = f"{path.rsplit('/', 2)[-1]}:{line}({func})" if line else func
        print(
            f"| {where} | {calls} | {own * 1e3:.3f} | {cumulative * 1e3:.3f} "
            f"| {cumulative / total:.0%} |"
        )


def main():
    args = parse_args(
        __doc__.splitlines()[0],
        default_repeats=15,
        quick_repeats=1,
        add_arguments=_add_arguments,
    )
    print(machine())
    print("\n| data | cores kept busy | by timing ms | 2 threads ms | 1 thread ms |")
    print("|---|---|---|---|---|")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fits = {name: _fit_fn(name, args.quick) for name in args.data}
        for busy in args.busy:
            with busy_cores(busy):
                for name, fit in fits.items():
                    ms = _timings(fit, args.repeats)
                    cells = " | ".join(f"{v:.2f}" for v in ms.values())
                    print(f"| {name} | {busy} | {cells} |", flush=True)
        for name, fit in fits.items():
            profile = cProfile.Profile()
            profile.runcall(fit)
            print(f"\n{name}, one profiled fit:")
            _print_profile(pstats.Stats(profile, stream=io.StringIO()), args.top)


if __name__ == "__main__":
    main()
