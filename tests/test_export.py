import nir
import numpy as np
import pytest
import torch

import backends
from neuroattack.export import export_checkpoint, to_nir, validate_export
from neuroattack.models.neurons import NeuronConfig
from neuroattack.models.snn import SNN


def _model(spec="4C3-AP2-10FC", shape=(2, 8, 8), **neuron):
    torch.manual_seed(0)
    return SNN(spec, shape, NeuronConfig(**neuron), init_scale=4.0).eval()


def test_round_trip_is_exact(tmp_path):
    model = _model()
    graph = export_checkpoint(model, tmp_path / "m.nir")
    assert (tmp_path / "m.nir").is_file() and graph.metadata["dt"] == 1e-3
    kinds = {type(n).__name__ for n in graph.nodes.values()}
    assert {"Conv2d", "LIF", "AvgPool2d", "Flatten", "Input", "Output"} <= kinds
    assert kinds & {"Affine", "Linear"}  # nir.read turns a zero-bias Affine into Linear
    validate_export(nir.read(tmp_path / "m.nir"), model, timesteps=10, seed=3)


def test_fixed_cases_of_norse_export():
    model = _model(leak=0.8)
    graph = to_nir(model)
    lif = graph.nodes["l1_lif"]
    # 1/tau_inv seconds (Norse writes dt/tau_inv), per neuron (Norse writes scalars)
    assert lif.tau.shape == (4, 8, 8)
    assert np.allclose(lif.tau, 1e-3 / 0.2)
    assert np.all(lif.v_reset == 0)
    assert isinstance(graph.nodes["l2_avgpool"], nir.AvgPool2d)
    flat = graph.nodes["l3_flatten"]
    assert isinstance(flat, nir.Flatten) and tuple(flat.output_type["output"]) == (4 * 4 * 4,)
    assert isinstance(graph.nodes["l0_conv"], nir.Conv2d)
    assert tuple(graph.nodes["input"].input_type["input"]) == (2, 8, 8)


def test_if_neurons_export_as_nir_if(tmp_path):
    graph = export_checkpoint(_model("12FC-10FC", (6,), leak=1.0), tmp_path / "if.nir")
    assert sum(isinstance(n, nir.IF) for n in graph.nodes.values()) == 2


def test_undeployable_options_are_refused(tmp_path):
    with pytest.raises(ValueError, match="soft.*cannot be deployed"):
        export_checkpoint(_model(reset="soft"), tmp_path / "s.nir")
    with pytest.raises(ValueError, match="synapse='current' cannot be exported"):
        export_checkpoint(_model(leak=0.8, synapse="current"), tmp_path / "c.nir")
    assert list(tmp_path.iterdir()) == []


def test_validation_catches_a_wrong_graph():
    model = _model()
    graph = to_nir(model)
    graph.nodes["l1_lif"].v_threshold = graph.nodes["l1_lif"].v_threshold * 3
    with pytest.raises(ValueError, match="does not reproduce the model"):
        validate_export(graph, model)


def test_backends_read_the_written_file(tmp_path):
    model = _model()
    export_checkpoint(model, tmp_path / "m.nir")
    x = (torch.rand(3, 5, 2, 8, 8, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    out = backends.load(tmp_path / "m.nir", None, "reference").run(x)
    with torch.no_grad():
        assert torch.equal(out.output, model(x.transpose(0, 1)).transpose(0, 1))
    with pytest.raises(ValueError, match="not a readable NIR file"):
        (tmp_path / "bad.nir").write_text("nope")
        backends.load(tmp_path / "bad.nir")


def test_exported_trained_model_runs_alike_on_the_emulator_and_lava(event_victim, event_digits):
    _, xt, _ = event_digits
    graph = to_nir(event_victim.model)
    x = xt[:6].float()
    emu = backends.load(graph, "loihi2", "emulator").run(x, record=True)
    lava = backends.load(graph, "loihi2", "lava", samples_per_run=3).run(x, record=True)
    assert emu.layers[0].sum() > 0
    assert all(torch.equal(a, b) for a, b in zip(emu.layers, lava.layers))


def test_the_float_reference_reproduces_the_norse_model_and_floating_pt_lava(event_victim, event_digits):
    _, xt, _ = event_digits
    graph = to_nir(event_victim.model)
    x = xt[:6].float()
    ref = backends.load(graph, None, "reference").run(x)
    with torch.no_grad():
        sim = event_victim.model(x.transpose(0, 1)).transpose(0, 1)
    assert ref.counts.sum() > 0 and torch.equal(ref.output, sim)
    lava = backends.load(graph, "float", "lava").run(x)
    assert torch.equal(ref.output, lava.output)  # no biases: only the hardware delay differs
