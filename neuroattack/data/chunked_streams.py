"""Event streams kept on disk in chunk files and read when a sample is asked for.

A split of simulated N-MNIST holds some 260 million events (about 3.4 GB as structured arrays):
held in memory beside its frames it took a first training past 7 GB. :class:`ChunkedStreams`
keeps only the chunk last read (1,000 samples, about 36 MB), so training and binning touch the
events once, chunk by chunk, and an attack reads the few samples it writes out.

A chunk file is an ``.npz`` with the flat event fields of its samples one after another (``x``,
``y``, ``t``, ``p``), each sample's count (``lengths``) and the labels (``labels``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from neuroattack.data.events import split_events


def read_chunk(path: Path, expected: int) -> tuple[list[np.ndarray], np.ndarray]:
    """One chunk file's event arrays and labels.

    Args:
        path: the chunk file.
        expected: the samples it must hold.

    Returns:
        ``(streams, labels)``: ``expected`` structured event arrays
        (:data:`~neuroattack.data.events.EVENT_DTYPE`) and the labels ``[expected]``.

    Raises:
        ValueError: naming the file, if it cannot be read or its arrays do not agree.

    Example:
        >>> import tempfile
        >>> from neuroattack.fileio import write_npz
        >>> with tempfile.TemporaryDirectory() as d:
        ...     path = Path(d) / "c.npz"
        ...     write_npz(path, x=np.array([1, 2], np.uint8), y=np.array([3, 4], np.uint8),
        ...               t=np.array([5, 6], np.uint32), p=np.array([1, 0], np.uint8),
        ...               lengths=np.array([2, 0]), labels=np.array([7, 8]))
        ...     streams, labels = read_chunk(path, 2)
        >>> [len(s) for s in streams], streams[0]["t"].tolist(), labels.tolist()
        ([2, 0], [5, 6], [7, 8])
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in ("x", "y", "t", "p", "lengths", "labels")}
    except Exception as err:  # zipfile/zlib/OSError/KeyError/... for a truncated or foreign file
        raise ValueError(f"nmnist-sim cache chunk {path} is corrupt ({type(err).__name__})") from None
    lengths = arrays["lengths"]
    n_events = len(arrays["x"])
    if (
        len(lengths) != expected
        or len(arrays["labels"]) != expected
        or np.any(lengths < 0)
        or int(lengths.sum()) != n_events
        or any(len(arrays[k]) != n_events for k in ("y", "t", "p"))
    ):
        raise ValueError(f"nmnist-sim cache chunk {path} is corrupt (its arrays do not agree)")
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return split_events(offsets, *(arrays[k] for k in ("x", "y", "t", "p"))), arrays["labels"]


class ChunkedStreams(Sequence):
    """The event arrays of ``n`` samples stored ``chunk`` to a file, read one chunk at a time.

    Indexing, slicing and iterating read the chunk a sample lies in (kept until another is
    needed). A chunk that cannot be read is derived data: a warning names it, ``rebuild`` makes
    it again, and it is read again.

    Args:
        paths: the chunk files, in sample order.
        n: samples (the first ``n`` of the chunks).
        chunk: samples a chunk (every chunk but the last holds this many).
        sizes: samples in each chunk file.
        rebuild: ``rebuild(c)`` writes chunk ``c`` again and returns its path.

    Example:
        >>> import tempfile
        >>> from neuroattack.fileio import write_npz
        >>> d = Path(tempfile.mkdtemp())
        >>> def make(c):
        ...     write_npz(d / f"{c}.npz", x=np.zeros(c + 1, np.uint8), y=np.zeros(c + 1, np.uint8),
        ...               t=np.arange(c + 1, dtype=np.uint32), p=np.ones(c + 1, np.uint8),
        ...               lengths=np.array([c + 1]), labels=np.array([c]))
        ...     return d / f"{c}.npz"
        >>> streams = ChunkedStreams([make(0), make(1)], 2, 1, [1, 1], make)
        >>> len(streams), [len(s) for s in streams], streams[-1]["t"].tolist()
        (2, [1, 2], [0, 1])
    """

    def __init__(self, paths: list[Path], n: int, chunk: int, sizes: list[int], rebuild: Callable[[int], Path]):
        self.paths, self.n, self.chunk, self.sizes, self.rebuild = list(paths), n, chunk, list(sizes), rebuild
        self._held: tuple[int, list[np.ndarray]] | None = None

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.n))]
        i = int(index)
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(f"sample {index} out of range for {self.n} samples")
        return self.read(i // self.chunk)[0][i % self.chunk]

    def read(self, c: int) -> tuple[list[np.ndarray], np.ndarray]:
        """Chunk ``c``'s event arrays and labels (rebuilt, with a warning, if it is corrupt)."""
        if self._held is not None and self._held[0] == c:
            return self._held[1]
        try:
            arrays = read_chunk(self.paths[c], self.sizes[c])
        except ValueError as err:  # derived data: say so, rebuild it, read it again
            warnings.warn(f"{err}; rebuilding it", stacklevel=3)
            self.paths[c].unlink(missing_ok=True)
            arrays = read_chunk(self.rebuild(c), self.sizes[c])
        self._held = (c, arrays)
        return arrays

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_held": None}  # what is shipped is the files' names, not their events
