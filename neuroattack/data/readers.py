"""Readers (and one writer) for real event-camera files, returning tonic-style event arrays.

- N-MNIST binary format (``.bin``, 5 bytes an event): read with ``tonic.io.read_mnist_file``;
  ``write_nmnist_file`` writes the same format so streams can travel to other N-MNIST tools.
- AEDAT 4 (``.aedat4``, iniVation DV): read with ``tonic.io.read_aedat4`` (needs ``aedat``).
- ``.npz`` with arrays ``x, y, t, p`` (as the bundled DAVIS346 sample is stored).
"""

from __future__ import annotations

import faulthandler
import os
import signal
import tempfile
from pathlib import Path

import numpy as np
import tonic

from neuroattack.data.events import EVENT_DTYPE, make_events
from neuroattack.fileio import atomic_path

NMNIST_SENSOR = (34, 34, 2)
_NMNIST_MAX_T = 2**23 - 1  # 23-bit timestamp field, microseconds


def read_nmnist_file(path: str | os.PathLike) -> np.ndarray:
    """Read an N-MNIST ``.bin`` file (x, y, polarity, 23-bit µs timestamp per 5-byte record).

    Decoding is ``tonic.io.read_mnist_file``; records with ``y = 240`` are the format's
    timestamp-overflow markers and are not returned as events.

    Args:
        path: the ``.bin`` file.

    Returns:
        Structured event array ``[N]`` (:data:`~neuroattack.data.events.EVENT_DTYPE`, fields
        ``x, y, t, p``), ``t`` in microseconds, sorted by ``t``. N-MNIST samples have
        ``x, y`` in ``[0, 34)`` and last about 0.3 s.

    Raises:
        FileNotFoundError: if ``path`` is not a file.
        ValueError: if the file size is not a multiple of 5 bytes, or its timestamps go backwards.

    Example:
        >>> from neuroattack.data.events import validate_events
        >>> ev = read_nmnist_file("sample.bin")  # doctest: +SKIP
        >>> validate_events(ev, NMNIST_SENSOR)  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    size = path.stat().st_size
    if size % 5 != 0:
        raise ValueError(f"{path}: not an N-MNIST file (size {size} bytes is not a multiple of 5-byte events)")
    events = tonic.io.read_mnist_file(str(path), dtype=EVENT_DTYPE)
    if len(events) and np.any(np.diff(events["t"]) < 0):
        raise ValueError(f"{path}: malformed N-MNIST file (timestamps go backwards)")
    return events


def write_nmnist_file(path: str | os.PathLike, events: np.ndarray) -> None:
    """Write events in the N-MNIST binary format, atomically.

    Coordinates must fit 8 bits and timestamps 23 bits (N-MNIST samples last about 0.3 s).
    ``y = 240`` and above is refused as well: readers take ``y = 240`` for a timestamp-overflow
    marker. The file is written beside ``path`` under a temporary name and moved onto ``path``
    only when complete (parent folders are created). Timestamps are not checked for order, but
    :func:`read_nmnist_file` rejects files whose timestamps go backwards, so pass sorted events.

    Args:
        path: destination file (conventionally ending in ``.bin``); overwritten if it exists.
        events: structured event array ``[N]`` with fields ``x, y, t, p``: ``x`` in ``[0, 255]``,
            ``y`` in ``[0, 239]`` (pixels), ``t`` in ``[0, 2**23 - 1]`` microseconds, ``p``
            polarity (bool or 0/1; only its lowest bit is stored).

    Raises:
        ValueError: if ``x``, ``y`` or ``t`` lies outside the ranges above.

    Example:
        >>> ev = make_events([0, 5], [3, 7], [100, 2500], [1, 0])
        >>> write_nmnist_file("sample.bin", ev)  # 5 bytes an event  # doctest: +SKIP
        >>> read_nmnist_file("sample.bin")["t"].tolist()  # doctest: +SKIP
        [100, 2500]
    """
    x, y, t, p = (events[f] for f in ("x", "y", "t", "p"))
    for name, col, upper in (("x", x, 255), ("y", y, 239), ("t", t, _NMNIST_MAX_T)):
        if len(col) and (col.min() < 0 or col.max() > upper):
            raise ValueError(
                f"events: field '{name}' outside the N-MNIST range [0, {upper}] (min {col.min()}, max {col.max()})"
            )
    t = t.astype(np.uint32)
    raw = np.empty((len(events), 5), dtype=np.uint8)
    raw[:, 0] = x.astype(np.uint8)
    raw[:, 1] = y.astype(np.uint8)
    raw[:, 2] = ((p.astype(np.uint32) & 1) << 7 | (t >> 16) & 0x7F).astype(np.uint8)
    raw[:, 3] = ((t >> 8) & 0xFF).astype(np.uint8)
    raw[:, 4] = (t & 0xFF).astype(np.uint8)
    with atomic_path(path) as tmp:
        raw.tofile(tmp)


def read_aedat4(path: str | os.PathLike, relative_time: bool = True) -> np.ndarray:
    """Read the polarity events of an AEDAT 4 file (``tonic.io.read_aedat4``).

    With ``relative_time`` the first event is at ``t = 0`` (AEDAT stores Unix-epoch µs).
    Other streams of the file (frames, IMU, triggers) are ignored.

    Args:
        path: the ``.aedat4`` file (iniVation DV); decoding needs the ``aedat`` package.
        relative_time: subtract the first event's timestamp so that ``t`` starts at 0; if
            ``False``, ``t`` is kept as Unix-epoch microseconds.

    Returns:
        Structured event array ``[N]`` (:data:`~neuroattack.data.events.EVENT_DTYPE`, fields
        ``x, y, t, p``), ``t`` int64 in microseconds, ``p`` bool (``True`` = ON).

    Raises:
        FileNotFoundError: if ``path`` is not a file.
        ValueError: if the file cannot be decoded as AEDAT 4.

    Example:
        >>> from neuroattack.data.events import validate_events
        >>> ev = read_aedat4("tests/fixtures/davis346_sample.aedat4")  # doctest: +SKIP
        >>> validate_events(ev, (346, 260, 2))  # DAVIS346 sensor  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    raw = _decode_aedat4_isolated(path)
    polarity = raw["on"] if "on" in raw.dtype.names else raw["p"]
    t = raw["t"].astype(np.int64)
    if relative_time and len(t):
        t = t - t[0]
    return make_events(raw["x"], raw["y"], t, polarity.astype(bool))


def _decode_aedat4_isolated(path: Path) -> np.ndarray:
    """``tonic.io.read_aedat4`` in a forked child process, its events handed back through a file.

    The ``aedat`` decoder (Rust, used by tonic) aborts the whole interpreter on some malformed
    files (a panic while unwinding another, found by fuzzing): decoding in a child turns that into
    a clear error here. Other failures (its RuntimeErrors, pyo3's PanicException) are reported the
    same way.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "events.npy"
        err_file = Path(tmp) / "error.txt"
        pid = os.fork()
        if pid == 0:  # the child: decode, write, leave without running the parent's cleanups
            code = 1
            try:
                # a crash's panic and traceback dumps are not the user's to read: stderr goes nowhere,
                # and faulthandler (which pytest, or a user, may have pointed at its own copy of
                # stderr) is off in the child
                faulthandler.disable()
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 2)
                np.save(out, tonic.io.read_aedat4(str(path)), allow_pickle=False)
                code = 0
            except BaseException as err:  # noqa: B036 - everything, Rust panics included, becomes exit 1
                err_file.write_text((str(err).strip().splitlines() or [type(err).__name__])[0][:160])
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            return np.load(out, allow_pickle=False)
        if os.WIFSIGNALED(status):
            why = f"the decoder crashed with {signal.Signals(os.WTERMSIG(status)).name}"
        else:
            why = err_file.read_text() if err_file.is_file() else "the decoder failed"
        raise ValueError(f"{path}: not a readable AEDAT 4 file ({why})")


def read_npz_events(path: str | os.PathLike) -> np.ndarray:
    """Read events stored as arrays ``x, y, t, p`` in an ``.npz`` file.

    Args:
        path: the ``.npz`` file; it must hold 1-D arrays ``x, y, t, p`` of one length ``[N]``
            (``t`` in microseconds, ``p`` polarity, non-zero = ON); other arrays are ignored.
            Pickled objects are refused.

    Returns:
        Structured event array ``[N]`` (:data:`~neuroattack.data.events.EVENT_DTYPE`, fields
        ``x, y, t, p``), ``t`` int64 in microseconds, ``p`` bool.

    Raises:
        FileNotFoundError: if ``path`` is not a file.
        ValueError: if an array ``x, y, t`` or ``p`` is missing, or the arrays are not 1-D of one
            length or contain NaN (see :func:`~neuroattack.data.events.make_events`).

    Example:
        >>> ev = read_npz_events("tests/fixtures/davis346_sample_events.npz")  # doctest: +SKIP
        >>> len(ev)  # doctest: +SKIP
        78830
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as err:  # not a zip, truncated, pickled, encrypted, unsupported compression, ...
        raise ValueError(f"{path}: not a readable .npz file ({type(err).__name__}: {err})") from None
    with data:
        missing = [f for f in ("x", "y", "t", "p") if f not in data.files]
        if missing:
            raise ValueError(f"{path}: missing array(s) {missing}; have {data.files}")
        arrays = {}
        for field in ("x", "y", "t", "p"):
            try:
                arrays[field] = data[field]
            except Exception as err:  # zipfile and numpy raise many types for a damaged member
                raise ValueError(f"{path}: field {field!r} cannot be read ({type(err).__name__}: {err})") from None
    shapes = {f: a.shape for f, a in arrays.items()}
    if any(len(s) != 1 for s in shapes.values()) or len({s[0] for s in shapes.values()}) != 1:
        got = ", ".join(f"{f} {list(s)}" for f, s in shapes.items())
        raise ValueError(f"{path}: arrays x, y, t, p must be 1-D of one length, got {got}")
    limits = {f: np.iinfo(EVENT_DTYPE[f]) for f in ("x", "y", "t")}
    for field, arr in arrays.items():
        _check_npz_field(path, field, arr, None if field == "p" else (0, int(limits[field].max)))
    try:
        return make_events(
            arrays["x"].astype(np.int64),
            arrays["y"].astype(np.int64),
            arrays["t"].astype(np.int64),
            arrays["p"].astype(bool),
        )
    except ValueError as err:  # make_events' own checks (e.g. timestamps), with the file named
        raise ValueError(f"{path}: {err}") from None


def _check_npz_field(path: Path, field: str, arr: np.ndarray, bounds: tuple[int, int] | None) -> None:
    """Refuse, before any cast, a value that the event dtype would change: non-numeric, non-finite,
    fractional, out of ``bounds`` (or, for polarity ``p``, anything but 0/1); the message names the
    file, the field, the index and the value as written."""
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{path}: field {field!r} has dtype {arr.dtype}, expected numbers")

    def bad(mask: np.ndarray, what: str) -> None:
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            raise ValueError(f"{path}: field {field!r} index {i}: value {arr.reshape(-1)[i]!r} {what}")

    flat = arr.reshape(-1)
    if arr.dtype.kind == "f":
        bad(~np.isfinite(flat), "is not finite")
        bad(flat != np.floor(flat), "is not an integer")
    if bounds is None:
        bad((flat != 0) & (flat != 1), "is not a polarity (0 or 1)")
        return
    lo, hi = bounds
    if arr.dtype.kind == "f":
        bad((flat < lo) | (flat > hi), f"is out of range [{lo}, {hi}]")
    elif arr.dtype.kind == "u":
        bad(flat > hi, f"is out of range [{lo}, {hi}]")
    elif arr.dtype.kind == "i":
        bad((flat < lo) | (flat > hi), f"is out of range [{lo}, {hi}]")


def read_event_file(path: str | os.PathLike) -> np.ndarray:
    """Read an event file by its ending: ``.bin`` (N-MNIST), ``.aedat4``, ``.npz``.

    The ending is matched case-insensitively and selects :func:`read_nmnist_file`,
    :func:`read_aedat4` (with ``relative_time=True``) or :func:`read_npz_events`.

    Args:
        path: the event file.

    Returns:
        Structured event array ``[N]`` (:data:`~neuroattack.data.events.EVENT_DTYPE`, fields
        ``x, y, t, p``), ``t`` in microseconds.

    Raises:
        ValueError: if the ending is none of the above, or the chosen reader rejects the file.
        FileNotFoundError: if ``path`` is not a file (known endings only).

    Example:
        >>> from neuroattack.data.events import events_to_frames
        >>> ev = read_event_file("tests/fixtures/davis346_sample_events.npz")  # doctest: +SKIP
        >>> frames = events_to_frames(ev, (346, 260, 2), n_time_bins=8, duration_us=100_000)  # doctest: +SKIP
        >>> frames.shape  # doctest: +SKIP
        (8, 2, 260, 346)
    """
    suffix = Path(path).suffix.lower()
    readers = {".bin": read_nmnist_file, ".aedat4": read_aedat4, ".npz": read_npz_events}
    if suffix not in readers:
        raise ValueError(f"{path}: unknown event file type '{suffix}'; known: {sorted(readers)}")
    return readers[suffix](path)
