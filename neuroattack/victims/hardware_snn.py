"""Hardware-in-the-loop: attacks crafted directly against the quantized (Loihi-style) execution.

:class:`HardwareSNN` is a differentiable twin of :class:`backends.emulator.EmulatorExecutor`, built
on the same functional core (:mod:`backends.loihi`: :func:`~backends.loihi.activation` and
:func:`~backends.loihi.lif_update` with straight-through rounding): its forward pass is the emulator's integer
arithmetic (Lava's weight truncation, ``weight_exp`` shifts, one-step synaptic delays on every projection
(skip and recurrent ones included), per-neuron 12-bit decays
with truncation toward zero, 24-bit wrap and saturation, ``v > vth << 6``, reset to 0 or by
subtraction as the population says), computed on
integer-valued float64 tensors, so its output spikes over the hardware window equal the emulator's
(and Lava's) exactly. Its backward pass uses the model's surrogate derivative at the threshold (in
float units) and a straight-through estimator over every rounding, truncation and wrap. Crafting
against it answers whether the hardware is more robust or only differently vulnerable: compare with
adversarial inputs crafted in float simulation and transferred.

Only BPTT through these dynamics (``grad="stbp"``) is defined for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import backends
from backends.loihi import STRAIGHT_THROUGH, activation, applied_bias, applied_weights, lif_update
from backends.network import BIAS, INPUT
from neuroattack.models.neurons import SURROGATES
from neuroattack.models.snn import SNN
from neuroattack.models.surrogates import threshold


class HardwareSNN(nn.Module):
    """The fixed-point twin of a trained SNN on a hardware profile (see the module docstring).

    Args:
        model: the trained float :class:`~neuroattack.models.snn.SNN`, or any NIR graph as a
            :class:`~neuroattack.victims.nir_snn.NIRSNN` (its lowering is used as it is).
        profile: a fixed-point hardware profile (a bundled name such as ``"loihi2"``, a TOML path,
            or a :class:`backends.HardwareProfile`).
        timesteps: ``T``, used to validate the NIR export the twin is lowered from.

    ``forward(x [T, B, *input_shape]) -> spikes [P, B, K]`` over the hardware window ``P = T + L``
    (``L`` spiking layers, one synaptic delay each). Only ``grad="stbp"`` applies.

    Example:
        >>> twin = HardwareSNN(victim.model, "loihi2")  # doctest: +SKIP
        >>> Victim(twin, "events", 8, "mse")  # attack the deployment itself  # doctest: +SKIP
    """

    supported_estimators = ("stbp",)

    def __init__(self, model, profile, timesteps: int = 8):
        super().__init__()
        from neuroattack.replay import graph_of
        from neuroattack.victims.nir_snn import NIRSNN

        self.profile = backends.load_profile(profile)
        if not self.profile.fixed_point:
            raise ValueError("hardware-in-the-loop crafting needs a fixed-point profile")
        self.source = model
        self.input_shape = tuple(model.input_shape)
        self.readout = "max"
        if isinstance(model, NIRSNN):  # any NIR graph: its lowering, its surrogate, its readout rule
            self.network = model.network
            method, width = model._surrogate
            self.readout = model.readout
        else:
            self.network = backends.lower(graph_of(model, timesteps))
            method, width = SURROGATES[model.neuron.surrogate], float(model.neuron.surrogate_width)
        self.qnet = backends.quantize(self.network, self.profile)
        self.weights = {
            q.name: torch.as_tensor(applied_weights(q, self.network.blocks(p)), dtype=torch.float64)
            for q, p in zip(self.qnet.projections, self.network.projections)
        }
        self.biases = [
            torch.as_tensor(applied_bias(q), dtype=torch.float64).reshape(q.shape) for q in self.qnet.populations
        ]
        unity = self.profile.decay_unity
        self.keeps = [
            (
                torch.as_tensor(unity - q.du - 1, dtype=torch.float64).reshape(q.shape),
                torch.as_tensor(unity - q.dv, dtype=torch.float64).reshape(q.shape),
            )
            for q in self.qnet.populations
        ]
        self.vth = [float(q.vth << self.profile.shift) for q in self.qnet.populations]
        self._device = torch.device("cpu")
        self._method = method
        self._width = width

    @property
    def num_classes(self) -> int:
        """Output neurons ``K``."""
        return self.qnet.population(self.network.output).n

    def spiking_layers(self) -> list[int]:
        """Indices of the spiking layers (one per population)."""
        return list(range(len(self.qnet.populations)))

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` unless ``x`` is ``[T, B, *input_shape]`` and finite (the float model's rule)."""
        SNN.check_input(self, x)

    @contextmanager
    def thresholds(self, overrides: dict[int, float]) -> Iterator[None]:
        """Temporarily set layer thresholds (float units, as :meth:`SNN.thresholds`)."""
        saved = list(self.vth)
        try:
            for idx, value in overrides.items():
                if not value > 0:
                    raise ValueError(f"threshold override must be > 0, got {value}")
                q = self.qnet.populations[idx]
                self.vth[idx] = float(int(round(value * q.scale)) << self.profile.shift)
            yield
        finally:
            self.vth = saved

    def _move_to(self, device: torch.device) -> None:
        """Keep the integer registers (float64 tensors, not parameters) where the input is: the
        twin runs on any device, its integer arithmetic exact in float64 there as on the CPU."""
        if device == self._device:
            return
        self.weights = {k: w.to(device) for k, w in self.weights.items()}
        self.biases = [b.to(device) for b in self.biases]
        self.keeps = [(du.to(device), dv.to(device)) for du, dv in self.keeps]
        self._device = device

    def _spike(self, v: torch.Tensor, i: int) -> torch.Tensor:
        """Heaviside(v > vth) with the model's surrogate, in float membrane units."""
        x = (v - self.vth[i]) / (self.qnet.populations[i].scale * (1 << self.profile.shift))
        return threshold(x, self._method, torch.as_tensor(self._width, device=v.device))

    def _synapse(self, q, s: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Projection ``q``'s activation for spikes ``s`` ``[B, *in_shape]`` (Lava's integer rules, STE);
        with ``mask``, only those synapses (one delay's share of a ``DelayDense``)."""
        w = self.weights[q.name] if mask is None else self.weights[q.name] * mask
        if q.synapse == "dense":
            acc = s.reshape(s.shape[0], -1) @ w.T
        else:
            x = s.reshape(s.shape[0], s.shape[1], 1, -1) if s.dim() == 3 else s  # Conv1d: height-1 maps
            acc = F.conv2d(x, w, stride=q.stride, padding=q.padding)
        a = activation(acc, q.synapse, q.weight_exp, self.profile.state_bits, STRAIGHT_THROUGH)
        return a.reshape(s.shape[0], *q.out_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Output spikes ``[P, B, K]`` (``P = T + latency``) for input ``[T, B, *input_shape]``: the
        emulator's integer forward pass, differentiable with the model's surrogate."""
        self.check_input(x)
        self._move_to(x.device)
        steps, batch = x.shape[:2]
        net, qnet = self.network, self.qnet
        window = steps + net.latency
        m, shift, bits = self.profile.max_state, self.profile.shift, self.profile.decay_bits
        pops = qnet.populations
        incoming = [[p for p in qnet.projections if p.target == q.name] for q in pops]
        state = [(x.new_zeros((batch, *q.shape), dtype=torch.float64),) * 2 for q in pops]
        last = {p.name: x.new_zeros((batch, *p.shape), dtype=torch.float64) for p in pops}
        last[INPUT] = x.new_zeros((batch, *x.shape[2:]), dtype=torch.float64)
        last[BIAS] = x.new_zeros((batch, 1), dtype=torch.float64)  # the always-on source, from step 0
        delays = {  # a delayed projection's shares, split once: [(k, mask of its synapses k steps late)]
            p.name: [
                (int(k), torch.as_tensor(p.delays == k, dtype=torch.float64, device=x.device))
                for k in np.unique(p.delays)
            ]
            for p in net.projections
            if p.delays is not None
        }
        history: list[dict] = []  # earlier steps' spikes, for the synapses a NIR Delay holds back
        out = []
        for t in range(window):
            now = {
                INPUT: x[t].double() if t < steps else last[INPUT] * 0,
                BIAS: x.new_ones((batch, 1), dtype=torch.float64),
            }
            for i, q in enumerate(pops):
                a = 0.0
                for proj in incoming[i]:  # each projection delivers what it got one step ago
                    if proj.name not in delays:
                        a = a + self._synapse(proj, last[proj.source])
                        continue
                    for k, mask in delays[proj.name]:  # and a delayed synapse k steps before that
                        if k < len(history):
                            a = a + self._synapse(proj, history[-1 - k][proj.source], mask)
                a = STRAIGHT_THROUGH.wrap32(a) if isinstance(a, torch.Tensor) else torch.zeros_like(state[i][0])
                du_keep, dv_keep = self.keeps[i]
                u, v = lif_update(*state[i], a, du_keep, dv_keep, self.biases[i], m, shift, bits, STRAIGHT_THROUGH)
                if net.populations[i].readout:  # never spikes: its membrane, in the graph's units, is the output
                    state[i] = (u, v)
                    now[q.name] = v / (q.scale * (1 << shift))
                    continue
                z = self._spike(v, i)
                state[i] = (u, v - z * self.vth[i] if net.populations[i].reset == "subtract" else v * (1 - z))
                now[q.name] = z
            last = now
            history.append(now)
            out.append(now[net.output].reshape(batch, -1))
        if net.readout:  # the readout rule's scores as one step, as the float model returns them
            return backends.readout.apply_rule(torch.stack(out), self.readout, dim=0)[None].float()
        return torch.stack(out).float()
