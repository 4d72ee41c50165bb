"""Verdicts over seeds: hand-made counts whose intervals are computed here independently."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neuroattack.experiments.findings import Rate, describe, seed_verdict, verdict


def _wilson(k, n, z=1.96):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_a_seeds_interval_is_wilsons_over_that_seeds_inputs():
    assert Rate(85, 300).interval == pytest.approx(_wilson(85, 300))


@pytest.mark.parametrize(
    "higher, lower, expected",
    [
        ([(90, 300), (95, 300), (88, 300)], [(40, 300), (45, 300), (38, 300)], "reproduced"),
        ([(40, 300), (45, 300), (38, 300)], [(90, 300), (95, 300), (88, 300)], "refuted"),
        ([(112, 300), (107, 300), (109, 300)], [(107, 300), (110, 300), (100, 300)], "undecided"),
        # two seeds clearly apart, one not: undecided, though pooling would call it reproduced
        ([(90, 300), (95, 300), (60, 300)], [(40, 300), (45, 300), (50, 300)], "undecided"),
    ],
)
def test_verdicts_are_judged_per_seed(higher, lower, expected):
    result, per_seed = verdict([Rate(*r) for r in higher], [Rate(*r) for r in lower])
    assert result == expected
    for (ka, na), (kb, nb), seed in zip(higher, lower, per_seed):
        (la, ha), (lb, hb) = _wilson(ka, na), _wilson(kb, nb)
        assert seed == ("reproduced" if la > hb else "refuted" if ha < lb else "undecided")


def test_pooling_would_have_called_the_mixed_case_reproduced():
    """The case above is the one per-seed judging changes: the pooled intervals are apart."""
    (la, _), (_, hb) = _wilson(90 + 95 + 60, 900), _wilson(40 + 45 + 50, 900)
    assert la > hb


@given(st.integers(1, 200), st.integers(0, 200), st.integers(0, 200))
def test_swapping_the_settings_swaps_reproduced_and_refuted(n, ka, kb):
    ka, kb = min(ka, n), min(kb, n)
    swap = {"reproduced": "refuted", "refuted": "reproduced", "undecided": "undecided"}
    assert seed_verdict(Rate(kb, n), Rate(ka, n)) == swap[seed_verdict(Rate(ka, n), Rate(kb, n))]


def test_the_table_cell_says_how_the_seeds_split():
    assert describe(["reproduced", "undecided", "reproduced"]) == "reproduced in 2 of 3 seeds, undecided in 1"


def test_a_verdict_needs_matching_seeds():
    with pytest.raises(ValueError, match="the same seeds"):
        verdict([Rate(1, 2)], [])
