"""The event-driven products equal the dense ones exactly, and the emulator's choice between them
changes no spike."""

import hypothesis.strategies as st
import nir
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings

import backends
from backends.event_product import accumulate_conv, accumulate_dense, convolve_in_lavas_order
from tests.backends import graphs as G


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    m=st.integers(1, 6),
    n_in=st.integers(1, 40),
    n_out=st.integers(1, 12),
    density=st.floats(0.0, 1.0),
    counts=st.booleans(),
)
def test_dense_accumulation_equals_the_product(seed, m, n_in, n_out, density, counts):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(m, n_in, generator=g) < density).to(torch.int8)
    if counts:  # an undone sum-pool gives small integer counts
        x = x * torch.randint(1, 5, x.shape, generator=g, dtype=torch.int8)
    w = torch.randint(-300, 301, (n_in, n_out), generator=g)
    assert torch.equal(accumulate_dense(x, w), x.long() @ w)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    c_in=st.integers(1, 3),
    c_out=st.integers(1, 4),
    size=st.integers(3, 9),
    k=st.integers(1, 4),
    stride=st.integers(1, 3),
    pad=st.integers(0, 2),
    density=st.floats(0.0, 0.6),
    pool=st.sampled_from([1, 2, 3]),
    spikes_as_bytes=st.booleans(),
)
def test_conv_scatter_equals_the_convolution(seed, c_in, c_out, size, k, stride, pad, density, pool, spikes_as_bytes):
    """Against torch's convolution of the sum-pooled map, for spikes stored as bytes or as floats."""
    if size + 2 * pad < k:
        return
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(2, c_in, size * pool, size * pool, generator=g) < density).float()
    x = x * torch.randint(1, 4, (1,), generator=g)
    w = torch.randint(-9, 10, (c_out, c_in, k, k), generator=g).float()
    pooled = x.reshape(2, c_in, size, pool, size, pool).sum((3, 5))  # the sum-pool, in exact sums
    expected = F.conv2d(pooled, w, stride=stride, padding=pad)
    given = x.to(torch.int8) if spikes_as_bytes else x
    got = accumulate_conv(given, w, (stride, stride), (pad, pad), tuple(expected.shape[2:]), pool=pool)
    assert torch.equal(got, expected)


def _sum_pool_5():
    """(2, 10, 10) -> Conv2d(2, 1x1) -> LIF (busy) -> SumPool 5 -> Conv2d(2, 1x1) -> LIF: the pool is
    folded into the second conv (5x5, stride 5) and undone by the emulator; counts such as 15 of 25
    were not exact through ``avg_pool2d(x, 5) * 25`` (15.000001)."""
    nodes = {
        "input": nir.Input(np.array([2, 10, 10])),
        "c1": nir.Conv2d((10, 10), np.full((2, 2, 1, 1), 3.0), 1, 0, 1, 1, np.zeros(2)),
        "n1": G.lif(200, tau=0.002),
        "p1": nir.SumPool2d(np.array([5, 5]), np.array([5, 5]), np.array([0, 0])),
        "c2": nir.Conv2d((2, 2), np.array([[[[0.25]], [[-0.19]]], [[[-0.3]], [[0.21]]]]), 1, 0, 1, 1, np.zeros(2)),
        "n2": G.lif(8, tau=0.002),
        "output": nir.Output(np.array([8])),
    }
    edges = [("input", "c1"), ("c1", "n1"), ("n1", "p1"), ("p1", "c2"), ("c2", "n2"), ("n2", "output")]
    return G.graph(nodes, edges)


@pytest.mark.parametrize(
    "profile, make, shape, density",
    [
        ("loihi2", lambda: G.conv(scale=6.0, pool="sum"), (2, 8, 8), 0.05),
        ("loihi2", lambda: G.chain([40, 16, 6], lambda n: G.lif(n, tau=0.002), scale=3.0), (40,), 0.05),
        ("loihi2", _sum_pool_5, (2, 10, 10), 0.6),
    ],
    ids=["conv", "dense", "sum-pool-5"],
)
def test_the_emulators_choice_of_product_changes_no_spike(profile, make, shape, density):
    """Fixed point: the first three batches run both products (checked equal); after that, each
    path forced in turn gives the same spikes, and the event-driven one really ran."""
    x = G.spikes(shape, batch=12, steps=6, density=density)
    emu = backends.load(make(), profile, "emulator", batch_size=4)
    first = emu.run(x, record=True)  # three batches: both paths measured on every projection it chooses for
    chosen = {name for name, path in emu.paths.items() if path == "both (measuring)"}
    assert chosen and all(len(emu._costs[name]) == 3 for name in chosen)
    results = {}
    convs = {p.name for p in emu.network.projections if p.synapse == "conv"}  # each feeds one scan
    for forced, costs in {"event-driven": (1.0, 0.0), "dense": (0.0, 1.0)}.items():
        emu._costs = {name: [costs, costs, costs] for name in emu._costs}
        results[forced] = emu.run(x, record=True)
        for name in chosen:  # an event-driven conv runs with its target's scan, in one pass
            fused = forced == "event-driven" and name in convs
            assert emu.paths[name] == ("event-driven, with the LIF scan" if fused else forced)
    for a, b, c in zip(first.layers, results["event-driven"].layers, results["dense"].layers):
        assert torch.equal(a, b) and torch.equal(a, c)
    assert sum(int(layer.sum()) for layer in first.layers) > 0


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), m=st.integers(1, 5), n_in=st.integers(1, 3000), n_out=st.integers(1, 40))
def test_float_dense_accumulation_adds_in_lavas_order(seed, m, n_in, n_out):
    """Lava's floating_pt Dense sums ``weights[:, s].sum(axis=1)``; numpy, the oracle here, does it
    on a Fortran-ordered gather, input after input. The event-driven product gives those float64
    sums to the bit, over weights of very different magnitudes, where a matrix product does not."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(0, 1, (n_out, n_in)) * 10.0 ** rng.integers(-8, 3, (n_out, n_in))
    spikes = rng.random((m, n_in)) < rng.random()
    got = accumulate_dense(torch.as_tensor(spikes, dtype=torch.int8), torch.as_tensor(weights.T.copy()))
    lava = np.stack([weights[:, s].sum(axis=1) for s in spikes])
    assert np.array_equal(got.numpy(), lava)


def test_float_emulator_sums_differ_from_a_matrix_product_somewhere():
    """The order matters: on such weights a matrix product's float64 sums miss Lava's in some bits."""
    rng = np.random.default_rng(0)
    weights = rng.normal(0, 1, (64, 2000)) * 10.0 ** rng.integers(-8, 3, (64, 2000))
    spikes = rng.random((8, 2000)) < 0.5
    lava = np.stack([weights[:, s].sum(axis=1) for s in spikes])
    matmul = spikes.astype(np.float64) @ weights.T
    assert not np.array_equal(matmul, lava)


@pytest.mark.parametrize(
    "make, shape, projections",
    [
        (lambda: G.chain([40, 16, 6], lambda n: G.lif(n, tau=0.002), scale=3.0), (40,), 2),
        (lambda: G.conv(scale=6.0, pool="sum"), (2, 8, 8), 3),
    ],
    ids=["dense", "conv"],
)
def test_float_projections_always_add_in_lavas_order(make, shape, projections):
    emu = backends.load(make(), "float", "emulator")
    result = emu.run(G.spikes(shape, batch=5, steps=6, density=0.3), record=True)
    assert set(emu.paths.values()) == {"event-driven (Lava's order)"} and len(emu.paths) == projections
    assert all(int(layer.sum()) > 0 for layer in result.layers)


@pytest.mark.parametrize(
    "c_in, c_out, size, kernel, stride, pad",
    [((2, 16, (34, 34), (5, 5), (2, 2), (0, 0))), (16, 8, (16, 16), (4, 4), (2, 2), (0, 0)),
     (3, 5, (9, 7), (3, 2), (1, 2), (1, 0))],
)  # fmt: skip
def test_float_convolution_adds_in_lavas_order(c_in, c_out, size, kernel, stride, pad):
    """Lava's floating_pt Conv itself (``lava.proc.conv.utils.conv``, scipy per channel, on its
    (x, y, channel) layout with the flipped kernel it convolves with) is the oracle, to the bit."""
    from lava.proc.conv import utils

    rng = np.random.default_rng(c_in)
    w = rng.normal(0, 1, (c_out, c_in, *kernel)) * 10.0 ** rng.integers(-8, 3, (c_out, c_in, *kernel))
    x = rng.random((3, c_in, *size)) < 0.3
    out_hw = tuple((n + 2 * p - k) // s + 1 for n, p, k, s in zip(size, pad, kernel, stride))
    got = convolve_in_lavas_order(torch.as_tensor(x, dtype=torch.int8), torch.as_tensor(w), stride, pad, out_hw)
    lava_weight = w[:, :, ::-1, ::-1].transpose(0, 3, 2, 1).copy()  # [out, x, y, in]
    for i in range(len(x)):
        lava = utils.conv(x[i].transpose(2, 1, 0), lava_weight, kernel[::-1], stride[::-1], pad[::-1], (1, 1), 1)
        assert np.array_equal(got[i].numpy(), lava.transpose(2, 1, 0))
    matmul_order = torch.nn.functional.conv2d(torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(w),
                                              stride=stride, padding=pad)  # fmt: skip
    assert not torch.equal(matmul_order, got)  # the order shows: a convolution library adds otherwise


def test_byte_spikes_in_whole_words_take_the_word_scan(monkeypatch):
    """Byte maps whose rows are whole 8-byte words are scanned a word at a time, other maps (floats,
    or bytes in a part word) element by element; all equal the convolution."""
    import backends.event_product as ep

    g = torch.Generator().manual_seed(3)
    x = (torch.rand(5, 2, 6, 4, generator=g) < 0.2).float()  # 48 bytes a row: six words
    odd = x[:, :, :5, :3].contiguous()  # 30 bytes a row
    w = torch.randint(-9, 10, (3, 2, 3, 3), generator=g).float()
    scans = []
    kernel = ep._scatter_conv
    monkeypatch.setattr(ep, "_scatter_conv", lambda x, words, *a: scans.append(words) or kernel(x, words, *a))
    for stored, expected in [(x.to(torch.int8), x), (x, x), (odd.to(torch.int8), odd)]:
        out_hw = tuple(expected.shape[2:])
        assert torch.equal(accumulate_conv(stored, w, (1, 1), (1, 1), out_hw), F.conv2d(expected, w, padding=1))
    assert scans == [True, False, False]
