"""Attacks: gradient estimators (stbp, bptr, rga, hart, cba) x algorithms (fgsm, pgd, bim, cwl2,
spike-domain g2s-rsf), torchattacks-style."""

from neuroattack.attacks.base import Attack, expand_targets, judge
from neuroattack.attacks.estimators import ESTIMATORS, make_estimator
from neuroattack.attacks.fgsm import FGSM
from neuroattack.attacks.metrics import AttackResult
from neuroattack.attacks.pgd import BIM, PGD
from neuroattack.attacks.spike_attack import CWL2, G2SRSF
from neuroattack.attacks.runner import ATTACKS, build_attack, run_attack
from neuroattack.victims import Victim

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
    "build_attack",
    "run_attack",
    "expand_targets",
    "judge",
    "make_estimator",
]
