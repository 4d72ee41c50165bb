import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from neuroattack.data import nmnist_sim
from neuroattack.data.datasets import load_dataset
from neuroattack.data.events import validate_events
from neuroattack.data.nmnist_sim import SENSOR_SIZE, SensorParams, load_nmnist_sim, simulate
from neuroattack.data.static import load_mnist
from neuroattack.fileio import cache_dir


def test_simulation_is_deterministic_and_seed_dependent():
    images = load_mnist("test")[0][:4]
    a = simulate(images, SensorParams(), np.random.default_rng(1))
    b = simulate(images, SensorParams(), np.random.default_rng(1))
    c = simulate(images, SensorParams(seed=5), np.random.default_rng(2))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(len(x) == len(y) and np.array_equal(x, y) for x, y in zip(a, c))


def test_events_look_like_nmnist():
    images = load_mnist("test")[0][:8]
    params = SensorParams(noise_hz=0.0)
    streams = simulate(images, params, np.random.default_rng(0))
    for ev in streams:
        validate_events(ev, SENSOR_SIZE)
        assert 500 < len(ev) < 20_000  # N-MNIST: a few thousand events a digit
        assert ev["t"].max() <= params.duration_us
        # both polarities; activity in each of the three saccades
        assert ev["p"].any() and (~ev["p"]).any()
        thirds = np.histogram(ev["t"], bins=3, range=(0, params.duration_us))[0]
        assert (thirds > 0.1 * len(ev)).all()


def test_blank_image_gives_only_noise():
    blank = np.zeros((2, 28, 28), dtype=np.float32)
    quiet = simulate(blank, SensorParams(noise_hz=0.0), np.random.default_rng(0))
    assert all(len(ev) == 0 for ev in quiet)
    noisy = simulate(blank, SensorParams(noise_hz=10.0), np.random.default_rng(0))
    expected = 10.0 * 0.3 * 34 * 34
    assert all(0.7 * expected < len(ev) < 1.3 * expected for ev in noisy)


def test_refractory_period_limits_events():
    images = load_mnist("test")[0][:4]
    fast = simulate(images, SensorParams(refractory_us=0, noise_hz=0), np.random.default_rng(0))
    slow = simulate(images, SensorParams(refractory_us=5000, noise_hz=0), np.random.default_rng(0))
    assert sum(map(len, slow)) < sum(map(len, fast))
    for ev in slow:  # per pixel, consecutive events at least a refractory period apart (up to 1 step)
        key = ev["y"].astype(int) * 34 + ev["x"]
        order = np.lexsort((ev["t"], key))
        same = np.diff(key[order]) == 0
        gaps = np.diff(ev["t"][order])[same]
        assert (gaps >= 5000 - 1000).all()


def test_bad_inputs():
    with pytest.raises(ValueError, match="contrast"):
        SensorParams(contrast=-1)
    with pytest.raises(ValueError, match=r"expected shape \[B, 28, 28\]"):
        simulate(np.zeros((2, 27, 28)), SensorParams(), np.random.default_rng(0))
    with pytest.raises(ValueError, match="NaN"):
        simulate(np.full((1, 28, 28), np.nan), SensorParams(), np.random.default_rng(0))


def test_cached_dataset(monkeypatch):
    monkeypatch.setattr(nmnist_sim, "CHUNK", 40)
    streams, labels = load_nmnist_sim("test", n=50, progress=False)
    assert len(streams) == 50 and labels.tolist() == load_mnist("test")[1][:50].tolist()
    files = sorted((cache_dir() / "nmnist-sim" / SensorParams().key()).iterdir())
    assert [f.name for f in files] == ["test-000.npz", "test-001.npz"]  # no temp files left
    again, _ = load_nmnist_sim("test", n=50, progress=False)
    assert all(np.array_equal(a, b) for a, b in zip(streams, again))
    # a sample does not depend on how many were asked for
    fewer, _ = load_nmnist_sim("test", n=3, progress=False)
    assert all(np.array_equal(a, b) for a, b in zip(fewer, streams[:3]))
    ds = load_dataset("nmnist-sim", "test", n=50, timesteps=5, progress=False)
    assert ds.x.shape == (50, 5, 2, 34, 34) and set(ds.x.unique().tolist()) <= {0, 1}
    assert ds.input_shape == (2, 34, 34) and ds.encoding == "events"


@pytest.mark.parametrize("damage", ["truncate", "garbage", "disagree"])
def test_a_corrupt_cache_chunk_is_named_and_rebuilt(monkeypatch, damage):
    monkeypatch.setattr(nmnist_sim, "CHUNK", 40)
    streams, labels = load_nmnist_sim("test", n=50, progress=False)
    chunk = cache_dir() / "nmnist-sim" / SensorParams().key() / "test-001.npz"
    if damage == "truncate":
        chunk.write_bytes(chunk.read_bytes()[:200])
    elif damage == "garbage":
        chunk.write_bytes(b"not a zip file at all")
    else:
        with np.load(chunk) as data:
            arrays = dict(data)
        arrays["lengths"] = arrays["lengths"][:-1]
        np.savez(chunk, **arrays)
    again, again_labels = load_nmnist_sim("test", n=50, progress=False)
    with pytest.warns(UserWarning, match=r"nmnist-sim cache chunk .*test-001.npz is corrupt .*; rebuilding it"):
        again = list(again)  # the events are read when asked for: then the damage is found
    assert all(np.array_equal(a, b) for a, b in zip(streams, again)) and np.array_equal(labels, again_labels)


def _digest(streams) -> str:
    h = hashlib.sha256()
    for s in streams:
        h.update(np.int64(len(s)).tobytes())
        for f in ("x", "y", "t", "p"):
            h.update(np.ascontiguousarray(s[f]).astype(np.int64).tobytes())
    return h.hexdigest()


def test_recordings_equal_those_of_the_numpy_simulator():
    """The compiled sensor makes, event for event, what the numpy one made (frozen digests)."""
    expected = json.loads((Path(__file__).parents[1] / "fixtures" / "nmnist_sim_digests.json").read_text())
    train, test = load_mnist("train")[0], load_mnist("test")[0]
    fine = SensorParams(dt_us=250, contrast=0.15, mismatch=0.05, noise_hz=5.0, refractory_us=2000, seed=4)
    cases = {
        "train0-64-default": (train[:64], SensorParams(), 1),
        "test0-16-no-refractory-no-noise": (test[:16], SensorParams(refractory_us=0, noise_hz=0.0), 2),
        "test16-32-fine-steps": (test[16:32], fine, 3),
        "random-images": (
            np.random.default_rng(3).random((6, 28, 28)).astype(np.float32),
            SensorParams(saccade_ms=20.0, dt_us=700, black_level=0.2),
            4,
        ),
    }
    for name, (images, params, seed) in cases.items():
        streams = simulate(images, params, np.random.default_rng(seed))
        got = {"events": int(sum(map(len, streams))), "sha256": _digest(streams)}
        assert got == expected[name], name


def test_more_events_than_the_first_room_run_again(monkeypatch):
    """A sample with more crossings than the buffers hold is recorded whole (the block runs again)."""
    images = load_mnist("test")[0][:3]
    whole = simulate(images, SensorParams(noise_hz=0.0), np.random.default_rng(0))
    monkeypatch.setattr(nmnist_sim, "_CAPACITY", 10)
    monkeypatch.setattr(nmnist_sim, "_BLOCK", 2)
    again = simulate(images, SensorParams(noise_hz=0.0), np.random.default_rng(0))
    assert min(map(len, whole)) > 10
    assert all(np.array_equal(a, b) for a, b in zip(whole, again))
