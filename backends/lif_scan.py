"""The fused LIF scan: a population's whole window in one pass over its input, state kept in registers.

The emulator's layer-major plan (:mod:`backends.emulator`) computes a population's synaptic input
for every step first, ``a [P, B, *shape]``, then scans the LIF recurrence over the ``P`` steps. Run
as torch operations, each step is a dozen full-tensor passes (decay, shift, two wraps, clamp,
compare, reset), each a memory round trip and, on a GPU, a kernel launch. Here each neuron's
``u`` and ``v`` stay in registers for all ``P`` steps: the input is read once, the spikes written
once.

- CPU: a numba kernel, parallel over samples (:func:`scan_cpu`).
- CUDA: a Triton kernel, one program per block of neurons x samples (:func:`scan_cuda`), compiled
  with floating-point contraction off, so the float profile rounds as the step-by-step torch ops do.

Both compute exactly :func:`backends.loihi.lif_step` (fixed point: every wrap and truncation of
lava-nc's ``PyLifModelBitAcc``) or :func:`backends.loihi.float_lif_step` (Lava's ``floating_pt``),
which stay the reference: the tests compare the kernels with them, wraps and per-neuron decays
included. A kernel reads its input as a :class:`Feed`: one projection's sums, one step late, with
Dense's ``weight_exp`` shift or Conv's 24-bit wrap applied in registers (no window-long buffer), or
the finished activation of several projections; fixed point then wraps it to int32 (Lava's
``InPort`` sums in int32). Numba compiles on first use (a second or two, then cached on disk);
the Triton kernel on its first launch on a device (cached by Triton).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import torch


@dataclass(frozen=True)
class ScanParams:
    """One population's LIF registers flattened for a kernel (per-neuron vectors, broadcast scalars).

    Attributes:
        du_keep, dv_keep: ``[n]`` per-neuron kept fractions (fixed point: ``4096 - du - 1`` and
            ``4096 - dv``, int64; float: ``1 - du`` and ``1 - dv``, float64).
        bias: ``[n]`` per-neuron bias (int64 ``bias_mant << bias_exp``, or float64; zeros when none).
        vth: the threshold in ``v``'s units.
        fixed: whether the arithmetic is Lava's fixed point.
        subtract: whether a spike subtracts ``vth`` from ``v`` (else ``v -> 0``).
        m, shift, bits: fixed point only: state bound ``2**(state_bits - 1)``, activation shift,
            decay register width.

    Example:
        >>> p = ScanParams.build(0, 4096, None, 64, 3, fixed=True, m=2**23, shift=6, bits=12)
        >>> p.du_keep.tolist(), p.dv_keep.tolist(), p.bias.tolist()
        ([0, 0, 0], [4096, 4096, 4096], [0, 0, 0])
    """

    du_keep: np.ndarray
    dv_keep: np.ndarray
    bias: np.ndarray
    vth: int | float
    fixed: bool
    subtract: bool = False
    m: int = 0
    shift: int = 0
    bits: int = 0

    @classmethod
    def build(
        cls,
        du_keep,
        dv_keep,
        bias,
        vth,
        n: int,
        fixed: bool,
        m: int = 0,
        shift: int = 0,
        bits: int = 0,
        subtract: bool = False,
    ):
        """From the emulator's registers (scalars or tensors shaped like the population).

        Args:
            du_keep, dv_keep: scalars or tensors of ``n`` elements.
            bias: a tensor of ``n`` elements, or ``None``.
            vth: the threshold.
            n: neurons in the population.
            fixed, m, shift, bits, subtract: as the attributes.

        Returns:
            the :class:`ScanParams`.
        """
        dtype = np.int64 if fixed else np.float64

        def vector(x):
            if isinstance(x, torch.Tensor):
                return np.ascontiguousarray(x.detach().cpu().numpy().reshape(-1).astype(dtype))
            return np.full(n, x, dtype=dtype)

        return cls(
            du_keep=vector(du_keep),
            dv_keep=vector(dv_keep),
            bias=vector(0 if bias is None else bias),
            vth=int(vth) if fixed else float(vth),
            fixed=fixed,
            subtract=subtract,
            m=m,
            shift=shift,
            bits=bits,
        )


# what a kernel does to a projection's sums before Lava's InPort (``backends.loihi.activation``)
RULES = {"none": 0, "dense": 1, "conv": 2}


@dataclass(frozen=True)
class Feed:
    """A population's input as a kernel reads it: one projection's sums, or the finished activation.

    Step ``t`` of the window reads ``sums[t - delay]`` where ``0 <= t - delay < len(sums)``, zero
    elsewhere, then applies ``rule``: ``"dense"``: ``sums << exp`` (``>> -exp``, a floor, when
    negative); ``"conv"``: wrap to ``wrap_bits`` signed bits; ``"none"``: as is (already the
    activation, e.g. several projections summed). Fixed point then wraps it to int32 (Lava's
    ``InPort``).

    Attributes:
        sums: ``[A, B, *shape]``: integer sums (int32, int64, or float32/float64 holding exact
            integers) for fixed point, float64 for float profiles.
        delay: steps between a sum and the step it reaches (a projection's one-step delay: 1).
        rule: ``"none"``, ``"dense"`` or ``"conv"``.
        exp: Dense's ``weight_exp``.
        wrap_bits: Conv's wrap width (24).

    Example:
        >>> p = ScanParams.build(0, 4096, None, 1 << 6, 1, fixed=True, m=2**23, shift=6, bits=12)
        >>> feed = Feed(torch.tensor([[[5]], [[-5]]], dtype=torch.int32), delay=1, rule="dense", exp=-2)
        >>> scan_cpu(feed, p, 4).flatten().tolist()  # 5 >> 2 = 1 (not above 1), then -5 >> 2 = -2
        [0, 0, 0, 0]
        >>> scan_cpu(Feed(feed.sums, delay=1, rule="dense", exp=1), p, 4).flatten().tolist()  # 10, then -10
        [0, 1, 0, 0]
    """

    sums: torch.Tensor
    delay: int = 0
    rule: str = "none"
    exp: int = 0
    wrap_bits: int = 24


# -- CPU (numba) ---------------------------------------------------------------------------------
# Compiled on first call, then cached on disk (numba's cache: next to this file, or the user's cache
# folder where that is read-only), so a later process loads them in milliseconds.


@numba.njit(cache=True, inline="always")
def fixed_neurons(x, u, v, du, dv, bias, vth, sub, m, shift, bits, spikes):  # pragma: no cover - compiled
    """One fixed-point LIF step of a sample's ``n`` neurons in place: activation ``x [n]`` (int64, its
    rule applied) wrapped to int32 (Lava's ``InPort``), then ``u``, ``v``, the spikes ``spikes [n]``
    and the reset, as :func:`backends.loihi.lif_step`. Branch-free, so that it vectorizes; the
    fused scans of this module and :mod:`backends.conv_scan` share it.

    Example:
        >>> u, v, spikes = np.zeros(2, np.int64), np.zeros(2, np.int64), np.zeros(2, np.int8)
        >>> keep_u, keep_v, bias = np.zeros(2, np.int64), np.full(2, 4096), np.zeros(2, np.int64)
        >>> fixed_neurons(np.array([1, 3]), u, v, keep_u, keep_v, bias, 2 << 6, False, 2**23, 6, 12, spikes)
        >>> spikes.tolist(), v.tolist()  # 64 stays below 128; 192 fires and resets
        ([0, 1], [64, 0])
    """
    half = np.int64(1) << 31
    low32 = (np.int64(1) << 32) - 1
    low = (np.int64(1) << bits) - 1
    two_m = 2 * m
    for i in range(len(x)):
        a = ((x[i] + half) & low32) - half  # InPort: int32
        a = ((a << shift) + half & low32) - half
        y = u[i] * du[i]
        w = ((y + ((y >> 63) & low)) >> bits) + a
        w = ((w + half) & low32) - half
        w = w - two_m * (w > m) + two_m * (w <= -m)
        u[i] = w
        y = v[i] * dv[i]
        z = ((y + ((y >> 63) & low)) >> bits) + w + bias[i]
        z = min(max(z, 1 - m), m - 1)
        spiked = z > vth
        spikes[i] = spiked
        v[i] = z - spiked * (vth if sub else z)


@numba.njit(parallel=True, cache=True)
def _fixed_cpu(sums, delay, rule, exp, wrap_bits, du, dv, bias, vth, sub, m, shift, bits, out):  # pragma: no cover
    steps, batch, n = out.shape
    fed = sums.shape[0]
    half_w = np.int64(1) << (wrap_bits - 1)
    low_w = (np.int64(1) << wrap_bits) - 1
    left, right = max(exp, 0), max(-exp, 0)
    for b in numba.prange(batch):
        u = np.zeros(n, np.int64)
        v = np.zeros(n, np.int64)
        x = np.zeros(n, np.int64)  # this step's activation; the rule chosen once a step, not per neuron
        for t in range(steps):
            k = t - delay
            if k < 0 or k >= fed:
                x[:] = 0
            elif rule == 1:
                for i in range(n):
                    x[i] = (np.int64(sums[k, b, i]) << left) >> right
            elif rule == 2:
                for i in range(n):
                    x[i] = ((np.int64(sums[k, b, i]) + half_w) & low_w) - half_w
            else:
                for i in range(n):
                    x[i] = np.int64(sums[k, b, i])
            fixed_neurons(x, u, v, du, dv, bias, vth, sub, m, shift, bits, out[t, b])


@numba.njit(parallel=True, cache=True)
def _float_cpu(sums, delay, du, dv, bias, vth, sub, out):  # pragma: no cover - compiled
    steps, batch, n = out.shape
    fed = sums.shape[0]
    for b in numba.prange(batch):
        u = np.zeros(n, np.float64)
        v = np.zeros(n, np.float64)
        x = np.zeros(n, np.float64)
        for t in range(steps):
            k = t - delay
            if k < 0 or k >= fed:
                x[:] = 0.0
            else:
                for i in range(n):
                    x[i] = np.float64(sums[k, b, i])
            for i in range(n):
                w = u[i] * du[i] + x[i]
                u[i] = w
                z = v[i] * dv[i] + w + bias[i]
                spiked = z > vth
                out[t, b, i] = spiked
                v[i] = (z - vth if sub else 0.0) if spiked else z


def scan_cpu(feed: Feed, params: ScanParams, steps: int) -> torch.Tensor:
    """The LIF scan of one population on the CPU (numba).

    Args:
        feed: the population's input (:class:`Feed`), on the CPU.
        params: the population's registers (:class:`ScanParams`), ``n = prod(shape)``.
        steps: the window ``P``.

    Returns:
        int8 spikes ``[P, B, *shape]`` (0/1).

    Example:
        >>> p = ScanParams.build(0, 4096, None, 200 << 6, 2, fixed=True, m=2**23, shift=6, bits=12)
        >>> scan_cpu(Feed(torch.tensor([[[100, 300]], [[100, 300]]])), p, 3)[:, 0].tolist()
        [[0, 1], [0, 1], [0, 0]]
    """
    sums = feed.sums
    fed, batch = sums.shape[:2]
    shape = sums.shape[2:]
    flat = sums.reshape(fed, batch, int(np.prod(shape))).numpy()
    out = np.zeros((steps, batch, flat.shape[2]), dtype=np.int8)
    if params.fixed:
        _fixed_cpu(flat, feed.delay, RULES[feed.rule], feed.exp, feed.wrap_bits, params.du_keep, params.dv_keep,
                   params.bias, params.vth, params.subtract, params.m, params.shift, params.bits, out)  # fmt: skip
    else:
        _float_cpu(flat, feed.delay, params.du_keep, params.dv_keep, params.bias, params.vth, params.subtract, out)
    return torch.from_numpy(out).reshape(steps, batch, *shape)


# -- CUDA (Triton) -------------------------------------------------------------------------------
_CUDA = {}


def _cuda_kernels():
    """The Triton kernels, defined on first use (``TRITON_INTERPRET=1`` runs them on the CPU)."""
    if _CUDA:
        return _CUDA
    import triton
    import triton.language as tl

    @triton.jit
    def fixed(sums_ptr, out_ptr, du_ptr, dv_ptr, bias_ptr, steps, fed, delay, total, n, exp, vth, m, shift, bits,
              half, low32, half_w, low_w, RULE: tl.constexpr, SUB: tl.constexpr,
              BLOCK: tl.constexpr):  # fmt: skip  # pragma: no cover
        offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        inside = offs < total
        neuron = offs % n
        du = tl.load(du_ptr + neuron, mask=inside, other=0)
        dv = tl.load(dv_ptr + neuron, mask=inside, other=0)
        bias = tl.load(bias_ptr + neuron, mask=inside, other=0)
        low = (1 << bits) - 1
        u = tl.zeros([BLOCK], dtype=tl.int64)
        v = tl.zeros([BLOCK], dtype=tl.int64)
        dst = out_ptr + offs
        for t in range(steps):
            k = t - delay
            live = (k >= 0) & (k < fed)
            x = tl.load(sums_ptr + k.to(tl.int64) * total + offs, mask=inside & live, other=0).to(tl.int64)
            if RULE == 1:
                x = tl.where(exp >= 0, x << tl.maximum(exp, 0), x >> tl.maximum(-exp, 0))
            if RULE == 2:
                x = ((x + half_w) & low_w) - half_w
            x = ((x + half) & low32) - half
            x = ((x << shift) + half & low32) - half
            y = u * du
            w = ((y + ((y >> 63) & low)) >> bits) + x
            w = ((w + half) & low32) - half
            w = tl.where(w > m, w - 2 * m, tl.where(w <= -m, w + 2 * m, w))
            u = w
            y = v * dv
            z = ((y + ((y >> 63) & low)) >> bits) + w + bias
            z = tl.minimum(tl.maximum(z, 1 - m), m - 1)
            spiked = z > vth
            if SUB:
                v = tl.where(spiked, z - vth, z)
            else:
                v = tl.where(spiked, 0, z)
            tl.store(dst, spiked.to(tl.int8), mask=inside)
            dst += total

    @triton.jit
    def floating(sums_ptr, out_ptr, du_ptr, dv_ptr, bias_ptr, vth_ptr, steps, fed, delay, total, n,
                 SUB: tl.constexpr, BLOCK: tl.constexpr):  # fmt: skip  # pragma: no cover - compiled
        offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        inside = offs < total
        neuron = offs % n
        du = tl.load(du_ptr + neuron, mask=inside, other=0.0)
        dv = tl.load(dv_ptr + neuron, mask=inside, other=0.0)
        bias = tl.load(bias_ptr + neuron, mask=inside, other=0.0)
        vth = tl.load(vth_ptr)  # float64 from memory: a Python float argument would be float32
        u = tl.zeros([BLOCK], dtype=tl.float64)
        v = tl.zeros([BLOCK], dtype=tl.float64)
        dst = out_ptr + offs
        for t in range(steps):
            k = t - delay
            live = (k >= 0) & (k < fed)
            x = tl.load(sums_ptr + k.to(tl.int64) * total + offs, mask=inside & live, other=0.0).to(tl.float64)
            u = u * du + x
            z = v * dv + u + bias
            spiked = z > vth
            if SUB:
                v = tl.where(spiked, z - vth, z)
            else:
                v = tl.where(spiked, 0.0, z)
            tl.store(dst, spiked.to(tl.int8), mask=inside)
            dst += total

    _CUDA.update(fixed=fixed, floating=floating, cdiv=triton.cdiv)
    return _CUDA


_BLOCK = 256


def scan_cuda(feed: Feed, params: ScanParams, steps: int, registers: tuple | None = None) -> torch.Tensor:
    """The LIF scan of one population with the Triton kernel (CUDA; the CPU under ``TRITON_INTERPRET=1``).

    Args:
        feed: the population's input (:class:`Feed`), on the kernel's device.
        params: the population's registers (:class:`ScanParams`), ``n = prod(shape)``.
        steps: the window ``P``.
        registers: ``(du_keep, dv_keep, bias, vth)`` already on the device (:class:`FusedScan`
            keeps them there; ``vth`` a one-element tensor), or ``None`` to copy them from ``params``.

    Returns:
        int8 spikes ``[P, B, *shape]`` (0/1) on the feed's device.

    Example:
        >>> p = ScanParams.build(0, 4096, None, 200 << 6, 2, fixed=True, m=2**23, shift=6, bits=12)
        >>> a = torch.tensor([[[100, 300]], [[100, 300]]], device="cuda")  # doctest: +SKIP
        >>> scan_cuda(Feed(a), p, 3)[:, 0].tolist()  # doctest: +SKIP
        [[0, 1], [0, 1], [0, 0]]
    """
    kernels = _cuda_kernels()
    sums = feed.sums.contiguous()
    fed, batch = sums.shape[:2]
    shape = sums.shape[2:]
    total = batch * int(np.prod(shape))
    out = torch.empty((steps, batch, *shape), dtype=torch.int8, device=sums.device)
    if total == 0 or steps == 0:
        return out.zero_()
    du, dv, bias, vth = registers if registers is not None else _on(params, sums.device)
    n = len(params.du_keep)
    grid = (kernels["cdiv"](total, _BLOCK),)
    if params.fixed:
        wrap = feed.wrap_bits
        kernels["fixed"][grid](sums, out, du, dv, bias, steps, fed, feed.delay, total, n, feed.exp, params.vth,
                               params.m, params.shift, params.bits, 1 << 31, (1 << 32) - 1, 1 << (wrap - 1),
                               (1 << wrap) - 1, RULE=RULES[feed.rule], SUB=params.subtract, BLOCK=_BLOCK)  # fmt: skip
    else:
        kernels["floating"][grid](sums, out, du, dv, bias, vth, steps, fed, feed.delay, total, n,
                                  SUB=params.subtract, BLOCK=_BLOCK, enable_fp_fusion=False)  # fmt: skip
    return out


def _on(params: ScanParams, device: torch.device) -> tuple[torch.Tensor, ...]:
    """``(du_keep, dv_keep, bias, vth)`` as tensors on ``device`` (``vth`` of one element)."""
    dtype = torch.int64 if params.fixed else torch.float64
    vectors = (params.du_keep, params.dv_keep, params.bias, [params.vth])
    return tuple(torch.as_tensor(np.asarray(x), dtype=dtype, device=device) for x in vectors)


def fused_available(device: torch.device) -> bool:
    """Whether a fused kernel runs on ``device``: always on the CPU (numba); on CUDA where Triton
    is installed (it comes with torch's CUDA builds).

    Example:
        >>> fused_available(torch.device("cpu"))
        True
    """
    if device.type == "cpu":
        return True
    if device.type != "cuda":
        return False
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


class FusedScan:
    """One population's fused LIF scan on one device: ``run(a [P, B, *shape]) -> int8 spikes``.

    Args:
        params: the population's registers (:class:`ScanParams`).
        device: the CPU (numba) or a CUDA device (Triton); see :func:`fused_available`.

    Example:
        >>> scan = FusedScan(ScanParams.build(0, 4096, None, 64, 1, fixed=True, m=2**23, shift=6, bits=12), "cpu")
        >>> scan.run(Feed(torch.tensor([[[1]], [[1]], [[0]]])), 3).flatten().tolist()  # 64, then 128 > 64
        [0, 1, 0]
    """

    def __init__(self, params: ScanParams, device: str | torch.device = "cpu"):
        self.params = params
        self.device = torch.device(device)
        if not fused_available(self.device):
            raise ValueError(f"no fused LIF scan on {self.device} (the CPU, or CUDA with Triton)")
        self._registers = _on(params, self.device) if self.device.type == "cuda" else None

    def run(self, feed: Feed, steps: int) -> torch.Tensor:
        """Spikes of the population over a window of ``steps`` for its input ``feed``.

        Args:
            feed: the input (:class:`Feed`), on this scan's device.
            steps: the window ``P``.

        Returns:
            int8 ``[P, B, *shape]`` (0/1), on the same device.
        """
        if self.device.type == "cpu":
            return scan_cpu(feed, self.params, steps)
        return scan_cuda(feed, self.params, steps, self._registers)
