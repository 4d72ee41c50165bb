"""The functional core of Loihi's integer arithmetic, as lava-nc 0.10.0's bit-accurate models run it.

Pure functions on int64 torch tensors (or numpy arrays for weights), shared by the batched
emulator (:mod:`backends.emulator`) and the differentiable fixed-point twin that attacks craft
against: one definition of each rule. Source lines are those of ``lava/proc/{dense,conv,lif}/models.py``
and ``lava/utils/weightutils.py`` in lava-nc 0.10.0:

- weights: Dense clips mantissas to 8 bits and truncates them to ``num_weight_bits`` by sign mode
  (:func:`lava_weights`); Conv takes its integer weights as they are (:func:`applied_weights`);
- activations: Dense shifts the summed activation by ``weight_exp``; Conv wraps it to 24 bits
  (:func:`wrap_signed`); activations travel as int32 (:func:`wrap32`);
- LIF: ``u = trunc(u (4096 - du - 1) / 4096) + (a << 6)`` wrapped once into 24 bits
  (:func:`decay`, :func:`wrap_state`); ``v = clip(trunc(v (4096 - dv) / 4096) + u + bias)``;
  the per-step bias is ``bias_mant << bias_exp`` (:func:`applied_bias`).
"""

from __future__ import annotations

import numpy as np
import torch

from backends.quantize import IntLayer


def lava_weights(mantissas: np.ndarray, num_weight_bits: int) -> np.ndarray:
    """What Lava's bit-accurate Dense does to given integer weights (clip, then truncate)."""
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


def applied_weights(q: IntLayer) -> np.ndarray:
    """The integer weights Lava applies for layer ``q``: dense mantissas after its clip and
    truncation (:func:`lava_weights`), conv weights as quantized (Lava's Conv takes them as they are)."""
    return lava_weights(q.weight, q.num_weight_bits) if q.synapse == "dense" else q.weight


def applied_bias(q: IntLayer) -> np.ndarray:
    """The per-step integer bias ``bias_mant << bias_exp`` (a right shift for negative exponents)."""
    return np.where(q.bias_exp >= 0, q.bias_mant << np.maximum(q.bias_exp, 0), q.bias_mant >> np.maximum(-q.bias_exp, 0))


def _within(x: torch.Tensor, lo: int, hi: int) -> bool:
    """Whether every element lies in ``[lo, hi]`` (one reduction; lets a wrap that changes
    nothing be skipped, which saves several full-tensor passes per layer)."""
    if x.numel() == 0:
        return True
    low, high = torch.aminmax(x)
    return lo <= int(low) and int(high) <= hi


def wrap32(x: torch.Tensor) -> torch.Tensor:
    """Two's-complement int32 wrap of int64 values (numpy int32 arithmetic)."""
    if _within(x, -(1 << 31), (1 << 31) - 1):
        return x
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def wrap_state(x: torch.Tensor, m: int) -> torch.Tensor:
    """Lava LIF's wrap of the current into ``(-m, m]`` (``m = 2^23``): ``x - 2m`` above, ``x + 2m`` at or below ``-m``."""
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
    """
    y = torch.mul(x, keep, out=out) if out is not None else x * keep
    r = torch.bitwise_right_shift(y, 63, out=scratch) if scratch is not None else y >> 63
    r.bitwise_and_((1 << bits) - 1)
    return y.add_(r).bitwise_right_shift_(bits)


def wrap_signed(x: torch.Tensor, bits: int) -> torch.Tensor:
    """``(x + 2^(bits-1)) mod 2^bits - 2^(bits-1)``: Lava Conv's ``signed_clamp``."""
    half = 1 << (bits - 1)
    if _within(x, -half, half - 1):
        return x
    return torch.remainder(x + half, 1 << bits) - half
