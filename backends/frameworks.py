"""What an exporting framework's NIR file means where the framework departs from NIR's equations.

The one place such conventions are read (with a warning), before the lowering reads the file by
NIR's equations (:mod:`backends.graph`). Only ``framework=...`` (or ``metadata["framework"]``)
turns it on; a file from an unnamed exporter is read as NIR says.

rockpool 3.1 (``rockpool.nn.modules.torch.nir``, ``to_nir``/``from_nir``) writes its neurons with
NIR's field names but not NIR's equations. Per step of ``dt`` rockpool computes, with
``alpha = exp(-dt / tau_mem)`` and ``beta = exp(-dt / tau_syn)``:

- ``LIFNeuronTorch`` (written as ``LIF``): ``v = alpha v + S + bias``;
- ``LIFTorch`` (written as ``CubaLIF``): ``I = beta (I + S + W_rec s)``; ``v = alpha v + I + bias``;

and writes ``tau = tau_mem``, ``tau_syn``, ``r = tau_mem alpha / dt`` (its ``from_nir`` reads
``r`` only to recover ``dt``), ``w_in = 1`` (the default; never written), ``v_leak = 0`` (the bias
is dropped) and nothing of ``W_rec``. Read by NIR's equations (Euler steps, as the lowering does)
the input gain of a ``CubaLIF`` is ``w_in (dt / tau_syn) (dt / tau_mem) r = (dt / tau_syn) alpha``
(0.19 for ``tau_syn = 5 ms``, ``dt = 1 ms``) instead of rockpool's ``beta`` (0.82): the current
arrives 4.3 times too weak and small rockpool networks fall silent. :func:`adapt` rewrites each
neuron node into the NIR node that computes rockpool's step exactly under the lowering's Euler
reading (``tau' = dt / (1 - alpha)``, ``r' = 1 / (1 - alpha)``; for ``CubaLIF`` also
``tau_syn' = dt / (1 - beta)``, ``w_in' = beta / (1 - beta)``; ``v_leak' = v_leak / (1 - alpha)``,
a bias as rockpool's ``from_nir`` reads it). What the file does not hold cannot be recovered:
rockpool resets by subtracting the threshold and may spike several times a step, and its
recurrent weights and biases are not written.
"""

from __future__ import annotations

import copy
import dataclasses
import warnings

import nir
import numpy as np

from backends.graph import GraphError
from backends.timestep import resolve_dt

ADAPTED = "adapted_from"  # metadata key of a graph already read with its framework's conventions


def adapt(graph: nir.NIRGraph, framework: str | None = None, dt: float | None = None) -> nir.NIRGraph:
    """``graph`` read with its exporting framework's conventions (a new graph; ``graph`` is unchanged).

    Args:
        graph: the NIR graph as the framework wrote it.
        framework: the exporting framework (else ``graph.metadata["framework"]``); only
            ``"rockpool"`` has conventions to adapt, any other (or ``None``) returns ``graph``.
        dt: seconds per step (else the graph's metadata, else the framework's convention;
            :func:`backends.timestep.resolve_dt`); the adapted graph records it in ``metadata["dt"]``.

    Returns:
        the graph whose neuron nodes compute what the framework computes under NIR's equations
        (see the module docstring), or ``graph`` itself when there is nothing to adapt or it was
        adapted already (``metadata["adapted_from"]``).

    Raises:
        GraphError: a rockpool ``r`` that does not match ``tau_mem exp(-dt / tau_mem) / dt`` at
            this ``dt`` (naming node, field, index, value and the time step the file implies).

    Example:
        >>> lif = nir.LIF(tau=np.array([0.02]), r=np.array([0.02 * np.exp(-0.05) / 1e-3]),
        ...               v_leak=np.zeros(1), v_threshold=np.ones(1))
        >>> g = nir.NIRGraph.from_list(nir.Input(np.array([1])), nir.Linear(np.ones((1, 1))), lif,
        ...                            nir.Output(np.array([1])))
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     read = adapt(g, "rockpool", dt=1e-3)
        >>> node = read.nodes["lif"]
        >>> float(1 - 1e-3 / node.tau[0]), float(node.r[0] * 1e-3 / node.tau[0])  # decay, input gain
        (0.951229424500714, 1.0)
        >>> adapt(g, "snntorch") is g
        True
    """
    meta = graph.metadata or {}
    framework = framework or meta.get("framework")
    if framework is None or str(framework).lower() != "rockpool" or ADAPTED in meta:
        return graph
    dt = resolve_dt(graph, dt, framework)
    out = _rockpool(graph, dt, "")
    warnings.warn(
        "rockpool's LIF/CubaLIF read as rockpool computes them (decay exp(-dt/tau), input gain 1 for LIF and "
        "exp(-dt/tau_syn) for CubaLIF; backends.frameworks), not by NIR's equations; what rockpool does not write "
        "(subtract reset, several spikes a step, recurrent weights, biases) is not recovered",
        stacklevel=3,
    )
    out.metadata = {**meta, "dt": dt, ADAPTED: str(framework)}
    return out


def _rockpool(graph: nir.NIRGraph, dt: float, prefix: str) -> nir.NIRGraph:
    out = copy.copy(graph)
    out.nodes = {}
    for name, node in graph.nodes.items():
        where = f"{prefix}{name}"
        if isinstance(node, nir.NIRGraph):
            node = _rockpool(node, dt, f"{where}.")
        elif isinstance(node, (nir.LIF, nir.CubaLIF)):
            node = _rockpool_neuron(where, node, dt)
        out.nodes[name] = node
    return out


def _rockpool_neuron(name: str, node, dt: float):
    cuba = isinstance(node, nir.CubaLIF)
    field = "tau_mem" if cuba else "tau"
    fields = [field, "r", "v_leak"] + (["tau_syn", "w_in"] if cuba else [])
    values = {f: np.asarray(getattr(node, f), dtype=np.float64) for f in fields}
    taus = [values[field]] + ([values["tau_syn"]] if cuba else [])
    if not all(np.all(np.isfinite(v)) for v in values.values()) or not all(np.all(t > 0) for t in taus):
        return node  # left as written: the lowering names the bad value
    tau, r = values[field], values["r"]
    alpha = np.exp(-dt / tau)
    written = tau * alpha / dt  # rockpool's r
    bad = np.flatnonzero(~np.isclose(np.broadcast_to(r, written.shape), written, rtol=1e-4, atol=0).reshape(-1))
    if bad.size:
        i = int(bad[0])
        t, ri = float(tau.reshape(-1)[i]), float(np.broadcast_to(r, written.shape).reshape(-1)[i])
        implied = _implied_dt(t, ri)
        raise GraphError(
            f"NIR node {name!r}: r[{i}] = {ri:g} is not rockpool's {field} exp(-dt/{field}) / dt = "
            f"{float(written.reshape(-1)[i]):g} at dt = {dt:g} s"
            + (f"; it implies dt = {implied:.6g} s (pass dt=...)" if implied else "")
        )
    new = {field: dt / (1 - alpha), "r": 1 / (1 - alpha), "v_leak": values["v_leak"] / (1 - alpha)}
    if cuba:
        beta = np.exp(-dt / values["tau_syn"])
        new |= {"tau_syn": dt / (1 - beta), "w_in": values["w_in"] * beta / (1 - beta)}
    return dataclasses.replace(node, **{k: np.asarray(v, dtype=np.float64) for k, v in new.items()})


def _implied_dt(tau: float, r: float) -> float | None:
    """The ``dt`` with ``r = tau exp(-dt / tau) / dt`` (``dt / tau = W(1 / r)``, Lambert's W), or ``None``."""
    if not (np.isfinite(r) and r > 0):
        return None
    from scipy.special import lambertw

    return float(tau * lambertw(1 / r).real)
