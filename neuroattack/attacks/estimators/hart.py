"""HART (Hao et al., "Threaten SNNs through combining rate and temporal information").

Rate attribute: per-step gradients through a spiking layer are merged,

    [dL/dm^l] = 1/T sum_t dL/ds^l(t) * ds^l(t)/dm^l(t),

and used for every step (``dL/ds^{l-1}(t) = [dL/dm^l] dm^l(t)/ds^{l-1}(t)``); the membrane
recurrence is cut in backward (``mem.detach() * tau``), so ``ds/dm`` is local in time.
Temporal attribute: ``ds/dm`` is a triangle surrogate of width ``gamma``,
``(1/gamma^2) max(0, gamma - |m - theta|)``; small ``gamma`` keeps more temporal information.
Pre-calculation: with merged gradients ``dL/ds^l(t)`` is the same at every step, so
``[dL/dm^l] = dL/da^l * (1/T^2) sum_t ds/dm`` needs only ``sum_t ds/dm``, computed during the
forward pass; backward then costs O(1) in ``T`` (see :mod:`.rate_proxy`).

``gamma``: the paper grid-searches it (0.10 to 2.45, step 0.05) on the evaluation data; here it is
a parameter, to be tuned on held-out data (:func:`~neuroattack.attacks.tuning.tune_hart_gamma`)
rather than on the test set.
The local gain is ``kappa * 1/T sum_t ds/dm`` with ``kappa`` the neuron's input gain
(``dm/dI``; 1 - lambda for Norse's LIF parametrisation).
"""

from __future__ import annotations

from functools import partial

import torch

from neuroattack.attacks.estimators.rate_proxy import LayerStats, RateProxyEstimator
from neuroattack.models.snn import SNN  # noqa: F401 (the examples use it)
from neuroattack.models.surrogates import triangle_derivative


class HART(RateProxyEstimator):
    """HART's gradient: rate-merged per-step gradients with a triangle surrogate of width ``gamma``.

    From Hao et al. ("Threaten SNNs through combining rate and temporal information"): a spiking
    layer's per-step gradients are merged over time (rate attribute) and its ``ds/dm`` is the
    triangle ``(1/gamma^2) max(0, gamma - |m - theta|)`` (temporal attribute); local gain
    ``kappa * 1/T sum_t ds/dm``, pre-calculated in the forward pass, so the backward cost is
    independent of ``T`` (see :class:`~neuroattack.attacks.estimators.rate_proxy.RateProxyEstimator`).

    Args:
        gamma: width of the triangle surrogate, in membrane-potential units, in (0, 10] (default
            1.0); small values keep more temporal information. Tune it on held-out data
            (:func:`~neuroattack.attacks.tuning.tune_hart_gamma`).

    Raises:
        ValueError: if ``gamma`` is not in (0, 10].

    Example:
        >>> HART(gamma=0.5)
        HART(gamma=0.5)
        >>> HART(gamma=0.5).output(SNN("8FC-3FC", (4,)), torch.rand(8, 2, 4)).shape  # [T, B, K]
        torch.Size([8, 2, 3])
        >>> PGD(victim, grad=HART(gamma=0.5))  # doctest: +SKIP
    """

    name = "hart"

    def __init__(self, gamma: float = 1.0):
        if not 0 < gamma <= 10:
            raise ValueError(f"hart gamma must be in (0, 10], got {gamma}")
        self.gamma = float(gamma)
        self.membrane_fn = partial(triangle_derivative, width=self.gamma)

    def gain(self, stats: LayerStats) -> torch.Tensor:
        """``kappa * 1/T sum_t ds/dm``: the input gain times the mean triangle surrogate."""
        return stats.input_gain * stats.membrane

    def __repr__(self) -> str:
        return f"HART(gamma={self.gamma})"
