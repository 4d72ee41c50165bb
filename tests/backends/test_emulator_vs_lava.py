"""The emulator equals Lava's fixed_pt models spike for spike, at every layer and step."""

import os

import pytest
import torch

import backends
from neuroattack.export import to_nir
from tests.backends.helpers import random_graph, random_spikes

LOIHI = "loihi2"


def _compare(graph, x, profile=LOIHI, **options):
    emu = backends.load(graph, profile, "emulator").run(x, record=True)
    lava = backends.load(graph, profile, "lava", **options).run(x, record=True)
    for i, (a, b) in enumerate(zip(emu.layers, lava.layers)):
        assert a.shape == b.shape, i
        assert torch.equal(a, b), f"layer {i}: {int((a != b).sum())} of {a.numel()} spikes differ"
    assert torch.equal(emu.window, lava.window)
    return emu


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_dense_graphs(seed):
    leak = [0.5, 0.9, 1.0][seed]
    _, g = random_graph("24FC-16FC-10FC", (2, 5, 5), leak=leak, init_scale=3.0, seed=seed)
    emu = _compare(g, random_spikes((2, 5, 5), batch=4, steps=6, density=0.25, seed=seed))
    assert emu.layers[-1].sum() > 0


@pytest.mark.parametrize("seed", [0, 1])
def test_random_conv_graphs(seed):
    _, g = random_graph("4C3-AP2-6C3-AP2-10FC", (2, 8, 8), leak=[0.5, 1.0][seed], init_scale=5.0, seed=seed)
    emu = _compare(g, random_spikes((2, 8, 8), batch=3, steps=5, density=0.3, seed=seed))
    assert all(layer.sum() > 0 for layer in emu.layers)


def test_current_overflow_wraps_as_on_lava(monkeypatch):
    """Strong weights and dense input push the 24-bit current past 2^23: both wrap it alike."""
    import backends.emulator as emulator

    wrapped = []
    original = emulator.wrap_state

    def spy(x, m):
        wrapped.append(bool(((x > m) | (x <= -m)).any()))
        return original(x, m)

    monkeypatch.setattr(emulator, "wrap_state", spy)
    _, g = random_graph("200FC-10FC", (400,), init_scale=10.0, seed=0)
    _compare(g, random_spikes((400,), batch=3, steps=5, density=0.9))
    assert any(wrapped)


@pytest.mark.parametrize("profile", ["loihi2-w6", "loihi2-w4"])
def test_reduced_precision(profile):
    _, g = random_graph("20FC-10FC", (12,), init_scale=3.0, seed=4)
    _compare(g, random_spikes((12,), batch=4, steps=6, density=0.4), profile)


def test_exported_trained_model(event_victim, event_digits):
    _, xt, _ = event_digits
    graph = to_nir(event_victim.model)
    emu = _compare(graph, xt[:6].float(), samples_per_run=3)
    assert emu.layers[0].sum() > 0


def test_fresh_per_sample_equals_one_long_run():
    _, g = random_graph("16FC-10FC", (9,), init_scale=3.0, seed=5)
    x = random_spikes((9,), batch=3, steps=5, density=0.4)
    long = backends.load(g, LOIHI, "lava").run(x)
    fresh = backends.load(g, LOIHI, "lava", fresh=True).run(x)
    assert torch.equal(long.window, fresh.window)


def test_float_lava_agrees_with_the_reference():
    """floating_pt Lava vs Norse: stated tolerance, prediction agreement >= 95% and spike counts
    within 2% (float summation order differs); here they agree exactly."""
    model, g = random_graph("4C3-AP2-20FC-10FC", (2, 8, 8), init_scale=4.0, seed=3)
    x = random_spikes((2, 8, 8), batch=6, steps=6, density=0.3)
    ref = backends.load(g, None, "reference").run(x)
    lava = backends.load(g, "float", "lava").run(x)
    assert (ref.prediction == lava.prediction).float().mean() >= 0.95
    total = ref.counts.sum()
    assert total > 0 and (ref.counts - lava.counts).abs().sum() <= 0.02 * total
    assert torch.equal(ref.output, lava.output)
    with torch.no_grad():
        sim = model(x.transpose(0, 1)).transpose(0, 1)
    assert torch.equal(ref.output, sim)


def _descendants() -> set[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    found, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return found


def test_no_process_or_shared_memory_left_after_a_failing_run(monkeypatch):
    _, g = random_graph("8FC-10FC", (6,), seed=6)
    x = random_spikes((6,), batch=2, steps=4)
    backends.load(g, LOIHI, "lava").run(x)  # warm-up: the resource tracker lives on by design
    procs, shm = _descendants(), set(os.listdir("/dev/shm"))
    broken = backends.load(g, LOIHI, "lava")
    build = broken._build
    started = []

    def failing_build(*args, **kwargs):
        source, sinks = build(*args, **kwargs)

        def fail():
            started.append(len(_descendants() - procs))  # the runtime is up: Lava processes exist
            raise RuntimeError("reading the output failed")

        sinks[0].data.get = fail
        return source, sinks

    monkeypatch.setattr(broken, "_build", failing_build)
    with pytest.raises(RuntimeError, match="reading the output failed"):
        broken.run(x)
    assert started and started[0] > 0
    assert _descendants() <= procs
    assert set(os.listdir("/dev/shm")) <= shm
    ok = backends.load(g, LOIHI, "lava").run(x)
    assert _descendants() <= procs and ok.window.shape == (2, 6, 10)


def test_bad_hardware_input():
    _, g = random_graph("8FC-10FC", (6,), seed=7)
    emu = backends.load(g, LOIHI, "emulator")
    with pytest.raises(ValueError, match=r"expected spikes \[B, T, 6\]"):
        emu.run(torch.zeros(2, 3, 7))
    with pytest.raises(ValueError, match="binary"):
        emu.run(torch.full((2, 3, 6), 0.5))
    with pytest.raises(ValueError, match="backend kind"):
        backends.load(g, LOIHI, "loihi")
    with pytest.raises(ValueError, match="float only"):
        backends.load(g, LOIHI, "reference")
