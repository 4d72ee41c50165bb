"""The emulator equals Lava (fixed_pt and floating_pt) spike for spike, at every population and step.

A matrix over every bundled profile and every graph shape the backends accept; each case first
checks that the path it names really ran (a wrap changed a value, a recurrent projection changed
the spikes, ...), so that none passes vacuously. All graphs are built by hand (tests/backends/graphs.py).
"""

import os

import nir
import numpy as np
import pytest
import torch

import backends
import backends.loihi as loihi
from backends.emulator import EmulatorExecutor
from backends.graph import lower
from tests.backends import graphs as G
from tests.backends.processes import descendants

FIXED = ["loihi2", "loihi2-w6", "loihi2-w4"]
PROFILES = FIXED + ["float"]


def _compare(g, x, profile, **options):
    """Emulator vs Lava (several samples a run, state zeroed between them): every population, every step.
    The emulator runs with its default, fused LIF scan (the cases' checks ran its step-by-step one)."""
    emu = backends.load(g, profile, "emulator").run(x, record=True)
    lava = backends.load(g, profile, "lava", samples_per_run=options.pop("samples_per_run", 2), **options)
    got = lava.run(x, record=True)
    for i, (a, b) in enumerate(zip(emu.layers, got.layers)):
        assert a.shape == b.shape, i
        assert torch.equal(a, b), f"population {i}: {int((a != b).sum())} of {a.numel()} spikes differ"
    assert torch.equal(emu.window, got.window)
    return emu


def _all_spike(result):
    counts = [int(layer.sum()) for layer in result.layers]
    assert all(c > 0 for c in counts), f"a population never spiked: {counts}"


def _emulator(g, profile):
    """The emulator with the step-by-step scan, whose wraps and rules the cases spy on (the fused
    kernel computes them in registers, out of a spy's reach)."""
    return backends.load(g, profile, "emulator", scan="steps")


# -- the cases: (graph, input, check that the named path ran) --------------------------------------
def case_dense(profile):
    g = G.chain([10, 16, 12, 6], lambda n: G.lif(n, tau=0.002), scale=3.0)
    x = G.spikes((10,), batch=3, steps=6, density=0.4)

    def check(emu, result):
        _all_spike(result)
        if emu.qnet is not None:  # the exact int8 product ran
            assert all(emu.synapse(p.name).product is not None for p in emu.network.projections)

    return g, x, check


def case_conv(profile):
    g = G.conv(scale=6.0)
    x = G.spikes((2, 8, 8), batch=3, steps=5, density=0.4)

    def check(emu, result):
        assert [p.synapse for p in emu.network.projections] == ["conv", "conv", "dense"]
        _all_spike(result)

    return g, x, check


def case_pooling_folded(profile):
    g = G.conv(scale=6.0, pool="sum")
    x = G.spikes((2, 8, 8), batch=3, steps=5, density=0.4)

    def check(emu, result):
        folded = emu.network.projections[1]
        assert folded.stride == (2, 2) and folded.nodes == ["p1", "c2"]
        if emu.qnet is not None or emu.device.type != "cpu":
            assert emu.synapse(folded.name).unfolded is not None  # the emulator undid the fold: a sum-pool ran
        else:  # float on the CPU: the folded kernel as Lava has it, its sums added in Lava's order
            assert emu.synapse(folded.name).unfolded is None
            assert emu.paths[folded.name] == "event-driven (Lava's order)"
        assert result.layers[1].sum() > 0

    return g, x, check


def case_biases(profile):
    g = G.chain([6, 10, 8, 4], G.if_, scale=2.0, bias=0.3)
    x = G.spikes((6,), batch=3, steps=6, density=0.3)
    x[0] = 0  # a silent sample: only the biases drive it

    def check(emu, result):
        assert all(r.bias is not None for r in emu._neurons.values())
        assert result.layers[0][0].sum() > 0  # the first population spikes with no input at all

    return g, x, check


def case_cubalif(profile):
    g = G.chain([6, 10, 6], lambda n: G.cubalif(n, tau_syn=0.004, tau_mem=0.005), scale=12.0)
    x = G.spikes((6,), batch=3, steps=6, density=0.4)

    def check(emu, result):
        assert all(r.slow for r in emu._neurons.values())  # du < 1: the current carries over
        _all_spike(result)
        t_in = x.shape[1]
        assert result.layers[0][:, t_in + 1 :].sum() > 0  # spikes after the input stopped: the slow current

    return g, x, check


def case_recurrence(profile):
    g = G.recurrent(scale=10.0, rec_scale=6.0, neuron=lambda n: G.lif(n, tau=0.002))
    x = G.spikes((6,), batch=3, steps=6, density=0.4)

    def check(emu, result):
        assert emu.network.recurrent
        no_rec = lower(g)
        for p in no_rec.projections:
            if p.recurrent:
                p.weight = np.zeros_like(p.weight)
        without = EmulatorExecutor(no_rec, emu.profile).run(x, record=True)
        assert not torch.equal(without.layers[0], result.layers[0])  # the feedback changed the spikes
        _all_spike(result)

    return g, x, check


def case_subtract(profile):
    """Subtract reset (Lava: backends.lava_neurons.SubtractLIF) in a recurrent group and a fed-forward
    population, strong drive so that neurons stay above threshold after a spike."""
    g = G.with_reset(G.recurrent(scale=12.0, rec_scale=4.0, neuron=lambda n: G.lif(n, tau=0.004)), "subtract")
    x = G.spikes((6,), batch=3, steps=6, density=0.5)

    def check(emu, result):
        assert all(r.subtract for r in emu._neurons.values())
        same = G.recurrent(scale=12.0, rec_scale=4.0, neuron=lambda n: G.lif(n, tau=0.004))
        zero = backends.load(G.with_reset(same, "zero"), profile, "emulator").run(x, record=True)
        for a, b in zip(result.layers, zero.layers):
            assert int(a.sum()) > int(b.sum())  # the kept excess spikes again: the subtract path ran
        _all_spike(result)

    return g, x, check


def _membrane(result):
    """The readout's trace holds membrane values, not 0/1 spikes, and moves."""
    trace = result.layers[-1]
    assert result.readout == "max"
    assert not torch.all((trace == 0) | (trace == 1)) and float(trace.abs().max()) > 0


def case_li_readout(profile):
    """An LI readout (NIR's leaky integrator) after a spiking layer: Lava's LeakyIntegrator process."""
    g = G.with_readout(G.chain([10, 16, 5], lambda n: G.lif(n, tau=0.002), scale=3.0), G.li)
    x = G.spikes((10,), batch=3, steps=6, density=0.4)

    def check(emu, result):
        assert emu.network.readout and emu.network.population("n1").neuron == "LI"
        _all_spike(type(result)(result.window, result.output, result.layers[:-1]))
        _membrane(result)

    return g, x, check


def case_cubali_readout(profile):
    """A CubaLI readout with a bias, fed by a recurrent population: a slow current, after the group."""
    g = G.with_readout(G.recurrent(scale=10.0, rec_scale=6.0, neuron=lambda n: G.lif(n, tau=0.002)), G.cubali)
    g.nodes["fc_out"] = nir.Affine(g.nodes["fc_out"].weight, np.full(4, 0.05))
    x = G.spikes((6,), batch=3, steps=6, density=0.4)

    def check(emu, result):
        assert emu.network.population("out").neuron == "CubaLI" and emu._neurons["out"].slow
        _membrane(result)
        assert float(result.layers[-1][:, -1].abs().min()) > 0  # the bias keeps it moving after the input

    return g, x, check


def case_delay(profile):
    """NIR Delay nodes (Lava's DelayDense): on a recurrent projection and into the output."""
    g = G.delayed_recurrent()
    x = G.spikes((6,), batch=3, steps=6, density=0.4)

    def check(emu, result):
        delayed = {p.name: p.max_delay for p in emu.network.projections if p.delays is not None}
        assert delayed == {"hidden->hidden": 3, "hidden->out": 2} and emu.network.latency == 4
        plain = G.recurrent(scale=10.0, rec_scale=6.0, neuron=lambda n: G.lif(n, tau=0.002))
        without = backends.load(plain, profile, "emulator").run(x, record=True)
        assert not torch.equal(without.layers[0], result.layers[0][:, : without.layers[0].shape[1]])
        _all_spike(result)

    return g, x, check


def case_skip(profile):
    g = G.skip(scale=10.0, neuron=lambda n: G.lif(n, tau=0.002))
    x = G.spikes((6,), batch=3, steps=6, density=0.5)

    def check(emu, result):
        assert len(emu.network.incoming("out")) == 2
        _all_spike(result)

    return g, x, check


def case_negative_weight_exp(profile):
    g = G.chain([200, 6], G.if_, scale=0.0)
    g.nodes["fc0"].weight = np.full((6, 200), 0.01)  # weights far below the threshold
    x = G.spikes((200,), batch=3, steps=6, density=0.8)

    def check(emu, result):
        assert emu.qnet.projections[0].weight_exp < 0
        _all_spike(result)

    return g, x, check


def case_int32_wrap(profile, monkeypatch):
    g = G.chain([1500, 4], G.if_, scale=0.0)
    g.nodes["fc0"].weight = np.full((4, 1500), 3.0)  # weight_exp 7: (acc << 7) << 6 passes 2**31
    x = G.spikes((1500,), batch=2, steps=3, density=0.9)
    changed = _spy(monkeypatch, "wrap32")

    def check(emu, result):
        assert emu.qnet.projections[0].weight_exp == 7
        assert any(changed)

    return g, x, check


def case_state_wrap(profile, monkeypatch):
    g = G.chain([400, 20, 10], G.if_, scale=30.0)
    x = G.spikes((400,), batch=3, steps=5, density=0.9)
    changed = _spy(monkeypatch, "wrap_state")

    def check(emu, result):
        assert any(changed)  # the 24-bit current wrapped

    return g, x, check


def case_single_sign(profile):
    rng = np.random.default_rng(3)
    nodes = {
        "input": nir.Input(np.array([8])),
        "exc": nir.Linear(np.abs(rng.normal(0, 1.5, (6, 8)))),
        "a": G.if_(6),
        "inh": nir.Linear(-np.abs(rng.normal(0, 2.0, (4, 6)))),
        "exc2": nir.Linear(np.abs(rng.normal(0, 1.0, (4, 8)))),
        "b": G.if_(4),
        "output": nir.Output(np.array([4])),
    }
    edges = [
        ("input", "exc"),
        ("exc", "a"),
        ("a", "inh"),
        ("inh", "b"),
        ("input", "exc2"),
        ("exc2", "b"),
        ("b", "output"),
    ]
    g = G.graph(nodes, edges)
    x = G.spikes((8,), batch=3, steps=6, density=0.5)

    def check(emu, result):
        signs = {
            p.name: (np.sign(p.weight[p.weight != 0]).min(), np.sign(p.weight[p.weight != 0]).max())
            for p in emu.qnet.projections
        }
        assert signs["a->b"] == (-1, -1) and signs["input->a"] == (1, 1)  # inhibitory and excitatory modes
        _all_spike(result)

    return g, x, check


def case_pool_into_map(profile):
    """Conv -> LIF -> AvgPool2d -> LIF: a dense projection into a map-shaped population (Lava's
    Dense output reshaped to the LIF's (W, H, C))."""
    rng = np.random.default_rng(5)
    nodes = {
        "input": nir.Input(np.array([2, 8, 8])),
        "c1": nir.Conv2d((8, 8), rng.normal(0, 1.5, (4, 2, 3, 3)), 1, 1, 1, 1, np.zeros(4)),
        "n1": G.lif(4 * 64, tau=0.002),
        "pool": nir.AvgPool2d(np.array([2, 2]), np.array([2, 2]), np.array([0, 0])),
        "n2": G.if_(4 * 16, vth=0.3),
        "output": nir.Output(np.array([4, 4, 4])),
    }
    edges = [("input", "c1"), ("c1", "n1"), ("n1", "pool"), ("pool", "n2"), ("n2", "output")]
    g = G.graph(nodes, edges)
    x = G.spikes((2, 8, 8), batch=3, steps=5, density=0.4)

    def check(emu, result):
        proj = emu.network.projections[1]
        assert proj.synapse == "dense" and proj.out_shape == (4, 4, 4)
        _all_spike(result)

    return g, x, check


def case_tau_groups(profile):
    """Per-neuron time constants: one Lava LIF process per group, the dense projections split by group."""
    g = G.chain([8, 10, 6], lambda n: G.lif(n, tau=np.resize([0.002, 0.004, 0.003], n)), scale=6.0)
    x = G.spikes((8,), batch=3, steps=6, density=0.5)

    def check(emu, result):
        assert [len(p.groups()) for p in emu.network.populations] == [3, 3]
        _all_spike(result)

    return g, x, check


def case_conv1d(profile):
    rng = np.random.default_rng(6)
    nodes = {
        "input": nir.Input(np.array([2, 12])),
        "c": nir.Conv1d(12, rng.normal(0, 2.0, (3, 2, 3)), 1, 1, 1, 1, np.zeros(3)),
        "n": G.lif(3 * 12, tau=0.002),
        "flat": nir.Flatten({"input": np.array([3, 12])}, 0, -1),
        "fc": nir.Linear(rng.normal(0, 1.0, (4, 36))),
        "out": G.lif(4, tau=0.002),
        "output": nir.Output(np.array([4])),
    }
    edges = [("input", "c"), ("c", "n"), ("n", "flat"), ("flat", "fc"), ("fc", "out"), ("out", "output")]
    g = G.graph(nodes, edges)
    x = G.spikes((2, 12), batch=3, steps=6, density=0.5)

    def check(emu, result):
        assert emu.network.projections[0].synapse == "conv" and emu.network.projections[0].in_shape == (2, 12)
        _all_spike(result)

    return g, x, check


def _spy(monkeypatch, name):
    changed = []
    original = getattr(loihi, name)

    def spy(x, *args):
        out = original(x, *args)
        changed.append(bool((out != x).any()))
        return out

    monkeypatch.setattr(loihi, name, spy)
    return changed


CASES = {
    "dense": case_dense,
    "conv": case_conv,
    "pooling-folded": case_pooling_folded,
    "biases": case_biases,
    "cubalif": case_cubalif,
    "recurrence": case_recurrence,
    "subtract": case_subtract,
    "li-readout": case_li_readout,
    "cubali-readout": case_cubali_readout,
    "delay": case_delay,
    "skip": case_skip,
    "negative-weight-exp": case_negative_weight_exp,
    "int32-wrap": case_int32_wrap,
    "state-wrap": case_state_wrap,
    "single-sign": case_single_sign,
    "pool-into-map": case_pool_into_map,
    "tau-groups": case_tau_groups,
    "conv1d": case_conv1d,
}
FIXED_ONLY = {"negative-weight-exp", "int32-wrap", "state-wrap", "single-sign"}


# loihi2-w6 differs from loihi2 and loihi2-w4 (both run every case) in the weight grid only: it runs
# the cases whose path the grid changes; floating_pt has no mantissas, exponents or wraps
GRID_CASES = {"dense", "conv", "pooling-folded", "negative-weight-exp", "int32-wrap", "single-sign", "tau-groups"}
MATRIX = [
    (profile, case)
    for case in CASES
    for profile in PROFILES
    if not (profile == "float" and case in FIXED_ONLY) and not (profile == "loihi2-w6" and case not in GRID_CASES)
]


@pytest.mark.parametrize("profile, case", MATRIX)
def test_emulator_equals_lava(profile, case, monkeypatch):
    make = CASES[case]
    g, x, check = make(profile, monkeypatch) if "monkeypatch" in make.__code__.co_varnames else make(profile)
    emu = _emulator(g, profile)
    steps = emu.run(x, record=True)
    check(emu, steps)
    fused = _compare(g, x, profile)
    assert all(torch.equal(a, b) for a, b in zip(steps.layers, fused.layers))


@pytest.mark.parametrize("case", ["biases", "cubalif", "recurrence"])
def test_samples_are_independent_in_every_mode(case):
    """Lava's long run (state zeroed between samples), Lava fresh per sample and the emulator agree,
    and each sample's spikes do not depend on the sample before it."""
    g, x, _ = CASES[case]("loihi2")
    x = x[:3]
    emu = backends.load(g, "loihi2", "emulator").run(x, record=True)
    long = backends.load(g, "loihi2", "lava").run(x, record=True)
    fresh = backends.load(g, "loihi2", "lava", fresh=True).run(x, record=True)
    for a, b, c in zip(emu.layers, long.layers, fresh.layers):
        assert torch.equal(a, b) and torch.equal(a, c)
    alone = backends.load(g, "loihi2", "lava").run(x[2:], record=True)
    assert all(torch.equal(a[2:], b) for a, b in zip(long.layers, alone.layers))


def test_quiet_networks_run_long_with_lifreset_and_agree_with_pausing(monkeypatch):
    """An IF chain without biases keeps residual voltages between samples: LIFReset at each window's
    start (one long run) and pausing to zero the state give the fresh network's spikes."""
    from backends.lava import LavaExecutor

    g = G.chain([6, 10, 4], G.if_, scale=1.5)
    x = G.spikes((6,), batch=4, steps=5, density=0.4)
    assert backends.load(g, "loihi2", "lava").quiet()
    assert not backends.load(G.chain([6, 10, 4], G.if_, bias=0.1), "loihi2", "lava").quiet()
    assert not backends.load(G.recurrent(), "loihi2", "lava").quiet()
    # a subtract-reset neuron above threshold spikes on after its input stops: no LIFReset run
    assert not backends.load(G.with_reset(G.chain([6, 10, 4], G.if_, scale=1.5), "subtract"), "loihi2", "lava").quiet()
    fresh = backends.load(g, "loihi2", "lava", fresh=True).run(x, record=True)
    quiet = backends.load(g, "loihi2", "lava").run(x, record=True)
    monkeypatch.setattr(LavaExecutor, "quiet", lambda self: False)
    paused = backends.load(g, "loihi2", "lava").run(x, record=True)
    emu = backends.load(g, "loihi2", "emulator").run(x, record=True)
    assert fresh.layers[-1].sum() > 0
    for a, b, c, d in zip(fresh.layers, quiet.layers, paused.layers, emu.layers):
        assert torch.equal(a, b) and torch.equal(a, c) and torch.equal(a, d)


def test_batches_above_the_emulator_batch():
    g = G.chain([5, 6, 3], G.if_, scale=2.0, bias=0.1)
    x = G.spikes((5,), batch=300, steps=2, density=0.5)
    emu = backends.load(g, "loihi2", "emulator")
    assert emu.batch_size < len(x)
    result = _compare(g, x, "loihi2", samples_per_run=None)
    assert result.layers[-1].sum() > 0


def test_float_lava_equals_the_reference_up_to_the_hardware_delay():
    """floating_pt Lava and the float reference give the same spikes once the hardware delay is
    removed (a chain of L layers answers input step t at step t + L; no biases, so nothing moves
    before the input arrives)."""
    g = G.chain([8, 12, 6], lambda n: G.lif(n, tau=0.002), scale=6.0)
    x = G.spikes((8,), batch=3, steps=6, density=0.4)
    ref = backends.load(g, None, "reference").run(x)
    lava = backends.load(g, "float", "lava").run(x)
    assert ref.counts.sum() > 0
    assert torch.equal(ref.output, lava.output)


@pytest.mark.serial  # /dev/shm is machine-wide: another worker's Lava run would show there
def test_no_process_or_shared_memory_left_after_a_failing_run(monkeypatch):
    g = G.chain([6, 8, 10], G.if_)
    x = G.spikes((6,), batch=2, steps=4)
    backends.load(g, "loihi2", "lava").run(x)  # warm-up: the resource tracker lives on by design
    procs, shm = descendants(os.getpid()), set(os.listdir("/dev/shm"))
    broken = backends.load(g, "loihi2", "lava")
    build = broken._build
    started = []

    def failing_build(*args, **kwargs):
        source, sinks, lifs, synapses = build(*args, **kwargs)

        def fail():
            started.append(len(descendants(os.getpid()) - procs))  # the runtime is up: Lava processes exist
            raise RuntimeError("reading the output failed")

        for parts in sinks.values():
            for _, sink in parts:
                sink.data.get = fail
        return source, sinks, lifs, synapses

    monkeypatch.setattr(broken, "_build", failing_build)
    with pytest.raises(RuntimeError, match="reading the output failed"):
        broken.run(x)
    assert started and started[0] > 0
    assert descendants(os.getpid()) <= procs
    assert set(os.listdir("/dev/shm")) <= shm
    ok = backends.load(g, "loihi2", "lava").run(x)
    assert descendants(os.getpid()) <= procs and ok.window.shape == (2, 6, 10)


def test_bad_hardware_input():
    g = G.chain([6, 8, 10], G.if_)
    emu = backends.load(g, "loihi2", "emulator")
    with pytest.raises(ValueError, match=r"expected spikes \[B, T, 6\]"):
        emu.run(torch.zeros(2, 3, 7))
    with pytest.raises(ValueError, match="binary"):
        emu.run(torch.full((2, 3, 6), 0.5))
    with pytest.raises(ValueError, match="backend kind"):
        backends.load(g, "loihi2", "loihi")
    with pytest.raises(ValueError, match="float only"):
        backends.load(g, "loihi2", "reference")


def test_each_lava_dense_block_keeps_its_own_sign_mode():
    """A population split by time constants runs as several Lava Dense blocks, each with its own sign
    mode: an all-negative block clips the mixed grid's -256 to -255. The emulator applies it block by block."""
    w = np.zeros((4, 6))
    w[[0, 2]] = -np.linspace(1.0, 2.0, 6)  # the tau-0.002 group: only negative weights, largest |w| = 2
    w[[1, 3]] = np.linspace(0.2, 1.0, 6)  # the tau-0.004 group: positive
    g = G.chain([6, 4], lambda n: G.lif(n, tau=np.resize([0.002, 0.004], n)), scale=0.0)
    g.nodes["fc0"].weight = w
    emu = backends.load(g, "loihi2", "emulator")
    q = emu.qnet.projections[0]
    assert q.weight.min() == -256 and (q.weight[[0, 2]] <= 0).all()  # the whole matrix is mixed
    assert int(emu.synapse(q.name).weight.min()) == -255  # the inhibitory block, as Lava applies it
    x = G.spikes((6,), batch=3, steps=6, density=0.6)
    _compare(g, x, "loihi2")
