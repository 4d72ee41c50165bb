"""BIM (Kurakin et al.): iterative FGSM in the L-inf ball, from the input itself."""

from __future__ import annotations

from neuroattack.attacks.pgd import PGD


class BIM(PGD):
    """The basic iterative method: :class:`~neuroattack.attacks.pgd.PGD` without the random start.

    Args:
        model, grad, eps, alpha, steps, **kwargs: as for :class:`~neuroattack.attacks.pgd.PGD`.

    Input images ``[B, C, H, W]`` in [0, 1]; output the same shape within the ``eps`` ball.

    Raises:
        ValueError: as :class:`~neuroattack.attacks.pgd.PGD`.

    Example:
        >>> atk = BIM(victim, grad="stbp", eps=8 / 255, alpha=2 / 255, steps=7)  # doctest: +SKIP
        >>> images_adv = atk(images, labels)  # doctest: +SKIP
    """

    name = "bim"
    random_start = False
