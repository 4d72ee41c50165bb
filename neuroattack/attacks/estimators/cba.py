"""CBA: conversion-based attack gradient (Sharmin et al.; repository ssharmin/spikingNN-adversarial-attack).

The gradient is that of the ANN twin carrying the SNN's weights (:func:`conversion_forward`, the
map of :meth:`ANN.from_snn`: ReLU in place of each spiking layer): the model-conversion view of an
SNN. For image inputs the ANN sees the image itself, bypassing the Poisson/Bernoulli generator as
Sharmin's attack does; otherwise it sees the time-mean of the input. The loss gradient at the
SNN's own output rates is propagated through the ANN (straight-through), so the forward values
stay the SNN's. The time axis is lost: the estimator gives no temporal information, which is why
the HART paper finds it weakest.
"""

from __future__ import annotations

import torch
from torch import nn

from neuroattack.attacks.estimators.base import GradientEstimator, straight_through
from neuroattack.attacks.estimators.rate_proxy import graph_proxy, record_graph
from neuroattack.models.ann import ANN  # noqa: F401 (the example compares with it)
from neuroattack.models.neurons import is_spiking
from neuroattack.models.snn import SNN
from neuroattack.victims.nir_snn import NIRSNN


def conversion_forward(model: SNN, a: torch.Tensor) -> torch.Tensor:
    """The ANN view of a layer-wise SNN: its own layers, ReLU of ``kappa / theta`` times each
    pre-activation in place of every spiking layer but the last (which passes its pre-activation).

    The same map as :meth:`ANN.from_snn <neuroattack.models.ann.ANN.from_snn>` (``act_gain =
    input_gain / threshold``), computed on the model's own modules, so it needs no spec (a
    :class:`~neuroattack.victims.norse_snn.NorseSNN` has none) and no weight copy.

    Args:
        model: a layer-wise SNN (``layers``, ``neuron``).
        a: the ANN input ``[B, *input_shape]`` (an image, or the time mean of a spike input).

    Returns:
        Logits ``[B, K]``.

    Example:
        >>> snn = SNN("8FC-3FC", (4,))
        >>> x = torch.rand(2, 4)
        >>> torch.allclose(conversion_forward(snn, x), ANN.from_snn(snn)(x))
        True
    """
    gain = model.neuron.input_gain / model.neuron.threshold
    cells = [i for i, m in enumerate(model.layers) if is_spiking(m)]
    for i, module in enumerate(model.layers):
        if is_spiking(module):
            a = a if i == cells[-1] else torch.relu(a)
        elif isinstance(module, (nn.Conv2d, nn.Linear)) and gain != 1.0:
            a = module(a) * gain
        else:
            a = module(a)
    return a


class CBA(GradientEstimator):
    """Conversion-based attack gradient: the gradient of the ANN twin carrying the SNN's weights.

    From Sharmin et al.: the SNN is differentiated as the ANN it converts from
    (:func:`conversion_forward`, ReLU in place of each spiking layer). The ANN
    sees the image itself (bypassing the Bernoulli encoder) or, without one, the time-mean of the
    input; the loss gradient at the SNN's own output rates flows through it (straight-through), so
    forward values stay the SNN's. No temporal information and no spike-domain gradient
    (``spike_domain`` is ``False``: image attacks only). On a NIR graph
    (:class:`~neuroattack.victims.nir_snn.NIRSNN`) the ANN is the lowered network's projections with
    ``relu(kappa c / theta)`` per population (the output's ``kappa c / theta`` are the logits), each
    with its own parameters
    (:func:`~neuroattack.attacks.estimators.rate_proxy.graph_proxy`; feedback projections carry
    the forward pass's rates).

    Args:
        None. ``CBA()`` takes no constructor arguments.

    Example:
        >>> CBA().output(SNN("8FC-3FC", (4,)), torch.rand(8, 2, 4)).shape  # [T, B, K]
        torch.Size([8, 2, 3])
        >>> PGD(victim, grad=CBA())  # doctest: +SKIP
    """

    name = "cba"
    spike_domain = False

    def output(self, model: SNN | NIRSNN, x: torch.Tensor, image: torch.Tensor | None = None) -> torch.Tensor:
        """SNN spikes forward; backward, the ANN twin's gradient on ``image`` (else on ``x.mean(0)``)."""
        ann_in = image if image is not None else x.mean(0)
        if isinstance(model, NIRSNN):
            out, stats = record_graph(model, x)

            def relu(name: str, c: torch.Tensor) -> torch.Tensor:  # the output passes its logits
                a = stats[name].input_gain / stats[name].threshold * c
                return a if name == model.network.output else torch.relu(a)

            return straight_through(out, graph_proxy(model, ann_in, relu, stats))
        with torch.no_grad():
            out = model(x.detach())
        return straight_through(out, conversion_forward(model, ann_in))
