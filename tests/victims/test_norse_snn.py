"""A hand-written Norse module as a victim: every estimator and algorithm, and its deployment."""

import norse.torch as snn
import pytest
import torch
from torch import nn

import backends
from neuroattack.attacks.registry import build_attack
from neuroattack.data.datasets import load_dataset
from neuroattack.replay import graph_of
from neuroattack.train import fit
from neuroattack.victims import HardwareSNN, NorseSNN, Victim


def _net():
    p = snn.LIFBoxParameters(tau_mem_inv=torch.tensor(500.0), method="rect", alpha=torch.tensor(3.0))
    return snn.SequentialState(nn.Flatten(), nn.Linear(64, 64), snn.LIFBoxCell(p), nn.Linear(64, 10), snn.LIFBoxCell(p))


@pytest.fixture(scope="module")
def norse_victim():
    torch.manual_seed(0)
    net = _net()
    victim = Victim.from_module(net, (1, 8, 8), "bernoulli", 8)
    with torch.no_grad():
        for layer in net:
            if isinstance(layer, nn.Linear):
                layer.weight.mul_(3.0)
    fit(victim.model, load_dataset("digits", "train"), "bernoulli", 8, epochs=15, progress=False)
    return victim, net


def test_it_runs_the_users_module_as_written(norse_victim):
    victim, net = norse_victim
    x = (torch.rand(8, 4, 1, 8, 8, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    state, outs = None, []
    with torch.no_grad():
        for t in range(8):
            z, state = net(x[t], state)
            outs.append(z)
        assert torch.equal(victim.model(x), torch.stack(outs))
    assert victim.model.neuron.leak == pytest.approx(0.5) and victim.model.num_classes == 10


def test_it_deploys_and_its_fixed_point_twin_equals_the_emulator(norse_victim, event_digits):
    victim, _ = norse_victim
    _, xt, _ = event_digits
    x = xt[:8].float()
    emu = backends.load(graph_of(victim.model), "loihi2", "emulator").run(x)
    with torch.no_grad():
        hw = HardwareSNN(victim.model, "loihi2")(x.transpose(0, 1)).transpose(0, 1)
    assert torch.equal(hw, emu.window)


@pytest.mark.parametrize("grad", ["stbp", "bptr", "rga", "hart", "cba"])
@pytest.mark.parametrize("attack", ["fgsm", "pgd", "bim"])
def test_every_estimator_and_image_algorithm(norse_victim, grad, attack):
    victim, _ = norse_victim
    test = load_dataset("digits", "test", 32)
    # BIM starts at the input itself: steps of 0.1 reach the boundary in 5 steps (its default 2/255 does
    # not, and a tie it reaches is no decision, not a success)
    options = {"fgsm": {"eps": 0.3}, "pgd": {"eps": 0.3, "steps": 5}, "bim": {"eps": 0.3, "alpha": 0.1, "steps": 5}}[
        attack
    ]
    x_adv, result = build_attack(attack, victim, grad, **options, eval_draws=4).run(test.x, test.y)
    s = result.summary()
    assert s.clean_accuracy > 0.5 and s.asr > 0, (grad, attack, s)


@pytest.mark.parametrize("attack", ["cwl2", "g2s-rsf"])
def test_spike_algorithms(norse_victim, event_digits, attack):
    victim, _ = norse_victim
    if attack == "cwl2":
        test = load_dataset("digits", "test", 32)
        x, y = test.x, test.y
    else:  # the same module on event frames
        victim = Victim(victim.model, "events", 8)
        _, xt, yt = event_digits
        x, y = xt[:32].float(), yt[:32]
    x_adv, result = build_attack(attack, victim, "stbp", steps=10).run(x, y)
    assert result.clean_correct.any() and result.summary().asr > 0


def test_unsupported_layers_and_cells_are_named():
    with pytest.raises(ValueError, match=r"layer 1 \(ReLU\) is not supported"):
        NorseSNN(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), snn.LIFBoxCell()), (4,))
    with pytest.raises(ValueError, match=r"layer 1 \(LICell\) is not supported"):
        NorseSNN(nn.Sequential(nn.Linear(4, 3), snn.LICell()), (4,))
    with pytest.raises(ValueError, match="differ from the first cell"):
        NorseSNN(nn.Sequential(nn.Linear(4, 3), snn.LIFBoxCell(), nn.Linear(3, 2), snn.IAFCell()), (4,))
    with pytest.raises(ValueError, match="must end with a spiking cell"):
        NorseSNN(nn.Sequential(nn.Linear(4, 3)), (4,))


def test_cba_is_the_gradient_of_the_relu_twin_of_the_users_layers(norse_victim):
    """CBA on a Norse module: the ANN twin is the user's own Linear layers with ReLU (scaled by
    kappa / theta) in place of the cells; its gradient, computed here by hand, is CBA's."""
    victim, net = norse_victim
    from neuroattack.attacks.estimators import make_estimator

    image = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0), requires_grad=True)
    x = victim.inputs(image.detach(), torch.Generator().manual_seed(1))
    out = make_estimator("cba").output(victim.model, x, image)
    (g,) = torch.autograd.grad(out.mean(0)[:, 2].sum(), image)
    fc1, fc2 = (m for m in net if isinstance(m, nn.Linear))
    k = victim.model.neuron.input_gain / victim.model.neuron.threshold
    z = image.detach().clone().requires_grad_()
    logits = fc2(torch.relu(fc1(z.flatten(1)) * k)) * k
    (expected,) = torch.autograd.grad(logits[:, 2].sum(), z)
    assert expected.abs().sum() > 0
    torch.testing.assert_close(g, expected)
