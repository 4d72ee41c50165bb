import numpy as np
import pytest

from backends.graph import lower
from backends.loihi import lava_weights
from backends.profile import load_profile
from backends.quantize import mantissa_grid, quantize
from tests.backends import graphs as G

LOIHI = load_profile("loihi2")


def test_mantissa_grid_is_lavas():
    assert mantissa_grid(mixed=True, bits=8) == (2, -256, 254)  # mixed 8-bit weights are even
    assert mantissa_grid(mixed=False, bits=8) == (1, 0, 255)
    assert mantissa_grid(mixed=True, bits=4) == (32, -256, 224)


@pytest.mark.parametrize("bits", [8, 6, 4])
def test_quantized_weights_survive_lavas_truncation(bits):
    profile = load_profile("loihi2" if bits == 8 else f"loihi2-w{bits}")
    qnet = quantize(lower(G.chain([20, 30, 10], G.lif)), profile)
    for q in qnet.projections:
        assert np.array_equal(lava_weights(q.weight, bits), q.weight)
        assert np.abs(q.weight).max() >= mantissa_grid(True, bits)[2] - mantissa_grid(True, bits)[0]  # full range
    for q in qnet.populations:
        assert 0 < q.vth < 2**17 and np.all((0 <= q.du) & (q.du <= 4095)) and np.all((0 <= q.dv) & (q.dv <= 4095))
        assert q.error.weight_rel_rms_error < {8: 0.02, 6: 0.06, 4: 0.3}[bits]


def test_threshold_and_decays():
    qnet = quantize(lower(G.chain([5, 8], lambda n: G.lif(n, tau=0.002))), LOIHI)
    (q,) = qnet.populations
    assert np.all(q.du == 4095)  # du = 1: the current register forgets everything every step
    assert np.all(q.dv == 2048)  # dv = 0.5 exactly
    assert abs(q.vth / q.scale - 1.0) < 1e-3
    assert q.vth * 64 * LOIHI.headroom <= 2**23


def test_projections_into_one_population_share_its_scale_with_their_own_exponents():
    """A skip connection with 16x smaller weights keeps its precision: a smaller weight_exp."""
    net = lower(G.skip())
    small = next(p for p in net.projections if p.name == "a->out")
    small.weight = small.weight / 16
    qnet = quantize(net, LOIHI)
    big_q = next(p for p in qnet.projections if p.name == "b->out")
    small_q = next(p for p in qnet.projections if p.name == "a->out")
    assert small_q.weight_exp == big_q.weight_exp - 4
    scale = qnet.population("out").scale
    for q, f in ((big_q, net.projections[[p.name for p in net.projections].index("b->out")]), (small_q, small)):
        back = q.weight * 2.0**q.weight_exp / scale
        assert np.abs(back - f.weight).max() <= 2.0**q.weight_exp / scale  # within one mantissa step


def test_float_profile_has_nothing_to_quantize():
    with pytest.raises(ValueError, match="float"):
        quantize(lower(G.chain([5, 8], G.lif)), load_profile("float"))


def _in_steps(tmp_path):
    """A NIR file of IF neurons whose time constants are in steps (sinabs writes them so): at dt = 1 s the
    weights are 2e-3 of the threshold; at the guessed 1 ms they are 2e-6, below Loihi's smallest ratio."""
    import nir

    weight = np.random.default_rng(0).uniform(-2e-3, 2e-3, (4, 6))
    graph = nir.NIRGraph.from_list(
        nir.Input(np.array([6])),
        nir.Linear(weight),
        nir.IF(r=np.ones(4), v_threshold=np.ones(4), v_reset=np.zeros(4)),
        nir.Output(np.array([4])),
    )
    nir.write(tmp_path / "steps.nir", graph)
    return tmp_path / "steps.nir"


def test_a_threshold_out_of_range_names_the_time_step_and_the_range_that_fits(tmp_path):
    import re

    import backends

    path = _in_steps(tmp_path)
    with pytest.warns(UserWarning, match="guessed dt = 0.001 s"), pytest.raises(ValueError) as err:
        backends.load(path, "loihi2", "emulator")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("population 'if': threshold ") and "does not fit 17 bits" in message
    assert "at dt = 0.001 s" in message and "too small" in message
    assert "sinabs/spyx: 1 s, 1000x the dt used" in message and "--dt / --framework" in message
    low, high = (float(x) for x in re.search(r"fits for dt from (\S+) to (\S+) s", message).groups())
    assert 1e-3 < low < 1 < high
    backends.load(path, "loihi2", "emulator", dt=low)  # the bounds are inside: both load
    backends.load(path, "loihi2", "emulator", dt=high)
    with pytest.raises(ValueError, match="does not fit"):
        backends.load(path, "loihi2", "emulator", dt=low * 0.99)
    spikes = np.ones((1, 3, 6), np.float32)
    with pytest.warns(UserWarning, match="assumed sinabs.s convention dt = 1 s"):
        executor = backends.load(path, "loihi2", "emulator", framework="sinabs")
    assert executor.run(spikes).output.shape == (1, 3, 4)
