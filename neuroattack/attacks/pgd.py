"""PGD (Madry et al.) in the L-inf ball of radius ``eps``, from a random start.

``steps`` iterations of ``x <- Proj_{eps-ball, [0,1]}(x + alpha * sign(grad))`` from a uniform
random point of the ball (drawn from the attack's generator). HART's defaults: eps = 8/255,
alpha = 2/255, steps = 7. :class:`~neuroattack.attacks.bim.BIM` is the same without the random start.
"""

from __future__ import annotations

import torch

from neuroattack.attacks.base import Attack, check_eps
from neuroattack.draws import uniform


class PGD(Attack):
    """Projected gradient descent on images.

    Args:
        model: a :class:`~neuroattack.victims.Victim` with image input, or a spiking model.
        grad: gradient estimator by name or object (HART's surrogate width:
            ``grad="hart", grad_options={"gamma": 0.5}`` or ``grad=HART(gamma=0.5)``).
        eps: L-inf radius in pixel units, in (0, 1].
        alpha: step size in pixel units, in (0, 1].
        steps: iterations (>= 1).
        **kwargs: the options every attack takes (:class:`~neuroattack.attacks.base.Attack`).

    Input images ``[B, C, H, W]`` in [0, 1]; output the same shape within the ``eps`` ball.

    Raises:
        ValueError: if ``eps`` or ``alpha`` is not in (0, 1], ``steps`` < 1, the model takes event
            input, or an option every attack takes is invalid.

    Example:
        >>> atk = PGD(victim, grad="hart", eps=8 / 255, alpha=2 / 255, steps=7, eot=2)  # doctest: +SKIP
        >>> images_adv = atk(images, labels)  # doctest: +SKIP
        >>> atk.last_result.summary().asr  # doctest: +SKIP
    """

    name = "pgd"
    image_only = True
    #: start from a uniform random point of the eps-ball (BIM: from the input)
    random_start = True

    def __init__(self, model, grad="stbp", eps: float = 8 / 255, alpha: float = 2 / 255, steps: int = 7, **kwargs):
        super().__init__(model, grad, **kwargs)
        self.eps = check_eps("eps", eps)
        self.alpha = check_eps("alpha", alpha)
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        self.steps = steps

    def settings(self):
        """The base settings plus ``eps``, ``alpha`` and ``steps``.

        Returns:
            :meth:`Attack.settings <neuroattack.attacks.base.Attack.settings>` with ``eps``,
            ``alpha`` and ``steps``.
        """
        return {**super().settings(), "eps": self.eps, "alpha": self.alpha, "steps": self.steps}

    def _craft(self, x, labels, targets):
        goal = targets if self.targeted else labels
        x = x.float()
        if self.random_start:
            noise = uniform(x, self.generator) * 2 - 1
            x_adv = (x + self.eps * noise).clamp(0, 1)
        else:
            x_adv = x.clone()
        for _ in range(self.steps):
            g = self.image_gradient(x_adv, goal)
            x_adv = x_adv + self.alpha * g.sign()
            x_adv = torch.min(torch.max(x_adv, x - self.eps), x + self.eps).clamp(0, 1)
        return x_adv.detach(), {"iterations": torch.full((len(x),), self.steps, dtype=torch.long)}
