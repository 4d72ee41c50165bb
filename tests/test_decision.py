"""A tie or a silent output is no decision: never a class, never correct, never a success."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroattack.attacks.metrics import hits
from neuroattack.decision import NO_DECISION, decide
from neuroattack.models.snn import predict


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 3), min_size=3, max_size=3), min_size=1, max_size=8))
def test_decide_is_the_unique_maximum_or_no_decision(rows):
    counts = torch.tensor(rows, dtype=torch.float32)
    expected = []
    for row in rows:  # the oracle: plain Python over the list
        top = max(row)
        expected.append(row.index(top) if row.count(top) == 1 else -1)
    assert decide(counts).tolist() == expected


def test_silence_and_ties_are_neither_correct_nor_a_success():
    spikes = torch.zeros(8, 3, 4)  # [T, B, K]: sample 0 silent
    spikes[:, 1, 2] = 1  # sample 1: class 2 decided
    spikes[:4, 2, 0], spikes[:4, 2, 3] = 1, 1  # sample 2: classes 0 and 3 tie
    pred = predict(spikes)
    assert pred.tolist() == [NO_DECISION, 2, NO_DECISION]
    labels = torch.tensor([0, 1, 3])
    assert pred.eq(labels).tolist() == [False, False, False]  # silence is not "class 0"
    assert hits(pred, labels, None).tolist() == [False, True, False]  # nor a successful attack
    assert hits(pred, labels, torch.tensor([1, 2, 0])).tolist() == [False, True, False]
