"""The time step of a NIR graph: each exporter's convention (``backends.timestep.FRAMEWORK_DT``)."""

import nir
import numpy as np
import pytest

import backends

BETA = np.array([0.5, 0.75, 0.9, 0.95])


def spyx_graph() -> nir.NIRGraph:
    """A network as spyx 1.0's ``to_nir(model, input_shape, output_shape)`` writes it (its default dt = 1):
    nodes ``layer_i``, ``LIF(tau = dt / (1 - beta), r = beta, v_leak = 0)`` and no ``v_reset``."""
    dt = 1.0
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([3])),
            "layer_0": nir.Affine(np.random.default_rng(0).normal(0, 1, (4, 3)), np.zeros(4)),
            "layer_1": nir.LIF(tau=dt / (1 - BETA), r=BETA, v_leak=np.zeros(4), v_threshold=np.ones(4)),
            "output": nir.Output(np.array([4])),
        },
        edges=[("input", "layer_0"), ("layer_0", "layer_1"), ("layer_1", "output")],
    )


def test_spyx_writes_its_time_constants_in_steps(tmp_path):
    nir.write(tmp_path / "spyx.nir", spyx_graph())
    graph = backends.read_graph(tmp_path / "spyx.nir")
    with pytest.warns(UserWarning, match="assumed spyx's convention dt = 1 s"):
        net = backends.lower(graph, framework="spyx")
    assert net.dt == 1.0
    (pop,) = net.populations
    assert np.allclose(pop.dv, 1 - BETA)  # spyx's own decay per step: v = beta v + x
    graph.metadata["framework"] = "spyx"  # named by the file as well as by the caller
    with pytest.warns(UserWarning, match="assumed spyx's convention"):
        assert backends.lower(graph).dt == 1.0
