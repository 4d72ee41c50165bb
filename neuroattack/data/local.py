"""The seeds' real datasets from a folder the user points at: N-MNIST, DVS128 Gesture, CIFAR10-DVS,
Spiking Heidelberg Digits (through tonic's dataset classes and file layouts) and CIFAR-10 (the
official python batches).

Nothing is downloaded unless asked (``download=True``, ``--download``): tonic 1.7 has no offline
switch (its classes download whenever their own file count check fails, e.g. for a subset of
N-MNIST), so without ``download`` the dataset is built from an offline subclass of tonic's class
(:func:`offline_class`) whose ``download`` raises and whose check is ours: the files listed in
:data:`LAYOUTS` must be there. This is the one place the project adapts tonic; tonic's own classes
are never modified, so a thread reading or downloading with tonic meanwhile sees tonic as it is.
A missing or incomplete folder gets one message naming the files expected and where they come from.

Event samples are binned with tonic's transforms (:class:`Binning`: optional ``Denoise``, a
spatial ``Downsample``, ``ToFrame`` in fixed time windows from the first event) and clipped to
0/1 spikes; the binning is recorded in checkpoints and streams (:meth:`Binning.as_dict`).

CIFAR-10's batches are pickles; they are read by an unpickler that only builds numpy arrays
(:func:`read_cifar_batch`), so a tampered file cannot run code.
"""

from __future__ import annotations

import functools
import os
import pickle
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from neuroattack.data.events import frames_on_grid
from neuroattack.progress import progress_bar

#: the environment variable read where no ``--data-root`` is given
DATA_ROOT_ENV = "NEUROATTACK_DATA"


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The folder holding the local datasets: ``root``, else ``$NEUROATTACK_DATA``.

    Args:
        root: the folder given by the user (``--data-root``), or ``None``.

    Returns:
        the folder as a ``Path``.

    Raises:
        FileNotFoundError: neither is given, or the folder does not exist.

    Example:
        >>> data_root("/data")  # doctest: +SKIP
        PosixPath('/data')
    """
    value = root if root is not None else os.environ.get(DATA_ROOT_ENV)
    if value is None:
        raise FileNotFoundError(f"no data folder: pass --data-root DIR (or set ${DATA_ROOT_ENV}) for the real datasets")
    path = Path(value).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"data folder {path} does not exist")
    return path


@dataclass(frozen=True)
class Binning:
    """How an event sample becomes ``T`` binary frames, with tonic's transforms.

    Attributes:
        sensor_size: the sensor ``(W, H, P)`` as tonic gives it.
        bin_us: microseconds per frame (``ToFrame(time_window=...)``), counted from the sample's
            first event; events after ``timesteps * bin_us`` are not used.
        spatial_factor: ``Downsample(spatial_factor=...)`` (1: none).
        denoise_us: ``Denoise(filter_time=...)`` in microseconds, or ``None``.

    Example:
        >>> Binning((34, 34, 2), 5000).frame_shape
        (2, 34, 34)
    """

    sensor_size: tuple[int, int, int]
    bin_us: int
    spatial_factor: float = 1.0
    denoise_us: float | None = None

    @property
    def binned_size(self) -> tuple[int, int, int]:
        """``(W, H, P)`` after the downsampling."""
        w, h, p = self.sensor_size
        f = self.spatial_factor
        return (int((w - 1) * f) + 1, int((h - 1) * f) + 1, p)

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """One frame ``(P, H, W)``."""
        w, h, p = self.binned_size
        return (p, h, w)

    def as_dict(self, timesteps: int) -> dict:
        """What checkpoints and streams record (``tonic.transforms`` and their arguments)."""
        fields = {**asdict(self), "sensor_size": list(self.sensor_size)}  # as JSON keeps it
        return {"tool": "tonic.transforms", **fields, "timesteps": timesteps, "clip": 1}

    @staticmethod
    def sample_events(events: np.ndarray) -> np.ndarray:
        """A recording's events as the project keeps a sample: a copy with time counted from its
        first event, and audio-like events (SHD: ``x, t, p``) as ``x, y = 0, t, p = 0`` (one row
        of channels, one polarity), the form they are binned in.

        Example:
            >>> ev = np.array([(3, 500, 1)], dtype=[("x", "<i8"), ("t", "<i8"), ("p", "<i8")])
            >>> Binning.sample_events(ev)[["x", "y", "t", "p"]].tolist()
            [(3, 0, 0, 0)]
        """
        ev = np.array(events, copy=True)
        if "y" not in ev.dtype.names:
            full = np.zeros(len(ev), dtype=[("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])
            full["x"], full["t"] = ev["x"], ev["t"]
            ev = full
        if len(ev):
            ev["t"] = ev["t"] - ev["t"].min()
        return ev

    def frames(self, events: np.ndarray, timesteps: int) -> np.ndarray:
        """Binary frames ``[T, P, H, W]`` (uint8) of one sample's events (:meth:`sample_events`:
        ``x, y, t, p``, time from the sample's start), on the grid of ``bin_us`` windows from ``t = 0``.

        Args:
            events: structured events, ``t`` in µs from the sample's start.
            timesteps: ``T``.
        """
        import tonic.transforms as tt

        ev = events[(events["t"] >= 0) & (events["t"] < timesteps * self.bin_us)]
        if self.denoise_us is not None and len(ev):
            ev = tt.Denoise(filter_time=self.denoise_us)(ev)
        if self.spatial_factor != 1.0 and len(ev):
            ev = tt.Downsample(spatial_factor=self.spatial_factor)(ev)
        grid = frames_on_grid(ev, self.binned_size, timesteps, timesteps * self.bin_us)
        return grid.astype(np.uint8)


@dataclass(frozen=True)
class Layout:
    """Where a dataset's files lie under the data folder, and where they come from.

    Attributes:
        expected: the files, as the one-line error for a missing dataset names them.
        source: where to get them.

    Example:
        >>> LAYOUTS["shd"].expected
        'SHD/shd_train.h5 and SHD/shd_test.h5 (the .h5.zip archives extracted)'
    """

    expected: str
    source: str


LAYOUTS: dict[str, Layout] = {
    "nmnist": Layout(
        "NMNIST/Train/<digit>/*.bin and NMNIST/Test/<digit>/*.bin (the archives train.zip, test.zip extracted)",
        "https://www.garrickorchard.com/datasets/n-mnist (or tonic.datasets.NMNIST(download))",
    ),
    "dvsgesture": Layout(
        "DVSGesture/ibmGestureTrain/user<NN>_<lighting>/<label>.npy and DVSGesture/ibmGestureTest/... "
        "(tonic's preprocessed ibmGestureTrain.tar.gz, ibmGestureTest.tar.gz extracted)",
        "tonic.datasets.DVSGesture(download) (figshare), from IBM's DvsGesture recordings",
    ),
    "cifar10-dvs": Layout(
        "CIFAR10DVS/<class>/*.aedat4 for the ten classes airplane ... truck",
        "https://figshare.com/articles/dataset/CIFAR10-DVS_New/4724671 (or tonic.datasets.CIFAR10DVS(download))",
    ),
    "shd": Layout(
        "SHD/shd_train.h5 and SHD/shd_test.h5 (the .h5.zip archives extracted)",
        "https://zenkelab.org/datasets (or tonic.datasets.SHD(download))",
    ),
    "cifar10": Layout(
        "cifar-10-batches-py/data_batch_1 ... data_batch_5 and test_batch (cifar-10-python.tar.gz extracted)",
        "https://www.cs.toronto.edu/~kriz/cifar.html",
    ),
}


def _missing(name: str, root: Path, found: bool) -> None:
    if not found:
        layout = LAYOUTS[name]
        raise FileNotFoundError(
            f"dataset {name} not found under {root}: expected {layout.expected}; source: {layout.source}"
        )


@functools.cache
def offline_class(cls: type) -> type:
    """An offline subclass of tonic dataset class ``cls``: built, it never downloads.

    tonic's constructors call ``self._check_exists()`` (a file count of the full dataset) and
    download when it fails. The subclass answers the check with ``True`` (the caller has checked
    the files of :data:`LAYOUTS`) and raises where tonic would download. It keeps ``cls``'s
    name, since tonic reads its folder under ``save_to`` from the class name
    (``save_to/NMNIST``); ``cls`` itself is left untouched (safe with threads).

    Args:
        cls: a tonic dataset class, e.g. ``tonic.datasets.NMNIST``.

    Returns:
        the subclass (one per ``cls``).

    Example:
        >>> import tonic.datasets
        >>> Offline = offline_class(tonic.datasets.NMNIST)
        >>> Offline.__name__, issubclass(Offline, tonic.datasets.NMNIST), "download" in vars(tonic.datasets.NMNIST)
        ('NMNIST', True, False)
    """

    def download(self) -> None:
        raise FileNotFoundError(f"{cls.__name__}: files missing and downloading was not asked for (--download)")

    def _check_exists(self) -> bool:
        return True

    namespace = {"download": download, "_check_exists": _check_exists, "__module__": __name__}
    namespace["__qualname__"] = f"offline_class({cls.__qualname__})"
    return type(cls.__name__, (cls,), namespace)


def _tonic_dataset(name: str, root: Path, train: bool, download: bool):
    import tonic.datasets as td

    if name == "nmnist":
        folder = root / "NMNIST" / ("Train" if train else "Test")
        _missing(name, root, download or any(folder.rglob("*.bin")))
        cls, kwargs = td.NMNIST, {"train": train}
    elif name == "dvsgesture":
        folder = root / "DVSGesture" / ("ibmGestureTrain" if train else "ibmGestureTest")
        _missing(name, root, download or any(folder.rglob("*.npy")))
        cls, kwargs = td.DVSGesture, {"train": train}
    elif name == "cifar10-dvs":
        _missing(name, root, download or any((root / "CIFAR10DVS").rglob("*.aedat4")))
        cls, kwargs = td.CIFAR10DVS, {}
    else:
        _missing(name, root, download or (root / "SHD" / f"shd_{'train' if train else 'test'}.h5").is_file())
        cls, kwargs = td.SHD, {"train": train}
    return (cls if download else offline_class(cls))(save_to=str(root), **kwargs)


def _recording_order(ds) -> np.ndarray:
    """The dataset's samples in recording order: tonic lists N-MNIST's and CIFAR10-DVS's files
    folder by folder (every 0 before every 1), so the first ``n`` would all be one class. Files
    named by their index in the original dataset (N-MNIST's ``00002.bin``, CIFAR10-DVS's
    ``cifar10_airplane_12.aedat4``) are put back in that order (ties: by label), which interleaves
    the classes; other datasets keep tonic's order."""
    paths = getattr(ds, "data", None)
    total = len(ds)
    if not isinstance(paths, list) or len(paths) != total or not all(isinstance(q, str) for q in paths):
        return np.arange(total)
    numbers = [re.search(r"(\d+)$", Path(q).stem) for q in paths]
    if not all(numbers):
        return np.arange(total)
    labels = [int(t) for t in getattr(ds, "targets", [0] * total)]
    return np.array(sorted(range(total), key=lambda i: (int(numbers[i].group(1)), labels[i], i)), dtype=np.int64)


def _split_indices(name: str, split: str, total: int) -> np.ndarray:
    """Indices of ``split`` among the ``total`` files it reads (the train files, except for test):
    val is the last tenth of the train files; CIFAR10-DVS, which has no split, gives every tenth
    sample (index % 10 == 9) to test and index % 10 == 8 to val."""
    idx = np.arange(total)
    if name == "cifar10-dvs":
        return idx[{"test": idx % 10 == 9, "val": idx % 10 == 8, "train": idx % 10 < 8}[split]]
    if split == "test":
        return idx
    cut = total - max(total // 10, 1) if total > 1 else total
    return idx[:cut] if split == "train" else idx[cut:]


def load_event_dataset(
    name: str,
    split: str,
    binning: Binning,
    timesteps: int,
    n: int | None = None,
    root: str | os.PathLike | None = None,
    download: bool = False,
    progress: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, list[np.ndarray]]:
    """The first ``n`` samples of an event dataset's split, binned: ``(frames, labels, events)``.

    Args:
        name: ``"nmnist"``, ``"dvsgesture"``, ``"cifar10-dvs"`` or ``"shd"``.
        split: ``"train"``, ``"val"`` (the last tenth of the train files) or ``"test"``; splits
            and the first ``n`` follow the recordings' order in the original dataset (classes
            interleaved), not the order of the class folders.
        binning: how events become frames.
        timesteps: ``T`` frames a sample.
        n: the first ``n`` samples (``None``: all).
        root: the data folder (``None``: ``$NEUROATTACK_DATA``).
        download: let tonic download what is missing.
        progress: show a progress bar while reading.

    Returns:
        frames uint8 ``[N, T, P, H, W]``, labels int64 ``[N]``, and the raw events of each sample
        as :meth:`Binning.sample_events` keeps them (``t`` in microseconds from the first event).

    Raises:
        FileNotFoundError: the folder or the dataset's files are missing (one line naming them).
        ValueError: ``n`` outside ``[1, split size]``.

    Example:
        >>> from neuroattack.data.datasets import DATASETS
        >>> frames, labels, events = load_event_dataset(
        ...     "nmnist", "test", DATASETS["nmnist"].binning, 15, n=8, root="/data")  # doctest: +SKIP
        >>> frames.shape  # doctest: +SKIP
        torch.Size([8, 15, 2, 34, 34])
    """
    root = data_root(root) if not download else Path(root or os.environ.get(DATA_ROOT_ENV, ".")).expanduser()
    ds = _tonic_dataset(name, root, split != "test" or name == "cifar10-dvs", download)  # only the files read
    idx = _recording_order(ds)[_split_indices(name, split, len(ds))]
    if n is not None:
        if not 0 < n <= len(idx):
            raise ValueError(f"n must be in [1, {len(idx)}] for {name} {split}, got {n}")
        idx = idx[:n]
    frames = np.zeros((len(idx), timesteps, *binning.frame_shape), dtype=np.uint8)
    labels = np.zeros(len(idx), dtype=np.int64)
    events = []
    for k, i in enumerate(progress_bar(idx, desc=f"reading {name} {split}", show=progress, leave=False)):
        ev, label = ds[int(i)]
        sample = binning.sample_events(np.asarray(ev))  # what is binned is what is kept
        frames[k] = binning.frames(sample, timesteps)
        labels[k] = int(label)
        events.append(sample)
    return torch.from_numpy(frames), torch.from_numpy(labels), events


# -- CIFAR-10 ------------------------------------------------------------------------------------
_NP_RECONSTRUCT = np.core.multiarray._reconstruct
_NP_FROMBUFFER = np.core.numeric._frombuffer
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _NP_RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _NP_RECONSTRUCT,  # pickled under numpy >= 2
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.numeric", "_frombuffer"): _NP_FROMBUFFER,  # protocol 5
    ("numpy._core.numeric", "_frombuffer"): _NP_FROMBUFFER,
}


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR-10 batch") from None


def read_cifar_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """One official CIFAR-10 python batch: images ``[N, 3, 32, 32]`` uint8 and labels ``[N]`` int64.

    Read by an unpickler that only rebuilds numpy arrays: any other object in the file is refused.

    Args:
        path: ``data_batch_1`` ... ``data_batch_5`` or ``test_batch``.

    Returns:
        ``(images, labels)``.

    Raises:
        ValueError: the file is not a CIFAR-10 batch (naming the file and what is wrong).

    Example:
        >>> images, labels = read_cifar_batch("cifar-10-batches-py/test_batch")  # doctest: +SKIP
        >>> images.shape  # doctest: +SKIP
        (10000, 3, 32, 32)
    """
    try:
        with open(path, "rb") as f:
            batch = _ArraysOnly(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as err:
        raise ValueError(f"{path}: not a CIFAR-10 batch ({err})") from None
    data = batch.get(b"data") if isinstance(batch, dict) else None
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2 and data.shape[1] == 3072):
        raise ValueError(f"{path}: field b'data' is not a uint8 [N, 3072] array")
    labels = np.asarray(batch.get(b"labels", []), dtype=np.int64)
    if labels.shape != (len(data),) or (labels < 0).any() or (labels > 9).any():
        raise ValueError(f"{path}: field b'labels' does not hold {len(data)} labels in 0..9")
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar10(
    split: str, n: int | None = None, root: str | os.PathLike | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 images ``[N, 3, 32, 32]`` float32 in [0, 1] and labels: train = data_batch_1..4,
    val = data_batch_5, test = test_batch (the first ``n`` of the split).

    Example:
        >>> x, y = load_cifar10("test", n=16, root="/data")  # doctest: +SKIP
        >>> x.shape, y.shape  # doctest: +SKIP
        (torch.Size([16, 3, 32, 32]), torch.Size([16]))
    """
    folder = data_root(root) / "cifar-10-batches-py"
    files = {"train": [f"data_batch_{k}" for k in range(1, 5)], "val": ["data_batch_5"], "test": ["test_batch"]}[split]
    _missing("cifar10", folder.parent, all((folder / f).is_file() for f in files))
    images, labels = [], []
    for f in files:
        x, y = read_cifar_batch(folder / f)
        images.append(x)
        labels.append(y)
        if n is not None and sum(len(v) for v in labels) >= n:
            break
    x, y = np.concatenate(images), np.concatenate(labels)
    if n is not None:
        if not 0 < n <= len(y):
            raise ValueError(f"n must be in [1, {len(y)}] for cifar10 {split}, got {n}")
        x, y = x[:n], y[:n]
    return torch.from_numpy(x.astype(np.float32) / 255.0), torch.from_numpy(y)
