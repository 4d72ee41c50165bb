from pathlib import Path

import numpy as np
import pytest

from neuroattack.data.events import events_to_frames, make_events, validate_events
from neuroattack.data.readers import (
    read_aedat4,
    read_event_file,
    read_nmnist_file,
    read_npz_events,
    write_nmnist_file,
)

FIXTURES = Path(__file__).parents[1] / "fixtures"
DAVIS = FIXTURES / "davis346_sample_events.npz"
DAVIS_AEDAT = FIXTURES / "davis346_sample.aedat4"


def test_nmnist_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    n = 500
    t = np.sort(rng.integers(0, 300_000, n))
    ev = make_events(rng.integers(0, 34, n), rng.integers(0, 34, n), t, rng.random(n) < 0.5)
    path = tmp_path / "sample.bin"
    write_nmnist_file(path, ev)
    assert path.stat().st_size == 5 * n
    back = read_nmnist_file(path)
    for f in ("x", "y", "t", "p"):
        assert np.array_equal(back[f], ev[f]), f
    assert np.array_equal(read_event_file(path), back)


def test_nmnist_reader_rejects_truncated_file(tmp_path):
    path = tmp_path / "bad.bin"
    path.write_bytes(b"\x01\x02\x03\x04\x05\x06\x07")
    with pytest.raises(ValueError, match="not a multiple of 5"):
        read_nmnist_file(path)


def test_nmnist_writer_rejects_out_of_range_and_leaves_nothing(tmp_path):
    davis = read_npz_events(DAVIS)  # x up to 345: does not fit N-MNIST's 8-bit field
    path = tmp_path / "davis.bin"
    with pytest.raises(ValueError, match="field 'x' outside the N-MNIST range"):
        write_nmnist_file(path, davis)
    assert list(tmp_path.iterdir()) == []


def test_real_davis346_recording_reads_and_frames():
    ev = read_npz_events(DAVIS)
    assert len(ev) == 78_830
    validate_events(ev, (346, 260, 2))
    assert ev["t"][0] == 0 and ev["t"][-1] == 2_359_945
    frames = events_to_frames(ev, (346, 260, 2), n_time_bins=10, duration_us=2_360_000)
    assert frames.shape == (10, 2, 260, 346)
    # every event lands in some frame; binarisation can only merge events
    assert 0 < frames.sum() <= len(ev)
    assert frames[:, 1].sum() > 0 and frames[:, 0].sum() > 0


def test_aedat4_reader_rejects_garbage(tmp_path):
    path = tmp_path / "x.aedat4"
    path.write_bytes(b"not an aedat file")
    with pytest.raises(ValueError, match="not a readable AEDAT 4 file"):
        read_aedat4(path)


def test_aedat4_matches_the_decoded_sample():
    ev = read_aedat4(DAVIS_AEDAT)
    ref = read_npz_events(DAVIS)
    for f in ("x", "y", "t", "p"):
        assert np.array_equal(ev[f], ref[f]), f


def test_unknown_suffix(tmp_path):
    with pytest.raises(ValueError, match="unknown event file type"):
        read_event_file(tmp_path / "a.txt")
