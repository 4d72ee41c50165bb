"""Event-driven synaptic products: accumulate the weights of active inputs, as the chip does.

A binary (or, after an undone sum-pool, small-integer) input that is mostly zeros costs a dense
product ``m x n_in x n_out`` multiply-accumulates, but only ``nnz x n_out`` additions when each
active input adds its weight row (dense) or its kernel, placed at the outputs it reaches (conv).
For fixed point both are exact: integer sums, in int64 or in float32 below ``2**24`` (the
emulator checks the bound), so the order of the additions does not matter, and
:class:`~backends.emulator.EmulatorExecutor` measures both paths on a projection's first batches
and then takes, call by call, the event-driven one where its measured cost per event predicts
less than half the dense time at the density it sees (at nmnist-sim's 7.7 % and the N-MNIST CNN's
0.7-1.1 % input densities on a 2-core CPU the dense int8/MKL products still win; the event-driven
path pays at lower densities or wider layers). For float64 weights the order is the point: the
dense accumulation and :func:`convolve_in_lavas_order` add in the order of Lava's ``floating_pt``
Dense and Conv, so a float projection on the CPU always takes them. The loops are numba kernels (compiled on their first
call, then cached on disk by numba, but for the recursive pairwise sum, which numba cannot cache).
"""

from __future__ import annotations

import numba
import numpy as np
import torch


@numba.njit(parallel=True, cache=True)
def _scatter_dense(starts, cols, values, weight_t, out):  # pragma: no cover - compiled
    for i in numba.prange(len(starts) - 1):  # rows are independent: one thread a block of rows
        for e in range(starts[i], starts[i + 1]):
            row = weight_t[cols[e]]
            v = values[e]
            for o in range(out.shape[1]):
                out[i, o] += v * row[o]


@numba.njit(cache=False)  # numba's disk cache cannot hold a recursive function (it crashes on load)
def _pairwise(a, lo, n):  # pragma: no cover - compiled
    """numpy's pairwise sum of ``a[lo:lo + n]`` (float64), to the bit: below 8 terms one after another
    from 0; up to 128, eight running sums combined as ((0+1)+(2+3))+((4+5)+(6+7)), then the rest;
    above, the two halves (split at a multiple of 8) summed apart."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    if n <= 128:
        r = a[lo : lo + 8].copy()
        i = 8
        while i < n - (n % 8):
            for j in range(8):
                r[j] += a[lo + i + j]
            i += 8
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < n:
            res += a[lo + i]
            i += 1
        return res
    half = n // 2
    half -= half % 8
    return _pairwise(a, lo, half) + _pairwise(a, lo + half, n - half)


@numba.njit(parallel=True, cache=False)
def _pairwise_rows(starts, cols, values, weight, out):  # pragma: no cover - compiled
    for i in numba.prange(len(starts) - 1):
        terms = np.empty(starts[i + 1] - starts[i], np.float64)
        for e in range(starts[i], starts[i + 1]):
            terms[e - starts[i]] = values[e] * weight[cols[e]]
        out[i, 0] = _pairwise(terms, 0, len(terms))


@numba.njit(parallel=True, cache=True)
def _conv_lava_order(x, kernel, sh, sw, ph, pw, out):  # pragma: no cover - compiled
    """``out [m, Ho, Wo, C_out]``: per output, channel by channel from 0, each channel's active
    inputs summed from 0 with the kernel's columns from last to first, rows from last to first
    (``kernel [C_in, kH, kW, C_out]``), as Lava's scipy ``convolve2d`` on (x, y) maps adds them."""
    m, c_in, height, width = x.shape
    _, kh, kw, c_out = kernel.shape
    for i in numba.prange(m):
        total = np.zeros(c_out)
        channel = np.zeros(c_out)
        for yo in range(out.shape[1]):
            for xo in range(out.shape[2]):
                total[:] = 0.0
                for c in range(c_in):
                    channel[:] = 0.0
                    for dx in range(kw - 1, -1, -1):
                        xx = xo * sw - pw + dx
                        if xx < 0 or xx >= width:
                            continue
                        for dy in range(kh - 1, -1, -1):
                            yy = yo * sh - ph + dy
                            if yy < 0 or yy >= height or x[i, c, yy, xx] == 0:
                                continue
                            for o in range(c_out):
                                channel[o] += kernel[c, dy, dx, o]
                    for o in range(c_out):
                        total[o] += channel[o]
                for o in range(c_out):
                    out[i, yo, xo, o] = total[o]


@numba.njit(cache=True, inline="always")
def _add_taps(acc, kernel, v, j, plane, width, pool, sh, sw, ph, pw):  # pragma: no cover - compiled
    """Add input element ``j`` (flat in ``[C_in, H, W]``, value ``v``) through every kernel tap that
    carries it into ``acc [Ho, Wo, C_out]``: its pooled cell ``(y // pool, x // pool)`` reaches row
    ``(py + pH - ky) / sH`` where that divides, so the taps are ``ky = (py + pH) mod sH, + sH, ...``
    up to ``py + pH`` (no remainder tested per tap); likewise the columns."""
    kh, kw, _, c_out = kernel.shape
    ho, wo = acc.shape[0], acc.shape[1]
    c = j // plane
    rest = j - c * plane
    yy = rest // width
    ty = yy // pool + ph
    tx = (rest - yy * width) // pool + pw
    for ky in range(ty % sh, min(kh, ty + 1), sh):
        oy = (ty - ky) // sh
        if oy >= ho:
            continue
        for kx in range(tx % sw, min(kw, tx + 1), sw):
            ox = (tx - kx) // sw
            if ox >= wo:
                continue
            k = kernel[ky, kx, c]
            a = acc[oy, ox]
            for o in range(c_out):  # channels last: one vector add a tap
                a[o] += v * k[o]


@numba.njit(cache=True, inline="always")
def _write_nchw(acc, out_row):  # pragma: no cover - compiled
    """``out_row [C_out, Ho, Wo]`` = ``acc [Ho, Wo, C_out]``."""
    for oy in range(acc.shape[0]):
        for ox in range(acc.shape[1]):
            a = acc[oy, ox]
            for o in range(acc.shape[2]):
                out_row[o, oy, ox] = a[o]


@numba.njit(cache=True, inline="always")
def scatter_taps(row, words, acc, kernel, plane, width, pool, sh, sw, ph, pw):  # pragma: no cover - compiled
    """``acc [Ho, Wo, C_out]`` = the sum of one sample's non-zero inputs ``row`` (flat ``[C_in, H, W]``)
    through the kernel taps that carry each (:func:`_add_taps`). ``words``: the row is bytes in whole
    8-byte words, scanned a word at a time (eight silent inputs, one test).

    Example:
        >>> acc, kernel = np.zeros((2, 2, 1), np.float32), np.ones((1, 1, 1, 1), np.float32)
        >>> scatter_taps(np.array([0, 1, 0, 1], np.int8), False, acc, kernel, 4, 2, 1, 1, 1, 0, 0)
        >>> acc[:, :, 0].tolist()
        [[0.0, 1.0], [0.0, 1.0]]
    """
    acc[:] = 0
    if words:
        packed = row.view(np.uint64)
        for w in range(len(packed)):
            if packed[w] == 0:
                continue
            for j in range(8 * w, 8 * w + 8):
                if row[j] != 0:
                    _add_taps(acc, kernel, row[j], j, plane, width, pool, sh, sw, ph, pw)
    else:
        for j in range(len(row)):
            if row[j] != 0:
                _add_taps(acc, kernel, row[j], j, plane, width, pool, sh, sw, ph, pw)


@numba.njit(parallel=True, cache=True)
def _scatter_conv(x, words, kernel, pool, sh, sw, ph, pw, out):  # pragma: no cover - compiled
    """``out [m, C_out, Ho, Wo]`` = the sum, per sample, of every non-zero ``x [m, C_in, H, W]`` times
    the kernel taps (``kernel [kH, kW, C_in, C_out]``) that carry it to an output, the map sum-pooled
    by ``pool`` first (:func:`scatter_taps`). The input is read as it is stored: scanning it costs
    less than listing its events; each sample is summed channels-last in a small buffer, then written."""
    m, c_in, height, width = x.shape
    ho, wo, c_out = out.shape[2], out.shape[3], out.shape[1]
    for i in numba.prange(m):
        acc = np.empty((ho, wo, c_out), dtype=out.dtype)
        scatter_taps(x[i].reshape(-1), words, acc, kernel, height * width, width, pool, sh, sw, ph, pw)
        _write_nchw(acc, out[i])


def conv_operands(x: torch.Tensor, weight: torch.Tensor, leading: int = 1) -> tuple[np.ndarray, bool, np.ndarray]:
    """What the conv scatter kernels take: the maps ``x`` as a contiguous numpy array, whether each map
    (the axes after the first ``leading``) is bytes in whole 8-byte words (:func:`scatter_taps` may
    scan it a word at a time), and the kernel channels last, ``[kH, kW, C_in, C_out]``.

    Example:
        >>> maps, words, kernel = conv_operands(torch.zeros(3, 2, 2, 2, dtype=torch.int8), torch.zeros(4, 2, 3, 1))
        >>> maps.shape, words, kernel.shape
        ((3, 2, 2, 2), True, (3, 1, 2, 4))
    """
    maps = x.contiguous().numpy()
    words = maps.itemsize == 1 and int(np.prod(maps.shape[leading:])) % 8 == 0
    return maps, words, np.ascontiguousarray(weight.permute(2, 3, 1, 0).numpy())


def _events(x: torch.Tensor):
    """Non-zero entries of ``x`` ``[m, ...]`` as numpy index arrays (row-major, so grouped by
    sample), their values, and each sample's first event (``starts`` ``[m + 1]``)."""
    idx = x.nonzero()
    values = x[tuple(idx.T)]
    idx = idx.numpy()
    starts = np.searchsorted(idx[:, 0], np.arange(x.shape[0] + 1))
    return idx, values, starts


def accumulate_dense(x: torch.Tensor, weight_t: torch.Tensor) -> torch.Tensor:
    """``x @ weight_t`` by adding, for every non-zero ``x[i, j]``, ``x[i, j] * weight_t[j]`` to row ``i``.

    Float weights are added in the order of Lava's ``floating_pt`` Dense, ``weights[:, s].sum(axis=1)``
    (numpy): input after input in index order from 0 (numpy sums the Fortran-ordered gather column by
    column), and for a single output numpy's pairwise sum (the gather is then one contiguous row).

    Args:
        x: input ``[m, n_in]`` on the CPU (spikes 0/1 or small integers), any dtype.
        weight_t: the transposed weights ``[n_in, n_out]`` (integers, or float64 summed in Lava's order).

    Returns:
        ``[m, n_out]`` in ``weight_t``'s dtype, equal to ``x @ weight_t``.

    Example:
        >>> w = torch.tensor([[1, 2], [3, 4], [5, 6]])
        >>> accumulate_dense(torch.tensor([[1, 0, 1], [0, 0, 0]], dtype=torch.int8), w)
        tensor([[6, 8],
                [0, 0]])
    """
    out = torch.zeros((x.shape[0], weight_t.shape[1]), dtype=weight_t.dtype)
    idx, values, starts = _events(x)
    if len(idx):
        wt = weight_t.numpy()
        v = values.to(weight_t.dtype).numpy()
        if weight_t.shape[1] == 1 and weight_t.is_floating_point():  # one output: numpy sums pairwise
            _pairwise_rows(starts, idx[:, 1], v, np.ascontiguousarray(wt[:, 0]), out.numpy())
        else:
            _scatter_dense(starts, idx[:, 1], v, wt, out.numpy())
    return out


def accumulate_conv(
    x: torch.Tensor,
    weight: torch.Tensor,
    stride: tuple[int, int],
    padding: tuple[int, int],
    out_hw: tuple[int, int],
    pool: int = 1,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """``conv2d(sum_pool(x, pool), weight, stride, padding)`` by scattering each active input's kernel taps.

    For an input at ``(c, y, x)`` (in the pooled map: ``(y // pool, x // pool)``) and a kernel offset
    ``(ky, kx)`` the output reached is ``((y + pH - ky) / sH, (x + pW - kx) / sW)`` where that divides
    exactly and lies inside the map. The input is scanned as it is (spikes stay bytes, the sum-pool is
    never formed), so a sparse map costs its scan and its events' taps.

    Args:
        x: input maps ``[m, C_in, H, W]`` on the CPU (spikes or small integers, any dtype).
        weight: ``[C_out, C_in, kH, kW]`` (int64, or float with exact sums).
        stride, padding: ``(sH, sW)``, ``(pH, pW)``.
        out_hw: the output map's ``(H_out, W_out)``.
        pool: sum-pool ``x`` by ``pool x pool`` first (1: none); ``H`` and ``W`` multiples of it.
        out: where to write (contiguous, ``weight``'s dtype, at least ``m`` rows; its first ``m``
            are overwritten): a buffer kept between calls spares a fresh one's page faults.

    Returns:
        ``[m, C_out, H_out, W_out]`` in ``weight``'s dtype, equal to the cross-correlation (a view of
        ``out`` when given).

    Example:
        >>> import torch.nn.functional as F
        >>> x = (torch.rand(2, 3, 6, 6, generator=torch.Generator().manual_seed(0)) < 0.2).float()
        >>> w = torch.randint(-3, 4, (4, 3, 3, 3)).float()
        >>> torch.equal(accumulate_conv(x, w, (2, 2), (1, 1), (3, 3)), F.conv2d(x, w, stride=2, padding=1))
        True
        >>> pooled = F.conv2d(F.avg_pool2d(x, 2) * 4, w, padding=1)
        >>> torch.equal(accumulate_conv(x.to(torch.int8), w, (1, 1), (1, 1), (3, 3), pool=2), pooled)
        True
    """
    shape = (x.shape[0], weight.shape[0], *out_hw)
    out = torch.empty(shape, dtype=weight.dtype) if out is None else out.view(-1)[: int(np.prod(shape))].view(shape)
    maps, words, kernel = conv_operands(x, weight)
    (sh, sw), (ph, pw) = stride, padding
    _scatter_conv(maps, words, kernel, pool, sh, sw, ph, pw, out.numpy())
    return out


def convolve_in_lavas_order(
    x: torch.Tensor, weight: torch.Tensor, stride: tuple[int, int], padding: tuple[int, int], out_hw: tuple[int, int]
) -> torch.Tensor:
    """``conv2d(x, weight, stride, padding)`` for binary ``x`` and float64 weights, its sums added in
    the order of Lava's ``floating_pt`` Conv, so they are Lava's to the bit.

    lava-nc 0.10 computes a float Conv with ``scipy.signal.convolve2d`` on each (output, input)
    channel pair of its (x, y) maps and adds the channels one after another into zeros
    (``proc/conv/utils.py`` ``conv_scipy``; its torch path is disabled there); scipy sums a window
    with the (flipped) kernel's x index outermost, both from the last to the first. Only active
    inputs add (an inactive one adds an exact zero).

    Args:
        x: spikes ``[m, C_in, H, W]`` (0/1) on the CPU.
        weight: float64 ``[C_out, C_in, kH, kW]`` (torch's cross-correlation layout).
        stride, padding: ``(sH, sW)``, ``(pH, pW)``.
        out_hw: the output map's ``(H_out, W_out)``.

    Returns:
        float64 ``[m, C_out, H_out, W_out]``.

    Example:
        >>> import torch.nn.functional as F
        >>> x = (torch.rand(2, 3, 6, 6, generator=torch.Generator().manual_seed(0)) < 0.3).double()
        >>> w = torch.randn(4, 3, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        >>> got = convolve_in_lavas_order(x, w, (1, 1), (1, 1), (6, 6))
        >>> bool(torch.allclose(got, F.conv2d(x, w, padding=1)))
        True
    """
    m = x.shape[0]
    out = torch.zeros((m, *out_hw, weight.shape[0]), dtype=torch.float64)
    kernel = np.ascontiguousarray(weight.permute(1, 2, 3, 0).numpy())  # [C_in, kH, kW, C_out]
    (sh, sw), (ph, pw) = stride, padding
    _conv_lava_order(x.contiguous().numpy(), kernel, sh, sw, ph, pw, out.numpy())
    return out.permute(0, 3, 1, 2)
