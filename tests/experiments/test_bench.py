"""The bench measures what it claims: its limits count and time the work they name, its cold run
starts from nothing (never a timed test: counts, sums, choices and processes)."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import backends
from neuroattack.experiments import bench
from neuroattack.experiments.bench import dense_limit_seconds, event_limit, synaptic_events
from tests.backends import graphs as G

ROOT = Path(__file__).resolve().parents[2]


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

    monkeypatch.setattr(bench, "scatter_add_rate", rate)
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
        (bench._scatter_row_slices if engine == "numba rows" else bench._scatter_rows)(rows, offsets, weights, out)
    else:
        out = torch.zeros((5, 12), dtype=torch.int32)
        bench._scatter_rows_torch(*(torch.as_tensor(a) for a in (rows, offsets, weights)), out)
        out = out.numpy()
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("dense, event, best", [(0.01, 0.5, "dense"), (0.5, 0.01, "event")])
def test_the_best_limit_is_the_faster_one(monkeypatch, dense, event, best):
    """The machine's bound is whichever way of doing the exact synaptic work is quicker; the
    emulator's fraction is of that one."""
    emu = backends.load(G.conv(scale=6.0, pool="sum"), "loihi2", "emulator")
    names = [p.name for p in emu.network.projections]
    monkeypatch.setattr(bench, "dense_limit_seconds", lambda *a, **k: {n: dense / 3 for n in names})

    def events(*args, **kwargs):
        row = {"events_per_sample": 100.0, "row_length": 4, "scatter_adds_per_s": 1.0}
        return {n: {**row, "seconds_per_sample": event / 3 / 10} for n in names}

    monkeypatch.setattr(bench, "event_limit", events)
    out = bench._limits(emu, 4, 10, {}, "cpu", 0.01, warm_sps=7.0)
    assert out["dense_limit_samples_per_s"] == pytest.approx(10 / dense)
    assert out["event_limit_samples_per_s"] == pytest.approx(10 / event)
    assert out["best_limit"] == best
    assert out["best_limit_samples_per_s"] == pytest.approx(10 / min(dense, event))
    assert out["emulator_fraction_of_best_limit"] == pytest.approx(7.0 * min(dense, event) / 10)
    assert out["synaptic_events_per_sample"] == 300.0
    assert out["scatter_adds_per_s"] == pytest.approx(300.0 / (event / 10))


@pytest.fixture(scope="module")
def emulator_only(tmp_path_factory):
    """One emulator-only bench of a tiny conv net, its temporary files in a folder of its own."""
    temp = tmp_path_factory.mktemp("temp")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tempfile, "tempdir", str(temp))
        spikes = G.spikes((2, 8, 8), batch=6)
        report = bench.bench_backends(
            G.conv(scale=6.0, pool="sum"), spikes, "loihi2", lava_samples=9, batch_size=4, min_seconds=0.02, lava=False
        )
    return report, temp


def test_the_cold_run_is_a_fresh_process_with_an_empty_kernel_cache(emulator_only):
    """Cold is cold: another process, nothing compiled when it starts (numba's cache empty, then
    filled by the kernels it compiled), Lava's cold run's samples (--no-lava all the same), and
    its temporary files gone after."""
    report, temp = emulator_only
    child = report["emulator_cold_process"]
    assert child["pid"] != os.getpid()
    assert child["numba_cache_files_at_start"] == 0 < child["numba_cache_files_at_end"]
    assert report["emulator_cold_samples"] == 9 != report["emulator_batch"]
    assert report["emulator_cold_samples_per_s"] == pytest.approx(9 / report["emulator_cold_seconds"])
    assert list(temp.iterdir()) == []


def test_the_report_names_the_better_limit_and_the_fraction_of_it(emulator_only):
    report, _ = emulator_only
    limits = {"dense": report["dense_limit_samples_per_s"], "event": report["event_limit_samples_per_s"]}
    assert report["best_limit"] == max(limits, key=limits.get)
    fraction = report["emulator_warm_samples_per_s"] / max(limits.values())
    assert report["emulator_fraction_of_best_limit"] == pytest.approx(fraction)
    events = sum(row["synaptic_events_per_sample"] for row in report["limit_projections"])
    assert report["synaptic_events_per_sample"] == pytest.approx(events) and events > 0


def _pid_file_child(path) -> str:
    return f"import os, time\nopen({str(path)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)\n"


def _gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:
            with open(f"/proc/{pid}/stat") as f:  # a zombie waiting for its parent is gone too
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def _kill(parent: subprocess.Popen, pid_file: Path) -> None:
    """A failed test leaves neither the parent nor its sleeping child behind."""
    parent.kill()
    parent.wait()
    if pid_file.exists() and pid_file.read_text():
        try:
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_child_is_killed_when_the_wait_fails(tmp_path):
    pid_file = tmp_path / "pid"
    with pytest.raises(subprocess.TimeoutExpired):
        bench._run_child(_pid_file_child(pid_file), [], dict(os.environ), timeout=1.5)
    assert _gone(int(pid_file.read_text()), within=0.5)


def test_a_child_that_fails_says_why():
    with pytest.raises(RuntimeError, match="exit 3"):
        bench._run_child("import sys\nprint('the reason')\nsys.exit(3)", [], dict(os.environ))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_child_dies_with_a_killed_bench(tmp_path, sig):
    """A bench killed by a signal cannot clean up: its child goes anyway."""
    pid_file = tmp_path / "pid"
    code = (
        "from neuroattack.experiments.bench import _run_child\n"
        f"_run_child({_pid_file_child(pid_file)!r}, [], dict(__import__('os').environ))\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        parent.send_signal(sig)
        parent.wait(10)
        assert _gone(int(pid_file.read_text()))
    finally:
        _kill(parent, pid_file)


def test_the_warm_rate_is_the_median_batch_with_its_spread(emulator_only):
    report, _ = emulator_only
    spread = report["emulator_warm_samples_per_s_spread"]
    assert spread["n"] >= 5
    assert spread["min"] <= spread["q1"] <= spread["median"] <= spread["q3"] <= spread["max"]
    assert report["emulator_warm_samples_per_s"] == spread["median"]


def test_lavas_steady_state_is_the_median_of_repeated_marginal_rates():
    """Each pair of runs (N, 4N) gives 3N over the difference of their times, fixed costs cancelled;
    a pair whose longer run was not slower gives no rate and is left out of the median."""
    per_sample = iter([0.01, 0.01, 0.02, 0.02, 0.04, 0.04, 0.01, 0.001])
    fixed = iter([5.0, 5.0, 2.0, 2.0, 9.0, 9.0, 3.0, 3.0])
    out = bench._steady_rates(lambda n: next(fixed) + n * next(per_sample), samples=10, repeats=4)
    assert [p["samples_per_s"] for p in out["lava_steady_pairs"]] == pytest.approx([100.0, 50.0, 25.0, None])
    assert out["lava_steady_samples_per_s"] == pytest.approx(50.0)
    spread = out["lava_steady_samples_per_s_spread"]
    assert (spread["min"], spread["max"], spread["n"]) == pytest.approx((25.0, 100.0, 3))
    assert bench._steady_rates(lambda n: 1.0, 10, 2)["lava_steady_samples_per_s"] is None


def test_the_lava_side_of_the_report_with_the_emulator_standing_in(monkeypatch):
    """Lava's steady state from --repeats pairs, the load average during its runs, the cold ratio
    from both cold runs of the same samples (the emulator stands in for Lava: no lava-nc here)."""
    real = backends.load

    def load(graph, profile=None, kind="emulator", *args, **kwargs):
        if kind == "lava":
            kwargs.pop("fresh", None)
            kind = "emulator"
        return real(graph, profile, kind, *args, **kwargs)

    monkeypatch.setattr(backends, "load", load)
    cold = {"seconds": 2.0, "samples": 6, "pid": -1}
    monkeypatch.setattr(bench, "emulator_cold", lambda *args, **kwargs: cold)
    report = bench.bench_backends(
        G.conv(scale=6.0, pool="sum"),
        G.spikes((2, 8, 8), batch=6),
        "loihi2",
        lava_samples=6,
        batch_size=4,
        fresh_samples=2,
        min_seconds=0.01,
        repeats=2,
    )
    assert len(report["lava_steady_pairs"]) == 2
    assert set(report["load_average_1min"]) == {"before", "during_emulator", "during_lava"}
    assert report["emulator_cold_over_lava_cold"] == pytest.approx(report["lava_cold_seconds"] / 2.0)
    assert report["output_spike_match_fraction"] == 1.0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_a_terminated_cold_run_kills_its_child_and_removes_its_files(tmp_path):
    """SIGTERM during the cold run cleans up as Ctrl-C does: the child killed, the temporary
    folder (graph, spikes, numba's cache) removed, the bench exiting 128 + 15."""
    pid_file, temp = tmp_path / "pid", tmp_path / "temp"
    temp.mkdir()
    code = (
        "import neuroattack.experiments.bench as b\n"
        "from tests.backends import graphs as G\n"
        f"b._COLD_CHILD = {_pid_file_child(pid_file)!r}\n"
        "b.emulator_cold(G.conv(scale=6.0, pool='sum'), G.spikes((2, 8, 8), batch=2), 'loihi2', 2)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(temp)}
    parent = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(list(temp.iterdir())) == 1  # the cold run's folder, while it runs
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(10) == 128 + signal.SIGTERM
        assert _gone(int(pid_file.read_text()), within=0.5)
        assert list(temp.iterdir()) == []
    finally:
        _kill(parent, pid_file)


def test_a_gpu_times_more_samples_per_scatter_call(monkeypatch):
    """A GPU's many threads idle on a CPU-sized call: it times 16 times the additions (the batch
    permitting), a CPU at least 4 samples a thread."""
    emu = backends.load(G.chain([64, 32], G.lif), "loihi2", "emulator")
    samples = {}

    def rate(row_length, out_length, weight_rows, rows_per_sample, n, device, min_seconds):
        samples[str(device)] = (n, n * rows_per_sample * row_length)
        return 1e9

    monkeypatch.setattr(bench, "scatter_add_rate", rate)
    for device in ("cpu", "cuda"):  # the rate is not measured: no GPU needed
        event_limit(emu, 4, {"input": 0.5}, batch=10**7, device=device)
    assert samples["cuda"][0] > samples["cpu"][0] >= 4 * bench.numba.get_num_threads()
    assert samples["cpu"][1] >= 2**24 and samples["cuda"][1] >= 2**28


def test_the_limits_take_the_threads_the_emulator_took(monkeypatch, emulator_only):
    """Like with like: on a busy machine the emulator takes the free cores, and so do its limits."""
    report, _ = emulator_only
    assert report["limit_threads"] == report["emulator_threads"]
    emu = backends.load(G.conv(scale=6.0, pool="sum"), "loihi2", "emulator")
    seen = []

    def dense(*args, **kwargs):
        seen.append((torch.get_num_threads(), bench.numba.get_num_threads()))
        return {p.name: 1.0 for p in emu.network.projections}

    monkeypatch.setattr(bench, "dense_limit_seconds", dense)
    before = torch.get_num_threads()
    assert bench._limits(emu, 4, 10, {}, "cpu", 0.01, 1.0, threads=1)["limit_threads"] == 1
    assert seen == [(1, 1)] and torch.get_num_threads() == before
