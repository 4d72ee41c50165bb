"""Gradient estimators: how ``dLoss/dInput`` is obtained through an SNN (one module each)."""

from __future__ import annotations

from neuroattack.attacks.estimators.ann import ANNGradient
from neuroattack.attacks.estimators.base import GradientEstimator
from neuroattack.attacks.estimators.bptr import BPTR
from neuroattack.attacks.estimators.cba import CBA
from neuroattack.attacks.estimators.hart import HART
from neuroattack.attacks.estimators.rga import RGA
from neuroattack.attacks.estimators.stbp import STBP

ESTIMATORS = {"stbp": STBP, "bptr": BPTR, "rga": RGA, "hart": HART, "cba": CBA, "ann": ANNGradient}


def make_estimator(name: str | GradientEstimator, **kwargs) -> GradientEstimator:
    """An estimator by name (``stbp``, ``bptr``, ``rga``, ``hart``, ``cba``; ``ann`` for ANN victims).

    Args:
        name: a key of :data:`ESTIMATORS`, or an estimator object (returned as it is).
        **kwargs: constructor arguments of the named estimator (``gamma`` for ``hart``,
            ``surrogate`` for ``stbp``); ignored when ``name`` is an object.

    Returns:
        The :class:`GradientEstimator`.

    Raises:
        ValueError: if ``name`` is not a known estimator, or its constructor rejects ``kwargs``'s values.

    Example:
        >>> make_estimator("hart", gamma=0.5)
        HART(gamma=0.5)
        >>> make_estimator("stbp")
        STBP()
        >>> est = HART(gamma=2.0)
        >>> make_estimator(est) is est
        True
    """
    if isinstance(name, GradientEstimator):
        return name
    if name not in ESTIMATORS:
        raise ValueError(f"gradient estimator must be one of {sorted(ESTIMATORS)}, got {name!r}")
    return ESTIMATORS[name](**kwargs)


__all__ = ["ANNGradient", "BPTR", "CBA", "ESTIMATORS", "GradientEstimator", "HART", "RGA", "STBP", "make_estimator"]
