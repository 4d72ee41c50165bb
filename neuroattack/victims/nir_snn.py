"""Any NIR graph as an attackable spiking model: the differentiable twin of the backends' lowering.

:class:`NIRSNN` runs :func:`backends.reference.simulate` (the float reference's own code, on the
network :func:`backends.lower` makes of the graph: skip connections, recurrence, per-neuron time
constants, whatever framework wrote it) with a surrogate spike function, so its forward spikes are
the reference backend's exactly and its backward pass is BPTT through the lowered dynamics (STBP,
Liang eq. 8-9). Its fixed-point twin is :meth:`~neuroattack.victims.hardware_snn.HardwareSNN.from_graph`.

Every gradient estimator applies: STBP through the lowered dynamics; the rate-domain estimators
(BPTR, RGA, HART) and the conversion view (CBA) act on the graph's neuron nodes, each population
with its own input gain, threshold and leak
(:func:`~neuroattack.attacks.estimators.rate_proxy.record_graph`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import nir
import torch
from torch import nn

import backends
from backends.reference import simulate
from neuroattack.models.neurons import SURROGATES
from neuroattack.models.surrogates import install, threshold


class NIRSNN(nn.Module):
    """A NIR graph as a :class:`~neuroattack.victims.protocol.SpikingModel` (see the module docstring).

    Args:
        graph: a ``nir.NIRGraph`` or the path of a ``.nir`` file (any framework's).
        dt: seconds per step (``None``: the graph's metadata, else ``framework``'s convention).
        framework: the exporting framework, for its time-step convention and default reset.
        surrogate: ``(name, width)`` of the surrogate derivative (``"rect"``, ``"triangle"``, ...).
        reset: ``"zero"`` or ``"subtract"`` (``None``: the framework's default, else zero;
            :func:`backends.resolve_reset`).
        readout: for a graph whose output is a non-spiking readout (NIR ``LI``/``CubaLI``), the rule
            its membrane trace is read by (``"max"``, ``"last"``, ``"mean"``; :mod:`backends.readout`).
            Then ``forward`` returns the rule's scores as one step, ``[1, B, K]`` (as an ANN's
            logits enter the losses), and only BPTT (``grad="stbp"``) differentiates it.

    ``forward(x [T, B, *input_shape]) -> spikes [T, B, K]`` (no hardware delays, as the reference).

    Raises:
        ValueError: a graph no backend accepts (:class:`backends.GraphError`), or an unknown surrogate.

    Example:
        >>> model = NIRSNN("snntorch_net.nir", framework="snntorch")  # doctest: +SKIP
        >>> Victim(model, "events", 8, "mse")  # every gradient attack, with grad="stbp"  # doctest: +SKIP
    """

    supported_estimators = None  # every estimator: STBP and the rate-domain ones on the populations

    def __init__(
        self,
        graph: nir.NIRGraph | str | os.PathLike,
        dt: float | None = None,
        framework: str | None = None,
        surrogate: tuple[str, float] = ("rect", 1.0),
        reset: str | None = None,
        readout: str = "max",
    ):
        super().__init__()
        self.readout = backends.readout.check_rule(readout)
        if surrogate[0] not in SURROGATES or not surrogate[1] > 0:
            raise ValueError(f"surrogate must be one of {sorted(SURROGATES)} with a width > 0, got {surrogate}")
        install()
        self.graph = backends.read_graph(graph)
        self.network = backends.lower(self.graph, dt, framework, reset)
        if self.network.readout:  # the rate-domain estimators read spikes, which a readout has none of
            self.supported_estimators = ("stbp",)
        self.input_shape = tuple(self.network.input_shape)
        self._weights = {p.name: torch.as_tensor(p.weight, dtype=torch.float64) for p in self.network.projections}
        self._surrogate = (SURROGATES[surrogate[0]], float(surrogate[1]))
        self._thresholds: dict[str, float] = {}

    @property
    def num_classes(self) -> int:
        """Output neurons ``K``."""
        return self.network.population(self.network.output).n

    def spiking_layers(self) -> list[str]:
        """The populations' names, in evaluation order (one spiking layer each)."""
        return [p.name for p in self.network.populations]

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` unless ``x`` is ``[T, B, *input_shape]`` and finite."""
        if x.dim() != len(self.input_shape) + 2 or tuple(x.shape[2:]) != self.input_shape:
            raise ValueError(
                f"NIR model input: expected shape [T, B, {', '.join(map(str, self.input_shape))}], got {list(x.shape)}"
            )
        if not torch.isfinite(x).all():
            raise ValueError("NIR model input is not finite")

    @contextmanager
    def thresholds(self, overrides: dict[int, float]) -> Iterator[None]:
        """Temporarily set population ``i``'s threshold (float units; negative counts from the end)."""
        saved = dict(self._thresholds)
        names = self.spiking_layers()
        try:
            for idx, value in overrides.items():
                if not value > 0:
                    raise ValueError(f"threshold override must be > 0, got {value}")
                self._thresholds[names[idx]] = float(value)
            yield
        finally:
            self._thresholds = saved

    @contextmanager
    def surrogate(self, method: str, alpha: float) -> Iterator[None]:
        """Temporarily differentiate with surrogate ``method`` of width ``alpha``."""
        saved = self._surrogate
        try:
            self._surrogate = (method, float(alpha))
            yield
        finally:
            self._surrogate = saved

    @property
    def weights(self) -> dict[str, torch.Tensor]:
        """Float64 weights by projection name (``"source->target"``), as the forward pass uses them."""
        return self._weights

    def threshold_of(self, name: str) -> float:
        """Population ``name``'s threshold now (an override from :meth:`thresholds`, else its own)."""
        return self._thresholds.get(name, self.network.population(name).vth)

    def simulate(self, x: torch.Tensor, observe=None) -> dict[str, torch.Tensor]:
        """Every population's spikes for input ``x`` ``[T, B, *input_shape]`` (float64, differentiable),
        computed on ``x``'s device.

        Args:
            x: time-first input ``[T, B, *input_shape]``.
            observe: passed to :func:`backends.reference.simulate` (per step: name, input, ``v - vth``).

        Returns:
            ``{population name: spikes [T, B, *shape]}`` plus the input and bias sources.
        """
        self.check_input(x)
        if any(w.device != x.device for w in self._weights.values()):  # it runs where its input is
            self._weights = {k: w.to(x.device) for k, w in self._weights.items()}
        method, width = self._surrogate
        alpha = torch.as_tensor(width, device=x.device)
        spike = lambda d: threshold(d, method, alpha)  # noqa: E731
        return simulate(self.network, x.double(), self._weights, spike, self._thresholds, observe)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Output spikes ``[T, B, K]`` for input ``[T, B, *input_shape]`` (float32, differentiable); for
        a readout network its scores ``[1, B, K]`` (the readout rule over its membrane trace)."""
        out = self.simulate(x)[self.network.output]
        out = out.reshape(out.shape[0], out.shape[1], -1)
        if self.network.readout:
            return backends.readout.apply_rule(out, self.readout, dim=0)[None].float()
        return out.float()
