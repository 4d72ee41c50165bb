"""Float network -> Loihi-style integer registers for a profile, with one scale per population.

Integer domain (lava-nc's bit-accurate LIF): ``u += a << 6``, ``v += u + bias``, spike when
``v > vth << 6``. With a per-population scale ``s`` (float membrane unit -> integer weight unit),
shared by every projection into the population:

- weights: ``w * s = mantissa * 2**weight_exp``, one ``weight_exp`` per projection; the mantissa grid
  is Lava's (``mantissa_bits``; mixed sign drops one more low bit: 8-bit mixed weights are even).
  ``s`` is the largest at which every incoming projection's largest weight still fits its mantissa
  (at an exponent in the profile's range) and the threshold sits ``headroom`` times below the
  24-bit state limit; each projection then takes the smallest exponent its weights fit;
- threshold: ``vth_int = round(vth * s)`` (17 bits);
- bias: ``bias * s * 64 = bias_mant * 2**bias_exp`` (13-bit mantissa, exponent 0..7 per neuron);
- decays, per neuron: ``du_reg = round(du * 4096) - 1`` (Lava adds 1 to du), ``dv_reg = round(dv * 4096)``,
  both clipped to 12 bits.

Dense projections keep mantissa and exponent apart (Lava's Dense applies ``weight_exp``); Lava's Conv
ignores ``weight_exp`` and ``num_weight_bits``, so conv weights are handed over as
``mantissa << weight_exp`` integers (exponent >= 0), already on the grid. Each population reports
its quantization error.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from backends.network import Network, Population, Projection
from backends.profile import HardwareProfile
from backends.timestep import FRAMEWORK_DT

# How the weights into a population grow with the time step (the table of backends.graph): IF r dt,
# LIF r dt / tau, CubaLIF w_in (dt / tau_syn) (dt / tau_mem) r; the threshold does not move.
_DT_WEIGHTS = {"IF": (1, "r dt"), "LIF": (1, "r dt / tau"), "CubaLIF": (2, "w_in r dt^2 / (tau_syn tau_mem)")}


class _ThresholdRangeError(ValueError):
    """A threshold register out of range: the weights into the population are too small or too large for it."""


@dataclass(frozen=True)
class QuantizationError:
    """How far one population's integer registers (and its incoming weights) are from the floats.

    Attributes:
        scale: float membrane unit -> integer weight unit.
        weight_exps: the incoming projections' weight exponents.
        weight_rel_rms_error: RMS of (dequantized - float) incoming weights over their RMS.
        weights_zeroed: share of non-zero float weights whose mantissa is 0.
        threshold_rel_error: relative error of the dequantized threshold.
        dv_max_error, du_max_error: largest decay error per step.
        bias_abs_error: largest absolute bias error (float units).

    Example:
        >>> net = _example()
        >>> error = quantize(net, HardwareProfile("loihi2", fixed_point=True)).populations[0].error
        >>> error.weight_exps, round(error.dv_max_error, 6)  # dv = 410 / 4096
        ((6,), 9.8e-05)
    """

    scale: float
    weight_exps: tuple[int, ...]
    weight_rel_rms_error: float
    weights_zeroed: float
    threshold_rel_error: float
    dv_max_error: float
    du_max_error: float
    bias_abs_error: float


@dataclass
class IntProjection:
    """A projection's integer weights as Lava takes them (torch layouts, like :class:`Projection`).

    Attributes:
        source, target, synapse, in_shape, out_shape, stride, padding, recurrent: as the float projection.
        weight: int64; dense: mantissas ``[n_out, n_in]`` (Lava's Dense clips and truncates them,
            :func:`~backends.loihi.lava_weights`, and shifts the sum by ``weight_exp``); conv: full
            integers ``mantissa << weight_exp`` ``[C_out, C_in, kH, kW]``, already on the grid.
        weight_exp: Lava's Dense ``weight_exp`` (0 for conv: already applied to the weights).
        num_weight_bits: Lava's ``num_weight_bits`` (the profile's ``mantissa_bits``).

    Example:
        >>> q = quantize(_example(), HardwareProfile("loihi2", fixed_point=True)).projections[0]
        >>> q.weight, q.weight_exp
        (array([[ 128, -256,   76]]), 6)
    """

    source: str
    target: str
    synapse: str
    weight: np.ndarray
    weight_exp: int
    num_weight_bits: int
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    recurrent: bool = False

    @property
    def name(self) -> str:
        """``"source->target"``."""
        return f"{self.source}->{self.target}"


@dataclass
class IntPopulation:
    """A population in Lava's integer LIF registers.

    Attributes:
        name, shape, neuron: as the float population.
        du, dv: int64 ``[n]`` 12-bit decay registers per neuron (Lava adds 1 to ``du``).
        vth: the 17-bit threshold register (Lava compares ``v`` with ``vth << 6``).
        bias_mant, bias_exp: int64 ``[n]``: per-neuron bias ``bias_mant << bias_exp`` added to ``v``.
        scale: float membrane unit -> integer weight unit (see the module docstring).
        error: its :class:`QuantizationError`.

    Example:
        >>> q = quantize(_example(), HardwareProfile("loihi2", fixed_point=True)).populations[0]
        >>> q.vth, q.du, q.dv
        (16384, array([4095]), array([410]))
    """

    name: str
    shape: tuple[int, ...]
    neuron: str
    du: np.ndarray
    dv: np.ndarray
    vth: int
    bias_mant: np.ndarray
    bias_exp: np.ndarray
    scale: float = 1.0
    error: QuantizationError | None = None

    @property
    def n(self) -> int:
        """Number of neurons (``prod(shape)``)."""
        return int(np.prod(self.shape))


@dataclass
class IntNetwork:
    """A lowered network in integer registers: what the emulator and Lava's processes are built from.

    Attributes:
        network: the float network it was quantized from.
        populations: one :class:`IntPopulation` per population, same order.
        projections: one :class:`IntProjection` per projection, same order.

    Example:
        >>> qnet = quantize(_example(), HardwareProfile("loihi2", fixed_point=True))
        >>> qnet.population("lif").vth
        16384
    """

    network: Network
    populations: list[IntPopulation]
    projections: list[IntProjection]

    def population(self, name: str) -> IntPopulation:
        """The population called ``name``."""
        return self.populations[self.network.index(name)]


def _example() -> Network:
    """A one-population network for the examples: weights ``[[0.5, -1.0, 0.3]]``, LIF with dv = 0.1."""
    from backends.network import INPUT

    pop = Population("lif", (1,), np.ones(1), np.full(1, 0.1), 1.0, np.zeros(1), "LIF")
    proj = Projection(INPUT, "lif", "dense", np.array([[0.5, -1.0, 0.3]]), (3,), (1,))
    return Network((3,), [pop], [proj], "lif", 1e-3)


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


def _mant_max(w: np.ndarray, bits: int) -> int:
    mixed = bool(w.min() < 0 < w.max())
    _, lo, hi = mantissa_grid(mixed, bits)
    return max(hi, -lo if mixed else hi)


def _exp_range(proj: Projection, profile: HardwareProfile) -> tuple[int, int]:
    # Lava's Conv takes full integers (no weight_exp): keep conv exponents >= 0
    return (0 if proj.synapse == "conv" else profile.exp_min), profile.exp_max


def choose_scale(pop: Population, incoming: list[Projection], profile: HardwareProfile) -> float:
    """The population's scale: every incoming weight fits, the threshold sits below the state range.

    The target keeps ``vth * scale`` within 17 bits and ``headroom`` times below the 24-bit state
    bound (in ``v``'s units, after the shift by 6). For each projection, the largest exponent in
    the profile's range at which its largest weight still fits the mantissa at (or below) the
    target gives a scale that fills the mantissa; the population takes the smallest of them.

    Args:
        pop: the float population.
        incoming: the projections into it.
        profile: a fixed-point hardware profile.

    Returns:
        the scale (float membrane unit -> integer weight unit).

    Example:
        >>> net = _example()
        >>> choose_scale(net.populations[0], net.projections, HardwareProfile("loihi2", fixed_point=True))
        16384.0
    """
    return _scale(pop.vth, _weight_ranges(incoming, profile), profile)


def _weight_ranges(incoming: list[Projection], profile: HardwareProfile) -> list[tuple[float, int, int, int]]:
    """``(largest |weight|, mantissa limit, lowest exponent, highest exponent)`` of each non-zero projection."""
    ranges = []
    for proj in incoming:
        wmax = float(np.abs(proj.weight).max()) if proj.weight.size else 0.0
        if wmax > 0:
            ranges.append((wmax, _mant_max(proj.weight, profile.mantissa_bits), *_exp_range(proj, profile)))
    return ranges


def _scale(vth: float, ranges: list[tuple[float, int, int, int]], profile: HardwareProfile, gain: float = 1.0) -> float:
    """:func:`choose_scale` from :func:`_weight_ranges`, every weight multiplied by ``gain``."""
    vth_limit = (1 << profile.threshold_bits) - 1
    s_target = min(profile.max_state / (1 << profile.shift) / profile.headroom / vth, vth_limit / vth)
    scales = []
    for wmax, mant_max, lo, hi in ranges:
        wmax *= gain
        exp = min(max(math.floor(math.log2(s_target * wmax / mant_max)), lo), hi)
        scales.append(mant_max * 2.0**exp / wmax)
    return min(scales) if scales else s_target


def _projection_exp(proj: Projection, scale: float, profile: HardwareProfile) -> int:
    """The smallest exponent at which the projection's largest weight fits its mantissa at ``scale``."""
    wmax = float(np.abs(proj.weight).max()) if proj.weight.size else 0.0
    lo, hi = _exp_range(proj, profile)
    if wmax == 0:
        return lo
    need = math.log2(wmax * scale / _mant_max(proj.weight, profile.mantissa_bits))
    return min(max(math.ceil(need - 1e-9), lo), hi)


def quantize_population(pop: Population, incoming: list[Projection], profile: HardwareProfile):
    """One population and its incoming projections in integers (``profile.fixed_point`` must be true).

    Args:
        pop: the float population.
        incoming: the projections into it (:meth:`Network.incoming <backends.network.Network.incoming>`).
        profile: a fixed-point hardware profile.

    Returns:
        ``(IntPopulation, [IntProjection, ...])`` with the population's :class:`QuantizationError`.

    Raises:
        ValueError: the profile is float, or the threshold does not fit ``threshold_bits``.

    Example:
        >>> net = _example()
        >>> loihi2 = HardwareProfile("loihi2", fixed_point=True)
        >>> q, [proj] = quantize_population(net.populations[0], net.projections, loihi2)
        >>> proj.weight, proj.weight_exp, q.vth
        (array([[ 128, -256,   76]]), 6, 16384)
    """
    if not profile.fixed_point:
        raise ValueError(f"profile {profile.name!r} is float: nothing to quantize")
    scale = choose_scale(pop, incoming, profile)
    vth = int(round(pop.vth * scale))
    if not 0 < vth < (1 << profile.threshold_bits):
        raise _ThresholdRangeError(
            f"population {pop.name!r}: threshold {vth} does not fit {profile.threshold_bits} bits"
        )
    bias_mant, bias_exp = _bias(pop.bias, scale, profile)
    unity = profile.decay_unity
    du = np.clip(np.round(pop.du * unity) - 1, 0, unity - 1).astype(np.int64)
    dv = np.clip(np.round(pop.dv * unity), 0, unity - 1).astype(np.int64)
    projections, exps, errors, weights, zeroed = [], [], [], [], []
    for proj in incoming:
        exp = _projection_exp(proj, scale, profile)
        mant = quantize_weights(proj.weight, scale, exp, profile.mantissa_bits)
        errors.append((mant * 2.0**exp / scale - proj.weight).reshape(-1))
        weights.append(proj.weight.reshape(-1))
        zeroed.append(((mant == 0) & (proj.weight != 0)).reshape(-1))
        exps.append(exp)
        weight, weight_exp = (mant << exp, 0) if proj.synapse == "conv" else (mant, exp)
        projections.append(
            IntProjection(
                proj.source,
                proj.target,
                proj.synapse,
                weight,
                weight_exp,
                profile.mantissa_bits,
                proj.in_shape,
                proj.out_shape,
                proj.stride,
                proj.padding,
                proj.recurrent,
            )
        )
    w = np.concatenate(weights) if weights else np.zeros(1)
    err = np.concatenate(errors) if errors else np.zeros(1)
    rms = float(np.sqrt(np.mean(w**2))) or 1.0
    error = QuantizationError(
        scale=scale,
        weight_exps=tuple(exps),
        weight_rel_rms_error=float(np.sqrt(np.mean(err**2)) / rms),
        weights_zeroed=float(np.mean(np.concatenate(zeroed))) if zeroed else 0.0,
        threshold_rel_error=abs(vth / scale - pop.vth) / pop.vth,
        dv_max_error=float(np.abs(dv / unity - pop.dv).max()),
        du_max_error=float(np.abs((du + 1) / unity - pop.du).max()),
        bias_abs_error=float(np.abs(bias_mant * 2.0**bias_exp / scale / (1 << profile.shift) - pop.bias).max()),
    )
    qpop = IntPopulation(pop.name, pop.shape, pop.neuron, du, dv, vth, bias_mant, bias_exp, scale, error)
    return qpop, projections


#: the longest extra delay of a synapse Loihi 2 holds (lava-nc's bit-accurate ``DelayDense``: 6 bits)
MAX_DELAY = 63


def quantize(network: Network, profile: HardwareProfile) -> IntNetwork:
    """Quantize every population with its incoming projections; see :func:`quantize_population`.

    Args:
        network: the lowered network (:func:`backends.graph.lower`).
        profile: a fixed-point hardware profile.

    Returns:
        the :class:`IntNetwork` (populations and projections in the network's order).

    Raises:
        ValueError: the profile is float, or a threshold does not fit (:func:`quantize_population`): the
            weights into the population are too small or too large for it. Those weights grow with the
            time step (``r dt`` for IF), so the message names the ``dt`` used, the range of ``dt`` at which
            every population fits and the exporters' conventions in it: a wrong ``dt`` is the usual cause.

    Example:
        >>> qnet = quantize(_example(), HardwareProfile("loihi2", fixed_point=True))
        >>> [p.weight_exp for p in qnet.projections]
        [6]
    """
    for proj in network.projections:
        if proj.max_delay > MAX_DELAY:
            raise ValueError(
                f"projection {proj.name!r}: a synapse delays {proj.max_delay} steps; Loihi 2's DelayDense holds at "
                f"most {MAX_DELAY} (a NIR Delay node of at most {MAX_DELAY} time steps of dt = {network.dt:g} s)"
            )
    pops, by_name = [], {}
    for pop in network.populations:
        try:
            qpop, projs = quantize_population(pop, network.incoming(pop.name), profile)
        except _ThresholdRangeError as err:
            raise ValueError(f"{err}{_dt_hint(network, pop, profile)}") from None
        pops.append(qpop)
        for p in projs:
            by_name[p.name] = p
    return IntNetwork(network, pops, [by_name[p.name] for p in network.projections])


def _dt_power(pop: Population) -> int:
    """The power of ``dt`` the weights into ``pop`` grow with (0: they do not depend on it)."""
    if pop.neuron == "LIF" and not np.any(pop.dv):
        return 0  # snnTorch's beta = 1 (tau = r = inf), read as an integrator with r dt = 1 whatever dt is
    return _DT_WEIGHTS.get(pop.neuron, (2 if np.any(pop.du < 1) else 1, ""))[0]


def _fits(pops: list[Population], ranges: dict, profile: HardwareProfile, factor: float) -> bool:
    """Whether every population of ``pops`` quantizes, and keeps its decays <= 1, at ``factor`` times the dt."""
    for pop in pops:
        if factor * float(pop.dv.max(initial=0.0)) > 1:
            return False
        if np.any(pop.du < 1) and factor * float(pop.du.max()) > 1:
            return False
        vth = round(pop.vth * _scale(pop.vth, ranges[pop.name], profile, factor ** _dt_power(pop)))
        if not 0 < vth < (1 << profile.threshold_bits):
            return False
    return True


def _dt_range(pops: list[Population], ranges: dict, profile: HardwareProfile) -> tuple[float, float] | None:
    """The factors on dt (between 1e-9 and 1e9) at which every population of ``pops`` quantizes, to 3 digits:
    ``(low, high)``, both inside; ``None`` if there are none (the set is an interval: a larger dt only
    makes the weights larger against the threshold)."""
    grid = 10.0 ** np.arange(-9.0, 9.01, 0.25)
    fit = [i for i, f in enumerate(grid) if _fits(pops, ranges, profile, f)]
    if not fit:
        return None

    def edge(inside: float, outside: float) -> float:
        for _ in range(40):  # bisection in log: inside stays a fitting factor
            mid = math.sqrt(inside * outside)
            inside, outside = (mid, outside) if _fits(pops, ranges, profile, mid) else (inside, mid)
        return inside

    low = edge(grid[fit[0]], grid[fit[0] - 1]) if fit[0] > 0 else grid[0]
    high = edge(grid[fit[-1]], grid[fit[-1] + 1]) if fit[-1] < len(grid) - 1 else grid[-1]
    return _round_to(low, up=True), _round_to(high, up=False)


def _round_to(x: float, up: bool, digits: int = 3) -> float:
    """``x`` to ``digits`` significant digits, rounded up or down (so a bound stays inside its interval)."""
    unit = 10.0 ** (math.floor(math.log10(x)) - digits + 1)
    return (math.ceil(x / unit - 1e-9) if up else math.floor(x / unit + 1e-9)) * unit


def _dt_hint(network: Network, pop: Population, profile: HardwareProfile) -> str:
    """Why ``pop``'s threshold does not fit, in the terms of the time step (appended to the error)."""
    ranges = {p.name: _weight_ranges(network.incoming(p.name), profile) for p in network.populations}
    dt, power = network.dt, _dt_power(pop)
    if power == 0:
        return ""
    large = round(pop.vth * _scale(pop.vth, ranges[pop.name], profile)) < 1
    form = _DT_WEIGHTS.get(pop.neuron, (power, f"dt^{power}"))[1]
    own = _dt_range([pop], ranges, profile)
    every = _dt_range(network.populations, ranges, profile)
    if own is None or every is None:
        return (
            f"; the weights into it are too {'large' if large else 'small'} for its threshold at any time step, "
            f"so dt = {dt:g} s is not the cause"
        )
    factor = (1 / own[1] if large else own[0]) ** power
    held = {}
    for name, value in FRAMEWORK_DT.items():
        if every[0] <= value / dt <= every[1]:
            held.setdefault(value, []).append(name)
    among = "; ".join(f"{'/'.join(names)}: {value:g} s, {value / dt:g}x the dt used" for value, names in held.items())
    return (
        f": at dt = {dt:g} s its input weights ({pop.neuron}: {form}) are {_round_to(factor, up=True):g}x or more "
        f"too {'large' if large else 'small'} for its threshold, as a time step {'too long' if large else 'too short'} "
        f"makes them; every population fits for dt from {every[0] * dt:.3g} to {every[1] * dt:.3g} s"
        + (f" (the convention of {among})" if among else " (no exporter's convention)")
        + ": pass the time step the network was trained with (dt=... or framework=...; --dt / --framework)"
    )


def quantization_report(qnet: IntNetwork) -> list[dict]:
    """Per-population quantization error (for printing or JSON).

    Args:
        qnet: a quantized network (:func:`quantize`).

    Returns:
        one dict a population: ``population`` (name) and the fields of :class:`QuantizationError`.

    Example:
        >>> report = quantization_report(quantize(_example(), HardwareProfile("loihi2", fixed_point=True)))
        >>> report[0]["population"], report[0]["weight_exps"], round(report[0]["weight_rel_rms_error"], 4)
        ('lif', (6,), 0.0027)
    """
    return [{"population": q.name, **asdict(q.error)} for q in qnet.populations if q.error is not None]
