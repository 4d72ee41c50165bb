"""CBA: conversion-based attack gradient (Sharmin et al.; repository ssharmin/spikingNN-adversarial-attack).

The gradient is that of the ANN twin carrying the SNN's weights (:meth:`ANN.from_snn`, ReLU in
place of each spiking layer): the model-conversion view of an SNN. For image inputs the ANN sees
the image itself, bypassing the Poisson/Bernoulli generator as Sharmin's attack does; otherwise it
sees the time-mean of the input. The loss gradient at the SNN's own output rates is propagated
through the ANN (straight-through), so the forward values stay the SNN's. The time axis is lost:
the estimator gives no temporal information, which is why the HART paper finds it weakest.
"""

from __future__ import annotations

import torch

from neuroattack.attacks.estimators.base import GradientEstimator, straight_through
from neuroattack.models.ann import ANN
from neuroattack.models.snn import SNN


class CBA(GradientEstimator):
    """Conversion-based attack gradient: the gradient of the ANN twin carrying the SNN's weights.

    From Sharmin et al.: the SNN is differentiated as the ANN it converts from
    (:meth:`~neuroattack.models.ann.ANN.from_snn`, ReLU in place of each spiking layer). The ANN
    sees the image itself (bypassing the Bernoulli encoder) or, without one, the time-mean of the
    input; the loss gradient at the SNN's own output rates flows through it (straight-through), so
    forward values stay the SNN's. No temporal information and no spike-domain gradient
    (``spike_domain`` is ``False``: image attacks only).

    Args:
        None. ``CBA()`` takes no constructor arguments (it caches one ANN twin per model).

    Example:
        >>> CBA().output(SNN("8FC-3FC", (4,)), torch.rand(8, 2, 4)).shape  # [T, B, K]
        torch.Size([8, 2, 3])
        >>> PGD(victim, grad=CBA())  # doctest: +SKIP
    """

    name = "cba"
    spike_domain = False

    def __init__(self) -> None:
        self._twins: dict[int, tuple[SNN, ANN]] = {}

    def twin(self, model: SNN) -> ANN:
        """The ANN twin of ``model`` (built once per model, its weights reloaded on every call).

        Args:
            model: the SNN (the twin is cached per model object).

        Returns:
            The :class:`~neuroattack.models.ann.ANN` with ``model``'s current weights, in eval mode.

        Example:
            >>> CBA().twin(SNN("8FC-3FC", (4,)))(torch.rand(2, 4)).shape  # logits [B, K]
            torch.Size([2, 3])
        """
        cached = self._twins.get(id(model))
        if cached is None or cached[0] is not model:
            cached = (model, ANN.from_snn(model).eval())
            self._twins[id(model)] = cached
        else:
            cached[1].load_state_dict(model.state_dict())
        return cached[1]

    def output(self, model: SNN, x: torch.Tensor, image: torch.Tensor | None = None) -> torch.Tensor:
        """SNN spikes forward; backward, the ANN twin's gradient on ``image`` (else on ``x.mean(0)``)."""
        with torch.no_grad():
            out = model(x.detach())
        ann_in = image if image is not None else x.mean(0)
        return straight_through(out, self.twin(model)(ann_in))
