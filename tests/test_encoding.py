import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroattack.encoding import bernoulli_encode, direct_encode, encode


def test_bernoulli_rate_matches_pixel_value():
    images = torch.linspace(0, 1, 11).reshape(1, 11).expand(400, 11).contiguous()
    spikes = bernoulli_encode(images, 50, torch.Generator().manual_seed(0))
    assert spikes.shape == (50, 400, 11)
    rate = spikes.mean((0, 1))
    assert torch.allclose(rate, images[0], atol=0.02)


def test_bernoulli_is_reproducible_with_generator():
    img = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    a = bernoulli_encode(img, 8, torch.Generator().manual_seed(7))
    b = bernoulli_encode(img, 8, torch.Generator().manual_seed(7))
    c = bernoulli_encode(img, 8, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 12), st.integers(0, 10_000))
def test_bernoulli_spikes_are_binary(steps, seed):
    img = torch.rand(3, 1, 5, 5, generator=torch.Generator().manual_seed(seed))
    s = bernoulli_encode(img, steps, torch.Generator().manual_seed(seed))
    assert set(s.unique().tolist()) <= {0.0, 1.0}


def test_bernoulli_gradient_is_temporal_mean():
    img = torch.rand(2, 3, requires_grad=True)
    spikes = bernoulli_encode(img, 4, torch.Generator().manual_seed(0))
    weights = torch.arange(4.0).reshape(4, 1, 1)
    (spikes * weights).sum().backward()
    assert torch.allclose(img.grad, torch.full((2, 3), 1.5))  # mean of 0,1,2,3


def test_direct_encoding_and_errors():
    img = torch.rand(2, 1, 4, 4)
    d = direct_encode(img, 3)
    assert d.shape == (3, 2, 1, 4, 4) and torch.equal(d[2], img)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bernoulli_encode(img * 2, 3)
    with pytest.raises(ValueError, match="NaN"):
        bernoulli_encode(torch.full((1, 2), float("nan")), 3)
    with pytest.raises(ValueError, match="encoding must be one of"):
        encode(img, "latency", 3)
    frames = torch.zeros(2, 5, 2, 4, 4)
    assert encode(frames, "events", 5).shape == (5, 2, 2, 4, 4)
    with pytest.raises(ValueError, match="event frames"):
        encode(frames, "events", 4)
