"""Verdicts over seeds: hand-made counts whose intervals are computed here independently."""

import math

import pytest

from neuroattack.experiments.findings import Rate, pooled, verdict


def _wilson(k, n, z=1.96):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_pooled_interval_is_wilsons_over_all_seeds():
    value, (low, high) = pooled([Rate(30, 100), Rate(45, 150), Rate(10, 50)])
    expected = _wilson(85, 300)
    assert value == pytest.approx(85 / 300) and (low, high) == pytest.approx(expected)


@pytest.mark.parametrize(
    "higher, lower, expected",
    [
        ([(90, 300), (95, 300), (88, 300)], [(40, 300), (45, 300), (38, 300)], ("reproduced", False)),
        ([(40, 300), (45, 300), (38, 300)], [(90, 300), (95, 300), (88, 300)], ("refuted", False)),
        ([(112, 300), (107, 300), (109, 300)], [(107, 300), (110, 300), (100, 300)], ("undecided", True)),
        ([(112, 300), (111, 300), (109, 300)], [(107, 300), (110, 300), (100, 300)], ("undecided", False)),
    ],
)
def test_verdicts(higher, lower, expected):
    assert verdict([Rate(*r) for r in higher], [Rate(*r) for r in lower]) == expected


def test_a_verdict_needs_matching_seeds():
    with pytest.raises(ValueError, match="the same seeds"):
        verdict([Rate(1, 2)], [])
