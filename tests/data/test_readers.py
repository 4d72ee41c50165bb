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


@pytest.mark.parametrize(
    "field, values, message",
    [
        ("x", [1, 65539], r"field 'x' index 1: value 65539 is out of range \[0, 32767\]"),
        ("x", [2**40 + 5, 1], r"field 'x' index 0: value 1099511627781 is out of range"),
        ("t", [0.0, float("inf")], r"field 't' index 1: value inf is not finite"),
        ("x", [1.7, 2.0], r"field 'x' index 0: value 1.7 is not an integer"),
        ("p", [1, 5], r"field 'p' index 1: value 5 is not a polarity"),
        ("p", [-1, 0], r"field 'p' index 0: value -1 is not a polarity"),
        ("y", [-3, 0], r"field 'y' index 0: value -3 is out of range"),
    ],
)
def test_npz_reader_validates_before_casting(tmp_path, field, values, message):
    """A value the event dtype would wrap, truncate or coerce is refused as written, naming the file,
    the field and the index (before: 65539 became 3, inf became 0, 1.7 became 1, 5 became ON)."""
    from neuroattack.data.readers import read_npz_events

    arrays = {"x": [1, 2], "y": [3, 4], "t": [10, 20], "p": [0, 1]}
    arrays[field] = values
    path = tmp_path / "events.npz"
    np.savez(path, **{k: np.asarray(v) for k, v in arrays.items()})
    with pytest.raises(ValueError, match=message) as err:
        read_npz_events(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated", b"random bytes"])
def test_npz_reader_refuses_unreadable_files_in_one_line(tmp_path, content):
    from neuroattack.data.readers import read_npz_events

    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"{path}: not a readable .npz file"):
        read_npz_events(path)


def test_an_aedat4_file_that_crashes_the_decoder_is_one_clear_error(tmp_path):
    """The aedat decoder aborts the interpreter on this header (a Rust panic while unwinding,
    found by fuzzing): decoded in a child process, it is a ValueError here instead."""
    data = bytearray((FIXTURES / "davis346_sample.aedat4").read_bytes()[:20000])
    data[94] = 0xC3  # invalid UTF-8 in the header's XML
    path = tmp_path / "crash.aedat4"
    path.write_bytes(bytes(data))
    with pytest.raises(
        ValueError, match=r"crash.aedat4: not a readable AEDAT 4 file \(the decoder crashed with SIGABRT\)"
    ):
        read_aedat4(path)
    assert len(read_aedat4(FIXTURES / "davis346_sample.aedat4")) == 78830  # the good file still reads
