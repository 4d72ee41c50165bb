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
    name = "stbp"

    def __init__(self, surrogate: tuple[str, float] | None = None):
        if surrogate is not None and surrogate[0] not in SURROGATES:
            raise ValueError(f"stbp surrogate must be one of {sorted(SURROGATES)}, got {surrogate[0]!r}")
        if surrogate is not None and not surrogate[1] > 0:
            raise ValueError(f"stbp surrogate width must be > 0, got {surrogate[1]}")
        self.surrogate = surrogate

    def output(self, model: SNN, x: torch.Tensor, image: torch.Tensor | None = None) -> torch.Tensor:
        ctx = model.surrogate(SURROGATES[self.surrogate[0]], self.surrogate[1]) if self.surrogate else nullcontext()
        with ctx:
            return model(x)
