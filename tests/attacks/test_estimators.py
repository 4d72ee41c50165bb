"""Every estimator keeps the model's forward spikes and gives the gradient its paper defines."""

import pytest
import torch

from neuroattack.attacks.estimators import ESTIMATORS, make_estimator
from neuroattack.attacks.estimators.rga import rga_slope
from neuroattack.losses import mse_loss
from neuroattack.models.ann import ANN
from neuroattack.models.neurons import NeuronConfig
from neuroattack.models.snn import SNN
from neuroattack.models.surrogates import RectSurrogate, triangle_derivative

T, B = 6, 4


def tiny(cfg=NeuronConfig(leak=0.5, threshold=1.0, surrogate="rect", surrogate_width=3.0), seed=0):
    torch.manual_seed(seed)
    model = SNN("7FC-3FC", (5,), cfg, init_scale=1.5).eval()
    return model


def spikes(seed=1, shape=(T, B, 5), p=0.5):
    return (torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) < p).float()


SNN_ESTIMATORS = sorted(set(ESTIMATORS) - {"ann"})  # "ann" differentiates an ANN victim itself


@pytest.mark.parametrize("name", SNN_ESTIMATORS)
@pytest.mark.parametrize(
    "cfg",
    [
        NeuronConfig(leak=0.5),
        NeuronConfig(leak=1.0),
        NeuronConfig(leak=0.9, reset="soft"),
        NeuronConfig(leak=0.7, synapse="current"),
    ],
)
def test_forward_spikes_are_the_models(name, cfg):
    torch.manual_seed(3)
    model = SNN("4C3-AP2-6FC-3FC", (2, 6, 6), cfg, init_scale=6.0).eval()
    x = spikes(shape=(T, B, 2, 6, 6), p=0.4)
    expected = model(x)
    est = make_estimator(name)
    out = est.output(model, x.clone().requires_grad_(), image=x.mean(0))
    assert torch.equal(out.detach(), expected)
    assert expected.sum() > 0  # the check is not vacuous


def _reference_forward(model, x):
    """Hand-unrolled LIF of the papers: v = lambda v + (1 - lambda) W s; spike; hard reset.

    Returns output spikes, per-layer pre-reset membranes ``[T, B, n]``, weights, per-layer
    inputs and per-layer spikes.
    """
    lam = model.neuron.leak
    theta = model.neuron.threshold
    width = model.neuron.surrogate_width
    weights = [m.weight for m in model.layers if isinstance(m, torch.nn.Linear)]
    h = x
    membranes, inputs, layer_spikes = [], [], []
    for w in weights:
        inputs.append(h.detach())
        v = torch.zeros(h.shape[1], w.shape[0])
        out, mem = [], []
        for t in range(h.shape[0]):
            v = lam * v + (1 - lam) * (h[t] @ w.T)
            mem.append(v.detach())
            z = RectSurrogate.apply(v - theta, torch.tensor(width))
            v = (1 - z) * v
            out.append(z)
        h = torch.stack(out)
        membranes.append(torch.stack(mem))
        layer_spikes.append(h.detach())
    return h, membranes, weights, inputs, layer_spikes


def test_stbp_is_bptt_through_the_lif_recurrence():
    model = tiny()
    x = spikes().requires_grad_()
    labels = torch.tensor([0, 1, 2, 0])
    ref_out = _reference_forward(model, x)[0]
    (g_ref,) = torch.autograd.grad(mse_loss(ref_out, labels).sum(), x)
    x2 = x.detach().clone().requires_grad_()
    out = make_estimator("stbp").output(model, x2)
    assert torch.equal(out.detach(), ref_out.detach())
    (g,) = torch.autograd.grad(mse_loss(out, labels).sum(), x2)
    assert g.abs().sum() > 0
    assert torch.allclose(g, g_ref, atol=1e-6)


def _rate_reference(model, x, labels, local):
    """dL/dx(t) by the merged per-step rule: [dL/dm] = 1/T sum_t dL/ds(t) * local_t."""
    out, membranes, weights, _, _ = _reference_forward(model, x)
    rate = out.mean(0).detach().requires_grad_()
    (g_rate,) = torch.autograd.grad(mse_loss(rate.unsqueeze(0), labels).sum(), rate)
    kappa = 1 - model.neuron.leak
    steps = x.shape[0]
    upstream = [g_rate / steps] * steps  # dL/ds^L(t)
    for layer in reversed(range(len(weights))):
        merged = sum(upstream[t] * local(layer, t, membranes) for t in range(steps)) / steps
        upstream = [(merged * kappa) @ weights[layer] for _ in range(steps)]
    return torch.stack(upstream)


def test_hart_equals_the_merged_per_step_rule():
    gamma = 0.8
    model = tiny()
    x = spikes()
    labels = torch.tensor([0, 1, 2, 0])
    theta = model.neuron.threshold
    ref = _rate_reference(model, x, labels, lambda i, t, m: triangle_derivative(m[i][t] - theta, gamma))
    xg = x.clone().requires_grad_()
    out = make_estimator("hart", gamma=gamma).output(model, xg)
    (g,) = torch.autograd.grad(mse_loss(out, labels).sum(), xg)
    assert g.abs().sum() > 0
    assert torch.allclose(g, ref, atol=1e-6)
    # rate attribute: the same gradient at every time step
    assert torch.allclose(g, g[:1].expand_as(g))


def test_bptr_and_rga_follow_their_rate_rules():
    model = tiny()
    x = spikes()
    labels = torch.tensor([2, 1, 0, 1])
    _, _, weights, inputs, layer_spikes = _reference_forward(model, x)
    lam, theta = model.neuron.leak, model.neuron.threshold
    kappa = 1 - lam
    currents = [(inp @ w.T).mean(0) for inp, w in zip(inputs, weights)]
    rates = [s.mean(0) for s in layer_spikes]
    gains = {
        "bptr": lambda i: (kappa / theta) * (rates[i] > 0).float(),
        "rga": lambda i: (kappa / theta) * rga_slope(kappa * currents[i] / theta, lam),
    }
    for name, gain in gains.items():
        ref = _rate_reference(model, x, labels, lambda i, t, m, gain=gain: gain(i) / kappa)
        xg = x.clone().requires_grad_()
        out = make_estimator(name).output(model, xg)
        (g,) = torch.autograd.grad(mse_loss(out, labels).sum(), xg)
        assert g.abs().sum() > 0, name
        assert torch.allclose(g, ref, atol=1e-6), name


def _rate_bp_backward(x: torch.Tensor, tau: float) -> torch.Tensor:
    """The RGA backward of the HART authors' public code (hzc1208/HART_Attack, models/layers.py,
    RateBp.backward), transcribed line by line with its constants: the oracle."""
    gamma, ext, des = 0.2, 1, 1
    return (x >= 1 - tau).float() * (x <= 1 + ext).float() * (des - gamma + gamma * tau) / (tau + ext) + (
        x <= 1 - tau
    ).float() * (x >= 0).float() * gamma


@pytest.mark.parametrize("tau", [0.25, 0.5, 0.9, 1.0])
def test_rga_slope_is_the_published_implementations(tau):
    u = torch.cat([torch.linspace(-0.5, 3.0, 141), torch.tensor([0.0, 1 - tau, 2.0])])  # edges included
    assert torch.allclose(rga_slope(u, tau), _rate_bp_backward(u, tau))


def test_rga_slope_by_hand():
    # tau = 0.5: gamma 0.2 on [0, 0.5]; (1 - 0.2 + 0.1) / 1.5 = 0.6 on [0.5, 2]; both at 0.5
    u = torch.tensor([-0.1, 0.0, 0.3, 0.5, 1.5, 2.0, 2.5])
    assert torch.allclose(rga_slope(u, 0.5), torch.tensor([0.0, 0.2, 0.2, 0.8, 0.6, 0.6, 0.0]))


def test_cba_agrees_in_sign_with_finite_differences_of_the_ann_twin():
    model = tiny(NeuronConfig(leak=1.0, threshold=1.0))
    image = torch.rand(B, 5, generator=torch.Generator().manual_seed(4))
    labels = torch.tensor([0, 1, 2, 1])
    x = (image.unsqueeze(0).expand(T, -1, -1) > 0.5).float()
    xi = image.clone().requires_grad_()
    out = make_estimator("cba").output(model, x, image=xi)
    (g,) = torch.autograd.grad(mse_loss(out, labels).sum(), xi)
    rate = out.mean(0).detach().requires_grad_()
    (upstream,) = torch.autograd.grad(mse_loss(rate.unsqueeze(0), labels).sum(), rate)
    ann = ANN.from_snn(model)

    def f(img):
        return (ann(img) * upstream).sum(1)  # per sample

    h = 1e-3
    fd = torch.zeros_like(image)
    for j in range(image.shape[1]):
        e = torch.zeros_like(image)
        e[:, j] = h
        fd[:, j] = (f(image + e) - f(image - e)).detach() / (2 * h)
    big = fd.abs() > 1e-4
    assert big.sum() > 5
    assert torch.equal(torch.sign(g[big]), torch.sign(fd[big]))


def test_bad_estimator_options():
    with pytest.raises(ValueError, match="gradient estimator must be one of"):
        make_estimator("bppt")
    with pytest.raises(ValueError, match="gamma"):
        make_estimator("hart", gamma=0.0)
