import pytest
import torch
from norse.torch.functional.reset import reset_subtract
from norse.torch.module.iaf import IAFCell
from norse.torch.module.lif import LIFCell
from norse.torch.module.lif_box import LIFBoxCell
from torch import nn

from neuroattack.models.ann import ANN
from neuroattack.models.neurons import IAFSoftResetCell, NeuronConfig
from neuroattack.models.snn import SNN, predict, rates


def spikes(shape, seed=0, p=0.3):
    return (torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) < p).float()


def test_layer_list_and_output():
    model = SNN("8C3-AP2-16FC-10FC", (2, 12, 12))
    kinds = [type(m) for m in model.layers]
    assert kinds == [nn.Conv2d, LIFBoxCell, nn.AvgPool2d, nn.Flatten, nn.Linear, LIFBoxCell, nn.Linear, LIFBoxCell]
    out = model(spikes((5, 3, 2, 12, 12)))
    assert out.shape == (5, 3, 10) and set(out.unique().tolist()) <= {0.0, 1.0}
    assert rates(out).shape == (3, 10) and predict(out).shape == (3,)


@pytest.mark.parametrize(
    "cfg, cell",
    [
        (NeuronConfig(leak=0.5), LIFBoxCell),
        (NeuronConfig(leak=1.0), IAFCell),
        (NeuronConfig(leak=1.0, reset="soft"), IAFSoftResetCell),
        (NeuronConfig(leak=0.9, synapse="current"), LIFCell),
    ],
)
def test_neuron_options_map_to_norse_cells(cfg, cell):
    model = SNN("10FC", (4,), cfg)
    assert type(model.layers[1]) is cell


def test_lif_box_dynamics_are_the_papers():
    """v[t] = lambda v[t-1] + (1 - lambda) I[t]; spike iff v > theta; hard reset to 0."""
    cfg = NeuronConfig(leak=0.5, threshold=1.0)
    cell = cfg.build()
    current = torch.tensor([[1.5], [1.5], [1.5], [0.0]])
    v, expected_v, out = 0.0, [], []
    for i in current[:, 0].tolist():
        v = 0.5 * v + 0.5 * i
        s = v > 1.0
        out.append(float(s))
        v = 0.0 if s else v
        expected_v.append(v)
    model_out = SNN("1FC", (1,), cfg).run_cell(cell, current.unsqueeze(-1))
    assert model_out.flatten().tolist() == out == [0.0, 1.0, 0.0, 0.0]
    state, voltages = None, []
    for t in range(4):
        _, state = cell(current[t], state)
        voltages.append(float(state.v.detach()))
    assert voltages == pytest.approx(expected_v) and expected_v == pytest.approx([0.75, 0.0, 0.75, 0.375])


def test_soft_reset_subtracts_threshold():
    hard = NeuronConfig(leak=1.0).build()
    soft = NeuronConfig(leak=1.0, reset="soft").build()
    x = torch.full((4, 1), 0.75)
    m = SNN("1FC", (1,), NeuronConfig(leak=1.0))
    assert m.run_cell(hard, x).flatten().tolist() == [0, 1, 0, 1]  # 0.75, 1.5 -> reset 0, 0.75, 1.5
    # 0.75, 1.5 (spike, -> 0.5), 1.25 (spike, -> 0.25), 1.0 (not > 1: no spike)
    assert m.run_cell(soft, x).flatten().tolist() == [0, 1, 1, 0]
    cfg = NeuronConfig(leak=0.5, reset="soft").build()
    assert cfg.p.reset_method is reset_subtract


def test_rect_surrogate_gradient_is_liang_eq9():
    cfg = NeuronConfig(leak=1.0, threshold=1.0, surrogate="rect", surrogate_width=0.5)
    cell = cfg.build()
    for value, grad in [(0.9, 2.0), (1.2, 2.0), (2.0, 0.0)]:
        inp = torch.tensor([[value]], requires_grad=True)
        z, _ = cell(inp)
        z.sum().backward()
        assert inp.grad.item() == pytest.approx(grad)


def test_triangle_surrogate_has_width_and_unit_area():
    cell = NeuronConfig(leak=1.0, surrogate="triangle", surrogate_width=2.0).build()
    inp = torch.tensor([[1.5]], requires_grad=True)
    cell(inp)[0].sum().backward()
    assert inp.grad.item() == pytest.approx((2.0 - 0.5) / 4.0)


def test_threshold_override_is_temporary():
    model = SNN("20FC-20FC-10FC", (10,), NeuronConfig(leak=1.0))
    x = spikes((6, 4, 10), p=0.5)
    base = model(x)
    with model.thresholds({-2: 50.0}):
        assert model.spiking_layers()[1].p.v_th.item() == 50.0
        silenced = model(x)
    assert silenced.sum() == 0
    assert torch.equal(model(x), base) and model.spiking_layers()[1].p.v_th.item() == 1.0


def test_input_checks():
    model = SNN("10FC", (4,))
    with pytest.raises(ValueError, match=r"expected shape \[T, B, 4\]"):
        model(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="NaN"):
        model(torch.full((2, 1, 4), float("nan")))
    with pytest.raises(ValueError, match="leak"):
        NeuronConfig(leak=1.5)
    with pytest.raises(ValueError, match="surrogate"):
        NeuronConfig(surrogate="sigmoid")


def test_ann_twin_shares_weight_layout():
    snn = SNN("8C3-AP2-16FC-10FC", (2, 12, 12))
    ann = ANN.from_snn(snn)
    assert [k for k in ann.state_dict()] == [k for k in snn.state_dict()]
    assert torch.equal(ann.layers[0].weight, snn.layers[0].weight)
    assert ann(torch.rand(3, 2, 12, 12)).shape == (3, 10)
