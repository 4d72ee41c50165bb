"""The time step a NIR graph's time constants are read with.

NIR has no time step: ``tau = 10 ms`` means ``dv = 0.1`` per step at ``dt = 1 ms`` and ``dv = 0.01``
at ``dt = 0.1 ms``. No framework writes its step into the graph, so it comes, in this order, from:

1. ``dt`` passed by the caller (``backends.load(..., dt=...)``, ``--dt`` on the CLI);
2. the graph's ``metadata["dt"]`` (this project's exports write it);
3. the exporting framework's convention (:data:`FRAMEWORK_DT`), named by the caller or by
   ``metadata["framework"]``, with a warning that it was assumed;
4. 1 ms, with a warning that it was guessed.

:data:`FRAMEWORK_DT` (seconds per step each exporter's time constants assume): snnTorch,
SpikingJelly and lava-dl write ``tau = dt / (1 - beta)`` with ``dt = 1e-4``; sinabs writes its
time constants in steps (``dt = 1``); rockpool writes seconds with its modules' ``dt``
(default 1 ms); Norse writes seconds with its default ``dt = 1 ms``; spyx 1.0 writes
``tau = dt / (1 - beta)`` (``tau_syn = dt / (1 - alpha)``) with the ``dt`` its ``spyx.nir.to_nir``
is given, default 1, so in steps (``dt = 1``), as its ``from_nir`` reads them back by default.
"""

from __future__ import annotations

import math
import warnings

import nir

FRAMEWORK_DT = {
    "snntorch": 1e-4,
    "spikingjelly": 1e-4,
    "lava-dl": 1e-4,
    "sinabs": 1.0,
    "rockpool": 1e-3,
    "norse": 1e-3,
    # spyx 1.0 (spyx/nir.py): to_nir(model, input_shape, output_shape, dt=1) writes LIF
    # tau = dt / (1 - beta), CubaLIF tau_mem = dt / (1 - beta), tau_syn = dt / (1 - alpha), and
    # from_nir(graph, data, dt=1) reads beta = 1 - dt / tau: time constants in steps by default.
    # It also writes r = beta, v_leak = 0 and no v_reset, though its neurons add their input
    # unscaled (v = beta v + x) and reset by subtraction: only the step is its convention here.
    "spyx": 1.0,
}
DEFAULT_DT = 1e-3


def _checked(dt, where: str) -> float:
    try:
        value = float(dt)
    except (TypeError, ValueError):
        raise ValueError(f"time step dt from {where} = {dt!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"time step dt from {where} = {dt!r} must be a finite number > 0 (seconds)")
    return value


def resolve_dt(graph: nir.NIRGraph, dt: float | None = None, framework: str | None = None) -> float:
    """Seconds per step for ``graph`` (see the module docstring for the order of sources).

    Args:
        graph: the NIR graph (its ``metadata`` is read).
        dt: the caller's time step in seconds, or ``None``.
        framework: the exporting framework (a key of :data:`FRAMEWORK_DT`), or ``None``.

    Returns:
        ``dt`` in seconds, finite and > 0.

    Raises:
        ValueError: a ``dt`` that is not a finite number > 0 (naming where it came from), or an
            unknown ``framework``.

    Example:
        >>> g = nir.NIRGraph(nodes={}, edges=[], metadata={"dt": 1e-3})
        >>> resolve_dt(g), resolve_dt(g, dt=5e-4)
        (0.001, 0.0005)
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     resolve_dt(nir.NIRGraph(nodes={}, edges=[]), framework="snntorch")
        0.0001
        >>> "assumed" in str(caught[0].message)
        True
    """
    if dt is not None:
        return _checked(dt, "the caller")
    meta = graph.metadata or {}
    if "dt" in meta:
        return _checked(meta["dt"], "the graph's metadata")
    framework = framework or meta.get("framework")
    if framework is not None:
        key = str(framework).lower()
        if key not in FRAMEWORK_DT:
            raise ValueError(f"unknown framework {framework!r}; known: {sorted(FRAMEWORK_DT)} (or pass dt=...)")
        value = FRAMEWORK_DT[key]
        warnings.warn(
            f"NIR graph has no time step: assumed {framework}'s convention dt = {value:g} s "
            "(pass dt=... or --dt to be sure)",
            stacklevel=3,
        )
        return value
    warnings.warn(
        f"NIR graph has no time step: guessed dt = {DEFAULT_DT:g} s; if the network was trained with another "
        "step, pass it (dt=... or framework=...; --dt / --framework)",
        stacklevel=3,
    )
    return DEFAULT_DT
