"""The training and attack losses against hand computations."""

import math

import torch

from neuroattack.losses import LOSSES, ce_loss, ce_rates_loss, mse_loss


def _spikes():
    """T = 4, B = 1, K = 3: counts (3, 1, 0), rates (0.75, 0.25, 0)."""
    s = torch.zeros(4, 1, 3)
    s[:3, 0, 0] = 1
    s[0, 0, 1] = 1
    return s


def test_the_three_losses_by_hand():
    s, y = _spikes(), torch.tensor([0])
    log_sum = lambda logits: math.log(sum(math.exp(v) for v in logits))  # noqa: E731
    assert abs(ce_loss(s, y).item() - (log_sum([3, 1, 0]) - 3)) < 1e-6
    expected_rates = log_sum([0.75, 0.25, 0.0]) - 0.75
    assert abs(ce_rates_loss(s, y).item() - expected_rates) < 1e-6
    assert abs(mse_loss(s, y).item() - ((0.75 - 1) ** 2 + 0.25**2 + 0) / 3) < 1e-7
    assert set(LOSSES) == {"mse", "ce", "ce-rates"}


def test_ce_on_rates_cannot_saturate_where_ce_on_counts_does():
    """The difference the seeds' two readings of CE make: with counts as logits a confident output
    drives the loss (and its gradient) to zero; with rates in [0, 1] it stays bounded away from it."""
    s = torch.zeros(32, 1, 10)
    s[:, 0, 0] = 1  # every step on the true class
    y = torch.tensor([0])
    assert ce_loss(s, y).item() < 1e-12
    assert ce_rates_loss(s, y).item() > 1.4  # log(9 + e) - 1
