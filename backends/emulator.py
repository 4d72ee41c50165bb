"""Batched PyTorch emulator of lava-nc's fixed-point (and floating-point) Dense/Conv + LIF.

It reproduces ``Loihi2SimCfg(select_tag="fixed_pt")`` spike for spike, at every layer and step,
for a whole batch at once (the tests compare it with Lava itself). The rules, as lava-nc 0.10.0
runs them (``lava/proc/{dense,conv,lif}/models.py``; the rules are functions of :mod:`backends.loihi`):

- Dense: mantissas clipped to 8 bits and truncated to ``num_weight_bits`` by Lava's sign mode;
  ``acc = W[:, s != 0].sum(1)``; ``a = acc << weight_exp`` (``acc >> -weight_exp``, a floor);
  Conv: ``a = conv(s, W)`` wrapped to 24 bits. Activations travel as int32.
- Each synapse sends at step ``t`` what it computed at ``t - 1``: input column ``t`` reaches layer
  ``l`` (0-based) at step ``t + l + 1``; a sample needs ``T + L`` steps (the window).
- LIF: ``u = trunc(u (4096 - du - 1) / 4096) + (a << 6)`` in int32, wrapped once into 24 bits;
  ``v = clip(trunc(v (4096 - dv) / 4096) + u + (bias_mant << bias_exp), +-(2^23 - 1))``;
  spike when ``v > vth << 6``; ``v -> 0`` where spiked.
- Samples are independent windows. Lava's multi-sample runs (``backends.lava``) reset layer ``l``
  with ``LIFReset`` at local step ``l + 2``, the step its first input arrives; the emulator applies
  the same reset, so both agree sample for sample (it changes nothing unless biases or slow
  currents moved the state earlier).

Float profiles follow Lava's ``floating_pt`` models instead (no quantization, ``weight_exp``
ignored, the same delays).

Speed: layer-major. The synaptic input of a layer for all steps is one matrix product: fixed-point
dense layers use an exact int8 x int8 -> int32 product (``torch._int_mm``; :class:`Int8Product`), convs a
float32 convolution (exact: integer sums stay below 2**24, checked); then the LIF recurrence is a
scan over the window on int64 tensors. Steps after the last input are skipped in the products.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from backends.executor import RunResult, check_spikes
from backends.graph import FloatLayer
from backends.loihi import applied_bias, applied_weights, decay, wrap32, wrap_signed, wrap_state
from backends.profile import HardwareProfile
from backends.quantize import IntLayer, quantize

_EXACT_F32 = 1 << 24


class Int8Product:
    """Exact ``spikes @ W.T`` for binary int8 spikes and integer weights, with ``torch._int_mm``.

    Weights are divided by their common grid step (Lava's truncation makes mixed 8-bit mantissas
    even, so they fit int8 once halved); wider ones are split into ``hi * 128 + lo`` int8 parts.
    Shapes are padded to multiples of 8 as the CPU kernel needs. Accumulation is int32.

    Args:
        weight: integer weights ``[n_out, n_in]``, as Lava applies them
            (:func:`~backends.loihi.applied_weights`); their magnitudes divided by the common step
            must fit ``[-128 * 128, 127 * 128 + 127]``.

    Attributes:
        step: the greatest common divisor of the non-zero weights (1 when all are zero).
        n_out, n_in: the weight matrix's shape.
        k, n: ``n_in`` and ``n_out`` rounded up to multiples of 8.
        parts: ``(factor, int8 [k, n])`` pairs: ``weight.T == sum(factor * part)`` over the unpadded block.

    Example:
        >>> product = Int8Product(np.array([[2, -4, 254], [0, 6, -256]]))  # even: halved to int8
        >>> product.step, len(product.parts)
        (2, 1)
        >>> product(torch.tensor([[1, 0, 1], [0, 1, 1]], dtype=torch.int8))
        tensor([[ 256, -256],
                [ 250, -250]])
    """

    def __init__(self, weight: np.ndarray):
        w = np.asarray(weight, dtype=np.int64)
        nz = np.abs(w[w != 0])
        self.step = int(np.gcd.reduce(nz)) if nz.size else 1
        w = w // self.step
        self.n_out, self.n_in = w.shape
        self.k = -(-self.n_in // 8) * 8
        self.n = -(-self.n_out // 8) * 8
        if w.min() >= -128 and w.max() <= 127:
            parts = [(1, w)]
        else:
            hi = np.floor_divide(w, 128)
            parts = [(128, hi), (1, w - hi * 128)]
        self.parts = []
        for factor, part in parts:
            padded = np.zeros((self.k, self.n), dtype=np.int8)
            padded[: self.n_in, : self.n_out] = part.T
            self.parts.append((factor * self.step, torch.from_numpy(padded)))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` int8 ``[m, n_in]`` -> int64 ``[m, n_out]``.

        Args:
            x: int8 spikes (0/1) ``[m, n_in]``, e.g. ``m = steps * batch`` rows.

        Returns:
            int64 ``[m, n_out]``: ``x @ weight.T``, exact.
        """
        m = x.shape[0]
        rows = max(m, 17)
        if rows != m or self.k != self.n_in:
            xp = torch.zeros((rows, self.k), dtype=torch.int8)
            xp[:m, : self.n_in] = x
            x = xp
        acc = None
        for factor, w in self.parts:
            term = torch._int_mm(x, w)[:m, : self.n_out].to(torch.int64)
            term = term * factor if factor != 1 else term
            acc = term if acc is None else acc + term
        return acc


def unfold_pooling(weight: torch.Tensor, stride: tuple[int, int], padding: tuple[int, int]):
    """Undo a ``b x b`` sum-pool folded into a conv (:mod:`backends.graph`), if there is one.

    A conv whose kernel is constant over ``b x b`` blocks (``b`` its stride) is split into
    ``(b, kernel / b, stride / b, padding / b)``; anything else gives ``None``.

    ``conv(x, W, stride, padding) == conv(sumpool_b(x), W[:, :, ::b, ::b], stride / b, padding / b)``
    exactly, with ``b * b`` times fewer multiply-accumulates.

    Args:
        weight: conv weights ``[C_out, C_in, kH, kW]`` (torch layout, any dtype).
        stride: ``(sH, sW)``; only ``sH == sW = b >= 2`` can unfold.
        padding: ``(pH, pW)``, multiples of ``b`` to unfold.

    Returns:
        ``(b, weight [C_out, C_in, kH / b, kW / b], (1, 1), (pH / b, pW / b))``, or ``None`` when
        the kernel is not constant over aligned ``b x b`` blocks.

    Example:
        >>> b, w, stride, padding = unfold_pooling(torch.ones(2, 1, 4, 4), (2, 2), (0, 0))
        >>> b, tuple(w.shape), stride, padding
        (2, (2, 1, 2, 2), (1, 1), (0, 0))
        >>> unfold_pooling(torch.arange(16.0).reshape(1, 1, 4, 4), (2, 2), (0, 0)) is None
        True
    """
    b = stride[0]
    co, ci, kh, kw = weight.shape
    if b < 2 or stride[1] != b or kh % b or kw % b or padding[0] % b or padding[1] % b:
        return None
    blocks = weight.reshape(co, ci, kh // b, b, kw // b, b)
    if not bool((blocks == blocks[:, :, :, :1, :, :1]).all()):
        return None
    return b, weight[:, :, ::b, ::b].contiguous(), (1, 1), (padding[0] // b, padding[1] // b)


@dataclass
class LayerParams:
    """One layer as the emulator computes with it (float or integer, per the profile).

    Attributes:
        weight: synapse weights (dense ``[n_out, n_in]``, conv ``[C_out, C_in, kH, kW]``): the weights
            Lava applies (:func:`~backends.loihi.applied_weights`) for fixed point, float64 otherwise.
        unfolded: a folded sum-pool undone (:func:`unfold_pooling`), or ``None``.
        dtype: the dtype of the synaptic product (fixed point: float32 while integer sums stay exact,
            else float64; float profiles: float64).
        bias: per-neuron bias added to ``v`` each step, shaped like the population (int64 for fixed
            point, ``bias_mant << bias_exp``; float64 otherwise).
        has_bias: whether any bias is non-zero.
        du, dv, vth: Lava's registers (integers; ``vth`` already shifted by 6) or float values.
        product: the exact int8 product of a fixed-point dense layer (:class:`Int8Product`).
        exp: the dense layer's ``weight_exp``.

    Example:
        >>> params = LayerParams(weight=torch.ones(2, 3, dtype=torch.float64), unfolded=None, dtype=torch.float64,
        ...                      bias=torch.zeros(2, dtype=torch.float64), has_bias=False, du=1.0, dv=0.0, vth=1.0)
        >>> params.product is None, params.exp
        (True, 0)
    """

    weight: torch.Tensor
    unfolded: tuple | None
    dtype: torch.dtype
    bias: torch.Tensor
    has_bias: bool
    du: float | int
    dv: float | int
    vth: float | int
    product: Int8Product | None = None
    exp: int = 0


class EmulatorExecutor:
    """The emulator for one lowered graph and profile: ``run(spikes [B, T, ...]) -> RunResult``.

    Args:
        layers: the lowered graph (:func:`backends.graph.lower`), quantized here for a fixed-point profile.
        profile: the hardware profile (fixed point: Lava's ``fixed_pt`` models; float: ``floating_pt``).
        pad_steps: idle steps added to each sample's window, ``P = T + L + pad_steps`` (>= 0).
        batch_size: samples emulated at once (memory: a few ``[P, batch_size, *shape]`` int64 tensors per layer).

    Attributes:
        kind: ``"emulator"``.
        profile: the hardware profile.
        float_layers: the lowered layers.
        int_layers: their quantized registers (:class:`~backends.quantize.IntLayer`), ``None`` for float.
        pad_steps, batch_size: as given.

    Raises:
        ValueError: ``pad_steps`` is negative, or quantization fails
            (:func:`~backends.quantize.quantize_layer`).

    Example:
        >>> import nir
        >>> from backends.graph import lower
        >>> from backends.profile import load_profile
        >>> graph = nir.NIRGraph.from_list(
        ...     nir.Input(np.array([3])), nir.Linear(np.ones((2, 3))),
        ...     nir.IF(r=np.ones(2), v_threshold=np.ones(2)), nir.Output(np.array([2])))
        >>> executor = EmulatorExecutor(lower(graph), load_profile("loihi2"))
        >>> result = executor.run(torch.ones(1, 4, 3))  # [B=1, T=4, 3]
        >>> result.window.shape, result.output.shape, result.counts
        (torch.Size([1, 5, 2]), torch.Size([1, 4, 2]), tensor([[4., 4.]]))
    """

    kind = "emulator"

    def __init__(self, layers: list[FloatLayer], profile: HardwareProfile, pad_steps: int = 0, batch_size: int = 256):
        if pad_steps < 0:
            raise ValueError(f"pad_steps must be >= 0, got {pad_steps}")
        self.profile = profile
        self.float_layers = layers
        self.pad_steps = pad_steps
        self.batch_size = batch_size
        self.int_layers: list[IntLayer] | None = quantize(layers, profile) if profile.fixed_point else None
        self._params = [self._prepare(i) for i in range(len(layers))]

    @property
    def in_shape(self) -> tuple[int, ...]:
        """Shape of one time step of input, e.g. ``(2, 34, 34)``."""
        return self.float_layers[0].in_shape

    @property
    def n_layers(self) -> int:
        """Number of hardware layers ``L`` (one synaptic delay each)."""
        return len(self.float_layers)

    def window(self, timesteps: int) -> int:
        """Steps per sample window ``P = T + L + pad_steps``.

        Args:
            timesteps: input steps ``T`` per sample.

        Returns:
            the window length ``P``.
        """
        return timesteps + self.n_layers + self.pad_steps

    # -- parameters --------------------------------------------------------------------------
    def _prepare(self, i: int) -> LayerParams:
        fl = self.float_layers[i]
        if self.int_layers is None:
            w = torch.as_tensor(fl.weight, dtype=torch.float64)
            return LayerParams(
                weight=w,
                unfolded=unfold_pooling(w, fl.stride, fl.padding) if fl.synapse == "conv" else None,
                dtype=torch.float64,
                bias=torch.as_tensor(fl.bias, dtype=torch.float64).reshape(fl.out_shape),
                has_bias=bool(np.any(np.asarray(fl.bias) != 0)),
                du=fl.du,
                dv=fl.dv,
                vth=fl.vth,
            )
        q = self.int_layers[i]
        w = applied_weights(q)
        fan = np.abs(w).reshape(w.shape[0], -1).sum(1).max()
        dtype = torch.float32 if fan < _EXACT_F32 else torch.float64
        bias = applied_bias(q)
        weight = torch.as_tensor(w, dtype=dtype)
        return LayerParams(
            weight=weight,
            unfolded=unfold_pooling(weight, q.stride, q.padding) if q.synapse == "conv" else None,
            product=Int8Product(w) if q.synapse == "dense" else None,
            dtype=dtype,
            bias=torch.as_tensor(bias, dtype=torch.int64).reshape(q.out_shape),
            has_bias=bool(np.any(bias != 0)),
            du=q.du,
            dv=q.dv,
            vth=q.vth << self.profile.shift,
            exp=q.weight_exp,
        )

    # -- one layer -------------------------------------------------------------------------
    def _synapse(self, i: int, s: torch.Tensor, active: int) -> torch.Tensor:
        """Activations ``[P, B, *out]`` as they reach the LIF, from spikes ``s`` ``[P, B, *in]``.

        Only the first ``active`` (< P) input steps can carry spikes; each synapse delays by one
        step, so what step ``t`` computes arrives at ``t + 1`` (written there directly)."""
        fl, p = self.float_layers[i], self._params[i]
        steps, batch = s.shape[:2]
        x = s[:active].reshape(active * batch, *fl.in_shape)
        if p.product is not None:
            acc = p.product(x.reshape(active * batch, -1))
        elif fl.synapse == "dense":
            acc = x.reshape(active * batch, -1).to(p.dtype) @ p.weight.T
        elif p.unfolded is not None:  # the folded pooling, undone: sum-pool, then the small kernel
            b, w, stride, padding = p.unfolded
            pooled = F.avg_pool2d(x.to(p.dtype), b) * (b * b)
            acc = F.conv2d(pooled, w, stride=stride, padding=padding)
        else:
            acc = F.conv2d(x.to(p.dtype), p.weight, stride=fl.stride, padding=fl.padding)
        acc = acc.reshape(active, batch, *fl.out_shape)
        out = torch.zeros((steps, batch, *fl.out_shape), dtype=torch.int64 if self.int_layers else torch.float64)
        if self.int_layers is None:
            out[1 : active + 1] = acc
            return out
        acc = torch.round(acc).to(torch.int64) if acc.is_floating_point() else acc
        if fl.synapse == "dense":
            e = p.exp
            acc = acc << e if e >= 0 else acc >> -e
        else:
            acc = wrap_signed(acc, self.profile.state_bits)
        out[1 : active + 1] = wrap32(acc)
        return out

    def _lif(self, i: int, a: torch.Tensor, reset_step: int) -> torch.Tensor:
        """Scan the LIF of layer ``i`` over delayed activations ``a`` ``[P, B, *out]``; spikes."""
        p = self._params[i]
        steps = a.shape[0]
        if self.int_layers is None:
            out = torch.zeros(a.shape, dtype=torch.int8)
            u = torch.zeros(a.shape[1:], dtype=torch.float64)
            v = torch.zeros_like(u)
            for t in range(steps):
                if t == reset_step:
                    u.zero_()
                    v.zero_()
                u = u * (1 - p.du) + a[t]
                v = v * (1 - p.dv) + u + p.bias
                spike = v > p.vth
                v = torch.where(spike, torch.zeros_like(v), v)
                out[t] = spike
            return out
        unity = self.profile.decay_unity
        m = self.profile.max_state
        du_keep = unity - p.du - 1
        dv_keep = unity - p.dv
        shift = self.profile.shift
        bits = self.profile.decay_bits
        fired = torch.zeros(a.shape, dtype=torch.bool)  # viewed as int8 at the end, no copy
        u = torch.zeros(a.shape[1:], dtype=torch.int64)
        v = torch.zeros_like(u)
        y = torch.empty_like(u)  # work buffers: the scan runs in place (allocation dominated it)
        r = torch.empty_like(u)
        for t in range(steps):  # step by step, so each step's tensors stay in cache
            if t == reset_step:
                u.zero_()
                v.zero_()
            a6 = wrap32(a[t] << shift)
            if du_keep == 0:  # du = 4095: the current forgets everything each step
                u = wrap_state(a6, m)
            else:
                u = wrap_state(wrap32(decay(u, du_keep, bits) + a6), m)
            step_drive = u + p.bias if p.has_bias else u
            if dv_keep != unity:
                torch.add(decay(v, dv_keep, bits, out=y, scratch=r), step_drive, out=v)
            else:
                v.add_(step_drive)
            v.clamp_(-(m - 1), m - 1)
            spike = fired[t]
            torch.gt(v, p.vth, out=spike)
            v.masked_fill_(spike, 0)
        return fired.view(torch.int8)

    # -- a run -----------------------------------------------------------------------------
    @torch.no_grad()
    def run(self, spikes, record: bool = False) -> RunResult:
        """Run binary input ``[B, T, *in_shape]``; see :class:`RunResult`.

        Args:
            spikes: binary spikes ``[B, T, *in_shape]`` (tensor or array; see
                :func:`~backends.executor.check_spikes`).
            record: also return every layer's spikes.

        Returns:
            a :class:`~backends.executor.RunResult`: ``window`` ``[B, P, n_out]`` and ``output``
            ``[B, T, n_out]`` float32 0/1 (``P = T + L + pad_steps``), ``layers`` (with ``record``)
            one float32 ``[B, P, *out_shape]`` per layer.

        Raises:
            ValueError: the input is not binary spikes of shape ``[B, T, *in_shape]``, or ``B = 0``.
        """
        x = check_spikes(spikes, self.in_shape)
        results = [self._run_batch(x[i : i + self.batch_size], record) for i in range(0, len(x), self.batch_size)]
        if not results:
            raise ValueError("hardware input has no samples")
        window = torch.cat([r.window for r in results])
        output = torch.cat([r.output for r in results])
        layers = [torch.cat(parts) for parts in zip(*(r.layers for r in results))] if record else None
        return RunResult(window, output, layers)

    def _run_batch(self, x: torch.Tensor, record: bool) -> RunResult:
        batch, steps_in = x.shape[:2]
        window = self.window(steps_in)
        s = torch.zeros((window, batch, *self.in_shape), dtype=torch.int8)
        s[:steps_in] = x.transpose(0, 1)
        active = steps_in  # steps that can carry spikes into the next layer
        traces = []
        for i in range(self.n_layers):
            s = self._lif(i, self._synapse(i, s, min(active, window - 1)), reset_step=i + 1)
            active = window if (self.pad_steps or self._keeps_state(i)) else min(active + 1, window)
            if record:
                traces.append(s.transpose(0, 1).float())
        out = s.transpose(0, 1).reshape(batch, window, -1).float()
        n = self.n_layers
        return RunResult(out, out[:, n : n + steps_in], traces if record else None)

    def _keeps_state(self, i: int) -> bool:
        """Whether layer ``i`` can spike after its input stops (bias, or a slow current)."""
        p = self._params[i]
        unity = self.profile.decay_unity
        slow_current = p.du < (unity - 1 if self.int_layers is not None else 1.0)
        return bool(slow_current or p.has_bias)
