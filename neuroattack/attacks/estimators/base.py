"""The estimator interface: forward spikes of the real model, estimator-specific backward."""

from __future__ import annotations

import torch

from neuroattack.models.snn import SNN


class GradientEstimator:
    """How ``dLoss/dInput`` is obtained through an SNN.

    ``output(model, x, image)`` returns output spikes ``[T, B, K]`` whose *values* are exactly
    ``model(x)`` and whose *gradient* with respect to ``x`` (or ``image``) is the estimator's.
    ``x`` is the time-first input ``[T, B, ...]``; ``image`` the ``[B, C, H, W]`` it was encoded
    from, if any.
    """

    name = "base"
    #: gives a gradient for every element of a spike input (spike-domain attacks need this)
    spike_domain = True

    def output(self, model: SNN, x: torch.Tensor, image: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def straight_through(values: torch.Tensor, proxy: torch.Tensor) -> torch.Tensor:
    """``values`` ``[T, B, K]`` in the forward pass, the gradient of ``proxy`` ``[B, K]`` backward.

    Used with a loss on the rate ``values.mean(0)``: ``d rate / d proxy = 1``.
    """
    return values.detach() + (proxy - proxy.detach()).unsqueeze(0)
