"""BPTR: backpropagation through rate (Ding et al., NeurIPS 2022; public code putshua/SNN-RAT).

The SNN is differentiated as its rate-coded ANN view ``a^l = f(W a^{l-1})``: a spiking layer passes
the gradient of its mean input current straight to the rate where the neuron fired at all
(``mean_t s > 0``), and blocks it elsewhere. Local gain ``(kappa / theta) * 1[a^l > 0]``.
"""

from __future__ import annotations

import torch

from neuroattack.attacks.estimators.rate_proxy import LayerStats, RateProxyEstimator
from neuroattack.models.snn import SNN  # noqa: F401 (the examples use it)


class BPTR(RateProxyEstimator):
    """Backpropagation through rate: the SNN differentiated as its rate-coded ANN view.

    From Ding et al. (NeurIPS 2022, SNN-RAT): each spiking layer passes the gradient of its mean
    input current straight to its rate where the neuron fired at all (``mean_t s > 0``) and blocks
    it elsewhere: local gain ``(kappa / theta) * 1[a^l > 0]`` with ``kappa`` the neuron's input gain
    and ``theta`` its threshold. Computed in the rate domain (see
    :class:`~neuroattack.attacks.estimators.rate_proxy.RateProxyEstimator`): backward cost
    independent of ``T``.

    Args:
        None. ``BPTR()`` takes no constructor arguments (``kappa`` and ``theta`` come from the model).

    Example:
        >>> BPTR().output(SNN("8FC-3FC", (4,)), torch.rand(8, 2, 4)).shape  # [T, B, K]
        torch.Size([8, 2, 3])
        >>> PGD(victim, grad=BPTR())  # doctest: +SKIP
    """

    name = "bptr"

    def gain(self, stats: LayerStats) -> torch.Tensor:
        """``(kappa / theta) * 1[rate > 0]``: the gradient passes where the neuron fired."""
        scale = stats.input_gain / stats.threshold
        return scale * (stats.rate > 0).to(stats.rate.dtype)
