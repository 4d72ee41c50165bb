"""STBP: spatio-temporal backpropagation, i.e. BPTT through the LIF dynamics (Liang eq. 8-9).

The input gradient is the exact gradient of the unrolled network with the neuron's surrogate
derivative in place of ``do/du``: by default the model's own surrogate (the one it was trained
with, e.g. Liang's rectangular window of eq. 9); ``surrogate=("triangle", 1.0)`` gives the STBP of
the HART reference code (``(1/g^2) max(0, g - |u - theta|)``, ``g = 1``). Cost grows with ``T``:
every step is back-propagated through every layer.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch

from neuroattack.attacks.estimators.base import GradientEstimator
from neuroattack.models.neurons import SURROGATES
from neuroattack.models.snn import SNN


class STBP(GradientEstimator):
    """Spatio-temporal backpropagation: the exact BPTT gradient through the LIF dynamics.

    The gradient of Liang et al. (eq. 8-9): autograd through every time step and layer of the
    unrolled network, with a surrogate derivative in place of the spike's ``do/du``: the model's
    own surrogate by default, or the one given here. Gives a gradient for every input spike, so it
    serves G2S/RSF; its backward cost grows with ``T``.

    Args:
        surrogate: ``(name, width)`` of the surrogate used while differentiating: ``name`` one of
            ``"rect"`` (Liang eq. 9, width ``a``), ``"triangle"`` (unit area, width ``w``; ``w = 1``
            is the HART reference code's STBP), ``"superspike"`` (sharpness); ``width`` > 0.
            ``None`` (default): the model's own surrogate, unchanged.

    Raises:
        ValueError: if the surrogate name is unknown or its width is not > 0.

    Example:
        >>> est = STBP(surrogate=("triangle", 1.0))
        >>> est.output(SNN("8FC-3FC", (4,)), torch.rand(8, 2, 4)).shape  # [T, B, K]
        torch.Size([8, 2, 3])
        >>> PGD(victim, grad=STBP(surrogate=("triangle", 1.0)))  # doctest: +SKIP
        >>> G2SRSF(victim, grad="stbp", steps=25)  # doctest: +SKIP
    """

    name = "stbp"

    def __init__(self, surrogate: tuple[str, float] | None = None):
        if surrogate is not None and surrogate[0] not in SURROGATES:
            raise ValueError(f"stbp surrogate must be one of {sorted(SURROGATES)}, got {surrogate[0]!r}")
        if surrogate is not None and not surrogate[1] > 0:
            raise ValueError(f"stbp surrogate width must be > 0, got {surrogate[1]}")
        self.surrogate = surrogate

    def output(self, model: SNN, x: torch.Tensor, image: torch.Tensor | None = None) -> torch.Tensor:
        """``model(x)`` differentiated by autograd (with ``surrogate`` swapped in, if given)."""
        ctx = model.surrogate(SURROGATES[self.surrogate[0]], self.surrogate[1]) if self.surrogate else nullcontext()
        with ctx:
            return model(x)
