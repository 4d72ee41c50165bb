"""PGD (Madry et al.) and BIM (Kurakin et al.) in the L-inf ball of radius ``eps``.

``steps`` iterations of ``x <- Proj_{eps-ball, [0,1]}(x + alpha * sign(grad))``; PGD starts from a
uniform random point of the ball (drawn from the attack's generator), BIM from the input. HART's
defaults: eps = 8/255, alpha = 2/255, steps = 7.
"""

from __future__ import annotations

import torch

from neuroattack.attacks.base import Attack
from neuroattack.attacks.fgsm import check_eps


class PGD(Attack):
    name = "pgd"
    image_only = True
    random_start = True

    def __init__(
        self,
        model,
        grad="stbp",
        eps: float = 8 / 255,
        alpha: float = 2 / 255,
        steps: int = 7,
        gamma: float | None = None,
        **kwargs,
    ):
        if gamma is not None:
            kwargs.setdefault("grad_options", {})["gamma"] = gamma
        super().__init__(model, grad, **kwargs)
        self.eps = check_eps("eps", eps)
        self.alpha = check_eps("alpha", alpha)
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        self.steps = steps

    def settings(self):
        return {**super().settings(), "eps": self.eps, "alpha": self.alpha, "steps": self.steps}

    def _craft(self, x, labels, targets):
        goal = targets if self.targeted else labels
        x = x.float()
        if self.random_start:
            noise = torch.rand(x.shape, generator=self.generator) * 2 - 1
            x_adv = (x + self.eps * noise).clamp(0, 1)
        else:
            x_adv = x.clone()
        for _ in range(self.steps):
            g = self.image_gradient(x_adv, goal)
            x_adv = x_adv + self.alpha * g.sign()
            x_adv = torch.min(torch.max(x_adv, x - self.eps), x + self.eps).clamp(0, 1)
        return x_adv.detach(), {"iterations": torch.full((len(x),), self.steps, dtype=torch.long)}


class BIM(PGD):
    name = "bim"
    random_start = False
