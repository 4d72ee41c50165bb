"""``backends.read_graph``: NIR files as frameworks write them are read, adapted in one place with a warning."""

import warnings
from pathlib import Path

import numpy as np
import pytest

import backends

FIXTURES = Path(__file__).parents[1] / "fixtures"


def test_the_braille_rnn_norse_and_rockpool_test_with_reads_as_written():
    """A NIR 0.2 file (``Input`` written as ``shape = [12]``, snnTorch's recurrent ``RSynaptic`` flattened
    to ``lif1.lif`` and ``lif1.w_rec``): read with nothing adapted, lowered at snnTorch's step."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to adapt: no warning
        graph = backends.read_graph(FIXTURES / "braille.nir")
    kinds = {k: type(n).__name__ for k, n in graph.nodes.items()}
    assert kinds == {
        "input": "Input",
        "fc1": "Affine",
        "lif1.lif": "CubaLIF",
        "lif1.w_rec": "Affine",
        "fc2": "Affine",
        "lif2": "CubaLIF",
        "output": "Output",
    }
    lif = graph.nodes["lif1.lif"]
    # snnTorch's convention (r = tau_mem / dt, w_in = tau_syn / dt) names its step: 1e-4 s
    assert np.allclose(lif.r * 1e-4 / lif.tau_mem, 1, rtol=1e-6)
    assert np.allclose(lif.w_in * 1e-4 / lif.tau_syn, 1, rtol=1e-6)
    net = backends.lower(graph, dt=1e-4)
    assert net.input_shape == (12,) and [p.name for p in net.populations] == ["lif1.lif", "lif2"]
    assert [(p.source, p.target) for p in net.projections if p.recurrent] == [("lif1.lif", "lif1.lif")]
    spikes = (np.random.default_rng(0).random((2, 20, 12)) < 0.3).astype(np.float32)
    assert backends.load(graph, "loihi2", "emulator", dt=1e-4).run(spikes).output.shape == (2, 20, 7)
    with pytest.raises(backends.GraphError, match=r"tau_syn\[0\] = 0.000222222 s is below the time step dt = 0.001"):
        backends.lower(graph, dt=1e-3)  # the guessed 1 ms is longer than its synaptic time constant
