"""FGSM (Goodfellow et al.): one L-inf step of size ``eps`` along the sign of the input gradient.

For Bernoulli-coded models the image gradient flows through the encoder (temporal aggregation,
Liang IV-A) and is averaged over ``eot`` encodings. Images stay in [0, 1].
"""

from __future__ import annotations

import torch

from neuroattack.attacks.base import Attack, check_eps


class FGSM(Attack):
    """Fast gradient sign method on images.

    Args:
        model: a :class:`~neuroattack.victims.Victim` with image input (``bernoulli`` or
            ``direct`` coding), or a spiking model (read as Bernoulli-coded, ``T = 8``).
        grad: gradient estimator (``stbp``, ``bptr``, ``rga``, ``hart``, ``cba``; ``ann`` for an
            ANN victim), by name or as an object (e.g. ``HART(gamma=0.5)``).
        eps: L-inf radius in pixel units, in (0, 1] (HART: 8/255).
        **kwargs: the options every attack takes (:class:`~neuroattack.attacks.base.Attack`).

    Input images ``[B, C, H, W]`` in [0, 1]; output the same shape, ``|x' - x| <= eps``.

    Raises:
        ValueError: if ``eps`` is not in (0, 1], the model takes event input, or an option every
            attack takes is invalid.

    Example:
        >>> atk = FGSM(victim, grad="hart", eps=8 / 255, seed=0)  # doctest: +SKIP
        >>> images_adv = atk(images, labels)  # doctest: +SKIP
    """

    name = "fgsm"
    image_only = True

    def __init__(self, model, grad="stbp", eps: float = 8 / 255, **kwargs):
        super().__init__(model, grad, **kwargs)
        self.eps = check_eps("eps", eps)

    def settings(self):
        """The base settings plus ``eps``.

        Returns:
            :meth:`Attack.settings <neuroattack.attacks.base.Attack.settings>` with ``eps``.
        """
        return {**super().settings(), "eps": self.eps}

    def _craft(self, x, labels, targets):
        goal = targets if self.targeted else labels
        g = self.image_gradient(x, goal)
        x_adv = (x + self.eps * g.sign()).clamp(0, 1)
        return x_adv.detach(), {"iterations": torch.ones(len(x), dtype=torch.long)}
