"""Plain backpropagation through an ANN (the victim is the ANN twin itself, not an SNN).

For ANN-vs-SNN studies and cross attacks (Sharmin et al., Liang VI-F): the ANN's logits stand in
for the output rates, so every loss and algorithm applies unchanged.
"""

from __future__ import annotations

import torch

from neuroattack.attacks.estimators.base import GradientEstimator


class ANNGradient(GradientEstimator):
    name = "ann"
    spike_domain = False

    def output(self, model, x: torch.Tensor, image: torch.Tensor | None = None) -> torch.Tensor:
        return model(image if image is not None else x).unsqueeze(0)
