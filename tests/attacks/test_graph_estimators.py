"""Rate-domain estimators and CBA on any NIR graph: values of the model, gradients of the papers'
formulas computed by hand on the lowered network, and the same gradients as on the layer-wise
model a graph was exported from."""

import numpy as np
import pytest
import torch

from neuroattack.attacks.estimators import make_estimator
from neuroattack.models.snn import SNN
from neuroattack.replay import graph_of
from neuroattack.victims import NIRSNN
from tests.backends import graphs as G

GRADS = ["bptr", "rga", "hart", "cba"]


def _cuba_lif_graph():
    """Input 6 -> CubaLIF 10 (du < 1: input gain 1/du) -> LIF 4, biases on the first layer."""
    import nir

    rng = np.random.default_rng(3)
    nodes = {
        "input": nir.Input(np.array([6])),
        "fc0": nir.Affine(G.weights(rng, 10, 6, 2.0), np.full(10, 0.05)),
        "cuba": G.cubalif(10, tau_syn=0.002, tau_mem=0.005),
        "fc1": nir.Linear(G.weights(rng, 4, 10, 8.0)),
        "lif": G.lif(4, tau=0.003),
        "output": nir.Output(np.array([4])),
    }
    edges = [("input", "fc0"), ("fc0", "cuba"), ("cuba", "fc1"), ("fc1", "lif"), ("lif", "output")]
    return G.graph(nodes, edges)


def _input(shape=(6,), steps=12, batch=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(steps, batch, *shape, generator=g) < 0.5).double().requires_grad_()


@pytest.mark.parametrize("grad", GRADS)
def test_forward_values_are_the_graphs_own_spikes(grad):
    model = NIRSNN(G.recurrent(scale=10.0, rec_scale=6.0, neuron=lambda n: G.lif(n, tau=0.002)))
    x = _input()
    with torch.no_grad():
        expected = model(x)
    out = make_estimator(grad).output(model, x)
    assert expected.sum() > 0 and torch.equal(out.detach(), expected)
    (g,) = torch.autograd.grad(out.sum(), x)
    assert torch.isfinite(g).all() and g.abs().sum() > 0  # the gradient crossed the recurrent layer


def test_bptr_on_a_cubalif_graph_is_the_hand_computed_rate_gradient():
    """dL/dx(t) = 1/T W0^T (G0 * W1^T (G1 * w)), G = (1/du)/vth * 1[rate > 0], from the lowered
    weights and the populations' decays, for L = w . mean_t out."""
    model = NIRSNN(_cuba_lif_graph())
    net = model.network
    x = _input()
    out = make_estimator("bptr").output(model, x)
    w = torch.tensor([1.0, -2.0, 0.5, 3.0])
    (g,) = torch.autograd.grad((out.mean(0) * w).sum(), x)
    with torch.no_grad():
        rates = {k: v.mean(0).numpy() for k, v in model.simulate(x).items()}
    cuba, lif = net.population("cuba"), net.population("lif")
    assert (cuba.du < 1).all() and (rates["cuba"] > 0).any() and (rates["cuba"] == 0).any()
    w0 = next(p for p in net.incoming("cuba") if p.source == "input").weight
    w1 = next(p for p in net.incoming("lif")).weight
    g0 = (1 / cuba.du) / cuba.vth * (rates["cuba"] > 0)  # [B, 10]
    g1 = (1 / lif.du) / lif.vth * (rates["lif"] > 0)  # [B, 4]
    expected = ((g0 * ((g1 * w.numpy()) @ w1)) @ w0) / x.shape[0]  # [B, 6], the same at every step
    np.testing.assert_allclose(g.numpy(), np.broadcast_to(expected, g.shape), rtol=1e-6, atol=1e-12)


def test_cba_on_a_graph_is_the_relu_network_of_its_projections():
    """ReLU(kappa/theta * c) per hidden population, kappa/theta * c at the output (the logits)."""
    model = NIRSNN(_cuba_lif_graph())
    net = model.network
    x = _input()
    image = torch.rand(5, 6, generator=torch.Generator().manual_seed(2), dtype=torch.float64, requires_grad=True)
    out = make_estimator("cba").output(model, x, image)
    (g,) = torch.autograd.grad(out.mean(0)[:, 1].sum(), image)
    cuba, lif = net.population("cuba"), net.population("lif")
    bias = next(p for p in net.incoming("cuba") if p.source != "input")  # the affine bias, via the current
    w0 = torch.as_tensor(next(p for p in net.incoming("cuba") if p.source == "input").weight)
    w1 = torch.as_tensor(next(p for p in net.incoming("lif")).weight)
    z = image.detach().clone().requires_grad_()
    h = torch.relu(torch.as_tensor(1 / cuba.du / cuba.vth) * (z @ w0.T + torch.as_tensor(bias.weight[:, 0])))
    logits = torch.as_tensor(1 / lif.du / lif.vth) * (h @ w1.T)  # the output layer: no ReLU
    (expected,) = torch.autograd.grad(logits[:, 1].sum(), z)
    assert expected.abs().sum() > 0
    torch.testing.assert_close(g, expected)


@pytest.mark.parametrize("grad", GRADS)
def test_a_graph_gets_the_gradient_of_the_model_it_was_exported_from(grad):
    """The layer-wise estimators on a spec model and the graph estimators on its NIR export are two
    implementations of one formula: the same input gradient (weights fold the input gain)."""
    torch.manual_seed(0)
    snn = SNN("12FC-5FC", (8,), init_scale=3.0)
    model = NIRSNN(graph_of(snn, 10))
    x = _input((8,), steps=10, seed=4).float().detach()
    grads = []
    for m in (snn, model):
        xi = x.clone().double().requires_grad_() if m is model else x.clone().requires_grad_()
        image = torch.rand(5, 8, generator=torch.Generator().manual_seed(1))
        image = image.double().requires_grad_() if m is model else image.requires_grad_()
        out = make_estimator(grad).output(m, xi.to(torch.float32) if m is snn else xi, image)
        target = image if grad == "cba" else xi
        (g,) = torch.autograd.grad((out.mean(0) * torch.arange(1.0, 6.0)).sum(), target)
        grads.append(g.double())
    assert torch.equal(snn(x).detach(), model(x.double()).detach())  # the same spikes
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-4, atol=1e-6)
