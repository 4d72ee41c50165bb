"""FGSM (Goodfellow et al.): one L-inf step of size ``eps`` along the sign of the input gradient.

For Bernoulli-coded models the image gradient flows through the encoder (temporal aggregation,
Liang IV-A) and is averaged over ``eot`` encodings. Images stay in [0, 1].
"""

from __future__ import annotations

import torch

from neuroattack.attacks.base import Attack


def check_eps(name: str, value: float) -> float:
    if not 0 < value <= 1:
        raise ValueError(f"{name} must be in (0, 1] (pixel units), got {value}")
    return float(value)


class FGSM(Attack):
    name = "fgsm"
    image_only = True

    def __init__(self, model, grad="stbp", eps: float = 8 / 255, gamma: float | None = None, **kwargs):
        if gamma is not None:
            kwargs.setdefault("grad_options", {})["gamma"] = gamma
        super().__init__(model, grad, **kwargs)
        self.eps = check_eps("eps", eps)

    def settings(self):
        return {**super().settings(), "eps": self.eps}

    def _craft(self, x, labels, targets):
        goal = targets if self.targeted else labels
        g = self.image_gradient(x, goal)
        x_adv = (x + self.eps * g.sign()).clamp(0, 1)
        return x_adv.detach(), {"iterations": torch.ones(len(x), dtype=torch.long)}
