"""Saving adversarial inputs with their clean originals, so replay can run them on hardware.

A streams directory holds

- ``streams.h5`` (HDF5): ``clean`` and ``adversarial`` (binary frames ``[N, T, P, H, W]`` uint8 for
  event inputs, images ``[N, C, H, W]`` float32 otherwise), ``labels``, ``targets`` (-1 when
  untargeted), the simulation's ``success``/``pred_clean``/``pred_adv`` (-1: no decision), and attributes: ``kind``
  (``events``/``images``), ``encoding``, ``timesteps``, ``input_shape``, ``bin_us`` and the attack
  ``settings`` (JSON);
- ``streams.nir.h5`` for event inputs: the same spike trains in NIR's data format
  (``nir.NIRGraphData`` with node ``input`` and observables ``clean``/``adversarial`` as
  ``nir.TimeGriddedData`` ``[N, T, P*H*W]`` bool, ``dt`` = one time bin in seconds), written with
  ``nir.write_data`` so that any NIR tool can read them with ``nir.read_data``.

- ``clean_events.npz`` for event inputs read from event files (nmnist-sim and the real event
  datasets): the clean events of every stream row (arrays ``x, y, t, p`` concatenated, ``offsets``
  ``[N + 1]``, ``sensor_size``), ``t`` in microseconds from the sample's start; what
  ``neuroattack export-events`` turns into adversarial event files.

All files are written atomically.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import nir
import numpy as np
import torch

from neuroattack.fileio import atomic_path

STREAMS_FILE = "streams.h5"
EVENTS_FILE = "clean_events.npz"
NIR_DATA_FILE = "streams.nir.h5"
_ARRAYS = ("clean", "adversarial", "labels", "targets", "success", "pred_clean", "pred_adv")


@dataclass
class Streams:
    """Clean and adversarial inputs of one attack run (sample-first tensors).

    Args:
        clean: the original inputs: binary event frames ``[N, T, P, H, W]`` or images
            ``[N, C, H, W]`` in [0, 1].
        adversarial: the adversarial inputs, the same shape (binary for events).
        labels: ``[N]`` int64 true classes.
        targets: ``[N]`` int64 target classes, or ``None`` (untargeted).
        success: ``[N]`` bool: the attack succeeded in simulation.
        pred_clean: ``[N]`` int64 predicted class of the clean input (-1: no decision).
        pred_adv: ``[N]`` int64 predicted class of the adversarial input (-1: no decision).
        kind: ``"events"`` or ``"images"``.
        encoding: the model's input encoding (``"events"``, ``"bernoulli"``, ``"direct"``).
        timesteps: ``T``, time steps per sample.
        settings: the attack's settings (JSON-compatible ``dict``).
        bin_us: microseconds per time bin of event frames, or ``None``.
        source: the file they were read from (named in errors), or ``None``.

    Raises:
        ValueError: if ``kind`` is unknown, the arrays do not all have ``N`` samples, ``clean`` and
            ``adversarial`` differ in shape, or event streams are not binary ``[N, T, P, H, W]``.

    Example:
        >>> s = Streams(torch.zeros(2, 1, 4, 4), torch.ones(2, 1, 4, 4), torch.tensor([0, 1]), None,
        ...             torch.tensor([True, False]), torch.tensor([0, 1]), torch.tensor([1, 1]),
        ...             "images", "bernoulli", 8, {"attack": "fgsm"})
        >>> len(s), len(s.head(1))
        (2, 1)
    """

    clean: torch.Tensor
    adversarial: torch.Tensor
    labels: torch.Tensor
    targets: torch.Tensor | None
    success: torch.Tensor
    pred_clean: torch.Tensor
    pred_adv: torch.Tensor
    kind: str
    encoding: str
    timesteps: int
    settings: dict[str, Any]
    bin_us: int | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("events", "images"):
            raise ValueError(f"streams kind must be 'events' or 'images', got {self.kind!r}")
        n = len(self.labels)
        for name in _ARRAYS:
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"streams: {name} has {len(value)} samples, labels {n}")
        if self.clean.shape != self.adversarial.shape:
            raise ValueError(
                f"streams: clean {list(self.clean.shape)} and adversarial {list(self.adversarial.shape)} differ"
            )
        if self.kind == "events":
            if self.clean.dim() != 5 or self.clean.shape[1] != self.timesteps:
                raise ValueError(
                    f"event streams: expected [N, T={self.timesteps}, P, H, W], got {list(self.clean.shape)}"
                )
            for name in ("clean", "adversarial"):
                if not set(getattr(self, name).unique().tolist()) <= {0, 1}:
                    raise ValueError(f"event streams: {name} is not binary")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """One input's shape as a model takes it: ``(P, H, W)`` of event frames, ``(C, H, W)`` of images."""
        return tuple(self.clean.shape[2:] if self.kind == "events" else self.clean.shape[1:])

    def check_fits(self, num_classes: int, input_shape) -> None:
        """Raise ``ValueError`` unless these streams fit a model with ``num_classes`` outputs and
        ``input_shape``: every label, target and prediction a class of it (one line naming the
        file, the array, the index and the value), each input its shape.

        Example:
            >>> s = Streams(torch.zeros(2, 4), torch.zeros(2, 4), torch.tensor([0, 3]), None,
            ...             torch.tensor([False, False]), torch.tensor([0, 1]), torch.tensor([0, 1]),
            ...             "images", "direct", 8, {}, source="s/streams.h5")
            >>> s.check_fits(3, (4,))
            Traceback (most recent call last):
            ValueError: s/streams.h5: labels[1] = 3 is not a class of the model (it has 3 outputs: 0 to 2)
        """
        where = self.source or "streams"
        if self.sample_shape != tuple(int(v) for v in input_shape):
            raise ValueError(f"{where}: inputs of shape {list(self.sample_shape)}, the model takes {list(input_shape)}")
        for name in ("labels", "targets", "pred_clean", "pred_adv"):
            arr = getattr(self, name)
            if arr is None or not len(arr):
                continue
            bad = (arr >= num_classes).nonzero()
            if len(bad):
                i = int(bad[0][0])
                raise ValueError(
                    f"{where}: {name}[{i}] = {int(arr[i])} is not a class of the model "
                    f"(it has {num_classes} outputs: 0 to {num_classes - 1})"
                )

    def head(self, n: int) -> Streams:
        """The first ``n`` samples (replaying a subset on slow hardware).

        Args:
            n: how many samples to keep (>= 1; more than there are keeps all).

        Returns:
            A new :class:`Streams` with the first ``n`` samples of every array.

        Raises:
            ValueError: if ``n`` < 1.

        Example:
            >>> load_streams("runs/attacks/nmnist-g2s").head(16)  # doctest: +SKIP
        """
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        cut = lambda t: None if t is None else t[:n]  # noqa: E731
        return Streams(
            cut(self.clean),
            cut(self.adversarial),
            cut(self.labels),
            cut(self.targets),
            cut(self.success),
            cut(self.pred_clean),
            cut(self.pred_adv),
            self.kind,
            self.encoding,
            self.timesteps,
            self.settings,
            self.bin_us,
            self.source,
        )


def save_streams(directory: str | os.PathLike, streams: Streams) -> Path:
    """Write ``streams.h5`` (and ``streams.nir.h5`` for events) into ``directory``.

    Args:
        directory: the streams directory (created if missing; existing files are replaced).
        streams: what to write.

    Returns:
        ``directory`` as a :class:`~pathlib.Path`.

    Example:
        >>> save_streams("runs/attacks/mnist-pgd", run.streams)  # doctest: +SKIP
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    targets = streams.targets if streams.targets is not None else torch.full_like(streams.labels, -1)
    with atomic_path(directory / STREAMS_FILE) as tmp:
        with h5py.File(tmp, "w") as f:
            dtype = np.uint8 if streams.kind == "events" else np.float32
            f.create_dataset("clean", data=streams.clean.numpy().astype(dtype), compression="gzip")
            f.create_dataset("adversarial", data=streams.adversarial.numpy().astype(dtype), compression="gzip")
            f.create_dataset("labels", data=streams.labels.numpy().astype(np.int64))
            f.create_dataset("targets", data=targets.numpy().astype(np.int64))
            f.create_dataset("success", data=streams.success.numpy().astype(bool))
            f.create_dataset("pred_clean", data=streams.pred_clean.numpy().astype(np.int64))
            f.create_dataset("pred_adv", data=streams.pred_adv.numpy().astype(np.int64))
            f.attrs["kind"] = streams.kind
            f.attrs["encoding"] = streams.encoding
            f.attrs["timesteps"] = streams.timesteps
            f.attrs["input_shape"] = list(
                streams.clean.shape[2:] if streams.kind == "events" else streams.clean.shape[1:]
            )
            f.attrs["bin_us"] = -1 if streams.bin_us is None else int(streams.bin_us)
            f.attrs["settings"] = json.dumps(streams.settings, sort_keys=True, default=str)
    if streams.kind == "events":
        dt = (streams.bin_us or 1000) * 1e-6
        flat = lambda t: t.numpy().astype(bool).reshape(len(streams), streams.timesteps, -1)  # noqa: E731
        data = nir.NIRGraphData(
            {
                "input": nir.NIRNodeData(
                    {
                        "clean": nir.TimeGriddedData(flat(streams.clean), dt),
                        "adversarial": nir.TimeGriddedData(flat(streams.adversarial), dt),
                    }
                )
            }
        )
        with atomic_path(directory / NIR_DATA_FILE) as tmp:
            nir.write_data(tmp, data)
    return directory


def load_streams(directory: str | os.PathLike) -> Streams:
    """Read a streams directory written by :func:`save_streams`.

    Args:
        directory: the streams directory (holding ``streams.h5``).

    Returns:
        The :class:`Streams` (``targets`` is ``None`` for an untargeted run).

    Raises:
        FileNotFoundError: if ``directory`` holds no ``streams.h5``.
        ValueError: if the file is not readable HDF5, lacks a dataset, or holds invalid streams.

    Example:
        >>> streams = load_streams("runs/attacks/mnist-pgd")  # doctest: +SKIP
        >>> streams.adversarial.shape  # [N, C, H, W]  # doctest: +SKIP
    """
    path = Path(directory) / STREAMS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (not a streams directory written by 'neuroattack attack')")
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in _ARRAYS if k not in f]
            if missing:
                raise ValueError(f"{path}: missing dataset(s) {missing}")
            arrays = {k: _read_array(path, f, k) for k in _ARRAYS}
            attrs = dict(f.attrs)
    except OSError as err:
        raise ValueError(f"{path}: not a readable HDF5 streams file ({err})") from err
    _validate_file(path, arrays, attrs)
    arrays = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}
    kind = str(attrs.get("kind", ""))
    targets = arrays["targets"]
    bin_us = int(attrs.get("bin_us", -1))
    try:
        return Streams(
            clean=arrays["clean"],
            adversarial=arrays["adversarial"],
            labels=arrays["labels"],
            targets=None if bool((targets < 0).all()) else targets,
            success=arrays["success"],
            pred_clean=arrays["pred_clean"],
            pred_adv=arrays["pred_adv"],
            kind=kind,
            encoding=str(attrs["encoding"]),
            timesteps=int(attrs["timesteps"]),
            settings=json.loads(attrs.get("settings", "{}")),
            bin_us=None if bin_us < 0 else bin_us,
            source=str(path),
        )
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def _read_array(path: Path, f, name: str) -> np.ndarray:
    """Dataset ``name`` of an open streams file as a numpy array of numbers, or one line naming it."""
    try:
        obj = f[name]
    except (KeyError, OSError) as err:  # a soft or external link to nothing
        raise ValueError(f"{path}: dataset {name!r} cannot be opened ({err})") from None
    if not isinstance(obj, h5py.Dataset):
        raise ValueError(f"{path}: {name!r} is a {type(obj).__name__}, expected a dataset")
    arr = obj[()]
    if np.ndim(arr) == 0:
        raise ValueError(f"{path}: {name} is a single value {arr!r}, expected an array [N, ...]")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{path}: {name} has dtype {arr.dtype}, expected numbers")
    if arr.dtype.kind == "u" and arr.dtype.itemsize == 8 and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{path}: {name}{_first_bad(arr, arr > np.iinfo(np.int64).max)} is too large")
    return arr


# name -> least allowed value (targets -1: untargeted; predictions -1: no decision)
_CLASS_ARRAYS = {"labels": 0, "targets": -1, "pred_clean": -1, "pred_adv": -1}


def _first_bad(arr: np.ndarray, bad: np.ndarray) -> str:
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    return f"[{', '.join(map(str, idx))}] = {arr[idx]}"


def _validate_file(path: Path, arrays: dict, attrs: dict) -> None:
    """Refuse a streams file whose fields are missing or out of range, before any cast, naming the
    file, the field, the index and the value as written."""
    from neuroattack.encoding import SCHEMES

    for name in ("kind", "encoding", "timesteps", "settings"):
        if name not in attrs:
            raise ValueError(f"{path}: attribute {name!r} is missing")
    if str(attrs["kind"]) not in ("events", "images"):
        raise ValueError(f"{path}: attribute 'kind' = {attrs['kind']!r}, expected 'events' or 'images'")
    if str(attrs["encoding"]) not in SCHEMES:
        raise ValueError(f"{path}: attribute 'encoding' = {attrs['encoding']!r}, expected one of {SCHEMES}")
    steps = attrs["timesteps"]
    if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, (int, np.integer)) or int(steps) < 1:
        raise ValueError(f"{path}: attribute 'timesteps' = {steps!r}, expected an integer >= 1")
    try:
        settings = json.loads(attrs["settings"])
    except (TypeError, ValueError, RecursionError):
        raise ValueError(f"{path}: attribute 'settings' is not JSON") from None
    if not isinstance(settings, dict):
        raise ValueError(f"{path}: attribute 'settings' is JSON {type(settings).__name__}, expected an object")
    bin_us = attrs.get("bin_us", -1)
    if isinstance(bin_us, (bool, np.bool_)) or not isinstance(bin_us, (int, np.integer)):
        raise ValueError(f"{path}: attribute 'bin_us' = {bin_us!r}, expected an integer (-1: none)")
    for name, least in _CLASS_ARRAYS.items():
        arr = arrays[name]
        if arr.ndim != 1:
            raise ValueError(f"{path}: {name} has shape {list(arr.shape)}, expected [N]")
        if arr.dtype.kind not in "iu":
            raise ValueError(f"{path}: {name} has dtype {arr.dtype}, expected integer classes")
        if arr.size and (arr < least).any():
            raise ValueError(f"{path}: {name}{_first_bad(arr, arr < least)} is below {least}")
    success = arrays["success"]
    if success.ndim != 1:
        raise ValueError(f"{path}: success has shape {list(success.shape)}, expected [N]")
    if success.dtype.kind not in "biu" or (success.size and not np.isin(success, (0, 1)).all()):
        raise ValueError(f"{path}: success must be 0/1, has dtype {success.dtype}")
    for name in ("clean", "adversarial"):
        arr = arrays[name]
        if arr.ndim < 2 or (arr.ndim >= 2 and 0 in arr.shape[1:]):
            raise ValueError(f"{path}: {name} has shape {list(arr.shape)}, expected [N, ...] with no empty axis")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise ValueError(f"{path}: {name}{_first_bad(arr, ~np.isfinite(arr))} is not finite")
    if "input_shape" in attrs:  # what a model must take: the arrays' own sample shape
        shape = np.asarray(attrs["input_shape"])
        clean = arrays["clean"]
        sample = list(clean.shape[2:] if str(attrs["kind"]) == "events" else clean.shape[1:])
        if shape.ndim != 1 or shape.dtype.kind not in "iu" or shape.tolist() != sample:
            raise ValueError(
                f"{path}: attribute 'input_shape' = {shape.tolist()!r}, the arrays hold inputs of shape {sample}"
            )


def streams_digest(directory: str | os.PathLike) -> str:
    """SHA-256 (hex, 16 characters) of a streams folder's content: the arrays and attributes of its
    ``streams.h5`` (each array's name, dtype, shape and bytes), read as :func:`load_streams` reads
    them. Nothing else counts: not the folder's or file's name, nor any other file beside it
    (``streams.nir.h5`` is derived from the same arrays).

    Example:
        >>> streams_digest("runs/attacks/g2s")  # doctest: +SKIP
        '9b1c...'
    """
    import hashlib

    path = Path(directory) / STREAMS_FILE
    load_streams(directory)  # a streams file, valid, or one line naming what is wrong
    digest = hashlib.sha256()
    with h5py.File(path, "r") as f:
        for name in _ARRAYS:
            arr = np.ascontiguousarray(f[name][()])
            digest.update(f"{name}:{arr.dtype.str}:{list(arr.shape)}".encode())
            digest.update(arr.tobytes())
        for key in sorted(f.attrs):
            digest.update(f"{key}={np.asarray(f.attrs[key]).tolist()!r}".encode())
    return digest.hexdigest()[:16]


def save_clean_events(
    directory: str | os.PathLike, events: list[np.ndarray], sensor_size: tuple[int, int, int]
) -> Path:
    """Write the clean events of every stream row to ``clean_events.npz`` (atomically).

    Args:
        directory: the streams directory.
        events: one structured event array (``x, y, t, p``; ``x, t, p`` for audio) per stream row.
        sensor_size: ``(W, H, P)`` of the binned frames.

    Returns:
        the file written.

    Example:
        >>> save_clean_events("runs/attacks/g2s", data.events, data.sensor_size)  # doctest: +SKIP
    """
    offsets = np.concatenate([[0], np.cumsum([len(e) for e in events])]).astype(np.int64)

    def column(name: str) -> np.ndarray:
        parts = [e[name].astype(np.int64) if name in e.dtype.names else np.zeros(len(e), np.int64) for e in events]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    path = Path(directory) / EVENTS_FILE
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(
                f,
                x=column("x"),
                y=column("y"),
                t=column("t"),
                p=column("p"),
                offsets=offsets,
                sensor_size=np.asarray(sensor_size, np.int64),
            )
    return path


def load_clean_events(directory: str | os.PathLike) -> tuple[list[np.ndarray], tuple[int, int, int]]:
    """Read ``clean_events.npz``: ``(events per stream row, sensor_size)``.

    Raises:
        FileNotFoundError: the streams hold no clean events (image streams, or frames not binned
            from event files).
        ValueError: the file's arrays do not agree (naming the file and the array).

    Example:
        >>> events, sensor = load_clean_events("runs/attacks/g2s")  # doctest: +SKIP
    """
    from neuroattack.data.events import split_events

    path = Path(directory) / EVENTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no clean events (streams of event files only; attack again to write them)")
    names = ("x", "y", "t", "p", "offsets", "sensor_size")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in names if k not in data.files]
            if missing:
                raise ValueError(f"{path}: missing array(s) {missing}")
            arrays = {k: data[k] for k in names}
    except ValueError as err:
        if str(err).startswith(str(path)):
            raise
        raise ValueError(f"{path}: not a readable .npz of clean events ({err})") from None
    except (OSError, EOFError, KeyError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path}: not a readable .npz of clean events ({type(err).__name__}: {err})") from None
    for k, arr in arrays.items():
        if arr.ndim != 1 or arr.dtype.kind not in "iub":
            raise ValueError(
                f"{path}: array {k} has shape {list(arr.shape)} and dtype {arr.dtype}, expected 1-D integers"
            )
    sensor = arrays["sensor_size"]
    if len(sensor) != 3 or (sensor < 1).any():
        raise ValueError(f"{path}: sensor_size = {sensor.tolist()}, expected [W, H, P] of positive integers")
    offsets = arrays["offsets"]
    n = len(arrays["t"])
    for k in ("x", "y", "p"):
        if len(arrays[k]) != n:
            raise ValueError(f"{path}: array {k} has {len(arrays[k])} events, t has {n}")
    if len(offsets) < 1 or offsets[0] != 0 or offsets[-1] != n or np.any(np.diff(offsets) < 0):
        raise ValueError(f"{path}: offsets do not split the {n} events")
    # the values as written, before any cast (x = 65544 would wrap to 8 as int16)
    limits = {"x": int(sensor[0]), "y": int(sensor[1]), "p": 2}
    for k, limit in limits.items():
        arr = arrays[k]
        bad = (arr < 0) | (arr >= limit)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{path}: {k}[{i}] = {arr[i]} is outside the sensor's 0 to {limit - 1}")
    t = arrays["t"]
    if (t < 0).any():
        i = int(np.argmax(t < 0))
        raise ValueError(f"{path}: t[{i}] = {t[i]} is negative (microseconds from the sample's start)")
    events = split_events(offsets, arrays["x"], arrays["y"], arrays["t"], arrays["p"] != 0)
    return events, tuple(int(v) for v in sensor)
