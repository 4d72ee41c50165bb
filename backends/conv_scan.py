"""An event-driven conv and the LIF scan of the population it feeds, in one pass per sample.

The emulator's layer-major plan writes a conv's sums for every step of the window and then scans the
population over them (:mod:`backends.event_product`, :mod:`backends.lif_scan`). For the NIR paper's
N-MNIST CNN at 300 steps that buffer is 315 MB a conv and batch of 64, written once and read once,
while the events that fill it are about 1 % of its entries: the memory traffic, not the additions,
set the pace. Here each sample runs step by step: the source's spikes of step ``t - delay`` are
scattered through the kernel into a small channels-last buffer (:func:`~backends.event_product.
scatter_taps`), wrapped as Lava's Conv wraps them (24 bits), and the population's neurons take
their step at once (:func:`~backends.lif_scan.fixed_neurons`); no window-long sum is ever formed.
The neurons are kept channels-last, as the sums are made (their registers permuted alike), and only
the spikes go back to the map's own order.
Fixed point on the CPU only: the sums are exact integers, so the order of additions does not
matter and the spikes are the layer-major plan's, bit for bit.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

from backends.event_product import conv_operands, scatter_taps
from backends.lif_scan import ScanParams, fixed_neurons


@numba.njit(parallel=True, cache=True)
def _conv_fixed_cpu(
    src, words, kernel, ho, wo, pool, sh, sw, ph, pw, delay, wrap_bits, du, dv, bias, vth, sub, m, shift, bits, out
):  # pragma: no cover - compiled
    steps, batch, n = out.shape
    fed = src.shape[0]
    height, width = src.shape[3], src.shape[4]
    c_out = kernel.shape[3]
    half_w = np.int64(1) << (wrap_bits - 1)
    low_w = (np.int64(1) << wrap_bits) - 1
    to_nchw = np.empty(n, np.int64)  # neuron j, channels last (y, x, c), is neuron to_nchw[j] of the map
    for oy in range(ho):
        for ox in range(wo):
            for o in range(c_out):
                to_nchw[(oy * wo + ox) * c_out + o] = (o * ho + oy) * wo + ox
    du, dv, bias = du[to_nchw], dv[to_nchw], bias[to_nchw]  # the registers in the same order
    for b in numba.prange(batch):
        u = np.zeros(n, np.int64)
        v = np.zeros(n, np.int64)
        x = np.zeros(n, np.int64)
        fired = np.zeros(n, np.int8)
        acc = np.zeros((ho, wo, c_out), dtype=kernel.dtype)
        flat = acc.reshape(-1)
        for t in range(steps):
            k = t - delay
            if k < 0 or k >= fed:
                x[:] = 0
            else:
                scatter_taps(src[k, b].reshape(-1), words, acc, kernel, height * width, width, pool, sh, sw, ph, pw)
                for j in range(n):  # Conv's wrap to 24 bits, channels last as summed
                    x[j] = ((np.int64(flat[j]) + half_w) & low_w) - half_w
            fixed_neurons(x, u, v, du, dv, bias, vth, sub, m, shift, bits, fired)
            row = out[t, b]
            for j in range(n):  # the few spikes, to the map's own order
                if fired[j]:
                    row[to_nchw[j]] = 1


def conv_scan_cpu(
    spikes: torch.Tensor,
    weight: torch.Tensor,
    stride: tuple[int, int],
    padding: tuple[int, int],
    out_hw: tuple[int, int],
    pool: int,
    params: ScanParams,
    steps: int,
    delay: int = 1,
    wrap_bits: int = 24,
) -> torch.Tensor:
    """Spikes of a fixed-point population fed by one conv of ``spikes``, over a window of ``steps``.

    Equal to the conv's sums (:func:`~backends.event_product.accumulate_conv`) wrapped to
    ``wrap_bits`` and scanned by :func:`~backends.lif_scan.scan_cpu` with rule ``"conv"``.

    Args:
        spikes: the source's spikes ``[A, B, C_in, H, W]`` (int8 0/1, or small integers), of which
            step ``k`` reaches the population at step ``k + delay``.
        weight: ``[C_out, C_in, kH, kW]`` integer weights (float32 or int64 holding integers), the
            kernel applied after a ``pool x pool`` sum-pool of the source (1: none).
        stride, padding: ``(sH, sW)``, ``(pH, pW)``.
        out_hw: the output map's ``(H_out, W_out)``.
        pool: the sum-pool undone before the kernel (:func:`backends.emulator.unfold_pooling`).
        params: the population's registers (:class:`~backends.lif_scan.ScanParams`, fixed point),
            ``n = C_out x H_out x W_out``.
        steps: the window ``P``.
        delay: steps from a source spike to the step its sum reaches (a projection's: 1).
        wrap_bits: Conv's wrap width.

    Returns:
        int8 ``[P, B, n]`` (0/1).

    Example:
        >>> from backends.lif_scan import Feed, scan_cpu
        >>> from backends.event_product import accumulate_conv
        >>> g = torch.Generator().manual_seed(0)
        >>> s = (torch.rand(5, 2, 1, 6, 6, generator=g) < 0.3).to(torch.int8)
        >>> w = torch.randint(-3, 9, (2, 1, 3, 3), generator=g).float()
        >>> p = ScanParams.build(0, 4096, None, 20 << 6, 2 * 36, fixed=True, m=2**23, shift=6, bits=12)
        >>> sums = accumulate_conv(s.reshape(10, 1, 6, 6), w, (1, 1), (1, 1), (6, 6)).reshape(5, 2, 2, 6, 6)
        >>> layer_major = scan_cpu(Feed(sums, delay=1, rule="conv"), p, 7).reshape(7, 2, -1)
        >>> torch.equal(conv_scan_cpu(s, w, (1, 1), (1, 1), (6, 6), 1, p, 7), layer_major)
        True
    """
    src, words, kernel = conv_operands(spikes, weight, leading=2)
    (sh, sw), (ph, pw), (ho, wo) = stride, padding, out_hw
    n = len(params.du_keep)
    out = np.zeros((steps, src.shape[1], n), dtype=np.int8)
    _conv_fixed_cpu(src, words, kernel, ho, wo, pool, sh, sw, ph, pw, delay, wrap_bits, params.du_keep, params.dv_keep,
                    params.bias, params.vth, params.subtract, params.m, params.shift, params.bits, out)  # fmt: skip
    return torch.from_numpy(out)
