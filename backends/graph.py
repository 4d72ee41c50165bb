"""NIR graph -> :class:`~backends.network.Network`: one validation and one lowering for every backend.

Loihi-style hardware (and Lava's processes) connect spiking populations through synaptic stages
(Dense or Conv). Every NIR neuron node becomes a :class:`~backends.network.Population`; the linear
nodes between a source (the ``Input`` or a neuron node) and a neuron node are folded into one
:class:`~backends.network.Projection` per source and target:

- ``Conv2d`` alone (or ``Conv1d``, as a height-1 ``Conv2d``) stays a convolution, and
  ``SumPool2d/AvgPool2d -> Conv2d`` becomes one convolution with the pooling window folded into the
  kernel (kernel ``s*k``, stride ``s*stride``) when the pooled map divides evenly;
- anything else becomes a dense matrix, materialised by applying the linear nodes to the unit
  basis (``AvgPool2d -> Flatten -> Affine``: ``W = W_affine @ P_pool``; several paths from one
  source are summed), and the affine offsets (biases) go to the target's bias.

Any directed graph of these nodes is accepted: several projections into one population (skip
connections, merges), recurrent projections (a population to itself or to an earlier one), nested
NIR graphs (inlined). Neuron nodes map to Lava's LIF in its float convention
``u = u (1 - du) + a;  v = v (1 - dv) + u + bias;  spike v > vth;  v -> 0``, reading the NIR
equations with Euler steps of ``dt`` seconds (:func:`backends.timestep.resolve_dt`):

=========  ===============  ==============  ==============================  =================
node       du               dv              input scale (on the weights)    bias (to ``v``)
=========  ===============  ==============  ==============================  =================
LIF        1 (no current)   dt / tau        r dt / tau                      dt / tau v_leak
IF         1                0               r dt                            0
CubaLIF    dt / tau_syn     dt / tau_mem    w_in du dv r                    dv v_leak
=========  ===============  ==============  ==============================  =================

(NIR: ``tau dv/dt = v_leak - v + r I`` for LIF, ``dv/dt = r I`` for IF, and for CubaLIF
``tau_syn dI/dt = -I + w_in S``, ``tau_mem dv/dt = v_leak - v + r I``.) Per-neuron time
constants are kept per neuron (Lava runs one LIF process per group of equal constants);
per-neuron thresholds are normalised to one per population by scaling each neuron's weights and
bias (the dynamics are linear in ``v``, and both resets, to 0 or by subtracting the threshold,
scale with it). Which reset a file means NIR cannot say: the caller chooses
(:func:`backends.reset.resolve_reset`).

:func:`validate` runs before anything is built and raises :class:`GraphError` naming the node,
the field, the index and the value: unsupported nodes (with the nearest supported form),
non-finite values, ``tau <= 0``, thresholds ``<= 0``, ``v_reset != 0``, ``dt / tau > 1``, shapes
that disagree, nodes off the input-to-output paths and linear cycles without a neuron.
"""

from __future__ import annotations

import warnings

import nir
import numpy as np
import torch
import torch.nn.functional as F

from backends.network import BIAS, INPUT, Network, Population, Projection
from backends.reset import resolve_reset
from backends.timestep import resolve_dt

LINEAR_NODES = (
    nir.Affine,
    nir.Linear,
    nir.Scale,
    nir.Conv1d,
    nir.Conv2d,
    nir.SumPool2d,
    nir.AvgPool2d,
    nir.Flatten,
    nir.Delay,
)
#: neuron nodes that never spike: accepted as the network's readout (the node the Output reads) only
READOUT_NODES = (nir.LI, nir.CubaLI)
NEURON_NODES = (nir.LIF, nir.IF, nir.CubaLIF) + READOUT_NODES
NEAREST = {
    "I": "an integrator does not spike; the nearest form is an IF, or an LI with a very long tau as the readout",
    "Threshold": "a stateless threshold is not a Lava process; the nearest form is an IF with r dt = 1, "
    "which keeps its voltage between steps",
}
_MAX_DENSE = 200_000_000


class GraphError(ValueError):
    """A NIR graph that no backend accepts; the message names the node, field, index and value.

    A ``ValueError``, so callers that catch bad input catch it too.

    Example:
        >>> str(GraphError("NIR node 'lif': tau[2] = 0 must be > 0"))
        "NIR node 'lif': tau[2] = 0 must be > 0"
    """


def _pair(value) -> tuple[int, int]:
    arr = np.atleast_1d(np.asarray(value)).astype(int)
    return (int(arr[0]), int(arr[0])) if arr.size == 1 else (int(arr[0]), int(arr[1]))


# -- structure -------------------------------------------------------------------------------
def _flatten_nested(graph: nir.NIRGraph, prefix: str = "") -> tuple[dict, list]:
    """Inline nested graphs: nodes named ``outer.inner``; a subgraph's own Input/Output nodes become
    pass-through nodes (``None``) that :func:`_contract` removes."""
    nodes: dict[str, nir.NIRNode | None] = {}
    edges: list[tuple[str, str]] = []
    entry: dict[str, list[str]] = {}
    exit_: dict[str, list[str]] = {}
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            inner_nodes, inner_edges = _flatten_nested(node, full + ".")
            nodes.update(inner_nodes)
            edges.extend(inner_edges)
            entry[name] = [full + "." + k for k, n in node.nodes.items() if isinstance(n, nir.Input)]
            exit_[name] = [full + "." + k for k, n in node.nodes.items() if isinstance(n, nir.Output)]
            for k in entry[name] + exit_[name]:
                nodes[k] = None
        else:
            nodes[full] = node
    for src, dst in graph.edges:
        for a in _resolve(src, exit_, prefix):
            for b in _resolve(dst, entry, prefix):
                edges.append((a, b))
    return nodes, edges


def _resolve(name: str, ports: dict[str, list[str]], prefix: str) -> list[str]:
    """An edge endpoint: a nested graph (its Input/Output nodes), else the node itself (a plain node,
    or ``graph.node`` addressing an inner node directly)."""
    return ports.get(name, [prefix + name])


def _contract(nodes: dict, edges: list) -> tuple[dict, list]:
    """Remove pass-through nodes (``None``), joining each predecessor to each successor."""
    edges = list(dict.fromkeys(edges))
    for name in [k for k, v in nodes.items() if v is None]:
        preds = [a for a, b in edges if b == name]
        succs = [b for a, b in edges if a == name]
        edges = [(a, b) for a, b in edges if name not in (a, b)]
        edges += [(a, b) for a in preds for b in succs]
        del nodes[name]
    return nodes, list(dict.fromkeys(edges))


def _structure(graph) -> tuple[dict, list, str, str]:
    if not isinstance(graph, nir.NIRGraph):
        raise GraphError(f"expected a nir.NIRGraph, got {type(graph).__name__}")
    nodes, edges = _contract(*_flatten_nested(graph))
    for src, dst in edges:
        for end in (src, dst):
            if end not in nodes:
                raise GraphError(f"NIR edge ({src!r}, {dst!r}) names node {end!r}, which does not exist")
    inputs = [k for k, n in nodes.items() if isinstance(n, nir.Input)]
    outputs = [k for k, n in nodes.items() if isinstance(n, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise GraphError(f"NIR graph needs exactly one Input and one Output node, has {inputs} and {outputs}")
    for name, node in nodes.items():
        if isinstance(node, (nir.Input, nir.Output) + LINEAR_NODES + NEURON_NODES):
            continue
        kind = type(node).__name__
        hint = NEAREST.get(kind, "supported: " + ", ".join(t.__name__ for t in LINEAR_NODES + NEURON_NODES))
        raise GraphError(f"NIR node {name!r} of type {kind} cannot run on Lava's processes: {hint}")
    return nodes, edges, inputs[0], outputs[0]


# -- values ----------------------------------------------------------------------------------
def _finite(name: str, field: str, value) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(arr.reshape(-1)))
    if bad.size:
        i = int(bad[0])
        raw = np.asarray(value).reshape(-1)[i]
        raise GraphError(f"NIR node {name!r}: {field}[{i}] = {raw} is not finite")
    return arr


def _positive(name: str, field: str, arr: np.ndarray) -> None:
    flat = arr.reshape(-1)
    bad = np.flatnonzero(flat <= 0)
    if bad.size:
        i = int(bad[0])
        raise GraphError(f"NIR node {name!r}: {field}[{i}] = {flat[i]:g} must be > 0")


def _input_shape(name: str, node: nir.Input, consumers: list) -> tuple[int, ...]:
    """The Input's per-sample shape; a leading batch or time dimension of 1 before dense layers
    (rockpool 3.1 and sinabs 3.1 write ``[1, n]``) is dropped with a warning."""
    shape = node.input_type.get("input")
    if shape is None:
        raise GraphError(f"NIR Input node {name!r} has no shape")
    shape = tuple(int(s) for s in np.atleast_1d(shape))
    if not shape or any(s < 1 for s in shape):
        raise GraphError(f"NIR Input node {name!r}: shape {list(shape)} must have positive sizes")
    if (
        len(shape) >= 2
        and shape[0] == 1
        and consumers
        and all(isinstance(c, (nir.Affine, nir.Linear)) for c in consumers)
    ):
        warnings.warn(
            f"NIR Input node {name!r}: shape {list(shape)} keeps a leading batch/time dimension of 1 "
            f"(rockpool and sinabs exports do); read as {list(shape[1:])}",
            stacklevel=4,
        )
        return _input_shape(name, nir.Input(np.array(shape[1:])), consumers)
    return shape


def _linear_values(name: str, node) -> None:
    for field in ("weight", "bias", "scale"):
        if hasattr(node, field) and getattr(node, field) is not None:
            _finite(name, field, getattr(node, field))
    if isinstance(node, (nir.Conv1d, nir.Conv2d)) and isinstance(node.padding, str):
        raise GraphError(f"NIR node {name!r}: padding = {node.padding!r} (a string) is not supported; give sizes")


def _apply(node: nir.NIRNode, x: torch.Tensor) -> torch.Tensor:
    """Apply a linear NIR node to a batch ``[B, *shape]`` (float64, bias included)."""

    def t(a):
        return torch.as_tensor(np.asarray(a, dtype=np.float64))

    if isinstance(node, nir.Affine):
        return x.flatten(1) @ t(node.weight).T + t(node.bias)
    if isinstance(node, nir.Linear):
        return x.flatten(1) @ t(node.weight).T
    if isinstance(node, nir.Scale):
        return x * t(node.scale).reshape(x.shape[1:]) if t(node.scale).numel() > 1 else x * t(node.scale)
    if isinstance(node, nir.Conv2d):
        return F.conv2d(
            x,
            t(node.weight),
            t(node.bias),
            _pair(node.stride),
            _pair(node.padding),
            _pair(node.dilation),
            int(node.groups),
        )
    if isinstance(node, nir.Conv1d):
        w = t(node.weight)
        return F.conv1d(
            x,
            w,
            t(node.bias),
            int(np.atleast_1d(node.stride)[0]),
            int(np.atleast_1d(node.padding)[0]),
            int(np.atleast_1d(node.dilation)[0]),
            int(node.groups),
        )
    if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
        k = _pair(node.kernel_size)
        out = F.avg_pool2d(x, k, _pair(node.stride), _pair(node.padding), count_include_pad=True)
        return out * (k[0] * k[1]) if isinstance(node, nir.SumPool2d) else out
    if isinstance(node, nir.Delay):  # a shift in time: the weights see it as the identity
        return x
    if isinstance(node, nir.Flatten):
        if node.end_dim == -1:  # to the end: frameworks disagree whether start_dim counts the batch;
            return x.flatten(1)  # flattening one sample's whole shape is what either one means
        start = node.start_dim + 1 if node.start_dim >= 0 else node.start_dim
        return x.flatten(start, node.end_dim + 1 if node.end_dim >= 0 else node.end_dim)
    raise TypeError(type(node).__name__)


# -- neurons ---------------------------------------------------------------------------------
def _neuron(name: str, node, shape: tuple[int, ...], dt: float):
    """``(du, dv, vth, scale, bias)`` of a neuron node (see the module table), validated."""
    n = int(np.prod(shape))

    def arr(field: str) -> np.ndarray:
        a = _finite(name, field, getattr(node, field)).reshape(-1)
        if a.size == 1:
            return np.full(n, float(a[0]))
        if a.size != n:
            raise GraphError(
                f"NIR node {name!r}: {field} has {a.size} values for {n} neurons (input shape {list(shape)})"
            )
        return a

    v_reset = getattr(node, "v_reset", None)
    if v_reset is not None:
        reset = arr("v_reset")
        bad = np.flatnonzero(reset != 0)
        if bad.size:
            i = int(bad[0])
            raise GraphError(
                f"NIR node {name!r}: v_reset[{i}] = {reset[i]:g}; a spike sets v to 0 or subtracts the "
                "threshold (reset='zero' or 'subtract'): the nearest form is v_reset = 0"
            )
    readout = isinstance(node, READOUT_NODES)
    vth = np.ones(n) if readout else arr("v_threshold")  # a readout has none: its range is set in lower()
    _positive(name, "v_threshold", vth)
    if isinstance(node, nir.LIF):
        tau = np.asarray(node.tau, dtype=np.float64).reshape(-1)
        if np.all(np.isinf(tau)) and np.all(np.isinf(np.asarray(node.r, dtype=np.float64))):
            # snnTorch 1.0 writes beta = 1 (no leak) as tau = r = inf (tau = dt / (1 - beta),
            # r = tau / dt): the limit r dt / tau = 1 is an integrator that adds its input each step
            warnings.warn(
                f"NIR node {name!r}: tau = r = inf (snnTorch's beta = 1) read as IF with r dt = 1", stacklevel=3
            )
            return np.ones(n), np.zeros(n), *_threshold(vth, np.ones(n), np.zeros(n))
        tau = arr("tau")
        _positive(name, "tau", tau)
        k = dt / tau
        du, dv, scale, bias = np.ones(n), k, arr("r") * k, k * arr("v_leak")
        what = ("tau", k)
    elif isinstance(node, nir.IF):
        du, dv, scale, bias = np.ones(n), np.zeros(n), arr("r") * dt, np.zeros(n)
        what = None
    elif isinstance(node, nir.LI):
        tau = arr("tau")
        _positive(name, "tau", tau)
        k = dt / tau
        du, dv, scale, bias = np.ones(n), k, arr("r") * k, k * arr("v_leak")
        what = ("tau", k)
    else:  # CubaLIF, CubaLI
        tau_syn, tau_mem = arr("tau_syn"), arr("tau_mem")
        _positive(name, "tau_syn", tau_syn)
        _positive(name, "tau_mem", tau_mem)
        du, dv = dt / tau_syn, dt / tau_mem
        scale = arr("w_in") * du * dv * arr("r")
        bias = dv * arr("v_leak")
        bad = np.flatnonzero(du > 1)
        if bad.size:
            i = int(bad[0])
            raise GraphError(
                f"NIR node {name!r}: tau_syn[{i}] = {tau_syn[i]:g} s is below the time step dt = {dt:g} s "
                f"(du = dt / tau_syn = {du[i]:g} > 1); pass the time step the network was trained with "
                "(dt=... or framework=...; --dt / --framework)"
            )
        what = ("tau_mem", dv)
    if what is not None:
        field, k = what
        bad = np.flatnonzero(k > 1)
        if bad.size:
            i = int(bad[0])
            tau = dt / k[i]
            raise GraphError(
                f"NIR node {name!r}: {field}[{i}] = {tau:g} s is below the time step dt = {dt:g} s "
                f"(dt / {field} = {k[i]:g} > 1); pass the time step the network was trained with "
                "(dt=... or framework=...; --dt / --framework)"
            )
    return du, dv, *_threshold(vth, scale, bias)


def _threshold(vth: np.ndarray, scale: np.ndarray, bias: np.ndarray):
    """``(vth, scale, bias)`` with one threshold per population: each neuron's input scale and bias
    divided by its own threshold over the common one (the dynamics are linear in ``v``)."""
    common = float(vth[0]) if np.allclose(vth, vth[0]) else 1.0
    norm = common / vth
    return common, scale * norm, bias * norm


# -- lowering --------------------------------------------------------------------------------
def validate(graph: nir.NIRGraph, dt: float | None = None, reset: str | None = None) -> None:
    """Raise :class:`GraphError` unless every backend can run ``graph`` (it is lowered and dropped).

    Args:
        graph: the NIR graph.
        dt: seconds per step (see :func:`lower`).
        reset: ``"zero"`` or ``"subtract"`` (see :func:`lower`).

    Raises:
        GraphError: naming the node, field, index and value (see the module docstring).

    Example:
        >>> bad = nir.NIRGraph.from_list(
        ...     nir.Input(np.array([2])), nir.Linear(np.array([[1.0, np.nan]])),
        ...     nir.IF(r=np.ones(1), v_threshold=np.ones(1)), nir.Output(np.array([1])))
        >>> validate(bad, dt=1.0)
        Traceback (most recent call last):
        backends.graph.GraphError: NIR node 'linear': weight[1] = nan is not finite
    """
    lower(graph, dt, reset=reset)


def lower(
    graph: nir.NIRGraph, dt: float | None = None, framework: str | None = None, reset: str | None = None
) -> Network:
    """The :class:`~backends.network.Network` of a NIR graph (see the module docstring).

    Args:
        graph: a ``nir.NIRGraph`` with one ``Input`` (with a shape) and one ``Output`` fed by a
            neuron node, made of :data:`LINEAR_NODES`, :data:`NEURON_NODES` and nested graphs.
        dt: seconds per step for the NIR time constants; ``None``: the graph's
            ``metadata["dt"]``, else ``framework``'s convention, else 1 ms with a warning
            (:func:`backends.timestep.resolve_dt`).
        framework: the exporting framework, for its time-step convention when ``dt`` is not known
            and its default reset when ``reset`` is not given.
        reset: what a spike does to ``v`` in every population, ``"zero"`` or ``"subtract"``
            (``None``: ``framework``'s default with a warning, else ``"zero"``;
            :func:`backends.reset.resolve_reset`). NIR's ``v_reset`` must be 0 either way.

    Returns:
        the lowered network: populations in evaluation order, projections, the output population.

    Raises:
        GraphError: the graph cannot run on the backends (the message names node, field, index and value).

    Example:
        >>> graph = nir.NIRGraph.from_list(
        ...     nir.Input(np.array([3])), nir.Linear(np.ones((2, 3))),
        ...     nir.LIF(tau=np.full(2, 0.01), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2)),
        ...     nir.Output(np.array([2])))
        >>> net = lower(graph, dt=1e-3)
        >>> [p.name for p in net.populations], net.output, net.latency
        (['lif'], 'lif', 1)
        >>> net.projections[0].weight  # r dt / tau folded in
        array([[0.1, 0.1, 0.1],
               [0.1, 0.1, 0.1]])
    """
    from backends.frameworks import adapt  # frameworks imports GraphError from here

    graph = adapt(graph, framework, dt)  # an exporter's departures from NIR's equations (rockpool)
    nodes, edges, input_name, output_name = _structure(graph)
    dt = resolve_dt(graph, dt, framework)
    reset = resolve_reset(graph, reset, framework)
    preds = {k: [a for a, b in edges if b == k] for k in nodes}
    succs = {k: [b for a, b in edges if a == k] for k in nodes}
    for name, node in nodes.items():
        if isinstance(node, LINEAR_NODES):
            _linear_values(name, node)
    if preds[input_name]:
        raise GraphError(f"NIR Input node {input_name!r} has incoming edges from {preds[input_name]}")
    out_preds = preds[output_name]
    if len(out_preds) != 1 or not isinstance(nodes[out_preds[0]], NEURON_NODES):
        raise GraphError(
            f"NIR Output node {output_name!r} must be fed by exactly one neuron node, is fed by "
            f"{[f'{p} ({type(nodes[p]).__name__})' for p in out_preds]}: the output must be a neuron "
            "population (spiking, or an LI/CubaLI readout)"
        )
    shapes = _shapes(nodes, preds, succs, input_name)
    sources = {k for k, n in nodes.items() if isinstance(n, NEURON_NODES) or k == input_name}
    neurons = [k for k, n in nodes.items() if isinstance(n, NEURON_NODES)]
    for k in neurons:
        if k in (INPUT, BIAS):
            raise GraphError(
                f"NIR neuron node {k!r}: the names {INPUT!r} and {BIAS!r} are reserved for sources; rename it"
            )
    params = {k: _neuron(k, nodes[k], shapes[k], dt) for k in neurons}
    feeds = {k: _feeding(k, nodes, preds, sources) for k in neurons}
    _readouts_only_at_the_output(nodes, neurons, feeds, out_preds[0])
    order, back = _order(input_name, neurons, feeds)
    if isinstance(nodes[out_preds[0]], READOUT_NODES):  # it feeds nothing: last, never inside a recurrent group
        order = [k for k in order if k != out_preds[0]] + [out_preds[0]]
    used = set()
    for k in neurons:
        used |= feeds[k][1]
    _reachability(nodes, preds, input_name, output_name, set(order) | used)
    populations = []
    for k in order:
        du, dv, vth, _, bias = params[k]
        populations.append(Population(k, shapes[k], du, dv, vth, bias.copy(), type(nodes[k]).__name__, reset))
    pops = {p.name: p for p in populations}
    grouped = {p.name for p in populations if len(p.groups()) > 1}
    projections = []
    for k in order:
        srcs, linear = feeds[k]
        scale = params[k][3]
        projs, offset = _projections(k, srcs, linear, nodes, preds, shapes, input_name, scale, grouped, dt)
        if np.any(offset != 0) and np.any(pops[k].du < 1):
            # a constant input current decays with the current (du < 1): not a bias on v, but a
            # projection from a source that spikes every step
            bias_nodes = sorted(n for n in linear if isinstance(nodes[n], (nir.Affine, nir.Conv1d, nir.Conv2d)))
            projs.append(Projection(BIAS, k, "dense", offset[:, None], (1,), shapes[k], nodes=bias_nodes))
        else:
            pops[k].bias = pops[k].bias + offset
        for proj in projs:
            proj.recurrent = (proj.source, k) in back
            projections.append(proj)
    network = Network(shapes[input_name], populations, projections, out_preds[0], dt)
    if isinstance(nodes[out_preds[0]], READOUT_NODES):
        readout = pops[out_preds[0]]
        readout.vth = _readout_range(readout, network.incoming(readout.name))
    return network


def _readouts_only_at_the_output(nodes, neurons, feeds, output) -> None:
    """A readout (LI, CubaLI) never spikes: it can only be the node the Output reads."""
    for k in neurons:
        for src in feeds[k][0]:
            if isinstance(nodes.get(src), READOUT_NODES):
                raise GraphError(
                    f"NIR node {src!r} ({type(nodes[src]).__name__}) feeds {k!r}: a leaky integrator does not "
                    "spike, so it can only be the network's readout (the node the Output reads); the nearest "
                    "form inside a network is a LIF/CubaLIF"
                )
    for k in neurons:
        if isinstance(nodes[k], READOUT_NODES) and k != output:
            raise GraphError(
                f"NIR node {k!r} ({type(nodes[k]).__name__}) is not read by the Output node: a leaky "
                "integrator can only be the network's readout"
            )


def _readout_range(pop: Population, incoming: list[Projection]) -> float:
    """The membrane range a readout is scaled to on fixed-point hardware (it stands in for the
    threshold the quantization fits): the largest steady state its input can drive, every input
    spiking at every step, ``sum |w| + |bias|`` over ``max(dv, 1/64)`` (and ``max(du, 1/64)``
    for a slow current); the profile's headroom comes on top. 1 when nothing drives it."""
    drive = np.abs(pop.bias).copy()
    for proj in incoming:
        w = np.abs(proj.weight)
        if proj.synapse == "dense":
            drive += w.sum(1)
        else:  # conv: the largest sum of one output channel's kernel, for every neuron of the channel
            per_channel = w.reshape(w.shape[0], -1).sum(1)
            drive += np.repeat(per_channel, int(np.prod(pop.shape[1:])))
    rng = float((drive / np.maximum(pop.dv, 1 / 64) / np.maximum(np.where(pop.du < 1, pop.du, 1.0), 1 / 64)).max())
    return rng if rng > 0 else 1.0


def _shapes(nodes, preds, succs, input_name) -> dict[str, tuple[int, ...]]:
    """Per-sample output shape of every node, propagated from the input (neurons keep their input's)."""
    shapes = {input_name: _input_shape(input_name, nodes[input_name], [nodes[k] for k in succs[input_name]])}
    pending = [k for k in nodes if k != input_name]
    progress = True
    while pending and progress:
        progress = False
        for name in list(pending):
            known = [shapes[p] for p in preds[name] if p in shapes]
            if not known:
                continue
            node = nodes[name]
            if isinstance(node, LINEAR_NODES):
                try:
                    with torch.no_grad():
                        out = _apply(node, torch.zeros((1, *known[0]), dtype=torch.float64))
                except (RuntimeError, ValueError, IndexError) as err:
                    raise GraphError(
                        f"NIR node {name!r} ({type(node).__name__}) cannot take input of shape {list(known[0])}: {err}"
                    ) from None
                shapes[name] = tuple(out.shape[1:])
            else:
                shapes[name] = known[0]
            pending.remove(name)
            progress = True
    for name, ps in preds.items():
        if name not in shapes:
            raise GraphError(f"NIR node {name!r} is not reachable from the Input node")
        got = {shapes[p] for p in ps}
        if len(got) > 1:
            detail = ", ".join(f"{p}: {list(shapes[p])}" for p in ps)
            raise GraphError(f"NIR node {name!r} sums inputs of different shapes ({detail})")
    return shapes


def _feeding(target, nodes, preds, sources) -> tuple[list[str], set[str]]:
    """The sources (input or neuron nodes) and linear nodes on the paths into neuron ``target``."""
    srcs: list[str] = []
    linear: set[str] = set()
    stack = [(p, (target,)) for p in preds[target]]
    while stack:
        name, path = stack.pop()
        if name in sources:
            if name not in srcs:
                srcs.append(name)
            continue
        if name in path:
            raise GraphError(f"NIR nodes {list(reversed(path))} form a cycle through linear nodes only (no neuron)")
        if isinstance(nodes[name], nir.Output):
            raise GraphError(f"NIR Output node {name!r} has outgoing edges")
        linear.add(name)
        stack.extend((p, path + (name,)) for p in preds[name])
    return srcs, linear


def _order(input_name, neurons, feeds) -> tuple[list[str], set[tuple[str, str]]]:
    """Populations in depth-first order from the input; the (source, target) pairs that go back."""
    targets = {k: [] for k in [input_name, *neurons]}
    for k in neurons:
        for s in feeds[k][0]:
            targets[s].append(k)
    order: list[str] = []
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack = [(input_name, iter(targets[input_name]))]
    state[input_name] = 1
    while stack:
        name, it = stack[-1]
        nxt = next(it, None)
        if nxt is None:
            state[name] = 2
            order.append(name)
            stack.pop()
            continue
        if state.get(nxt) == 1:
            back.add((name, nxt))
        elif nxt not in state:
            state[nxt] = 1
            stack.append((nxt, iter(targets[nxt])))
    order = [k for k in reversed(order) if k != input_name]
    missing = [k for k in neurons if k not in state]
    if missing:
        raise GraphError(f"NIR neuron node {missing[0]!r} is not reachable from the Input node")
    pos = {k: i for i, k in enumerate(order)}
    for k in neurons:  # a self-loop, and anything pointing back in the final order, is recurrent
        for s in feeds[k][0]:
            if s != input_name and pos[s] >= pos[k]:
                back.add((s, k))
    return order, back


def _reachability(nodes, preds, input_name, output_name, used) -> None:
    """Every node lies on a path from the input and on one to the output (else it is dropped silently)."""
    for name in nodes:
        if name in (input_name, output_name):
            continue
        if name not in used:
            raise GraphError(f"NIR node {name!r} ({type(nodes[name]).__name__}) feeds no neuron node")
    seen, stack = {output_name}, [output_name]
    while stack:
        for p in preds[stack.pop()]:
            if p not in seen:
                seen.add(p)
                stack.append(p)
    for name in nodes:
        if name not in seen:
            warnings.warn(f"NIR node {name!r} does not reach the Output node; it runs but is not read", stacklevel=3)


def _evaluate(
    target, linear, nodes, preds, values: dict[str, torch.Tensor], batch: int, shapes, delay: tuple | None = None
) -> torch.Tensor:
    """The summed input of ``target`` given each source's value ``[batch, *shape]`` (zeros if absent);
    with ``delay = (steps, k)`` only what passes a Delay node's elements of ``k`` steps."""
    memo: dict[str, torch.Tensor] = {}

    def value(name: str) -> torch.Tensor:
        if name in memo:
            return memo[name]
        if name not in linear:  # a source
            out = values.get(name)
            if out is None:
                out = torch.zeros((batch, *shapes[name]), dtype=torch.float64)
        else:
            out = _apply(nodes[name], _sum(preds[name]))
            if delay is not None and isinstance(nodes[name], nir.Delay):
                out = out * torch.as_tensor(delay[0][name] == delay[1], dtype=torch.float64).reshape(out.shape[1:])
        memo[name] = out
        return out

    def _sum(names):
        total = None
        for p in names:
            v = value(p)
            total = v if total is None else total + v
        return total

    with torch.no_grad():
        return _sum(preds[target])


def _projections(target, srcs, linear, nodes, preds, shapes, input_name, scale, grouped, dt):
    """One projection per source of ``target`` (conv where the path allows), and the offset to its bias."""
    shape = shapes[target]
    offset = _evaluate(target, linear, nodes, preds, {}, 1, shapes).reshape(-1).numpy()
    steps = _delay_steps(target, linear, nodes, dt)
    projs = []
    for src in srcs:
        src_name = INPUT if src == input_name else src
        in_shape = shapes[src]
        chain = _conv_chain(src, target, linear, nodes, preds)
        foldable = chain is not None and target not in grouped and src not in grouped and not steps
        if foldable and _conv_foldable(chain, in_shape):
            weight, stride, padding = _fused_conv(chain)
            s = scale.reshape(shape[0], -1)  # per channel: (C, H*W), or Conv1d's (C, L)
            if np.allclose(s, s[:, :1]):
                projs.append(
                    Projection(
                        src_name,
                        target,
                        "conv",
                        weight * s[:, 0][:, None, None, None],
                        in_shape,
                        shape,
                        stride,
                        padding,
                        [n for n, _ in chain],
                    )
                )
                continue
        n_in, n_out = int(np.prod(in_shape)), int(np.prod(shape))
        if (
            n_in * n_out > _MAX_DENSE or n_in * n_in > _MAX_DENSE
        ):  # the matrix, and the eye(n_in) basis it is built from
            raise GraphError(
                f"NIR nodes {sorted(linear)} between {src!r} and {target!r}: a dense {n_out}x{n_in} matrix "
                f"(built from a {n_in}x{n_in} identity) is too large: more than {_MAX_DENSE} entries"
            )
        basis = torch.eye(n_in, dtype=torch.float64).reshape(n_in, *in_shape)
        cols = _evaluate(target, linear, nodes, preds, {src: basis}, n_in, shapes).reshape(n_in, -1).numpy()
        matrix = (cols - offset).T
        nodes_on = sorted(n for n in linear if _reaches(src, n, preds, linear))
        delays = _synapse_delays(src, target, linear, nodes, preds, shapes, basis, offset, steps, matrix)
        proj = Projection(src_name, target, "dense", matrix * scale[:, None], in_shape, shape, nodes=nodes_on)
        proj.delays = delays
        projs.append(proj)
    return projs, offset * scale


def _delay_steps(target, linear, nodes, dt) -> dict[str, np.ndarray]:
    """``{Delay node: int64 steps per element}`` on the paths into ``target`` (at most one node)."""
    found = sorted(n for n in linear if isinstance(nodes[n], nir.Delay))
    if len(found) > 1:
        raise GraphError(
            f"NIR Delay nodes {found} all feed {target!r}: one Delay node per target population is lowered "
            "(a Loihi synapse has one delay)"
        )
    steps = {}
    for name in found:
        delay = _finite(name, "delay", nodes[name].delay).reshape(-1)
        k = delay / dt
        whole = np.rint(k)
        bad = np.flatnonzero((np.abs(k - whole) > 1e-6 * np.maximum(1.0, np.abs(k))) | (whole < 0))
        if bad.size:
            i = int(bad[0])
            raise GraphError(
                f"NIR node {name!r}: delay[{i}] = {delay[i]:g} s is not a whole number of steps >= 0 of dt = "
                f"{dt:g} s ({k[i]:g} steps); pass the time step the network was trained with "
                "(dt=... or framework=...; --dt / --framework)"
            )
        steps[name] = whole.astype(np.int64)
    return steps


def _synapse_delays(src, target, linear, nodes, preds, shapes, basis, offset, steps, matrix):
    """Extra steps per synapse ``[n_out, n_in]`` (int64) from the Delay node between ``src`` and
    ``target``, or ``None`` without one: each delay value's share of the matrix, which must not
    overlap (one delay a synapse)."""
    on_path = [n for n in steps if _reaches(src, n, preds, linear)]
    if not on_path:
        return None
    (name,) = on_path
    delays = np.zeros(matrix.shape, dtype=np.int64)
    claimed = np.zeros(matrix.shape, dtype=bool)
    n_in = basis.shape[0]
    for k in np.unique(steps[name]):
        part = _evaluate(target, linear, nodes, preds, {src: basis}, n_in, shapes, delay=(steps, k))
        part = (part.reshape(n_in, -1).numpy() - offset).T
        mine = part != 0
        if np.any(mine & claimed):
            raise GraphError(
                f"NIR node {name!r}: its delays between {src!r} and {target!r} do not reduce to one delay per "
                "synapse (put the Delay node next to a neuron node, before or after the weights)"
            )
        delays[mine] = k
        claimed |= mine
    return delays if delays.any() else None


def _reaches(src, node, preds, linear) -> bool:
    """Whether ``src`` reaches ``node`` through linear nodes only."""
    seen, stack = set(), [node]
    while stack:
        k = stack.pop()
        if k == src:
            return True
        for p in preds[k]:
            if p not in seen and (p == src or p in linear):
                seen.add(p)
                stack.append(p)
    return False


def _conv_chain(src, target, linear, nodes, preds):
    """``[(name, node), ...]`` when the only path src -> target is ``[Conv]`` or ``[Pool, Conv2d]``."""
    chain = []
    name = target
    while True:
        ps = preds[name]
        if name != target and len(ps) != 1:
            return None
        if name == target:
            mine = [p for p in ps if p == src or (p in linear and _reaches(src, p, preds, linear))]
            if len(mine) != 1:
                return None
            nxt = mine[0]
        else:
            nxt = ps[0]
        if nxt == src:
            break
        if nxt not in linear:
            return None
        chain.append((nxt, nodes[nxt]))
        name = nxt
    chain.reverse()
    kinds = [type(n) for _, n in chain]
    if kinds in ([nir.Conv2d], [nir.Conv1d]):
        return chain
    if len(kinds) == 2 and kinds[0] in (nir.SumPool2d, nir.AvgPool2d) and kinds[1] is nir.Conv2d:
        return chain
    return None


def _conv_foldable(chain, in_shape) -> bool:
    conv = chain[-1][1]
    if isinstance(conv, nir.Conv1d):
        return len(in_shape) == 2 and int(np.atleast_1d(conv.dilation)[0]) == 1 and int(conv.groups) == 1
    if len(in_shape) != 3 or _pair(conv.dilation) != (1, 1) or int(conv.groups) != 1:
        return False
    if len(chain) == 1:
        return True
    pool = chain[0][1]
    k, s, p = _pair(pool.kernel_size), _pair(pool.stride), _pair(pool.padding)
    return k == s and p == (0, 0) and in_shape[1] % k[0] == 0 and in_shape[2] % k[1] == 0


def _fused_conv(chain) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
    conv = chain[-1][1]
    w = np.asarray(conv.weight, dtype=np.float64)
    if isinstance(conv, nir.Conv1d):  # [Co, Ci, k] -> height-1 [Co, Ci, 1, k] over (C, 1, L)
        return w[:, :, None, :], (1, int(np.atleast_1d(conv.stride)[0])), (0, int(np.atleast_1d(conv.padding)[0]))
    stride, padding = _pair(conv.stride), _pair(conv.padding)
    if len(chain) == 1:
        return w, stride, padding
    pool = chain[0][1]
    k = _pair(pool.kernel_size)
    factor = 1.0 / (k[0] * k[1]) if isinstance(pool, nir.AvgPool2d) else 1.0
    fused = np.repeat(np.repeat(w, k[0], axis=2), k[1], axis=3) * factor
    return fused, (stride[0] * k[0], stride[1] * k[1]), (padding[0] * k[0], padding[1] * k[1])
