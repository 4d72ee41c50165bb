"""Any NIR graph as a victim: its twins equal the backends, and every algorithm attacks it."""

import warnings

import pytest
import torch

import backends
from backends import interop_nets as I
from neuroattack.attacks.registry import build_attack
from neuroattack.victims import NIRSNN, HardwareSNN, Victim
from tests.backends import graphs as G


def _frames(shape, batch=6, steps=8, seed=1):
    return G.spikes(shape, batch=batch, steps=steps, density=0.4, seed=seed)


GRAPHS = {
    "recurrent": (lambda: G.recurrent(scale=10.0, rec_scale=6.0, neuron=lambda n: G.lif(n, tau=0.002)), (6,)),
    "skip": (lambda: G.skip(scale=10.0, neuron=lambda n: G.lif(n, tau=0.002)), (6,)),
    "cubalif-bias": (lambda: G.chain([6, 10, 6], lambda n: G.cubalif(n, 0.004, 0.005), scale=12.0, bias=0.1), (6,)),
    "conv": (lambda: G.conv(scale=6.0), (2, 8, 8)),
    "delay": (G.delayed_recurrent, (6,)),
    "subtract": (
        lambda: G.with_reset(G.recurrent(scale=12.0, rec_scale=4.0, neuron=lambda n: G.lif(n, 0.004)), "subtract"),
        (6,),
    ),
}


@pytest.mark.parametrize("name", list(GRAPHS))
def test_twins_equal_the_reference_and_the_emulator(name):
    make, shape = GRAPHS[name]
    graph = make()
    x = _frames(shape)
    model = NIRSNN(graph)
    with torch.no_grad():
        sim = model(x.transpose(0, 1)).transpose(0, 1)
    ref = backends.load(graph, None, "reference").run(x)
    assert sim.sum() > 0 and torch.equal(sim, ref.output)
    hil = HardwareSNN(model, "loihi2")
    emu = backends.load(graph, "loihi2", "emulator").run(x)
    with torch.no_grad():
        hw = hil(x.transpose(0, 1)).transpose(0, 1)
    assert hw.sum() > 0 and torch.equal(hw, emu.window)


@pytest.fixture(scope="module")
def snntorch_victim(tmp_path_factory):
    pytest.importorskip("snntorch", reason="the interop extra (pip install .[interop]) is not installed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exported = I.snntorch_exports(tmp_path_factory.mktemp("snn"))[2]  # the recurrent RLeaky net
        victim = Victim.from_nir(
            exported.path, "events", 10, framework="snntorch", surrogate=("rect", 1.0), reset=exported.reset
        )
    return victim, exported


@pytest.mark.parametrize("attack", ["g2s-rsf"])
def test_spike_attacks_attack_an_snntorch_graph_on_its_event_input(snntorch_victim, attack):
    victim, exported = snntorch_victim
    x = torch.as_tensor(exported.x).repeat(4, 1, 1)  # [8, T=10, 6]
    y = torch.as_tensor(exported.own).sum(1).argmax(1).repeat(4)  # the network's own answers: all correct
    x_adv, result = build_attack(attack, victim, "stbp", steps=10).run(x, y)
    assert result.clean_correct.all() and (x_adv != x).any()
    assert set(x_adv.unique().tolist()) <= {0.0, 1.0} and result.summary().asr > 0


GRADS = ["stbp", "bptr", "rga", "hart", "cba"]


@pytest.mark.parametrize("grad", GRADS)
@pytest.mark.parametrize(
    "attack, encoding, options",
    [
        ("fgsm", "direct", {"eps": 0.5}),
        ("pgd", "direct", {"eps": 0.5, "steps": 5}),
        ("bim", "direct", {"eps": 0.5, "steps": 5}),
        ("cwl2", "bernoulli", {"steps": 10}),
    ],
)
def test_every_estimator_and_image_attack_on_an_snntorch_graph(snntorch_victim, grad, attack, encoding, options):
    _, exported = snntorch_victim
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        victim = Victim.from_nir(exported.path, encoding, 10, framework="snntorch")
    images = torch.rand(16, 6, generator=torch.Generator().manual_seed(0))
    y = victim.predict(images, torch.Generator().manual_seed(1), draws=5).mode(0).values  # the network's answers
    images, y = images[y >= 0], y[y >= 0]  # where it decides: no decision (-1) is not a label
    if attack == "cwl2" and grad == "cba":  # a spike-domain attack; CBA differentiates images only
        with pytest.raises(ValueError, match="does not give spike-domain gradients"):
            build_attack(attack, victim, grad, **options)
        return
    x_adv, result = build_attack(attack, victim, grad, **options).run(images, y)
    assert result.clean_correct.any() and (x_adv != images).any(), f"{attack}/{grad} changed nothing"
    assert 0 <= float(x_adv.min()) and float(x_adv.max()) <= 1


@pytest.mark.parametrize("grad", ["bptr", "rga", "hart"])
def test_rate_estimators_craft_spike_attacks_on_an_snntorch_graph(snntorch_victim, grad):
    victim, exported = snntorch_victim
    x = torch.as_tensor(exported.x).repeat(4, 1, 1)
    y = torch.as_tensor(exported.own).sum(1).argmax(1).repeat(4)
    x_adv, result = build_attack("g2s-rsf", victim, grad, steps=10).run(x, y)
    assert set(x_adv.unique().tolist()) <= {0.0, 1.0} and result.summary().asr > 0


def test_gradient_flows_through_the_recurrent_graph(snntorch_victim):
    victim, exported = snntorch_victim
    x = torch.as_tensor(exported.x).transpose(0, 1).requires_grad_()
    out = victim.model(x)
    (grad,) = torch.autograd.grad(out.sum(), x)
    assert grad.abs().sum() > 0


@pytest.mark.parametrize("rule", ["max", "last", "mean"])
def test_a_readout_networks_twins_score_as_the_backends_do(rule):
    """An LI readout's scores (its membrane by the readout rule), from the float twin and the
    fixed-point twin, are the reference's and the emulator's."""
    graph = G.with_readout(G.recurrent(scale=10.0, rec_scale=6.0, neuron=lambda n: G.lif(n, tau=0.002)), G.li)
    x = _frames((6,))
    model = NIRSNN(graph, readout=rule)
    assert model.supported_estimators == ("stbp",)
    with torch.no_grad():
        sim = model(x.transpose(0, 1))
    ref = backends.load(graph, None, "reference", readout=rule).run(x)
    assert sim.shape == (1, 6, 4) and torch.allclose(sim[0], ref.scores, atol=1e-6)
    hil = HardwareSNN(model, "loihi2")
    emu = backends.load(graph, "loihi2", "emulator", readout=rule).run(x)
    with torch.no_grad():
        hw = hil(x.transpose(0, 1))
    assert emu.scores.abs().sum() > 0
    if rule == "mean":  # float64 mean (twin) against the mean of the float32 trace (emulator)
        assert torch.allclose(hw[0], emu.scores, rtol=1e-6)
    else:  # the same integers, read out alike
        assert torch.equal(hw[0], emu.scores)


def test_an_attack_on_a_readout_network_moves_its_membrane_decision():
    """G2S/RSF through the LI readout (CE on the max-over-time membrane): clean inputs the network
    decides, some of them turned, every flip within the budget."""
    graph = G.with_readout(G.chain([6, 12, 3], lambda n: G.lif(n, tau=0.002), scale=4.0), G.li)
    victim = Victim.from_nir(graph, "events", 8, loss="ce")
    x = _frames((6,), batch=16, steps=8)
    y = backends.load(graph, None, "reference").run(x).prediction
    x_adv, result = build_attack("g2s-rsf", victim, "stbp", steps=10, budget=20).run(x, y)
    assert result.clean_correct.all()
    assert int((x_adv != x).flatten(1).sum(1).max()) <= 20
    after = backends.load(graph, None, "reference").run(x_adv).prediction
    assert (after != y).any()
