"""BPTR: backpropagation through rate (Ding et al., NeurIPS 2022; public code putshua/SNN-RAT).

The SNN is differentiated as its rate-coded ANN view ``a^l = f(W a^{l-1})``: a spiking layer passes
the gradient of its mean input current straight to the rate where the neuron fired at all
(``mean_t s > 0``), and blocks it elsewhere. Local gain ``(kappa / theta) * 1[a^l > 0]``.
"""

from __future__ import annotations

import torch

from neuroattack.attacks.estimators.rate_proxy import LayerStats, RateProxyEstimator
from neuroattack.models.snn import SNN


class BPTR(RateProxyEstimator):
    name = "bptr"

    def gain(self, stats: LayerStats, model: SNN) -> torch.Tensor:
        scale = model.neuron.input_gain / model.neuron.threshold
        return scale * (stats.rate > 0).to(stats.rate.dtype)
