"""Sizes checked against the memory they imply, before anything is allocated.

A flag such as ``--timesteps 10000000`` or a spec such as ``99999999999FC-10FC`` asks for more memory
than any machine has; allocating it fails deep inside torch, or swaps the machine to a halt. The
checks here refuse it first, in one line naming the value.
"""

from __future__ import annotations

import math
import os


def machine_memory_bytes() -> int:
    """This machine's physical memory in bytes (``os.sysconf``)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # no sysconf: nothing to compare with
        return 2**62


def gigabytes(nbytes: float) -> str:
    """``nbytes`` as ``"163.8 GB"``.

    Example:
        >>> gigabytes(163.84e9)
        '163.8 GB'
    """
    return f"{nbytes / 1e9:.1f} GB"


def check_memory(nbytes: int, what: str) -> None:
    """Raise ``ValueError`` ``"{what} needs N GB, more than this machine's M GB"`` if ``nbytes``
    exceed the machine's physical memory.

    Example:
        >>> check_memory(10**18, "timesteps = 10000000")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: timesteps = 10000000 needs 1000000000.0 GB, more than this machine's ... GB
    """
    total = machine_memory_bytes()
    if nbytes > total:
        raise ValueError(f"{what} needs {gigabytes(nbytes)}, more than this machine's {gigabytes(total)}")


def check_input_memory(timesteps: int, batch: int, input_shape, what: str | None = None) -> None:
    """Refuse a batch of ``batch`` inputs of ``input_shape`` over ``timesteps`` steps (float32) that
    cannot fit in memory, naming the time steps.

    Example:
        >>> check_input_memory(8, 64, (1, 8, 8))
    """
    size = int(timesteps) * int(batch) * math.prod(int(s) for s in input_shape) * 4
    shape = "x".join(map(str, input_shape))
    check_memory(
        size, what or f"timesteps = {timesteps}: a batch of {batch} inputs ({timesteps}x{batch}x{shape} float32)"
    )
