"""Float hardware layers -> Loihi-style integer parameters for a profile, with a per-layer scale.

Integer domain (lava-nc's bit-accurate LIF): ``u += a << 6``, ``v += u + bias``, spike when
``v > vth << 6``. With a per-layer scale ``s`` (float membrane unit -> integer weight unit):

- weights: ``w * s = mantissa * 2**weight_exp``; the mantissa grid is Lava's (``mantissa_bits``,
  mixed sign drops one more low bit: 8-bit mixed weights are even). ``s`` is chosen so that the
  largest weight uses the whole mantissa, and ``weight_exp`` (>= 0 when possible, Lava shifts the
  summed activation) so that the threshold sits ``headroom`` times below the 24-bit state limit;
- threshold: ``vth_int = round(vth * s)`` (17 bits);
- bias: ``bias * s * 64 = bias_mant * 2**bias_exp`` (13-bit mantissa, exponent 0..7 per neuron);
- decays: ``du_reg = round(du * 4096) - 1`` (Lava adds 1 to du), ``dv_reg = round(dv * 4096)``,
  both clipped to 12 bits.

Dense layers keep mantissa and exponent apart (Lava's Dense applies ``weight_exp``); Lava's Conv
ignores ``weight_exp`` and ``num_weight_bits``, so conv weights are handed over as
``mantissa << weight_exp`` integers, already on the grid. Each layer reports its quantization error.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from backends.graph import FloatLayer
from backends.profile import HardwareProfile


@dataclass(frozen=True)
class QuantizationError:
    """How far one layer's integer registers are from its float parameters.

    Attributes:
        scale: float membrane unit -> integer weight unit.
        weight_exp: the layer's weight exponent.
        weight_rel_rms_error: RMS of (dequantized - float) weights over RMS of the float weights.
        weights_zeroed: share of non-zero float weights whose mantissa is 0.
        threshold_rel_error: relative error of the dequantized threshold.
        dv_float, dv_quantized, du_float, du_quantized: decays before and after quantization.
        bias_abs_error: largest absolute bias error (float units).

    Example:
        >>> layer = FloatLayer(name="lif", synapse="dense", weight=np.array([[0.5, -1.0, 0.3]]), in_shape=(3,),
        ...                    out_shape=(1,), bias=np.zeros(1), du=1.0, dv=0.1, vth=1.0, neuron="LIF")
        >>> error = quantize_layer(layer, HardwareProfile("loihi2", fixed_point=True)).error
        >>> error.weight_exp, error.dv_quantized  # dv = 410 / 4096
        (6, 0.10009765625)
    """

    scale: float
    weight_exp: int
    weight_rel_rms_error: float
    weights_zeroed: float
    threshold_rel_error: float
    dv_float: float
    dv_quantized: float
    du_float: float
    du_quantized: float
    bias_abs_error: float


@dataclass
class IntLayer:
    """A hardware layer in Lava's integer registers (torch layouts, like :class:`FloatLayer`).

    Made by :func:`quantize_layer`; the emulator and Lava's processes take their registers from it.

    Attributes:
        name: the layer's name (its neuron node's name in the NIR graph).
        synapse: ``"dense"`` or ``"conv"``.
        weight: int64; dense: mantissas ``[n_out, n_in]`` (Lava's Dense clips and truncates them,
            :func:`~backends.loihi.lava_weights`, and shifts the sum by ``weight_exp``); conv: full
            integers ``mantissa << weight_exp`` ``[C_out, C_in, kH, kW]``, already on the grid.
        weight_exp: Lava's Dense ``weight_exp`` (0 for conv: already applied to the weights).
        num_weight_bits: Lava's ``num_weight_bits`` (the profile's ``mantissa_bits``).
        in_shape, out_shape: per-sample shapes of the input and of the population (torch order,
            ``(C, H, W)`` for conv maps).
        du, dv: Lava's 12-bit decay registers (Lava adds 1 to ``du``).
        vth: the 17-bit threshold register (Lava compares ``v`` with ``vth << 6``).
        bias_mant, bias_exp: int64 ``[n_out]``: per-neuron bias ``bias_mant << bias_exp`` added to ``v``.
        stride, padding: conv stride and padding ``(H, W)`` in torch order (``(1, 1)``, ``(0, 0)`` for dense).
        scale: float membrane unit -> integer weight unit (see the module docstring).
        error: the layer's :class:`QuantizationError`.

    Example:
        >>> layer = FloatLayer(name="lif", synapse="dense", weight=np.array([[0.5, -1.0, 0.3]]), in_shape=(3,),
        ...                    out_shape=(1,), bias=np.zeros(1), du=1.0, dv=0.1, vth=1.0, neuron="LIF")
        >>> q = quantize_layer(layer, HardwareProfile("loihi2", fixed_point=True))
        >>> q.weight, q.weight_exp, q.vth, q.du, q.dv
        (array([[ 128, -256,   76]]), 6, 16384, 4095, 410)
    """

    name: str
    synapse: str
    weight: np.ndarray  # int64: dense mantissas [n_out, n_in]; conv full integers [Co, Ci, kH, kW]
    weight_exp: int  # dense only (0 for conv: already applied)
    num_weight_bits: int
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    du: int
    dv: int
    vth: int
    bias_mant: np.ndarray  # int64 [n_out]
    bias_exp: np.ndarray  # int64 [n_out]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    scale: float = 1.0
    error: QuantizationError | None = None

    @property
    def n_out(self) -> int:
        """Number of neurons in the population (``prod(out_shape)``)."""
        return int(np.prod(self.out_shape))


def mantissa_grid(mixed: bool, bits: int) -> tuple[int, int, int]:
    """``(step, min, max)`` of Lava's weight mantissas (clip to 8 bits, then drop low bits).

    Args:
        mixed: whether the weights have both signs (Lava's mixed sign mode: clip to ``[-256, 255]``
            and drop one more low bit); otherwise the excitatory grid ``[0, 255]`` (the inhibitory
            one is its negation).
        bits: mantissa bits, Lava's ``num_weight_bits`` (1..8).

    Returns:
        ``(step, lo, hi)`` ints: representable mantissas are the multiples of ``step`` in ``[lo, hi]``.

    Example:
        >>> mantissa_grid(True, 8)  # 8-bit mixed mantissas are even
        (2, -256, 254)
        >>> mantissa_grid(False, 6)
        (4, 0, 252)
    """
    drop = 8 - bits + (1 if mixed else 0)
    step = 1 << drop
    lo = -256 if mixed else 0
    hi = (255 >> drop) << drop
    return step, lo, hi


def quantize_weights(w: np.ndarray, scale: float, exp: int, bits: int) -> np.ndarray:
    """Round ``w * scale / 2**exp`` to the nearest representable mantissa (int64).

    The sign mode (and so the grid, :func:`mantissa_grid`) is that of ``w`` as a whole, as Lava
    determines it for a weight matrix.

    Args:
        w: float weights, any shape (dense ``[n_out, n_in]``, conv ``[C_out, C_in, kH, kW]``).
        scale: float membrane unit -> integer weight unit.
        exp: the weight exponent ``weight_exp``.
        bits: mantissa bits (the profile's ``mantissa_bits``).

    Returns:
        int64 array shaped like ``w``: mantissas on the grid, clipped to its range.

    Example:
        >>> quantize_weights(np.array([0.5, -1.0, 0.3]), 256.0, 0, 8)  # mixed: step 2
        array([ 128, -256,   76])
        >>> quantize_weights(np.array([0.5, -1.0, 0.3]), 256.0, 0, 4)  # mixed: step 32
        array([ 128, -256,   64])
    """
    mixed = bool(w.min() < 0 < w.max())
    step, lo, hi = mantissa_grid(mixed, bits)
    if w.max() <= 0 < -w.min():  # inhibitory: Lava negates, clips to [0, 255], truncates, negates
        step, lo, hi = mantissa_grid(False, bits)
        lo, hi = -hi, 0
    target = w * scale / 2.0**exp
    return np.clip(np.round(target / step) * step, lo, hi).astype(np.int64)


def _bias(bias: np.ndarray, scale: float, profile: HardwareProfile) -> tuple[np.ndarray, np.ndarray]:
    target = bias * scale * (1 << profile.shift)
    limit = (1 << (profile.bias_mant_bits - 1)) - 1
    mag = np.abs(target)
    exp = np.zeros(len(target), dtype=np.int64)
    need = mag > limit
    exp[need] = np.minimum(np.ceil(np.log2(mag[need] / limit)), profile.bias_exp_max).astype(np.int64)
    mant = np.clip(np.round(target / 2.0**exp), -limit - 1, limit).astype(np.int64)
    return mant, exp


def choose_scale(layer: FloatLayer, profile: HardwareProfile) -> tuple[float, int]:
    """``(scale, weight_exp)``: full mantissa for the largest weight, threshold below the state range.

    The target scale keeps ``vth * scale`` within 17 bits and ``headroom`` times below the 24-bit
    state bound (in ``v``'s units, after the shift by 6); ``weight_exp`` is the largest exponent
    at which the largest weight still fits the mantissa, clamped to ``[exp_min, exp_max]`` (conv:
    ``[0, exp_max]``, Lava's Conv has no ``weight_exp``), and the scale is then set so that the
    largest weight takes the whole mantissa.

    Args:
        layer: the float layer.
        profile: a fixed-point hardware profile.

    Returns:
        ``(scale, weight_exp)``: a float and an int.

    Example:
        >>> layer = FloatLayer(name="lif", synapse="dense", weight=np.array([[0.5, -1.0, 0.3]]), in_shape=(3,),
        ...                    out_shape=(1,), bias=np.zeros(1), du=1.0, dv=0.1, vth=1.0, neuron="LIF")
        >>> choose_scale(layer, HardwareProfile("loihi2", fixed_point=True))
        (16384.0, 6)
    """
    wmax = float(np.abs(layer.weight).max())
    mixed = bool(layer.weight.min() < 0 < layer.weight.max())
    _, lo, hi = mantissa_grid(mixed, profile.mantissa_bits)
    mant_max = max(hi, -lo if mixed else hi)
    vth_limit = (1 << profile.threshold_bits) - 1
    s_target = min(profile.max_state / (1 << profile.shift) / profile.headroom / layer.vth, vth_limit / layer.vth)
    if wmax == 0:
        return s_target, 0
    exp = math.floor(math.log2(s_target * wmax / mant_max))
    # Lava's Conv takes full integers (no weight_exp): keep conv exponents >= 0
    exp_min = 0 if layer.synapse == "conv" else profile.exp_min
    exp = min(max(exp, exp_min), profile.exp_max)
    return mant_max * 2.0**exp / wmax, exp


def quantize_layer(layer: FloatLayer, profile: HardwareProfile) -> IntLayer:
    """One :class:`FloatLayer` in integers (``profile.fixed_point`` must be true).

    Args:
        layer: the float layer (:func:`backends.graph.lower`).
        profile: a fixed-point hardware profile.

    Returns:
        the :class:`IntLayer`, with its :class:`QuantizationError`.

    Raises:
        ValueError: the profile is float, or the threshold does not fit ``threshold_bits``.

    Example:
        >>> layer = FloatLayer(name="lif", synapse="dense", weight=np.array([[0.5, -1.0, 0.3]]), in_shape=(3,),
        ...                    out_shape=(1,), bias=np.zeros(1), du=1.0, dv=0.1, vth=1.0, neuron="LIF")
        >>> quantize_layer(layer, HardwareProfile("loihi2", fixed_point=True)).weight
        array([[ 128, -256,   76]])
    """
    if not profile.fixed_point:
        raise ValueError(f"profile {profile.name!r} is float: nothing to quantize")
    scale, exp = choose_scale(layer, profile)
    mant = quantize_weights(layer.weight, scale, exp, profile.mantissa_bits)
    vth = int(round(layer.vth * scale))
    if not 0 < vth < (1 << profile.threshold_bits):
        raise ValueError(f"layer {layer.name!r}: threshold {vth} does not fit {profile.threshold_bits} bits")
    bias_mant, bias_exp = _bias(layer.bias, scale, profile)
    unity = profile.decay_unity
    du = int(np.clip(round(layer.du * unity) - 1, 0, unity - 1))
    dv = int(np.clip(round(layer.dv * unity), 0, unity - 1))
    w_back = mant * 2.0**exp / scale
    rms = float(np.sqrt(np.mean(layer.weight**2))) or 1.0
    error = QuantizationError(
        scale=scale,
        weight_exp=exp,
        weight_rel_rms_error=float(np.sqrt(np.mean((w_back - layer.weight) ** 2)) / rms),
        weights_zeroed=float(np.mean((mant == 0) & (layer.weight != 0))),
        threshold_rel_error=abs(vth / scale - layer.vth) / layer.vth,
        dv_float=layer.dv,
        dv_quantized=dv / unity,
        du_float=layer.du,
        du_quantized=(du + 1) / unity,
        bias_abs_error=float(np.abs(bias_mant * 2.0**bias_exp / scale / (1 << profile.shift) - layer.bias).max())
        if len(layer.bias)
        else 0.0,
    )
    if layer.synapse == "conv":
        weight, weight_exp = mant << exp, 0
    else:
        weight, weight_exp = mant, exp
    return IntLayer(
        name=layer.name,
        synapse=layer.synapse,
        weight=weight,
        weight_exp=weight_exp,
        num_weight_bits=profile.mantissa_bits,
        in_shape=layer.in_shape,
        out_shape=layer.out_shape,
        du=du,
        dv=dv,
        vth=vth,
        bias_mant=bias_mant,
        bias_exp=bias_exp,
        stride=layer.stride,
        padding=layer.padding,
        scale=scale,
        error=error,
    )


def quantize(layers: list[FloatLayer], profile: HardwareProfile) -> list[IntLayer]:
    """Quantize every layer; see :func:`quantize_layer`.

    Args:
        layers: the float layers of a lowered graph (:func:`backends.graph.lower`).
        profile: a fixed-point hardware profile.

    Returns:
        one :class:`IntLayer` per layer, in the same order.

    Raises:
        ValueError: the profile is float, or a threshold does not fit (:func:`quantize_layer`).

    Example:
        >>> layer = FloatLayer(name="lif", synapse="dense", weight=np.array([[0.5, -1.0, 0.3]]), in_shape=(3,),
        ...                    out_shape=(1,), bias=np.zeros(1), du=1.0, dv=0.1, vth=1.0, neuron="LIF")
        >>> [q.weight_exp for q in quantize([layer, layer], HardwareProfile("loihi2", fixed_point=True))]
        [6, 6]
    """
    return [quantize_layer(layer, profile) for layer in layers]


def quantization_report(layers: list[IntLayer]) -> list[dict]:
    """Per-layer quantization error (for printing or JSON).

    Args:
        layers: quantized layers (:func:`quantize`); those without an ``error`` are left out.

    Returns:
        one dict a layer: ``layer`` (name), ``synapse`` and the fields of :class:`QuantizationError`.

    Example:
        >>> layer = FloatLayer(name="lif", synapse="dense", weight=np.array([[0.5, -1.0, 0.3]]), in_shape=(3,),
        ...                    out_shape=(1,), bias=np.zeros(1), du=1.0, dv=0.1, vth=1.0, neuron="LIF")
        >>> report = quantization_report(quantize([layer], HardwareProfile("loihi2", fixed_point=True)))
        >>> report[0]["layer"], report[0]["weight_exp"], round(report[0]["weight_rel_rms_error"], 4)
        ('lif', 6, 0.0027)
    """
    return [{"layer": q.name, "synapse": q.synapse, **asdict(q.error)} for q in layers if q.error is not None]
