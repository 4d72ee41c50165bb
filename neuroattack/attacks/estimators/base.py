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

    The base class computes nothing itself: each subclass is one estimator of the literature
    (:class:`~neuroattack.attacks.estimators.STBP` of Liang et al.,
    :class:`~neuroattack.attacks.estimators.BPTR` of Ding et al.,
    :class:`~neuroattack.attacks.estimators.RGA` of Bu et al.,
    :class:`~neuroattack.attacks.estimators.HART` of Hao et al.,
    :class:`~neuroattack.attacks.estimators.CBA` of Sharmin et al.; and
    :class:`~neuroattack.attacks.estimators.ANNGradient` for ANN victims). A new estimator
    subclasses it, sets ``name`` (and ``spike_domain = False`` if it differentiates images only)
    and implements :meth:`output`.

    Args:
        None. The base class takes no constructor arguments (subclasses may).

    Attributes:
        name: the estimator's name (``grad=`` of every attack, key of ``ESTIMATORS``).
        spike_domain: whether it gives a gradient for every element of a spike input (G2S/RSF
            needs this).

    Example:
        >>> class Exact(GradientEstimator):
        ...     name = "exact"
        ...     def output(self, model, x, image=None):
        ...         return model(x)  # plain autograd with the model's own surrogate
        >>> Exact()
        Exact()
        >>> PGD(victim, grad=Exact())  # doctest: +SKIP
    """

    name = "base"
    #: gives a gradient for every element of a spike input (spike-domain attacks need this)
    spike_domain = True

    def output(self, model: SNN, x: torch.Tensor, image: torch.Tensor | None = None) -> torch.Tensor:
        """Output spikes with the model's values and this estimator's gradient.

        Args:
            model: the spiking model (an :class:`~neuroattack.models.snn.SNN` or compatible).
            x: time-first model input ``[T, B, ...]`` (float; the tensor differentiated for spike
                inputs).
            image: the images ``[B, C, H, W]`` in [0, 1] that ``x`` was encoded from (the tensor
                differentiated for image attacks), or ``None``.

        Returns:
            Output spikes ``[T, B, K]`` float32, equal to ``model(x)``.

        Raises:
            NotImplementedError: in the base class.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def straight_through(values: torch.Tensor, proxy: torch.Tensor) -> torch.Tensor:
    """``values`` ``[T, B, K]`` in the forward pass, the gradient of ``proxy`` ``[B, K]`` backward.

    Used with a loss on the rate ``values.mean(0)``: ``d rate / d proxy = 1``.

    Args:
        values: the true output spikes ``[T, B, K]`` (detached).
        proxy: a differentiable stand-in for the output rate, ``[B, K]``.

    Returns:
        ``[T, B, K]``: equal to ``values``; every step's gradient flows into ``proxy``.

    Example:
        >>> spikes = torch.ones(2, 1, 3)
        >>> proxy = torch.zeros(1, 3, requires_grad=True)
        >>> out = straight_through(spikes, proxy)
        >>> torch.equal(out, spikes)
        True
        >>> out.mean(0).sum().backward()
        >>> proxy.grad
        tensor([[1., 1., 1.]])
    """
    return values.detach() + (proxy - proxy.detach()).unsqueeze(0)
