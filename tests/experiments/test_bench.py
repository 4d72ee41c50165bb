"""The bench reports what it measured: the cold and warm rates, Lava's steady state and the
machine's limits, each with what it rests on (never a timed test: counts, sums and choices)."""

import os
import tempfile

import numba
import pytest
import torch

import backends
from neuroattack.experiments import bench
from neuroattack.experiments import limits as limits_module
from tests.backends import graphs as G


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


def test_the_limits_take_the_threads_the_emulator_took(monkeypatch, emulator_only):
    """Like with like: on a busy machine the emulator takes the free cores, and so do its limits."""
    report, _ = emulator_only
    assert report["limit_threads"] == report["emulator_threads"]
    emu = backends.load(G.conv(scale=6.0, pool="sum"), "loihi2", "emulator")
    seen = []

    def dense(*args, **kwargs):
        seen.append((torch.get_num_threads(), numba.get_num_threads()))
        return {p.name: 1.0 for p in emu.network.projections}

    monkeypatch.setattr(limits_module, "dense_limit_seconds", dense)
    before = torch.get_num_threads()
    assert limits_module.limits_report(emu, 4, 10, {}, "cpu", 0.01, 1.0, threads=1)["limit_threads"] == 1
    assert seen == [(1, 1)] and torch.get_num_threads() == before
