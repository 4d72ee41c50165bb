"""RGA: rate gradient approximation (Bu et al., CVPR 2023, as the HART paper writes it).

    g_rate^l = E( r^l / (W^l r^{l-1}) )  where  W^l sum_t s^{l-1}(t) > 0,  else 0.

The expectation of the rate-over-current ratio, for a neuron with leak ``tau = lambda`` and
threshold ``theta``, is approximated piecewise in the normalised mean input current
``u = kappa * c / theta``: 0.2 on ``[0, 1 - tau]``, ``(1 - 0.2 + 0.2 tau) / (tau + 1)`` on
``[1 - tau, 2]``, 0 elsewhere (the backward of the RGA reference). Local gain
``(kappa / theta) * g(u)``.
"""

from __future__ import annotations

import torch

from neuroattack.attacks.estimators.rate_proxy import LayerStats, RateProxyEstimator
from neuroattack.models.snn import SNN


def rga_slope(u: torch.Tensor, tau: float) -> torch.Tensor:
    """RGA's piecewise expected slope of rate over normalised mean current ``u``."""
    low = 0.2 * ((u > 0) & (u <= 1 - tau)).to(u.dtype)
    high = (1 - 0.2 + 0.2 * tau) / (tau + 1) * ((u > 1 - tau) & (u <= 2)).to(u.dtype)
    return low + high


class RGA(RateProxyEstimator):
    name = "rga"

    def gain(self, stats: LayerStats, model: SNN) -> torch.Tensor:
        scale = model.neuron.input_gain / model.neuron.threshold
        return scale * rga_slope(scale * stats.current, model.neuron.leak)
