"""The ANN twin of a spec: the same layers with ReLU where the SNN has spiking cells.

Layer indices (and so ``state_dict`` keys) are those of :class:`~neuroattack.models.snn.SNN`, so an
SNN's weights load into its twin unchanged (``ANN.from_snn``): the conversion view used by the
conversion-based attack (CBA, Sharmin et al.) and by ANN-vs-SNN studies.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from neuroattack.models.neurons import is_spiking
from neuroattack.models.snn import SNN
from neuroattack.models.spec import ModelSpec


class ANN(nn.Module):
    """ReLU network ``[B, *input_shape]`` -> logits ``[B, K]``.

    ``act_gain`` multiplies every pre-activation: ``from_snn`` sets it to the SNN neurons'
    ``input_gain / threshold`` so that activations approximate the SNN's firing rates.
    """

    def __init__(self, spec: str | ModelSpec, input_shape: Sequence[int], bias: bool = False, act_gain: float = 1.0):
        super().__init__()
        template = SNN(spec, input_shape, bias=bias)
        self.spec = template.spec
        self.input_shape = template.input_shape
        self.act_gain = act_gain
        layers = []
        cells = [i for i, m in enumerate(template.layers) if is_spiking(m)]
        for i, module in enumerate(template.layers):
            if is_spiking(module):
                layers.append(nn.Identity() if i == cells[-1] else nn.ReLU())
            else:
                layers.append(module)
        self.layers = nn.ModuleList(layers)
        for module in self.layers:
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")

    @property
    def num_classes(self) -> int:
        return self.spec.num_outputs

    def spiking_layers(self) -> list:
        """An ANN has none (kept so that attack checks read the same on every victim)."""
        return []

    @classmethod
    def from_snn(cls, snn: SNN) -> ANN:
        """An ANN carrying ``snn``'s weights (for conversion-based gradients)."""
        ann = cls(snn.spec, snn.input_shape, bias=snn.bias, act_gain=snn.neuron.input_gain / snn.neuron.threshold)
        ann.load_state_dict(snn.state_dict())
        return ann

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != len(self.input_shape) + 1 or tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(
                f"ANN input: expected shape [B, {', '.join(map(str, self.input_shape))}], got {list(x.shape)}"
            )
        for module in self.layers:
            if isinstance(module, (nn.Conv2d, nn.Linear)) and self.act_gain != 1.0:
                x = module(x) * self.act_gain
            else:
                x = module(x)
        return x
