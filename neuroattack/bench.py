"""Speed benchmarks, measured by ``neuroattack bench ...`` and written as JSON (never timed tests)."""

from __future__ import annotations

import platform
import time
from typing import Any

import numpy as np
import torch

from neuroattack.attacks.base import Attack
from neuroattack.attacks.estimators import ESTIMATORS
from neuroattack.models.snn import SNN
from neuroattack.victims import Victim


def _machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "processor": platform.processor() or platform.machine(),
    }


def bench_attacks(
    model: SNN,
    images: torch.Tensor,
    labels: torch.Tensor,
    timesteps: tuple[int, ...] = (4, 8, 16),
    repeats: int = 5,
    estimators: tuple[str, ...] = tuple(name for name in ESTIMATORS if name != "ann"),
    hart_gamma: float = 1.0,
) -> dict[str, Any]:
    """Seconds per PGD iteration (one image-gradient step on a batch) per estimator and ``T``.

    Each measurement is the median of ``repeats`` gradient steps after one warm-up step.
    """
    rows = []
    for steps in timesteps:
        victim = Victim(model, "bernoulli", steps, "mse")
        for name in estimators:
            options = {"gamma": hart_gamma} if name == "hart" else {}
            atk = Attack(victim, grad=name, grad_options=options, seed=0)
            seconds = _median_seconds(lambda atk=atk: atk.image_gradient(images, labels), 0.0, repeats)
            rows.append({"estimator": name, "timesteps": steps, "seconds_per_iteration": seconds})
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
        "results": rows,
        "ratios": ratios,
        "machine": _machine(),
    }


def _active_steps(network, timesteps: int) -> dict:
    """Steps that can carry spikes out of each source when no population keeps state (the input's
    ``T``, one more per projection on the longest path)."""
    return {name: timesteps + depth for name, depth in network.depths().items()}


def synaptic_macs(network, timesteps: int) -> int:
    """Multiply-accumulates of the synaptic products of one sample (the emulator's dense work).

    Args:
        network: the lowered network (:class:`backends.Network`).
        timesteps: input steps ``T``.

    Returns:
        the count, over every projection, of ``active steps x n_out x fan-in``.
    """
    total = 0
    active = _active_steps(network, timesteps)
    for proj in network.projections:
        n_out = int(np.prod(proj.out_shape))
        fan_in = int(np.prod(proj.in_shape)) if proj.synapse == "dense" else int(np.prod(proj.weight.shape[1:]))
        total += active[proj.source] * n_out * fan_in
    return total


def _median_seconds(fn, min_seconds: float, min_repeats: int = 5) -> float:
    """Median wall time of ``fn`` after one warm-up call: at least ``min_repeats`` calls and
    ``min_seconds`` in all."""
    fn()
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < min_seconds or len(times) < min_repeats:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def int8_product_seconds(network, timesteps: int, batch: int, min_seconds: float = 1.0) -> float:
    """Median time of the best exact integer product this machine does for one batch's synapses.

    A micro-benchmark independent of the emulator: for every dense projection, ``torch._int_mm``
    (int8 x int8 -> int32, exact) of random operands of its shape (``[steps * batch, n_in]`` x
    ``[n_in, n_out]``, dimensions padded to multiples of 8 as the kernel needs); for every conv
    projection, a float32 convolution of its shape (exact while sums stay below ``2**24``). ``steps``
    grows by one per projection on the path, as each synapse adds a step of delay.

    Args:
        network: the lowered network (:class:`backends.Network`).
        timesteps: input steps ``T``.
        batch: samples per batch.
        min_seconds: least total time to measure.

    Returns:
        the median seconds of one batch's products.
    """
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(0)
    ops = []
    steps = _active_steps(network, timesteps)
    for layer in network.projections:
        active = steps[layer.source]
        rows = max(active * batch, 17)
        n_in, n_out = int(np.prod(layer.in_shape)), int(np.prod(layer.out_shape))
        if layer.synapse == "dense":
            k, n = -(-n_in // 8) * 8, -(-n_out // 8) * 8
            a = torch.randint(0, 2, (rows, k), dtype=torch.int8, generator=gen)
            w = torch.randint(-128, 128, (k, n), dtype=torch.int8, generator=gen)
            ops.append(lambda a=a, w=w: torch._int_mm(a, w))
        else:
            x = torch.randint(0, 2, (active * batch, *layer.in_shape), generator=gen).float()
            w = torch.randn(layer.weight.shape, generator=gen)
            ops.append(lambda x=x, w=w, s=layer.stride, p=layer.padding: F.conv2d(x, w, stride=s, padding=p))

    def products():
        for op in ops:
            op()

    return _median_seconds(products, min_seconds)


def bench_backends(
    model: SNN,
    spikes: torch.Tensor,
    profile,
    lava_samples: int = 100,
    fresh_samples: int = 4,
    batch_size: int = 256,
    min_seconds: float = 2.0,
) -> dict[str, Any]:
    """Samples per second of the emulator and of Lava fixed_pt, and their spike-for-spike match.

    ``spikes`` ``[N, T, ...]`` binary. Lava's fastest mode is one long run over ``lava_samples``
    samples (build, compile, run, read, stop all included); fresh-per-sample builds a network per
    sample. The emulator's rate is the median over repeated batches of ``batch_size``; its arithmetic
    limit is the same batch with the synaptic products alone.
    """
    import backends
    from neuroattack.replay import graph_of

    graph = graph_of(model, spikes.shape[1])
    emu = backends.load(graph, profile, "emulator", batch_size=batch_size)
    batch = spikes[:batch_size]
    if len(batch) < batch_size:
        batch = batch.repeat((batch_size + len(batch) - 1) // len(batch), *([1] * (batch.dim() - 1)))[:batch_size]
    emu_sps = len(batch) / _median_seconds(lambda: emu.run(batch), min_seconds)
    limit = len(batch) / int8_product_seconds(emu.network, spikes.shape[1], len(batch))

    lava = backends.load(graph, profile, "lava")
    sub = spikes[:lava_samples]
    t0 = time.perf_counter()
    lava_out = lava.run(sub)
    lava_sps = len(sub) / (time.perf_counter() - t0)
    emu_out = emu.run(sub)
    match = float((emu_out.window == lava_out.window).float().mean())

    fresh = backends.load(graph, profile, "lava", fresh=True)
    t0 = time.perf_counter()
    fresh.run(spikes[:fresh_samples])
    fresh_sps = fresh_samples / (time.perf_counter() - t0)

    macs = synaptic_macs(emu.network, spikes.shape[1])
    return {
        "benchmark": "backends",
        "model": model.spec.text,
        "profile": emu.profile.name,
        "timesteps": int(spikes.shape[1]),
        "window_steps": emu.window(spikes.shape[1]),
        "emulator_samples_per_s": emu_sps,
        "emulator_batch": batch_size,
        "lava_long_run_samples_per_s": lava_sps,
        "lava_long_run_samples": len(sub),
        "lava_fresh_per_sample_samples_per_s": fresh_sps,
        "emulator_over_lava_ratio": emu_sps / lava_sps,
        "output_spike_match_fraction": match,
        "synaptic_macs_per_sample": macs,
        "int8_product_limit_samples_per_s": limit,
        "int8_product_limit_note": "samples/s if this machine's exact products of the synapses' shapes "
        "(torch._int_mm int8 x int8 -> int32 for dense, float32 conv) were the only work: a micro-benchmark "
        "on random operands, independent of the emulator",
        "synaptic_ops_per_s_at_limit": macs * limit,
        "emulator_fraction_of_int8_product_limit": emu_sps / limit,
        "ratio_at_int8_product_limit": limit / lava_sps,
        "machine": _machine(),
    }
