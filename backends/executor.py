"""What every backend executor is: one protocol, one result type, one input check.

``backends.load(graph, profile, kind=...)`` returns an :class:`Executor`; ``executor.run(spikes)``
takes binary spikes ``[B, T, *in_shape]`` (sample-first, as files store them) and returns a
:class:`RunResult`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from backends.profile import HardwareProfile
from backends.readout import apply_rule


@dataclass
class RunResult:
    """Output of a backend run.

    ``window``: output spikes over each sample's hardware window ``[B, P, n_out]`` (``P = T + L``);
    ``output``: the ``T`` steps aligned with the input ``[B, T, n_out]`` (window steps ``L+1..L+T``);
    ``layers``: per-layer spikes ``[B, P, *shape]`` when recorded. For a network whose output is a
    non-spiking readout (NIR ``LI``/``CubaLI``), ``window`` and ``output`` hold its membrane trace
    in the graph's units and ``readout`` names the rule that turns it into scores.

    Attributes:
        window: float32 0/1 output spikes ``[B, P, n_out]`` (or the readout's membrane); ``P = T + L
            (+ pad_steps)`` on the hardware backends, ``P = T`` on the reference (no delays).
        output: float32 ``[B, T, n_out]``: the window steps aligned with the input (the hardware
            delay of ``L`` steps removed).
        layers: with ``record=True``, one float32 ``[B, P, *out_shape]`` per layer; else ``None``.
        readout: ``None`` for a spiking output, else the readout rule (``"max"``, ``"last"``,
            ``"mean"``; :mod:`backends.readout`).

    Example:
        >>> window = torch.tensor([[[0., 0.], [0., 1.], [1., 1.]]])  # B = 1, T = 2, L = 1: P = 3
        >>> result = RunResult(window, window[:, 1:3])
        >>> result.counts, result.prediction
        (tensor([[1., 2.]]), tensor([1]))
        >>> RunResult(window, window[:, 1:3], readout="last").scores  # a membrane trace, read at the end
        tensor([[1., 1.]])
    """

    window: torch.Tensor
    output: torch.Tensor
    layers: list[torch.Tensor] | None = None
    readout: str | None = None

    @property
    def counts(self) -> torch.Tensor:
        """Output spike counts ``[B, n_out]`` (float32) over the whole window (a readout: the
        membrane summed over it)."""
        return self.window.sum(1)

    @property
    def scores(self) -> torch.Tensor:
        """What a decision reads ``[B, n_out]``: the spike counts, or the readout rule applied to
        the membrane trace over the window."""
        return self.counts if self.readout is None else apply_rule(self.window, self.readout, dim=1)

    @property
    def prediction(self) -> torch.Tensor:
        """Predicted class ``[B]`` (int64): the highest score wins (ties: lowest index), as in simulation."""
        return self.scores.argmax(-1)


@runtime_checkable
class Executor(Protocol):
    """A lowered graph on one backend and profile.

    Attributes:
        kind: ``"lava"``, ``"emulator"`` or ``"reference"``.
        profile: the :class:`~backends.profile.HardwareProfile` it runs (``FLOAT`` for the reference).
        in_shape: shape of one time step of input, e.g. ``(2, 34, 34)``.

    Example:
        >>> executor = backends.load("net.nir", "loihi2", kind="emulator")  # doctest: +SKIP
        >>> executor.run(spikes).prediction  # spikes [B, T, 2, 34, 34] -> [B]  # doctest: +SKIP
    """

    kind: str
    profile: HardwareProfile

    @property
    def in_shape(self) -> tuple[int, ...]:
        """Shape of one time step of input, e.g. ``(2, 34, 34)``."""

    def run(self, spikes, record: bool = False) -> RunResult:
        """Run binary spikes ``[B, T, *in_shape]``; per-layer spikes too when ``record``.

        Args:
            spikes: binary spikes ``[B, T, *in_shape]``, sample-first (tensor or array; :func:`check_spikes`).
            record: also return every layer's spikes (``RunResult.layers``).

        Returns:
            the :class:`RunResult`.

        Raises:
            ValueError: the input is not binary spikes of shape ``[B, T, *in_shape]``, or has no sample.
        """


def check_spikes(spikes, in_shape: tuple[int, ...]) -> torch.Tensor:
    """Validate hardware input ``[B, T, *in_shape]`` binary; return it as int8 (0/1).

    Bytes (``uint8``/``int8``, as spike files store them) are checked by one reduction (their
    maximum as unsigned bytes), other dtypes by three passes.

    Args:
        spikes: a tensor or array ``[B, T, *in_shape]`` of 0/1 (bool, integer or float).
        in_shape: the graph's input shape.

    Returns:
        int8 tensor ``[B, T, *in_shape]`` of 0/1 (on the input's device).

    Raises:
        ValueError: wrong shape, no time step (``T = 0``), NaN, or a value other than 0 and 1
            (the first such element's index and value are named).

    Example:
        >>> check_spikes(torch.ones(2, 3, 4), (4,)).dtype
        torch.int8
        >>> check_spikes(torch.tensor([[[0.0, 0.5]]]), (2,))
        Traceback (most recent call last):
        ...
        ValueError: hardware input must be binary spikes (0/1): spikes[0, 0, 1] = 0.5
    """
    x = torch.as_tensor(np.asarray(spikes) if not isinstance(spikes, torch.Tensor) else spikes)
    if x.dim() != len(in_shape) + 2 or tuple(x.shape[2:]) != tuple(in_shape):
        raise ValueError(
            f"hardware input: expected spikes [B, T, {', '.join(map(str, in_shape))}], got {list(x.shape)}"
        )
    if x.shape[1] == 0:
        raise ValueError(f"hardware input has no time steps: spikes {list(x.shape)} (T = 0)")
    if x.numel() == 0 or x.dtype == torch.bool:
        return x.to(torch.int8)
    if x.dtype in (torch.uint8, torch.int8):  # one reduction: 0 and 1 are the only bytes <= 1 unsigned
        if int(x.view(torch.uint8).max()) > 1:
            _refuse(x, int((x.view(torch.uint8) > 1).reshape(-1).nonzero()[0]))
        return x.to(torch.int8)
    bad = x.ne(0).logical_and_(x.ne(1))  # one test for NaN, fractions and out-of-range values
    if bad.any():
        _refuse(x, int(bad.reshape(-1).nonzero()[0]))
    return x.to(torch.int8)


def _refuse(x: torch.Tensor, flat_index: int):
    """Raise the error naming the first bad element of ``x`` (its flat index ``flat_index``)."""
    where = "spikes[" + ", ".join(map(str, np.unravel_index(flat_index, tuple(x.shape)))) + "]"
    value = x.reshape(-1)[flat_index].item()
    if value != value:
        raise ValueError(f"hardware input contains NaN: {where}")
    raise ValueError(f"hardware input must be binary spikes (0/1): {where} = {value:g}")
