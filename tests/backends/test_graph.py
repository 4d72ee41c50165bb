import warnings

import nir
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import backends
from backends.graph import GraphError, lower
from backends.network import INPUT
from tests.backends import graphs as G


def _lif(shape, tau=2e-3, v_reset=None):
    ones = np.ones(shape, np.float32)
    return nir.LIF(tau=ones * tau, r=ones, v_leak=ones * 0, v_threshold=ones, v_reset=v_reset)


def _graph(nodes: dict, shape, out=1):
    names = ["input", *nodes, "output"]
    all_nodes = {"input": nir.Input(np.array(shape)), **nodes, "output": nir.Output(np.array([out]))}
    g = nir.NIRGraph(all_nodes, list(zip(names[:-1], names[1:])), type_check=False)
    g.metadata = {"dt": 1e-3}
    return g


def test_pool_then_conv_folds_into_one_strided_conv():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 2, 3, 3)).astype(np.float32)
    g = _graph(
        {
            "pool": nir.AvgPool2d(np.array([2, 2]), np.array([2, 2]), np.array([0, 0])),
            "conv": nir.Conv2d((4, 4), w, 1, 1, 1, 1, np.zeros(3, np.float32)),
            "lif": _lif((3 * 4 * 4,), tau=1e-3),  # dt/tau = 1: the weights are taken as they are
        },
        (2, 8, 8),
    )
    (proj,) = lower(g).projections
    assert proj.synapse == "conv" and proj.stride == (2, 2) and proj.weight.shape == (3, 2, 6, 6)
    x = torch.rand(4, 2, 8, 8, dtype=torch.float64)
    expected = F.conv2d(F.avg_pool2d(x, 2), torch.as_tensor(w, dtype=torch.float64), padding=1)
    got = F.conv2d(x, torch.as_tensor(proj.weight), stride=proj.stride, padding=proj.padding)
    assert torch.allclose(got, expected)


def test_pool_flatten_affine_folds_into_a_dense_matrix():
    rng = np.random.default_rng(1)
    fc = rng.normal(size=(10, 4 * 3 * 3))
    g = _graph(
        {
            "pool": nir.AvgPool2d(np.array([2, 2]), np.array([2, 2]), np.array([0, 0])),
            "flat": nir.Flatten({"input": np.array([4, 3, 3])}, 0, -1),
            "fc": nir.Affine(fc, np.arange(10.0)),
            "lif": _lif((10,), tau=1e-3),
        },
        (4, 6, 6),
        out=10,
    )
    net = lower(g)
    (proj,) = net.projections
    assert proj.synapse == "dense" and proj.weight.shape == (10, 4 * 6 * 6) and proj.nodes == ["fc", "flat", "pool"]
    s = (torch.rand(3, 4, 6, 6) < 0.5).double()
    expected = F.avg_pool2d(s, 2).flatten(1) @ torch.as_tensor(fc).T
    assert torch.allclose(s.flatten(1) @ torch.as_tensor(proj.weight).T, expected)
    assert np.allclose(net.populations[0].bias, np.arange(10.0))  # the Affine bias goes to v


def test_lif_if_and_cubalif_parameters_follow_the_nir_equations():
    dt = 1e-3
    net = lower(G.chain([3, 4], lambda n: G.lif(n, tau=0.004, v_leak=0.5, r=2.0)), dt=dt)
    pop, proj = net.populations[0], net.projections[0]
    assert np.allclose(pop.du, 1) and np.allclose(pop.dv, 0.25) and np.allclose(pop.bias[0] - 0.25 * 0.5, 0, atol=1e-12)
    g = G.chain([3, 4], lambda n: G.lif(n, tau=0.004, v_leak=0.5, r=2.0))
    raw = np.asarray(g.nodes["fc0"].weight)
    assert np.allclose(proj.weight, raw * 2.0 * 0.25)  # r dt / tau
    net = lower(G.chain([3, 4], G.if_), dt=dt)  # IF: dv/dt = r I with r = 1 / dt: the weights as they are
    assert np.allclose(net.projections[0].weight, np.asarray(G.chain([3, 4], G.if_).nodes["fc0"].weight))
    net = lower(G.chain([3, 4], lambda n: G.cubalif(n, tau_syn=0.002, tau_mem=0.004)), dt=dt)
    assert np.allclose(net.populations[0].du, 0.5) and np.allclose(net.populations[0].dv, 0.25)


@pytest.mark.parametrize(
    "node, message",
    [
        (nir.Threshold(np.ones(2)), "of type Threshold cannot run on Lava's processes: .*nearest form is an IF"),
        (nir.I(np.ones(2)), "of type I cannot run on Lava's processes: .*nearest form is an IF"),
        (nir.LI(np.ones(2), np.ones(2), np.zeros(2)), r"\(LI\) feeds 'lif': .*the nearest form inside a network is"),
    ],
)
def test_unsupported_nodes_are_named_with_the_nearest_form(node, message):
    g = _graph({"fc": nir.Affine(np.ones((2, 3)), np.zeros(2)), "bad": node, "lif": _lif((2,))}, (3,), out=2)
    with pytest.raises(GraphError, match=rf"NIR node 'bad' {message}"):
        lower(g, dt=1e-3)


def test_merging_paths_from_one_source_sum_into_one_projection():
    nodes = {
        "input": nir.Input(np.array([3])),
        "a": nir.Affine(np.ones((2, 3)), np.full(2, 0.5)),
        "b": nir.Affine(2 * np.ones((2, 3)), np.full(2, 0.25)),
        "lif": _lif((2,), tau=1e-3),
        "output": nir.Output(np.array([2])),
    }
    edges = [("input", "a"), ("input", "b"), ("a", "lif"), ("b", "lif"), ("lif", "output")]
    net = lower(nir.NIRGraph(nodes, edges, type_check=False), dt=1e-3)
    (proj,) = net.projections
    assert np.allclose(proj.weight, 3.0) and np.allclose(net.populations[0].bias, 0.75)


def test_skip_and_recurrent_projections():
    net = lower(G.skip())
    assert sorted(p.name for p in net.incoming("out")) == ["a->out", "b->out"]
    assert net.latency == 3 and not net.recurrent and net.components() == [["a"], ["b"], ["out"]]
    net = lower(G.recurrent())
    rec = [p for p in net.projections if p.recurrent]
    assert [p.name for p in rec] == ["hidden->hidden"]
    assert net.components() == [["hidden"], ["out"]] and net.self_connected(["hidden"])
    assert net.latency == 2


def test_feedback_to_an_earlier_population_ties_the_populations_between():
    rng = np.random.default_rng(0)
    nodes = {
        "input": nir.Input(np.array([3])),
        "f1": nir.Linear(rng.normal(size=(4, 3))),
        "a": _lif((4,), tau=1e-2),
        "f2": nir.Linear(rng.normal(size=(4, 4))),
        "b": _lif((4,), tau=1e-2),
        "back": nir.Linear(rng.normal(size=(4, 4))),
        "f3": nir.Linear(rng.normal(size=(2, 4))),
        "c": _lif((2,), tau=1e-2),
        "output": nir.Output(np.array([2])),
    }
    edges = [
        ("input", "f1"),
        ("f1", "a"),
        ("a", "f2"),
        ("f2", "b"),
        ("b", "back"),
        ("back", "a"),
        ("b", "f3"),
        ("f3", "c"),
        ("c", "output"),
    ]
    net = lower(nir.NIRGraph(nodes, edges, type_check=False), dt=1e-3)
    assert [p.name for p in net.projections if p.recurrent] == ["b->a"]
    assert net.components() == [["a", "b"], ["c"]]


def test_per_neuron_time_constants_split_into_groups_and_force_dense():
    lif = _lif((4,))
    lif.tau = np.array([2e-3, 4e-3, 2e-3, 4e-3])
    net = lower(_graph({"fc": nir.Affine(np.ones((4, 3)), np.zeros(4)), "lif": lif}, (3,), out=4))
    pop = net.populations[0]
    assert [list(g) for g in pop.groups()] == [[0, 2], [1, 3]]
    assert np.allclose(pop.dv, [0.5, 0.25, 0.5, 0.25])


def test_nested_graphs_are_inlined():
    inner = nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([2])),
            "lif": _lif((2,), tau=1e-2),
            "rec": nir.Linear(np.eye(2)),
            "output": nir.Output(np.array([2])),
        },
        edges=[("input", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")],
        type_check=False,
    )
    outer = nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([3])),
            "fc": nir.Linear(np.ones((2, 3))),
            "rnn": inner,
            "output": nir.Output(np.array([2])),
        },
        edges=[("input", "fc"), ("fc", "rnn"), ("rnn", "output")],
        type_check=False,
    )
    net = lower(outer, dt=1e-3)
    assert [p.name for p in net.populations] == ["rnn.lif"]
    assert sorted(p.name for p in net.projections) == ["input->rnn.lif", "rnn.lif->rnn.lif"]


@pytest.mark.parametrize(
    "mutate, message",
    [
        (
            lambda g: setattr(g.nodes["fc0"], "weight", np.where(np.eye(4, 3) > 0, np.nan, 1.0)),
            r"NIR node 'fc0': weight\[0\] = nan is not finite",
        ),
        (lambda g: g.nodes["n0"].tau.__setitem__(2, 0.0), r"NIR node 'n0': tau\[2\] = 0 must be > 0"),
        (lambda g: g.nodes["n0"].v_threshold.__setitem__(1, 0.0), r"v_threshold\[1\] = 0 must be > 0"),
        (lambda g: g.nodes["n0"].v_leak.__setitem__(3, np.inf), r"v_leak\[3\] = inf is not finite"),
        (lambda g: g.nodes["n0"].v_reset.__setitem__(0, 0.5), r"v_reset\[0\] = 0.5; a spike sets v to 0"),
        (lambda g: g.nodes["n0"].tau.__setitem__(1, 1e-4), r"tau\[1\] = 0.0001 s is below the time step dt = 0.001 s"),
        (lambda g: g.metadata.__setitem__("dt", 0.0), r"time step dt from the graph's metadata = 0.0 must be"),
        (lambda g: g.edges.append(("fc0", "output")), r"Output node 'output' must be fed by exactly one neuron"),
    ],
)
@pytest.mark.parametrize("kind", ["emulator", "reference", "lava"])
def test_one_validation_refuses_alike_on_every_backend(mutate, message, kind):
    g = G.chain([3, 4], G.lif)
    mutate(g)
    with pytest.raises(ValueError, match=message):
        backends.load(g, "float", kind)  # nothing of Lava starts: validation comes first


def test_dt_explicit_then_metadata_then_framework_then_guessed():
    g = G.chain([3, 4], lambda n: G.lif(n, tau=0.01))
    assert lower(g).dt == 1e-3 and lower(g, dt=1e-4).dt == 1e-4
    g.metadata = {}
    with pytest.warns(UserWarning, match="assumed snntorch's convention dt = 0.0001"):
        assert lower(g, framework="snntorch").dt == 1e-4
    with pytest.warns(UserWarning, match="guessed dt = 0.001"):
        lower(g)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lower(g, dt=1e-3)  # given: no warning
    with pytest.raises(ValueError, match="unknown framework 'keras'"):
        lower(g, framework="keras")


def test_per_neuron_thresholds_are_normalised():
    lif = _lif((2,), tau=1e-3)
    lif.v_threshold = np.array([1.0, 2.0])
    g = _graph({"fc": nir.Affine(np.array([[1.0, 1.0], [4.0, 2.0]]), np.zeros(2)), "lif": lif}, (2,), out=2)
    net = lower(g)
    assert net.populations[0].vth == 1.0
    assert np.allclose(net.projections[0].weight, [[1.0, 1.0], [2.0, 1.0]])
    assert net.projections[0].source == INPUT


def test_spikes_without_time_steps_are_refused():
    emu = backends.load(G.chain([3, 4], G.if_), "loihi2", "emulator")
    with pytest.raises(ValueError, match=r"hardware input has no time steps: spikes \[2, 0, 3\] \(T = 0\)"):
        emu.run(torch.zeros(2, 0, 3))


def _delayed_if(delay_s, dt=1.0):
    """Input -> Delay -> Linear(1.5) -> IF (threshold 1) -> Output, one neuron: every input spike fires it."""
    return G.graph(
        {
            "input": nir.Input(np.array([1])),
            "d": nir.Delay(np.array([delay_s])),
            "w": nir.Linear(np.array([[1.5]])),
            "if": nir.IF(r=np.ones(1), v_threshold=np.ones(1)),
            "output": nir.Output(np.array([1])),
        },
        [("input", "d"), ("d", "w"), ("w", "if"), ("if", "output")],
        dt=dt,
    )


def test_a_delay_node_shifts_the_spikes_by_its_steps_on_every_backend():
    """An input spike at step 1 fires the neuron at step 1 + 3 in the reference (forward projections
    act within the step) and at 1 + 1 + 3 on the hardware (one synaptic delay more), and the hardware
    window grows by the delay."""
    x = np.zeros((1, 6, 1), np.float32)
    x[0, 1] = 1
    ref = backends.load(_delayed_if(3.0), None, "reference").run(x)
    assert ref.output.flatten().tolist() == [0, 0, 0, 0, 1, 0]
    for profile in ("float", "loihi2"):
        emu = backends.load(_delayed_if(3.0), profile, "emulator")
        assert emu.window(6) == 6 + 1 + 3
        assert torch.nonzero(emu.run(x).window.flatten()).flatten().tolist() == [5]


@pytest.mark.parametrize(
    "delay, dt, message",
    [
        (2.5e-3, 1e-3, r"NIR node 'd': delay\[0\] = 0.0025 s is not a whole number of steps >= 0 of dt = 0.001 s"),
        (-1.0, 1.0, r"delay\[0\] = -1 s is not a whole number of steps >= 0"),
    ],
)
def test_a_delay_that_is_not_whole_steps_is_refused(delay, dt, message):
    with pytest.raises(GraphError, match=message):
        backends.lower(_delayed_if(delay, dt))


def test_longer_delays_than_loihi_holds_are_refused_on_fixed_point_only():
    g = _delayed_if(64.0)
    with pytest.raises(
        ValueError, match=r"'input->if': a synapse delays 64 steps; Loihi 2's DelayDense holds at most 63"
    ):
        backends.load(g, "loihi2", "emulator")
    assert backends.load(g, "float", "emulator").window(1) == 66


def test_two_delay_nodes_into_one_population_are_refused():
    g = _delayed_if(1.0)
    g.nodes["d2"] = nir.Delay(np.array([1.0]))
    g.edges[:] = [("input", "d"), ("d", "d2"), ("d2", "w"), ("w", "if"), ("if", "output")]
    with pytest.raises(GraphError, match=r"NIR Delay nodes \['d', 'd2'\] all feed 'if'"):
        backends.lower(g)


def test_a_layer_whose_identity_basis_would_not_fit_is_refused_before_lowering(tmp_path):
    """A 100,000-neuron input: the dense matrix is only 10 x 100,000, but lowering builds it from
    torch.eye(100000) (80 GB in float64); the guard counted n_in x n_out only."""
    import nir
    import numpy as np
    import pytest

    import backends

    n = 100_000
    g = nir.NIRGraph.from_list(
        nir.Input(np.array([n])),
        nir.Linear(np.zeros((10, n))),
        nir.IF(r=np.ones(10), v_threshold=np.ones(10)),
        nir.Output(np.array([10])),
    )
    with pytest.raises(
        ValueError, match=r"a dense 10x100000 matrix \(built from a 100000x100000 identity\) is too large"
    ):
        backends.lower(g, dt=1.0)
