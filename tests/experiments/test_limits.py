"""The limits measure what they claim: they count and time the work they name (never a timed test:
counts, sums and choices)."""

import numba
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import backends
from neuroattack.experiments import limits
from neuroattack.experiments.limits import dense_limit_seconds, event_limit, synaptic_events
from tests.backends import graphs as G


def test_the_dense_limit_convolves_a_folded_pooling_as_the_emulator_does(monkeypatch):
    """A sum-pool folded into the next conv (a 6x6 kernel at stride 2) is timed as the emulator runs
    it: the pool, then the 3x3 kernel at stride 1, b*b = 4 times fewer taps than the folded one."""
    net = backends.lower(G.conv(scale=6.0, pool="sum"))
    folded = net.projections[1]
    assert folded.weight.shape[2:] == (6, 6) and folded.stride == (2, 2)
    kernels = []
    real = F.conv2d

    def spy(x, w, *args, **kwargs):
        kernels.append(tuple(w.shape[2:]))
        return real(x, w, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "conv2d", spy)
    seconds = dense_limit_seconds(net, 4, 2, min_seconds=0.01)
    assert (3, 3) in kernels and (6, 6) not in kernels
    assert set(seconds) == {p.name for p in net.projections} and all(s > 0 for s in seconds.values())


def _hand_count_conv_net() -> dict[str, int]:
    """Input-output pairs of :func:`G.conv` with a sum-pool, counted by hand from its NIR layers:
    c1 (2, 8, 8) -> (4, 8, 8), 3x3, padding 1; the pool 2 then c2 (4, 4, 4) -> (4, 2, 2), 3x3;
    fc 16 -> 5."""
    c1 = 0
    for y in range(8):
        for x in range(8):  # outputs (oy, ox) whose 3x3 window, padded by 1, holds (y, x)
            c1 += sum(1 for oy in range(8) for ox in range(8) if abs(oy - y) <= 1 and abs(ox - x) <= 1)
    c2 = 0
    for y in range(8):
        for x in range(8):  # (y, x) is summed into pooled cell (y // 2, x // 2), which 3x3 windows hold
            py, px = y // 2, x // 2
            c2 += sum(1 for oy in range(2) for ox in range(2) if 0 <= py - oy < 3 and 0 <= px - ox < 3)
    return {"input->n1": 2 * 4 * c1, "n1->n2": 4 * 4 * c2, "n2->n3": 16 * 5}


@pytest.mark.parametrize("profile", ["loihi2", "float"])
def test_synaptic_events_are_active_inputs_times_the_outputs_each_reaches(profile):
    """Counted against a hand count on a conv (padded borders), a folded sum-pool (undone by the
    fixed-point emulator, convolved folded in Lava's order by the float one: the same outputs
    reached) and a dense layer; active steps are T plus one per projection on the path."""
    emu = backends.load(G.conv(scale=6.0, pool="sum"), profile, "emulator")
    assert (emu.synapse("n1->n2").unfolded is not None) == (profile == "loihi2")
    densities = {"input": 0.25, "n1": 0.5, "n2": 0.125}
    steps = {"input": 4, "n1": 5, "n2": 6}
    pairs = _hand_count_conv_net()
    events = synaptic_events(emu, 4, densities)
    expected = {"input->n1": "input", "n1->n2": "n1", "n2->n3": "n2"}
    assert events == pytest.approx({k: densities[s] * steps[s] * pairs[k] for k, s in expected.items()})


def test_the_event_limit_is_the_events_over_the_measured_rate(monkeypatch):
    """Each projection's events of one sample over the rate measured for rows of its shape (its
    outputs for a dense layer, C_out for a conv): what a rate and a count give, nothing else."""
    emu = backends.load(G.conv(scale=6.0, pool="sum"), "loihi2", "emulator")
    calls = []

    def rate(row_length, out_length, weight_rows, rows_per_sample, samples, device, min_seconds):
        calls.append((row_length, out_length, weight_rows, rows_per_sample))
        return 1e6 * row_length

    monkeypatch.setattr(limits, "scatter_add_rate", rate)
    densities = {"input": 0.25, "n1": 0.5, "n2": 0.0}
    rows = event_limit(emu, 4, densities, batch=8, min_seconds=0.01)
    events = synaptic_events(emu, 4, densities)
    assert [r["row_length"] for r in rows.values()] == [4, 4, 5]
    assert calls[0][:3] == (4, 256, 2 * 3 * 3) and calls[1][:3] == (4, 16, 4 * 3 * 3)  # the unfolded kernel
    assert len(calls) == 2  # no events, nothing to time
    assert calls[0][3] == round(events["input->n1"] / 4)
    for name, row in rows.items():
        assert row["events_per_sample"] == events[name]
        expected = events[name] / (1e6 * row["row_length"]) if events[name] else 0.0
        assert row["seconds_per_sample"] == pytest.approx(expected)


@pytest.mark.parametrize("engine", ["numba", "numba rows", "torch"])
def test_the_scatter_micro_benchmark_adds_the_rows_it_counts(engine):
    """The timed kernel does the additions it is credited with: every sample's outputs get every
    event's weight row at its offset."""
    rng = np.random.default_rng(3)
    weights = rng.integers(-128, 128, (7, 4), dtype=np.int8)
    rows = rng.integers(0, 7, 50)
    offsets = rng.integers(0, 3, 50) * 4
    expected = np.zeros((5, 12), dtype=np.int32)
    for r, o in zip(rows, offsets):
        expected[:, o : o + 4] += weights[r]
    if engine.startswith("numba"):
        out = np.zeros((5, 12), dtype=np.int32)
        (limits._scatter_row_slices if engine == "numba rows" else limits._scatter_rows)(rows, offsets, weights, out)
    else:
        out = torch.zeros((5, 12), dtype=torch.int32)
        limits._scatter_rows_torch(*(torch.as_tensor(a) for a in (rows, offsets, weights)), out)
        out = out.numpy()
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("dense, event, best", [(0.01, 0.5, "dense"), (0.5, 0.01, "event")])
def test_the_best_limit_is_the_faster_one(monkeypatch, dense, event, best):
    """The machine's bound is whichever way of doing the exact synaptic work is quicker; the
    emulator's fraction is of that one."""
    emu = backends.load(G.conv(scale=6.0, pool="sum"), "loihi2", "emulator")
    names = [p.name for p in emu.network.projections]
    monkeypatch.setattr(limits, "dense_limit_seconds", lambda *a, **k: {n: dense / 3 for n in names})

    def events(*args, **kwargs):
        row = {"events_per_sample": 100.0, "row_length": 4, "scatter_adds_per_s": 1.0}
        return {n: {**row, "seconds_per_sample": event / 3 / 10} for n in names}

    monkeypatch.setattr(limits, "event_limit", events)
    out = limits.limits_report(emu, 4, 10, {}, "cpu", 0.01, warm_sps=7.0)
    assert out["dense_limit_samples_per_s"] == pytest.approx(10 / dense)
    assert out["event_limit_samples_per_s"] == pytest.approx(10 / event)
    assert out["best_limit"] == best
    assert out["best_limit_samples_per_s"] == pytest.approx(10 / min(dense, event))
    assert out["emulator_fraction_of_best_limit"] == pytest.approx(7.0 * min(dense, event) / 10)
    assert out["synaptic_events_per_sample"] == 300.0
    assert out["scatter_adds_per_s"] == pytest.approx(300.0 / (event / 10))


def test_a_gpu_times_more_samples_per_scatter_call(monkeypatch):
    """A GPU's many threads idle on a CPU-sized call: it times 16 times the additions (the batch
    permitting), a CPU at least 4 samples a thread."""
    emu = backends.load(G.chain([64, 32], G.lif), "loihi2", "emulator")
    samples = {}

    def rate(row_length, out_length, weight_rows, rows_per_sample, n, device, min_seconds):
        samples[str(device)] = (n, n * rows_per_sample * row_length)
        return 1e9

    monkeypatch.setattr(limits, "scatter_add_rate", rate)
    for device in ("cpu", "cuda"):  # the rate is not measured: no GPU needed
        event_limit(emu, 4, {"input": 0.5}, batch=10**7, device=device)
    assert samples["cuda"][0] > samples["cpu"][0] >= 4 * numba.get_num_threads()
    assert samples["cpu"][1] >= 2**24 and samples["cuda"][1] >= 2**28
