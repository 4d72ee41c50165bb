"""An exporter's departures from NIR's equations are read where ``framework=`` names it (backends/frameworks.py).

The oracle is rockpool itself: before a neuron first spikes its reset does not matter, so the
step of each neuron's first spike is what rockpool's equations give, and what the file must give
when read with rockpool's conventions.
"""

import warnings

import nir
import numpy as np
import pytest
import torch

import backends
from backends.frameworks import adapt

pytest.importorskip("rockpool", reason="the interop extra (pip install .[interop]) is not installed")

DT = 1e-3


def _rockpool_layer(kind):
    """A one-layer rockpool network (``LinearTorch`` then ``kind``) and its NIR export."""
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LIFNeuronTorch, LIFTorch, LinearTorch, to_nir

    g = torch.Generator().manual_seed(1)
    weight = (torch.rand((6, 5), generator=g) * 2 - 1) * 1.5
    neuron = (
        LIFTorch(5, tau_mem=20e-3, tau_syn=5e-3, dt=DT) if kind == "cuba" else LIFNeuronTorch(5, tau_mem=20e-3, dt=DT)
    )
    net = Sequential(LinearTorch((6, 5), weight=weight), neuron)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = to_nir(net)
    return net, graph


def _first_spike(spikes: np.ndarray) -> np.ndarray:
    """``[B, n]``: the step of each neuron's first spike, -1 if it never spikes."""
    fired = spikes > 0
    return np.where(fired.any(1), fired.argmax(1), -1)


def _x():
    return (np.random.default_rng(3).random((4, 30, 6)) < 0.3).astype(np.float32)


def _reference(graph, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return backends.load(graph, None, "reference", dt=DT, **kw).run(_x()).output.numpy()


@pytest.mark.parametrize("kind", ["cuba", "lif"])
def test_rockpool_files_read_with_its_conventions_spike_first_when_rockpool_does(kind):
    net, graph = _rockpool_layer(kind)
    net.reset_state()
    with torch.no_grad():
        own, _, _ = net(torch.from_numpy(_x()))
    own = _first_spike(own.numpy())
    assert (own >= 0).mean() >= 0.5  # most neurons spike: the comparison says something
    np.testing.assert_array_equal(_first_spike(_reference(graph, framework="rockpool")), own)


def test_rockpool_cubalif_read_by_nirs_equations_gets_a_quarter_of_its_current():
    """Why the adaptation exists: w_in = 1 and r = tau_mem exp(-dt/tau_mem) / dt give an input gain of
    (dt/tau_syn) exp(-dt/tau_mem) = 0.19 against rockpool's exp(-dt/tau_syn) = 0.82."""
    _, graph = _rockpool_layer("cuba")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        as_spec, as_rockpool = backends.lower(graph, dt=DT), backends.lower(graph, dt=DT, framework="rockpool")
    gain = as_rockpool.projections[0].weight / as_spec.projections[0].weight
    np.testing.assert_allclose(gain, np.exp(-0.2) / (0.2 * np.exp(-0.05)), rtol=1e-6)
    assert _reference(graph).sum() < _reference(graph, framework="rockpool").sum() / 2


def test_the_adaptation_warns_once_and_only_for_rockpool():
    _, graph = _rockpool_layer("cuba")
    with pytest.warns(UserWarning, match="read as rockpool computes them"):
        read = adapt(graph, "rockpool", dt=DT)
    assert read is not graph and read.metadata["dt"] == DT
    assert adapt(read, "rockpool") is read  # already adapted: not twice
    assert adapt(graph, "snntorch") is graph and adapt(graph) is graph
    np.testing.assert_array_equal(graph.nodes["1_LIFTorch"].w_in, 1.0)  # the caller's graph is unchanged


def test_a_time_step_that_rockpools_r_contradicts_is_refused_naming_the_one_it_implies():
    _, graph = _rockpool_layer("cuba")
    name = next(k for k, v in graph.nodes.items() if isinstance(v, nir.CubaLIF))
    with pytest.raises(backends.GraphError, match=rf"NIR node '{name}': r\[0\] = 19\.02.* implies dt = 0\.001 s"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            backends.lower(graph, dt=5e-4, framework="rockpool")
