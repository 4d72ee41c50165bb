"""Non-spiking readouts (NIR LI, CubaLI): where a graph may have one, what it computes, how it decides."""

import nir
import numpy as np
import pytest
import torch

import backends
from backends.executor import RunResult
from backends.graph import GraphError
from backends.readout import READOUT_RULES, apply_rule
from tests.backends import graphs as G


def _integrator(tau=0.004, r=1.5, w=0.8):
    """Input -> Linear(w) -> LI(tau, r) -> Output, one neuron."""
    return G.graph(
        {
            "input": nir.Input(np.array([1])),
            "w": nir.Linear(np.array([[w]])),
            "li": nir.LI(tau=np.array([tau]), r=np.array([r]), v_leak=np.zeros(1)),
            "output": nir.Output(np.array([1])),
        },
        [("input", "w"), ("w", "li"), ("li", "output")],
    )


def test_an_li_readout_integrates_as_nirs_equation_says():
    """``tau dv/dt = -v + r I`` in Euler steps of dt, input on at every step: ``v_t = r w (1 - (1 - k)^(t+1))``
    with ``k = dt / tau``, worked out by hand; the hardware answers one step late."""
    k, r, w = G.DT / 0.004, 1.5, 0.8
    want = torch.tensor([r * w * (1 - (1 - k) ** (t + 1)) for t in range(8)], dtype=torch.float64)
    x = np.ones((1, 8, 1), np.float32)
    ref = backends.load(_integrator(), None, "reference").run(x)
    assert torch.allclose(ref.window.flatten().double(), want, rtol=1e-6)
    emu = backends.load(_integrator(), "float", "emulator").run(x)
    assert torch.allclose(emu.window.flatten()[1:].double(), want, rtol=1e-6)
    fixed = backends.load(_integrator(), "loihi2", "emulator").run(x)  # 24-bit state: close, not equal
    assert torch.allclose(fixed.window.flatten()[1:].double(), want, rtol=2e-3)
    assert ref.readout == emu.readout == fixed.readout == "max"


@pytest.mark.parametrize("rule", READOUT_RULES)
def test_the_prediction_follows_the_readout_rule(rule):
    """Class 0 peaks early, class 1 ends highest, class 2 has the largest mean: each rule picks its own."""
    trace = torch.tensor([[[5.0, 0.0, 3.0], [0.0, 1.0, 3.0], [0.0, 4.0, 3.0]]])  # [B=1, P=3, K=3]
    result = RunResult(trace, trace, readout=rule)
    assert result.prediction.item() == {"max": 0, "last": 1, "mean": 2}[rule]
    assert torch.equal(result.scores, apply_rule(trace, rule))
    assert torch.equal(RunResult(trace, trace).scores, trace.sum(1))  # a spiking output: its counts


def test_an_unknown_rule_is_refused_by_every_backend():
    for kind in ("reference", "emulator", "lava"):
        with pytest.raises(ValueError, match=r"readout rule must be one of \('max', 'last', 'mean'\), got 'sum'"):
            backends.load(_integrator(), None, kind, readout="sum")


def test_a_readout_feeding_another_population_is_refused():
    g = G.chain([4, 3, 2], lambda n: G.li(n) if n == 3 else G.lif(n))
    with pytest.raises(GraphError, match=r"NIR node 'n0' \(LI\) feeds 'n1': a leaky integrator does not spike"):
        backends.lower(g)


def test_a_readout_must_be_what_the_output_reads():
    g = G.chain([4, 3], G.lif)
    g.nodes["side"] = G.li(3)
    g.edges.append(("fc0", "side"))
    with pytest.raises(GraphError, match=r"NIR node 'side' \(LI\) is not read by the Output node"):
        backends.lower(g)


def test_the_readout_goes_last_and_is_scaled_to_its_largest_steady_state():
    g = G.with_readout(G.chain([6, 5, 3], G.lif, scale=2.0), G.li)
    net = backends.lower(g)
    assert [p.name for p in net.populations][-1] == net.output == "n1" and net.readout
    (proj,) = net.incoming("n1")
    drive = np.abs(proj.weight).sum(1) / net.population("n1").dv
    assert net.population("n1").vth == pytest.approx(drive.max())
    assert backends.quantize(net, backends.load_profile("loihi2")).population("n1").vth > 0


def test_a_norse_li_readout_matches_norse_on_the_reference_and_emulator_equals_lava(tmp_path):
    """Norse's own exporter (norse 1.1 writes ``tau = dt / tau_inv``, so its files read right at
    ``dt = 1e-6``, the square of its 1 ms step): the reference's membrane equals Norse's LIBoxCell."""
    from backends import interop_nets as I

    e = I.norse_li_export(tmp_path)
    graph = backends.read_graph(e.path)
    assert isinstance(graph.nodes["3"], nir.LI)
    ref = backends.load(graph, None, "reference", dt=I.NORSE_LI_DT).run(e.x, record=True)
    assert ref.layers[0].sum() > 0  # the hidden layer spikes: the readout reads spikes, not only biases
    assert torch.allclose(ref.window, torch.as_tensor(e.own), atol=1e-6)
    emu = backends.load(graph, "loihi2", "emulator", dt=I.NORSE_LI_DT).run(e.x, record=True)
    lava = backends.load(graph, "loihi2", "lava", dt=I.NORSE_LI_DT).run(e.x, record=True)
    assert all(torch.equal(a, b) for a, b in zip(emu.layers, lava.layers))
    assert torch.equal(emu.scores, lava.scores) and emu.readout == "max"
