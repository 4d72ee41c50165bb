"""Speed benchmarks, measured by ``neuroattack bench ...`` and written as JSON (never timed tests)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from backends.emulator import unfold_pooling
from neuroattack.attacks.base import Attack
from neuroattack.attacks.estimators import ESTIMATORS
from neuroattack.models.snn import SNN
from neuroattack.victims import Victim


def _machine(device=None) -> dict[str, Any]:
    out = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }
    if device is not None and torch.device(device).type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return out


@contextmanager
def _competing_load(n: int) -> Iterator[None]:
    """``n`` busy processes (a loop each) for the duration: a machine shared with other work."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        time.sleep(0.5 if n else 0.0)  # let them take their cores
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def bench_attacks(
    model: SNN,
    images: torch.Tensor,
    labels: torch.Tensor,
    timesteps: tuple[int, ...] = (4, 8, 16),
    repeats: int = 5,
    estimators: tuple[str, ...] = tuple(name for name in ESTIMATORS if name != "ann"),
    hart_gamma: float = 1.0,
    device="cpu",
) -> dict[str, Any]:
    """Seconds per PGD iteration (one image-gradient step on a batch) per estimator and ``T``; per
    ``T`` also one training step (BPTT and Adam on the batch) and one G2S/RSF iteration (the STBP
    spike gradient and the ternary update on the batch's Bernoulli spikes).

    Each measurement is the median of ``repeats`` steps after one warm-up step, on ``device``
    (queued GPU work waited for).
    """
    from neuroattack.attacks.g2s_rsf_steps import g2s
    from neuroattack.encoding import bernoulli_encode
    from neuroattack.losses import resolve_loss

    device = torch.device(device)
    sync = _sync(device)
    model = model.to(device)
    images, labels = images.to(device), labels.to(device)
    rows, steps_rows = [], []
    gen = torch.Generator().manual_seed(0)
    for steps in timesteps:
        victim = Victim(model, "bernoulli", steps, "mse")
        for name in estimators:
            options = {"gamma": hart_gamma} if name == "hart" else {}
            atk = Attack(victim, grad=name, grad_options=options, seed=0)
            seconds = _median_seconds(lambda atk=atk: atk.image_gradient(images, labels), 0.0, repeats, sync)
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
        train_s = _median_seconds(train_step, 0.0, repeats, sync)
        model.eval()
        steps_rows.append(
            {
                "timesteps": steps,
                "train_step_seconds": train_s,
                "g2s_rsf_iteration_seconds": _median_seconds(g2s_step, 0.0, repeats, sync),
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
        "machine": _machine(device),
    }


def _active_steps(network, timesteps: int) -> dict:
    """Steps that can carry spikes out of each source when no population keeps state (the input's
    ``T``, one more per projection on the longest path)."""
    return {name: timesteps + depth for name, depth in network.depths().items()}


def synaptic_macs(executor, timesteps: int) -> int:
    """Multiply-accumulates of one sample's synaptic products as the emulator computes them.

    A conv whose folded sum-pool the emulator undoes (:func:`backends.emulator.unfold_pooling`)
    counts its small kernel (the pooling's adds are not multiply-accumulates); every other
    projection its full fan-in.

    Args:
        executor: the emulator (:class:`backends.EmulatorExecutor`) of the network.
        timesteps: input steps ``T``.

    Returns:
        the count, over every projection, of ``active steps x n_out x fan-in``.
    """
    total = 0
    network = executor.network
    active = _active_steps(network, timesteps)
    for proj in network.projections:
        n_out = int(np.prod(proj.out_shape))
        if proj.synapse == "dense":
            fan_in = int(np.prod(proj.in_shape))
        else:
            unfolded = executor.synapse(proj.name).unfolded
            fan_in = int(np.prod((unfolded[1] if unfolded is not None else proj.weight).shape[1:]))
        total += active[proj.source] * n_out * fan_in
    return total


def _median_seconds(fn, min_seconds: float, min_repeats: int = 5, sync=None) -> float:
    """Median wall time of ``fn`` after one warm-up call: at least ``min_repeats`` calls and
    ``min_seconds`` in all (``sync`` waits for a device's queued work before each clock read)."""
    sync = sync or (lambda: None)
    fn()
    sync()
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < min_seconds or len(times) < min_repeats:
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def _sync(device: torch.device):
    return torch.cuda.synchronize if device.type == "cuda" else None


def product_limit_seconds(
    network, timesteps: int, batch: int, densities: dict[str, float], device="cpu", min_seconds: float = 1.0
) -> dict[str, float]:
    """This machine's fastest exact synaptic work for one batch, by a micro-benchmark.

    Independent of the emulator: for every dense projection, the faster of ``torch._int_mm``
    (int8 x int8 -> int32 on random operands of its shape, ``[steps * batch, n_in] x [n_in, n_out]``,
    padded to multiples of 8) and the sparse accumulation of the weight rows of active inputs
    (a CSR spike matrix of the source's measured density times the weights, what an event-driven
    chip does); for every conv, a float32 convolution of its shape (exact while sums stay below
    ``2**24``), or, where a pooling is folded into the kernel, the sum-pool and the ``b * b`` times
    smaller convolution the emulator runs instead (:func:`backends.emulator.unfold_pooling`: the
    work it does, and what :func:`synaptic_macs` counts). ``steps`` grows by one per projection on
    the path (each synapse adds a delay).

    Args:
        network: the lowered network (:class:`backends.Network`).
        timesteps: input steps ``T``.
        batch: samples per batch.
        densities: the fraction of active spikes of each source (``"input"`` and populations).
        device: where to measure.
        min_seconds: least time to measure each variant.

    Returns:
        ``{"dense": s, "sparse": s, "best": s}``: seconds of one batch's products with the dense
        products only, with the sparse accumulation wherever it exists, and with the faster per
        projection.
    """
    import torch.nn.functional as F

    device = torch.device(device)
    gen = torch.Generator(device=device).manual_seed(0)  # operands drawn where they are used
    dense_ops, sparse_ops = [], []
    steps = _active_steps(network, timesteps)
    for layer in network.projections:
        active = steps[layer.source]
        rows = max(-(-active * batch // 8) * 8, 24)
        n_in, n_out = int(np.prod(layer.in_shape)), int(np.prod(layer.out_shape))
        if layer.synapse == "dense":
            k, n = -(-n_in // 8) * 8, -(-n_out // 8) * 8
            density = max(densities.get(layer.source, 1.0), 1e-4)
            a = (torch.rand((rows, k), generator=gen, device=device) < density).to(torch.int8)
            w = torch.randint(-128, 128, (k, n), dtype=torch.int8, generator=gen, device=device)
            dense_ops.append(lambda a=a, w=w: torch._int_mm(a, w))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
                csr = a.float().to_sparse_csr()
            wf = w.float()
            sparse_ops.append(lambda csr=csr, wf=wf: csr @ wf)
        else:
            x = torch.randint(0, 2, (active * batch, *layer.in_shape), generator=gen, device=device).float()
            w = torch.randn(layer.weight.shape, generator=gen, device=device)
            stride, padding = tuple(layer.stride), tuple(layer.padding)
            unfolded = unfold_pooling(torch.as_tensor(layer.weight), stride, padding)
            if unfolded is not None:  # a pooling folded into the kernel: the emulator sum-pools, then
                b, small, stride, padding = unfolded  # convolves b*b times fewer taps; so does the limit
                w = torch.randn(small.shape, generator=gen, device=device)
                op = lambda x=x, w=w, b=b, s=stride, p=padding: F.conv2d(  # noqa: E731
                    F.avg_pool2d(x, b) * (b * b), w, stride=s, padding=p
                )
            else:
                op = lambda x=x, w=w, s=stride, p=padding: F.conv2d(x, w, stride=s, padding=p)  # noqa: E731
            dense_ops.append(op)
            sparse_ops.append(op)
    sync = _sync(device)
    timed_dense = [_median_seconds(op, min_seconds / max(len(dense_ops), 1), sync=sync) for op in dense_ops]
    timed_sparse = [_median_seconds(op, min_seconds / max(len(sparse_ops), 1), sync=sync) for op in sparse_ops]
    return {
        "dense": sum(timed_dense),
        "sparse": sum(timed_sparse),
        "best": sum(min(a, b) for a, b in zip(timed_dense, timed_sparse)),
    }


def _tile(spikes: torch.Tensor, n: int) -> torch.Tensor:
    """The first ``n`` samples of ``spikes`` ``[N, ...]``, repeated from the start where ``N < n``."""
    if len(spikes) >= n:
        return spikes[:n]
    return spikes.repeat(-(-n // len(spikes)), *([1] * (spikes.dim() - 1)))[:n]


_STEADY = 4  # Lava's steady state: the marginal rate between runs of N and 4N samples


def _lava_rates(
    graph, profile, spikes: torch.Tensor, samples: int, dt=None, framework=None, reset=None, readout="max"
) -> tuple[dict[str, Any], torch.Tensor]:
    """Lava cold (the process's first fresh run of ``samples``, build to stop) and at steady state
    (the marginal rate between two later fresh runs of ``samples`` and four times as many, so the
    fixed costs of a run cancel); also the cold run's output window, for the spike match."""
    import backends

    def timed(n: int):
        lava = backends.load(graph, profile, "lava", dt, framework, reset=reset, readout=readout)
        x = _tile(spikes, n)
        t0 = time.perf_counter()
        out = lava.run(x)
        return time.perf_counter() - t0, out

    cold, out = timed(samples)  # the process's first run: imports and caches included
    t1, _ = timed(samples)
    t2, _ = timed(_STEADY * samples)  # far apart, so that the noise of a run's fixed costs matters little
    rates = {
        "lava_cold_samples_per_s": samples / cold,
        "lava_cold_seconds": cold,
        "lava_steady_samples_per_s": (_STEADY - 1) * samples / (t2 - t1) if t2 > t1 else None,
        "lava_steady_note": f"marginal rate between fresh runs of {samples} and {_STEADY * samples} samples "
        "(after the cold run)",
        "lava_samples": samples,
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
) -> dict[str, Any]:
    """Samples per second of the emulator and of Lava fixed_pt, like with like, and their spike match.

    - Emulator cold: load (lowering, quantization, kernel compilation) and the first batch, all
      included; warm: the median batch after that (``device``; the input tensor already there,
      results copied back to the CPU included). Warm is also measured with the step-by-step LIF
      scan instead of the fused kernel (:mod:`backends.lif_scan`), what the kernel gains.
    - Lava cold: a fresh run of ``lava_samples`` (build, compile, run, read, stop); steady state:
      the marginal rate between fresh runs of ``lava_samples`` and four times as many. Fresh per sample:
      a new network per sample.
    - Ratios: emulator warm / Lava steady state, emulator cold / Lava cold.
    - The machine's limit: :func:`product_limit_seconds` at the densities the emulator measured;
      synaptic operations as the emulator computes them (:func:`synaptic_macs`).

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
            (:func:`backends.threads.free_cores`) and the load average.

    Returns:
        the report (JSON-ready).
    """
    import backends

    device = torch.device(device)
    batch = _tile(spikes, batch_size).to(device)  # on a GPU the input waits there, as an attack's would
    sync = _sync(device) or (lambda: None)
    load_before = os.getloadavg()[0]
    with _competing_load(competing):
        t0 = time.perf_counter()
        how = {"reset": reset, "readout": readout}
        emu = backends.load(graph, profile, "emulator", dt, framework, device=device, batch_size=batch_size, **how)
        emu.run(batch)
        sync()
        cold_s = time.perf_counter() - t0
        warm_s = _median_seconds(lambda: emu.run(batch), min_seconds, sync=sync)
        threads = emu.last_threads
        options = {"device": device, "batch_size": batch_size}
        stepwise = backends.load(graph, profile, "emulator", dt, framework, scan="steps", **how, **options)
        stepwise.run(batch)  # its product choices measured, as the fused one's were
        stepwise.run(batch)
        steps_s = _median_seconds(lambda: stepwise.run(batch), min_seconds, sync=sync)
        load_during = os.getloadavg()[0]
    steps = int(spikes.shape[1])
    names = [p.name for p in emu.network.populations]
    sample = batch[:256]
    densities = {"input": int(torch.count_nonzero(sample)) / sample.numel()}
    first = emu.run(sample, record=True)
    densities.update({n: float(layer.mean()) for n, layer in zip(names, first.layers)})
    limit = product_limit_seconds(emu.network, steps, len(batch), densities, device, min_seconds=min_seconds / 2)
    macs = synaptic_macs(emu, steps)
    warm_sps = len(batch) / warm_s
    report: dict[str, Any] = {
        "benchmark": "backends",
        "model": label,
        "profile": emu.profile.name,
        "device": str(device),
        "timesteps": steps,
        "window_steps": emu.window(steps),
        "emulator_batch": batch_size,
        "emulator_cold_seconds": cold_s,
        "emulator_cold_samples_per_s": len(batch) / cold_s,
        "emulator_warm_samples_per_s": warm_sps,
        "emulator_scan": emu.scan,
        "emulator_steps_scan_warm_samples_per_s": len(batch) / steps_s,
        "input_device": str(batch.device),
        "spike_densities": densities,
        "emulator_products": dict(emu.paths),  # per projection: dense, or event-driven (backends.event_product)
        "synaptic_macs_per_sample": macs,
        "synaptic_macs_per_s": macs * warm_sps,
        "product_limit_samples_per_s": {k: len(batch) / v for k, v in limit.items()},
        "product_limit_note": "samples/s if this machine's fastest exact products of the synapses' shapes were "
        "the only work (micro-benchmark on random operands at the measured densities, independent of the "
        "emulator): dense int8 products, the sparse accumulation of active inputs' weight rows, the faster of each",
        "emulator_fraction_of_product_limit": warm_sps / (len(batch) / limit["best"]),
        "emulator_threads": threads,
        "competing_processes": competing,
        "load_average_1min": {"before": load_before, "during_emulator": load_during},
        "machine": _machine(device),
    }
    if lava:
        rates, lava_window = _lava_rates(graph, profile, spikes, lava_samples, dt, framework, reset, readout)
        emu_window = emu.run(_tile(spikes, lava_samples)).window  # the very input of Lava's cold run
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
    return report
