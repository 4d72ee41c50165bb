"""CW-L2 for SNNs: Liang et al. eq. (14), Algorithm 1's image path with an L2 pull back to the image."""

from __future__ import annotations

from neuroattack.attacks.g2s_rsf import G2SRSF


class CWL2(G2SRSF):
    """Liang eq. (14): ``xi_{k+1} = xi_k + delta i_k - c * d/dxi ||xi_k - xi_0||_2^2``.

    Algorithm 1's image path with an L2 regulariser pulling the image back to the original;
    ``c = 0`` is BIM with G2S/RSF. Images only (``[B, C, H, W]`` in [0, 1], Bernoulli-coded models).

    Args:
        model, grad: as for :class:`~neuroattack.attacks.g2s_rsf.G2SRSF`.
        c: weight of the L2 regulariser (>= 0).
        **kwargs: every option of :class:`~neuroattack.attacks.g2s_rsf.G2SRSF` (``steps``,
            ``gamma``, ``eps``, ``sampling``, ``rsf``, ``eta``) and of every attack.

    Raises:
        ValueError: if ``c`` < 0, the model takes event input, or another option is invalid (as
            for :class:`~neuroattack.attacks.g2s_rsf.G2SRSF`).

    Example:
        >>> atk = CWL2(victim, c=0.1, steps=25, seed=0)  # doctest: +SKIP
        >>> images_adv = atk(images, labels)  # [B, 1, 28, 28] in [0, 1]  # doctest: +SKIP
    """

    name = "cwl2"
    image_only = True

    def __init__(self, model, grad="stbp", c: float = 0.1, **kwargs):
        super().__init__(model, grad, **kwargs)
        if c < 0:
            raise ValueError(f"c must be >= 0, got {c}")
        self.c = float(c)

    def settings(self):
        """G2S/RSF's settings plus ``c``.

        Returns:
            :meth:`G2SRSF.settings <neuroattack.attacks.g2s_rsf.G2SRSF.settings>` with ``c``.
        """
        return {**super().settings(), "c": self.c}

    def _image_update(self, xi, delta_i, xi0):  # eq. (14)
        return (xi + self.eta * delta_i - self.c * 2 * (xi - xi0)).clamp(0, 1)
