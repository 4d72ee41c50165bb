"""The functional core: the emulator's in-place LIF step and the twin's straight-through step are
the same arithmetic as lif_update, for any state (hypothesis)."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from backends.loihi import EXACT, STRAIGHT_THROUGH, activation, lif_step, lif_update

M = 2**23
STATE = st.integers(-(M - 1), M - 1)
ACT = st.integers(-(2**31), 2**31 - 1)


@settings(max_examples=300, deadline=None)
@given(
    u=st.lists(STATE, min_size=4, max_size=4),
    v=st.lists(STATE, min_size=4, max_size=4),
    a=st.lists(ACT, min_size=4, max_size=4),
    du=st.lists(st.integers(0, 4095), min_size=4, max_size=4),
    dv=st.integers(0, 4095),
    bias=st.lists(st.integers(-(2**19), 2**19), min_size=4, max_size=4),
    vth=st.integers(1, 2**17 - 1),
)
def test_in_place_step_and_straight_through_step_equal_lif_update(u, v, a, du, dv, bias, vth):
    u, v, a, b = (torch.tensor(z, dtype=torch.int64) for z in (u, v, a, bias))
    du_keep = 4096 - torch.tensor(du, dtype=torch.int64) - 1
    dv_keep = 4096 - dv
    u_ref, v_ref = lif_update(u, v, a, du_keep, dv_keep, b, M, 6, 12, EXACT)
    spikes_ref = v_ref > (vth << 6)
    v_ref = v_ref.masked_fill(spikes_ref, 0)

    u2, v2 = u.clone(), v.clone()
    spike = torch.zeros(4, dtype=torch.bool)
    u2 = lif_step(u2, v2, a, du_keep, dv_keep, b, vth << 6, M, 6, 12, spike, (torch.empty_like(u), torch.empty_like(u)))
    assert torch.equal(u2, u_ref) and torch.equal(v2, v_ref) and torch.equal(spike, spikes_ref)

    uf, vf = lif_update(
        u.double(), v.double(), a.double(), du_keep.double(), float(dv_keep), b.double(), M, 6, 12, STRAIGHT_THROUGH
    )
    assert torch.equal(uf, u_ref.double()) and torch.equal(vf.masked_fill(spikes_ref, 0), v_ref.double())


@settings(max_examples=200, deadline=None)
@given(acc=st.lists(st.integers(-(2**30), 2**30), min_size=3, max_size=3), exp=st.integers(-8, 7))
def test_activation_is_the_same_exact_and_straight_through(acc, exp):
    acc = torch.tensor(acc, dtype=torch.int64)
    for synapse in ("dense", "conv"):
        exact = activation(acc, synapse, exp, 24, EXACT)
        ste = activation(acc.double(), synapse, exp, 24, STRAIGHT_THROUGH)
        assert torch.equal(exact.double(), ste)
    assert torch.equal(activation(acc, "dense", exp, 24), torch.as_tensor(np.floor(acc.numpy() * 2.0**exp)).long())


def test_straight_through_passes_gradients_through_every_rounding():
    u = torch.tensor([1000.0, -3000.0], dtype=torch.float64, requires_grad=True)
    v = torch.tensor([5000.0, 7.0], dtype=torch.float64, requires_grad=True)
    a = torch.tensor([3.0, -2.0], dtype=torch.float64, requires_grad=True)
    u2, v2 = lif_update(u, v, a, 100.0, 2048.0, None, M, 6, 12, STRAIGHT_THROUGH)
    (v2.sum() + u2.sum()).backward()
    assert torch.all(a.grad == 128) and torch.all(u.grad > 0) and torch.all(v.grad == 0.5)
