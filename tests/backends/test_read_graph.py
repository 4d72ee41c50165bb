"""``backends.read_graph``: NIR files as frameworks write them are read, adapted in one place with a warning."""

import warnings
from pathlib import Path

import nir
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


def _conv_graph(input_shape, channels):
    """Input -> Conv2d (3x3, ``channels`` in, 4 out) -> IF -> Output; the maps are 8 x 8."""
    weight = np.random.default_rng(0).normal(0, 1, (4, channels, 3, 3))
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array(input_shape)),
            "conv": nir.Conv2d((8, 8), weight, 1, 0, 1, 1, np.zeros(4)),
            "if": nir.IF(r=np.ones((4, 6, 6)), v_threshold=np.ones((4, 6, 6)), v_reset=np.zeros((4, 6, 6))),
            "output": nir.Output(np.array([4, 6, 6])),
        },
        edges=[("input", "conv"), ("conv", "if"), ("if", "output")],
        metadata={"dt": 1.0},
        type_check=False,
    )


def _dense_graph(input_shape):
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array(input_shape)),
            "fc": nir.Linear(np.full((4, 6), 0.5)),
            "if": nir.IF(r=np.ones(4), v_threshold=np.ones(4), v_reset=np.zeros(4)),
            "output": nir.Output(np.array([4])),
        },
        edges=[("input", "fc"), ("fc", "if"), ("if", "output")],
        metadata={"dt": 1.0},
        type_check=False,
    )


@pytest.mark.parametrize(
    "graph, written, read, what",
    [
        (_conv_graph([1, 2, 8, 8], 2), [1, 2, 8, 8], (2, 8, 8), "keeps a leading batch/time dimension of 1"),
        (_conv_graph([8, 8], 1), [8, 8], (1, 8, 8), "lacks the leading channel dimension of 1"),
        (_dense_graph([1, 6]), [1, 6], (6,), "keeps a leading batch/time dimension of 1"),
    ],
)
def test_an_input_off_its_first_layer_by_a_leading_one_is_fitted_with_a_warning(tmp_path, graph, written, read, what):
    nir.write(tmp_path / "net.nir", graph)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted = backends.read_graph(tmp_path / "net.nir")
    messages = [str(w.message) for w in caught]
    expected = f"Input node 'input' of shape {written} {what}"
    assert any(expected in m and f"read as {list(read)}" in m and "net.nir" in m for m in messages), messages
    assert tuple(fitted.nodes["input"].input_type["input"]) == read
    net = backends.lower(fitted)
    assert net.input_shape == read
    spikes = np.ones((2, 3, *read), np.float32)
    assert backends.load(fitted, "loihi2", "emulator").run(spikes).counts.shape[0] == 2
    assert list(graph.nodes["input"].input_type["input"]) == written  # a graph given is left as it was


def test_an_input_that_fits_or_differs_otherwise_is_left_as_written():
    fits = _conv_graph([2, 8, 8], 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert backends.read_graph(fits) is fits
        other = _conv_graph([1, 2, 8, 8], 3)  # three channels taken, two written: not a leading 1
        assert backends.read_graph(other) is other
    with pytest.raises(backends.GraphError, match="'conv' .* cannot take input of shape"):
        backends.lower(other)


def test_a_graph_given_is_fitted_too_where_the_conv_leaves_its_map_size_open():
    graph = _conv_graph([1, 2, 8, 8], 2)
    graph.nodes["conv"] = nir.Conv2d(None, graph.nodes["conv"].weight, 1, 0, 1, 1, np.zeros(4))
    with pytest.warns(
        UserWarning, match=r"NIR graph: Input node 'input' .* takes \[2, \*, \*\]\); read as \[2, 8, 8\]"
    ):
        fitted = backends.read_graph(graph)
    assert backends.lower(fitted).input_shape == (2, 8, 8)
