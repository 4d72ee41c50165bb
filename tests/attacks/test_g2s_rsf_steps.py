import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroattack.attacks.g2s_rsf_steps import g2s, normalize_abs, overflow_transform, rsf, vanished

TABLE_II = {  # (x, sign) -> (delta, x + delta), Liang Table II
    (0, 0): (0, 0),
    (1, 0): (0, 1),
    (0, 1): (1, 1),
    (1, 1): (0, 1),
    (0, -1): (0, 0),
    (1, -1): (-1, 0),
}


def test_overflow_transform_is_table_ii():
    xs, signs = zip(*itertools.product([0, 1], [-1, 0, 1]))
    x = torch.tensor(xs, dtype=torch.float32)
    s = torch.tensor(signs, dtype=torch.float32)
    delta = overflow_transform(s, x)
    for xi, si, di in zip(xs, signs, delta.tolist()):
        assert (di, xi + di) == TABLE_II[(xi, si)]


def test_rsf_flips_exactly_the_masked_elements():
    x = (torch.rand(4, 3, 10, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    delta = rsf(x, 0.3, torch.Generator().manual_seed(5))
    mask = torch.bernoulli(torch.full_like(x, 0.3), generator=torch.Generator().manual_seed(5))
    flipped = x + delta
    assert torch.equal(flipped[mask == 1], 1 - x[mask == 1])  # Table IV: 0 -> 1, 1 -> 0
    assert torch.equal(flipped[mask == 0], x[mask == 0])
    assert torch.equal(delta[(mask == 1) & (x == 0)], torch.ones_like(delta[(mask == 1) & (x == 0)]))
    with pytest.raises(ValueError, match="gamma"):
        rsf(x, 1.5)


def test_rsf_rate_follows_gamma():
    x = torch.zeros(20, 1000)
    for gamma in (0.01, 0.05, 0.2):
        flips = rsf(x, gamma, torch.Generator().manual_seed(1)).abs().mean()
        assert abs(float(flips) - gamma) < 0.2 * gamma + 0.002


def test_normalize_is_per_input_map():
    g = torch.tensor([[1.0, -4.0], [0.5, 0.25], [0.0, 0.0]])
    n = normalize_abs(g)
    assert torch.allclose(n, torch.tensor([[0.25, 1.0], [1.0, 0.5], [0.0, 0.0]]))
    assert vanished(g).tolist() == [False, False, True]


def test_sampling_keeps_large_gradients_more_often():
    g = torch.zeros(1, 2000)
    g[0, :1000] = 1.0
    g[0, 1000:] = 0.05
    x = torch.zeros_like(g)
    d = g2s(g, x, torch.Generator().manual_seed(0))
    assert d[0, :1000].mean() > 0.95 and d[0, 1000:].mean() < 0.1
    full = g2s(g, x, sampling=False)  # ablation: every non-zero gradient passes
    assert full.sum() == 2000


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(0.0, 1.0))
def test_adversarial_spikes_stay_binary(seed, gamma):
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(3, 4, 2, 5, 5, generator=gen) < 0.3).float()
    grad = torch.randn(3, 4, 2, 5, 5, generator=gen) * (torch.rand(3, 4, 2, 5, 5, generator=gen) < 0.5)
    for delta in (g2s(grad, x, gen), g2s(grad, x, gen, sampling=False), rsf(x, gamma, gen)):
        out = x + delta
        assert set(out.unique().tolist()) <= {0.0, 1.0}
        assert set(delta.unique().tolist()) <= {-1.0, 0.0, 1.0}
