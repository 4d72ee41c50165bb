"""How many threads the emulator's CPU kernels use: the cores that are free when a run starts.

The emulator's parallel work (torch's intra-op threads, the numba kernels' ``prange``) splits each
batch into as many parts as it has threads and waits for the last. With every core in use by
something else, that last part waits for a time slice, and a run on a busy two-core machine slowed
to a third of its quiet rate (one competing busy process: 113,859 -> 41,095 samples/s on the
nmnist-sim 256FC model; with one thread instead of two, 69,784). So a run takes the cores that are
free when it starts (:func:`free_cores`: the machine's cores, or this process's CPU affinity,
minus the other tasks running now), or a number the caller sets, and gives the previous settings
back when it ends (:func:`thread_budget`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system says it, else all).

    Example:
        >>> usable_cores() >= 1
        True
    """
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _own_running(tasks: str = "/proc/self/task") -> int:
    """This process's threads that are runnable now (a worker still spinning after the last run
    counts, and must not count as another program's load)."""
    count = 0
    try:
        for tid in os.listdir(tasks):
            try:
                with open(os.path.join(tasks, tid, "stat")) as f:
                    count += f.read().rsplit(")", 1)[1].split()[0] == "R"
            except (OSError, IndexError):
                continue
    except OSError:
        return 1
    return max(count, 1)


def free_cores(loadavg: str = "/proc/loadavg", tasks: str = "/proc/self/task") -> int:
    """The usable cores minus the tasks of other programs running right now (at least 1).

    Reads the kernel's count of runnable tasks (the fourth field of ``/proc/loadavg``) and takes
    away this process's own runnable threads; where the files are missing, all usable cores.

    Args:
        loadavg, tasks: the files to read (a test points them elsewhere).

    Example:
        >>> 1 <= free_cores() <= usable_cores()
        True
    """
    cores = usable_cores()
    try:
        with open(loadavg) as f:
            running = int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return cores
    return max(1, min(cores, cores - (running - _own_running(tasks))))


def check_threads(threads: int | str) -> int | str:
    """``threads`` if it is ``"auto"`` or a whole number >= 1, else a ``ValueError`` naming it.

    Example:
        >>> check_threads(2), check_threads("auto")
        (2, 'auto')
    """
    if threads == "auto" or (isinstance(threads, int) and not isinstance(threads, bool) and threads >= 1):
        return threads
    raise ValueError(f"threads must be 'auto' or a whole number >= 1, got {threads!r}")


@contextmanager
def thread_budget(threads: int | str = "auto") -> Iterator[int]:
    """Run the body with ``threads`` torch and numba threads; the previous settings come back after.

    Args:
        threads: a number (>= 1), or ``"auto"``: :func:`free_cores` now.

    Yields:
        the number of threads in use.

    Raises:
        ValueError: ``threads`` is neither ``"auto"`` nor a whole number >= 1.

    Example:
        >>> with thread_budget(1) as n:
        ...     torch.get_num_threads() == n == 1
        True
    """
    import numba

    n = min(free_cores() if check_threads(threads) == "auto" else threads, numba.config.NUMBA_NUM_THREADS)
    saved_torch, saved_numba = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(n)
    numba.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(saved_torch)
        numba.set_num_threads(saved_numba)
