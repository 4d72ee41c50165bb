"""This machine's limits for a network's synaptic work, dense and event-driven: the work counted
(multiply-accumulates, synaptic events) and timed by micro-benchmarks independent of the emulator."""

from __future__ import annotations

import numba
import numpy as np
import torch

from backends.emulator import unfold_pooling
from neuroattack.experiments.timing import device_sync, median_seconds


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


def dense_limit_seconds(
    network, timesteps: int, batch: int, device="cpu", min_seconds: float = 1.0
) -> dict[str, float]:
    """This machine's fastest dense exact synaptic products for one batch, by a micro-benchmark.

    Independent of the emulator: for every dense projection, ``torch._int_mm`` (int8 x int8 ->
    int32 on random operands of its shape, ``[steps * batch, n_in] x [n_in, n_out]``, padded to
    multiples of 8); for every conv, a float32 convolution of its shape (exact while sums stay below
    ``2**24``), or, where a pooling is folded into the kernel, the sum-pool and the ``b * b`` times
    smaller convolution the emulator runs instead (:func:`backends.emulator.unfold_pooling`: the
    work it does, and what :func:`synaptic_macs` counts). ``steps`` grows by one per projection on
    the path (each synapse adds a delay).

    Args:
        network: the lowered network (:class:`backends.Network`).
        timesteps: input steps ``T``.
        batch: samples per batch.
        device: where to measure.
        min_seconds: least time to measure all projections (shared among them).

    Returns:
        per projection's name, the seconds of one batch's products (their sum: the dense limit).

    Example:
        >>> seconds = dense_limit_seconds(backends.lower(graph), 8, 256)  # doctest: +SKIP
        >>> 256 / sum(seconds.values())  # the dense limit, samples/s  # doctest: +SKIP
    """
    import torch.nn.functional as F

    device = torch.device(device)
    gen = torch.Generator(device=device).manual_seed(0)  # operands drawn where they are used
    ops = {}
    steps = _active_steps(network, timesteps)
    for layer in network.projections:
        active = steps[layer.source]
        rows = max(-(-active * batch // 8) * 8, 24)
        n_in, n_out = int(np.prod(layer.in_shape)), int(np.prod(layer.out_shape))
        if layer.synapse == "dense":
            k, n = -(-n_in // 8) * 8, -(-n_out // 8) * 8
            a = torch.randint(0, 2, (rows, k), dtype=torch.int8, generator=gen, device=device)
            w = torch.randint(-128, 128, (k, n), dtype=torch.int8, generator=gen, device=device)
            ops[layer.name] = lambda a=a, w=w: torch._int_mm(a, w)
            continue
        x = torch.randint(0, 2, (active * batch, *layer.in_shape), generator=gen, device=device).float()
        w = torch.randn(layer.weight.shape, generator=gen, device=device)
        stride, padding = tuple(layer.stride), tuple(layer.padding)
        unfolded = unfold_pooling(torch.as_tensor(layer.weight), stride, padding)
        if unfolded is not None:  # a pooling folded into the kernel: the emulator sum-pools, then
            b, small, stride, padding = unfolded  # convolves b*b times fewer taps; so does the limit
            w = torch.randn(small.shape, generator=gen, device=device)
            op = lambda x=x, w=w, b=b, s=stride, p=padding: F.conv2d(  # noqa: E731
                F.avg_pool2d(x, b, divisor_override=1), w, stride=s, padding=p
            )
        else:
            op = lambda x=x, w=w, s=stride, p=padding: F.conv2d(x, w, stride=s, padding=p)  # noqa: E731
        ops[layer.name] = op
    sync = device_sync(device)
    return {name: median_seconds(op, min_seconds / max(len(ops), 1), sync=sync) for name, op in ops.items()}


def _reach(n_in: int, n_out: int, kernel: int, stride: int, padding: int) -> np.ndarray:
    """Per input position along one axis, the output positions whose kernel window covers it."""
    tap = np.arange(n_in)[:, None] + padding - np.arange(n_out)[None, :] * stride
    return ((tap >= 0) & (tap < kernel)).sum(1)


def _conv_connections(proj, unfolded) -> int:
    """Input-output pairs a conv connects (the sum over its inputs of the outputs each reaches), in
    the kernel the emulator convolves: where a folded sum-pool is undone, every input reaches what
    its pooled cell reaches with the small kernel at stride 1 (the same outputs as through the
    folded kernel)."""
    c_out, c_in = proj.weight.shape[:2]
    (_, h, w), (_, ho, wo) = proj.in_shape, proj.out_shape
    if unfolded is None:
        (kh, kw), (sh, sw), (ph, pw) = proj.weight.shape[2:], proj.stride, proj.padding
        rows, cols = _reach(h, ho, kh, sh, ph), _reach(w, wo, kw, sw, pw)
    else:
        b, small, (sh, sw), (ph, pw) = unfolded
        kh, kw = small.shape[2:]
        rows = np.repeat(_reach(h // b, ho, kh, sh, ph), b)  # input row i sits in pooled row i // b
        cols = np.repeat(_reach(w // b, wo, kw, sw, pw), b)  # (a partial block at the edge: nowhere)
    return int(c_in * c_out * rows.sum() * cols.sum())


def synaptic_events(executor, timesteps: int, densities: dict[str, float]) -> dict[str, float]:
    """Synaptic events (additions) of one sample for an event-driven engine, per projection.

    Every active input adds its weight row (dense: ``n_out`` weights) or its kernel column (conv:
    one weight into each output it reaches, ``C_out x`` the positions whose window covers it, exact
    at the borders; a folded sum-pool counted in the kernel the emulator convolves, as
    :func:`synaptic_macs` does) into its outputs. Active inputs of a source over its active steps
    are ``density x size x active steps``.

    Args:
        executor: the emulator (:class:`backends.EmulatorExecutor`) of the network.
        timesteps: input steps ``T``.
        densities: the fraction of active spikes of each source over its active steps (``"input"``
            and the populations; a source not named, e.g. the bias, counts as always active).

    Returns:
        per projection's name, ``density x active steps x`` the input-output pairs it connects.

    Example:
        >>> emu = backends.load(graph, "loihi2")  # doctest: +SKIP
        >>> sum(synaptic_events(emu, 8, {"input": 0.1, "n1": 0.05}).values())  # doctest: +SKIP
    """
    network = executor.network
    active = _active_steps(network, timesteps)
    out = {}
    for proj in network.projections:
        if proj.synapse == "dense":
            pairs = int(np.prod(proj.in_shape)) * int(np.prod(proj.out_shape))
        else:
            pairs = _conv_connections(proj, executor.synapse(proj.name).unfolded)
        out[proj.name] = densities.get(proj.source, 1.0) * active[proj.source] * pairs
    return out


@numba.njit(parallel=True, cache=True)
def _scatter_rows(rows, offsets, weights, out):  # pragma: no cover - compiled
    """Every sample ``b`` adds weight row ``rows[e]`` into ``out[b, offsets[e]:]``, for every event
    ``e``, weight by weight (the faster loop for short rows)."""
    length = weights.shape[1]
    for b in numba.prange(out.shape[0]):  # samples apart: no two threads write one output
        ob = out[b]
        for e in range(len(rows)):
            w = weights[rows[e]]
            o = offsets[e]
            for j in range(length):
                ob[o + j] += numba.int32(w[j])


@numba.njit(parallel=True, cache=True)
def _scatter_row_slices(rows, offsets, weights, out):  # pragma: no cover - compiled
    """:func:`_scatter_rows` a row at a time (numba's array expression: twice as fast for rows of
    hundreds of weights on a 2-core x86 CPU, three times slower for rows of 4)."""
    length = weights.shape[1]
    for b in numba.prange(out.shape[0]):
        ob = out[b]
        for e in range(len(rows)):
            o = offsets[e]
            ob[o : o + length] += weights[rows[e]]


def _scatter_rows_torch(rows, offsets, weights, out) -> None:
    """:func:`_scatter_rows` with torch (a GPU): the rows gathered, then ``index_add_``."""
    cols = (offsets[:, None] + torch.arange(weights.shape[1], device=out.device)).reshape(-1)
    out.index_add_(1, cols, weights[rows].reshape(1, -1).to(out.dtype).expand(out.shape[0], -1))


_EVENT_CALL_ADDS = {"cpu": 2**24, "other": 2**28}  # additions per timed scatter call at least (a GPU's
# many more threads need more samples), if the batch has the samples


def scatter_add_rate(
    row_length: int,
    out_length: int,
    weight_rows: int,
    rows_per_sample: int,
    samples: int,
    device="cpu",
    min_seconds: float = 0.5,
) -> float:
    """This machine's additions per second when active inputs add weight rows into their outputs.

    A micro-benchmark of an event-driven engine's work, independent of the emulator's code: int8
    weights ``[weight_rows, row_length]``, ``rows_per_sample`` random rows added per sample at random
    offsets (multiples of ``row_length``) of its int32 outputs ``[out_length]``; samples in parallel
    (on the CPU the faster of two numba loops of its own, weight by weight or row by row; torch's
    ``index_add_`` of the gathered rows elsewhere).

    Args:
        row_length: weights added per event row (dense: ``n_out``; conv: ``C_out``, one kernel tap).
        out_length: outputs per sample (a multiple of ``row_length``).
        weight_rows: distinct weight rows (dense: ``n_in``; conv: ``C_in x kH x kW``).
        rows_per_sample: rows added per sample.
        samples: samples per timed call.
        device: where to measure.
        min_seconds: least time to measure.

    Returns:
        additions per second (``samples x rows_per_sample x row_length`` over the median call).

    Example:
        >>> scatter_add_rate(512, 512, 2312, 1400, 64) > 0  # doctest: +SKIP
        True
    """
    device = torch.device(device)
    rng = np.random.default_rng(0)
    weights = rng.integers(-128, 128, (weight_rows, row_length), dtype=np.int8)
    rows = rng.integers(0, weight_rows, rows_per_sample, dtype=np.int64)
    offsets = rng.integers(0, out_length // row_length, rows_per_sample, dtype=np.int64) * row_length
    out = np.zeros((samples, out_length), dtype=np.int32)
    if device.type == "cpu":
        kernels = [_scatter_rows, _scatter_row_slices]
        fns = [lambda k=k: k(rows, offsets, weights, out) for k in kernels]
    else:
        args = [torch.as_tensor(a, device=device) for a in (rows, offsets, weights, out)]
        fns = [lambda: _scatter_rows_torch(*args)]
    seconds = min(median_seconds(fn, min_seconds / len(fns), sync=device_sync(device)) for fn in fns)
    return samples * rows_per_sample * row_length / seconds


def event_limit(
    executor, timesteps: int, densities: dict[str, float], batch: int, device="cpu", min_seconds: float = 1.0
) -> dict[str, dict[str, float]]:
    """This machine's event-driven limit: each projection's synaptic events of one sample at the
    measured densities (:func:`synaptic_events`) over the rate at which it adds rows of that shape
    (:func:`scatter_add_rate`).

    Args:
        executor: the emulator (:class:`backends.EmulatorExecutor`) of the network.
        timesteps: input steps ``T``.
        densities: the fraction of active spikes of each source over its active steps.
        batch: most samples per timed call.
        device: where to measure.
        min_seconds: least time to measure all projections (shared among them).

    Returns:
        per projection's name: ``events_per_sample``, ``row_length``, ``scatter_adds_per_s`` (``None``
        where it has no events) and ``seconds_per_sample`` (events over rate).

    Example:
        >>> rows = event_limit(emu, 8, {"input": 0.1}, 256)  # doctest: +SKIP
        >>> 1 / sum(r["seconds_per_sample"] for r in rows.values())  # samples/s  # doctest: +SKIP
    """
    events = synaptic_events(executor, timesteps, densities)
    projections = executor.network.projections
    cpu = torch.device(device).type == "cpu"
    threads, call_adds = (numba.get_num_threads(), _EVENT_CALL_ADDS["cpu"]) if cpu else (1, _EVENT_CALL_ADDS["other"])
    out = {}
    for proj in projections:
        n_out = int(np.prod(proj.out_shape))
        if proj.synapse == "dense":
            row, weight_rows = n_out, int(np.prod(proj.in_shape))
        else:
            unfolded = executor.synapse(proj.name).unfolded
            kernel = unfolded[1] if unfolded is not None else proj.weight
            row, weight_rows = int(kernel.shape[0]), int(np.prod(kernel.shape[1:]))
        per_sample = events[proj.name]
        rate = None
        if per_sample > 0:
            rows = max(1, round(per_sample / row))
            samples = min(batch, max(4 * threads, -(-call_adds // (rows * row))))
            rate = scatter_add_rate(row, n_out, weight_rows, rows, samples, device, min_seconds / len(projections))
        out[proj.name] = {
            "events_per_sample": per_sample,
            "row_length": row,
            "scatter_adds_per_s": rate,
            "seconds_per_sample": per_sample / rate if rate else 0.0,
        }
    return out


def spike_densities(emu, sample: torch.Tensor, timesteps: int) -> dict[str, float]:
    """The fraction of active spikes of the input and of each population over its active steps
    (:func:`_active_steps`), measured by the emulator on ``sample``.

    Args:
        emu: the emulator (:class:`backends.EmulatorExecutor`) of the network.
        sample: binary input ``[B, T, *in_shape]``.
        timesteps: input steps ``T``.

    Returns:
        per source (``"input"`` and each population's name), the densities :func:`synaptic_events` takes.

    Example:
        >>> spike_densities(emu, spikes[:256], 8)["input"]  # doctest: +SKIP
    """
    active = _active_steps(emu.network, timesteps)
    out = {"input": int(torch.count_nonzero(sample)) / sample.numel()}
    recorded = emu.run(sample, record=True).layers  # [B, P, *shape] each: spikes over the whole window
    for pop, layer in zip(emu.network.populations, recorded):
        out[pop.name] = float(layer.sum()) / (len(sample) * pop.n * active[pop.name])
    return out


def limits_report(
    emu, steps: int, batch: int, densities: dict, device, min_seconds: float, warm_sps: float, threads="auto"
) -> dict:
    """The report's limits: the dense one, the event-driven one, the better of the two and the
    emulator's fraction of it, with the synaptic work they count; measured with ``threads`` torch
    and numba threads (the bench: those the emulator took, like with like).

    Args:
        emu: the emulator (:class:`backends.EmulatorExecutor`) of the network.
        steps: input steps ``T``.
        batch: samples per batch.
        densities: the fraction of active spikes of each source (:func:`spike_densities`).
        device: where to measure.
        min_seconds: least time to measure both limits (shared between them).
        warm_sps: the emulator's warm samples per second, to set against the limits.
        threads: torch and numba threads, as :func:`backends.threads.thread_budget` takes them.

    Returns:
        the report's keys of the limits (JSON-ready).

    Example:
        >>> limits_report(emu, 8, 256, densities, "cpu", 1.0, warm_sps=5000.0)["best_limit"]  # doctest: +SKIP
    """
    from backends.threads import thread_budget

    with thread_budget(threads) as used:
        dense = dense_limit_seconds(emu.network, steps, batch, device, min_seconds=min_seconds / 2)
        events = event_limit(emu, steps, densities, batch, device, min_seconds=min_seconds / 2)
    macs = synaptic_macs(emu, steps)
    n_events = sum(row["events_per_sample"] for row in events.values())
    event_seconds = sum(row["seconds_per_sample"] for row in events.values())
    limits = {"dense": batch / sum(dense.values()), "event": 1 / event_seconds if event_seconds else None}
    best = max((k for k in limits if limits[k] is not None), key=lambda k: limits[k])
    return {
        "synaptic_macs_per_sample": macs,
        "synaptic_macs_per_s": macs * warm_sps,
        "synaptic_events_per_sample": n_events,
        "scatter_adds_per_s": n_events / event_seconds if event_seconds else None,
        "dense_limit_samples_per_s": limits["dense"],
        "event_limit_samples_per_s": limits["event"],
        "limit_threads": used,
        "best_limit": best,
        "best_limit_samples_per_s": limits[best],
        "emulator_fraction_of_best_limit": warm_sps / limits[best],
        "limit_projections": [
            {
                "projection": name,
                "dense_seconds_per_sample": dense[name] / batch,
                "event_seconds_per_sample": row["seconds_per_sample"],
                "synaptic_events_per_sample": row["events_per_sample"],
                "event_row_length": row["row_length"],
                "scatter_adds_per_s": row["scatter_adds_per_s"],
            }
            for name, row in events.items()
        ],
        "limits_note": "samples/s if this machine's fastest exact synaptic work were the only work "
        "(micro-benchmarks on random operands of the synapses' shapes, independent of the emulator's code). "
        "Dense: int8 torch._int_mm for dense projections, float32 convolutions (a folded sum-pool undone). "
        "Event-driven: the synaptic events of one sample at the measured densities (each active input adds "
        "its weight row or kernel column into the outputs it reaches) over this machine's measured rate "
        "of such additions. The best limit is the faster of the two.",
    }
