"""A paper's finding against our runs over several trained seeds: reproduced, refuted or undecided.

A finding says one setting attacks more successfully than another ("HART's gradient beats
BPTR's", "an SNN resists white-box attack better than its ANN twin"). Each seed gives both rates
over the same inputs; the verdict reads them all:

- **reproduced**: the expected setting is higher in every seed and the 95 % Wilson intervals of
  the rates pooled over seeds (successes over attacked inputs) do not overlap;
- **refuted**: the other setting is higher in every seed, intervals apart;
- **undecided**: anything else (the intervals overlap, or the order moves between seeds, which the
  table says).
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


def pooled(rates: list[Rate]) -> tuple[float, tuple[float, float]]:
    """The rate pooled over seeds and its 95 % Wilson interval.

    Example:
        >>> value, (low, high) = pooled([Rate(30, 100), Rate(40, 100)])
        >>> value, round(low, 3), round(high, 3)
        (0.35, 0.287, 0.418)
    """
    k, n = sum(r.successes for r in rates), sum(r.n for r in rates)
    return (k / n if n else 0.0), wilson_interval(k, n) if n else (0.0, 1.0)


def verdict(expected_higher: list[Rate], expected_lower: list[Rate]) -> tuple[str, bool]:
    """``(verdict, moves)``: ``"reproduced"``, ``"refuted"`` or ``"undecided"`` (see the module
    docstring), and whether the order differs between seeds.

    Args:
        expected_higher: per seed, the rate of the setting the paper finds higher.
        expected_lower: per seed (same order), the other setting's rate.

    Example:
        >>> verdict([Rate(60, 100)] * 3, [Rate(30, 100)] * 3)
        ('reproduced', False)
        >>> verdict([Rate(31, 100), Rate(29, 100)], [Rate(30, 100)] * 2)
        ('undecided', True)
    """
    if len(expected_higher) != len(expected_lower) or not expected_higher:
        raise ValueError("a verdict needs the same seeds, at least one, for both settings")
    signs = {(a.value > b.value) - (a.value < b.value) for a, b in zip(expected_higher, expected_lower)}
    moves = len(signs) > 1
    _, (low_a, high_a) = pooled(expected_higher)
    _, (low_b, high_b) = pooled(expected_lower)
    if signs == {1} and low_a > high_b:
        return "reproduced", moves
    if signs == {-1} and high_a < low_b:
        return "refuted", moves
    return "undecided", moves
