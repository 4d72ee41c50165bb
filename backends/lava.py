"""NIR -> lava-nc processes, run with ``Loihi2SimCfg`` (``fixed_pt`` or ``floating_pt``).

Each lowered layer (:mod:`backends.graph`) becomes one synaptic process and one neuron process:

- dense synapse -> ``lava.proc.dense.process.Dense`` (fixed point: weight mantissas,
  ``weight_exp``, ``num_weight_bits``; Lava clips and truncates them itself);
- conv synapse -> ``lava.proc.conv.process.Conv`` (Lava layout: input ``(W, H, C)``, weights
  ``(C_out, kW, kH, C_in)``, a true convolution, so torch kernels are flipped; it ignores
  ``weight_exp``/``num_weight_bits``, so weights arrive as full integers from
  :mod:`backends.quantize`);
- neurons -> ``lava.proc.lif.process.LIFReset`` (LIF with a periodic state reset, used to run many
  samples in one long run: layer ``l`` resets at local step ``l + 2``, when its first input of the
  next sample arrives);
- input -> ``lava.proc.io.source.RingBuffer``; output -> ``lava.proc.io.sink.RingBuffer`` on the last
  layer (and on every layer when traces are asked for).

Conv populations live in Lava's ``(W, H, C)`` layout; a dense layer after one gets its weight
columns permuted to that order and its input through ``s_out.flatten()``.

Samples are laid end to end in windows of ``T + L (+ pad)`` steps, ``samples_per_run`` at a time
(one build, one long run); ``samples_per_run=1`` with ``fresh=True`` builds a new network per sample
(slow, for reference). The runtime is always stopped, also when building or running raises.
"""

from __future__ import annotations

import multiprocessing
import sys

import numpy as np
import torch

from backends.executor import RunResult, check_spikes
from backends.graph import FloatLayer
from backends.profile import HardwareProfile
from backends.quantize import IntLayer, quantize

_LAVA_MP = "lava.magma.runtime.message_infrastructure.multiprocessing"


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


def _whc(arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Torch ``[C, H, W]``-ordered values of a population -> Lava ``(W, H, C)`` layout."""
    if len(shape) == 3:
        return np.asarray(arr).reshape(shape).transpose(2, 1, 0)
    return np.asarray(arr).reshape(shape)


def _lava_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (shape[2], shape[1], shape[0]) if len(shape) == 3 else tuple(shape)


def _dense_columns(weight: np.ndarray, in_shape: tuple[int, ...]) -> np.ndarray:
    """Permute dense weight columns from torch's (C, H, W) flattening to Lava's (W, H, C)."""
    if len(in_shape) != 3:
        return weight
    c, h, w = in_shape
    idx = np.arange(c * h * w).reshape(c, h, w).transpose(2, 1, 0).reshape(-1)
    return weight[:, idx]


def _conv_weight(weight: np.ndarray) -> np.ndarray:
    """Torch cross-correlation kernel ``[Co, Ci, kH, kW]`` -> Lava convolution kernel ``[Co, kW, kH, Ci]``."""
    return np.ascontiguousarray(weight.transpose(0, 3, 2, 1)[:, ::-1, ::-1, :])


def describe_lowering(layers: list[FloatLayer]) -> list[str]:
    """Which Lava processes the NIR nodes of each lowered layer become (one line a layer).

    Shapes are given in Lava's ``(W, H, C)`` layout; nothing of Lava is imported.

    Args:
        layers: the lowered graph (:func:`backends.graph.lower`).

    Returns:
        ``len(layers) + 2`` lines: the input source, one per layer, the output sink.

    Example:
        >>> import nir
        >>> from backends.graph import lower
        >>> graph = nir.NIRGraph.from_list(
        ...     nir.Input(np.array([3])), nir.Linear(np.ones((2, 3))),
        ...     nir.IF(r=np.ones(2), v_threshold=np.ones(2)), nir.Output(np.array([2])))
        >>> for line in describe_lowering(lower(graph)):
        ...     print(line)
        input -> RingBuffer (source)
        linear + if -> Dense(2x3) + LIFReset(2,) [IF: du=1, dv=0, vth=1, reset at step 2 of each window]
        output -> RingBuffer (sink)
    """
    lines = []
    for i, fl in enumerate(layers):
        if fl.synapse == "dense":
            syn = f"Dense({fl.n_out}x{fl.n_in})"
        else:
            k = fl.weight.shape[2:]
            syn = (
                f"Conv({_lava_shape(fl.in_shape)} -> {_lava_shape(fl.out_shape)}, kernel {k[1]}x{k[0]}, "
                f"stride {fl.stride[1]}x{fl.stride[0]})"
            )
        lines.append(
            f"{' + '.join(fl.nodes)} -> {syn} + LIFReset{_lava_shape(fl.out_shape)} "
            f"[{fl.neuron}: du={fl.du:g}, dv={fl.dv:g}, vth={fl.vth:g}, reset at step {i + 2} of each window]"
        )
    return ["input -> RingBuffer (source)"] + lines + ["output -> RingBuffer (sink)"]


class LavaExecutor:
    """Runs a lowered graph on Lava; ``run(spikes [B, T, ...]) -> RunResult``.

    Constructing it quantizes the layers (for a fixed-point profile) and imports nothing of Lava;
    each :meth:`run` builds the processes, runs them with ``Loihi2SimCfg`` and stops the runtime.

    Args:
        layers: the lowered graph (:func:`backends.graph.lower`).
        profile: the hardware profile (fixed point: ``select_tag="fixed_pt"``; float: ``"floating_pt"``).
        pad_steps: idle steps added to each sample's window, ``P = T + L + pad_steps`` (>= 0).
        samples_per_run: samples laid end to end in one build and run (``None``: all of them).
        fresh: build a new network for every sample (``samples_per_run`` becomes 1; slow, for reference).

    Attributes:
        kind: ``"lava"``.
        profile: the hardware profile.
        float_layers: the lowered layers.
        int_layers: their quantized registers (:class:`~backends.quantize.IntLayer`), ``None`` for float.
        pad_steps, samples_per_run: as used.

    Raises:
        ValueError: ``pad_steps < 0``, ``samples_per_run < 1``, or quantization fails
            (:func:`~backends.quantize.quantize_layer`).

    Example:
        >>> import nir
        >>> from backends.graph import lower
        >>> from backends.profile import load_profile
        >>> graph = nir.NIRGraph.from_list(
        ...     nir.Input(np.array([3])), nir.Linear(np.ones((2, 3))),
        ...     nir.IF(r=np.ones(2), v_threshold=np.ones(2)), nir.Output(np.array([2])))
        >>> executor = LavaExecutor(lower(graph), load_profile("loihi2"), samples_per_run=16)
        >>> executor.in_shape, executor.window(4)
        ((3,), 5)
        >>> executor.run(torch.ones(1, 4, 3)).counts  # runs Lava  # doctest: +SKIP
        tensor([[4., 4.]])
    """

    kind = "lava"

    def __init__(
        self,
        layers: list[FloatLayer],
        profile: HardwareProfile,
        pad_steps: int = 0,
        samples_per_run: int | None = None,
        fresh: bool = False,
    ):
        if pad_steps < 0:
            raise ValueError(f"pad_steps must be >= 0, got {pad_steps}")
        if samples_per_run is not None and samples_per_run < 1:
            raise ValueError(f"samples_per_run must be >= 1, got {samples_per_run}")
        self.float_layers = layers
        self.profile = profile
        self.pad_steps = pad_steps
        self.samples_per_run = 1 if fresh else samples_per_run
        self.int_layers: list[IntLayer] | None = quantize(layers, profile) if profile.fixed_point else None

    @property
    def in_shape(self) -> tuple[int, ...]:
        """Shape of one time step of input (torch order), e.g. ``(2, 34, 34)``."""
        return self.float_layers[0].in_shape

    def window(self, timesteps: int) -> int:
        """Steps per sample window ``P = T + L + pad_steps``.

        Args:
            timesteps: input steps ``T`` per sample.

        Returns:
            the window length ``P``.
        """
        return timesteps + len(self.float_layers) + self.pad_steps

    # -- building ---------------------------------------------------------------------------
    def _build(self, data: np.ndarray, total_steps: int, window: int, record: bool):
        from lava.proc.conv.process import Conv
        from lava.proc.dense.process import Dense
        from lava.proc.io.sink import RingBuffer as Sink
        from lava.proc.io.source import RingBuffer as Source
        from lava.proc.lif.process import LIFReset

        fixed = self.int_layers is not None
        source = Source(data=data)
        port = source.s_out
        sinks = []
        prev_shape = self.in_shape
        for i, fl in enumerate(self.float_layers):
            q = self.int_layers[i] if fixed else None
            if fl.synapse == "dense":
                if len(prev_shape) == 3:
                    port = port.flatten()
                w = q.weight if fixed else fl.weight
                w = _dense_columns(w, prev_shape)
                if fixed:
                    syn = Dense(
                        weights=w.astype(np.int32), weight_exp=int(q.weight_exp), num_weight_bits=int(q.num_weight_bits)
                    )
                else:
                    syn = Dense(weights=w.astype(np.float64))
            else:
                w = _conv_weight(q.weight if fixed else fl.weight)
                syn = Conv(
                    weight=w.astype(np.int32 if fixed else np.float64),
                    input_shape=_lava_shape(fl.in_shape),
                    stride=(fl.stride[1], fl.stride[0]),
                    padding=(fl.padding[1], fl.padding[0]),
                )
            port.connect(syn.s_in)
            shape = _lava_shape(fl.out_shape)
            reset = {"reset_interval": window, "reset_offset": (i + 2) % window}
            if fixed:  # integer registers; a float scalar would fail Lava's fixed_pt models
                params = {
                    "du": int(q.du),
                    "dv": int(q.dv),
                    "vth": int(q.vth),
                    "bias_mant": _whc(q.bias_mant, fl.out_shape).astype(np.int32),
                    "bias_exp": _whc(q.bias_exp, fl.out_shape).astype(np.int32),
                }
            else:
                params = {
                    "du": float(fl.du),
                    "dv": float(fl.dv),
                    "vth": float(fl.vth),
                    "bias_mant": _whc(fl.bias, fl.out_shape).astype(np.float64),
                }
            lif = LIFReset(shape=shape, **params, **reset)
            syn.a_out.connect(lif.a_in)
            if record or i == len(self.float_layers) - 1:
                sink = Sink(shape=shape, buffer=total_steps)
                lif.s_out.connect(sink.a_in)
                sinks.append(sink)
            port = lif.s_out
            prev_shape = fl.out_shape
        return source, sinks

    # -- running ---------------------------------------------------------------------------
    def _run_chunk(self, x: np.ndarray, window: int, record: bool) -> list[np.ndarray]:
        """Run samples ``x`` ``[n, T, *in]`` end to end; per recorded layer ``[n, P, *out (torch)]``."""
        _import_lava_runtime()
        from lava.magma.core.run_conditions import RunSteps
        from lava.magma.core.run_configs import Loihi2SimCfg

        n, steps_in = x.shape[:2]
        total = n * window
        frames = np.zeros((n, window) + self.in_shape, dtype=np.float64)
        frames[:, :steps_in] = x
        frames = frames.reshape((total,) + self.in_shape)
        if len(self.in_shape) == 3:
            data = frames.transpose(3, 2, 1, 0)  # (W, H, C, time)
        else:
            data = frames.transpose(1, 0)
        data = np.ascontiguousarray(data if self.int_layers is None else data.astype(np.int32))
        source = None
        try:
            source, sinks = self._build(data, total, window, record)
            tag = "fixed_pt" if self.int_layers is not None else "floating_pt"
            source.run(condition=RunSteps(num_steps=total), run_cfg=Loihi2SimCfg(select_tag=tag))
            raw = [np.asarray(s.data.get()) for s in sinks]
        finally:
            if source is not None and source.runtime is not None:
                source.stop()
        layers = self.float_layers if record else self.float_layers[-1:]
        out = []
        for fl, r in zip(layers, raw):
            # r: (*lava_shape, time) -> [time, *torch shape]
            if len(fl.out_shape) == 3:
                r = r.transpose(3, 2, 1, 0)
            else:
                r = r.transpose(1, 0)
            out.append((r != 0).reshape((n, window) + fl.out_shape))
        return out

    @torch.no_grad()
    def run(self, spikes, record: bool = False) -> RunResult:
        """Run binary input ``[B, T, *in_shape]`` on Lava; see :class:`backends.executor.RunResult`.

        Args:
            spikes: binary spikes ``[B, T, *in_shape]`` (tensor or array; see
                :func:`~backends.executor.check_spikes`).
            record: also record every layer's spikes (one sink per layer).

        Returns:
            a :class:`~backends.executor.RunResult`: ``window`` ``[B, P, n_out]`` and ``output``
            ``[B, T, n_out]`` float32 0/1 (``P = T + L + pad_steps``), ``layers`` (with ``record``)
            one float32 ``[B, P, *out_shape]`` per layer (torch order).

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
        layers = [torch.from_numpy(np.concatenate(parts)).float() for parts in zip(*chunks)]
        out = layers[-1].reshape(len(x), window, -1)
        n = len(self.float_layers)
        return RunResult(out, out[:, n : n + steps_in], layers if record else None)
