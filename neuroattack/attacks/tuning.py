"""Tuning attack hyper-parameters on held-out data, never on the test set.

HART's ``gamma`` (the width of its triangle surrogate) is grid-searched in the paper on the data it
is evaluated on (0.10 to 2.45, step 0.05). ``tune_hart_gamma`` searches a grid on the validation
split instead and returns the best value with the whole curve (ASR against gamma is roughly
unimodal, the paper's second empirical rule).
"""

from __future__ import annotations

import numpy as np

from neuroattack.attacks.runner import run_attack
from neuroattack.victims import Victim
from neuroattack.data.datasets import Dataset

DEFAULT_GRID = tuple(float(g) for g in np.round(np.arange(0.25, 2.51, 0.25), 2))


def tune_hart_gamma(
    victim: Victim,
    validation: Dataset,
    attack: str = "fgsm",
    options: dict | None = None,
    grid: tuple[float, ...] = DEFAULT_GRID,
) -> tuple[float, dict[float, float]]:
    """Best ``gamma`` of ``grid`` by ASR of ``attack`` with ``grad='hart'`` on ``validation``."""
    if validation.split == "test":
        raise ValueError("tune gamma on held-out data (the validation split), not on the test set")
    curve: dict[float, float] = {}
    for gamma in grid:
        opts = {**(options or {}), "grad_options": {"gamma": gamma}}
        summary = run_attack(victim, validation, attack, "hart", opts, progress=False).summary
        curve[gamma] = summary["asr"] or 0.0
    best = max(curve, key=lambda g: (curve[g], -abs(g - 1.0)))
    return best, curve
