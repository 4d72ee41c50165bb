"""Deployment backends: a NIR graph and a hardware profile in, spikes out.

This package knows NIR, numpy, torch and Lava, and nothing of attacks or datasets. The one
interface::

    executor = backends.load(graph, profile, kind="lava" | "emulator" | "reference")
    result = executor.run(spikes)          # spikes [B, T, *input_shape], binary
    result.output                          # [B, T, n_out] output spikes (hardware: delay removed)
    result.window, result.counts, result.prediction, result.layers (with record=True)

``graph`` is a ``nir.NIRGraph`` or a path to a ``.nir`` file; ``profile`` a
:class:`~backends.profile.HardwareProfile` or a path to a TOML profile (``hw_configs/``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nir

from backends.emulator import EmulatorExecutor, RunResult
from backends.graph import FloatLayer, lower
from backends.lava import LavaExecutor, describe_lowering
from backends.profile import FLOAT, HardwareProfile, load_profile
from backends.quantize import IntLayer, quantization_report, quantize
from backends.reference import ReferenceExecutor

KINDS = ("lava", "emulator", "reference")


def read_graph(graph: nir.NIRGraph | str | os.PathLike) -> nir.NIRGraph:
    """A NIR graph, read from a file if a path is given (a clear error if it cannot be)."""
    if isinstance(graph, nir.NIRGraph):
        return graph
    path = Path(graph)
    if not path.is_file():
        raise FileNotFoundError(f"NIR graph {path}: no such file")
    try:
        return nir.read(path)
    except Exception as err:  # h5py/nir raise several types for a bad file
        raise ValueError(f"NIR graph {path}: not a readable NIR file ({err})") from err


def load(
    graph: nir.NIRGraph | str | os.PathLike,
    profile: HardwareProfile | str | os.PathLike | None = None,
    kind: str = "emulator",
    dt: float | None = None,
    **options: Any,
):
    """An executor for ``graph`` on backend ``kind`` with hardware ``profile`` (default: float).

    ``options``: ``pad_steps`` (lava, emulator), ``batch_size`` (emulator), ``samples_per_run`` and
    ``fresh`` (lava).
    """
    if kind not in KINDS:
        raise ValueError(f"backend kind must be one of {KINDS}, got {kind!r}")
    graph = read_graph(graph)
    profile = FLOAT if profile is None else load_profile(profile)
    if kind == "reference":
        if profile.fixed_point:
            raise ValueError(f"the reference backend runs float only; profile {profile.name!r} is fixed point")
        return ReferenceExecutor(graph, dt=dt, **options)
    layers = lower(graph, dt)
    if kind == "emulator":
        return EmulatorExecutor(layers, profile, **options)
    return LavaExecutor(layers, profile, **options)


__all__ = [
    "FLOAT",
    "KINDS",
    "EmulatorExecutor",
    "FloatLayer",
    "HardwareProfile",
    "IntLayer",
    "LavaExecutor",
    "describe_lowering",
    "ReferenceExecutor",
    "RunResult",
    "load",
    "load_profile",
    "lower",
    "quantization_report",
    "quantize",
    "read_graph",
]
