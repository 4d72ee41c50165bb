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
    """An estimator by name (``stbp``, ``bptr``, ``rga``, ``hart``, ``cba``; ``ann`` for ANN victims)."""
    if isinstance(name, GradientEstimator):
        return name
    if name not in ESTIMATORS:
        raise ValueError(f"gradient estimator must be one of {sorted(ESTIMATORS)}, got {name!r}")
    return ESTIMATORS[name](**kwargs)


__all__ = ["ANNGradient", "BPTR", "CBA", "ESTIMATORS", "GradientEstimator", "HART", "RGA", "STBP", "make_estimator"]
