"""Batched PyTorch emulator of lava-nc's fixed-point (and floating-point) Dense/Conv + LIF networks.

It reproduces ``Loihi2SimCfg(select_tag="fixed_pt")`` spike for spike, at every population and step,
for a whole batch at once, on any lowered network (:class:`~backends.network.Network`: skip
connections, recurrence, per-neuron time constants); the tests compare it with Lava itself. The
rules, as lava-nc 0.10.0 runs them (``lava/proc/{dense,conv,lif}/models.py``; the rules are
functions of :mod:`backends.loihi`):

- Dense: mantissas clipped to 8 bits and truncated to ``num_weight_bits`` by Lava's sign mode;
  ``acc = W[:, s != 0].sum(1)``; ``a = acc << weight_exp`` (``acc >> -weight_exp``, a floor);
  Conv: ``a = conv(s, W)`` wrapped to 24 bits. Activations travel as int32; a population's inputs
  from several projections are summed in int32 (Lava's ``InPort`` adds them).
- Each projection sends at step ``t`` what it computed at ``t - 1``: input column ``t`` reaches a
  population ``d`` projections away at step ``t + d``; a sample needs ``T + latency`` steps (the
  window), ``latency`` the longest forward path to the output.
- LIF: ``u = trunc(u (4096 - du - 1) / 4096) + (a << 6)`` in int32, wrapped once into 24 bits;
  ``v = clip(trunc(v (4096 - dv) / 4096) + u + (bias_mant << bias_exp), +-(2^23 - 1))``;
  spike when ``v > vth << 6``; ``v -> 0`` where spiked (:func:`~backends.loihi.lif_step`).
- Every sample starts from a zero state (currents, voltages, synaptic buffers); Lava's multi-sample
  runs (:mod:`backends.lava`) zero the same state between samples, so every mode agrees.

Float profiles follow Lava's ``floating_pt`` models instead (no quantization, ``weight_exp``
ignored, the same delays).

Speed: layer-major wherever the network allows. The synaptic input of a population for all steps is
one matrix product per projection: fixed-point dense projections use an exact int8 x int8 -> int32
product (``torch._int_mm``; :class:`Int8Product`), convs a float32 convolution (exact: integer sums
stay below 2**24, checked); on the CPU an event-driven product (:mod:`backends.event_product`) where it
measures faster. Then the LIF recurrence runs over the window as one fused kernel per population
(:mod:`backends.lif_scan`: numba, or Triton on CUDA), which reads a single projection's sums
directly; the step-by-step torch scan (``scan="steps"``) is the reference it is tested against.
Steps after the last input that can carry spikes are skipped in the products. Populations tied by
recurrent projections (:meth:`~backends.network.Network.components`) run step by step together.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from backends.conv_scan import conv_scan_cpu
from backends.event_product import accumulate_conv, accumulate_dense, convolve_in_lavas_order
from backends.executor import RunResult, check_spikes
from backends.lif_scan import Feed, FusedScan, ScanParams, fused_available
from backends.loihi import activation, applied_bias, applied_weights, float_lif_step, lif_step, lif_update, wrap32
from backends.network import BIAS, INPUT, Network
from backends.profile import HardwareProfile
from backends.quantize import IntNetwork, quantize
from backends.readout import check_rule
from backends.threads import check_threads, thread_budget

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
        int32: whether results come back as int32 (one part, and ``max|weight| * n_in < 2**31``).

    Example:
        >>> product = Int8Product(np.array([[2, -4, 254], [0, 6, -256]]))  # even: halved to int8
        >>> product.step, len(product.parts)
        (2, 1)
        >>> product(torch.tensor([[1, 0, 1], [0, 1, 1]], dtype=torch.int8))
        tensor([[ 256, -256],
                [ 250, -250]], dtype=torch.int32)
    """

    def __init__(self, weight: np.ndarray, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
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
            self.parts.append((factor * self.step, torch.from_numpy(padded).to(self.device)))
        self._int_mm = True  # until the device's kernel refuses a shape: then the exact float path
        # every sum of binary inputs fits int32 (one part): the int32 result is returned as it is
        self.int32 = len(self.parts) == 1 and int(np.abs(w).max(initial=0)) * self.step * self.n_in < 1 << 31

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` int8 ``[m, n_in]`` -> ``[m, n_out]`` sums: int32 where every sum of binary inputs
        fits int32 (:attr:`int32`), else int64.

        Args:
            x: int8 spikes (0/1) ``[m, n_in]``, e.g. ``m = steps * batch`` rows.

        Returns:
            ``[m, n_out]``: ``x @ weight.T``, exact (int32 or int64).
        """
        m = x.shape[0]
        rows = max(-(-m // 8) * 8, 24)  # CUDA's kernel needs more than 16 rows, a multiple of 8
        if rows != m or self.k != self.n_in:
            xp = torch.zeros((rows, self.k), dtype=torch.int8, device=x.device)
            xp[:m, : self.n_in] = x
            x = xp
        if self.int32:
            factor, w = self.parts[0]
            acc = self._part(x, w)[:m, : self.n_out]
            return acc * factor if factor != 1 else acc
        acc = None
        for factor, w in self.parts:
            term = self._part(x, w)[:m, : self.n_out].to(torch.int64)
            term = term * factor if factor != 1 else term
            acc = term if acc is None else acc + term
        return acc

    def _part(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """``x @ w`` for int8 operands: ``torch._int_mm``, or where the device refuses it, a float32
        product, exact because every partial sum is an integer of magnitude below ``128 * n_in``
        (< 2**24 for ``n_in`` < 131072, which quantization guarantees)."""
        if self._int_mm:
            try:
                return torch._int_mm(x, w)
            except RuntimeError:
                self._int_mm = False
        return torch.round(x.float() @ w.float()).to(torch.int32)


#: batches in which a projection with an event-driven product runs both products, measured and checked
#: equal, before the emulator chooses (a benchmark's warm-up runs at least as many)
MEASURED_BATCHES = 3


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
class SynapseParams:
    """One projection as the emulator computes with it (float or integer, per the profile).

    Attributes:
        weight: dense ``[n_out, n_in]`` or conv ``[C_out, C_in, kH, kW]``: the weights Lava applies
            (:func:`~backends.loihi.applied_weights`) for fixed point, float64 otherwise.
        dtype: the dtype of the product (fixed point: float32 while integer sums stay exact, else
            float64; float profiles: float64).
        unfolded: a folded sum-pool undone (:func:`unfold_pooling`), or ``None``.
        product: the exact int8 product of a fixed-point dense projection (:class:`Int8Product`).
        exp: the dense projection's ``weight_exp``.
        weight_t: int64 ``[n_in, n_out]`` weights of a fixed-point dense projection for the
            event-driven product (:func:`~backends.event_product.accumulate_dense`), on the CPU only.

    Example:
        >>> params = SynapseParams(weight=torch.ones(2, 3, dtype=torch.float64), dtype=torch.float64)
        >>> params.product is None, params.exp
        (True, 0)
    """

    weight: torch.Tensor
    dtype: torch.dtype
    unfolded: tuple | None = None
    product: Int8Product | None = None
    exp: int = 0
    weight_t: torch.Tensor | None = None


@dataclass
class NeuronRegisters:
    """One population's LIF parameters as the emulator computes with them.

    Attributes:
        du_keep, dv_keep: fixed point: ``4096 - du - 1`` and ``4096 - dv`` (ints, or int64 tensors
            shaped like the population for per-neuron decays); float: ``1 - du`` and ``1 - dv``.
        bias: per-neuron bias shaped like the population (int64 ``bias_mant << bias_exp``, or
            float64), ``None`` when all zero.
        vth: the threshold in ``v``'s units (fixed point: ``vth << 6``).
        slow: whether the current keeps part of itself between steps (``du < 1``).
        subtract: whether a spike subtracts ``vth`` from ``v`` (else sets it to 0).

    Example:
        >>> NeuronRegisters(du_keep=0, dv_keep=4096, bias=None, vth=64, slow=False).slow
        False
    """

    du_keep: int | float | torch.Tensor
    dv_keep: int | float | torch.Tensor
    bias: torch.Tensor | None
    vth: int | float
    slow: bool
    subtract: bool = False


def _uniform(values: np.ndarray, shape, dtype, device):
    """A scalar when every neuron shares the value, else a tensor shaped like the population."""
    flat = np.asarray(values).reshape(-1)
    if np.all(flat == flat[0]):
        return flat[0].item()
    return torch.as_tensor(flat, dtype=dtype, device=device).reshape(shape)


@contextmanager
def exact_arithmetic(device: torch.device) -> Iterator[None]:
    """Float products stay exact on CUDA: TF32 (a 10-bit mantissa, on by default for cuDNN convs)
    is switched off for the duration and restored after; nothing changes on other devices.

    Args:
        device: the device the emulator computes on.

    Example:
        >>> with exact_arithmetic(torch.device("cpu")):
        ...     pass
    """
    if device.type != "cuda":
        yield
        return
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


class EmulatorExecutor:
    """The emulator for one lowered network and profile: ``run(spikes [B, T, ...]) -> RunResult``.

    One executor runs one batch at a time: it keeps its event-driven products' output buffers
    between batches (hundreds of MB for a conv at 300 steps), so each thread needs its own.

    Args:
        network: the lowered network (:func:`backends.graph.lower`), quantized here for a fixed-point profile.
        profile: the hardware profile (fixed point: Lava's ``fixed_pt`` models; float: ``floating_pt``).
        pad_steps: idle steps added to each sample's window, ``P = T + latency + pad_steps`` (>= 0).
        batch_size: samples emulated at once (memory: a few ``[P, batch_size, *shape]`` int64 tensors
            per population).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... (a ``torch.device``).
        scan: how a feed-forward population's LIF recurrence runs over its window: ``"fused"``, one
            compiled kernel keeping the state in registers (:mod:`backends.lif_scan`: numba on the
            CPU, Triton on CUDA; ``"steps"`` where neither runs), or ``"steps"``, a dozen torch
            operations per step (:func:`~backends.loihi.lif_step`). Both give the same spikes.
        readout: for a network whose output is a non-spiking readout (NIR ``LI``/``CubaLI``), the
            rule its membrane trace is read by (``"max"``, ``"last"``, ``"mean"``; :mod:`backends.readout`).
        threads: CPU threads a run uses: ``"auto"`` (default), the cores free when it starts
            (:func:`~backends.threads.free_cores`, so that a busy machine does not stall the kernels),
            or a number; the previous torch and numba settings come back after each run.

    Attributes:
        kind: ``"emulator"``.
        profile: the hardware profile.
        network: the lowered network.
        qnet: its integer registers (:class:`~backends.quantize.IntNetwork`), ``None`` for float.
        pad_steps, batch_size: as given.
        scan: the scan in use (``"fused"`` or ``"steps"``).
        device: where it computes (``torch.device``); results come back on the CPU. Integer paths
            are exact on every device (:func:`exact_arithmetic`): CUDA gives the CPU's spikes.

    Raises:
        ValueError: ``pad_steps`` is negative, ``batch_size < 1``, or quantization fails
            (:func:`~backends.quantize.quantize_population`).

    Example:
        >>> import nir
        >>> from backends.graph import lower
        >>> from backends.profile import load_profile
        >>> graph = nir.NIRGraph.from_list(
        ...     nir.Input(np.array([3])), nir.Linear(np.ones((2, 3))),
        ...     nir.IF(r=np.ones(2), v_threshold=np.ones(2)), nir.Output(np.array([2])))
        >>> executor = EmulatorExecutor(lower(graph, dt=1.0), load_profile("loihi2"))
        >>> result = executor.run(torch.ones(1, 4, 3))  # [B=1, T=4, 3]
        >>> result.window.shape, result.output.shape, result.counts
        (torch.Size([1, 5, 2]), torch.Size([1, 4, 2]), tensor([[4., 4.]]))
    """

    kind = "emulator"

    def __init__(
        self,
        network: Network,
        profile: HardwareProfile,
        pad_steps: int = 0,
        batch_size: int = 256,
        device: str | torch.device = "cpu",
        scan: str = "fused",
        readout: str = "max",
        threads: int | str = "auto",
    ):
        self.readout = check_rule(readout)
        self.threads = check_threads(threads)
        self.last_threads: int | None = None  # what the last run used
        if pad_steps < 0:
            raise ValueError(f"pad_steps must be >= 0, got {pad_steps}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.profile = profile
        self.network = network
        self.pad_steps = pad_steps
        self.batch_size = batch_size
        self.device = torch.device(device)
        # event-driven products on the CPU (numba): chosen per projection by measured cost (_choose) for
        # fixed point; always for float profiles, whose sums they add in Lava's order (_sums)
        self._event_driven = self.device.type == "cpu"
        self._lavas_order = self._event_driven and not profile.fixed_point
        self._costs: dict[str, list[tuple[float, float]]] = {}
        self._buffers: dict[str, torch.Tensor] = {}  # event-driven outputs kept between batches
        self.paths: dict[str, str] = {}
        self.qnet: IntNetwork | None = quantize(network, profile) if profile.fixed_point else None
        self._syn = {p.name: self._prepare_synapse(i) for i, p in enumerate(network.projections)}
        self._delay_w = {
            p.name: self._prepare_delays(i) for i, p in enumerate(network.projections) if p.delays is not None
        }
        self._neurons = {p.name: self._prepare_neurons(i) for i, p in enumerate(network.populations)}
        self._groups = network.components()
        self._latency = network.latency
        if scan not in ("fused", "steps"):
            raise ValueError(f"scan must be 'fused' or 'steps', got {scan!r}")
        self.scan = scan if fused_available(self.device) else "steps"
        self._fused_scans: dict[str, FusedScan] = {}

    @property
    def in_shape(self) -> tuple[int, ...]:
        """Shape of one time step of input, e.g. ``(2, 34, 34)``."""
        return self.network.input_shape

    @property
    def latency(self) -> int:
        """Steps from an input step to the output step that answers it (``L`` for ``L`` chained layers)."""
        return self._latency

    def synapse(self, name: str) -> SynapseParams:
        """Projection ``name`` as the emulator computes with it (weights, product, an undone pooling).

        Args:
            name: the projection's name (``network.projections[i].name``).

        Returns:
            its :class:`SynapseParams`.
        """
        return self._syn[name]

    def window(self, timesteps: int) -> int:
        """Steps per sample window ``P = T + latency + pad_steps``.

        Args:
            timesteps: input steps ``T`` per sample.

        Returns:
            the window length ``P``.
        """
        return timesteps + self._latency + self.pad_steps

    # -- parameters --------------------------------------------------------------------------
    def _prepare_synapse(self, i: int) -> SynapseParams:
        proj = self.network.projections[i]
        if self.qnet is None:
            w = torch.as_tensor(proj.weight, dtype=torch.float64, device=self.device)
            if self._lavas_order:  # the folded kernel as Lava has it; dense weights for accumulate_dense
                event_t = w.T.contiguous() if proj.synapse == "dense" else None
                return SynapseParams(weight=w, dtype=torch.float64, weight_t=event_t)
            unfolded = unfold_pooling(w, proj.stride, proj.padding) if proj.synapse == "conv" else None
            return SynapseParams(weight=w, dtype=torch.float64, unfolded=unfolded)
        q = self.qnet.projections[i]
        w = applied_weights(q, self.network.blocks(proj))
        fan = np.abs(w).reshape(w.shape[0], -1).sum(1).max() if w.size else 0
        dtype = torch.float32 if fan < _EXACT_F32 else torch.float64
        weight = torch.as_tensor(w, dtype=dtype, device=self.device)
        return SynapseParams(
            weight=weight,
            dtype=dtype,
            unfolded=unfold_pooling(weight, q.stride, q.padding) if q.synapse == "conv" else None,
            product=Int8Product(w, self.device) if q.synapse == "dense" else None,
            weight_t=torch.as_tensor(w.T.copy(), dtype=torch.int64)
            if q.synapse == "dense" and self._event_driven
            else None,
            exp=q.weight_exp,
        )

    def _prepare_delays(self, i: int) -> list[tuple[int, torch.Tensor]]:
        """``[(k, weights of the synapses k extra steps late)]`` of a delayed projection, as Lava's
        ``DelayDense`` splits them: fixed point, the applied (clipped, truncated) integer weights,
        int64; float, float64 (summed on the CPU in numpy's order, as Lava's float model sums)."""
        proj = self.network.projections[i]
        if self.qnet is None:
            w, dtype = proj.weight, torch.float64
        else:
            w, dtype = applied_weights(self.qnet.projections[i], self.network.blocks(proj)), torch.int64
        return [(k, torch.as_tensor(np.where(proj.delays == k, w, 0), dtype=dtype)) for k in np.unique(proj.delays)]

    def _delay_product(self, proj, w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """One delay's share ``w`` of a delayed projection for spikes ``x`` ``[m, *in_shape]`` ->
        ``[m, *out_shape]`` (fixed point: its integer sum shifted by ``weight_exp``, as
        ``DelayDense`` shifts each slot; float: ``np.sum(w_k * s, axis=1)`` per row, Lava's float
        sum to the bit)."""
        m = x.shape[0]
        flat = x.reshape(m, -1).cpu()
        if self.qnet is None:
            wn = w.numpy()
            sums = [np.sum(wn * row, axis=1) for row in flat.numpy().astype(bool)]
            acc = torch.from_numpy(np.stack(sums) if m else np.zeros((0, len(wn))))
        else:
            acc = activation(flat.to(torch.int64) @ w.T, "dense", self._syn[proj.name].exp, self.profile.state_bits)
        return acc.to(self.device).reshape(m, *proj.out_shape)

    def _prepare_neurons(self, i: int) -> NeuronRegisters:
        pop = self.network.populations[i]
        dev = self.device
        if self.qnet is None:
            bias = torch.as_tensor(pop.bias, dtype=torch.float64, device=dev).reshape(pop.shape)
            return NeuronRegisters(
                du_keep=_uniform(1 - pop.du, pop.shape, torch.float64, dev),
                dv_keep=_uniform(1 - pop.dv, pop.shape, torch.float64, dev),
                bias=bias if bool((bias != 0).any()) else None,
                vth=pop.vth,
                slow=bool(np.any(pop.du < 1)),
                subtract=pop.reset == "subtract",
            )
        q = self.qnet.populations[i]
        unity = self.profile.decay_unity
        bias = torch.as_tensor(applied_bias(q), dtype=torch.int64, device=dev).reshape(q.shape)
        return NeuronRegisters(
            du_keep=_uniform(unity - q.du - 1, q.shape, torch.int64, dev),
            dv_keep=_uniform(unity - q.dv, q.shape, torch.int64, dev),
            bias=bias if bool((bias != 0).any()) else None,
            vth=q.vth << self.profile.shift,
            slow=bool(np.any(q.du < unity - 1)),
            subtract=pop.reset == "subtract",
        )

    # -- synapses ----------------------------------------------------------------------------
    def _product(self, proj, x: torch.Tensor) -> torch.Tensor:
        """The projection's summed activation for spikes ``x`` ``[m, *in_shape]`` -> ``[m, *out_shape]``
        (int64 for fixed point, with ``weight_exp`` and Conv's 24-bit wrap applied; float64 otherwise)."""
        acc = self._sums(proj, x)
        if self.qnet is None:
            return acc
        acc = torch.round(acc).to(torch.int64) if acc.is_floating_point() else acc.to(torch.int64)
        return activation(acc, proj.synapse, self._syn[proj.name].exp, self.profile.state_bits)

    def _sums(self, proj, x: torch.Tensor) -> torch.Tensor:
        """The summed weights of the projection's spiking inputs ``x`` ``[m, *in_shape]`` ->
        ``[m, *out_shape]``, before Dense's ``weight_exp`` or Conv's wrap: fixed point, exact integers
        as int32, int64 or float32 (whichever the product gave); float profiles, float64.

        A float projection on the CPU always takes an event-driven product that adds in Lava's
        order, so its float64 sums are Lava's to the bit: dense, the active inputs' weights one
        after another in index order from zero, as Lava's ``floating_pt`` Dense
        (``weights[:, s].sum(axis=1)``: numpy sums the Fortran-ordered gather column after column);
        conv, channel by channel as Lava's scipy ``convolve2d`` (:func:`~backends.event_product.
        convolve_in_lavas_order`), with the folded pooling kept as Lava has it. A matrix product
        or convolution adds in other orders (CUDA's still do)."""
        p = self._syn[proj.name]
        m = x.shape[0]
        if proj.synapse == "dense":
            flat = x.reshape(m, -1)
            if self._lavas_order:
                self.paths[proj.name] = "event-driven (Lava's order)"
                return accumulate_dense(flat, p.weight_t).reshape(m, *proj.out_shape)
            if p.product is not None:
                dense = lambda: p.product(flat)  # noqa: E731
            else:
                dense = lambda: flat.to(p.dtype) @ p.weight.T  # noqa: E731
            sparse = (lambda: accumulate_dense(flat, p.weight_t)) if p.weight_t is not None else None  # noqa: E731
            events = flat
        else:
            x = x.reshape(m, x.shape[1], 1, -1) if x.dim() == 3 else x  # Conv1d: height-1 maps
            b, w, stride, padding = self._conv_kernel(proj)
            out_hw = tuple(
                (n // b + 2 * pad - k) // s + 1 for n, pad, k, s in zip(x.shape[2:], padding, w.shape[2:], stride)
            )
            if self._lavas_order:
                self.paths[proj.name] = "event-driven (Lava's order)"
                pooled = F.avg_pool2d(x.to(p.dtype), b, divisor_override=1) if b > 1 else x  # a sum, exact
                return convolve_in_lavas_order(pooled, w, stride, padding, out_hw).reshape(m, *proj.out_shape)

            def dense(x=x, b=b, w=w, stride=stride, padding=padding):
                x = F.avg_pool2d(x.to(p.dtype), b, divisor_override=1) if b > 1 else x.to(p.dtype)  # a sum, exact
                return F.conv2d(x, w, stride=stride, padding=padding)

            # the event-driven product reads the spikes as they are: no conversion, no pooled map
            def sparse(x=x, w=w, stride=stride, padding=padding, b=b):
                out = self._scratch(proj.name, m * int(np.prod(proj.out_shape)), w.dtype)
                return accumulate_conv(x, w, stride, padding, out_hw, pool=b, out=out)

            sparse = sparse if self._event_driven else None
            events = x
        return self._choose(proj.name, m, events, dense, sparse).reshape(m, *proj.out_shape)

    def _conv_kernel(self, proj) -> tuple:
        """``(b, weight, stride, padding)`` of conv ``proj`` as the emulator convolves: a sum-pool
        folded into the kernel undone (``b x b``, then the small kernel; :func:`unfold_pooling`), or
        the kernel as it is (``b = 1``)."""
        p = self._syn[proj.name]
        return p.unfolded or (1, p.weight, tuple(proj.stride), tuple(proj.padding))

    def _scratch(self, name: str, size: int, dtype: torch.dtype) -> torch.Tensor:
        """Projection ``name``'s output buffer of at least ``size`` elements, kept between batches
        (a fresh one of hundreds of MB a batch cost its page faults: 0.13 s of 0.57 s a batch on the
        NIR paper's CNN at 300 steps). What it returns is consumed before the projection runs again."""
        held = self._buffers.get(name)
        if held is None or held.numel() < size or held.dtype != dtype:
            held = self._buffers[name] = torch.empty(size, dtype=dtype)
        return held

    def _choose(self, name: str, m: int, events: torch.Tensor, dense, sparse) -> torch.Tensor:
        """Run the dense or the event-driven product. A projection's first three batches run both
        (checked equal: integer sums; the first, which compiles and warms caches, is not timed); after that the
        event-driven product runs where the measured costs per row (dense) and per event predict
        it to take less than half the dense time at this batch's rows and events (a margin, so
        that timing noise does not flip a projection onto the slower path; the events are counted
        on every 8th row)."""
        if sparse is None:
            return dense()
        seen = self._costs.setdefault(name, [])
        if len(seen) < MEASURED_BATCHES:
            nnz = max(int(torch.count_nonzero(events)), 1)
            t0 = time.perf_counter()
            a = dense()
            t1 = time.perf_counter()
            b = sparse()
            t2 = time.perf_counter()
            if not torch.equal(a.to(b.dtype), b):
                raise RuntimeError(f"projection {name}: the event-driven product differs from the dense one")
            seen.append(((t1 - t0) / m, (t2 - t1) / nnz))
            self.paths[name] = "both (measuring)"
            return a
        if self._prefers_events(name, m, events):
            self.paths[name] = "event-driven"
            return sparse()
        self.paths[name] = "dense"
        return dense()

    def _prefers_events(self, name: str, m: int, events: torch.Tensor) -> bool | None:
        """Whether projection ``name``'s measured costs (:meth:`_choose`) predict the event-driven
        product at under half the dense time for these ``m`` rows of inputs ``events`` (counted on
        every 8th row: enough for a 2x margin); ``None`` while its first three batches measure."""
        seen = self._costs.get(name, [])
        if len(seen) < MEASURED_BATCHES:
            return None
        sample = events[::8]
        nnz = max(int(torch.count_nonzero(sample)) * m // max(len(sample), 1), 1)
        per_row = min(c[0] for c in seen[1:])
        per_event = min(c[1] for c in seen[1:])
        return per_event * nnz < 0.5 * per_row * m

    def _delayed(self, proj, s: torch.Tensor, active: int, out: torch.Tensor, first: bool) -> None:
        """Add the projection's activations of source spikes ``s`` ``[P, B, *in]`` to ``out``
        ``[P, B, *out]`` (zeros; ``first``: nothing added yet, so write), one step late; only the
        first ``active`` source steps can carry spikes."""
        steps, batch = s.shape[:2]
        active = min(active, steps - 1)
        if active <= 0:
            return
        if proj.delays is not None:  # each delay's share lands k steps later (Lava's DelayDense)
            x = s[:active].reshape(active * batch, *proj.in_shape)
            for k, w in self._delay_w[proj.name]:
                end = min(active + 1 + k, steps)
                if end > 1 + k:
                    acc = self._delay_product(proj, w, x)
                    out[1 + k : end] += acc.reshape(active, batch, *proj.out_shape)[: end - 1 - k]
            return
        acc = self._product(proj, s[:active].reshape(active * batch, *proj.in_shape))
        if first:
            out[1 : active + 1] = acc.reshape(active, batch, *proj.out_shape)
        else:
            out[1 : active + 1] += acc.reshape(active, batch, *proj.out_shape)

    # -- neurons -----------------------------------------------------------------------------
    def _step(self, r: NeuronRegisters, u, v, a, spike, work) -> torch.Tensor:
        """One fixed-point LIF step of a population in place (:func:`~backends.loihi.lif_step`); the new ``u``."""
        p = self.profile
        return lif_step(
            u, v, a, r.du_keep, r.dv_keep, r.bias, r.vth, p.max_state, p.shift, p.decay_bits, spike, work, r.subtract
        )

    def _scan(self, name: str, a: torch.Tensor) -> torch.Tensor:
        """Scan population ``name``'s LIF over its summed activation ``a`` ``[P, B, *shape]``; spikes (int8)."""
        r = self._neurons[name]
        if self.scan == "fused":
            return self._fused(name, r).run(Feed(a), a.shape[0])
        fired = torch.zeros(a.shape, dtype=torch.bool, device=a.device)  # viewed as int8 at the end, no copy
        if self.qnet is None:
            u = torch.zeros(a.shape[1:], dtype=torch.float64, device=a.device)
            v = torch.zeros_like(u)
            for t in range(a.shape[0]):
                u, v, fired[t] = float_lif_step(u, v, a[t], r.du_keep, r.dv_keep, r.bias, r.vth, subtract=r.subtract)
            return fired.view(torch.int8)
        a = wrap32(a)  # Lava's InPort sums the projections in int32
        u = torch.zeros(a.shape[1:], dtype=torch.int64, device=a.device)
        v = torch.zeros_like(u)
        work = (torch.empty_like(u), torch.empty_like(u))  # the scan runs in place
        for t in range(a.shape[0]):  # step by step, so each step's tensors stay in cache
            u = self._step(r, u, v, a[t], fired[t], work)
        return fired.view(torch.int8)

    def _trace(self, name: str, a: torch.Tensor) -> torch.Tensor:
        """The membrane of readout ``name`` (it never spikes) over its summed activation ``a``
        ``[P, B, *shape]``: float64 in the graph's units (fixed point: ``v / (scale << 6)``), the
        LIF update of :func:`~backends.loihi.lif_update` without the spike test and the reset."""
        r = self._neurons[name]
        trace = torch.zeros(a.shape, dtype=torch.float64, device=a.device)
        if self.qnet is None:
            u = torch.zeros(a.shape[1:], dtype=torch.float64, device=a.device)
            v = torch.zeros_like(u)
            for t in range(a.shape[0]):
                u = u * r.du_keep + a[t]
                v = v * r.dv_keep + u + (r.bias if r.bias is not None else 0)
                trace[t] = v
            return trace
        p = self.profile
        a = wrap32(a)
        u = torch.zeros(a.shape[1:], dtype=torch.int64, device=a.device)
        v = torch.zeros_like(u)
        for t in range(a.shape[0]):
            u, v = lif_update(u, v, a[t], r.du_keep, r.dv_keep, r.bias, p.max_state, p.shift, p.decay_bits)
            trace[t] = v
        scale = self.qnet.population(name).scale * (1 << p.shift)
        return trace / scale

    def _fused(self, name: str, r: NeuronRegisters) -> FusedScan:
        """Population ``name``'s fused scan (:mod:`backends.lif_scan`), its registers flattened once."""
        if name not in self._fused_scans:
            n = int(np.prod(self.network.population(name).shape))
            p = self.profile
            fixed = self.qnet is not None
            params = ScanParams.build(
                r.du_keep, r.dv_keep, r.bias, r.vth, n, fixed, p.max_state, p.shift, p.decay_bits, r.subtract
            )
            self._fused_scans[name] = FusedScan(params, self.device)
        return self._fused_scans[name]

    def _keeps_state(self, name: str) -> bool:
        """Whether population ``name`` can spike after its input stops (a bias, or a slow current)."""
        r = self._neurons[name]
        return r.slow or r.bias is not None

    # -- a run -----------------------------------------------------------------------------
    @torch.no_grad()
    def run(self, spikes, record: bool = False) -> RunResult:
        """Run binary input ``[B, T, *in_shape]``; see :class:`RunResult`.

        Args:
            spikes: binary spikes ``[B, T, *in_shape]`` (tensor or array; see
                :func:`~backends.executor.check_spikes`).
            record: also return every population's spikes.

        Returns:
            a :class:`~backends.executor.RunResult`: ``window`` ``[B, P, n_out]`` and ``output``
            ``[B, T, n_out]`` float32 0/1 (``P = T + latency + pad_steps``), ``layers`` (with
            ``record``) one float32 ``[B, P, *shape]`` per population, in the network's order.

        Raises:
            ValueError: the input is not binary spikes of shape ``[B, T, *in_shape]``, or ``B = 0``.
        """
        x = check_spikes(spikes, self.in_shape)
        with exact_arithmetic(self.device), thread_budget(self.threads) as self.last_threads:
            results = [
                self._run_batch(x[i : i + self.batch_size].to(self.device), record)
                for i in range(0, len(x), self.batch_size)
            ]
        if not results:
            raise ValueError("hardware input has no samples")
        window = torch.cat([r.window for r in results])
        output = torch.cat([r.output for r in results])
        layers = [torch.cat(parts) for parts in zip(*(r.layers for r in results))] if record else None
        return RunResult(window, output, layers, results[0].readout)

    def _zeros(self, steps: int, batch: int, shape) -> torch.Tensor:
        dtype = torch.int64 if self.qnet is not None else torch.float64
        return torch.zeros((steps, batch, *shape), dtype=dtype, device=self.device)

    def _run_batch(self, x: torch.Tensor, record: bool) -> RunResult:
        net = self.network
        batch, steps_in = x.shape[:2]
        window = self.window(steps_in)
        dev = self.device
        s = torch.zeros((window, batch, *self.in_shape), dtype=torch.int8, device=dev)
        s[:steps_in] = x.transpose(0, 1)
        spikes = {INPUT: s, BIAS: torch.ones((window, batch, 1), dtype=torch.int8, device=dev)}
        active = {INPUT: steps_in, BIAS: window}  # steps that can carry spikes out of each source
        for group in self._groups:
            if self._direct(group):  # one projection straight into the fused scan: no window-long buffer
                name = group[0]
                (proj,) = net.incoming(name)
                spikes[name] = self._fed(proj, spikes[proj.source], active[proj.source], window)
                active[name] = self._active_after(name, active[proj.source], window)
                continue
            members = set(group)
            inputs = {}
            for name in group:  # everything from outside the group, layer-major
                a = self._zeros(window, batch, net.population(name).shape)
                outside = [p for p in net.incoming(name) if p.source not in members]
                for k, proj in enumerate(outside):
                    self._delayed(proj, spikes[proj.source], active[proj.source], a, first=k == 0)
                inputs[name] = a
            if len(group) == 1 and not net.self_connected(group):
                name = group[0]
                read = net.population(name).readout
                spikes[name] = self._trace(name, inputs[name]) if read else self._scan(name, inputs[name])
                feeding = max(active[p.source] + p.max_delay for p in net.incoming(name))
                active[name] = self._active_after(name, feeding, window)
            else:
                spikes.update(self._run_group(group, inputs, window, batch))
                active.update({name: window for name in group})
        out_name = net.output
        out = spikes[out_name].transpose(0, 1).reshape(batch, window, -1).float().cpu()
        lat = self._latency
        layers = [spikes[p.name].transpose(0, 1).float().cpu() for p in net.populations] if record else None
        return RunResult(out, out[:, lat : lat + steps_in], layers, self.readout if net.readout else None)

    def _active_after(self, name: str, feeding: int, window: int) -> int:
        """Steps of population ``name`` that can carry spikes when its inputs can up to step ``feeding``."""
        return window if (self.pad_steps or self._keeps_state(name)) else min(feeding + 1, window)

    def _direct(self, group) -> bool:
        """Whether a group is one population fed by one projection from outside, run by the fused scan."""
        if self.scan != "fused" or len(group) != 1 or self.network.self_connected(group):
            return False
        if self.network.population(group[0]).readout:  # its membrane, not spikes: _trace
            return False
        if any(p.delays is not None for p in self.network.incoming(group[0])):  # DelayDense: _delayed
            return False
        return len(self.network.incoming(group[0])) == 1

    def _fed(self, proj, s: torch.Tensor, active: int, window: int) -> torch.Tensor:
        """Spikes ``[P, B, *shape]`` of ``proj``'s target, the fused scan reading the projection's sums
        of source spikes ``s`` ``[P, B, *in]`` one step late (only the first ``active`` source steps
        can carry spikes); the activation rule applied in the kernel."""
        batch = s.shape[1]
        active = max(min(active, window - 1), 0)
        if active and self._scans_conv(proj, s[:active]):  # the conv's events and the scan, step by step
            b, w, stride, padding = self._conv_kernel(proj)
            params = self._fused(proj.target, self._neurons[proj.target]).params
            out_hw, bits = tuple(proj.out_shape[1:]), self.profile.state_bits
            out = conv_scan_cpu(s[:active], w, stride, padding, out_hw, b, params, window, 1, bits)
            return out.reshape(window, batch, *proj.out_shape)
        sums = self._sums(proj, s[:active].reshape(active * batch, *proj.in_shape)) if active else None
        if sums is None:
            dtype = torch.int64 if self.qnet is not None else torch.float64
            sums = torch.zeros((0, batch, *proj.out_shape), dtype=dtype, device=self.device)
        sums = sums.reshape(active, batch, *proj.out_shape)
        rule = proj.synapse if self.qnet is not None else "none"
        feed = Feed(sums, delay=1, rule=rule, exp=self._syn[proj.name].exp, wrap_bits=self.profile.state_bits)
        return self._fused(proj.target, self._neurons[proj.target]).run(feed, window)

    def _scans_conv(self, proj, s: torch.Tensor) -> bool:
        """Whether conv ``proj``'s source spikes ``s [A, B, C, H, W]`` and its target's LIF scan run as
        one step-by-step pass (:mod:`backends.conv_scan`): fixed point on the CPU, where the
        event-driven product is measured to win (:meth:`_prefers_events`); its window-long sums are
        then never written."""
        if proj.synapse != "conv" or self.qnet is None or not self._event_driven or s.dim() != 5:
            return False
        if not self._prefers_events(proj.name, s.shape[0] * s.shape[1], s.reshape(-1, *s.shape[2:])):
            return False
        self.paths[proj.name] = "event-driven, with the LIF scan"
        return True

    def _run_group(self, group, inputs, window, batch) -> dict[str, torch.Tensor]:
        """Populations tied by recurrent projections, step by step (their own spikes feed back)."""
        net = self.network
        members = set(group)
        internal = [p for p in net.projections if p.source in members and p.target in members]
        fixed = self.qnet is not None
        dtype = torch.int64 if fixed else torch.float64
        state = {}
        for name in group:
            shape = net.population(name).shape
            u = torch.zeros((batch, *shape), dtype=dtype, device=self.device)
            state[name] = (u, torch.zeros_like(u), (torch.empty_like(u), torch.empty_like(u)))
        fired = {
            name: torch.zeros((window, batch, *net.population(name).shape), dtype=torch.bool, device=self.device)
            for name in group
        }
        for t in range(window):
            for name in group:
                a = inputs[name][t].clone()
                for proj in internal:
                    if proj.target != name:
                        continue
                    if proj.delays is not None:
                        for k, w in self._delay_w[proj.name]:
                            if t - 1 - k >= 0:
                                a += self._delay_product(proj, w, fired[proj.source][t - 1 - k].to(torch.int8))
                    elif t > 0:
                        a += self._product(proj, fired[proj.source][t - 1].to(torch.int8))
                r = self._neurons[name]
                u, v, work = state[name]
                if fixed:
                    u = self._step(r, u, v, wrap32(a), fired[name][t], work)
                else:
                    u, v, fired[name][t] = float_lif_step(
                        u, v, a, r.du_keep, r.dv_keep, r.bias, r.vth, subtract=r.subtract
                    )
                state[name] = (u, v, work)
        return {name: f.view(torch.int8) for name, f in fired.items()}
