"""Event streams as tonic-style structured arrays (``x, y, t, p``) and binary spike frames.

Events use tonic's own dtype (``tonic.io.events_struct``: ``x``/``y`` int16 pixel coordinates,
``t`` int64 microseconds, ``p`` bool polarity, 1 = ON). Frames are dense binary tensors
``[T, P, H, W]`` made with tonic's ``ToFrame`` (fixed time bins, then binarised).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tonic

EVENT_DTYPE = np.dtype(tonic.io.events_struct)


def make_events(x: Sequence, y: Sequence, t: Sequence, p: Sequence) -> np.ndarray:
    """Build a structured event array from coordinate arrays (``t`` in microseconds).

    Only shapes and NaN are checked here; use :func:`validate_events` to check the events
    against a sensor (coordinate ranges, sorted timestamps, polarities).

    Args:
        x: pixel columns, 1-D ``[N]`` (stored as int16).
        y: pixel rows, 1-D ``[N]`` (stored as int16).
        t: timestamps in microseconds, 1-D ``[N]`` (stored as int64).
        p: polarities, 1-D ``[N]`` (stored as bool; ``True``/1 = ON, ``False``/0 = OFF).

    Returns:
        Structured array ``[N]`` of dtype :data:`EVENT_DTYPE` with fields ``x, y, t, p``.

    Raises:
        ValueError: if ``x, y, t, p`` are not 1-D arrays of one length, or a float input
            contains NaN.

    Example:
        >>> ev = make_events([0, 1], [2, 3], [0, 150], [1, 0])
        >>> ev["t"].tolist(), ev["p"].tolist()
        ([0, 150], [True, False])
        >>> ev.dtype.names
        ('x', 'y', 't', 'p')
    """
    x, y, t, p = (np.asarray(a) for a in (x, y, t, p))
    if not (x.shape == y.shape == t.shape == p.shape) or x.ndim != 1:
        raise ValueError(
            f"events: x, y, t, p must be 1-D arrays of one length, got shapes "
            f"{x.shape}, {y.shape}, {t.shape}, {p.shape}"
        )
    for name, arr in (("x", x), ("y", y), ("t", t), ("p", p)):
        if arr.dtype.kind == "f" and np.isnan(arr).any():
            raise ValueError(f"events: field '{name}' contains NaN")
    events = np.empty(len(x), dtype=EVENT_DTYPE)
    events["x"], events["y"], events["t"], events["p"] = x, y, t, p
    return events


def split_events(offsets: Sequence, x: np.ndarray, y: np.ndarray, t: np.ndarray, p: np.ndarray) -> list[np.ndarray]:
    """The events of several samples stored one after another: sample ``i``'s are
    ``x[offsets[i]:offsets[i + 1]]`` (and likewise ``y, t, p``), each made by :func:`make_events`.

    Args:
        offsets: ``[B + 1]`` where each sample's events begin, and the end.
        x, y, t, p: the flat fields ``[N]``.

    Returns:
        ``B`` structured event arrays.

    Example:
        >>> evs = split_events([0, 2, 2, 3], np.arange(3), np.arange(3), np.array([5, 9, 1]), np.ones(3))
        >>> [len(ev) for ev in evs], evs[2]["t"].tolist()
        ([2, 0, 1], [1])
    """
    return [make_events(x[a:b], y[a:b], t[a:b], p[a:b]) for a, b in zip(offsets[:-1], offsets[1:])]


def validate_events(events: np.ndarray, sensor_size: tuple[int, int, int]) -> np.ndarray:
    """Check an event array against a sensor ``(W, H, P)`` and return it unchanged.

    Raises ``ValueError`` naming the field for: missing fields, NaN, coordinates outside the
    sensor, negative or decreasing timestamps, polarity outside ``[0, P)``.

    Args:
        events: 1-D structured event array ``[N]`` with fields ``x, y, t, p`` (``t`` in
            microseconds), e.g. from :func:`make_events`.
        sensor_size: ``(W, H, P)``: width and height in pixels, number of polarities; valid
            events have ``0 <= x < W``, ``0 <= y < H``, ``0 <= p < P``.

    Returns:
        ``events`` itself (same object, unchanged).

    Raises:
        ValueError: if ``events`` is not a 1-D structured array with fields ``x, y, t, p``, a
            field contains NaN, ``x``/``y``/``p`` lie outside the sensor, or ``t`` is negative
            or not sorted (non-decreasing).

    Example:
        >>> ev = make_events([0, 3], [1, 1], [0, 10], [1, 0])
        >>> len(validate_events(ev, (4, 2, 2)))
        2
        >>> validate_events(ev, (3, 2, 2))
        Traceback (most recent call last):
        ...
        ValueError: events: field 'x' out of range [0, 3) at index 1 (value 3) for sensor size (3, 2, 2)
    """
    if not isinstance(events, np.ndarray) or events.dtype.names is None:
        raise ValueError("events: expected a structured numpy array with fields x, y, t, p")
    missing = [f for f in ("x", "y", "t", "p") if f not in events.dtype.names]
    if missing:
        raise ValueError(f"events: missing field(s) {missing}; have {list(events.dtype.names)}")
    if events.ndim != 1:
        raise ValueError(f"events: expected a 1-D array, got shape {events.shape}")
    width, height, n_pol = sensor_size
    for name in ("x", "y", "t", "p"):
        col = events[name]
        if col.dtype.kind == "f" and np.isnan(col).any():
            raise ValueError(f"events: field '{name}' contains NaN")
    if len(events) == 0:
        return events
    for name, upper in (("x", width), ("y", height)):
        col = events[name].astype(np.int64)
        bad = np.flatnonzero((col < 0) | (col >= upper))
        if bad.size:
            raise ValueError(
                f"events: field '{name}' out of range [0, {upper}) at index {bad[0]} "
                f"(value {events[name][bad[0]]}) for sensor size {sensor_size}"
            )
    t = events["t"]
    if (t < 0).any():
        i = int(np.flatnonzero(t < 0)[0])
        raise ValueError(f"events: field 't' is negative at index {i} (value {t[i]})")
    dec = np.flatnonzero(np.diff(t.astype(np.int64)) < 0)
    if dec.size:
        i = int(dec[0])
        raise ValueError(f"events: field 't' is not sorted: t[{i}]={t[i]} > t[{i + 1}]={t[i + 1]}")
    p = events["p"].astype(np.int64)
    bad = np.flatnonzero((p < 0) | (p >= n_pol))
    if bad.size:
        raise ValueError(f"events: field 'p' out of range [0, {n_pol}) at index {bad[0]} (value {p[bad[0]]})")
    return events


def events_to_frames(
    events: np.ndarray,
    sensor_size: tuple[int, int, int],
    n_time_bins: int,
    duration_us: int,
    start_us: int = 0,
) -> np.ndarray:
    """Bin events into ``n_time_bins`` binary frames ``[T, P, H, W]`` (bool) with tonic's ``ToFrame``.

    Bins are fixed: ``[start_us + k*w, start_us + (k+1)*w)`` with ``w = duration_us / n_time_bins``,
    so every sample of a dataset gets the same time grid; events outside are dropped.

    Args:
        events: 1-D structured event array ``[N]`` with fields ``x, y, t, p`` (``t`` in
            microseconds); all of it is checked with :func:`validate_events` first.
        sensor_size: ``(W, H, P)``: sensor width, height (pixels) and number of polarities.
        n_time_bins: ``T``, the number of frames (>= 1).
        duration_us: length of the binned window in microseconds (> 0).
        start_us: start of the window in microseconds.

    Returns:
        Bool array ``[T, P, H, W]``: ``True`` where a pixel had at least one event of that
        polarity in that bin.

    Raises:
        ValueError: if ``n_time_bins < 1``, ``duration_us <= 0``, or the events fail
            :func:`validate_events` for ``sensor_size``.

    Example:
        >>> ev = make_events([0, 1, 2], [0, 0, 1], [0, 150, 900], [1, 0, 1])
        >>> frames = events_to_frames(ev, (3, 2, 2), n_time_bins=4, duration_us=1000)
        >>> frames.shape, frames.dtype, int(frames.sum())
        ((4, 2, 2, 3), dtype('bool'), 3)
        >>> np.argwhere(frames).tolist()  # [t, p, y, x] of each active pixel
        [[0, 0, 0, 1], [0, 1, 0, 0], [3, 1, 1, 2]]
    """
    if n_time_bins < 1:
        raise ValueError(f"n_time_bins must be >= 1, got {n_time_bins}")
    if duration_us <= 0:
        raise ValueError(f"duration_us must be > 0, got {duration_us}")
    validate_events(events, sensor_size)
    return frames_on_grid(events, sensor_size, n_time_bins, duration_us, start_us)


def frames_on_grid(
    events: np.ndarray, sensor_size: tuple[int, int, int], n_time_bins: int, duration_us: int, start_us: int = 0
) -> np.ndarray:
    """:func:`events_to_frames` without the checks (for events already known to fit the sensor):
    tonic's ``ToFrame`` on the fixed grid ``[start_us + k*w, start_us + (k+1)*w)``, binary.

    Args:
        events: structured events with fields ``x, y, t, p`` inside the sensor.
        sensor_size: ``(W, H, P)``.
        n_time_bins: ``T`` (>= 1).
        duration_us: the window's length in microseconds (> 0).
        start_us: its start.

    Returns:
        Bool array ``[T, P, H, W]``.

    Example:
        >>> frames_on_grid(make_events([1], [0], [600], [0]), (2, 1, 1), 2, 1000)[:, 0, 0].tolist()
        [[False, False], [False, True]]
    """
    width, height, n_pol = sensor_size
    end_us = start_us + duration_us
    inside = (events["t"] >= start_us) & (events["t"] < end_us)
    events = events[inside]
    if len(events) == 0:
        return np.zeros((n_time_bins, n_pol, height, width), dtype=bool)
    to_frame = tonic.transforms.ToFrame(
        sensor_size=sensor_size,
        time_window=duration_us / n_time_bins,
        start_time=start_us,
        end_time=end_us,
        include_incomplete=True,
    )
    frames = to_frame(events)
    if frames.shape[0] < n_time_bins:  # guard: pad if tonic ever returns fewer bins than asked
        pad = np.zeros((n_time_bins - frames.shape[0],) + frames.shape[1:], dtype=frames.dtype)
        frames = np.concatenate([frames, pad])
    return frames[:n_time_bins] > 0


def frames_to_events(frames: np.ndarray, bin_us: int, start_us: int = 0) -> np.ndarray:
    """Turn binary frames ``[T, P, H, W]`` into events, one per active bin, stamped at the bin centre.

    ``events_to_frames(frames_to_events(f, w), sensor, T, T*w)`` gives ``f`` back.

    Args:
        frames: binary frames ``[T, P, H, W]`` (bool, or numbers where non-zero means a spike).
        bin_us: width of one time bin in microseconds (> 0).
        start_us: start of the first bin in microseconds.

    Returns:
        Structured event array ``[N]`` (:data:`EVENT_DTYPE`), one event per non-zero entry, at
        ``t = start_us + k * bin_us + bin_us // 2`` for bin ``k``, sorted by ``t``.

    Raises:
        ValueError: if ``frames`` is not 4-D, contains NaN, or ``bin_us <= 0``.

    Example:
        >>> frames = np.zeros((2, 2, 2, 3), dtype=bool)
        >>> frames[0, 1, 0, 2] = frames[1, 0, 1, 0] = True
        >>> ev = frames_to_events(frames, bin_us=500)
        >>> ev["x"].tolist(), ev["y"].tolist(), ev["t"].tolist(), ev["p"].tolist()
        ([2, 0], [0, 1], [250, 750], [True, False])
        >>> bool((events_to_frames(ev, (3, 2, 2), 2, 1000) == frames).all())
        True
    """
    frames = np.asarray(frames)
    if frames.ndim != 4:
        raise ValueError(f"frames: expected shape [T, P, H, W], got {frames.shape}")
    if frames.dtype.kind == "f" and np.isnan(frames).any():
        raise ValueError("frames: contain NaN")
    if bin_us <= 0:
        raise ValueError(f"bin_us must be > 0, got {bin_us}")
    t_idx, p, y, x = np.nonzero(frames)
    t = start_us + t_idx.astype(np.int64) * bin_us + bin_us // 2
    order = np.argsort(t, kind="stable")
    return make_events(x[order], y[order], t[order], p[order].astype(bool))
