"""Float execution of a NIR graph with Norse (``norse.torch.from_nir``'s node mapping).

Norse's importer (``norse/torch/utils/import_nir.py::_import_norse_module``) is used as it is,
with two additions in :func:`_import_node`, where Norse 1.1.0 returns nothing or the wrong thing:

- ``nir.AvgPool2d`` -> ``torch.nn.AvgPool2d`` (Norse's mapper returns ``None`` and nirtorch then
  drops the node silently, which changes the network);
- ``nir.Flatten``: NIR's ``start_dim`` indexes the per-sample shape, but Norse builds
  ``torch.nn.Flatten(start_dim)`` for batched tensors, which would flatten the batch too; the
  batch dimension is added to the indices.

Everything else, LIF/IF/CubaLIF and the synapses included, is Norse's own mapping.
"""

from __future__ import annotations

from functools import partial

import nir
import nirtorch
import numpy as np
import torch
from norse.torch.utils.import_nir import _import_norse_module

from backends.executor import RunResult, check_spikes


def _import_node(node: nir.NIRNode, dt: float) -> torch.nn.Module | None:
    if isinstance(node, nir.AvgPool2d):
        return torch.nn.AvgPool2d(
            kernel_size=tuple(int(k) for k in np.atleast_1d(node.kernel_size)),
            stride=tuple(int(k) for k in np.atleast_1d(node.stride)),
            padding=tuple(int(k) for k in np.atleast_1d(node.padding)),
        )
    if isinstance(node, nir.Flatten):
        end = node.end_dim if node.end_dim < 0 else node.end_dim + 1
        return torch.nn.Flatten(node.start_dim + 1, end)
    return _import_norse_module(node, ignore_warnings=True, dt=dt)


def load_norse(graph: nir.NIRGraph, dt: float = 1e-3) -> torch.nn.Module:
    """A Norse module executing ``graph`` one time step per call: ``out, state = m(x, state)``."""
    return nirtorch.load(graph, partial(_import_node, dt=dt))


@torch.no_grad()
def run_reference(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run a loaded graph over time-first input ``[T, B, ...]``; output ``[T, B, ...]``."""
    state = None
    out = []
    for t in range(x.shape[0]):
        y, state = module(x[t], state)
        out.append(y)
    return torch.stack(out)


class ReferenceExecutor:
    """Float execution of a NIR graph by Norse: ``run(spikes [B, T, ...]) -> RunResult``.

    No synaptic delays: ``window`` and ``output`` are the same ``T`` steps.
    """

    kind = "reference"

    def __init__(self, graph: nir.NIRGraph, dt: float | None = None):
        from backends.profile import FLOAT

        self.graph = graph
        self.profile = FLOAT
        self.dt = float(dt if dt is not None else (graph.metadata or {}).get("dt", 1e-3))
        self.module = load_norse(graph, self.dt)
        inputs = [n for n in graph.nodes.values() if isinstance(n, nir.Input)]
        if len(inputs) != 1 or inputs[0].input_type.get("input") is None:
            raise ValueError("NIR graph needs exactly one Input node with a shape")
        self.in_shape = tuple(int(s) for s in np.atleast_1d(inputs[0].input_type["input"]))

    def run(self, spikes, record: bool = False):
        if record:
            raise ValueError("the reference backend does not record per-layer traces")
        x = check_spikes(spikes, self.in_shape).float()
        if len(x) == 0:
            raise ValueError("hardware input has no samples")
        out = run_reference(self.module, x.transpose(0, 1)).transpose(0, 1)
        out = out.reshape(out.shape[0], out.shape[1], -1)
        return RunResult(out, out, None)
