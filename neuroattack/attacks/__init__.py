"""Attacks: gradient estimators (stbp, bptr, rga, hart, cba) x algorithms (fgsm, pgd, bim, cwl2,
spike-domain g2s-rsf), torchattacks-style."""

from neuroattack.attacks.base import Attack, expand_targets
from neuroattack.attacks.estimators import ESTIMATORS, make_estimator
from neuroattack.attacks.fgsm import FGSM
from neuroattack.attacks.metrics import AttackResult
from neuroattack.attacks.pgd import BIM, PGD
from neuroattack.attacks.spike_attack import CWL2, G2SRSF
from neuroattack.attacks.victim import Victim

ATTACKS = {"g2s-rsf": G2SRSF, "fgsm": FGSM, "pgd": PGD, "bim": BIM, "cwl2": CWL2}

__all__ = [
    "ATTACKS",
    "Attack",
    "AttackResult",
    "BIM",
    "CWL2",
    "ESTIMATORS",
    "FGSM",
    "G2SRSF",
    "PGD",
    "Victim",
    "expand_targets",
    "make_estimator",
]
