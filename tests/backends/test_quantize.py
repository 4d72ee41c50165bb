import numpy as np
import pytest

from backends.graph import lower
from backends.loihi import lava_weights
from backends.profile import load_profile
from backends.quantize import mantissa_grid, quantize_layer
from tests.backends.helpers import random_graph

LOIHI = load_profile("loihi2")


def test_mantissa_grid_is_lavas():
    assert mantissa_grid(mixed=True, bits=8) == (2, -256, 254)  # mixed 8-bit weights are even
    assert mantissa_grid(mixed=False, bits=8) == (1, 0, 255)
    assert mantissa_grid(mixed=True, bits=4) == (32, -256, 224)


@pytest.mark.parametrize("bits", [8, 6, 4])
def test_quantized_weights_survive_lavas_truncation(bits):
    _, g = random_graph("30FC-10FC", (20,))
    profile = load_profile("loihi2" if bits == 8 else f"loihi2-w{bits}")
    for layer in lower(g):
        q = quantize_layer(layer, profile)
        assert np.array_equal(lava_weights(q.weight, bits), q.weight)
        assert np.abs(q.weight).max() >= mantissa_grid(True, bits)[2] - mantissa_grid(True, bits)[0]  # full range
        assert 0 < q.vth < 2**17 and 0 <= q.du <= 4095 and 0 <= q.dv <= 4095
        assert q.error.weight_rel_rms_error < {8: 0.02, 6: 0.06, 4: 0.3}[bits]


def test_threshold_and_decays():
    _, g = random_graph("8FC", (5,), leak=0.5)
    (layer,) = lower(g)
    q = quantize_layer(layer, LOIHI)
    assert q.du == 4095  # du = 1: the current register forgets everything every step
    assert q.dv == 2048  # dv = 0.5 exactly
    assert abs(q.vth / q.scale - 1.0) < 1e-3
    assert q.vth * 64 * LOIHI.headroom <= 2**23


def test_float_profile_has_nothing_to_quantize():
    _, g = random_graph("8FC", (5,))
    with pytest.raises(ValueError, match="float"):
        quantize_layer(lower(g)[0], load_profile("float"))
