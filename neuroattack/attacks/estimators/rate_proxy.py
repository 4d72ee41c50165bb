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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from neuroattack.attacks.estimators.base import GradientEstimator, straight_through
from neuroattack.models.neurons import is_spiking
from neuroattack.models.snn import SNN
from neuroattack.models.surrogates import probe_threshold_inputs


@dataclass
class LayerStats:
    """Forward-pass statistics of one spiking layer, each ``[B, ...]``.

    Args:
        current: mean input current ``c = 1/T sum_t I(t)``, the layer's input shape ``[B, ...]``.
        rate: mean spikes ``a = 1/T sum_t s(t)``, ``[B, ...]`` in [0, 1].
        membrane: ``1/T sum_t f(v_t - theta)`` of the membrane function ``f`` (HART's surrogate),
            or ``None`` when none was given.

    Example:
        >>> out, stats = record(SNN("8FC-3FC", (4,)), torch.rand(8, 2, 4))
        >>> [s.rate.shape for s in stats]
        [torch.Size([2, 8]), torch.Size([2, 3])]
    """

    current: torch.Tensor  # mean input current c over T
    rate: torch.Tensor  # mean spikes a over T
    membrane: torch.Tensor | None  # 1/T sum_t f(v_t - theta), if a membrane function was given


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
            stats.append(LayerStats(current.mean(0), h.mean(0), membrane))
    return h, stats


def rate_proxy_output(
    model: SNN,
    x: torch.Tensor,
    gain: Callable[[LayerStats, SNN], torch.Tensor],
    membrane_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Output spikes of ``model(x)`` carrying the rate-proxy gradient with local gains ``gain``.

    Args:
        model: the SNN.
        x: time-first input ``[T, B, *input_shape]`` (differentiated through ``mean_t x``).
        gain: ``(stats, model) -> G^l``, a spiking layer's local gain ``[B, ...]``.
        membrane_fn: passed to :func:`record` (needed by gains that read ``stats.membrane``).

    Returns:
        Output spikes ``[T, B, K]``, equal to ``model(x)``, whose gradient is the rate proxy's.

    Raises:
        ValueError: if ``x`` is not ``[T, B, *input_shape]`` or contains NaN.

    Example:
        >>> ones = lambda stats, model: torch.ones_like(stats.rate)
        >>> rate_proxy_output(SNN("8FC-3FC", (4,)), torch.rand(8, 2, 4), ones).shape
        torch.Size([8, 2, 3])
    """
    model.check_input(x)
    out, stats = record(model, x, membrane_fn)
    a = x.mean(0)
    layer = 0
    for module in model.layers:
        if is_spiking(module):
            a = gain(stats[layer], model) * a
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
        ...     def gain(self, stats, model):
        ...         return torch.ones_like(stats.rate)  # identity gain: a linear network
        >>> RateOnly().output(SNN("8FC-3FC", (4,)), torch.rand(8, 2, 4)).shape
        torch.Size([8, 2, 3])
        >>> PGD(victim, grad=RateOnly())  # doctest: +SKIP
    """

    membrane_fn: Callable[[torch.Tensor], torch.Tensor] | None = None

    def gain(self, stats: LayerStats, model: SNN) -> torch.Tensor:
        """The local gain ``G^l`` ``[B, ...]`` of one spiking layer from its forward statistics.

        Args:
            stats: the layer's :class:`LayerStats`.
            model: the SNN (its ``neuron`` gives ``kappa``, ``theta``, ``lambda``).

        Returns:
            ``G^l``, broadcastable to ``stats.current``.

        Raises:
            NotImplementedError: in the base class.
        """
        raise NotImplementedError

    def output(self, model: SNN, x: torch.Tensor, image: torch.Tensor | None = None) -> torch.Tensor:
        """:func:`rate_proxy_output` with this estimator's :meth:`gain` (``image`` is not used)."""
        return rate_proxy_output(model, x, self.gain, self.membrane_fn)
