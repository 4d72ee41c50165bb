"""The one small protocol every attack relies on: what a spiking model must offer to be attacked.

Any ``torch.nn.Module`` with these members can be a :class:`~neuroattack.victims.victim.Victim`'s
model (the spec-built :class:`~neuroattack.models.snn.SNN` and the fixed-point twin
:class:`~neuroattack.victims.hardware_snn.HardwareSNN` do); attacks never ask for a class.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class SpikingModel(Protocol):
    """A spiking network: time-first input ``[T, B, *input_shape]`` -> output spikes ``[T', B, K]``.

    Attributes:
        input_shape: shape of one time step of input, e.g. ``(2, 34, 34)``.
        num_classes: ``K``, the number of output neurons (the prediction is the one with most spikes).
        supported_estimators: names of the gradient estimators that apply (``None``: every one).

    ``T'`` may exceed ``T`` (a hardware twin runs ``T + L`` steps for ``L`` synaptic delays).

    Example:
        >>> from neuroattack.models.snn import SNN
        >>> isinstance(SNN("10FC", (1, 8, 8)), SpikingModel)
        True
    """

    input_shape: tuple[int, ...]
    supported_estimators: tuple[str, ...] | None

    @property
    def num_classes(self) -> int:
        """``K``, the number of output neurons."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Output spikes ``[T', B, K]`` for input ``[T, B, *input_shape]``."""

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` unless ``x`` is ``[T, B, *input_shape]`` and finite."""

    def spiking_layers(self) -> list:
        """The spiking layers in order (their count is what ``penultimate_threshold`` needs)."""

    def thresholds(self, overrides: dict[int, float]) -> AbstractContextManager:
        """Temporarily set the threshold of spiking layer ``i`` (negative counts from the end)."""

    def eval(self):
        """Inference mode (``torch.nn.Module.eval``)."""
