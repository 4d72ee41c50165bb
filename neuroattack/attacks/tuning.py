"""Tuning attack hyper-parameters on held-out data, never on the test set.

HART's ``gamma`` (the width of its triangle surrogate) is grid-searched in the paper on the data it
is evaluated on (0.10 to 2.45, step 0.05). ``tune_hart_gamma`` searches a grid on the validation
split instead and returns the best value with the whole curve (ASR against gamma is roughly
unimodal, the paper's second empirical rule).
"""

from __future__ import annotations

import numpy as np

from neuroattack.attacks.gradient_runner import run_attack
from neuroattack.data.datasets import Dataset
from neuroattack.victims import Victim

DEFAULT_GRID = tuple(float(g) for g in np.round(np.arange(0.25, 2.51, 0.25), 2))


def tune_hart_gamma(
    victim: Victim,
    validation: Dataset,
    attack: str = "fgsm",
    options: dict | None = None,
    grid: tuple[float, ...] = DEFAULT_GRID,
) -> tuple[float, dict[float, float]]:
    """Best ``gamma`` of ``grid`` by ASR of ``attack`` with ``grad='hart'`` on ``validation``.

    Ties go to the ``gamma`` closest to 1.

    Args:
        victim: the attacked model.
        validation: held-out data (not the ``"test"`` split).
        attack: attack name (image attacks ``fgsm``, ``pgd``, ``bim``, ``cwl2``; or ``g2s-rsf``).
        options: keyword options of the attack (e.g. ``eps``); ``grad_options`` is set per ``gamma``.
        grid: the triangle widths tried, each in (0, 10] (default 0.25 to 2.5, step 0.25).

    Returns:
        ``(best, curve)``: the best ``gamma`` and ``{gamma: ASR}`` for every value of ``grid``
        (an undefined ASR counts as 0).

    Raises:
        ValueError: if ``validation`` is the test split (or the attack or a ``gamma`` is invalid).

    Example:
        >>> best, curve = tune_hart_gamma(victim, load_dataset("mnist", "val"), "fgsm")  # doctest: +SKIP
        >>> atk = FGSM(victim, grad=HART(gamma=best))  # doctest: +SKIP
    """
    if validation.split == "test":
        raise ValueError("tune gamma on held-out data (the validation split), not on the test set")
    curve: dict[float, float] = {}
    for gamma in grid:
        opts = {**(options or {}), "grad_options": {"gamma": gamma}}
        summary = run_attack(victim, validation, attack, "hart", opts, progress=False).summary
        curve[gamma] = summary.asr or 0.0
    best = max(curve, key=lambda g: (curve[g], -abs(g - 1.0)))
    return best, curve
