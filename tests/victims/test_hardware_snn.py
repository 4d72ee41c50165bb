import pytest
import torch

import backends
from neuroattack.attacks import G2SRSF
from neuroattack.replay import graph_of
from neuroattack.victims import HardwareSNN, Victim


@pytest.mark.parametrize("profile", ["loihi2", "loihi2-w4"])
def test_forward_spikes_equal_the_emulator(event_victim, event_digits, profile):
    _, xt, _ = event_digits
    x = xt[:16].float()
    hil = HardwareSNN(event_victim.model, profile)
    emu = backends.load(graph_of(event_victim.model), profile, "emulator").run(x)
    with torch.no_grad():
        out = hil(x.transpose(0, 1)).transpose(0, 1)
    assert out.shape == emu.window.shape and torch.equal(out, emu.window)
    assert out.sum() > 0


def test_gradients_flow_through_the_integer_dynamics(event_victim, event_digits):
    _, xt, yt = event_digits
    hil = HardwareSNN(event_victim.model, "loihi2")
    x = xt[:8].float().transpose(0, 1).requires_grad_()
    loss = torch.nn.functional.cross_entropy(hil(x).sum(0), yt[:8])
    (g,) = torch.autograd.grad(loss, x)
    assert g.abs().sum() > 0 and torch.isfinite(g).all()


def test_hil_attack_fools_the_emulator(event_victim, event_digits):
    _, xt, yt = event_digits
    hil = HardwareSNN(event_victim.model, "loihi2")
    victim = Victim(hil, "events", 8, "mse")
    x_adv, res = G2SRSF(victim, steps=20, seed=0).run(xt[:30], yt[:30])
    assert res.summary().asr > 0.5
    emu = backends.load(graph_of(event_victim.model), "loihi2", "emulator")
    pred = emu.run(x_adv).prediction
    ok = res.success & res.clean_correct
    assert (pred[ok] != yt[:30][ok]).all()  # the emulator itself is fooled, not a proxy
    with pytest.raises(ValueError, match=r"HardwareSNN supports grad in \['stbp'\]"):
        G2SRSF(victim, grad="hart")
    with pytest.raises(ValueError, match="fixed-point profile"):
        HardwareSNN(event_victim.model, "float")
