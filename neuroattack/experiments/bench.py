"""Speed benchmarks, measured by ``neuroattack bench ...`` and written as JSON (never timed tests)."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

import torch

from neuroattack.experiments.cold_run import emulator_cold, tile_samples
from neuroattack.experiments.limits import limits_report, spike_densities
from neuroattack.experiments.timing import (
    competing_load,
    device_sync,
    machine_info,
    median_seconds,
    spread,
    wall_times,
)

if TYPE_CHECKING:
    from neuroattack.models.snn import SNN


def bench_attacks(
    model: SNN,
    images: torch.Tensor,
    labels: torch.Tensor,
    timesteps: tuple[int, ...] = (4, 8, 16),
    repeats: int = 5,
    estimators: tuple[str, ...] | None = None,
    hart_gamma: float = 1.0,
    device="cpu",
) -> dict[str, Any]:
    """Seconds per PGD iteration (one image-gradient step on a batch) per estimator and ``T``; per
    ``T`` also one training step (BPTT and Adam on the batch) and one G2S/RSF iteration (the STBP
    spike gradient and the ternary update on the batch's Bernoulli spikes).

    Each measurement is the median of ``repeats`` steps after one warm-up step, on ``device``
    (queued GPU work waited for); ``estimators`` default to all but ``"ann"``.
    """
    from neuroattack.attacks.base import Attack
    from neuroattack.attacks.estimators import ESTIMATORS
    from neuroattack.attacks.g2s_rsf_steps import g2s
    from neuroattack.encoding import bernoulli_encode
    from neuroattack.losses import resolve_loss
    from neuroattack.victims import Victim

    if estimators is None:
        estimators = tuple(name for name in ESTIMATORS if name != "ann")

    device = torch.device(device)
    sync = device_sync(device)
    model = model.to(device)
    images, labels = images.to(device), labels.to(device)
    rows, steps_rows = [], []
    gen = torch.Generator().manual_seed(0)
    for steps in timesteps:
        victim = Victim(model, "bernoulli", steps, "mse")
        for name in estimators:
            options = {"gamma": hart_gamma} if name == "hart" else {}
            atk = Attack(victim, grad=name, grad_options=options, seed=0)
            seconds = median_seconds(lambda atk=atk: atk.image_gradient(images, labels), 0.0, repeats, sync)
            rows.append({"estimator": name, "timesteps": steps, "seconds_per_iteration": seconds})
        opt = torch.optim.Adam(model.parameters(), lr=0.0)  # lr 0: the step's cost, the weights kept
        loss_fn = resolve_loss("mse")

        def train_step(steps=steps, opt=opt, loss_fn=loss_fn):
            out = model(bernoulli_encode(images, steps, gen))
            opt.zero_grad(set_to_none=True)
            loss_fn(out, labels).mean().backward()
            opt.step()

        spikes = bernoulli_encode(images, steps, gen).transpose(0, 1).detach()
        events = Attack(Victim(model, "events", steps, "mse"), grad="stbp", seed=0)

        def g2s_step(spikes=spikes, events=events):
            grad = events.spike_gradient(spikes.transpose(0, 1), labels).transpose(0, 1)
            return g2s(grad, spikes, gen)

        model.train()
        train_s = median_seconds(train_step, 0.0, repeats, sync)
        model.eval()
        steps_rows.append(
            {
                "timesteps": steps,
                "train_step_seconds": train_s,
                "g2s_rsf_iteration_seconds": median_seconds(g2s_step, 0.0, repeats, sync),
            }
        )
    model.cpu()
    by = {(r["estimator"], r["timesteps"]): r["seconds_per_iteration"] for r in rows}
    ratios = {
        f"hart_over_stbp_T{t}": by[("hart", t)] / by[("stbp", t)]
        for t in timesteps
        if ("hart", t) in by and ("stbp", t) in by
    }
    return {
        "benchmark": "attacks",
        "model": model.spec.text,
        "batch": int(images.shape[0]),
        "device": str(device),
        "results": rows,
        "training_and_g2s": steps_rows,
        "ratios": ratios,
        "machine": machine_info(device),
    }


_STEADY = 4  # Lava's steady state: the marginal rate between runs of N and 4N samples


def _steady_rates(timed, samples: int, repeats: int) -> dict[str, Any]:
    """Marginal rates of ``repeats`` pairs of runs of ``samples`` and ``4 x samples`` (``timed(n)``:
    the seconds of a run of ``n``): ``(4 - 1) x samples`` over the difference of a pair's times, so
    the fixed costs of a run cancel; ``None`` for a pair whose longer run was not the slower."""
    pairs = [(timed(samples), timed(_STEADY * samples)) for _ in range(repeats)]
    rates = [(_STEADY - 1) * samples / (t2 - t1) if t2 > t1 else None for t1, t2 in pairs]
    valid = [r for r in rates if r is not None]
    return {
        "lava_steady_samples_per_s": spread(valid)["median"] if valid else None,
        "lava_steady_samples_per_s_spread": spread(valid) if valid else None,
        "lava_steady_pairs": [{"seconds": [t1, t2], "samples_per_s": r} for (t1, t2), r in zip(pairs, rates)],
        "lava_steady_note": f"median of {repeats} marginal rates between fresh runs of {samples} and "
        f"{_STEADY * samples} samples (after the cold run)",
    }


def _lava_rates(
    graph, profile, spikes: torch.Tensor, samples: int, dt=None, framework=None, reset=None, readout="max", repeats=3
) -> tuple[dict[str, Any], torch.Tensor]:
    """Lava cold (the process's first fresh run of ``samples``, build to stop) and at steady state
    (:func:`_steady_rates` over ``repeats`` pairs of later fresh runs); also the cold run's output
    window, for the spike match."""
    import backends

    def timed(n: int):
        lava = backends.load(graph, profile, "lava", dt, framework, reset=reset, readout=readout)
        x = tile_samples(spikes, n)
        t0 = time.perf_counter()
        out = lava.run(x)
        return time.perf_counter() - t0, out

    cold, out = timed(samples)  # the process's first run: imports and caches included
    rates = {
        "lava_cold_samples_per_s": samples / cold,
        "lava_cold_seconds": cold,
        "lava_samples": samples,
        **_steady_rates(lambda n: timed(n)[0], samples, repeats),
    }
    return rates, out.window


def bench_backends(
    graph,
    spikes: torch.Tensor,
    profile,
    lava_samples: int = 100,
    fresh_samples: int = 4,
    batch_size: int = 256,
    min_seconds: float = 2.0,
    device="cpu",
    lava: bool = True,
    label: str = "",
    dt: float | None = None,
    framework: str | None = None,
    reset: str | None = None,
    readout: str = "max",
    competing: int = 0,
    repeats: int = 3,
) -> dict[str, Any]:
    """Samples per second of the emulator and of Lava fixed_pt, like with like, and their spike match.

    - Emulator cold: a fresh Python process with an empty numba cache runs Lava's cold run's
      ``lava_samples`` from nothing (imports, lowering, quantization, kernel compilation, the run;
      :func:`.cold_run.emulator_cold`), with or without Lava; warm: the median batch in this process once
      loaded and run (``device``; the input tensor already there, results copied back to the CPU
      included), with the spread of the rates of the timed batches. Warm is also measured with the step-by-step LIF
      scan instead of the fused kernel (:mod:`backends.lif_scan`), what the kernel gains.
    - Lava cold: a fresh run of ``lava_samples`` (build, compile, run, read, stop); steady state:
      the median, with its spread, of ``repeats`` marginal rates between fresh runs of
      ``lava_samples`` and four times as many. Fresh per sample: a new network per sample.
    - Ratios: emulator warm / Lava steady state, emulator cold / Lava cold.
    - The machine's limits, with the threads the emulator took (like with like), independent of the
      emulator's code: dense (:func:`.limits.dense_limit_seconds`, the exact products of the synapses'
      shapes) and event-driven (:func:`.limits.event_limit`, the synaptic events of a sample at the
      densities the emulator measured over this machine's rate of weight-row additions); the best
      limit is the faster of the two, and the emulator's warm rate is reported as a fraction of it.
      Multiply-accumulates as the emulator computes them
      (:func:`.limits.synaptic_macs`).

    Args:
        graph: the NIR graph (``nir.NIRGraph``).
        spikes: binary input ``[N, T, *in_shape]``.
        profile: the hardware profile (name, path or profile).
        lava_samples: samples in Lava's first long run (the second runs four times as many).
        fresh_samples: samples run with a fresh network each.
        batch_size: emulator samples per batch.
        min_seconds: least time for each median.
        device: where the emulator computes.
        lava: also time Lava (``False`` where lava-nc is not installed, e.g. a GPU machine).
        label: what the network is, for the report.
        dt, framework, reset, readout: the graph's time step, reset and readout rule, as
            :func:`backends.load` reads them.
        competing: busy processes run beside the emulator's measurements (a machine shared with
            other work); the report records them, the threads the emulator took
            (:func:`backends.threads.free_cores`) and the load average (1 minute: before, after the
            emulator's measurements and after Lava's: the load during each).
        repeats: pairs of Lava runs for its steady state.

    Returns:
        the report (JSON-ready).
    """
    import backends
    from backends.emulator import MEASURED_BATCHES

    device = torch.device(device)
    batch = tile_samples(spikes, batch_size).to(device)  # on a GPU the input waits there, as an attack's would
    sync = device_sync(device) or (lambda: None)
    load_before = os.getloadavg()[0]
    how = {"reset": reset, "readout": readout}
    with competing_load(competing):
        cold = emulator_cold(graph, spikes, profile, lava_samples, batch_size, device, dt, framework, **how)
        emu = backends.load(graph, profile, "emulator", dt, framework, device=device, batch_size=batch_size, **how)
        for _ in range(MEASURED_BATCHES):  # until every product is chosen: those batches run both
            emu.run(batch)
        sync()
        warm = spread([len(batch) / t for t in wall_times(lambda: emu.run(batch), min_seconds, sync=sync)])
        threads = emu.last_threads
        options = {"device": device, "batch_size": batch_size}
        stepwise = backends.load(graph, profile, "emulator", dt, framework, scan="steps", **how, **options)
        for _ in range(MEASURED_BATCHES):  # its product choices measured, as the fused one's were
            stepwise.run(batch)
        steps_s = median_seconds(lambda: stepwise.run(batch), min_seconds, sync=sync)
        load_during = os.getloadavg()[0]
    steps = int(spikes.shape[1])
    densities = spike_densities(emu, batch[:256], steps)
    warm_sps = warm["median"]
    report: dict[str, Any] = {
        "benchmark": "backends",
        "model": label,
        "profile": emu.profile.name,
        "device": str(device),
        "timesteps": steps,
        "window_steps": emu.window(steps),
        "emulator_batch": batch_size,
        "emulator_cold_seconds": cold["seconds"],
        "emulator_cold_samples": cold["samples"],
        "emulator_cold_samples_per_s": cold["samples"] / cold["seconds"],
        "emulator_cold_process": {k: v for k, v in cold.items() if k not in ("seconds", "samples")},
        "emulator_cold_note": "a fresh Python process with an empty numba cache: imports, lowering, "
        "quantization, kernel compilation and the run of Lava's cold run's samples (reading them from a "
        "file left out)",
        "emulator_warm_samples_per_s": warm_sps,
        "emulator_warm_samples_per_s_spread": warm,
        "emulator_scan": emu.scan,
        "emulator_steps_scan_warm_samples_per_s": len(batch) / steps_s,
        "input_device": str(batch.device),
        "spike_densities": densities,
        "spike_densities_note": "active spikes over the steps that can carry them (the input's T, one more "
        "per projection on the longest path), as the synaptic events count them",
        "emulator_products": dict(emu.paths),  # per projection: dense, or event-driven (backends.event_product)
        **limits_report(emu, steps, len(batch), densities, device, min_seconds / 2, warm_sps, threads or "auto"),
        "emulator_threads": threads,
        "competing_processes": competing,
        "load_average_1min": {"before": load_before, "during_emulator": load_during},
        "machine": machine_info(device),
    }
    if lava:
        rates, lava_window = _lava_rates(graph, profile, spikes, lava_samples, dt, framework, reset, readout, repeats)
        emu_window = emu.run(tile_samples(spikes, lava_samples)).window  # the very input of Lava's cold run
        fresh = backends.load(graph, profile, "lava", dt, framework, fresh=True, **how)
        t0 = time.perf_counter()
        fresh.run(spikes[:fresh_samples])
        report.update(rates)
        report.update(
            {
                "lava_fresh_per_sample_samples_per_s": fresh_samples / (time.perf_counter() - t0),
                "emulator_warm_over_lava_steady": warm_sps / rates["lava_steady_samples_per_s"]
                if rates["lava_steady_samples_per_s"]
                else None,
                "emulator_cold_over_lava_cold": report["emulator_cold_samples_per_s"]
                / rates["lava_cold_samples_per_s"],
                "output_spike_match_fraction": float((emu_window == lava_window).float().mean()),
            }
        )
        report["load_average_1min"]["during_lava"] = os.getloadavg()[0]  # at the end of its runs
    return report
