"""Per-iteration time of the array-API path: torch (CPU, CUDA), CuPy vs NumPy.

On D1 (and D1f, float32), side by side in one run (median of ``--repeats``),
one gradient-descent iteration (J and the gradient, the proximal step and the
convergence test's max-norm): NumPy's in-memory objective vs the array-API
objective on torch CPU, and on torch CUDA / CuPy where a GPU is present
(the same script, unchanged). Each iteration brings back two floats (J and
the max-norm), so GPU timings include their synchronisation.

Run: ``python benchmarks/bench_array_api.py`` (``--quick`` for a smoke run).
"""

import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")  # before SciPy is imported

import numpy as np
from _data import interleaved_times, iteration_fn, load, machine, parse_args, table
from sklearn import config_context

from sklearn_gdlogreg._objective._numpy import LogisticObjective

# Steady state of each column's loop: see _data.interleaved_times.
STEADY = dict(settle=0.2, warm=0.05, burst=3)


def one_thread(torch, fn):
    """``fn`` with torch's intra-op threads set to 1 for the call.

    On a busy machine torch's OpenMP threads wait on each other at every
    elementwise operation; one thread shows the cost of that.
    """

    def call():
        n = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fn()
        finally:
            torch.set_num_threads(n)

    return call


def backends():
    """(name, module, device) for every array library present."""
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        yield "torch cpu", torch, "cpu"
        yield "torch cpu, 1 thread", torch, "cpu"
        if torch.cuda.is_available():
            yield "torch cuda", torch, "cuda"
    try:
        import cupy

        cupy.cuda.runtime.getDeviceCount()
        yield "cupy", cupy, None
    except Exception:  # not installed, or no GPU
        pass


def main():
    args = parse_args(__doc__.splitlines()[0], default_repeats=15)
    found = list(backends())
    if not found:
        print(
            "No array-API library installed; from the repository root: "
            "python -m pip install -e '.[array]'"
        )
        return
    from sklearn_gdlogreg._objective._array_api import ArrayAPIObjective

    print(f"Machine: {machine()}\n")
    rows = []
    for name in ("D1", "D1f"):
        X, y = load(name, quick=args.quick)
        y = (y == 1).astype(np.int64)
        s = np.ones(X.shape[0])
        kw = dict(
            n_classes=2, C=1.0, l1_ratio=0.0, fit_intercept=True,
            preconditioner="diagonal",
        )  # fmt: skip
        fns = [iteration_fn(LogisticObjective(X, y.astype(X.dtype), s, **kw))]
        with config_context(array_api_dispatch=True):
            for label, xp, device in found:
                X_xp = xp.asarray(X, device=device)
                y_xp = xp.asarray(y, device=device)
                s_xp = xp.asarray(s, dtype=X_xp.dtype, device=device)
                fn = iteration_fn(ArrayAPIObjective(X_xp, y_xp, s_xp, **kw))
                fns.append(one_thread(xp, fn) if "1 thread" in label else fn)
            times = interleaved_times(
                fns, args.repeats, **({} if args.quick else STEADY)
            )
        for (label, _, _), t in zip(found, times[1:]):
            rows.append(
                [name, label, f"{times[0] * 1e3:.2f}", f"{t * 1e3:.2f}",
                 f"**{t / times[0]:.2f}**"]
            )  # fmt: skip
    shape = f"{X.shape[0]} x {X.shape[1]}"
    print(table([f"data ({shape})", "backend", "NumPy ms/it", "ms/it", "ratio"], rows))


if __name__ == "__main__":
    main()
