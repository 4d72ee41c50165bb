"""Adversarial frames back to event files a sensor pipeline, tonic or a chip's event input reads.

The rule, per sample (frames ``[T, P, H, W]`` binned from the clean events in bins of ``bin_us``
microseconds from the sample's start, ``t = 0``):

- a clean event whose bin is unchanged (the same 0/1 in the clean and the adversarial frame) is
  kept as it is, timestamp included; so is every event outside the binned window;
- a clean event in a bin the attack cleared (1 -> 0) is removed (all events of that bin);
- a bin the attack set (0 -> 1) gets one new event, at the middle of the bin
  (``t = bin * bin_us + bin_us // 2``), at its pixel, with the polarity of its channel.

Binning the written events again the same way gives exactly the adversarial frames (the tests
read the files back through the project's readers). Formats: ``npz`` (arrays ``x, y, t, p``),
``nmnist-bin`` (N-MNIST's 40-bit events; 8-bit coordinates, 23-bit timestamps) and ``aedat4``
(written by dv-processing's ``MonoCameraWriter``; timestamps are microseconds from the sample's
start, not Unix time: read them with ``read_aedat4(path, relative_time=False)``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from neuroattack.data.events import make_events
from neuroattack.fileio import atomic_path

FORMATS = {"npz": ".npz", "nmnist-bin": ".bin", "aedat4": ".aedat4"}


def _field(events: np.ndarray, name: str) -> np.ndarray:
    return events[name].astype(np.int64) if name in events.dtype.names else np.zeros(len(events), np.int64)


def adversarial_events(
    clean: np.ndarray, clean_frames: np.ndarray, adv_frames: np.ndarray, bin_us: int
) -> tuple[np.ndarray, int, int]:
    """The adversarial event list of one sample (see the module docstring for the rule).

    Args:
        clean: the clean events (structured, ``x, y, t, p``; ``t`` in µs from the sample's start).
        clean_frames: their binary frames ``[T, P, H, W]``.
        adv_frames: the adversarial frames, same shape.
        bin_us: microseconds per bin.

    Returns:
        ``(events, added, removed)``: structured events sorted by ``t``
        (:data:`~neuroattack.data.events.EVENT_DTYPE`), and the counts of events added and removed.

    Example:
        >>> clean = make_events([0, 1], [0, 0], [10, 20], [1, 1])
        >>> frames = np.zeros((2, 2, 1, 2), np.uint8); frames[0, 1, 0, :] = 1
        >>> adv = frames.copy(); adv[0, 1, 0, 1] = 0; adv[1, 0, 0, 0] = 1
        >>> ev, added, removed = adversarial_events(clean, frames, adv, bin_us=100)
        >>> ev["t"].tolist(), ev["p"].tolist(), added, removed
        ([10, 150], [True, False], 1, 1)
    """
    steps = clean_frames.shape[0]
    x, y, t, p = (_field(clean, k) for k in ("x", "y", "t", "p"))
    p = (p != 0).astype(np.int64)
    b = t // bin_us
    inside = (t >= 0) & (b < steps)
    cleared = (clean_frames == 1) & (adv_frames == 0)
    drop = np.zeros(len(t), dtype=bool)
    drop[inside] = cleared[b[inside], p[inside], y[inside], x[inside]]
    kept = clean[~drop]
    bins, ch, ys, xs = np.nonzero((clean_frames == 0) & (adv_frames == 1))
    new = make_events(xs, ys, bins * bin_us + bin_us // 2, ch.astype(bool))
    old = make_events(_field(kept, "x"), _field(kept, "y"), _field(kept, "t"), _field(kept, "p") != 0)
    events = np.concatenate([old, new])
    return events[np.argsort(events["t"], kind="stable")], len(new), int(drop.sum())


def write_events(path: str | os.PathLike, events: np.ndarray, fmt: str, sensor_size: tuple[int, int, int]) -> Path:
    """Write one sample's events in ``fmt``, atomically.

    Args:
        path: the file (its ending should match the format).
        events: structured events ``x, y, t, p`` (``t`` in µs, sorted).
        fmt: ``"npz"``, ``"nmnist-bin"`` or ``"aedat4"``.
        sensor_size: ``(W, H, P)`` (AEDAT 4 records the resolution).

    Returns:
        the path written.

    Raises:
        ValueError: an unknown format, or events the format cannot hold (naming the field).

    Example:
        >>> write_events("adv/000000.npz", events, "npz", (34, 34, 2))  # doctest: +SKIP
    """
    path = Path(path)
    if fmt == "npz":
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, x=events["x"], y=events["y"], t=events["t"], p=events["p"])
    elif fmt == "nmnist-bin":
        from neuroattack.data.readers import write_nmnist_file

        write_nmnist_file(path, events)
    elif fmt == "aedat4":
        import dv_processing as dv

        store = dv.EventStore()
        for e in events:
            store.push_back(int(e["t"]), int(e["x"]), int(e["y"]), bool(e["p"]))
        with atomic_path(path) as tmp:
            config = dv.io.MonoCameraWriter.EventOnlyConfig("neuroattack", (int(sensor_size[0]), int(sensor_size[1])))
            writer = dv.io.MonoCameraWriter(str(tmp), config)
            if len(events):
                writer.writeEvents(store)
            del writer  # closes the file
    else:
        raise ValueError(f"event format must be one of {sorted(FORMATS)}, got {fmt!r}")
    return path
