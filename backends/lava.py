"""Lowered network -> lava-nc processes, run with ``Loihi2SimCfg`` (``fixed_pt`` or ``floating_pt``).

Each population of the lowered network (:mod:`backends.network`) becomes one
``lava.proc.lif.process.LIF`` (one per group of equal time constants, Lava's ``du``/``dv`` being one
per process), each projection one synaptic process from its source's ``s_out`` to its target's
``a_in`` (Lava's ``InPort`` sums several):

- dense -> ``lava.proc.dense.process.Dense`` (fixed point: weight mantissas, ``weight_exp``,
  ``num_weight_bits``; Lava clips and truncates them itself, one sign mode per process);
- conv -> ``lava.proc.conv.process.Conv`` (Lava layout: maps ``(W, H, C)``, weights
  ``(C_out, kW, kH, C_in)``, a true convolution, so torch kernels are flipped; it ignores
  ``weight_exp``/``num_weight_bits``, so weights arrive as full integers from :mod:`backends.quantize`);
  Conv1d maps ``(C, L)`` run as ``(L, 1, C)``;
- input -> ``lava.proc.io.source.RingBuffer`` (and one of ones for the constant-current ``bias``
  source, when a slow-current population has an affine bias); output -> ``lava.proc.io.sink.RingBuffer`` on the
  output population (and on every population when traces are asked for).

Map-shaped populations live in Lava's ``(W, H, C)`` layout; a dense projection from one gets its
weight columns permuted to that order and its input through ``s_out.flatten()``, and one into one
its rows permuted and its output through ``a_out.reshape``.

Samples are laid end to end in windows of ``T + latency (+ pad)`` steps, ``samples_per_run`` at a
time in one build, and each starts from the state a fresh network has (the emulator's convention):
when a sample's activity provably ends inside its window (:meth:`LavaExecutor.quiet`: no bias, no
slow current, no recurrence), ``LIFReset`` zeroes ``u`` and ``v`` at each window's first step in
one long run; otherwise the run pauses after each sample and sets every LIF's ``v`` (and ``u``
where the current carries over) and every synapse's buffer to zero. ``fresh=True`` builds a new
network for every sample instead (slow, for reference). The runtime is always stopped, also when
building or running raises, and on SIGINT/SIGTERM (:class:`Interrupted`).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from backends.executor import RunResult, check_spikes
from backends.network import BIAS, INPUT, Network
from backends.profile import HardwareProfile
from backends.quantize import IntNetwork, quantize
from backends.readout import check_rule
from backends.signals import handling

_LAVA_MP = "lava.magma.runtime.message_infrastructure.multiprocessing"
_QUIET_CHUNK = 32  # samples a run call covers in the long run without pauses


def _import_lava_runtime() -> None:
    """Import Lava's runtime (at the first Lava run, never at import) even if the start method is
    already fixed.

    Lava calls ``multiprocessing.set_start_method('fork')`` unconditionally at import, which raises
    once anything (a tqdm progress bar's lock, for one) has fixed the start method. ``fork`` is
    what Lava needs and Linux's default; when it is already the method, Lava's call is a no-op.
    """
    if _LAVA_MP in sys.modules:
        return
    current = multiprocessing.get_start_method(allow_none=True)
    if current is None:
        __import__(_LAVA_MP)
        return
    if current != "fork":
        raise RuntimeError(f"Lava needs the 'fork' start method; this process already uses {current!r}")
    original = multiprocessing.set_start_method
    multiprocessing.set_start_method = lambda method, force=False: None if method == "fork" else original(method, force)
    try:
        __import__(_LAVA_MP)
    finally:
        multiprocessing.set_start_method = original


class Interrupted(Exception):
    """A Lava run stopped by SIGINT or SIGTERM; the runtime and its worker processes are stopped.

    Attributes:
        signum: the signal's number.

    Example:
        >>> str(Interrupted(signal.SIGTERM))
        'Lava run interrupted by SIGTERM; the runtime and its workers were stopped'
    """

    def __init__(self, signum: int):
        self.signum = int(signum)
        super().__init__(
            f"Lava run interrupted by {signal.Signals(signum).name}; the runtime and its workers were stopped"
        )


class _StopRequest:
    """What :func:`_signals_stop_the_run` yields: the signal received, if any."""

    def __init__(self):
        self.signum: int | None = None

    def check(self) -> None:
        """Raise :class:`Interrupted` if a signal came (call between two steps of Lava's protocol)."""
        if self.signum is not None:
            raise Interrupted(self.signum)


@contextmanager
def _signals_stop_the_run() -> Iterator[_StopRequest]:
    """While Lava runs, SIGINT and SIGTERM are noted instead of acted on at once; the run checks
    for them between samples (:meth:`_StopRequest.check`) and raises :class:`Interrupted` there, so
    that the ``finally`` around the run stops the runtime (and every worker) cleanly. Raising
    inside Lava's own calls would leave its message protocol half done and its stop failing.

    Lava's workers are forked while this is in place and inherit the handler; in them it does
    nothing (a Ctrl-C reaches the whole process group): the parent stops them. Outside the main
    thread signals cannot be handled, and nothing is changed.
    """
    request = _StopRequest()
    parent = os.getpid()

    def handler(signum, frame):
        if os.getpid() == parent and request.signum is None:
            request.signum = signum

    with handling((signal.SIGINT, signal.SIGTERM), handler):
        yield request


def _lava_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Torch ``(C, H, W)`` -> Lava ``(W, H, C)``; Conv1d maps ``(C, L)`` -> ``(L, 1, C)``."""
    if len(shape) == 3:
        return (shape[2], shape[1], shape[0])
    if len(shape) == 2:
        return (shape[1], 1, shape[0])
    return tuple(shape)


def _map3(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Torch-order map shape as three dimensions (Conv1d ``(C, L)`` -> ``(C, 1, L)``)."""
    return (shape[0], 1, shape[1]) if len(shape) == 2 else tuple(shape)


def _to_lava(arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Torch-ordered values of a population ``[n]`` -> Lava's layout."""
    if len(shape) >= 2:
        return np.asarray(arr).reshape(_map3(shape)).transpose(2, 1, 0)
    return np.asarray(arr).reshape(shape)


def _lava_order(shape: tuple[int, ...]) -> np.ndarray:
    """For each position of Lava's flattening, the torch flat index (identity for vectors)."""
    n = int(np.prod(shape))
    if len(shape) < 2:
        return np.arange(n)
    return np.arange(n).reshape(_map3(shape)).transpose(2, 1, 0).reshape(-1)


def _conv_weight(weight: np.ndarray) -> np.ndarray:
    """Torch cross-correlation kernel ``[Co, Ci, kH, kW]`` -> Lava convolution kernel ``[Co, kW, kH, Ci]``."""
    return np.ascontiguousarray(weight.transpose(0, 3, 2, 1)[:, ::-1, ::-1, :])


def describe_lowering(network: Network) -> list[str]:
    """Which Lava processes the NIR nodes of a lowered network become (one line a process group).

    Shapes are given in Lava's ``(W, H, C)`` layout; nothing of Lava is imported.

    Args:
        network: the lowered network (:func:`backends.graph.lower`).

    Returns:
        the input source, one line per population, one per projection, the output sink.

    Example:
        >>> import nir
        >>> from backends.graph import lower
        >>> graph = nir.NIRGraph.from_list(
        ...     nir.Input(np.array([3])), nir.Linear(np.ones((2, 3))),
        ...     nir.IF(r=np.ones(2), v_threshold=np.ones(2)), nir.Output(np.array([2])))
        >>> for line in describe_lowering(lower(graph, dt=1.0)):
        ...     print(line)
        input -> RingBuffer (source)
        if -> LIF(2,) [IF: du=1, dv=0, vth=1]
        linear: input->if -> Dense(2x3)
        output -> RingBuffer (sink) on if
    """
    lines = ["input -> RingBuffer (source)"]
    for pop in network.populations:
        groups = pop.groups()
        du, dv = pop.du[groups[0][0]], pop.dv[groups[0][0]]
        kind = "LeakyIntegrator" if pop.readout else "SubtractLIF" if pop.reset == "subtract" else "LIF"
        procs = (
            f"{kind}{_lava_shape(pop.shape)}"
            if len(groups) == 1
            else f"{len(groups)} {kind} processes (time constant groups)"
        )
        lines.append(f"{pop.name} -> {procs} [{pop.neuron}: du={du:g}, dv={dv:g}, vth={pop.vth:g}]")
    for proj in network.projections:
        if proj.synapse == "dense":
            syn = f"Dense({int(np.prod(proj.out_shape))}x{int(np.prod(proj.in_shape))})"
            if proj.delays is not None:
                syn = f"Delay{syn[:-1]}, delays up to {proj.max_delay} extra steps)"
        else:
            k = proj.weight.shape[2:]
            syn = (
                f"Conv({_lava_shape(proj.in_shape)} -> {_lava_shape(proj.out_shape)}, kernel {k[1]}x{k[0]}, "
                f"stride {proj.stride[1]}x{proj.stride[0]})"
            )
        via = (" + ".join(proj.nodes) + ": ") if proj.nodes else ""
        lines.append(f"{via}{proj.name} -> {syn}{' [recurrent]' if proj.recurrent else ''}")
    return lines + [f"output -> RingBuffer (sink) on {network.output}"]


class LavaExecutor:
    """Runs a lowered network on Lava; ``run(spikes [B, T, ...]) -> RunResult``.

    Constructing it quantizes the network (for a fixed-point profile) and imports nothing of Lava;
    each :meth:`run` builds the processes, runs them with ``Loihi2SimCfg`` and stops the runtime.

    Args:
        network: the lowered network (:func:`backends.graph.lower`).
        profile: the hardware profile (fixed point: ``select_tag="fixed_pt"``; float: ``"floating_pt"``).
        pad_steps: idle steps added to each sample's window, ``P = T + latency + pad_steps`` (>= 0).
        samples_per_run: samples run in one build (``None``: all of them), the state zeroed between them.
        fresh: build a new network for every sample (``samples_per_run`` becomes 1; slow, for reference).
        readout: the rule a non-spiking readout's membrane trace is read by (:mod:`backends.readout`);
            the readout runs as :class:`~backends.lava_neurons.leaky_integrator.LeakyIntegrator`.

    Attributes:
        kind: ``"lava"``.
        profile: the hardware profile.
        network: the lowered network.
        qnet: its integer registers (:class:`~backends.quantize.IntNetwork`), ``None`` for float.
        pad_steps, samples_per_run: as used.

    Raises:
        ValueError: ``pad_steps < 0``, ``samples_per_run < 1``, or quantization fails
            (:func:`~backends.quantize.quantize_population`).

    Example:
        >>> import nir
        >>> from backends.graph import lower
        >>> from backends.profile import load_profile
        >>> graph = nir.NIRGraph.from_list(
        ...     nir.Input(np.array([3])), nir.Linear(np.ones((2, 3))),
        ...     nir.IF(r=np.ones(2), v_threshold=np.ones(2)), nir.Output(np.array([2])))
        >>> executor = LavaExecutor(lower(graph, dt=1.0), load_profile("loihi2"), samples_per_run=16)
        >>> executor.in_shape, executor.window(4)
        ((3,), 5)
        >>> executor.run(torch.ones(1, 4, 3)).counts  # runs Lava  # doctest: +SKIP
        tensor([[4., 4.]])
    """

    kind = "lava"

    def __init__(
        self,
        network: Network,
        profile: HardwareProfile,
        pad_steps: int = 0,
        samples_per_run: int | None = None,
        fresh: bool = False,
        readout: str = "max",
    ):
        self.readout = check_rule(readout)
        if pad_steps < 0:
            raise ValueError(f"pad_steps must be >= 0, got {pad_steps}")
        if samples_per_run is not None and samples_per_run < 1:
            raise ValueError(f"samples_per_run must be >= 1, got {samples_per_run}")
        self.network = network
        self.profile = profile
        self.pad_steps = pad_steps
        self.samples_per_run = 1 if fresh else samples_per_run
        self.qnet: IntNetwork | None = quantize(network, profile) if profile.fixed_point else None

    @property
    def in_shape(self) -> tuple[int, ...]:
        """Shape of one time step of input (torch order), e.g. ``(2, 34, 34)``."""
        return self.network.input_shape

    def window(self, timesteps: int) -> int:
        """Steps per sample window ``P = T + latency + pad_steps``.

        Args:
            timesteps: input steps ``T`` per sample.

        Returns:
            the window length ``P``.
        """
        return timesteps + self.network.latency + self.pad_steps

    # -- building ---------------------------------------------------------------------------
    def quiet(self) -> bool:
        """Whether a sample's activity ends inside its window, so that a reset of ``u`` and ``v`` at
        each window's first step (``LIFReset``) is all the next sample needs.

        True when no population has a bias (on ``v`` or through the always-on source), a slow
        current (``du < 1``) or a recurrent projection, every population that feeds another lies
        less deep than the output and resets to zero: then nothing spikes without input, the
        input's last effect reaches a population of depth ``d`` at step ``T - 1 + d``, and no spike
        is in flight across the window's end. (A subtract-reset neuron left above threshold keeps
        spiking after its input stops.) Otherwise the run pauses after each sample and zeroes the state.
        """
        net = self.network
        if net.recurrent or any(p.source == BIAS for p in net.projections):
            return False
        if any(np.any(p.bias != 0) or np.any(p.du < 1) for p in net.populations):
            return False
        depth = net.depths()
        feeding = {p.source for p in net.projections} - {INPUT}
        if any(net.population(name).reset == "subtract" for name in feeding):
            return False
        return all(depth[name] < net.latency for name in feeding)

    def _build(self, data: np.ndarray, total_steps: int, record: bool, window: int, quiet: bool):
        """The Lava processes of one run: the input source, the neurons, the synapses between them
        and the sinks that record spikes; returns ``(source, sinks, lifs, synapses)``."""
        from lava.proc.io.source import RingBuffer as Source

        fixed = self.qnet is not None
        source = Source(data=data)
        ones = None
        if any(p.source == BIAS for p in self.network.projections):  # the source that spikes every step
            ones = Source(data=np.ones((1, total_steps), dtype=np.int32 if fixed else np.float64))
        neurons, slow = self._neurons(window, quiet)
        synapses = self._synapses(neurons, source, ones)
        sinks = self._sinks(neurons, total_steps, record)
        lifs = [(lif, slow[id(lif)]) for procs in neurons.values() for _, lif in procs]
        return source, sinks, lifs, synapses

    def _neurons(self, window: int, quiet: bool):
        """One LIF process per population (per group of neurons with one ``du``/``dv`` where a
        population mixes them): ``({population: [(indices or None, LIF)]}, {id(LIF): slow current})``."""
        from lava.proc.lif.process import LIF, LIFReset

        from backends.lava_neurons.leaky_integrator import LeakyIntegrator, LeakyIntegratorReset
        from backends.lava_neurons.subtract_lif import SubtractLIF, SubtractLIFReset

        fixed = self.qnet is not None
        neurons: dict[str, list[tuple[np.ndarray | None, object]]] = {}
        slow: dict[int, bool] = {}  # LIF process -> whether its current carries over (du < 1)
        for i, pop in enumerate(self.network.populations):
            q = self.qnet.populations[i] if fixed else None
            split = pop.groups()
            procs = []
            for idx in split if len(split) > 1 else [None]:
                first = split[0][0] if idx is None else idx[0]
                shape = (len(idx),) if idx is not None else _lava_shape(pop.shape)

                def lay(a, idx=idx, shape=pop.shape):
                    return np.asarray(a)[idx] if idx is not None else _to_lava(a, shape)

                if fixed:  # integer registers; a float scalar would fail Lava's fixed_pt models
                    params = {
                        "du": int(q.du[first]),
                        "dv": int(q.dv[first]),
                        "vth": int(q.vth),
                        "bias_mant": lay(q.bias_mant).astype(np.int32),
                        "bias_exp": lay(q.bias_exp).astype(np.int32),
                    }
                else:
                    params = {
                        "du": float(pop.du[first]),
                        "dv": float(pop.dv[first]),
                        "vth": float(pop.vth),
                        "bias_mant": lay(pop.bias).astype(np.float64),
                    }
                subtract = pop.reset == "subtract"
                if quiet:  # reset at each window's first step (Lava counts steps from 1)
                    kind = SubtractLIFReset if subtract else LIFReset
                    kind = LeakyIntegratorReset if pop.readout else kind
                    lif = kind(shape=shape, reset_interval=window, reset_offset=1, **params)
                else:
                    kind = SubtractLIF if subtract else LIF
                    lif = (LeakyIntegrator if pop.readout else kind)(shape=shape, **params)
                slow[id(lif)] = bool(pop.du[first] < 1)
                procs.append((idx, lif))
            neurons[pop.name] = procs
        return neurons, slow

    def _synapses(self, neurons, source, ones) -> list:
        """One Conv per convolution, one Dense per block of a dense projection (between neuron
        groups; a ``DelayDense`` where a NIR Delay node holds synapses back), connected from their
        source's spikes to their target's input."""
        from lava.proc.conv.process import Conv
        from lava.proc.dense.process import DelayDense, Dense

        net, fixed = self.network, self.qnet is not None
        synapses = []
        for j, proj in enumerate(net.projections):
            q = self.qnet.projections[j] if fixed else None
            w = q.weight if fixed else proj.weight
            if proj.source in (INPUT, BIAS):
                srcs = [(None, source.s_out if proj.source == INPUT else ones.s_out)]
            else:
                srcs = [(idx, lif.s_out) for idx, lif in neurons[proj.source]]
            tgts = [(idx, lif.a_in) for idx, lif in neurons[proj.target]]
            if proj.synapse == "conv":
                (_, port), (_, a_in) = srcs[0], tgts[0]
                syn = Conv(
                    weight=_conv_weight(w).astype(np.int32 if fixed else np.float64),
                    input_shape=_lava_shape(proj.in_shape),
                    stride=(proj.stride[1], proj.stride[0]),
                    padding=(proj.padding[1], proj.padding[0]),
                )
                port.connect(syn.s_in)
                syn.a_out.connect(a_in)
                synapses.append(syn)
                continue
            for rows, cols in net.blocks(proj):
                port = next(p for idx, p in srcs if idx is cols)
                a_in = next(p for idx, p in tgts if idx is rows)
                row_order = rows if rows is not None else _lava_order(proj.out_shape)
                col_order = cols if cols is not None else _lava_order(proj.in_shape)
                block = w[row_order][:, col_order]
                kind, delays = Dense, {}
                if proj.delays is not None:
                    kind, delays = DelayDense, {"delays": proj.delays[row_order][:, col_order].astype(int)}
                if fixed:
                    syn = kind(
                        weights=block.astype(np.int32),
                        weight_exp=int(q.weight_exp),
                        num_weight_bits=int(q.num_weight_bits),
                        **delays,
                    )
                else:
                    syn = kind(weights=block.astype(np.float64), **delays)
                (port.flatten() if cols is None and len(proj.in_shape) >= 2 else port).connect(syn.s_in)
                out = syn.a_out
                if rows is None and len(proj.out_shape) >= 2:
                    out = out.reshape(_lava_shape(proj.out_shape))
                out.connect(a_in)
                synapses.append(syn)
        return synapses

    def _sinks(self, neurons, total_steps: int, record: bool) -> dict:
        """Spike recorders on the output population (on every population when ``record``)."""
        from lava.proc.io.sink import RingBuffer as Sink

        sinks = {}
        for pop in self.network.populations:
            if record or pop.name == self.network.output:
                sinks[pop.name] = []
                for idx, lif in neurons[pop.name]:
                    sink = Sink(shape=lif.s_out.shape, buffer=total_steps)
                    lif.s_out.connect(sink.a_in)
                    sinks[pop.name].append((idx, sink))
        return sinks

    @staticmethod
    def _zero(lifs, synapses, dtype) -> None:
        """Set every LIF's ``v`` (and ``u`` where the current carries over) and every synaptic buffer to 0."""
        for lif, slow in lifs:
            lif.v.set(np.zeros(lif.v.shape, dtype))
            if slow:  # with du = 1 the current is overwritten by the next step's input anyway
                lif.u.set(np.zeros(lif.u.shape, dtype))
        for syn in synapses:
            buf = syn.a_buff if hasattr(syn, "a_buff") else syn.a_buf
            buf.set(np.zeros(buf.shape, dtype))

    # -- running ---------------------------------------------------------------------------
    def _run_chunk(self, x: np.ndarray, window: int, record: bool) -> dict[str, np.ndarray]:
        """Run samples ``x`` ``[n, T, *in]`` end to end; per recorded population ``[n, P, *shape (torch)]``."""
        _import_lava_runtime()
        from lava.magma.core.run_conditions import RunSteps
        from lava.magma.core.run_configs import Loihi2SimCfg

        n, steps_in = x.shape[:2]
        total = n * window
        frames = np.zeros((n, window) + self.in_shape, dtype=np.float64)
        frames[:, :steps_in] = x
        frames = frames.reshape((total, -1))[:, _lava_order(self.in_shape)]
        data = frames.reshape((total,) + _lava_shape(self.in_shape))
        data = np.moveaxis(data, 0, -1)  # (*lava shape, time)
        fixed = self.qnet is not None
        data = np.ascontiguousarray(data if not fixed else data.astype(np.int32))
        source = None
        with _signals_stop_the_run() as stop:
            try:
                quiet = self.quiet()
                source, sinks, lifs, synapses = self._build(data, total, record, window, quiet)
                stop.check()
                cfg = Loihi2SimCfg(select_tag="fixed_pt" if fixed else "floating_pt")
                zero_type = np.int32 if fixed else np.float64
                if quiet:  # a long run (LIFReset zeroes u and v at each window's start), in
                    for k in range(0, n, _QUIET_CHUNK):  # chunks so that a signal is seen soon
                        steps = (min(n, k + _QUIET_CHUNK) - k) * window
                        source.run(condition=RunSteps(num_steps=steps), run_cfg=cfg)
                        stop.check()
                else:
                    for k in range(n):
                        source.run(condition=RunSteps(num_steps=window), run_cfg=cfg)
                        stop.check()
                        if k + 1 < n:  # the next sample starts from a fresh network's state
                            self._zero(lifs, synapses, zero_type)
                raw = {name: [(idx, np.asarray(s.data.get())) for idx, s in parts] for name, parts in sinks.items()}
            finally:
                if source is not None and source.runtime is not None:
                    source.stop()
        out = {}
        for name, parts in raw.items():
            pop = self.network.population(name)
            flat = np.zeros((total, pop.n), dtype=np.float64 if pop.readout else bool)
            # a readout sends its voltage: in the graph's units (fixed point: v / (scale << 6))
            unit = self.qnet.population(name).scale * (1 << self.profile.shift) if fixed and pop.readout else 1.0
            for idx, r in parts:
                r = np.moveaxis(r, -1, 0).reshape(total, -1)  # (time, lava flat)
                r = r / unit if pop.readout else r != 0
                if idx is None:
                    flat[:, _lava_order(pop.shape)] = r
                else:
                    flat[:, idx] = r
            out[name] = flat.reshape((n, window) + pop.shape)
        return out

    @torch.no_grad()
    def run(self, spikes, record: bool = False) -> RunResult:
        """Run binary input ``[B, T, *in_shape]`` on Lava; see :class:`backends.executor.RunResult`.

        Args:
            spikes: binary spikes ``[B, T, *in_shape]`` (tensor or array; see
                :func:`~backends.executor.check_spikes`).
            record: also record every population's spikes (one sink per LIF process).

        Returns:
            a :class:`~backends.executor.RunResult`: ``window`` ``[B, P, n_out]`` and ``output``
            ``[B, T, n_out]`` float32 0/1 (``P = T + latency + pad_steps``), ``layers`` (with
            ``record``) one float32 ``[B, P, *shape]`` per population (torch order, network order).

        Raises:
            ValueError: the input is not binary spikes of shape ``[B, T, *in_shape]``, or ``B = 0``.
            RuntimeError: the process's multiprocessing start method is already fixed to one other
                than ``fork``.
        """
        x = check_spikes(spikes, self.in_shape).numpy().astype(np.float64)
        if len(x) == 0:
            raise ValueError("hardware input has no samples")
        steps_in = x.shape[1]
        window = self.window(steps_in)
        per = self.samples_per_run or len(x)
        chunks = [self._run_chunk(x[i : i + per], window, record) for i in range(0, len(x), per)]
        merged = {name: torch.from_numpy(np.concatenate([c[name] for c in chunks])).float() for name in chunks[0]}
        out = merged[self.network.output].reshape(len(x), window, -1)
        lat = self.network.latency
        layers = [merged[p.name] for p in self.network.populations] if record else None
        return RunResult(out, out[:, lat : lat + steps_in], layers, self.readout if self.network.readout else None)
