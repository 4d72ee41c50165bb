"""The attacked model with the way a dataset sample becomes its input."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

from neuroattack.encoding import model_input
from neuroattack.models.ann import ANN
from neuroattack.models.checkpoint import load_checkpoint
from neuroattack.models.snn import predict
from neuroattack.victims.protocol import SpikingModel


@dataclass
class Victim:
    """A spiking model (or, for ANN-vs-SNN studies, an ANN) and how a dataset sample becomes its input.

    Args:
        model: any :class:`~neuroattack.victims.protocol.SpikingModel` (the spec-built ``SNN``,
            the fixed-point twin ``HardwareSNN``, ...) or an ``ANN``.
        encoding: ``"bernoulli"`` or ``"direct"`` (samples are images ``[B, C, H, W]`` in [0, 1])
            or ``"events"`` (samples are binary frames ``[B, T, P, H, W]``).
        timesteps: ``T``, steps per sample.
        loss: the loss it was trained with (``"mse"`` or ``"ce"``); attacks use it by default.

    An ANN takes the images themselves (event frames averaged over time) and is deterministic.

    Example:
        >>> victim = Victim.from_checkpoint("runs/models/mnist")  # doctest: +SKIP
        >>> victim.predict(images, torch.Generator().manual_seed(0), draws=8)  # [8, B]  # doctest: +SKIP
    """

    model: nn.Module
    encoding: str
    timesteps: int
    loss: str = "mse"

    def __post_init__(self) -> None:
        if not isinstance(self.model, (SpikingModel, ANN)):
            raise ValueError(
                f"victim model must be a spiking model (input_shape, num_classes, spiking_layers(), "
                f"thresholds(), check_input()) or an ANN, got {type(self.model).__name__}"
            )
        self.model.eval()

    @classmethod
    def from_checkpoint(cls, directory: str | os.PathLike) -> Victim:
        """The victim a checkpoint directory describes (model, encoding, ``T`` and loss from ``config.json``)."""
        model, config = load_checkpoint(directory)
        return cls(model, config["encoding"], config["timesteps"], config.get("loss", "mse"))

    @classmethod
    def from_nir(
        cls,
        graph,
        encoding: str = "events",
        timesteps: int = 8,
        loss: str = "mse",
        dt: float | None = None,
        framework: str | None = None,
        surrogate: tuple[str, float] = ("rect", 1.0),
        reset: str | None = None,
        readout: str = "max",
    ) -> Victim:
        """The victim of any NIR graph (a ``nir.NIRGraph`` or a ``.nir`` file from any framework).

        Args:
            graph: the graph or its file.
            encoding: how dataset samples become its input (``"events"``, ``"bernoulli"``, ``"direct"``).
            timesteps: ``T``, steps per sample.
            loss: the loss the attacks use (``"mse"`` or ``"ce"``).
            dt: seconds per step (``None``: the graph's metadata, else ``framework``'s convention).
            framework: the exporting framework, for its time-step convention and default reset.
            surrogate: ``(name, width)`` of the surrogate derivative used for gradients.
            reset: ``"zero"`` or ``"subtract"`` (``None``: the framework's default, else zero).
            readout: for an LI/CubaLI output, the rule its membrane is scored by (``"max"``, ``"last"``,
                ``"mean"``).

        Returns:
            the :class:`Victim` of a :class:`~neuroattack.victims.nir_snn.NIRSNN` (every estimator).

        Example:
            >>> victim = Victim.from_nir("net.nir", "events", 8, framework="snntorch")  # doctest: +SKIP
            >>> G2SRSF(victim, grad="stbp", steps=25).run(frames, labels)  # doctest: +SKIP
        """
        from neuroattack.victims.nir_snn import NIRSNN

        if not isinstance(timesteps, int) or timesteps < 1:
            raise ValueError(f"timesteps must be an integer >= 1, got {timesteps!r}")
        return cls(NIRSNN(graph, dt, framework, surrogate, reset, readout), encoding, timesteps, loss)

    @classmethod
    def from_module(
        cls, module, input_shape: tuple[int, ...], encoding: str = "events", timesteps: int = 8, loss: str = "mse"
    ) -> Victim:
        """The victim of a user's own Norse network (:class:`~neuroattack.victims.norse_snn.NorseSNN`).

        Args:
            module: ``nn.Sequential`` / ``norse.torch.SequentialState`` of torch layers and Norse cells.
            input_shape: shape of one time step of input.
            encoding: ``"events"``, ``"bernoulli"`` or ``"direct"``.
            timesteps: ``T``.
            loss: the loss the attacks use.

        Returns:
            the :class:`Victim` (every estimator, every algorithm).

        Example:
            >>> net = norse.torch.SequentialState(nn.Linear(64, 10), norse.torch.LIFBoxCell())  # doctest: +SKIP
            >>> victim = Victim.from_module(net, (64,), "bernoulli", 8)  # doctest: +SKIP
        """
        from neuroattack.victims.norse_snn import NorseSNN

        return cls(NorseSNN(module, input_shape), encoding, timesteps, loss)

    @property
    def is_ann(self) -> bool:
        """Whether the model is an ANN (attacked with ``grad="ann"``)."""
        return isinstance(self.model, ANN)

    @property
    def stochastic(self) -> bool:
        """Whether its input is a random draw (Bernoulli-coded SNN input)."""
        return self.encoding == "bernoulli" and not self.is_ann

    @property
    def image_input(self) -> bool:
        """Whether dataset samples are images (``bernoulli``/``direct``) rather than event frames."""
        return self.encoding in ("bernoulli", "direct")

    def check_batch(self, x: torch.Tensor) -> None:
        """Raise a clear error when a dataset batch ``x`` does not fit this model."""
        want = self.model.input_shape
        got = tuple(x.shape[2:]) if self.encoding == "events" else tuple(x.shape[1:])
        if got != want or (self.encoding == "events" and x.shape[1] != self.timesteps):
            layout = (
                f"[B, T={self.timesteps}, {', '.join(map(str, want))}]"
                if self.encoding == "events"
                else f"[B, {', '.join(map(str, want))}]"
            )
            raise ValueError(
                f"input shape {list(x.shape)} does not match the model: expected {layout} ({self.encoding} input)"
            )
        if torch.isnan(x).any():
            raise ValueError("input contains NaN")

    def inputs(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Model input for dataset samples ``x``: time-first ``[T, B, ...]`` for an SNN, ``[B, ...]``
        for an ANN (differentiable; see :func:`neuroattack.encoding.model_input`)."""
        return model_input(x, self.encoding, self.timesteps, generator, time_first=not self.is_ann)

    @torch.no_grad()
    def predict(self, x: torch.Tensor, generator: torch.Generator | None = None, draws: int = 1) -> torch.Tensor:
        """Predictions ``[draws, B]`` for samples ``x`` (one row per Bernoulli draw; deterministic
        inputs repeat): most output spikes wins, ties to the lowest index."""
        rows = []
        for _ in range(draws if self.stochastic else 1):
            out = self.model(self.inputs(x, generator))
            rows.append(out.argmax(-1) if self.is_ann else predict(out))
        out = torch.stack(rows)
        return out.expand(draws, -1) if not self.stochastic else out
