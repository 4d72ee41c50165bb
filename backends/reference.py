"""Float execution of a lowered network in NIR's reading of time: the float ground truth for any graph.

The reference runs the same :class:`~backends.network.Network` as the emulator and Lava (so the
three accept and refuse the same graphs, and read ``dt``, ``r``, ``w_in`` and ``v_leak`` alike),
in float64 and without the hardware's synaptic delays: a forward projection acts within the step,
as in the frameworks that train these networks (and Norse), and a recurrent projection one step
later (a population's spikes at ``t - 1`` reach itself at ``t``). The neuron update is Lava's float
LIF (:mod:`backends.graph`): ``u = u (1 - du) + a;  v = v (1 - dv) + u + bias;  spike v > vth;  v -> 0``.

Norse's own NIR importer is not used: in norse 1.1.0 it ignores ``r`` for LIF and IF nodes (a
snnTorch graph with ``r = tau / dt`` gives no spikes there), drops ``AvgPool2d`` and flattens the
batch with ``Flatten``; this project's exported networks are checked against the Norse models
that made them instead (``neuroattack.export.validate_export``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from backends.executor import RunResult, check_spikes
from backends.loihi import float_lif_step
from backends.network import BIAS, INPUT, Network, Projection
from backends.profile import FLOAT
from backends.readout import check_rule


def apply_projection(proj: Projection, weight: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """One projection's float map of ``s`` ``[M, *proj.in_shape]`` -> ``[M, *proj.out_shape]``.

    Args:
        proj: the projection (its synapse kind, stride, padding and shapes).
        weight: its weights as a float tensor (``proj.weight``'s layout), e.g. a differentiable copy.
        s: ``M`` source activity vectors (spikes or rates), ``[M, *proj.in_shape]``.

    Returns:
        ``[M, *proj.out_shape]``: ``s @ weight.T`` (dense) or the cross-correlation (conv).

    Example:
        >>> import numpy as np
        >>> proj = Projection("a", "b", "dense", np.eye(2), (2,), (2,))
        >>> apply_projection(proj, torch.eye(2, dtype=torch.float64) * 3, torch.ones(1, 2, dtype=torch.float64))
        tensor([[3., 3.]], dtype=torch.float64)
    """
    m = s.shape[0]
    if proj.synapse == "dense":
        y = s.reshape(m, -1) @ weight.T
    else:
        s = s.reshape(m, s.shape[1], 1, -1) if s.dim() == 3 else s
        y = F.conv2d(s, weight, stride=proj.stride, padding=proj.padding)
    return y.reshape(m, *proj.out_shape)


def simulate(
    network: Network,
    x: torch.Tensor,
    weights: dict[str, torch.Tensor] | None = None,
    spike=None,
    thresholds: dict[str, float] | None = None,
    observe=None,
) -> dict[str, torch.Tensor]:
    """Run a lowered network in float without synaptic delays; differentiable through ``spike``.

    The one definition of the float ground truth: :class:`ReferenceExecutor` runs it without
    gradients, the attack side's differentiable twin of a NIR graph runs it with a surrogate
    ``spike`` function, so the two give the same spikes for the same input.

    Args:
        network: the lowered network (:func:`backends.graph.lower`).
        x: time-first input ``[T, B, *in_shape]`` (float; 0/1 spikes on hardware); it runs on
            ``x``'s device.
        weights: float64 projection weights by projection name, on ``x``'s device (default: the
            network's own).
        spike: ``(v - vth) -> spikes`` with a surrogate gradient; default the step ``v > vth``.
        thresholds: per-population threshold overrides ``{name: vth}`` (float units).
        observe: ``(name, a, v - vth) -> None`` called for every population at every step with its
            synaptic input ``a`` and its membrane potential before the reset minus the threshold
            (``[B, *shape]`` each; the rate-domain gradient estimators average them over time).

    Returns:
        ``{population name: spikes [T, B, *shape]}`` (float64; a non-spiking readout: its membrane
        potential), plus the input and bias sources.

    Example:
        >>> import nir, numpy as np
        >>> from backends.graph import lower
        >>> graph = nir.NIRGraph.from_list(
        ...     nir.Input(np.array([3])), nir.Linear(np.ones((2, 3))),
        ...     nir.IF(r=np.ones(2), v_threshold=np.ones(2)), nir.Output(np.array([2])))
        >>> simulate(lower(graph, dt=1.0), torch.ones(4, 1, 3))["if"].sum().item()  # T=4, B=1
        8.0
    """
    dev = x.device
    if weights is None:
        weights = {p.name: torch.as_tensor(p.weight, dtype=torch.float64, device=dev) for p in network.projections}
    thresholds = thresholds or {}
    steps, batch = x.shape[:2]
    out = {INPUT: x.double(), BIAS: torch.ones((steps, batch, 1), dtype=torch.float64, device=dev)}

    def shares(proj) -> list[tuple[int, torch.Tensor]]:
        """``[(k, weights k steps late)]``: a NIR Delay node's synapses (``[(0, weights)]`` without)."""
        w = weights[proj.name]
        if proj.delays is None:
            return [(0, w)]
        delays = torch.as_tensor(proj.delays, device=w.device)
        return [(int(k), w * (delays == int(k))) for k in torch.unique(delays)]

    for group in network.components():
        members = set(group)
        ext = {}
        for name in group:  # inputs from outside the group, all steps at once
            shape = network.population(name).shape
            a = torch.zeros((steps, batch, *shape), dtype=torch.float64, device=dev)
            for proj in network.incoming(name):
                if proj.source not in members:
                    src = out[proj.source].reshape(steps * batch, *proj.in_shape)
                    for k, w in shares(proj):  # k steps late (NIR Delay); forward projections act within the step
                        if k < steps:
                            y = apply_projection(proj, w, src).reshape(a.shape)
                            a = a + torch.cat([torch.zeros_like(y[:k]), y[: steps - k]])
            ext[name] = a
        params = {}
        for name in group:
            pop = network.population(name)
            params[name] = (
                torch.as_tensor(1 - pop.du, dtype=torch.float64, device=dev).reshape(pop.shape),
                torch.as_tensor(1 - pop.dv, dtype=torch.float64, device=dev).reshape(pop.shape),
                torch.as_tensor(pop.bias, dtype=torch.float64, device=dev).reshape(pop.shape),
                thresholds.get(name, pop.vth),
                pop.reset == "subtract",
                pop.readout,
            )
        inside = {  # each projection within the group with its delays' shares, split once
            name: [(p, shares(p)) for p in network.incoming(name) if p.source in members] for name in group
        }
        state = {name: (torch.zeros_like(ext[name][0]), torch.zeros_like(ext[name][0])) for name in group}
        fired: dict[str, list[torch.Tensor]] = {name: [] for name in group}
        for t in range(steps):
            for name in group:
                a = ext[name][t]
                for proj, split in inside[name]:
                    for k, w in split:
                        step = (t - 1 if proj.recurrent else t) - k
                        if step >= 0:
                            a = a + apply_projection(proj, w, fired[proj.source][step])
                du_keep, dv_keep, bias, vth, subtract, readout = params[name]
                if readout:  # never spikes: its output is its membrane
                    u, v = state[name]
                    u = u * du_keep + a
                    v = v * dv_keep + u + bias
                    state[name] = (u, v)
                    fired[name].append(v)
                    continue
                fn = spike if observe is None else _observed(spike, observe, name, a)
                u, v, z = float_lif_step(*state[name], a, du_keep, dv_keep, bias, vth, fn, subtract)
                state[name] = (u, v)
                fired[name].append(z.double())
        out.update({name: torch.stack(zs) for name, zs in fired.items()})
    return out


def _observed(spike, observe, name: str, a: torch.Tensor):
    """``spike`` (default the step ``d > 0``) that first shows ``(name, a, d)`` to ``observe``."""

    def fn(d: torch.Tensor) -> torch.Tensor:
        observe(name, a, d)
        return spike(d) if spike is not None else (d > 0).to(d.dtype)

    return fn


class ReferenceExecutor:
    """Float execution of a lowered network, no delays: ``run(spikes [B, T, ...]) -> RunResult``.

    Args:
        network: the lowered network (:func:`backends.graph.lower`).
        device: where it computes (float64; results come back on the CPU).
        readout: the rule a non-spiking readout's membrane trace is read by (:mod:`backends.readout`).

    Attributes:
        kind: ``"reference"``.
        profile: :data:`~backends.profile.FLOAT`.
        network: the lowered network.
        in_shape: shape of one time step of input, e.g. ``(2, 34, 34)``.

    Example:
        >>> import nir, numpy as np
        >>> from backends.graph import lower
        >>> graph = nir.NIRGraph.from_list(
        ...     nir.Input(np.array([3])), nir.Linear(np.ones((2, 3))),
        ...     nir.IF(r=np.ones(2), v_threshold=np.ones(2)), nir.Output(np.array([2])))
        >>> result = ReferenceExecutor(lower(graph, dt=1.0)).run(torch.ones(1, 4, 3))  # [B=1, T=4, 3]
        >>> result.window.shape, result.counts
        (torch.Size([1, 4, 2]), tensor([[4., 4.]]))
    """

    kind = "reference"

    def __init__(self, network: Network, device: str | torch.device = "cpu", readout: str = "max"):
        self.readout = check_rule(readout)
        self.network = network
        self.profile = FLOAT
        self.in_shape = network.input_shape
        self.device = torch.device(device)
        self._w = {
            p.name: torch.as_tensor(p.weight, dtype=torch.float64, device=self.device) for p in network.projections
        }

    @torch.no_grad()
    def run(self, spikes, record: bool = False) -> RunResult:
        """Run binary input ``[B, T, *in_shape]`` in float, without synaptic delays.

        Args:
            spikes: binary spikes ``[B, T, *in_shape]`` (tensor or array; see
                :func:`~backends.executor.check_spikes`).
            record: also return every population's spikes.

        Returns:
            a :class:`~backends.executor.RunResult` whose ``window`` and ``output`` are the same
            ``[B, T, n_out]`` tensor (no delays); ``layers`` (with ``record``) one float32
            ``[B, T, *shape]`` per population.

        Raises:
            ValueError: the input is not binary spikes of shape ``[B, T, *in_shape]``, or ``B = 0``.
        """
        x = check_spikes(spikes, self.in_shape)
        if len(x) == 0:
            raise ValueError("hardware input has no samples")
        net = self.network
        batch, steps = x.shape[:2]
        out = simulate(net, x.transpose(0, 1).double().to(self.device), self._w)
        result = out[net.output].transpose(0, 1).reshape(batch, steps, -1).float().cpu()
        layers = [out[p.name].transpose(0, 1).float().cpu() for p in net.populations] if record else None
        return RunResult(result, result, layers, self.readout if net.readout else None)
