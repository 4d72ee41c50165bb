"""Norse -> NIR export, validated by re-importing the written file.

``norse.torch.to_nir`` (norse 1.1.0 with nirtorch 2.6) is extended in one place: the module map
handed to ``nirtorch.torch_to_nir`` below. It fixes what Norse's own mapping
(``norse/torch/utils/export_nir.py::_extract_norse_module``) gets wrong or lacks, and falls back to
Norse's mapping for everything else:

- ``AvgPool2d`` and ``Flatten`` become ``nir.AvgPool2d`` / ``nir.Flatten`` (Norse maps them to
  ``None``, after which ``nir.write`` fails on any conv model). ``Flatten`` is written NIR-typed:
  ``start_dim`` indexes the per-sample shape, so a full flatten of ``[C, H, W]`` is ``start_dim=0``.
- Time constants are ``1 / tau_inv`` seconds (Norse writes ``dt / tau_inv``), and every neuron
  parameter is an array of the layer's shape (Norse writes scalars): per-neuron parameters.
- ``v_reset = 0`` is written explicitly. Soft reset (subtract) cannot run on Lava's LIF, which
  resets to 0, so such models are refused; so are current-synapse models (Norse's ``LIFCell``
  integrates its input one step late, which ``nir.CubaLIF`` cannot express).

- ``IF`` nodes carry ``r = 1 / dt`` (NIR's IF is ``dv/dt = r I``; Norse's IAF adds its input once
  a step).

The graph's ``metadata`` carries ``dt`` (NIR itself has no time step). Validation re-reads the
written file and runs it with the backends' float reference (:mod:`backends.reference`: the same
lowering the hardware backends use, without their delays) on random binary inputs; the output
spikes must equal the Norse model's exactly.
"""

from __future__ import annotations

import neuroattack.quiet_norse  # noqa: F401  (first: Norse imported without torch's jit warning)

# isort: split
import copy
import os
from pathlib import Path
from typing import Any

import nir
import nirtorch
import numpy as np
import torch
from norse.torch.functional.reset import reset_value
from norse.torch.module.iaf import IAFCell
from norse.torch.module.lif import LIFCell
from norse.torch.module.lif_box import LIFBoxCell
from norse.torch.utils.export_nir import _extract_norse_module
from torch import nn

import backends
from neuroattack.fileio import atomic_path
from neuroattack.models.neurons import DT, IAFSoftResetCell, is_spiking
from neuroattack.models.snn import SNN


class _StepView(nn.Module):
    """One time step of an SNN as a traceable chain (what ``torch_to_nir`` walks)."""

    def __init__(self, layers: nn.ModuleList):
        super().__init__()
        self.layers = layers

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
            if is_spiking(layer):
                x = x[0]
        return x


def _full(value: torch.Tensor, shape: tuple[int, ...]) -> np.ndarray:
    return np.broadcast_to(value.detach().double().cpu().numpy(), shape).astype(np.float32).copy()


def _module_map(model: SNN) -> dict[type, Any]:
    """``torch_to_nir`` module map for the layers of ``model`` (shapes known from its spec)."""
    in_shapes: dict[int, tuple[int, ...]] = {}
    out_shapes: dict[int, tuple[int, ...]] = {}
    shape = model.input_shape
    with torch.no_grad():
        x = torch.zeros(1, *shape)
        for layer in model.layers:
            in_shapes[id(layer)] = tuple(x.shape[1:])
            x = layer(x)[0] if is_spiking(layer) else layer(x)
            out_shapes[id(layer)] = tuple(x.shape[1:])

    def conv(m: nn.Conv2d) -> nir.NIRNode:
        bias = m.bias.detach().cpu().numpy() if m.bias is not None else np.zeros(m.out_channels, np.float32)
        return nir.Conv2d(
            input_shape=in_shapes[id(m)][1:],
            weight=m.weight.detach().cpu().numpy().copy(),
            stride=m.stride,
            padding=m.padding,
            dilation=m.dilation,
            groups=m.groups,
            bias=bias.copy(),
        )

    def avgpool(m: nn.AvgPool2d) -> nir.NIRNode:
        pair = lambda v: np.array(v if isinstance(v, (tuple, list)) else (v, v))  # noqa: E731
        return nir.AvgPool2d(kernel_size=pair(m.kernel_size), stride=pair(m.stride), padding=pair(m.padding))

    def flatten(m: nn.Flatten) -> nir.NIRNode:
        return nir.Flatten(input_type={"input": np.array(in_shapes[id(m)])}, start_dim=0, end_dim=-1)

    def linear(m: nn.Linear) -> nir.NIRNode:
        bias = m.bias.detach().cpu().numpy() if m.bias is not None else np.zeros(m.out_features, np.float32)
        return nir.Affine(weight=m.weight.detach().cpu().numpy().copy(), bias=bias.copy())

    def lif_box(m: LIFBoxCell) -> nir.NIRNode:
        if m.p.reset_method is not reset_value:
            raise ValueError("neuron.reset='soft' cannot be deployed: Lava's LIF resets v to 0 (hard reset)")
        s = out_shapes[id(m)]
        return nir.LIF(
            tau=_full(1.0 / m.p.tau_mem_inv, s),
            r=np.ones(s, np.float32),
            v_leak=_full(m.p.v_leak, s),
            v_threshold=_full(m.p.v_th, s),
            v_reset=_full(m.p.v_reset, s),
        )

    def iaf(m: IAFCell) -> nir.NIRNode:
        if isinstance(m, IAFSoftResetCell):
            raise ValueError("neuron.reset='soft' cannot be deployed: Lava's LIF resets v to 0 (hard reset)")
        s = out_shapes[id(m)]
        # NIR's IF is dv/dt = r I: Norse's IAF adds its input once a step, so r = 1 / dt
        return nir.IF(r=np.full(s, 1 / DT, np.float32), v_threshold=_full(m.p.v_th, s), v_reset=_full(m.p.v_reset, s))

    def lif(m: LIFCell) -> nir.NIRNode:
        raise ValueError(
            "neuron.synapse='current' cannot be exported: Norse's LIFCell adds its input to the "
            "current after the voltage update (a one-step delay) that NIR's CubaLIF does not have, "
            "and Norse's importer has no nir.Delay; export supports synapse='none'"
        )

    mapping: dict[type, Any] = {
        nn.Conv2d: conv,
        nn.AvgPool2d: avgpool,
        nn.Flatten: flatten,
        nn.Linear: linear,
        LIFBoxCell: lif_box,
        IAFCell: iaf,
        IAFSoftResetCell: iaf,
        LIFCell: lif,
    }
    for layer in model.layers:  # anything else: Norse's own mapping, or a clear error
        if type(layer) not in mapping:
            node = _extract_norse_module(layer, dt=DT)
            if node is None:
                raise ValueError(f"cannot export layer {type(layer).__name__}: no NIR mapping")
            mapping[type(layer)] = lambda m, node=node: node
    return mapping


def to_nir(model: SNN) -> nir.NIRGraph:
    """The NIR graph of an SNN (one time step), typed, with ``metadata['dt']``."""
    if not isinstance(model, SNN):
        raise ValueError(f"export needs an SNN, got {type(model).__name__}")
    mapping = _module_map(model)
    stateful = {LIFBoxCell, IAFCell, IAFSoftResetCell, LIFCell}
    graph = nirtorch.torch_to_nir(_StepView(model.layers), mapping, stateful_modules=stateful, type_check=False)
    kinds = {
        nir.Conv2d: "conv",
        nir.AvgPool2d: "avgpool",
        nir.Flatten: "flatten",
        nir.Affine: "affine",
        nir.LIF: "lif",
        nir.IF: "if",
        nir.CubaLIF: "cubalif",
    }
    names, nodes = {}, {}
    for key, node in graph.nodes.items():
        if isinstance(node, nir.Input):
            names[key], node = "input", nir.Input(input_type={"input": np.array(model.input_shape)})
        elif isinstance(node, nir.Output):
            names[key], node = "output", nir.Output(output_type={"output": np.array([model.num_classes])})
        else:  # nirtorch names nodes by module path (layers_3): say what they are (l3_flatten)
            names[key] = f"l{key.rsplit('_', 1)[-1]}_{kinds.get(type(node), type(node).__name__.lower())}"
        nodes[names[key]] = node
    edges = [(names[a], names[b]) for a, b in graph.edges]
    out = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    spec = model.spec.text if model.spec is not None else "a user's Norse module"
    out.metadata = {"dt": DT, "source": "neuroattack", "spec": spec}
    return out


def validate_export(
    graph: nir.NIRGraph, model: SNN, timesteps: int = 8, batch: int = 8, density: float = 0.3, seed: int = 0
) -> None:
    """Raise ``ValueError`` unless ``graph`` run by Norse reproduces ``model``'s spikes exactly."""
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(timesteps, batch, *model.input_shape, generator=gen) < density).float()
    if any(p.device.type != "cpu" for p in model.parameters()):  # checked on the CPU, as the reference runs
        model = copy.deepcopy(model).cpu()
    with torch.no_grad():
        expected = model(x)
    got = backends.load(graph, kind="reference").run(x.transpose(0, 1)).output.transpose(0, 1)
    expected = expected.reshape(got.shape) if expected.numel() == got.numel() else expected
    if got.shape != expected.shape or not torch.equal(got, expected):
        diff = int((got != expected).sum()) if got.shape == expected.shape else "shape"
        raise ValueError(
            f"NIR export does not reproduce the model: {diff} of {expected.numel()} output spikes differ "
            "when the backends' float reference runs the written graph"
        )


def export_checkpoint(
    model: SNN, path: str | os.PathLike, timesteps: int = 8, extra: dict | None = None
) -> nir.NIRGraph:
    """Export, write atomically with ``nir.write``, re-read and validate; return the read graph."""
    graph = to_nir(model)
    if extra:
        graph.metadata.update(extra)
    path = Path(path)
    with atomic_path(path) as tmp:
        nir.write(tmp, graph)
        written = nir.read(tmp)
        validate_export(written, model, timesteps)
    return written


def export_trained(checkpoint: str | os.PathLike, path: str | os.PathLike) -> nir.NIRGraph:
    """:func:`export_checkpoint` of a training checkpoint directory, validated over its ``T``, with
    its dataset, input encoding and time-steps in the graph's metadata."""
    from neuroattack.models.checkpoint import load_checkpoint

    model, config = load_checkpoint(checkpoint)
    extra = {k: config[k] for k in ("dataset", "encoding", "timesteps")}
    return export_checkpoint(model, path, config["timesteps"], extra=extra)
