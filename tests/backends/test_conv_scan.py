import hypothesis.strategies as st
import torch
from hypothesis import given, settings

from backends.conv_scan import conv_scan_cpu
from backends.event_product import accumulate_conv
from backends.lif_scan import Feed, ScanParams, scan_cpu


def _layer_major(spikes, weight, stride, padding, pool, params, steps, wrap_bits=24):
    """The emulator's plan without the fused pass: the conv's sums for every step, then the scan."""
    a, b = spikes.shape[:2]
    flat = spikes.reshape(a * b, *spikes.shape[2:])
    h, w = spikes.shape[3] // pool, spikes.shape[4] // pool
    out_hw = tuple((n + 2 * p - k) // s + 1 for n, p, k, s in zip((h, w), padding, weight.shape[2:], stride))
    sums = accumulate_conv(flat, weight, stride, padding, out_hw, pool=pool)
    feed = Feed(sums.reshape(a, b, *sums.shape[1:]), delay=1, rule="conv", wrap_bits=wrap_bits)
    return scan_cpu(feed, params, steps).reshape(steps, b, -1), sums


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    c_in=st.integers(1, 3),
    c_out=st.integers(1, 4),
    size=st.integers(2, 6),
    k=st.integers(1, 3),
    stride=st.integers(1, 2),
    pad=st.integers(0, 1),
    pool=st.sampled_from([1, 2]),
    density=st.floats(0.0, 0.7),
    du=st.integers(0, 4095),
    dv=st.integers(0, 4096),
    subtract=st.booleans(),
    bias=st.booleans(),
    per_neuron=st.booleans(),
)
def test_the_one_pass_scan_equals_the_layer_major_plan(
    seed, c_in, c_out, size, k, stride, pad, pool, density, du, dv, subtract, bias, per_neuron
):
    """Spike for spike, over decays (one for all, or one a neuron: the one-pass scan keeps its neurons
    channels-last), biases, both resets, strides, paddings and an undone sum-pool."""
    if size + 2 * pad < k:
        return
    g = torch.Generator().manual_seed(seed)
    steps_in, batch = 5, 3
    spikes = (torch.rand(steps_in, batch, c_in, size * pool, size * pool, generator=g) < density).to(torch.int8)
    weight = torch.randint(-40, 80, (c_out, c_in, k, k), generator=g).float()
    out = (size + 2 * pad - k) // stride + 1
    n = c_out * out * out
    b = torch.randint(-30, 30, (n,), generator=g) if bias else None
    if per_neuron:
        du, dv = torch.randint(0, 4096, (n,), generator=g), torch.randint(0, 4097, (n,), generator=g)
    registers = {"fixed": True, "m": 2**23, "shift": 6, "bits": 12, "subtract": subtract}
    params = ScanParams.build(4095 - du, 4096 - dv, b, 60 << 6, n, **registers)
    expected, _ = _layer_major(spikes, weight, (stride, stride), (pad, pad), pool, params, steps_in + 3)
    got = conv_scan_cpu(spikes, weight, (stride, stride), (pad, pad), (out, out), pool, params, steps_in + 3)
    assert torch.equal(got, expected)


def test_sums_past_24_bits_wrap_as_lavas_conv():
    """Weights whose sums pass 2**23 wrap to 24 signed bits in both plans (the wrap really happens)."""
    g = torch.Generator().manual_seed(0)
    spikes = (torch.rand(4, 2, 2, 5, 5, generator=g) < 0.6).to(torch.int8)
    weight = torch.randint(2**20, 2**21, (2, 2, 3, 3), generator=g, dtype=torch.int64)
    params = ScanParams.build(0, 4096, None, 1 << 6, 2 * 25, fixed=True, m=2**23, shift=6, bits=12)
    expected, sums = _layer_major(spikes, weight, (1, 1), (1, 1), 1, params, 6)
    assert int(sums.max()) >= 2**23  # beyond 24 signed bits: wrapped negative
    assert torch.equal(conv_scan_cpu(spikes, weight, (1, 1), (1, 1), (5, 5), 1, params, 6), expected)
    assert 0 < int(expected.sum()) < expected.numel()
