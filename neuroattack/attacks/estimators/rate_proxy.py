"""The rate-domain backward shared by HART, BPTR and RGA.

All three replace the per-step backward through a spiking layer by a gradient on time-aggregated
quantities. With ``a^l = 1/T sum_t s^l(t)`` (layer rate) and ``c^l = 1/T sum_t I^l(t)`` (mean input
current), they take

    dL/dI^l(t) = (1/T) * G^l * dL/da^l        for every t,

with a local gain ``G^l`` that depends only on the forward pass. Because the gradient is the same
at every step, the backward pass runs once through each weight layer on ``[B, ...]`` tensors
instead of ``T`` times (HART's "pre-calculation" property: backward cost O(1) in ``T``).

Implementation: one ``no_grad`` forward of the real model records, per spiking layer, ``c^l``,
``a^l`` and (if asked) ``1/T sum_t f(v_t - theta)`` from the thresholded membrane potentials
(:func:`~neuroattack.models.surrogates.probe_threshold_inputs`). A proxy then maps ``mean_t x``
through the weight layers with ``a^l := G^l * c^l`` in place of each spiking layer; its gradient is
attached to the true output spikes by a straight-through estimator, so forward values are exactly
the model's.

Any NIR graph (:class:`~neuroattack.victims.nir_snn.NIRSNN`) is treated the same way on its
lowered network: each population is a spiking layer whose ``c`` is the time mean of its synaptic
input plus ``du * bias`` and whose neuron parameters are its own, per neuron (input gain ``1 / du``:
the steady-state gain of a current with decay ``du``, 1 without one; threshold ``vth``; leak
``1 - dv``). The proxy runs the projections in the network's order; a recurrent projection (and
any cycle) carries the recorded rate of its source, detached, so the proxy stays a feed-forward map
(:func:`record_graph`, :func:`graph_proxy`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from backends.network import BIAS, INPUT
from backends.reference import apply_projection
from neuroattack.attacks.estimators.base import GradientEstimator, straight_through
from neuroattack.models.neurons import is_spiking
from neuroattack.models.snn import SNN
from neuroattack.models.surrogates import probe_threshold_inputs
from neuroattack.victims.nir_snn import NIRSNN


@dataclass
class LayerStats:
    """Forward-pass statistics of one spiking layer, each ``[B, ...]``.

    Args:
        current: mean input current ``c = 1/T sum_t I(t)``, the layer's input shape ``[B, ...]``.
        rate: mean spikes ``a = 1/T sum_t s(t)``, ``[B, ...]`` in [0, 1].
        membrane: ``1/T sum_t f(v_t - theta)`` of the membrane function ``f`` (HART's surrogate),
            or ``None`` when none was given.
        input_gain: ``kappa = dv/dI``, the gain from input current to membrane potential (a float,
            or a tensor broadcasting to ``current`` for per-neuron parameters).
        threshold: ``theta``, the firing threshold (float or tensor, as ``input_gain``).
        leak: ``lambda``, the membrane's retention per step (1: no leak; float or tensor).

    Example:
        >>> out, stats = record(SNN("8FC-3FC", (4,)), torch.rand(8, 2, 4))
        >>> [s.rate.shape for s in stats]
        [torch.Size([2, 8]), torch.Size([2, 3])]
    """

    current: torch.Tensor  # mean input current c over T
    rate: torch.Tensor  # mean spikes a over T
    membrane: torch.Tensor | None  # 1/T sum_t f(v_t - theta), if a membrane function was given
    input_gain: float | torch.Tensor = 1.0
    threshold: float | torch.Tensor = 1.0
    leak: float | torch.Tensor = 1.0


class _Accumulator:
    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]):
        self.fn = fn
        self.total: torch.Tensor | None = None
        self.count = 0

    def __call__(self, x: torch.Tensor) -> None:
        value = self.fn(x)
        self.total = value if self.total is None else self.total + value
        self.count += 1


def record(
    model: SNN, x: torch.Tensor, membrane_fn: Callable[[torch.Tensor], torch.Tensor] | None = None
) -> tuple[torch.Tensor, list[LayerStats]]:
    """``no_grad`` forward: output spikes ``[T, B, K]`` and per-spiking-layer :class:`LayerStats`.

    Args:
        model: the SNN.
        x: time-first input ``[T, B, *input_shape]``.
        membrane_fn: ``f`` applied to every thresholded ``v - theta`` (``[B, ...]`` per step), whose
            time mean becomes ``LayerStats.membrane``; ``None``: not recorded.

    Returns:
        ``(spikes, stats)``: output spikes ``[T, B, K]`` (exactly ``model(x)``) and one
        :class:`LayerStats` per spiking layer, in order.

    Example:
        >>> out, stats = record(SNN("8FC-3FC", (4,)), torch.rand(8, 2, 4))
        >>> out.shape, len(stats)
        (torch.Size([8, 2, 3]), 2)
    """
    stats = []
    with torch.no_grad():
        h = x.detach()
        for module in model.layers:
            if not is_spiking(module):
                h = model.apply_layer(module, h)
                continue
            current = h
            if membrane_fn is None:
                h = model.run_cell(module, current)
                membrane = None
            else:
                acc = _Accumulator(membrane_fn)
                with probe_threshold_inputs(acc):
                    h = model.run_cell(module, current)
                membrane = acc.total / max(acc.count, 1)
            n = model.neuron
            stats.append(LayerStats(current.mean(0), h.mean(0), membrane, n.input_gain, n.threshold, n.leak))
    return h, stats


def record_graph(
    model: NIRSNN, x: torch.Tensor, membrane_fn: Callable[[torch.Tensor], torch.Tensor] | None = None
) -> tuple[torch.Tensor, dict[str, LayerStats]]:
    """:func:`record` for a NIR graph: output spikes and one :class:`LayerStats` per population.

    Args:
        model: the NIR graph's twin.
        x: time-first input ``[T, B, *input_shape]``.
        membrane_fn: ``f`` applied to every ``v - vth`` (``[B, *shape]`` per step), averaged over
            time into ``LayerStats.membrane``; ``None``: not recorded.

    Returns:
        ``(spikes, stats)``: output spikes ``[T, B, K]`` (exactly ``model(x)``) and
        ``{population name: LayerStats}`` with that population's per-neuron parameters
        (see the module docstring).

    Example:
        >>> import nir, numpy as np
        >>> graph = nir.NIRGraph.from_list(
        ...     nir.Input(np.array([3])), nir.Linear(np.ones((2, 3))),
        ...     nir.IF(r=np.ones(2), v_threshold=np.ones(2)), nir.Output(np.array([2])))
        >>> model = NIRSNN(graph, dt=1.0)
        >>> out, stats = record_graph(model, torch.ones(4, 1, 3))  # T=4, B=1
        >>> out.shape, sorted(stats), stats["if"].rate  # the graph's neuron nodes
        (torch.Size([4, 1, 2]), ['if'], tensor([[1., 1.]], dtype=torch.float64))
    """
    net = model.network
    steps = x.shape[0]
    current: dict[str, torch.Tensor] = {}
    membrane: dict[str, torch.Tensor] = {}

    def observe(name: str, a: torch.Tensor, d: torch.Tensor) -> None:
        current[name] = a if name not in current else current[name] + a
        if membrane_fn is not None:
            m = membrane_fn(d)
            membrane[name] = m if name not in membrane else membrane[name] + m

    with torch.no_grad():
        spikes = model.simulate(x.detach(), observe)
    stats = {}
    for pop in net.populations:
        shape = (1, *pop.shape)
        du = torch.as_tensor(pop.du, dtype=torch.float64).reshape(shape)
        bias = torch.as_tensor(pop.bias, dtype=torch.float64).reshape(shape)
        stats[pop.name] = LayerStats(
            current=current[pop.name] / steps + du * bias,
            rate=spikes[pop.name].mean(0),
            membrane=membrane[pop.name] / steps if membrane_fn is not None else None,
            input_gain=torch.where(du > 0, 1 / du.clamp_min(1e-12), torch.ones_like(du)),
            threshold=model.threshold_of(pop.name),
            leak=1 - torch.as_tensor(pop.dv, dtype=torch.float64).reshape(shape),
        )
    out = spikes[net.output]
    return out.reshape(steps, out.shape[1], -1).float(), stats


def graph_proxy(
    model: NIRSNN,
    a0: torch.Tensor,
    layer: Callable[[str, torch.Tensor], torch.Tensor],
    stats: dict[str, LayerStats],
) -> torch.Tensor:
    """Map ``a0`` ``[B, *input_shape]`` through a NIR graph's projections with ``layer`` per population.

    Args:
        model: the NIR graph's twin (its lowered network and weights).
        a0: the input's stand-in rate (``mean_t x``, or an image for the conversion view), ``[B, ...]``.
        layer: ``(population name, c [B, *shape]) -> a [B, *shape]``, the rate a population's mean
            input ``c`` gives (``G * c`` for the rate proxy, a scaled ReLU for CBA).
        stats: the recorded :class:`LayerStats` (their detached rates feed recurrent projections).

    Returns:
        The output population's proxy rate ``[B, K]`` (float32).

    Example:
        >>> import nir, numpy as np
        >>> graph = nir.NIRGraph.from_list(
        ...     nir.Input(np.array([3])), nir.Linear(np.ones((2, 3))),
        ...     nir.IF(r=np.ones(2), v_threshold=np.ones(2)), nir.Output(np.array([2])))
        >>> model = NIRSNN(graph, dt=1.0)
        >>> _, stats = record_graph(model, torch.ones(4, 1, 3))
        >>> graph_proxy(model, torch.ones(1, 3), lambda name, c: 0.5 * c, stats)  # G = 0.5: 0.5 * 3
        tensor([[1.5000, 1.5000]])
    """
    net = model.network
    batch = a0.shape[0]
    rates = {INPUT: a0.double(), BIAS: torch.ones((batch, 1), dtype=torch.float64)}
    for group in net.components():
        for name in group:
            pop = net.population(name)
            c = torch.as_tensor(pop.du * pop.bias, dtype=torch.float64).reshape(1, *pop.shape)
            for proj in net.incoming(name):
                source = rates.get(proj.source) if not proj.recurrent else None
                if source is None:  # feedback: the forward pass's rate, as a constant
                    source = stats[proj.source].rate.double()
                c = c + apply_projection(proj, model.weights[proj.name], source.reshape(batch, *proj.in_shape))
            rates[name] = layer(name, c)
    return rates[net.output].reshape(batch, -1).float()


def rate_proxy_output(
    model: SNN,
    x: torch.Tensor,
    gain: Callable[[LayerStats], torch.Tensor],
    membrane_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Output spikes of ``model(x)`` carrying the rate-proxy gradient with local gains ``gain``.

    Args:
        model: the SNN, or a NIR graph's :class:`~neuroattack.victims.nir_snn.NIRSNN`.
        x: time-first input ``[T, B, *input_shape]`` (differentiated through ``mean_t x``).
        gain: ``stats -> G^l``, a spiking layer's local gain ``[B, ...]`` from its
            :class:`LayerStats` (neuron parameters included).
        membrane_fn: passed to :func:`record` (needed by gains that read ``stats.membrane``).

    Returns:
        Output spikes ``[T, B, K]``, equal to ``model(x)``, whose gradient is the rate proxy's.

    Raises:
        ValueError: if ``x`` is not ``[T, B, *input_shape]`` or contains NaN.

    Example:
        >>> ones = lambda stats: torch.ones_like(stats.rate)
        >>> rate_proxy_output(SNN("8FC-3FC", (4,)), torch.rand(8, 2, 4), ones).shape
        torch.Size([8, 2, 3])
    """
    model.check_input(x)
    if isinstance(model, NIRSNN):
        out, stats = record_graph(model, x, membrane_fn)
        gains = {name: gain(s) for name, s in stats.items()}
        return straight_through(out, graph_proxy(model, x.mean(0), lambda name, c: gains[name] * c, stats))
    out, stats = record(model, x, membrane_fn)
    a = x.mean(0)
    layer = 0
    for module in model.layers:
        if is_spiking(module):
            a = gain(stats[layer]) * a
            layer += 1
        else:
            a = module(a)
    return straight_through(out, a)


class RateProxyEstimator(GradientEstimator):
    """Base of the rate-domain estimators; subclasses define :meth:`gain`.

    Computes the rate-domain backward that HART (Hao et al.), BPTR (Ding et al.) and RGA (Bu et
    al.) share, in the HART paper's formulation: ``dL/dI^l(t) = (1/T) G^l dL/da^l`` at every step,
    with a local gain ``G^l`` from the forward pass, so one backward pass on ``[B, ...]`` tensors
    replaces ``T`` (see the module docstring). Forward values are exactly the model's.

    Args:
        None. The base class takes no constructor arguments; a subclass sets ``name``, implements
        :meth:`gain` and may set ``membrane_fn``.

    Attributes:
        membrane_fn: ``f(v - theta)`` averaged over time into ``LayerStats.membrane`` (HART: its
            triangle surrogate); ``None``: not recorded.

    Example:
        >>> class RateOnly(RateProxyEstimator):
        ...     name = "rate-only"
        ...     def gain(self, stats):
        ...         return torch.ones_like(stats.rate)  # identity gain: a linear network
        >>> RateOnly().output(SNN("8FC-3FC", (4,)), torch.rand(8, 2, 4)).shape
        torch.Size([8, 2, 3])
        >>> PGD(victim, grad=RateOnly())  # doctest: +SKIP
    """

    membrane_fn: Callable[[torch.Tensor], torch.Tensor] | None = None

    def gain(self, stats: LayerStats) -> torch.Tensor:
        """The local gain ``G^l`` ``[B, ...]`` of one spiking layer from its forward statistics.

        Args:
            stats: the layer's :class:`LayerStats` (its ``input_gain``, ``threshold`` and ``leak``
                are ``kappa``, ``theta``, ``lambda``).

        Returns:
            ``G^l``, broadcastable to ``stats.current``.

        Raises:
            NotImplementedError: in the base class.
        """
        raise NotImplementedError

    def output(self, model: SNN, x: torch.Tensor, image: torch.Tensor | None = None) -> torch.Tensor:
        """:func:`rate_proxy_output` with this estimator's :meth:`gain` (``image`` is not used)."""
        return rate_proxy_output(model, x, self.gain, self.membrane_fn)
