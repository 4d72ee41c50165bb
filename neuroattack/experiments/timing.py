"""How the benches time work: wall-clock medians and their spread, a device's queued work waited
for, the machine measured on and the load beside it."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch


def machine_info(device=None) -> dict[str, Any]:
    """What a report was measured on: Python, torch, its threads, the CPUs and the processor, and
    the GPU's name where ``device`` is one.

    Example:
        >>> machine_info()["cpus"] == os.cpu_count()
        True
    """
    out = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }
    if device is not None and torch.device(device).type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return out


@contextmanager
def competing_load(n: int) -> Iterator[None]:
    """``n`` busy processes (a loop each) for the duration: a machine shared with other work.

    Example:
        >>> with competing_load(1):  # doctest: +SKIP
        ...     seconds = median_seconds(step, 1.0)
    """
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        time.sleep(0.5 if n else 0.0)  # let them take their cores
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def wall_times(fn, min_seconds: float, min_repeats: int = 5, sync=None) -> list[float]:
    """Wall times of ``fn`` after one warm-up call, sorted: at least ``min_repeats`` calls and
    ``min_seconds`` in all (``sync`` waits for a device's queued work before each clock read).

    Example:
        >>> len(wall_times(lambda: sum(range(100)), 0.0, 3))
        3
    """
    sync = sync or (lambda: None)
    fn()
    sync()
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < min_seconds or len(times) < min_repeats:
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return sorted(times)


def median_seconds(fn, min_seconds: float, min_repeats: int = 5, sync=None) -> float:
    """The median of :func:`wall_times` (the upper one of an even count).

    Example:
        >>> median_seconds(lambda: sum(range(100)), 0.0) > 0
        True
    """
    times = wall_times(fn, min_seconds, min_repeats, sync)
    return times[len(times) // 2]


def spread(values: list[float]) -> dict[str, float | int]:
    """``median``, quartiles ``q1`` and ``q3``, ``min``, ``max`` and ``n`` of ``values`` (not empty).

    Example:
        >>> spread([1.0, 2.0, 3.0, 4.0])
        {'median': 2.5, 'q1': 1.75, 'q3': 3.25, 'min': 1.0, 'max': 4.0, 'n': 4}
    """
    q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75])
    return {
        "median": float(median),
        "q1": float(q1),
        "q3": float(q3),
        "min": float(min(values)),
        "max": float(max(values)),
        "n": len(values),
    }


def device_sync(device: torch.device):
    """What waits for ``device``'s queued work before a clock read: ``torch.cuda.synchronize`` on a
    GPU, ``None`` (nothing to wait for) elsewhere.

    Example:
        >>> device_sync(torch.device("cpu")) is None
        True
    """
    return torch.cuda.synchronize if device.type == "cuda" else None
