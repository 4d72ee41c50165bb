"""Networks exported to NIR by snnTorch, rockpool and sinabs run on every backend.

For each framework network (backends/interop_nets.py): the file as its exporter wrote it is
read, lowered with the framework's conventions (time step; rockpool's neuron equations), and run
on the emulator and on Lava (fixed_pt and floating_pt), spike for spike at every population, every
population spiking; where the framework's neuron is what the NIR file says, the float reference
reproduces the framework's own output spikes exactly, and every output spikes on every side.
"""

import re
import warnings

import nir
import numpy as np
import pytest
import torch

import backends
from backends import interop_nets as I

pytest.importorskip("snntorch", reason="the interop extra (pip install .[interop]) is not installed")
pytest.importorskip("rockpool", reason="the interop extra (pip install .[interop]) is not installed")


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    folder = tmp_path_factory.mktemp("interop")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the frameworks' own deprecation noise
        found = I.snntorch_exports(folder) + I.rockpool_exports(folder) + I.sinabs_exports()
    return {f"{e.framework}-{i}": e for i, e in enumerate(found)}


KEYS = (
    [f"snntorch-{i}" for i in range(6)] + [f"rockpool-{i}" for i in range(6, 9)] + [f"sinabs-{i}" for i in range(9, 12)]
)


def _load(e, profile, kind, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # framework conventions assumed, off-spec shapes adapted
        graph = backends.read_graph(e.path)
        return backends.load(graph, profile, kind, framework=e.framework, reset=e.reset, **options)


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("profile", ["loihi2", "float"])
def test_framework_exports_run_alike_on_the_emulator_and_lava(exports, key, profile):
    e = exports[key]
    emu = _load(e, profile, "emulator").run(e.x, record=True)
    lava = _load(e, profile, "lava", samples_per_run=2).run(e.x, record=True)
    assert len(emu.layers) == len(lava.layers) >= 2
    for i, (a, b) in enumerate(zip(emu.layers, lava.layers)):
        # spikes, not positions: silence on both sides would match every position and prove nothing
        assert a.sum() > 0, f"{e.network}, population {i}: silent on the emulator ({profile})"
        assert torch.equal(a, b), f"{e.network}, population {i}: %d/%d spikes match" % I.spike_match(a, b)


@pytest.mark.parametrize("key", KEYS)
def test_the_reference_reproduces_frameworks_whose_neurons_nir_describes(exports, key):
    e = exports[key]
    ref = _load(e, None, "reference").run(e.x)
    own = torch.as_tensor(e.own, dtype=torch.float32)
    assert ref.output.shape == own.shape
    assert ref.output.sum() > 0 and own.sum() > 0, f"{e.network}: an output is silent (reference, framework)"
    if e.same_semantics:
        assert torch.equal(ref.output, own)
    else:  # what the exporter drops or writes off-spec is written down (the interop table in docs/backends.md)
        assert e.note and not torch.equal(ref.output, own)


def test_recurrent_snntorch_export_keeps_its_feedback(exports):
    e = exports["snntorch-2"]
    net = _load(e, "loihi2", "emulator").network
    assert [p.name for p in net.projections if p.recurrent] == ["1.lif->1.lif"]


def test_slow_current_with_an_affine_bias_is_a_constant_input_current(exports):
    """snnTorch's Synaptic adds nn.Linear's bias to its current every step: a projection from the
    always-on bias source, not a bias on v (the reference matches snnTorch only that way)."""
    e = exports["snntorch-1"]
    net = _load(e, None, "reference").network
    assert sorted(p.name for p in net.projections if p.source == backends.BIAS) == ["bias->1", "bias->3"]
    assert all(np.all(p.bias == 0) for p in net.populations)


def test_off_spec_shapes_are_adapted_with_a_warning(exports):
    e = exports["rockpool-6"]
    with pytest.warns(UserWarning) as caught:
        graph = backends.read_graph(e.path)
    messages = [str(w.message) for w in caught]
    assert any("fails NIR's type check" in m for m in messages), messages
    assert any(re.search(r"\[1, 6\] keeps a leading batch/time dimension of 1 .* read as \[6\]", m) for m in messages)
    with pytest.warns(UserWarning, match="assumed rockpool's convention"):
        net = backends.lower(graph, framework="rockpool")
    assert net.input_shape == (6,)


def test_snntorch_beta_one_is_read_as_an_integrator(tmp_path):
    """snnTorch writes beta = 1 as tau = r = inf; read as IF (r dt = 1), it matches snnTorch."""
    import snntorch as snn
    from snntorch import utils
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(6, 5),
        snn.Leaky(
            beta=torch.ones(5), threshold=torch.full((5,), 2.0), init_hidden=True, reset_mechanism="zero", output=True
        ),
    )
    with torch.no_grad():
        net[0].weight.mul_(3.0)
    with np.errstate(divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nir.write(tmp_path / "if.nir", export_to_nir(net, torch.zeros(1, 6), ignore_dims=[0]))
    graph = backends.read_graph(tmp_path / "if.nir")
    assert np.isinf(graph.nodes["1"].tau).all() and np.isinf(graph.nodes["1"].r).all()
    with pytest.warns(UserWarning, match="read as IF"):
        ref = backends.load(graph, None, "reference", dt=1e-4).run(I._input((6,)))
    utils.reset(net)
    x = I._input((6,))
    with torch.no_grad():
        own = torch.stack([net(torch.from_numpy(x[:, t]))[0] for t in range(x.shape[1])], 1)
    assert own.sum() > 0 and torch.equal(ref.output, own)
