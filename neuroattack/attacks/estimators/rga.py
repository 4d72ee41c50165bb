"""RGA: rate gradient approximation (Bu et al., "Rate Gradient Approximation Attack Threats Deep
Spiking Neural Networks", CVPR 2023), as the HART paper writes it (its baseline) and as the HART
authors' public code computes it.

    g_rate^l = E( r^l / (W^l r^{l-1}) )  where  W^l sum_t s^{l-1}(t) > 0,  else 0.

The expected rate-over-current slope of a neuron with leak ``tau = lambda`` and threshold 1 is
approximated piecewise in its mean input current ``x``. The source of the pieces is the HART
authors' implementation of this baseline (repository hzc1208/HART_Attack, ``models/layers.py``,
``RateBp.backward``, selected by ``--attack_mode bptr``, which their README names "RGA gradient"):

    grad = 1[1 - tau <= x <= 1 + ext] (des - gamma + gamma tau) / (tau + ext)
         + 1[0 <= x <= 1 - tau] gamma,        gamma = 0.2, ext = 1, des = 1,

with ``x`` the time mean of the input current. Both pieces are closed intervals there, so at
``x = 1 - tau`` they add, and a neuron with no input (``x = 0``) still passes ``gamma``. Here a
threshold ``theta`` and input gain ``kappa`` normalise the current, ``u = kappa * c / theta``, and
the local gain is ``(kappa / theta) * g(u)``.
"""

from __future__ import annotations

import torch

from neuroattack.attacks.estimators.rate_proxy import LayerStats, RateProxyEstimator
from neuroattack.models.snn import SNN  # noqa: F401 (the examples use it)


def rga_slope(u: torch.Tensor, tau) -> torch.Tensor:
    """RGA's piecewise expected slope of rate over normalised mean current ``u`` (see the module
    docstring for its source: the HART authors' ``RateBp.backward``, constants and closed intervals
    as there).

    Args:
        u: normalised mean input current ``kappa * c / theta``, any shape (e.g. ``[B, ...]``).
        tau: the neuron's leak ``lambda`` in (0, 1] (a float, or a tensor broadcasting to ``u``).

    Returns:
        Same shape and dtype as ``u``: ``0.2`` on ``[0, 1 - tau]`` plus ``(0.8 + 0.2 tau) / (tau + 1)``
        on ``[1 - tau, 2]`` (both at ``1 - tau``), 0 elsewhere.

    Example:
        >>> rga_slope(torch.tensor([0.0, 0.1, 0.8, 3.0]), tau=0.5)
        tensor([0.2000, 0.2000, 0.6000, 0.0000])
    """
    gamma, ext, des = 0.2, 1.0, 1.0
    low = gamma * ((u >= 0) & (u <= 1 - tau)).to(u.dtype)
    high = (des - gamma + gamma * tau) / (tau + ext) * ((u >= 1 - tau) & (u <= 1 + ext)).to(u.dtype)
    return low + high


class RGA(RateProxyEstimator):
    """Rate gradient approximation: the expected slope of rate over mean input current.

    From Bu et al. (CVPR 2023), as the HART paper writes it and its authors' code computes it: a
    spiking layer's gradient is ``E(r^l / (W^l r^{l-1}))``, approximated piecewise in the
    normalised mean input current ``u = kappa * c / theta`` (:func:`rga_slope`); local gain
    ``(kappa / theta) * g(u)``. Computed
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
