"""The feed-forward Norse SNN built from a spec string.

``SNN.layers`` is a flat ``ModuleList`` of ``Conv2d`` / ``AvgPool2d`` / ``Flatten`` / ``Linear``
and Norse cells (one after every Conv2d and Linear), which is what ``norse.torch.to_nir`` and our
NIR export walk. The forward pass is layer-major: each stateless layer processes all ``T`` steps
at once (``[T*B, ...]``), each Norse cell is stepped over ``T``; for a feed-forward network this
is exactly the time-major recurrence, only faster.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from neuroattack.decision import decide
from neuroattack.models.neurons import NeuronConfig, is_spiking
from neuroattack.models.spec import FC, Conv, ModelSpec, Pool, check_model_memory, parse_spec


class SNN(nn.Module):
    """Spiking network ``[T, B, *input_shape]`` binary or real input -> output spikes ``[T, B, K]``.

    Args:
        spec: a spec string (``"128C3-AP2-1024FC-10FC"``) or a parsed :class:`ModelSpec`.
        input_shape: ``(C, H, W)`` of one time step of input.
        neuron: LIF options of every spiking layer.
        bias: whether Conv/Linear layers have a bias (off by default: a per-step bias does not
            line up with Lava's per-layer synaptic delay).
        init_scale: weights are Kaiming-normal times ``init_scale * threshold / input_gain``,
            so that fresh networks already spike for every leak.

    Example:
        >>> net = SNN("16C5-AP2-10FC", (1, 28, 28))
        >>> net(torch.zeros(8, 2, 1, 28, 28)).shape
        torch.Size([8, 2, 10])
    """

    #: every gradient estimator applies (see :class:`~neuroattack.victims.protocol.SpikingModel`)
    supported_estimators = None

    def __init__(
        self,
        spec: str | ModelSpec,
        input_shape: Sequence[int],
        neuron: NeuronConfig = NeuronConfig(),
        bias: bool = False,
        init_scale: float = 1.0,
    ):
        super().__init__()
        self.spec = parse_spec(spec) if isinstance(spec, str) else spec
        self.input_shape = tuple(int(s) for s in input_shape)
        self.neuron = neuron
        self.bias = bias
        shapes = self.spec.shapes(self.input_shape)
        check_model_memory(self.spec, self.input_shape)  # before allocating the weights
        layers: list[nn.Module] = []
        shape = self.input_shape
        for layer, out_shape in zip(self.spec.layers, shapes):
            if isinstance(layer, Conv):
                layers += [
                    nn.Conv2d(shape[0], layer.channels, layer.kernel, layer.stride, layer.padding, bias=bias),
                    neuron.build(),
                ]
            elif isinstance(layer, Pool):
                layers.append(nn.AvgPool2d(layer.kernel))
            elif isinstance(layer, FC):
                if len(shape) != 1:
                    layers.append(nn.Flatten())
                layers += [nn.Linear(math.prod(shape), layer.features, bias=bias), neuron.build()]
            shape = out_shape
        self.layers = nn.ModuleList(layers)
        self.detach_recurrence = False
        gain = neuron.threshold / neuron.input_gain * init_scale
        for module in self.layers:
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight)
                with torch.no_grad():
                    module.weight.mul_(gain)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    @property
    def num_classes(self) -> int:
        return self.spec.num_outputs

    def spiking_layers(self) -> list[nn.Module]:
        """The Norse cells, in order."""
        return [m for m in self.layers if is_spiking(m)]

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` unless ``x`` is ``[T, B, *input_shape]`` and finite."""
        if x.dim() != len(self.input_shape) + 2 or tuple(x.shape[2:]) != self.input_shape:
            raise ValueError(
                f"SNN input: expected shape [T, B, {', '.join(map(str, self.input_shape))}], got {list(x.shape)}"
            )
        if torch.isnan(x).any():
            raise ValueError("SNN input contains NaN")

    def run_cell(self, cell: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Step one Norse cell over the time axis of ``x`` ``[T, B, ...]``; spikes ``[T, B, ...]``."""
        state = None
        out = []
        for t in range(x.shape[0]):
            if state is not None and self.detach_recurrence:
                state = type(state)(*(s.detach() for s in state))
            z, state = cell(x[t], state)
            out.append(z)
        return torch.stack(out)

    def apply_layer(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Apply one layer to ``x`` ``[T, B, ...]``: a cell is stepped, the rest see ``[T*B, ...]``."""
        if is_spiking(module):
            return self.run_cell(module, x)
        steps, batch = x.shape[:2]
        return module(x.flatten(0, 1)).unflatten(0, (steps, batch))

    def run_layers(self, x: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """Apply ``layers[start:stop]`` to ``x`` ``[T, B, ...]`` (layer-major)."""
        for module in self.layers[start:stop]:
            x = self.apply_layer(module, x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Output spikes ``[T, B, K]`` for input ``[T, B, *input_shape]``."""
        self.check_input(x)
        return self.run_layers(x)

    @contextmanager
    def thresholds(self, overrides: dict[int, float]) -> Iterator[None]:
        """Temporarily set the threshold of spiking layer ``i`` (negative counts from the end).

        Liang et al. V-B raise the penultimate layer's threshold while crafting only:
        ``with model.thresholds({-2: 2.0}): ...``.
        """
        cells = self.spiking_layers()
        saved = [(c, c.p) for c in cells]
        try:
            for idx, value in overrides.items():
                if not value > 0:
                    raise ValueError(f"threshold override must be > 0, got {value}")
                cell = cells[idx]
                cell.p = cell.p._replace(v_th=torch.as_tensor(float(value)))
            yield
        finally:
            for cell, p in saved:
                cell.p = p

    @contextmanager
    def surrogate(self, method: str, alpha: float) -> Iterator[None]:
        """Temporarily use Norse threshold ``method`` with ``alpha`` in every spiking layer."""
        cells = self.spiking_layers()
        saved = [(c, c.p) for c in cells]
        try:
            for cell in cells:
                cell.p = cell.p._replace(method=method, alpha=torch.as_tensor(float(alpha)))
            yield
        finally:
            for cell, p in saved:
                cell.p = p


def rates(spikes: torch.Tensor) -> torch.Tensor:
    """Output spike rate ``[B, K]`` of spikes ``[T, B, K]`` (Liang eq. 7)."""
    return spikes.mean(0)


def predict(spikes: torch.Tensor) -> torch.Tensor:
    """Predicted class ``[B]`` of output spikes ``[T, B, K]``: the output neuron with most spikes,
    or :data:`~neuroattack.decision.NO_DECISION` (-1) on a tie or a silent output."""
    return decide(spikes.sum(0))
