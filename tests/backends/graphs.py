"""NIR graphs built by hand for the backend tests (never through neuroattack)."""

import nir
import numpy as np
import torch

DT = 1e-3


def lif(n, tau=0.01, v_leak=0.0, vth=1.0, r=1.0):
    return nir.LIF(
        tau=np.broadcast_to(np.asarray(tau, float), (n,)).copy(),
        r=np.full(n, r),
        v_leak=np.broadcast_to(np.asarray(v_leak, float), (n,)).copy(),
        v_threshold=np.full(n, vth),
        v_reset=np.zeros(n),
    )


def cubalif(n, tau_syn=0.004, tau_mem=0.01, vth=1.0, v_leak=0.0):
    return nir.CubaLIF(
        tau_syn=np.full(n, tau_syn),
        tau_mem=np.full(n, tau_mem),
        r=np.ones(n),
        v_leak=np.full(n, v_leak),
        v_threshold=np.full(n, vth),
        v_reset=np.zeros(n),
        w_in=np.ones(n),
    )


def li(n, tau=0.005, v_leak=0.0, r=1.0):
    """A leaky-integrator readout (never spikes)."""
    return nir.LI(tau=np.full(n, tau), r=np.full(n, r), v_leak=np.full(n, v_leak))


def cubali(n, tau_syn=0.003, tau_mem=0.006, v_leak=0.0):
    """A current-based leaky-integrator readout (never spikes)."""
    return nir.CubaLI(
        tau_syn=np.full(n, tau_syn),
        tau_mem=np.full(n, tau_mem),
        r=np.ones(n),
        v_leak=np.full(n, v_leak),
        w_in=np.ones(n),
    )


def with_readout(g: nir.NIRGraph, readout) -> nir.NIRGraph:
    """``g`` with its output population replaced by ``readout(n)`` (an LI or CubaLI node)."""
    (last,) = [a for a, b in g.edges if b == "output"]
    nodes = dict(g.nodes)
    nodes[last] = readout(len(np.asarray(nodes[last].v_threshold).reshape(-1)))
    return graph(nodes, list(g.edges), dt=(g.metadata or {}).get("dt", DT))


def delayed_recurrent(n_in=6, n_hidden=8, n_out=4, seed=0, scale=10.0, rec_scale=6.0):
    """:func:`recurrent` with NIR Delay nodes: 1-3 steps on the recurrent path (per hidden neuron, the
    source side), 0-2 steps into ``out`` (per output neuron, the target side)."""
    g = recurrent(n_in, n_hidden, n_out, seed, lambda n: lif(n, tau=0.002), scale, rec_scale)
    nodes = dict(g.nodes)
    nodes["rec_delay"] = nir.Delay(DT * (1 + np.arange(n_hidden) % 3))
    nodes["out_delay"] = nir.Delay(DT * (np.arange(n_out) % 3))
    edges = [e for e in g.edges if e not in (("hidden", "rec"), ("fc_out", "out"))]
    edges += [("hidden", "rec_delay"), ("rec_delay", "rec"), ("fc_out", "out_delay"), ("out_delay", "out")]
    return graph(nodes, edges)


def if_(n, vth=1.0):
    return nir.IF(r=np.full(n, 1 / DT), v_threshold=np.full(n, vth), v_reset=np.zeros(n))


def weights(rng, n_out, n_in, scale):
    return rng.normal(0, scale / np.sqrt(n_in), (n_out, n_in))


def graph(nodes: dict, edges: list, dt=DT) -> nir.NIRGraph:
    g = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    g.metadata = {"dt": dt}
    return g


def with_reset(g: nir.NIRGraph, reset: str) -> nir.NIRGraph:
    """``g`` saying in its metadata which reset its neurons use (``"zero"`` or ``"subtract"``)."""
    g.metadata = {**(g.metadata or {}), "reset": reset}
    return g


def chain(sizes, neuron, seed=0, scale=3.0, bias=0.0):
    """Input -> (Affine -> neuron) x L -> Output, with Affine biases ``bias``."""
    rng = np.random.default_rng(seed)
    nodes = {"input": nir.Input(np.array([sizes[0]]))}
    edges, prev = [], "input"
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        nodes[f"fc{i}"] = nir.Affine(weights(rng, b, a, scale), np.full(b, bias))
        nodes[f"n{i}"] = neuron(b)
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"n{i}")]
        prev = f"n{i}"
    nodes["output"] = nir.Output(np.array([sizes[-1]]))
    edges.append((prev, "output"))
    return graph(nodes, edges)


def recurrent(n_in=6, n_hidden=8, n_out=4, seed=0, neuron=lif, scale=3.0, rec_scale=2.0):
    """Input -> fc -> hidden (with a recurrent Linear onto itself) -> fc -> out."""
    rng = np.random.default_rng(seed)
    nodes = {
        "input": nir.Input(np.array([n_in])),
        "fc_in": nir.Linear(weights(rng, n_hidden, n_in, scale)),
        "hidden": neuron(n_hidden),
        "rec": nir.Linear(weights(rng, n_hidden, n_hidden, rec_scale)),
        "fc_out": nir.Linear(weights(rng, n_out, n_hidden, scale)),
        "out": neuron(n_out),
        "output": nir.Output(np.array([n_out])),
    }
    edges = [
        ("input", "fc_in"),
        ("fc_in", "hidden"),
        ("hidden", "rec"),
        ("rec", "hidden"),
        ("hidden", "fc_out"),
        ("fc_out", "out"),
        ("out", "output"),
    ]
    return graph(nodes, edges)


def skip(n_in=6, n_hidden=8, n_out=4, seed=0, neuron=lif, scale=3.0):
    """Input -> a -> b -> out, and a -> out directly (a skip connection summed into ``out``)."""
    rng = np.random.default_rng(seed)
    nodes = {
        "input": nir.Input(np.array([n_in])),
        "fa": nir.Linear(weights(rng, n_hidden, n_in, scale)),
        "a": neuron(n_hidden),
        "fb": nir.Linear(weights(rng, n_hidden, n_hidden, scale)),
        "b": neuron(n_hidden),
        "fo": nir.Linear(weights(rng, n_out, n_hidden, scale)),
        "fs": nir.Linear(weights(rng, n_out, n_hidden, scale)),
        "out": neuron(n_out),
        "output": nir.Output(np.array([n_out])),
    }
    edges = [
        ("input", "fa"),
        ("fa", "a"),
        ("a", "fb"),
        ("fb", "b"),
        ("b", "fo"),
        ("fo", "out"),
        ("a", "fs"),
        ("fs", "out"),
        ("out", "output"),
    ]
    return graph(nodes, edges)


def conv(seed=0, scale=4.0, pool="avg"):
    """(2, 8, 8) -> Conv2d(4, 3x3, pad 1) -> LIF -> Pool 2 -> Conv2d(4, 3x3) -> LIF -> Flatten -> Affine -> LIF."""
    rng = np.random.default_rng(seed)
    pooling = nir.AvgPool2d if pool == "avg" else nir.SumPool2d
    nodes = {
        "input": nir.Input(np.array([2, 8, 8])),
        "c1": nir.Conv2d((8, 8), rng.normal(0, scale / 4, (4, 2, 3, 3)), 1, 1, 1, 1, np.zeros(4)),
        "n1": lif(4 * 64, tau=0.002),
        "p1": pooling(np.array([2, 2]), np.array([2, 2]), np.array([0, 0])),
        "c2": nir.Conv2d((4, 4), rng.normal(0, scale / 4, (4, 4, 3, 3)), 1, 0, 1, 1, np.zeros(4)),
        "n2": lif(4 * 2 * 2, tau=0.002),
        "flat": nir.Flatten({"input": np.array([4, 2, 2])}, 0, -1),
        "fc": nir.Affine(weights(rng, 5, 16, scale), np.zeros(5)),
        "n3": lif(5, tau=0.002),
        "output": nir.Output(np.array([5])),
    }
    edges = [
        ("input", "c1"),
        ("c1", "n1"),
        ("n1", "p1"),
        ("p1", "c2"),
        ("c2", "n2"),
        ("n2", "flat"),
        ("flat", "fc"),
        ("fc", "n3"),
        ("n3", "output"),
    ]
    return graph(nodes, edges)


def spikes(shape, batch=4, steps=8, density=0.3, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(batch, steps, *shape, generator=gen) < density).float()
