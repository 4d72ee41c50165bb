"""A paper's finding against our runs over several trained seeds: reproduced, refuted or undecided.

A finding says one setting attacks more successfully than another ("HART's gradient beats
BPTR's", "an SNN resists white-box attack better than its ANN twin"). Each trained seed gives both
rates over the same inputs, and each seed is judged on its own: the inputs of one seed are
independent trials of that seed's model, but pooling seeds x inputs would count one model's
quirks as independent evidence. A seed's verdict (:func:`seed_verdict`):

- **reproduced**: the expected setting's rate is higher and the two 95 % Wilson intervals of that
  seed do not overlap;
- **refuted**: the other setting's rate is higher, intervals apart;
- **undecided**: the intervals overlap.

The finding's verdict (:func:`verdict`) is *reproduced* when every seed reproduces it, *refuted*
when every seed refutes it, and *undecided* otherwise; the table says in how many seeds each held.
"""

from __future__ import annotations

from dataclasses import dataclass

from neuroattack.attacks.metrics import wilson_interval


@dataclass(frozen=True)
class Rate:
    """One seed's rate: ``successes`` of ``n`` attacked inputs.

    Example:
        >>> Rate(30, 100).value
        0.3
    """

    successes: int
    n: int

    @property
    def value(self) -> float:
        """``successes / n`` (0 for ``n = 0``)."""
        return self.successes / self.n if self.n else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        """The 95 % Wilson interval of this seed's rate (``(0, 1)`` for ``n = 0``).

        Example:
            >>> [round(x, 3) for x in Rate(30, 100).interval]
            [0.219, 0.396]
        """
        return wilson_interval(self.successes, self.n) if self.n else (0.0, 1.0)


def seed_verdict(higher: Rate, lower: Rate) -> str:
    """One seed's verdict: ``"reproduced"``, ``"refuted"`` or ``"undecided"`` (module docstring).

    Args:
        higher: this seed's rate of the setting the paper finds higher.
        lower: this seed's rate of the other setting, over the same inputs.

    Example:
        >>> seed_verdict(Rate(60, 100), Rate(30, 100))
        'reproduced'
        >>> seed_verdict(Rate(35, 100), Rate(30, 100))
        'undecided'
    """
    (low_a, high_a), (low_b, high_b) = higher.interval, lower.interval
    if low_a > high_b:
        return "reproduced"
    if high_a < low_b:
        return "refuted"
    return "undecided"


def verdict(expected_higher: list[Rate], expected_lower: list[Rate]) -> tuple[str, list[str]]:
    """``(verdict, per_seed)``: the finding's verdict over seeds and each seed's own.

    Args:
        expected_higher: per seed, the rate of the setting the paper finds higher.
        expected_lower: per seed (same order), the other setting's rate.

    Example:
        >>> verdict([Rate(60, 100)] * 3, [Rate(30, 100)] * 3)
        ('reproduced', ['reproduced', 'reproduced', 'reproduced'])
        >>> verdict([Rate(60, 100), Rate(31, 100)], [Rate(30, 100)] * 2)
        ('undecided', ['reproduced', 'undecided'])
    """
    if len(expected_higher) != len(expected_lower) or not expected_higher:
        raise ValueError("a verdict needs the same seeds, at least one, for both settings")
    per_seed = [seed_verdict(a, b) for a, b in zip(expected_higher, expected_lower)]
    agreed = set(per_seed)
    return (per_seed[0] if len(agreed) == 1 and per_seed[0] != "undecided" else "undecided"), per_seed


def describe(per_seed: list[str]) -> str:
    """How the seeds split, for a table cell.

    Example:
        >>> describe(["reproduced", "reproduced", "undecided"])
        'reproduced in 2 of 3 seeds, undecided in 1'
    """
    counts = [(v, per_seed.count(v)) for v in ("reproduced", "refuted", "undecided") if v in per_seed]
    (first, k), rest = counts[0], counts[1:]
    return ", ".join([f"{first} in {k} of {len(per_seed)} seeds", *(f"{v} in {n}" for v, n in rest)])
