"""How many OpenMP threads the kernels use, as scikit-learn decides it.

All usable cores by default; fewer where OpenMP is limited, by
``OMP_NUM_THREADS`` or by :func:`threadpoolctl.threadpool_limits` (which
sets OpenMP's limit in every OpenMP runtime the process has loaded, this
package's included).
"""

import os

cdef extern from "_openmp.h":
    int gd_omp_max_threads() noexcept nogil


def _usable_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_CPUS = _usable_cpus()

# GNU OpenMP's thread pool does not survive fork: a child forked after this
# process ran a parallel region would wait forever on the parent's threads
# at its first one. Such a child runs the kernels on one thread (a region of
# one thread does not touch the pool).
_threads_started = False
_forked_after_threads = False


def _after_fork_in_child():
    global _forked_after_threads
    _forked_after_threads = _forked_after_threads or _threads_started


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def effective_n_threads():
    """Threads for a parallel kernel: OpenMP's limit, at most the usable CPUs.

    Returns
    -------
    int
        ``min(omp_get_max_threads(), usable CPUs)``; 1 for a build without
        OpenMP, and in a process forked after this one ran threads.
    """
    global _threads_started
    if _forked_after_threads:
        return 1
    n = max(1, min(gd_omp_max_threads(), _CPUS))
    _threads_started = _threads_started or n > 1
    return n
