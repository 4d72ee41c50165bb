"""The functional core of Loihi's integer arithmetic, as lava-nc 0.10.0's bit-accurate models run it.

Pure functions on int64 torch tensors (or numpy arrays for weights), shared by the batched
emulator (:mod:`backends.emulator`) and the differentiable fixed-point twin that attacks craft
against: one definition of each rule. :func:`activation` and :func:`lif_update` compose them into
a synapse's output and a LIF step, computed with a :class:`Rounding`: :data:`EXACT` (int64, the
emulator) or :data:`STRAIGHT_THROUGH` (float64 holding the same integers, gradients passed
through every rounding and wrap: the twin). The emulator's scan runs :func:`lif_step`, the same
step in place (tested equal to :func:`lif_update`). Source lines are those of ``lava/proc/{dense,conv,lif}/models.py``
and ``lava/utils/weightutils.py`` in lava-nc 0.10.0:

- weights: Dense clips mantissas to 8 bits and truncates them to ``num_weight_bits`` by sign mode
  (:func:`lava_weights`; ``proc/dense/models.py`` 87-90, ``utils/weightutils.py`` 236-239 and
  283-284); Conv takes its integer weights as they are (:func:`applied_weights`);
- activations: Dense shifts the summed activation by ``weight_exp`` (``proc/dense/models.py``
  103-107); Conv wraps it to 24 bits (:func:`wrap_signed`; ``proc/conv/models.py`` 78-79);
  activations travel as int32 (:func:`wrap32`);
- LIF: ``u = trunc(u (4096 - du - 1) / 4096) + (a << 6)`` wrapped once into 24 bits
  (:func:`decay`, :func:`wrap_state`; ``proc/lif/models.py`` 145-171);
  ``v = clip(trunc(v (4096 - dv) / 4096) + u + bias)`` (174-186); the per-step bias is
  ``bias_mant << bias_exp`` (:func:`applied_bias`; 110-122).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from backends.quantize import IntPopulation, IntProjection


def lava_weights(mantissas: np.ndarray, num_weight_bits: int) -> np.ndarray:
    """What Lava's bit-accurate Dense does to given integer weights (clip, then truncate).

    The sign mode is Lava's ``determine_sign_mode``: excitatory when no weight is negative,
    inhibitory when none is positive, mixed otherwise. Excitatory weights are clipped to
    ``[0, 255]``, inhibitory ones negated, clipped to ``[0, 255]`` and negated back, mixed ones
    clipped to ``[-256, 255]``; then ``8 - num_weight_bits`` low bits (one more when mixed) are
    dropped by an arithmetic shift, so negative mixed weights round toward minus infinity
    (``proc/dense/models.py`` 87-90; ``utils/weightutils.py`` 230-247, 275-295).

    Args:
        mantissas: integer weight mantissas, any shape (dense: ``[n_out, n_in]``); one sign mode for all.
        num_weight_bits: Lava's ``num_weight_bits`` (1..8), the profile's ``mantissa_bits``.

    Returns:
        int64 array shaped like ``mantissas``: the weights Lava multiplies the spikes with.

    Example:
        >>> lava_weights(np.array([[3, -5, 200]]), 6)  # mixed: 8 - 6 + 1 = 3 low bits dropped
        array([[  0,  -8, 200]])
        >>> lava_weights(np.array([300, 5]), 6)  # excitatory: clipped to 255, 2 low bits dropped
        array([252,   4])
    """
    w = np.asarray(mantissas).astype(np.int64)
    if w.min() >= 0:
        mode = "excitatory"
    elif w.max() <= 0:
        mode = "inhibitory"
    else:
        mode = "mixed"
    if mode == "inhibitory":
        w = -w
    lo = -256 if mode == "mixed" else 0
    w = np.clip(w, lo, 255)
    drop = 8 - num_weight_bits + (1 if mode == "mixed" else 0)
    w = (w >> drop) << drop
    return -w if mode == "inhibitory" else w


def applied_weights(q: IntProjection, blocks: list | None = None) -> np.ndarray:
    """The integer weights Lava applies for projection ``q``.

    Dense: the mantissas after Lava's clip and truncation (:func:`lava_weights`), block by block
    when the projection runs as several Dense processes (each has its own sign mode); conv: the
    weights as quantized (Lava's Conv takes them as they are).

    Args:
        q: a quantized projection (:class:`~backends.quantize.IntProjection`).
        blocks: its Lava Dense blocks ``[(rows, cols), ...]`` (:meth:`Network.blocks
            <backends.network.Network.blocks>`; ``None`` for "all"); default one block.

    Returns:
        int64 array: dense ``[n_out, n_in]`` (still to be shifted by ``q.weight_exp``), or conv
        ``[C_out, C_in, kH, kW]`` in torch layout (``weight_exp`` already applied).

    Example:
        >>> q = IntProjection(source="input", target="l", synapse="dense", weight=np.array([[3, -5, 200]]),
        ...                   weight_exp=0, num_weight_bits=6, in_shape=(3,), out_shape=(1,))
        >>> applied_weights(q)
        array([[  0,  -8, 200]])
    """
    if q.synapse != "dense":
        return q.weight
    if blocks is None or blocks == [(None, None)]:
        return lava_weights(q.weight, q.num_weight_bits)
    out = np.empty_like(q.weight)
    n_out, n_in = q.weight.shape
    for rows, cols in blocks:
        index = np.ix_(np.arange(n_out) if rows is None else rows, np.arange(n_in) if cols is None else cols)
        out[index] = lava_weights(q.weight[index], q.num_weight_bits)
    return out


def applied_bias(q: IntPopulation) -> np.ndarray:
    """The per-step integer bias ``bias_mant << bias_exp`` (a right shift for negative exponents).

    Lava's ``scale_bias`` (``proc/lif/models.py`` 110-122); the bias is added to ``v`` every step.

    Args:
        q: a quantized population (:class:`~backends.quantize.IntPopulation`).

    Returns:
        int64 array ``[n]`` (torch order of the population, flattened), in ``v``'s units.

    Example:
        >>> q = IntPopulation(name="l", shape=(2,), neuron="LIF", du=np.zeros(2), dv=np.zeros(2), vth=100,
        ...                   bias_mant=np.array([5, -5]), bias_exp=np.array([2, -1]))
        >>> applied_bias(q)
        array([20, -3])
    """
    return np.where(
        q.bias_exp >= 0, q.bias_mant << np.maximum(q.bias_exp, 0), q.bias_mant >> np.maximum(-q.bias_exp, 0)
    )


def _within(x: torch.Tensor, lo: int, hi: int) -> bool:
    """Whether every element lies in ``[lo, hi]`` (one reduction; lets a wrap that changes
    nothing be skipped, which saves several full-tensor passes per layer)."""
    if x.numel() == 0:
        return True
    low, high = torch.aminmax(x)
    return lo <= int(low) and int(high) <= hi


def wrap32(x: torch.Tensor) -> torch.Tensor:
    """Two's-complement int32 wrap of int64 values (numpy int32 arithmetic).

    Args:
        x: int64 tensor, any shape.

    Returns:
        int64 tensor shaped like ``x``, values in ``[-2**31, 2**31 - 1]`` (``x`` itself when
        nothing wraps).

    Example:
        >>> wrap32(torch.tensor([2**31, -2**31 - 1, 5]))
        tensor([-2147483648,  2147483647,           5])
    """
    if _within(x, -(1 << 31), (1 << 31) - 1):
        return x
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def wrap_state(x: torch.Tensor, m: int) -> torch.Tensor:
    """Lava LIF's wrap of the current into ``(-m, m]``: ``x - 2m`` above ``m``, ``x + 2m`` at or below ``-m``.

    One wrap, not a modulo, as ``proc/lif/models.py`` 158-171 does it.

    Args:
        x: int64 tensor of currents, any shape.
        m: the state bound ``2**(state_bits - 1)``, ``2**23`` (:attr:`HardwareProfile.max_state
            <backends.profile.HardwareProfile.max_state>`).

    Returns:
        int64 tensor shaped like ``x`` (``x`` itself when nothing wraps).

    Example:
        >>> m = 2**23
        >>> wrap_state(torch.tensor([m, m + 1, -m, 3]), m)
        tensor([ 8388608, -8388607,  8388608,        3])
    """
    if _within(x, -m + 1, m):
        return x
    return torch.where(x > m, x - 2 * m, torch.where(x <= -m, x + 2 * m, x))


def decay(
    x: torch.Tensor, keep: int, bits: int, out: torch.Tensor | None = None, scratch: torch.Tensor | None = None
) -> torch.Tensor:
    """Lava's ``sign(x * keep) * (|x * keep| >> bits)`` (truncation toward zero), on int64.

    Computed as an arithmetic shift after adding ``2^bits - 1`` to negative products, which
    rounds toward zero as Lava's form does in fewer passes (``torch.div(..., rounding_mode="trunc")``
    on int64 is a scalar division per element, about 150 times slower here). ``out`` and
    ``scratch`` (int64, shaped like ``x``) let a scan run without allocating.

    Args:
        x: int64 tensor (the current ``u`` or voltage ``v``), any shape; left unchanged.
        keep: the kept fraction in ``2**bits`` units: ``4096 - du - 1`` for ``u``, ``4096 - dv``
            for ``v`` (``proc/lif/models.py`` 145-152, 174-184).
        bits: the decay register width, ``decay_bits`` (12).
        out: optional int64 buffer shaped like ``x`` that receives the result.
        scratch: optional int64 buffer shaped like ``x``, overwritten.

    Returns:
        int64 tensor shaped like ``x`` (``out`` when given).

    Example:
        >>> decay(torch.tensor([100, -7, 7]), 2048, 12)  # times 1/2, truncated toward zero
        tensor([50, -3,  3])
    """
    y = torch.mul(x, keep, out=out) if out is not None else x * keep
    r = torch.bitwise_right_shift(y, 63, out=scratch) if scratch is not None else y >> 63
    r.bitwise_and_((1 << bits) - 1)
    return y.add_(r).bitwise_right_shift_(bits)


def wrap_signed(x: torch.Tensor, bits: int) -> torch.Tensor:
    """``(x + 2^(bits-1)) mod 2^bits - 2^(bits-1)``: Lava Conv's ``signed_clamp``.

    Lava's fixed-point Conv applies it to its summed activation with ``bits=24``
    (``proc/conv/models.py`` 78-79, ``proc/conv/utils.py`` 83-84).

    Args:
        x: int64 tensor, any shape.
        bits: the signed width to wrap into (24 for Lava's Conv).

    Returns:
        int64 tensor shaped like ``x``, values in ``[-2**(bits-1), 2**(bits-1) - 1]`` (``x``
        itself when nothing wraps).

    Example:
        >>> wrap_signed(torch.tensor([127, 128, -129]), 8)
        tensor([ 127, -128,  127])
    """
    half = 1 << (bits - 1)
    if _within(x, -half, half - 1):
        return x
    return torch.remainder(x + half, 1 << bits) - half


def lif_step(
    u: torch.Tensor,
    v: torch.Tensor,
    a: torch.Tensor,
    du_keep,
    dv_keep,
    bias: torch.Tensor | None,
    vth: int,
    m: int,
    shift: int,
    bits: int,
    spike: torch.Tensor,
    work: tuple[torch.Tensor, torch.Tensor],
    subtract: bool = False,
) -> torch.Tensor:
    """One step of Lava's fixed-point LIF on int64 state: ``v`` in place, the new ``u`` returned.

    (``proc/lif/models.py``.)

    ``u = wrap24(trunc(u * du_keep / 2^bits) + wrap32(a << shift))``;
    ``v = clip(trunc(v * dv_keep / 2^bits) + u + bias, +-(m - 1))``; ``spike = v > vth``; ``v -> 0``
    where it spiked (``v -> v - vth`` with ``subtract``, as :mod:`backends.lava_neurons.subtract_lif`
    runs it on Lava).

    Args:
        u, v: int64 state, shaped like the population (batch first); ``v`` is updated in place,
            ``u`` is not (the new current is returned, without a copy).
        a: int64 synaptic input of this step, same shape.
        du_keep, dv_keep: ``4096 - du - 1`` and ``4096 - dv``: ints, or int64 tensors broadcasting
            to ``u`` for per-neuron decays.
        bias: int64 bias (``bias_mant << bias_exp``) broadcasting to ``v``, or ``None``.
        vth: the threshold in ``v``'s units (``vth << 6``).
        m: the state bound ``2**(state_bits - 1)``.
        shift: Lava's activation shift (6).
        bits: the decay register width (12).
        spike: bool tensor shaped like ``v`` receiving the spikes.
        work: two int64 scratch tensors shaped like ``v``.
        subtract: reset by subtracting ``vth`` instead of to 0.

    Returns:
        the new current ``u`` (``spike`` holds the spikes).

    Example:
        >>> u, v = torch.zeros(1, 2, dtype=torch.int64), torch.zeros(1, 2, dtype=torch.int64)
        >>> spike = torch.zeros(1, 2, dtype=torch.bool)
        >>> work = (torch.empty_like(u), torch.empty_like(u))
        >>> a = torch.tensor([[100, 300]])
        >>> u = lif_step(u, v, a, 0, 4096, None, 200 << 6, 2**23, 6, 12, spike, work)
        >>> spike, u, v
        (tensor([[False,  True]]), tensor([[ 6400, 19200]]), tensor([[6400,    0]]))
    """
    unity = 1 << bits
    a6 = wrap32(a << shift)
    keep_all_u = not isinstance(du_keep, torch.Tensor) and du_keep == 0
    if keep_all_u:  # du = 4095: the current forgets everything each step
        u = wrap_state(a6, m)
    else:
        u = wrap_state(wrap32(decay(u, du_keep, bits) + a6), m)
    drive = u + bias if bias is not None else u
    if isinstance(dv_keep, torch.Tensor) or dv_keep != unity:
        torch.add(decay(v, dv_keep, bits, out=work[0], scratch=work[1]), drive, out=v)
    else:
        v.add_(drive)
    v.clamp_(-(m - 1), m - 1)
    torch.gt(v, vth, out=spike)
    if subtract:
        v.sub_(spike * vth)
    else:
        v.masked_fill_(spike, 0)
    return u


def _ste(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Forward ``y``, backward identity (straight-through)."""
    return x + (y - x).detach()


@dataclass(frozen=True)
class Rounding:
    """How the integer rules are computed: the four operations where Lava rounds or wraps.

    Attributes:
        decay: ``(x, keep, bits) -> trunc(x * keep / 2**bits)``.
        wrap32: two's-complement int32 wrap.
        wrap_state: Lava LIF's one wrap of the current into ``(-m, m]``.
        floor_shift: ``(acc, exp) -> floor(acc * 2**exp)`` (Dense's ``weight_exp``).
        clamp: ``(v, m) -> clip(v, -(m - 1), m - 1)``.
        wrap_signed: ``(x, bits)``: Conv's wrap of its sum.

    Example:
        >>> EXACT.decay(torch.tensor([-7]), 2048, 12), STRAIGHT_THROUGH.decay(torch.tensor([-7.0]), 2048, 12)
        (tensor([-3]), tensor([-3.]))
    """

    decay: Callable
    wrap32: Callable
    wrap_state: Callable
    floor_shift: Callable
    clamp: Callable
    wrap_signed: Callable


EXACT = Rounding(
    decay=decay,
    wrap32=wrap32,
    wrap_state=wrap_state,
    floor_shift=lambda acc, e: acc << e if e >= 0 else acc >> -e,
    clamp=lambda v, m: v.clamp(-(m - 1), m - 1),
    wrap_signed=wrap_signed,
)


def _ste_decay(x, keep, bits):
    y = x * keep / float(1 << bits)
    return _ste(y, torch.trunc(y))


def _ste_floor_shift(acc, e):
    y = acc * 2.0**e
    return y if e >= 0 else _ste(y, torch.floor(y))


STRAIGHT_THROUGH = Rounding(
    decay=_ste_decay,
    wrap32=lambda x: _ste(x, wrap_signed(x, 32)),
    wrap_state=lambda x, m: _ste(x, wrap_state(x, m)),
    floor_shift=_ste_floor_shift,
    clamp=lambda v, m: _ste(v, v.clamp(-(m - 1), m - 1)),
    wrap_signed=lambda x, bits: _ste(x, wrap_signed(x, bits)),
)


def activation(acc: torch.Tensor, synapse: str, weight_exp: int, state_bits: int, rounding: Rounding = EXACT):
    """What a synapse sends: Dense shifts its sum by ``weight_exp`` (a floor when negative), Conv wraps
    it to ``state_bits`` (24) bits (``proc/dense/models.py`` 103-107, ``proc/conv/models.py`` 78-79).

    Args:
        acc: the summed weights of the spiking inputs, any shape (int64 or float64 integers).
        synapse: ``"dense"`` or ``"conv"``.
        weight_exp: the Dense's ``weight_exp`` (conv: ignored, already in the weights).
        state_bits: the wrap width of Conv's sum.
        rounding: :data:`EXACT` or :data:`STRAIGHT_THROUGH`.

    Returns:
        the activation, shaped like ``acc``.

    Example:
        >>> activation(torch.tensor([5, -5]), "dense", -1, 24)
        tensor([ 2, -3])
    """
    if synapse == "dense":
        return rounding.floor_shift(acc, weight_exp)
    return rounding.wrap_signed(acc, state_bits)


def lif_update(u, v, a, du_keep, dv_keep, bias, m: int, shift: int, bits: int, rounding: Rounding = EXACT):
    """One step of Lava's fixed-point LIF before the spike test, pure (``proc/lif/models.py`` 145-186).

    ``u' = wrap_state(wrap32(decay(u, du_keep) + wrap32(a << shift)))``;
    ``v' = clamp(decay(v, dv_keep) + u' + bias)``. The caller compares ``v'`` with ``vth << 6``
    and sets spiking neurons' ``v`` to 0.

    Args:
        u, v: the state (int64, or float64 integers with :data:`STRAIGHT_THROUGH`).
        a: the step's summed synaptic input (int32 range), same shape.
        du_keep, dv_keep: ``4096 - du - 1`` and ``4096 - dv`` (ints or tensors broadcasting to ``u``).
        bias: ``bias_mant << bias_exp`` broadcasting to ``v``, or ``None``.
        m: the state bound ``2**(state_bits - 1)``.
        shift: the activation shift (6).
        bits: the decay width (12).
        rounding: :data:`EXACT` or :data:`STRAIGHT_THROUGH`.

    Returns:
        ``(u', v')``.

    Example:
        >>> u, v = lif_update(torch.tensor([0]), torch.tensor([100]), torch.tensor([3]), 0, 2048, None, 2**23, 6, 12)
        >>> u, v  # u = 3 << 6; v = 100 / 2 + 192
        (tensor([192]), tensor([242]))
    """
    a6 = rounding.wrap32(a * (1 << shift))
    u = rounding.wrap_state(rounding.wrap32(rounding.decay(u, du_keep, bits) + a6), m)
    drive = u + bias if bias is not None else u
    v = rounding.clamp(rounding.decay(v, dv_keep, bits) + drive, m)
    return u, v


def float_lif_step(u, v, a, du_keep, dv_keep, bias, vth, spike=None, subtract: bool = False):
    """One step of Lava's ``floating_pt`` LIF (``proc/lif/models.py`` 24-71), with its reset.

    ``u = u (1 - du) + a``; ``v = v (1 - dv) + u + bias``; spike where ``v > vth``; ``v -> 0`` there
    (``v -> v - vth`` with ``subtract``).
    The emulator's float profile and the float reference (:func:`backends.reference.simulate`, also
    the attack side's differentiable twin) run this one step.

    Args:
        u, v: float state, shaped like the population (batch first).
        a: the step's synaptic input, same shape.
        du_keep, dv_keep: ``1 - du`` and ``1 - dv`` (floats, or tensors broadcasting to ``u``).
        bias: per-neuron bias broadcasting to ``v``, or ``None``.
        vth: the threshold (float units).
        spike: ``(v - vth) -> spikes`` with a surrogate gradient; ``None``: the step ``v > vth``.
        subtract: reset by subtracting ``vth`` instead of to 0.

    Returns:
        ``(u, v after the reset, spikes)``; the spikes are 0/1 in ``v``'s dtype (bool without ``spike``).

    Example:
        >>> u, v, z = float_lif_step(torch.zeros(2), torch.tensor([0.5, 0.9]), torch.tensor([0.2, 0.2]),
        ...                          0.0, 1.0, None, 1.0)
        >>> z, v
        (tensor([False,  True]), tensor([0.7000, 0.0000]))
    """
    u = u * du_keep + a
    v = v * dv_keep + u + bias if bias is not None else v * dv_keep + u
    if spike is None:
        z = v > vth
        return u, torch.where(z, v - vth if subtract else torch.zeros_like(v), v), z
    z = spike(v - vth)
    return u, (v - vth * z.detach() if subtract else v * (1 - z.detach())), z
