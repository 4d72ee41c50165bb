"""Attacks: gradient estimators (stbp, bptr, rga, hart, cba) x algorithms (fgsm, pgd, bim, cwl2,
spike-domain g2s-rsf, the minimal-event sparsefool), torchattacks-style, one attack a module;
query-only attacks on a deployed network (square: score-based, boundary: decision-based); and the
baselines every event attack is read against (random flips, silence). Event attacks honour one
budget: the input bins changed per sample.

Example:
    >>> from neuroattack.attacks import PGD
    >>> from neuroattack.victims import Victim
    >>> victim = Victim.from_checkpoint("runs/models/mnist")  # doctest: +SKIP
    >>> x_adv = PGD(victim, grad="hart", eps=8 / 255)(images, labels)  # doctest: +SKIP
"""

from neuroattack.attacks.base import Attack, expand_targets, judge
from neuroattack.attacks.bim import BIM
from neuroattack.attacks.boundary import SpikeBoundary
from neuroattack.attacks.cwl2 import CWL2
from neuroattack.attacks.estimators import ESTIMATORS, make_estimator
from neuroattack.attacks.fgsm import FGSM
from neuroattack.attacks.g2s_rsf import G2SRSF
from neuroattack.attacks.gradient_runner import run_attack
from neuroattack.attacks.metrics import AttackResult
from neuroattack.attacks.pgd import PGD
from neuroattack.attacks.query_attack import QueryAttack, QueryResult
from neuroattack.attacks.random_flips import RandomFlips
from neuroattack.attacks.registry import ATTACKS, QUERY_ATTACKS, build_attack, option_specs
from neuroattack.attacks.silence import Silence
from neuroattack.attacks.sparsefool import SparseFool
from neuroattack.attacks.square import SpikeSquare

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
    "QUERY_ATTACKS",
    "QueryAttack",
    "QueryResult",
    "RandomFlips",
    "Silence",
    "SparseFool",
    "SpikeBoundary",
    "SpikeSquare",
    "build_attack",
    "expand_targets",
    "judge",
    "make_estimator",
    "option_specs",
    "run_attack",
]
