import nir
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from backends.graph import lower
from tests.backends.helpers import random_graph


def _lif(shape, tau=2e-3, v_reset=None):
    ones = np.ones(shape, np.float32)
    return nir.LIF(tau=ones * tau, r=ones, v_leak=ones * 0, v_threshold=ones, v_reset=v_reset)


def _graph(nodes: dict, shape):
    names = ["input", *nodes, "output"]
    all_nodes = {"input": nir.Input(np.array(shape)), **nodes, "output": nir.Output(np.array([1]))}
    return nir.NIRGraph(all_nodes, list(zip(names[:-1], names[1:])), type_check=False)


def test_pool_then_conv_folds_into_one_strided_conv():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 2, 3, 3)).astype(np.float32)
    g = _graph(
        {
            "pool": nir.AvgPool2d(np.array([2, 2]), np.array([2, 2]), np.array([0, 0])),
            "conv": nir.Conv2d((4, 4), w, 1, 1, 1, 1, np.zeros(3, np.float32)),
            "lif": _lif((3, 4, 4), tau=1e-3),  # dt/tau = 1: the weights are taken as they are
        },
        (2, 8, 8),
    )
    (layer,) = lower(g)
    assert layer.synapse == "conv" and layer.stride == (2, 2) and layer.weight.shape == (3, 2, 6, 6)
    x = torch.rand(4, 2, 8, 8, dtype=torch.float64)
    expected = F.conv2d(F.avg_pool2d(x, 2), torch.as_tensor(w, dtype=torch.float64), padding=1)
    got = F.conv2d(x, torch.as_tensor(layer.weight), stride=layer.stride, padding=layer.padding)
    assert torch.allclose(got, expected)


def test_pool_flatten_affine_folds_into_a_dense_matrix():
    model, g = random_graph("4C3-AP2-10FC", (2, 6, 6), leak=0.0 + 1.0)
    layers = lower(g)
    assert [layer.synapse for layer in layers] == ["conv", "dense"]
    assert layers[1].weight.shape == (10, 4 * 6 * 6)
    s = (torch.rand(3, 4, 6, 6) < 0.5).double()
    fc = model.layers[4].weight.double()
    expected = F.avg_pool2d(s, 2).flatten(1) @ fc.T
    assert torch.allclose(s.flatten(1) @ torch.as_tensor(layers[1].weight).T, expected)
    assert layers[0].nodes == ["l0_conv", "l1_if"] and layers[1].neuron == "IF"


def test_lif_parameters_become_lava_decays():
    _, g = random_graph("5FC", (3,), leak=0.75)
    (layer,) = lower(g)
    assert layer.du == 1.0 and layer.dv == pytest.approx(0.25) and layer.vth == pytest.approx(1.0)


def test_unsupported_node_named():
    g = _graph({"fc": nir.Affine(np.ones((2, 3)), np.zeros(2)), "thr": nir.Threshold(np.ones(2))}, (3,))
    with pytest.raises(ValueError, match=r"NIR node 'thr' of type Threshold is not supported"):
        lower(g)


def test_branching_graph_rejected():
    nodes = {
        "input": nir.Input(np.array([3])),
        "a": nir.Affine(np.ones((2, 3)), np.zeros(2)),
        "b": nir.Affine(np.ones((2, 3)), np.zeros(2)),
        "lif": _lif((2,)),
        "output": nir.Output(np.array([2])),
    }
    edges = [("input", "a"), ("input", "b"), ("a", "lif"), ("b", "lif"), ("lif", "output")]
    with pytest.raises(ValueError, match="not a feed-forward chain: node 'input' has 2 successors"):
        lower(nir.NIRGraph(nodes, edges, type_check=False))


def test_neuron_parameter_errors():
    g = _graph({"fc": nir.Affine(np.ones((2, 3)), np.zeros(2)), "lif": _lif((2,), v_reset=np.ones(2))}, (3,))
    with pytest.raises(ValueError, match="'lif': v_reset must be 0"):
        lower(g)
    lif = _lif((2,))
    lif.tau = np.array([1e-3, 2e-3])
    g = _graph({"fc": nir.Affine(np.ones((2, 3)), np.zeros(2)), "lif": lif}, (3,))
    with pytest.raises(ValueError, match="per-neuron tau varies"):
        lower(g)
    g = _graph({"lif": _lif((3,)), "fc": nir.Affine(np.ones((2, 3)), np.zeros(2))}, (3,))
    with pytest.raises(ValueError, match="follow the last neuron"):
        lower(g)


def test_per_neuron_thresholds_are_normalised():
    lif = _lif((2,), tau=1e-3)
    lif.v_threshold = np.array([1.0, 2.0])
    g = _graph({"fc": nir.Affine(np.array([[1.0, 1.0], [4.0, 2.0]]), np.zeros(2)), "lif": lif}, (2,))
    (layer,) = lower(g)
    assert layer.vth == 1.0
    assert np.allclose(layer.weight, [[1.0, 1.0], [2.0, 1.0]])
