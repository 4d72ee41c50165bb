"""Plain backpropagation through an ANN (the victim is the ANN twin itself, not an SNN).

For ANN-vs-SNN studies and cross attacks (Sharmin et al., Liang VI-F): the ANN's logits stand in
for the output rates, so every loss and algorithm applies unchanged.
"""

from __future__ import annotations

import torch

from neuroattack.attacks.estimators.base import GradientEstimator


class ANNGradient(GradientEstimator):
    """Plain backpropagation through an ANN victim: the exact gradient of its logits.

    Not an SNN estimator: it is the ``grad="ann"`` of an ANN victim (the ANN twin itself), for
    ANN-vs-SNN studies and cross attacks (Sharmin et al.; Liang et al. VI-F). The logits ``[B, K]``
    enter the losses as one time step ``[1, B, K]``. Image gradients only (``spike_domain`` is
    ``False``).

    Args:
        None. ``ANNGradient()`` takes no constructor arguments.

    Example:
        >>> from neuroattack.models.ann import ANN
        >>> ANNGradient().output(ANN("8FC-3FC", (4,)), torch.rand(2, 4)).shape
        torch.Size([1, 2, 3])
        >>> PGD(ann_victim, grad="ann", eps=8 / 255)  # doctest: +SKIP
    """

    name = "ann"
    spike_domain = False

    def output(self, model, x: torch.Tensor, image: torch.Tensor | None = None) -> torch.Tensor:
        """The ANN's logits on ``image`` (else on ``x``, its ``[B, ...]`` input) as ``[1, B, K]``."""
        return model(image if image is not None else x).unsqueeze(0)
