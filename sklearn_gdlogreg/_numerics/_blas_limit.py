"""One process-wide limit of BLAS to one thread, shared by every fit.

BLAS's thread count (OpenBLAS with pthreads, as NumPy and SciPy ship it) is
process-wide. Each fit that limits it to one thread for its passes must
therefore agree with every other fit running at the same time in the
process, and with :func:`os.fork`.

Reference count
    :data:`BLAS_LIMIT` counts the blocks inside it, in every thread,
    under one lock. The first to enter saves the BLAS libraries' thread
    counts and sets them to one; the others only count; the last to leave
    restores the saved counts. Whatever the interleaving of the threads,
    the limits are saved before any of this package's changes and restored
    once, after the last. (Each block saving and restoring its own, as
    ``threadpoolctl``'s ``limit`` does, leaves one thread behind when two
    threads interleave: T1 saves 2, sets 1; T2 saves 1; T1 restores 2; T2
    restores 1.) A nested block, such as a pass inside a fit that already
    holds the limit, costs a lock and a counter: no call into BLAS. When
    BLAS already runs one thread (``OPENBLAS_NUM_THREADS=1``, a joblib
    worker), nothing is set nor restored.

Fork safety
    Every call of this package into ``threadpoolctl`` and BLAS's thread
    setters is made under the lock, and :func:`os.register_at_fork` takes
    the same lock before a fork and releases it after, so that no thread of
    this package is inside one of them when the process forks. (A child
    forked while another thread was inside ``threadpoolctl``'s OpenBLAS
    setter inherited its lock taken, and hung at its own first limit.) In
    the child, only the forking thread's blocks remain: the count becomes
    theirs, and if there are none, the saved limits are restored right away,
    since the threads that held them do not exist there.

What it cannot do: BLAS's count stays process-wide, so while any fit holds
the limit every other BLAS call in the process runs on one thread too; a
``threadpoolctl`` limit set by other code while the limit is held is
replaced by the saved counts when the last block leaves; the libraries are
those loaded at the first limit of the process; and a fork cannot wait for
threads of other code that are inside ``threadpoolctl`` (the child's
restore, or its first limit, would then wait on their lock as before).
"""

import os
import threading
from functools import cache


@cache
def _threadpoolctl():
    """``(libraries, release)``: ``threadpoolctl``'s controllers of the BLAS
    libraries loaded now, and :func:`_release_control`'s function.

    Made on first use, never at import: the first controller of a process
    is costly (benchmarks/README.md, "Tuned constants"), and small problems
    (see ``FusedPass.large``) never pay it.
    """
    import threadpoolctl  # a scikit-learn dependency

    libraries = threadpoolctl.ThreadpoolController().select(user_api="blas")
    controller = getattr(threadpoolctl, "OpenBLASController", None)
    release = getattr(controller, "clear_controlling_thread", None)
    return libraries.lib_controllers, release


def _release_control(release):
    """Let other threads set OpenBLAS's count after this one has.

    ``threadpoolctl`` >= 3.8 lets one thread at a time change OpenBLAS's
    count (the thread of the first change, until its last ``with`` block
    exits) and ignores the others' changes. This limiter changes the count
    from whichever thread enters first or leaves last, outside any ``with``
    block: after each change it hands the control back (``release`` clears
    it only if this thread holds it), else a later restore from another
    thread would be ignored.
    """
    if release is not None:
        release()


def _set_threads(libraries, counts, release):
    for library, n in zip(libraries, counts):
        if n is not None:
            library.set_num_threads(n)
    _release_control(release)


class _BlasLimit:
    """Reentrant, thread-safe context manager: BLAS on one thread inside.

    See the module's docstring for the design. Use the shared instance
    :data:`BLAS_LIMIT` (through ``single_threaded_blas``); a second instance
    would keep counts of its own.
    """

    def __init__(self):
        # Reentrant: a signal handler that fits, run between two bytecodes
        # of a thread holding the lock, must not deadlock it.
        self._lock = threading.RLock()
        self._depth = 0  # blocks inside, all threads together
        self._held = {}  # blocks inside, per thread ident (for fork)
        # The libraries and their counts before the first block, to restore;
        # None when nothing was changed.
        self._saved = None

    def __enter__(self):
        libraries, release = _threadpoolctl()  # outside the lock: imports
        with self._lock:
            if self._depth == 0:
                counts = [library.num_threads for library in libraries]
                if any(n is not None and n != 1 for n in counts):
                    self._saved = (libraries, counts, release)
                    try:
                        _set_threads(libraries, [1] * len(libraries), release)
                    except BaseException:
                        self._restore()  # nothing entered: nothing left set
                        raise
            self._depth += 1
            ident = threading.get_ident()
            self._held[ident] = self._held.get(ident, 0) + 1
        return self

    def __exit__(self, *exc_info):
        with self._lock:
            ident = threading.get_ident()
            held = self._held.pop(ident, 0) - 1
            if held > 0:
                self._held[ident] = held
            self._depth -= 1
            if self._depth == 0:
                self._restore()

    def _restore(self):
        saved, self._saved = self._saved, None
        if saved is not None:
            _set_threads(*saved)

    # -- os.fork: the parent holds the lock across it (no thread of this
    # package is inside a BLAS setter then); the child starts afresh.
    def _before_fork(self):
        self._lock.acquire()

    def _after_fork_in_parent(self):
        self._lock.release()

    def _after_fork_in_child(self):
        self._lock = threading.RLock()
        own = self._held.get(threading.get_ident(), 0)
        self._held = {threading.get_ident(): own} if own else {}
        self._depth = own
        if own == 0:
            self._restore()  # held by threads that do not exist here


BLAS_LIMIT = _BlasLimit()

if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(
        before=BLAS_LIMIT._before_fork,
        after_in_parent=BLAS_LIMIT._after_fork_in_parent,
        after_in_child=BLAS_LIMIT._after_fork_in_child,
    )
