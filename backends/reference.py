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
    """A Norse module executing ``graph`` one time step per call: ``out, state = m(x, state)``.

    Args:
        graph: the NIR graph.
        dt: seconds per step, for the NIR time constants.

    Returns:
        a ``torch.nn.Module`` (nirtorch's graph executor) taking one step ``[B, *in_shape]`` and
        the previous state (``None`` at the start).

    Example:
        >>> graph = nir.NIRGraph.from_list(
        ...     nir.Input(np.array([3])), nir.Linear(np.ones((2, 3))),
        ...     nir.IF(r=np.ones(2), v_threshold=np.ones(2)), nir.Output(np.array([2])))
        >>> out, state = load_norse(graph)(torch.ones(1, 3), None)  # one step, B = 1
        >>> out.detach()
        tensor([[1., 1.]])
    """
    return nirtorch.load(graph, partial(_import_node, dt=dt))


@torch.no_grad()
def run_reference(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run a loaded graph over time-first input ``[T, B, ...]``; output ``[T, B, ...]``.

    Args:
        module: a module from :func:`load_norse`.
        x: float input ``[T, B, *in_shape]``, started from the initial state.

    Returns:
        the output ``[T, B, *out_shape]``, one step per input step (no delays).

    Example:
        >>> graph = nir.NIRGraph.from_list(
        ...     nir.Input(np.array([3])), nir.Linear(np.ones((2, 3))),
        ...     nir.IF(r=np.ones(2), v_threshold=np.ones(2)), nir.Output(np.array([2])))
        >>> run_reference(load_norse(graph), torch.ones(4, 1, 3)).shape  # [T, B, n_out]
        torch.Size([4, 1, 2])
    """
    state = None
    out = []
    for t in range(x.shape[0]):
        y, state = module(x[t], state)
        out.append(y)
    return torch.stack(out)


class ReferenceExecutor:
    """Float execution of a NIR graph by Norse: ``run(spikes [B, T, ...]) -> RunResult``.

    No synaptic delays: ``window`` and ``output`` are the same ``T`` steps.

    Args:
        graph: the NIR graph (one ``Input`` node with a shape).
        dt: seconds per step, for the NIR time constants (default ``graph.metadata["dt"]``, else 1e-3).

    Attributes:
        kind: ``"reference"``.
        profile: :data:`~backends.profile.FLOAT`.
        graph: the NIR graph.
        dt: seconds per step.
        module: the Norse module (:func:`load_norse`).
        in_shape: shape of one time step of input, e.g. ``(2, 34, 34)``.

    Raises:
        ValueError: the graph has not exactly one ``Input`` node with a shape.

    Example:
        >>> graph = nir.NIRGraph.from_list(
        ...     nir.Input(np.array([3])), nir.Linear(np.ones((2, 3))),
        ...     nir.IF(r=np.ones(2), v_threshold=np.ones(2)), nir.Output(np.array([2])))
        >>> result = ReferenceExecutor(graph).run(torch.ones(1, 4, 3))  # [B=1, T=4, 3]
        >>> result.window.shape, result.counts
        (torch.Size([1, 4, 2]), tensor([[4., 4.]]))
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
        """Run binary input ``[B, T, *in_shape]`` in float with Norse.

        Args:
            spikes: binary spikes ``[B, T, *in_shape]`` (tensor or array; see
                :func:`~backends.executor.check_spikes`).
            record: must be ``False``: per-layer traces are not recorded.

        Returns:
            a :class:`~backends.executor.RunResult` whose ``window`` and ``output`` are the same
            ``[B, T, n_out]`` tensor (no delays), ``layers`` ``None``.

        Raises:
            ValueError: ``record`` is true, the input is not binary spikes of shape
                ``[B, T, *in_shape]``, or ``B = 0``.
        """
        if record:
            raise ValueError("the reference backend does not record per-layer traces")
        x = check_spikes(spikes, self.in_shape).float()
        if len(x) == 0:
            raise ValueError("hardware input has no samples")
        out = run_reference(self.module, x.transpose(0, 1)).transpose(0, 1)
        out = out.reshape(out.shape[0], out.shape[1], -1)
        return RunResult(out, out, None)
