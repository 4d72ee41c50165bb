"""RGA: rate gradient approximation (Bu et al., CVPR 2023, as the HART paper writes it).

    g_rate^l = E( r^l / (W^l r^{l-1}) )  where  W^l sum_t s^{l-1}(t) > 0,  else 0.

The expectation of the rate-over-current ratio, for a neuron with leak ``tau = lambda`` and
threshold ``theta``, is approximated piecewise in the normalised mean input current
``u = kappa * c / theta``: 0.2 on ``(0, 1 - tau]``, ``(1 - 0.2 + 0.2 tau) / (tau + 1)`` on
``[1 - tau, 2]``, 0 elsewhere (the backward of the RGA reference). Local gain
``(kappa / theta) * g(u)``.
"""

from __future__ import annotations

import torch

from neuroattack.attacks.estimators.rate_proxy import LayerStats, RateProxyEstimator
from neuroattack.models.snn import SNN  # noqa: F401 (the examples use it)


def rga_slope(u: torch.Tensor, tau: float) -> torch.Tensor:
    """RGA's piecewise expected slope of rate over normalised mean current ``u``.

    Args:
        u: normalised mean input current ``kappa * c / theta``, any shape (e.g. ``[B, ...]``).
        tau: the neuron's leak ``lambda`` in (0, 1].

    Returns:
        Same shape and dtype as ``u``: 0.2 on ``(0, 1 - tau]``, ``(1 - 0.2 + 0.2 tau) / (tau + 1)``
        on ``(1 - tau, 2]``, 0 elsewhere.

    Example:
        >>> rga_slope(torch.tensor([0.1, 0.8, 3.0]), tau=0.5)
        tensor([0.2000, 0.6000, 0.0000])
    """
    low = 0.2 * ((u > 0) & (u <= 1 - tau)).to(u.dtype)
    high = (1 - 0.2 + 0.2 * tau) / (tau + 1) * ((u > 1 - tau) & (u <= 2)).to(u.dtype)
    return low + high


class RGA(RateProxyEstimator):
    """Rate gradient approximation: the expected slope of rate over mean input current.

    From Bu et al. (CVPR 2023), as the HART paper writes it: a spiking layer's gradient is
    ``E(r^l / (W^l r^{l-1}))``, approximated piecewise in the normalised mean input current
    ``u = kappa * c / theta`` (:func:`rga_slope`); local gain ``(kappa / theta) * g(u)``. Computed
    in the rate domain (see :class:`~neuroattack.attacks.estimators.rate_proxy.RateProxyEstimator`):
    backward cost independent of ``T``.

    Args:
        None. ``RGA()`` takes no constructor arguments (leak, threshold and input gain come from
        the model).

    Example:
        >>> RGA().output(SNN("8FC-3FC", (4,)), torch.rand(8, 2, 4)).shape  # [T, B, K]
        torch.Size([8, 2, 3])
        >>> PGD(victim, grad=RGA())  # doctest: +SKIP
    """

    name = "rga"

    def gain(self, stats: LayerStats) -> torch.Tensor:
        """``(kappa / theta) * rga_slope(kappa * c / theta, lambda)`` from the mean input current ``c``."""
        scale = stats.input_gain / stats.threshold
        return scale * rga_slope(scale * stats.current, stats.leak)
