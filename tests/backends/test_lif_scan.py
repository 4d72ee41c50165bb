"""The fused LIF scan kernels equal the step-by-step torch rules (backends.loihi), wraps included.

The numba kernel runs here; the Triton kernel runs on the CPU in Triton's interpreter (a
subprocess with ``TRITON_INTERPRET=1``), the same source a GPU compiles.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import given, settings

from backends.lif_scan import Feed, FusedScan, ScanParams, scan_cpu
from backends.loihi import activation, float_lif_step, lif_step, wrap32

M = 2**23


def reference_fixed(feed: Feed, du, dv, bias, vth, steps, subtract=False):
    """The emulator's torch path: activation per sum, the one-step delay, then lif_step."""
    sums = feed.sums.to(torch.int64)
    if feed.rule != "none":
        sums = activation(sums, feed.rule, feed.exp, feed.wrap_bits)
    a = torch.zeros((steps, *sums.shape[1:]), dtype=torch.int64)
    a[feed.delay : feed.delay + len(sums)] = sums[: steps - feed.delay]
    a = wrap32(a)
    u = torch.zeros(a.shape[1:], dtype=torch.int64)
    v = torch.zeros_like(u)
    fired = torch.zeros(a.shape, dtype=torch.bool)
    work = (torch.empty_like(u), torch.empty_like(u))
    for t in range(steps):
        u = lif_step(u, v, a[t], du, dv, bias, vth, M, 6, 12, fired[t], work, subtract)
    return fired.to(torch.int8)


def reference_float(a, du, dv, bias, vth, subtract=False):
    u = torch.zeros(a.shape[1:], dtype=torch.float64)
    v = torch.zeros_like(u)
    fired = torch.zeros(a.shape, dtype=torch.bool)
    for t in range(a.shape[0]):
        u, v, fired[t] = float_lif_step(u, v, a[t], du, dv, bias, vth, subtract=subtract)
    return fired.to(torch.int8)


def _registers(g, n, per_neuron):
    if per_neuron:
        du = torch.randint(0, 4095, (n,), generator=g)
        dv = torch.randint(0, 4097, (n,), generator=g)
    else:
        du, dv = int(torch.randint(0, 4095, (1,), generator=g)), 4096
    bias = torch.randint(-3000, 3000, (n,), generator=g) if per_neuron else None
    return du, dv, bias


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    steps=st.integers(1, 9),
    batch=st.integers(1, 4),
    n=st.integers(1, 20),
    magnitude=st.sampled_from([10, 2**14, 2**26, 2**34]),
    per_neuron=st.booleans(),
    rule=st.sampled_from(["none", "dense", "conv"]),
    exp=st.integers(-8, 7),
    delay=st.integers(0, 2),
    dtype=st.sampled_from([torch.int32, torch.int64, torch.float32]),
    subtract=st.booleans(),
)
def test_fixed_point_kernel_equals_lif_step(
    seed, steps, batch, n, magnitude, per_neuron, rule, exp, delay, dtype, subtract
):
    g = torch.Generator().manual_seed(seed)
    fed = max(steps - delay, 0)
    if dtype != torch.int64:
        magnitude = min(magnitude, 2**23)  # int32 and float32 hold such sums exactly
    sums = torch.randint(-magnitude, magnitude, (fed, batch, n), generator=g).to(dtype)
    du, dv, bias = _registers(g, n, per_neuron)
    vth = int(torch.randint(1, 2**16, (1,), generator=g)) << 6
    feed = Feed(sums, delay=delay, rule=rule, exp=exp)
    got = scan_cpu(feed, ScanParams.build(du, dv, bias, vth, n, True, M, 6, 12, subtract), steps)
    assert torch.equal(got, reference_fixed(feed, du, dv, bias, vth, steps, subtract))


def test_subtract_reset_keeps_what_is_above_threshold():
    """A constant drive of 0.6 thresholds: reset to 0 spikes every second step; subtracting the
    threshold carries the excess (0.6, 1.2 -> 0.2, 0.8, 1.4 -> 0.4, 1.0, 1.6 -> 0.6, ...), worked
    out by hand."""
    vth = 1000 << 6
    sums = torch.full((8, 1, 1), 600, dtype=torch.int64)
    p = dict(du_keep=0, dv_keep=4096, bias=None, vth=vth, n=1, fixed=True, m=M, shift=6, bits=12)
    zero = scan_cpu(Feed(sums), ScanParams.build(**p), 8).flatten().tolist()
    sub = scan_cpu(Feed(sums), ScanParams.build(**p, subtract=True), 8).flatten().tolist()
    assert zero == [0, 1, 0, 1, 0, 1, 0, 1]
    assert sub == [0, 1, 0, 1, 0, 1, 1, 0]  # v: 600, 1200, 800, 1400, 1000, 1600, 1200, 800 (x 64)
    floats = torch.full((8, 1, 1), 0.6, dtype=torch.float64)
    got = scan_cpu(Feed(floats), ScanParams.build(0.0, 1.0, None, 1.0, 1, False, subtract=True), 8)
    assert got.flatten().tolist() == reference_float(floats, 0.0, 1.0, None, 1.0, subtract=True).flatten().tolist()


def test_the_wraps_ran_in_the_kernel():
    """Sums large enough that the int32 and 24-bit wraps change values: the kernel still agrees,
    and without the wraps the spikes would differ."""
    g = torch.Generator().manual_seed(1)
    sums = torch.randint(2**28, 2**33, (6, 3, 8), generator=g)
    feed = Feed(sums, delay=1, rule="dense", exp=3)
    params = ScanParams.build(100, 4000, None, 2**22, 8, True, M, 6, 12)
    got = scan_cpu(feed, params, 7)
    assert torch.equal(got, reference_fixed(feed, 100, 4000, None, 2**22, 7))
    unwrapped = (sums << 3) << 6  # all positive and far above threshold without the wraps
    assert not torch.equal(wrap32(unwrapped), unwrapped)
    assert int(got.sum()) < got[1:].numel()  # the wraps made some steps negative: no spike there


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), steps=st.integers(1, 8), n=st.integers(1, 16), per_neuron=st.booleans())
def test_float_kernel_equals_float_lif_step_bit_for_bit(seed, steps, n, per_neuron):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn((steps, 3, n), generator=g, dtype=torch.float64)
    if per_neuron:
        du = torch.rand(n, generator=g, dtype=torch.float64)
        dv = torch.rand(n, generator=g, dtype=torch.float64)
        bias = torch.randn(n, generator=g, dtype=torch.float64) * 0.1
    else:
        du, dv, bias = 0.3, 0.9, None
    got = scan_cpu(Feed(a), ScanParams.build(du, dv, bias, 0.5, n, False), steps)
    assert torch.equal(got, reference_float(a, du, dv, bias, 0.5))
    got = scan_cpu(Feed(a), ScanParams.build(du, dv, bias, 0.5, n, False, subtract=True), steps)
    assert torch.equal(got, reference_float(a, du, dv, bias, 0.5, subtract=True))


def test_fused_scan_refuses_a_device_without_a_kernel():
    params = ScanParams.build(0, 4096, None, 64, 1, fixed=True, m=M, shift=6, bits=12)
    with pytest.raises(ValueError, match="no fused LIF scan on meta"):
        FusedScan(params, "meta")


_TRITON_SCRIPT = textwrap.dedent(
    """
    import torch
    from backends.lif_scan import Feed, ScanParams, scan_cuda
    from tests.backends.test_lif_scan import M, reference_fixed, reference_float

    g = torch.Generator().manual_seed(0)
    checked = 0
    for rule, exp, dtype, magnitude in [("dense", -3, torch.int32, 2**20), ("dense", 5, torch.int64, 2**34),
                                        ("conv", 0, torch.float32, 2**23), ("none", 0, torch.int64, 2**40)]:
        sums = torch.randint(-magnitude, magnitude, (5, 3, 7), generator=g).to(dtype)
        du = torch.randint(0, 4095, (7,), generator=g)
        dv = torch.randint(0, 4097, (7,), generator=g)
        bias = torch.randint(-3000, 3000, (7,), generator=g)
        feed = Feed(sums, delay=1, rule=rule, exp=exp)
        for subtract in (False, True):
            params = ScanParams.build(du, dv, bias, 5000 << 6, 7, True, M, 6, 12, subtract)
            want = reference_fixed(feed, du, dv, bias, 5000 << 6, 7, subtract)
            assert torch.equal(scan_cuda(feed, params, 7), want), (rule, subtract)
        checked += 1
    a = torch.randn((6, 3, 7), generator=g, dtype=torch.float64)
    du, dv = torch.rand(7, generator=g, dtype=torch.float64), torch.rand(7, generator=g, dtype=torch.float64)
    got = scan_cuda(Feed(a), ScanParams.build(du, dv, None, 0.5, 7, False), 6)
    assert torch.equal(got, reference_float(a, du, dv, None, 0.5))
    got = scan_cuda(Feed(a), ScanParams.build(du, dv, None, 0.5, 7, False, subtract=True), 6)
    assert torch.equal(got, reference_float(a, du, dv, None, 0.5, subtract=True))
    # a threshold float32 cannot hold: one ulp above 0.3 spikes in float64, not against float32(0.3)
    a = torch.full((1, 1, 2), 0.3, dtype=torch.float64)
    a[0, 0, 1] = torch.nextafter(torch.tensor(0.3, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64))
    got = scan_cuda(Feed(a), ScanParams.build(0.0, 1.0, None, 0.3, 2, False), 1)
    assert got.flatten().tolist() == [0, 1] == reference_float(a, 0.0, 1.0, None, 0.3).flatten().tolist()
    print("checked", checked + 2)
    """
)


def test_triton_kernel_equals_lif_step_in_the_interpreter():
    pytest.importorskip("triton", reason="Triton is not installed (it comes with torch's CUDA builds)")
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, TRITON_INTERPRET="1", PYTHONPATH=str(root))
    done = subprocess.run(
        [sys.executable, "-c", _TRITON_SCRIPT], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "checked 6" in done.stdout


def test_triton_kernels_compile_for_a_gpu_without_one():
    """Triton compiles the kernels to PTX for an H100/H200 (sm_90) here, no GPU needed: the types
    the interpreter does not check hold, and the float kernel has no fused multiply-add (its
    rounding stays the step-by-step torch ops')."""
    triton = pytest.importorskip("triton", reason="Triton is not installed (it comes with torch's CUDA builds)")
    try:
        from triton.backends.compiler import GPUTarget
        from triton.compiler import ASTSource
    except ImportError:
        pytest.skip("this Triton has no offline compile API (triton.compiler.ASTSource)")
    from backends.lif_scan import _cuda_kernels

    kernels = _cuda_kernels()
    target = GPUTarget("cuda", 90, 32)
    ints = ("steps", "fed", "delay", "total", "n")
    fixed = {"sums_ptr": "*i32", "out_ptr": "*i8", "du_ptr": "*i64", "dv_ptr": "*i64", "bias_ptr": "*i64",
             **dict.fromkeys(ints + ("exp", "vth", "m", "shift", "bits"), "i32"), "half": "i64", "low32": "i64",
             "half_w": "i32", "low_w": "i32", "RULE": "constexpr", "SUB": "constexpr",
             "BLOCK": "constexpr"}  # fmt: skip
    for rule, sub in ((0, False), (1, False), (2, False), (1, True)):
        source = ASTSource(kernels["fixed"], fixed, {"RULE": rule, "SUB": sub, "BLOCK": 256})
        assert "st.global" in triton.compile(source, target=target).asm["ptx"]
    floating = {"sums_ptr": "*fp64", "out_ptr": "*i8", "du_ptr": "*fp64", "dv_ptr": "*fp64", "bias_ptr": "*fp64",
                "vth_ptr": "*fp64", **dict.fromkeys(ints, "i32"), "SUB": "constexpr", "BLOCK": "constexpr"}  # fmt: skip
    source = ASTSource(kernels["floating"], floating, {"SUB": False, "BLOCK": 256})
    ptx = triton.compile(source, target=target, options={"enable_fp_fusion": False}).asm["ptx"]
    assert "mul.rn.f64" in ptx and "fma" not in ptx
