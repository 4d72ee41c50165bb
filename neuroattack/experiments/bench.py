"""Speed benchmarks, measured by ``neuroattack bench ...`` and written as JSON (never timed tests)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numba
import numpy as np
import torch

from backends.emulator import unfold_pooling

if TYPE_CHECKING:  # the attack side stays unimported: a cold run imports this module (emulator_cold)
    from neuroattack.models.snn import SNN


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


def _times(fn, min_seconds: float, min_repeats: int = 5, sync=None) -> list[float]:
    """Wall times of ``fn`` after one warm-up call, sorted: at least ``min_repeats`` calls and
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
    return sorted(times)


def _median_seconds(fn, min_seconds: float, min_repeats: int = 5, sync=None) -> float:
    """The median of :func:`_times` (the upper one of an even count)."""
    times = _times(fn, min_seconds, min_repeats, sync)
    return times[len(times) // 2]


def _spread(values: list[float]) -> dict[str, float | int]:
    """``median``, quartiles ``q1`` and ``q3``, ``min``, ``max`` and ``n`` of ``values`` (not empty)."""
    q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75])
    return {
        "median": float(median),
        "q1": float(q1),
        "q3": float(q3),
        "min": float(min(values)),
        "max": float(max(values)),
        "n": len(values),
    }


def _sync(device: torch.device):
    return torch.cuda.synchronize if device.type == "cuda" else None


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
                F.avg_pool2d(x, b) * (b * b), w, stride=s, padding=p
            )
        else:
            op = lambda x=x, w=w, s=stride, p=padding: F.conv2d(x, w, stride=s, padding=p)  # noqa: E731
        ops[layer.name] = op
    sync = _sync(device)
    return {name: _median_seconds(op, min_seconds / max(len(ops), 1), sync=sync) for name, op in ops.items()}


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
    seconds = min(_median_seconds(fn, min_seconds / len(fns), sync=_sync(device)) for fn in fns)
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


def _tile(spikes: torch.Tensor, n: int) -> torch.Tensor:
    """The first ``n`` samples of ``spikes`` ``[N, ...]``, repeated from the start where ``N < n``."""
    if len(spikes) >= n:
        return spikes[:n]
    return spikes.repeat(-(-n // len(spikes)), *([1] * (spikes.dim() - 1)))[:n]


# Run first in a child process: it dies with the bench (Linux's PR_SET_PDEATHSIG, and a check that the
# bench had not already gone), even when the bench is killed and cannot clean up.
_DIE_WITH_PARENT = """import ctypes, os, signal
try:
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)
except (AttributeError, OSError):
    pass
if os.getppid() != int(os.environ["NEUROATTACK_BENCH_PARENT"]):
    os._exit(1)
"""

# The cold run's child: its clock starts before its first import (numba's cache counted before that).
_COLD_CHILD = """import os, sys, time
cache_files = sum(len(files) for _, _, files in os.walk(os.environ["NUMBA_CACHE_DIR"]))
t0 = time.perf_counter()
from neuroattack.experiments.bench import _cold_child
_cold_child(t0, cache_files, sys.argv[1])
"""


def _run_child(code: str, args: list[str], env: dict[str, str], timeout: float | None = None) -> str:
    """Run ``code`` in a fresh Python process (``python -c``); its output, or an error with it.

    The child is killed if anything interrupts the wait (an error, ``KeyboardInterrupt``, the
    ``timeout``) and dies with this process if that is killed (:data:`_DIE_WITH_PARENT`).
    """
    env = {**env, "NEUROATTACK_BENCH_PARENT": str(os.getpid())}
    cmd = [sys.executable, "-c", _DIE_WITH_PARENT + code, *args]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"the child process failed (exit {proc.returncode}):\n{out[-4000:]}")
    return out


@contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """In the main thread, ``SIGTERM`` raises ``SystemExit`` for the duration, so that cleanup (a
    child killed, temporary files removed) runs as on ``Ctrl-C``; elsewhere nothing changes."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def leave(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, leave)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _cold_child(t0: float, cache_files: int, request: str) -> None:
    """The cold run's own process (:func:`emulator_cold`): load the emulator and run the samples
    from nothing, then write the result where ``request`` (a JSON file) says. The seconds exclude
    reading the graph and the spikes from their files (a run in memory is given them)."""
    import backends

    req = json.loads(Path(request).read_text())
    t_read = time.perf_counter()
    graph = backends.read_graph(req["graph"])
    with np.load(req["spikes"], allow_pickle=False) as data:
        spikes = torch.as_tensor(data["spikes"])
    reading = time.perf_counter() - t_read
    how = {"reset": req["reset"], "readout": req["readout"], "batch_size": req["batch_size"]}
    emu = backends.load(graph, req["profile"], "emulator", req["dt"], req["framework"], device=req["device"], **how)
    emu.run(spikes)  # results come back on the CPU: the device's work is done
    seconds = time.perf_counter() - t0 - reading
    result = {
        "pid": os.getpid(),
        "seconds": seconds,
        "samples": len(spikes),
        "read_seconds": reading,
        "numba_cache_files_at_start": cache_files,
        "numba_cache_files_at_end": sum(len(f) for _, _, f in os.walk(os.environ["NUMBA_CACHE_DIR"])),
    }
    Path(req["result"]).write_text(json.dumps(result))


def _import_roots() -> list[str]:
    """Where ``backends`` and ``neuroattack`` are imported from (a child's ``PYTHONPATH``)."""
    import backends
    import neuroattack

    return list(dict.fromkeys(str(Path(m.__file__).resolve().parents[1]) for m in (backends, neuroattack)))


def emulator_cold(
    graph,
    spikes: torch.Tensor,
    profile,
    samples: int,
    batch_size: int = 256,
    device="cpu",
    dt: float | None = None,
    framework: str | None = None,
    reset: str | None = None,
    readout: str = "max",
    timeout: float | None = None,
) -> dict[str, Any]:
    """The emulator cold: a fresh Python process with an empty numba cache runs ``samples`` from nothing.

    Imports, lowering, quantization, kernel compilation and the run of the samples, all included;
    only reading the graph and the spikes from the temporary files that carry them to the process is
    not (in this process they are in memory). The files and the cache go when it ends, or when this
    process is interrupted or terminated (``SIGTERM`` exits it meanwhile); the child is killed then,
    and dies with this process if it is killed outright.

    Args:
        graph: the NIR graph (``nir.NIRGraph`` or a path).
        spikes: binary input ``[N, T, *in_shape]``; its first ``samples`` (repeated where ``N`` is
            smaller) are run.
        profile: the hardware profile (name, path or profile).
        samples: samples to run (the bench: Lava's cold run's).
        batch_size, device, dt, framework, reset, readout: as :func:`backends.load` takes them.
        timeout: most seconds to wait (``None``: no limit).

    Returns:
        ``seconds``, ``samples``, ``pid`` (the process's), ``read_seconds`` (left out of ``seconds``),
        ``numba_cache_files_at_start`` (0: nothing compiled before) and ``numba_cache_files_at_end``.

    Raises:
        RuntimeError: the process failed (its output in the message).
        subprocess.TimeoutExpired: it ran past ``timeout``.

    Example:
        >>> emulator_cold("net.nir", spikes, "loihi2", 100)["seconds"]  # doctest: +SKIP
    """
    import nir

    import backends
    from backends.profile import HardwareProfile

    with _sigterm_as_exit(), tempfile.TemporaryDirectory(prefix="neuroattack-cold-") as tmp:
        folder = Path(tmp)
        cache = folder / "numba-cache"
        cache.mkdir()
        nir.write(folder / "graph.nir", backends.read_graph(graph))
        np.savez(folder / "spikes.npz", spikes=_tile(spikes, samples).cpu().numpy())
        if isinstance(profile, HardwareProfile):
            (folder / "profile.toml").write_text(profile.to_toml())
            profile = folder / "profile.toml"
        request = {
            "graph": str(folder / "graph.nir"),
            "spikes": str(folder / "spikes.npz"),
            "result": str(folder / "result.json"),
            "profile": None if profile is None else str(profile),
            "device": str(device),
            "batch_size": batch_size,
            "dt": dt,
            "framework": framework,
            "reset": reset,
            "readout": readout,
        }
        (folder / "request.json").write_text(json.dumps(request))
        path = os.pathsep.join([*_import_roots(), *filter(None, [os.environ.get("PYTHONPATH")])])
        env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": path}
        _run_child(_COLD_CHILD, [str(folder / "request.json")], env, timeout)
        return json.loads((folder / "result.json").read_text())


_STEADY = 4  # Lava's steady state: the marginal rate between runs of N and 4N samples


def _steady_rates(timed, samples: int, repeats: int) -> dict[str, Any]:
    """Marginal rates of ``repeats`` pairs of runs of ``samples`` and ``4 x samples`` (``timed(n)``:
    the seconds of a run of ``n``): ``(4 - 1) x samples`` over the difference of a pair's times, so
    the fixed costs of a run cancel; ``None`` for a pair whose longer run was not the slower."""
    pairs = [(timed(samples), timed(_STEADY * samples)) for _ in range(repeats)]
    rates = [(_STEADY - 1) * samples / (t2 - t1) if t2 > t1 else None for t1, t2 in pairs]
    valid = [r for r in rates if r is not None]
    return {
        "lava_steady_samples_per_s": _spread(valid)["median"] if valid else None,
        "lava_steady_samples_per_s_spread": _spread(valid) if valid else None,
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
        x = _tile(spikes, n)
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


def _spike_densities(emu, sample: torch.Tensor, timesteps: int) -> dict[str, float]:
    """The fraction of active spikes of the input and of each population over its active steps
    (:func:`_active_steps`), measured by the emulator on ``sample``."""
    active = _active_steps(emu.network, timesteps)
    out = {"input": int(torch.count_nonzero(sample)) / sample.numel()}
    recorded = emu.run(sample, record=True).layers  # [B, P, *shape] each: spikes over the whole window
    for pop, layer in zip(emu.network.populations, recorded):
        out[pop.name] = float(layer.sum()) / (len(sample) * pop.n * active[pop.name])
    return out


def _limits(
    emu, steps: int, batch: int, densities: dict, device, min_seconds: float, warm_sps: float, threads="auto"
) -> dict:
    """The report's limits: the dense one, the event-driven one, the better of the two and the
    emulator's fraction of it, with the synaptic work they count; measured with ``threads`` torch
    and numba threads (the bench: those the emulator took, like with like)."""
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
      :func:`emulator_cold`), with or without Lava; warm: the median batch in this process once
      loaded and run (``device``; the input tensor already there, results copied back to the CPU
      included), with the spread of the rates of the timed batches. Warm is also measured with the step-by-step LIF
      scan instead of the fused kernel (:mod:`backends.lif_scan`), what the kernel gains.
    - Lava cold: a fresh run of ``lava_samples`` (build, compile, run, read, stop); steady state:
      the median, with its spread, of ``repeats`` marginal rates between fresh runs of
      ``lava_samples`` and four times as many. Fresh per sample: a new network per sample.
    - Ratios: emulator warm / Lava steady state, emulator cold / Lava cold.
    - The machine's limits, with the threads the emulator took (like with like), independent of the
      emulator's code: dense (:func:`dense_limit_seconds`, the exact products of the synapses'
      shapes) and event-driven (:func:`event_limit`, the synaptic events of a sample at the
      densities the emulator measured over this machine's rate of weight-row additions); the best
      limit is the faster of the two, and the emulator's warm rate is reported as a fraction of it.
      Multiply-accumulates as the emulator computes them
      (:func:`synaptic_macs`).

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

    device = torch.device(device)
    batch = _tile(spikes, batch_size).to(device)  # on a GPU the input waits there, as an attack's would
    sync = _sync(device) or (lambda: None)
    load_before = os.getloadavg()[0]
    how = {"reset": reset, "readout": readout}
    with _competing_load(competing):
        cold = emulator_cold(graph, spikes, profile, lava_samples, batch_size, device, dt, framework, **how)
        emu = backends.load(graph, profile, "emulator", dt, framework, device=device, batch_size=batch_size, **how)
        emu.run(batch)
        sync()
        warm = _spread([len(batch) / t for t in _times(lambda: emu.run(batch), min_seconds, sync=sync)])
        threads = emu.last_threads
        options = {"device": device, "batch_size": batch_size}
        stepwise = backends.load(graph, profile, "emulator", dt, framework, scan="steps", **how, **options)
        stepwise.run(batch)  # its product choices measured, as the fused one's were
        stepwise.run(batch)
        steps_s = _median_seconds(lambda: stepwise.run(batch), min_seconds, sync=sync)
        load_during = os.getloadavg()[0]
    steps = int(spikes.shape[1])
    densities = _spike_densities(emu, batch[:256], steps)
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
        **_limits(emu, steps, len(batch), densities, device, min_seconds / 2, warm_sps, threads or "auto"),
        "emulator_threads": threads,
        "competing_processes": competing,
        "load_average_1min": {"before": load_before, "during_emulator": load_during},
        "machine": _machine(device),
    }
    if lava:
        rates, lava_window = _lava_rates(graph, profile, spikes, lava_samples, dt, framework, reset, readout, repeats)
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
        report["load_average_1min"]["during_lava"] = os.getloadavg()[0]  # at the end of its runs
    return report
