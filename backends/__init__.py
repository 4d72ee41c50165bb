"""Deployment backends: a NIR graph and a hardware profile in, spikes out.

This package knows NIR, numpy, torch and Lava, and nothing of attacks or datasets. The one
interface::

    executor = backends.load(graph, profile, kind="lava" | "emulator" | "reference")
    result = executor.run(spikes)          # spikes [B, T, *input_shape], binary
    result.output                          # [B, T, n_out] output spikes (hardware: delay removed)
    result.window, result.counts, result.prediction, result.layers (with record=True)

Any NIR graph of the supported nodes runs (:mod:`backends.graph`): skip connections, recurrent
projections, nested graphs, per-neuron time constants. All three backends execute the same lowered
:class:`~backends.network.Network`, so they accept and refuse the same graphs with the same message
(:class:`~backends.graph.GraphError`). The time step comes from ``dt=...``, the graph's metadata or
the exporting framework's convention (:mod:`backends.timestep`), the reset (to zero or by
subtraction) from ``reset=...`` or the framework's default (:mod:`backends.reset`).

``graph`` is a ``nir.NIRGraph`` or a path to a ``.nir`` file; ``profile`` a bundled profile's name
(``"loihi2"``, ``"loihi2-w6"``, ``"loihi2-w4"``, ``"float"``; :func:`bundled_profiles`), a path to a
TOML profile, or a :class:`~backends.profile.HardwareProfile`. Every executor follows
:class:`~backends.executor.Executor` and returns a :class:`~backends.executor.RunResult`.

Modules: ``graph`` (NIR -> network, one validation), ``frameworks`` (an exporter's departures
from NIR's equations, read when ``framework=`` names it), ``network`` (populations and projections),
``timestep`` (``dt``), ``reset`` (zero or subtract), ``readout`` (LI/CubaLI outputs: rules),
``quantize`` (float -> Loihi registers), ``loihi``
(the functional core of Loihi's integer arithmetic), ``emulator``, ``lava``, ``reference`` (the
three executors), ``lava_neurons`` (Lava processes of our own: subtract-reset LIF, leaky-integrator
readout), ``executor`` (their protocol and result), ``profile`` (hardware profiles).
Importing this package starts nothing: Lava is imported at the first Lava run.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import nir
import numpy as np
import torch

from backends.emulator import EmulatorExecutor
from backends.executor import Executor, RunResult, check_spikes
from backends.frameworks import adapt
from backends.graph import GraphError, lower, validate
from backends.lava import LavaExecutor, describe_lowering
from backends.network import BIAS, INPUT, Network, Population, Projection
from backends.profile import FLOAT, HardwareProfile, bundled_profiles, load_profile
from backends.quantize import IntNetwork, quantization_report, quantize
from backends.readout import READOUT_RULES, apply_rule
from backends.reference import ReferenceExecutor
from backends.reset import FRAMEWORK_RESET, RESETS, resolve_reset
from backends.timestep import FRAMEWORK_DT, resolve_dt

KINDS = ("lava", "emulator", "reference")


def read_graph(graph: nir.NIRGraph | str | os.PathLike) -> nir.NIRGraph:
    """A NIR graph, read with ``nir.read`` if a path is given (a clear error if it cannot be).

    What frameworks write off the spec is adapted here, each with a warning naming what was changed:

    - files that fail only NIR's type check (rockpool 3.1 and sinabs 3.1 keep a batch or time
      dimension in their ``Input``/``Output`` shapes) are read again without it; the lowering then
      checks the shapes itself (:mod:`backends.graph`);
    - an ``Input`` whose shape disagrees with what its first layers take (``Affine``/``Linear``:
      ``[in_features]``, ``Conv2d``: ``[C_in, H, W]``, ``Conv1d``: ``[C_in, L]``, pooling: three
      dimensions) only by a leading dimension of 1 (a batch or time dimension kept, ``[1, 2, 34, 34]``
      before a ``Conv2d``) or by a missing leading channel dimension of 1 (``[28, 28]`` before a
      one-channel ``Conv2d``) is read with that dimension dropped or added.

    Args:
        graph: a ``nir.NIRGraph`` (returned as it is unless its ``Input`` is adapted: then a new graph
            with a new ``Input`` node) or the path of a ``.nir`` file.

    Returns:
        the ``nir.NIRGraph``.

    Raises:
        FileNotFoundError: the path is not a file.
        ValueError: the file is not a readable NIR file.

    Example:
        >>> read_graph("net.nir").nodes.keys()  # doctest: +SKIP
    """
    if isinstance(graph, nir.NIRGraph):
        return _fit_input(graph, "NIR graph")
    path = Path(graph)
    if not path.is_file():
        raise FileNotFoundError(f"NIR graph {path}: no such file")
    try:
        read = nir.read(path)
    except Exception as err:  # h5py/nir raise several types for a bad file
        try:
            read = nir.read(path, type_check=False)
        except Exception:
            raise ValueError(f"NIR graph {path}: not a readable NIR file ({err})") from err
        warnings.warn(f"NIR graph {path} fails NIR's type check ({err}); read without it", stacklevel=2)
    return _fit_input(read, f"NIR graph {path}")


def _takes(node) -> tuple[int | None, ...] | None:
    """The per-sample input shape a first layer takes (``None`` where its parameters do not say it)."""
    if isinstance(node, (nir.Affine, nir.Linear)):
        return (int(np.shape(node.weight)[1]),)
    if isinstance(node, (nir.Conv1d, nir.Conv2d)):
        channels = int(np.shape(node.weight)[1]) * int(node.groups)
        spatial = getattr(node, "input_shape", None)
        if spatial is None:
            return (channels,) + (None,) * (1 if isinstance(node, nir.Conv1d) else 2)
        return (channels, *(int(n) for n in np.atleast_1d(spatial)))
    if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
        return (None, None, None)
    return None


def _fits(shape: tuple[int, ...], takes: tuple[int | None, ...]) -> bool:
    return len(shape) == len(takes) and all(t is None or t == s for s, t in zip(shape, takes))


def _fit_input(graph: nir.NIRGraph, where: str) -> nir.NIRGraph:
    """``graph`` with its ``Input`` shape fitted to its first layers when it differs from what they take
    only by a leading dimension of 1 (see :func:`read_graph`); otherwise ``graph`` itself."""
    inputs = [k for k, n in graph.nodes.items() if isinstance(n, nir.Input)]
    if len(inputs) != 1:
        return graph  # the lowering names the problem
    name = inputs[0]
    shape = graph.nodes[name].input_type.get("input")
    if shape is None:
        return graph
    shape = tuple(int(n) for n in np.atleast_1d(shape))
    firsts = {b: _takes(graph.nodes.get(b)) for a, b in graph.edges if a == name}
    firsts = {k: t for k, t in firsts.items() if t is not None}
    if not firsts or all(_fits(shape, t) for t in firsts.values()):
        return graph
    candidates = [((1, *shape), "lacks the leading channel dimension of 1")]
    if len(shape) > 1 and shape[0] == 1:
        candidates.insert(0, (shape[1:], "keeps a leading batch/time dimension of 1"))
    for new, what in candidates:
        if all(_fits(new, t) for t in firsts.values()):
            first, takes = next(iter(firsts.items()))
            described = "[" + ", ".join("*" if t is None else str(t) for t in takes) + "]"
            warnings.warn(
                f"{where}: Input node {name!r} of shape {list(shape)} {what} for its first layer {first!r} "
                f"({type(graph.nodes[first]).__name__}, takes {described}); read as {list(new)}",
                stacklevel=3,
            )
            nodes = {k: nir.Input(np.array(new)) if k == name else n for k, n in graph.nodes.items()}
            return nir.NIRGraph(nodes=nodes, edges=list(graph.edges), metadata=graph.metadata, type_check=False)
    return graph


def load(
    graph: nir.NIRGraph | str | os.PathLike,
    profile: HardwareProfile | str | os.PathLike | None = None,
    kind: str = "emulator",
    dt: float | None = None,
    framework: str | None = None,
    device: str | torch.device = "cpu",
    reset: str | None = None,
    readout: str = "max",
    **options: Any,
):
    """An executor for ``graph`` on backend ``kind`` with hardware ``profile`` (default: float).

    Args:
        graph: a ``nir.NIRGraph`` or the path of a ``.nir`` file.
        profile: a bundled profile's name, a TOML path or a :class:`HardwareProfile` (``None``: float).
        kind: ``"emulator"`` (batched, bit-exact with Lava), ``"lava"`` (lava-nc's ``Loihi2SimCfg``)
            or ``"reference"`` (float, without the hardware's delays; float profiles only).
        dt: seconds per step for the NIR time constants (default ``graph.metadata["dt"]``, else the
            ``framework``'s convention, else 1 ms with a warning; :func:`~backends.timestep.resolve_dt`).
        framework: the exporting framework (``"snntorch"``, ``"sinabs"``, ...), for its time step,
            its default reset and its departures from NIR's equations (:mod:`backends.frameworks`).
        device: where the emulator and the reference compute (``"cpu"``, ``"cuda"``, ...; results
            come back on the CPU, the emulator's spikes the same on every device); Lava runs on
            the CPU whatever it says, as lava-nc does.
        reset: ``"zero"`` or ``"subtract"`` (``None``: the framework's default with a warning, else
            zero; :func:`~backends.reset.resolve_reset`). Subtract reset runs on Lava as
            :class:`~backends.lava_neurons.subtract_lif.SubtractLIF`.
        readout: for a network whose output is a non-spiking readout (NIR ``LI``/``CubaLI``), the
            rule its membrane trace is read by: ``"max"`` over time (default), ``"last"`` or
            ``"mean"`` (:mod:`backends.readout`; ``RunResult.scores``).
        **options: ``pad_steps`` (lava, emulator), ``batch_size`` and ``scan`` (emulator),
            ``samples_per_run`` and ``fresh`` (lava).

    Returns:
        an :class:`~backends.executor.Executor`: ``run(spikes [B, T, *in_shape]) -> RunResult``.

    Raises:
        ValueError: an unknown ``kind``, a fixed-point profile for ``"reference"``, an unreadable
            file, a bad ``dt``, a graph that cannot be lowered (:class:`~backends.graph.GraphError`)
            or quantized, or a bad option value.
        FileNotFoundError: no such graph file, or no such profile.

    Example:
        >>> executor = backends.load("net.nir", "loihi2", kind="emulator")  # doctest: +SKIP
        >>> executor.run(spikes).counts  # [B, n_out]  # doctest: +SKIP
    """
    if kind not in KINDS:
        raise ValueError(f"backend kind must be one of {KINDS}, got {kind!r}")
    graph = read_graph(graph)
    profile = FLOAT if profile is None else load_profile(profile)
    if kind == "reference" and profile.fixed_point:
        raise ValueError(f"the reference backend runs float only; profile {profile.name!r} is fixed point")
    network = lower(graph, dt, framework, reset)
    if kind == "reference":
        return ReferenceExecutor(network, device=device, readout=readout, **options)
    if kind == "emulator":
        return EmulatorExecutor(network, profile, device=device, readout=readout, **options)
    return LavaExecutor(network, profile, readout=readout, **options)


__all__ = [
    "FLOAT",
    "FRAMEWORK_DT",
    "FRAMEWORK_RESET",
    "READOUT_RULES",
    "RESETS",
    "apply_rule",
    "BIAS",
    "INPUT",
    "KINDS",
    "EmulatorExecutor",
    "Executor",
    "GraphError",
    "HardwareProfile",
    "IntNetwork",
    "LavaExecutor",
    "Network",
    "Population",
    "Projection",
    "adapt",
    "describe_lowering",
    "ReferenceExecutor",
    "bundled_profiles",
    "check_spikes",
    "RunResult",
    "load",
    "load_profile",
    "lower",
    "quantization_report",
    "quantize",
    "read_graph",
    "resolve_dt",
    "resolve_reset",
    "validate",
]
