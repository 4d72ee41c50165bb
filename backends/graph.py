"""Lower a feed-forward NIR graph to a chain of hardware layers: one synapse + one LIF population.

Loihi-style hardware (and Lava's processes) connect spiking populations through a single synaptic
stage (Dense or Conv) each. The nodes between two neuron nodes (``Affine``/``Linear``, ``Conv2d``,
``SumPool2d``/``AvgPool2d``, ``Flatten``) are therefore folded into one linear map:

- ``Conv2d`` alone stays a convolution; ``pool(s) -> Conv2d`` becomes one convolution with kernel
  ``s*k`` and stride ``s*stride`` (the pooling window folded into the kernel), if the pooled map's
  size divides evenly;
- anything else becomes a dense matrix, materialised by applying the linear ops to the unit basis
  (e.g. ``AvgPool2d -> Flatten -> Affine``: ``W_total = W_affine @ P_pool``).

Neuron nodes map to Lava's LIF in its float convention
``u = u (1 - du) + a;  v = v (1 - dv) + u + bias;  spike v > vth;  v -> 0``
with ``dt`` (NIR has no time step; ``graph.metadata['dt']``, else 1 ms):

=========  ================  ================  ==================================  ===========
node       du                dv                input scale (folded into weights)   bias
=========  ================  ================  ==================================  ===========
LIF        1 (no current)    dt / tau          r dt / tau                          dt/tau v_leak
IF         1                 0                 r                                   0
CubaLIF    dt / tau_syn      dt / tau_mem      w_in du dv r                        dv v_leak
=========  ================  ================  ==================================  ===========

Affine biases are added to ``v`` every step (times the input scale). Lava's ``du``, ``dv`` and
``vth`` are one value per population: per-neuron thresholds are normalised by scaling each neuron's
weights and bias (the dynamics are linear in ``v`` with reset to 0), per-neuron time constants are
refused. Unsupported nodes, branching graphs, non-zero ``v_reset`` and linear ops after the last
neuron are errors naming the node.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import nir
import numpy as np
import torch
import torch.nn.functional as F

LINEAR_NODES = (nir.Affine, nir.Linear, nir.Conv2d, nir.SumPool2d, nir.AvgPool2d, nir.Flatten)
NEURON_NODES = (nir.LIF, nir.IF, nir.CubaLIF)
_MAX_DENSE = 200_000_000


@dataclass
class FloatLayer:
    """One synapse + LIF population, float parameters in Lava's convention (torch layouts).

    Made by :func:`lower`: the NIR nodes folded into it are ``nodes`` (its linear ops, then its
    neuron node), its dynamics ``u = u (1 - du) + W s;  v = v (1 - dv) + u + bias;  spike v > vth``.

    Attributes:
        name: the layer's name, that of its neuron node.
        synapse: ``"dense"`` or ``"conv"``.
        weight: float64; dense ``[n_out, n_in]`` (over the flattened input, torch ``(C, H, W)``
            order); conv ``[C_out, C_in, kH, kW]`` (cross-correlation, torch layout). The neuron's
            input scale and per-neuron threshold normalisation are folded in.
        in_shape: per-sample input shape, e.g. ``(2, 34, 34)`` or ``(128,)``.
        out_shape: per-sample shape of the population.
        bias: float64 ``[n_out]``, added to ``v`` each step.
        du, dv: current and voltage decays per step, in ``[0, 1]``.
        vth: the population's common threshold (> 0).
        neuron: the NIR neuron type (``"LIF"``, ``"IF"``, ``"CubaLIF"``).
        stride, padding: conv stride and padding ``(H, W)`` (``(1, 1)``, ``(0, 0)`` for dense).
        nodes: names of the NIR nodes folded into the layer.

    Example:
        >>> graph = nir.NIRGraph.from_list(
        ...     nir.Input(np.array([3])), nir.Linear(np.ones((2, 3))),
        ...     nir.IF(r=np.ones(2), v_threshold=np.array([1.0, 2.0])), nir.Output(np.array([2])))
        >>> layer = lower(graph)[0]
        >>> layer.weight  # the second neuron's threshold of 2 normalised to the common 1
        array([[1. , 1. , 1. ],
               [0.5, 0.5, 0.5]])
        >>> layer.vth, layer.nodes, (layer.n_in, layer.n_out)
        (1.0, ['linear', 'if'], (3, 2))
    """

    name: str
    synapse: str  # "dense" | "conv"
    weight: np.ndarray  # dense [n_out, n_in]; conv [C_out, C_in, kH, kW] (cross-correlation)
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    bias: np.ndarray  # per neuron, flat [n_out], added to v each step
    du: float
    dv: float
    vth: float
    neuron: str
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    nodes: list[str] = field(default_factory=list)

    @property
    def n_in(self) -> int:
        """Number of inputs per step (``prod(in_shape)``)."""
        return int(np.prod(self.in_shape))

    @property
    def n_out(self) -> int:
        """Number of neurons in the population (``prod(out_shape)``)."""
        return int(np.prod(self.out_shape))


def _pair(value) -> tuple[int, int]:
    arr = np.atleast_1d(np.asarray(value)).astype(int)
    return (int(arr[0]), int(arr[0])) if arr.size == 1 else (int(arr[0]), int(arr[1]))


def _chain(graph: nir.NIRGraph) -> list[str]:
    """Node names from the single Input to the single Output; error unless a simple chain."""
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            raise ValueError(f"NIR node {name!r}: nested graphs are not supported")
    inputs = [k for k, n in graph.nodes.items() if isinstance(n, nir.Input)]
    outputs = [k for k, n in graph.nodes.items() if isinstance(n, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(f"NIR graph needs exactly one Input and one Output, has {inputs} and {outputs}")
    succ: dict[str, list[str]] = {k: [] for k in graph.nodes}
    for src, dst in graph.edges:
        if src not in succ or dst not in succ:
            raise ValueError(f"NIR edge ({src!r}, {dst!r}) names a node that does not exist")
        succ[src].append(dst)
    order = [inputs[0]]
    while order[-1] != outputs[0]:
        nxt = succ[order[-1]]
        if len(nxt) != 1:
            raise ValueError(
                f"NIR graph is not a feed-forward chain: node {order[-1]!r} has {len(nxt)} successors {nxt}"
            )
        if nxt[0] in order:
            raise ValueError(f"NIR graph has a cycle through node {nxt[0]!r}")
        order.append(nxt[0])
    if len(order) != len(graph.nodes):
        rest = sorted(set(graph.nodes) - set(order))
        raise ValueError(f"NIR graph has nodes off the input-output chain: {rest}")
    return order


def _input_shape(node: nir.Input) -> tuple[int, ...]:
    shape = node.input_type.get("input")
    if shape is None:
        raise ValueError("NIR Input node has no shape")
    return tuple(int(s) for s in np.atleast_1d(shape))


def _apply(node: nir.NIRNode, x: torch.Tensor) -> torch.Tensor:
    """Apply a linear NIR node to a batch ``[B, *shape]`` (float64, bias included)."""
    if isinstance(node, nir.Affine):
        w = torch.as_tensor(np.asarray(node.weight), dtype=torch.float64)
        b = torch.as_tensor(np.asarray(node.bias), dtype=torch.float64)
        return x.flatten(1) @ w.T + b
    if isinstance(node, nir.Linear):
        w = torch.as_tensor(np.asarray(node.weight), dtype=torch.float64)
        return x.flatten(1) @ w.T
    if isinstance(node, nir.Conv2d):
        w = torch.as_tensor(np.asarray(node.weight), dtype=torch.float64)
        b = torch.as_tensor(np.asarray(node.bias), dtype=torch.float64)
        if isinstance(node.padding, str):
            raise ValueError("NIR Conv2d: string padding is not supported")
        return F.conv2d(x, w, b, _pair(node.stride), _pair(node.padding), _pair(node.dilation), int(node.groups))
    if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
        k = _pair(node.kernel_size)
        out = F.avg_pool2d(x, k, _pair(node.stride), _pair(node.padding), count_include_pad=True)
        return out * (k[0] * k[1]) if isinstance(node, nir.SumPool2d) else out
    if isinstance(node, nir.Flatten):
        return x.flatten(1)
    raise TypeError(type(node).__name__)


@dataclass(frozen=True)
class NeuronParams:
    """A neuron node in Lava's float LIF convention (see the module table).

    Attributes:
        du, dv: current and voltage decays per step, in [0, 1] (one per population).
        vth: the population's common threshold.
        scale: per-neuron input scale ``[n]`` folded into the incoming weights (thresholds normalised).
        bias: per-neuron bias ``[n]`` added to ``v`` each step.
        kind: the NIR node type (``"LIF"``, ``"IF"``, ``"CubaLIF"``).

    Example:
        >>> params = NeuronParams(du=1.0, dv=0.1, vth=1.0, scale=np.full(2, 0.1), bias=np.zeros(2), kind="LIF")
        >>> params.scale  # a LIF with r = 1, tau = 10 ms at dt = 1 ms: input scale r dt / tau
        array([0.1, 0.1])
    """

    du: float
    dv: float
    vth: float
    scale: np.ndarray
    bias: np.ndarray
    kind: str


def _neuron(name: str, node: nir.NIRNode, shape: tuple[int, ...], dt: float) -> NeuronParams:
    """du, dv, vth, per-neuron input scale and bias of a neuron node (see the module table)."""
    n = int(np.prod(shape))

    def arr(value, what: str) -> np.ndarray:
        """``value`` as float64 ``[n]`` (a scalar broadcast); ``ValueError`` for a wrong count."""
        a = np.asarray(value, dtype=np.float64)
        if a.size == 1:
            return np.full(n, float(a.reshape(-1)[0]))
        if a.size != n:
            raise ValueError(f"NIR node {name!r}: {what} has {a.size} values for {n} neurons")
        return a.reshape(-1)

    def uniform(a: np.ndarray, what: str) -> float:
        """The one value of ``a`` ``[n]``; ``ValueError`` if it varies (one per population in Lava)."""
        if not np.allclose(a, a[0], rtol=1e-6, atol=0):
            raise ValueError(
                f"NIR node {name!r}: per-neuron {what} varies ({a.min():g}..{a.max():g}); "
                "Lava's LIF has one per population"
            )
        return float(a[0])

    v_reset = getattr(node, "v_reset", None)
    if v_reset is not None and np.any(np.asarray(v_reset) != 0):
        raise ValueError(f"NIR node {name!r}: v_reset must be 0 (Lava's LIF resets v to 0)")
    vth = arr(node.v_threshold, "v_threshold")
    if np.any(vth <= 0):
        raise ValueError(f"NIR node {name!r}: v_threshold must be > 0")
    r = arr(node.r, "r")
    if isinstance(node, nir.LIF):
        k = dt / uniform(arr(node.tau, "tau"), "tau")
        du, dv, scale, bias = 1.0, k, r * k, k * arr(node.v_leak, "v_leak")
    elif isinstance(node, nir.IF):
        du, dv, scale, bias = 1.0, 0.0, r, np.zeros(n)
    else:  # CubaLIF
        du = dt / uniform(arr(node.tau_syn, "tau_syn"), "tau_syn")
        dv = dt / uniform(arr(node.tau_mem, "tau_mem"), "tau_mem")
        scale = arr(node.w_in, "w_in") * du * dv * r
        bias = dv * arr(node.v_leak, "v_leak")
    for what, val in (("du", du), ("dv", dv)):
        if not 0.0 <= val <= 1.0:
            raise ValueError(f"NIR node {name!r}: dt/tau gives {what} = {val:g}, outside [0, 1] (dt = {dt:g} s)")
    # one threshold per population: scale each neuron so that its threshold becomes the common one
    common = float(vth[0]) if np.allclose(vth, vth[0]) else 1.0
    norm = common / vth
    return NeuronParams(du=du, dv=dv, vth=common, scale=scale * norm, bias=bias * norm, kind=type(node).__name__)


def lower(graph: nir.NIRGraph, dt: float | None = None) -> list[FloatLayer]:
    """The hardware layers of a feed-forward NIR graph (see the module docstring).

    Args:
        graph: a ``nir.NIRGraph`` that is a chain from one ``Input`` (with a shape) to one
            ``Output``, made of the nodes in :data:`LINEAR_NODES` and :data:`NEURON_NODES`.
        dt: seconds per step, for the NIR time constants (default ``graph.metadata["dt"]``,
            else 1e-3).

    Returns:
        one :class:`FloatLayer` per neuron node, from input to output.

    Raises:
        ValueError: ``graph`` is not a ``nir.NIRGraph``, not a simple chain, or has an unsupported
            node, per-neuron time constants, a non-zero ``v_reset``, a ``dt / tau`` outside
            ``[0, 1]``, linear nodes after the last neuron, or no neuron at all.

    Example:
        >>> graph = nir.NIRGraph.from_list(
        ...     nir.Input(np.array([3])), nir.Linear(np.ones((2, 3))),
        ...     nir.LIF(tau=np.full(2, 0.01), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2)),
        ...     nir.Output(np.array([2])))
        >>> [layer] = lower(graph, dt=1e-3)
        >>> layer.synapse, layer.du, layer.dv, layer.in_shape, layer.out_shape
        ('dense', 1.0, 0.1, (3,), (2,))
        >>> layer.weight  # r dt / tau folded in
        array([[0.1, 0.1, 0.1],
               [0.1, 0.1, 0.1]])
    """
    if not isinstance(graph, nir.NIRGraph):
        raise ValueError(f"expected a nir.NIRGraph, got {type(graph).__name__}")
    dt = float(dt if dt is not None else (graph.metadata or {}).get("dt", 1e-3))
    order = _chain(graph)
    shape = _input_shape(graph.nodes[order[0]])
    layers: list[FloatLayer] = []
    pending: list[tuple[str, nir.NIRNode]] = []
    for name in order[1:-1]:
        node = graph.nodes[name]
        if isinstance(node, LINEAR_NODES):
            pending.append((name, node))
            continue
        if not isinstance(node, NEURON_NODES):
            raise ValueError(
                f"NIR node {name!r} of type {type(node).__name__} is not supported; supported: "
                + ", ".join(t.__name__ for t in LINEAR_NODES + NEURON_NODES)
            )
        layer = _fuse(pending, shape, name, node, dt)
        layers.append(layer)
        shape = layer.out_shape
        pending = []
    if pending:
        raise ValueError(f"NIR nodes {[n for n, _ in pending]} follow the last neuron: the output must be spiking")
    if not layers:
        raise ValueError("NIR graph has no neuron nodes")
    return layers


def _fuse(pending, in_shape, name, neuron_node, dt) -> FloatLayer:
    nodes = [n for n, _ in pending] + [name]
    kinds = [type(node) for _, node in pending]
    conv_like = kinds == [nir.Conv2d] or (
        len(kinds) == 2 and kinds[0] in (nir.SumPool2d, nir.AvgPool2d) and kinds[1] is nir.Conv2d
    )
    with torch.no_grad():
        zero = torch.zeros(1, *in_shape, dtype=torch.float64)
        out = zero
        for _, node in pending:
            out = _apply(node, out)
    out_shape = tuple(out.shape[1:])
    offset = out.reshape(-1).numpy()
    params = _neuron(name, neuron_node, out_shape, dt)
    if conv_like and len(in_shape) == 3 and _conv_foldable(pending, in_shape):
        weight, stride, padding = _fused_conv(pending)
        scale = params.scale.reshape(out_shape)
        if not np.allclose(scale, scale[:, :1, :1]):
            raise ValueError(f"NIR node {name!r}: per-pixel input scale cannot fold into a convolution")
        weight = weight * scale[:, 0, 0][:, None, None, None]
        synapse = "conv"
    else:
        n_in = int(np.prod(in_shape))
        n_out = int(np.prod(out_shape))
        if n_in * n_out > _MAX_DENSE:
            raise ValueError(f"NIR nodes {nodes}: folding into a dense {n_out}x{n_in} matrix is too large")
        with torch.no_grad():
            basis = torch.eye(n_in, dtype=torch.float64).reshape(n_in, *in_shape)
            cols = basis
            for _, node in pending:
                cols = _apply(node, cols)
            matrix = (cols.reshape(n_in, -1).numpy() - offset).T
        weight = matrix * params.scale[:, None]
        stride, padding, synapse = (1, 1), (0, 0), "dense"
    return FloatLayer(
        name=name,
        synapse=synapse,
        weight=weight.astype(np.float64),
        in_shape=tuple(in_shape),
        out_shape=out_shape,
        bias=params.bias + offset * params.scale,
        du=params.du,
        dv=params.dv,
        vth=params.vth,
        neuron=params.kind,
        stride=stride,
        padding=padding,
        nodes=nodes,
    )


def _conv_foldable(pending, in_shape) -> bool:
    conv = pending[-1][1]
    if _pair(conv.dilation) != (1, 1) or int(conv.groups) != 1 or isinstance(conv.padding, str):
        return False
    if len(pending) == 1:
        return True
    pool = pending[0][1]
    k, s, p = _pair(pool.kernel_size), _pair(pool.stride), _pair(pool.padding)
    return k == s and p == (0, 0) and in_shape[1] % k[0] == 0 and in_shape[2] % k[1] == 0


def _fused_conv(pending) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
    conv = pending[-1][1]
    w = np.asarray(conv.weight, dtype=np.float64)
    stride, padding = _pair(conv.stride), _pair(conv.padding)
    if len(pending) == 1:
        return w, stride, padding
    pool = pending[0][1]
    k = _pair(pool.kernel_size)
    factor = 1.0 / (k[0] * k[1]) if isinstance(pool, nir.AvgPool2d) else 1.0
    fused = np.repeat(np.repeat(w, k[0], axis=2), k[1], axis=3) * factor
    return fused, (stride[0] * k[0], stride[1] * k[1]), (padding[0] * k[0], padding[1] * k[1])
