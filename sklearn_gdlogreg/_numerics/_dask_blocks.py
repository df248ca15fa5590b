"""Passes over a dask array's row blocks, computed where the blocks live.

:class:`RowBlocks` holds X (chunked by whole rows), the labels y and the
weights s, persisted once, each block of y and s computed where X's block
of the same rows lives. It offers one operation: ``sum_b func(X_b, y_b,
s_b, **params)`` over the blocks, where ``func`` returns one d-sized row per
block (:func:`block_terms`: a block's share of J's data term and gradient;
:func:`block_gram`: its share of a product with the Gram matrix). Only these
rows travel: raw predictions are recomputed in each block by the in-memory
fused kernel (:mod:`._fused`), never kept nor gathered.

With the threaded scheduler (or without an actor-ready cluster) each sum is
one blockwise graph. On a ``dask.distributed`` cluster, one actor per worker
holds that worker's blocks (:class:`_BlockActors`) and each sum is one direct
call to each of them, every wait bounded by the ``sklearn_gdlogreg.timeout``
dask setting (:func:`cluster_timeout`); workers lost meanwhile have their
blocks recomputed elsewhere and the sum is repeated.

dask is imported only inside the functions: importing this module does not.
"""

import asyncio
import time

import numpy as np

from ._passes import FusedPass, single_threaded_blas

# The dask setting that bounds every wait on the workers holding X (placing
# their actors, one pass over their blocks), and its default: far above one
# pass over what fits a worker's memory (seconds to a minute), so that only
# a frozen, hung or unreachable worker reaches it, and the fit then fails
# naming it instead of waiting forever.
TIMEOUT_KEY = "sklearn_gdlogreg.timeout"
DEFAULT_TIMEOUT = "10 minutes"
_RAISE_LIMIT = f"raise the limit: dask.config.set({{{TIMEOUT_KEY!r}: '30 minutes'}})"
# While waiting, the cluster's workers are looked at this often (seconds), so
# that a worker that left is noticed at once rather than at the limit.
_POLL_S = 0.5
# Placing the actors, or one pass, is tried at most this many times in a row
# when workers holding blocks leave the cluster meanwhile.
_MAX_TRIES = 3
# The timeouts of distributed's waits (asyncio's is its own class before 3.11).
_TIMEOUTS = (TimeoutError, asyncio.TimeoutError)


def _kernel_pass(mode, X_b, s_b, W, b, y_b=None, Z_grad=None):
    """The in-memory fused pass on one block.

    Returns ``(value, value_y, X_b.T @ R_b, sum R_b)``: the loss sums at
    ``X_b @ W + b`` and at the raw predictions ``Z_grad`` when given
    (Nesterov's point; else the same), where the residual is taken. One
    thread per block: dask runs the blocks in parallel.
    """
    pass_ = FusedPass(X_b, W.shape[1], mode, y_b, s_b, n_threads=1)
    Z = np.empty((X_b.shape[0], W.shape[1]), X_b.dtype)
    # The pass takes the residual at Z + beta (Z - Z_prev): Z_grad for -1.
    if Z_grad is None:
        return pass_(W, b, Z)
    return pass_(W, b, Z, Z_prev=Z_grad, beta=-1.0)


def block_terms(X_b, y_b, s_b, W, b, kind, n_out):
    """One block's share: ``[s.L, s.L_y, (X_b.T @ R_b).ravel(), sum R_b]``.

    One row; ``s.L_y`` is the loss sum where the residual is taken.

    ``W`` holds the weights where J is evaluated in its first ``n_out``
    columns and, when it has twice as many, those where the gradient is
    taken in the others (Nesterov's extrapolated point; their raw
    predictions cost one more product over the block).
    """
    Z_grad = None
    if W.shape[1] > n_out:
        Z_grad = X_b @ W[:, n_out:].astype(X_b.dtype) + b[n_out:].astype(X_b.dtype)
    value, value_y, G, db = _kernel_pass(
        kind, X_b, s_b, W[:, :n_out], b[:n_out], y_b=y_b, Z_grad=Z_grad
    )
    return np.concatenate([[value, value_y], G.ravel(), db])[None, :]


def block_gram(X_b, s_b, U, c):
    """One block's share of ``A^T diag(s) A V``: ``[X_b.T @ R_b; sum R_b]``."""
    _, _, G, colsum = _kernel_pass("weighted", X_b, s_b, U, c)
    return np.concatenate([G, colsum[None, :]]).ravel()[None, :]


# Up to this many blocks, their d-sized parts are summed on the client (one
# scheduling hop less per pass); more are summed by a tree of tasks first.
_GATHER_PARTS = 32


def _blockwise_sum(func, width, X, *vectors, **params):
    """``sum_b func(X_b, v_b..., **params)`` over X's row blocks, computed."""
    import dask.array as da

    args = [X, "ij"]
    for v in vectors:
        args += [v, "i"]
    parts = da.blockwise(
        func,
        "ij",
        *args,
        adjust_chunks={"i": 1, "j": width},
        dtype=np.float64,
        meta=np.empty((0, 0)),
        **params,
    )
    # Dask runs the blocks in parallel already: BLAS threads inside them only
    # oversubscribe the cores (benchmarks/README.md, P8). The limit is
    # process-wide, so it holds for the threaded scheduler's
    # workers; distributed's worker processes start single-threaded anyway.
    # The package's one limiter: shared with concurrent fits, fork-safe.
    with single_threaded_blas():
        if parts.numblocks[0] <= _GATHER_PARTS:  # one hop less to the client
            return parts.compute().sum(axis=0)
        return parts.sum(axis=0, split_every=_GATHER_PARTS).compute()


def cluster_timeout():
    """Seconds that one wait on the dask workers may take; None for no limit.

    The ``sklearn_gdlogreg.timeout`` dask setting: seconds, or a string such
    as ``"10 minutes"`` (the default); None waits forever.
    """
    import dask
    from dask.utils import parse_timedelta

    return parse_timedelta(dask.config.get(TIMEOUT_KEY, DEFAULT_TIMEOUT), "s")


class _BlockHolder:
    """A dask actor on one worker: the row blocks that live there.

    Holds references to the blocks already in the worker's memory (no copy)
    and runs a block function on all of them, returning the sum of their
    d-sized rows.
    """

    def __init__(self, blocks):
        self.blocks = blocks  # [{"X": X_b, "y": y_b, "s": s_b}, ...]

    def sum(self, func, names, params):
        parts = [func(b["X"], *(b[n] for n in names), **params) for b in self.blocks]
        return np.concatenate(parts).sum(axis=0)


class _WorkerLostError(Exception):
    """Workers holding blocks left the cluster, or could not be reached."""

    def __init__(self, addresses):
        super().__init__(", ".join(addresses))
        self.addresses = addresses


class _Deadline:
    """The end of one bounded wait on the cluster (None: no end)."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.end = None if seconds is None else time.monotonic() + seconds

    def step(self):
        """How long to wait before looking at the cluster's workers again."""
        if self.end is None:
            return _POLL_S
        return max(0.0, min(_POLL_S, self.end - time.monotonic()))

    def passed(self):
        return self.end is not None and time.monotonic() >= self.end


class _BlockActors:
    """One :class:`_BlockHolder` per worker that holds blocks of X.

    On a ``dask.distributed`` cluster each pass then costs one direct call
    from the client to each of those workers, instead of a task graph sent
    through the scheduler, whose batched messages put a floor on any graph
    round trip above one pass over the blocks (benchmarks/README.md, P8).

    Every wait on the workers is bounded by :func:`cluster_timeout`. When a
    worker holding blocks leaves the cluster (killed, restarted by its
    nanny), the scheduler recomputes its blocks on the others and the
    actors are placed again: the pass is repeated, the fit goes on.
    """

    def __init__(self, client, blocks, timeout):
        self.client, self.blocks, self.timeout = client, blocks, timeout
        self.holders = {}  # worker address -> its _BlockHolder actor

    @classmethod
    def create(cls, **arrays):
        """Actors for persisted arrays on the current distributed client.

        None when the arrays are not computed by a ``dask.distributed``
        client (threaded scheduler) or not held as futures.
        """
        try:
            import dask
            from distributed import futures_of, get_client

            client = get_client()
        except (ImportError, ValueError):  # no distributed, or no client
            return None
        if dask.base.get_scheduler() != client.get:  # e.g. scheduler="threads"
            return None
        columns = {}
        for name, a in arrays.items():
            futures = {f.key: f for f in futures_of(a)}
            keys = list(dask.core.flatten(a.__dask_keys__()))
            if any(k not in futures for k in keys):
                return None
            columns[name] = [futures[k] for k in keys]
        blocks = [dict(zip(columns, row)) for row in zip(*columns.values())]
        actors = cls(client, blocks, cluster_timeout())
        return actors if actors._place() else None

    def _place(self, lost=()):
        """Place one actor on each worker holding blocks; False if none hold some.

        ``lost``: the addresses of workers found lost, waited for to leave
        the cluster first. A worker may also leave between finding where the
        blocks are and placing its actor (an actor is pinned to its worker:
        it would wait for it forever); its blocks are then recomputed
        elsewhere and the placement starts over.
        """
        deadline = _Deadline(self.timeout)
        for _ in range(_MAX_TRIES):
            self._wait_gone(lost, deadline)
            by_worker = self._where(deadline)
            if None in by_worker:  # a block not in memory (failed, released)
                return False
            placing = {
                address: self.client.submit(
                    _BlockHolder, held, actor=True, workers=[address],
                    allow_other_workers=False, pure=False,
                )
                for address, held in by_worker.items()
            }  # fmt: skip
            try:
                self.holders = self._gather(placing, deadline, "place an actor")
                return True
            except _WorkerLostError as error:
                cause, lost = error, error.addresses
                for future in placing.values():
                    future.cancel()
        raise _lost_error(lost) from cause

    def _wait_gone(self, addresses, deadline):
        """Wait until the scheduler has removed the workers found lost.

        Only then are their blocks recomputed on the others. A worker that
        cannot be reached but stays in the cluster fails the fit at the
        deadline.
        """
        while still := sorted(set(addresses) & self._workers()):
            if deadline.passed():
                raise _silent_error(still, "answer", deadline.seconds)
            time.sleep(min(0.05, deadline.step()))

    def _where(self, deadline):
        """``{worker address: its blocks}``, once every block is in memory."""
        from distributed import wait

        keys = [b["X"] for b in self.blocks]
        # Each block's arrays live together (y and s were computed beside X).
        left = None if deadline.end is None else deadline.end - time.monotonic()
        try:
            wait(keys, timeout=max(left, 0.0) if left is not None else None)
        except _TIMEOUTS:
            raise TimeoutError(
                f"The blocks of X were not all in the dask workers' memory "
                f"within {deadline.seconds:g} s ({_RAISE_LIMIT})."
            ) from None
        where = self.client.who_has(keys)
        by_worker = {}
        for b in self.blocks:
            workers = where.get(b["X"].key) or [None]
            by_worker.setdefault(workers[0], []).append(b)
        return by_worker

    def _gather(self, pending, deadline, what):
        """``{address: result}`` of ``{address: future}``, one per worker.

        Raises :class:`_WorkerLostError` as soon as a worker still to answer is
        gone from the cluster (or, for an actor call, cannot be reached),
        and TimeoutError naming the workers silent at the deadline.
        """
        pending, results = dict(pending), {}
        while pending:
            address, future = next(iter(pending.items()))
            try:
                results[address] = future.result(timeout=deadline.step())
                del pending[address]
                continue
            except _TIMEOUTS:
                pass
            except Exception as error:
                # OSError: the actor's worker cannot be contacted; anything
                # else is the block function's own error, unless the worker
                # is gone (distributed then fails the actor's future).
                if isinstance(error, OSError) or address not in self._workers():
                    raise _WorkerLostError([address]) from error
                raise
            gone = sorted(set(pending) - self._workers())
            if gone:
                raise _WorkerLostError(gone)
            if deadline.passed():
                raise _silent_error(sorted(pending), what, deadline.seconds)
        return results

    def _workers(self):
        """The addresses of the cluster's workers, as the scheduler sees them."""
        return set(self.client.nthreads())

    def sum(self, func, names, params):
        """``sum_b func(X_b, v_b..., **params)``: one call to each worker."""
        return np.sum(self.results(func, names, params), axis=0)

    def results(self, func, names, params):
        """Each worker's sum over its blocks, as it reaches the client.

        A worker lost during the pass: the actors are placed again on the
        workers left (its blocks recomputed there) and the pass repeated.
        """
        for _ in range(_MAX_TRIES):
            try:
                calls = {
                    address: holder.sum(func, names, params)
                    for address, holder in self.holders.items()
                }
                done = self._gather(calls, _Deadline(self.timeout), "finish a pass")
                return list(done.values())
            except RuntimeError as error:  # "Worker holding Actor was lost"
                lost = _WorkerLostError(sorted(set(self.holders) - self._workers()))
                if not lost.addresses:
                    raise
                lost.__cause__ = error
            except _WorkerLostError as error:
                lost = error
            if not self._place(lost.addresses):  # a block lost for good
                raise _lost_error(lost.addresses) from lost
        raise _lost_error(lost.addresses) from lost


def _silent_error(addresses, what, seconds):
    return TimeoutError(
        f"The dask worker(s) {', '.join(addresses)} holding blocks of X did "
        f"not {what} within {seconds:g} s: frozen, overloaded or cut off? "
        f"Restart them (or the cluster) and fit again, or {_RAISE_LIMIT}."
    )


def _lost_error(addresses):
    return RuntimeError(
        f"The dask worker(s) {', '.join(addresses)} holding blocks of X left "
        f"the cluster {_MAX_TRIES} times in a row, and their blocks could not "
        f"be placed on the remaining workers. Check the workers' logs (memory "
        f"limit?), then persist X again or restart the cluster, and fit again."
    )


def _colocated(X, v):
    """``v``, each block computed (and kept) where X's block of its rows lives."""
    import dask.array as da

    return da.blockwise(
        _aligned_v_block, "i", X, "ij", v, "i", concatenate=True, dtype=v.dtype,
        meta=np.empty(0, v.dtype),
    )  # fmt: skip


def _aligned_v_block(X_b, v_b):
    """``v_b``, aligned; X's block is an input only to run the task beside it."""
    return _aligned(v_b)


def _aligned(a):
    """``a``, copied if its data is misaligned for its dtype.

    Blocks received from another process (scattered, or moved between
    workers) can start at any byte; NumPy and BLAS then take slow paths
    (benchmarks/README.md, P8). Aligned blocks are returned as they are.
    """
    return a if a.flags.aligned else a.copy()


class RowBlocks:
    """X, y and s persisted by row blocks, and sums over the blocks.

    Parameters
    ----------
    X : dask array of shape (n_samples, n_features)
        Chunked by whole rows (its columns in one chunk), known chunk sizes.
    y, s : dask arrays of shape (n_samples,)
        The labels and the weights, rechunked to X's row blocks.

    Attributes
    ----------
    X, y, s : dask arrays
        The persisted arrays: X's blocks aligned, each block of y and s
        computed where X's block of the same rows lives.
    """

    def __init__(self, X, y, s):
        import dask

        rows = X.chunks[0]
        y, s = (_colocated(X, v.rechunk((rows,))) for v in (y, s))
        X = X.map_blocks(_aligned, dtype=X.dtype)
        self.X, self.y, self.s = dask.persist(X, y, s)
        # On a distributed cluster: one actor per worker holding its blocks.
        self._actors = _BlockActors.create(X=self.X, y=self.y, s=self.s)

    def sum(self, func, width, names, **params):
        """``sum_b func(X_b, v_b..., **params)`` over the row blocks.

        ``func`` returns one float64 row of ``width`` per block; ``names``
        are the per-sample arrays passed along (``"y"``, ``"s"``).
        """
        if self._actors is None:
            vectors = [getattr(self, name) for name in names]
            return _blockwise_sum(func, width, self.X, *vectors, **params)
        return self._actors.sum(func, names, params)
