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
from backends.network import BIAS, INPUT, Network
from backends.profile import FLOAT


class ReferenceExecutor:
    """Float execution of a lowered network, no delays: ``run(spikes [B, T, ...]) -> RunResult``.

    Args:
        network: the lowered network (:func:`backends.graph.lower`).

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

    def __init__(self, network: Network):
        self.network = network
        self.profile = FLOAT
        self.in_shape = network.input_shape
        self._w = {p.name: torch.as_tensor(p.weight, dtype=torch.float64) for p in network.projections}

    def _apply(self, proj, s: torch.Tensor) -> torch.Tensor:
        """Projection ``proj`` on source spikes ``[m, *in_shape]`` -> ``[m, *out_shape]`` (float64)."""
        m = s.shape[0]
        w = self._w[proj.name]
        if proj.synapse == "dense":
            out = s.reshape(m, -1).double() @ w.T
        else:
            x = s.double()
            x = x.reshape(m, x.shape[1], 1, -1) if x.dim() == 3 else x
            out = F.conv2d(x, w, stride=proj.stride, padding=proj.padding)
        return out.reshape(m, *proj.out_shape)

    def _params(self, name: str):
        pop = self.network.population(name)
        shape = pop.shape
        return (
            torch.as_tensor(1 - pop.du, dtype=torch.float64).reshape(shape),
            torch.as_tensor(1 - pop.dv, dtype=torch.float64).reshape(shape),
            torch.as_tensor(pop.bias, dtype=torch.float64).reshape(shape),
            pop.vth,
        )

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
        out = {INPUT: x.transpose(0, 1).double(), BIAS: torch.ones((steps, batch, 1), dtype=torch.float64)}
        for group in net.components():
            members = set(group)
            ext = {}
            for name in group:  # inputs from outside the group, all steps at once
                a = torch.zeros((steps, batch, *net.population(name).shape), dtype=torch.float64)
                for proj in net.incoming(name):
                    if proj.source not in members:
                        src = out[proj.source]
                        a += self._apply(proj, src.reshape(steps * batch, *proj.in_shape)).reshape(a.shape)
                ext[name] = a
            params = {name: self._params(name) for name in group}
            state = {name: (torch.zeros_like(ext[name][0]), torch.zeros_like(ext[name][0])) for name in group}
            fired = {name: torch.zeros_like(ext[name]) for name in group}
            for t in range(steps):
                for name in group:
                    a = ext[name][t].clone()
                    for proj in net.incoming(name):
                        if proj.source in members:
                            step = t - 1 if proj.recurrent else t
                            if step >= 0:
                                a += self._apply(proj, fired[proj.source][step])
                    du_keep, dv_keep, bias, vth = params[name]
                    u, v = state[name]
                    u = u * du_keep + a
                    v = v * dv_keep + u + bias
                    spike = v > vth
                    state[name] = (u, torch.where(spike, torch.zeros_like(v), v))
                    fired[name][t] = spike.double()
            out.update(fired)
        result = out[net.output].transpose(0, 1).reshape(batch, steps, -1).float()
        layers = [out[p.name].transpose(0, 1).float() for p in net.populations] if record else None
        return RunResult(result, result, layers)
