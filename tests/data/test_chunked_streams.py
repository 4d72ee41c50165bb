import pickle

import numpy as np
import pytest

from neuroattack.data.chunked_streams import ChunkedStreams
from neuroattack.fileio import write_npz


def _chunks(tmp_path, sizes):
    """Chunk files whose sample ``k`` (counted over all chunks) has ``k + 1`` events at t = k."""
    paths, first = [], 0

    def make(c):
        counts = np.arange(first_of[c], first_of[c] + sizes[c]) + 1
        t = np.repeat(counts - 1, counts).astype(np.uint32)
        zeros = np.zeros(len(t), np.uint8)
        write_npz(tmp_path / f"{c}.npz", x=zeros, y=zeros, t=t, p=zeros, lengths=counts, labels=counts - 1)
        return tmp_path / f"{c}.npz"

    first_of = []
    for size in sizes:
        first_of.append(first)
        first += size
    paths = [make(c) for c in range(len(sizes))]
    return paths, make


def test_samples_are_read_a_chunk_at_a_time(tmp_path):
    paths, make = _chunks(tmp_path, [3, 3, 2])
    streams = ChunkedStreams(paths, 7, 3, [3, 3, 2], make)
    assert len(streams) == 7
    assert [len(s) for s in streams] == [1, 2, 3, 4, 5, 6, 7]
    assert streams._held[0] == 2  # only the chunk last read is held
    assert [int(s["t"][0]) for s in streams[2:5]] == [2, 3, 4]
    assert len(streams[-1]) == 7 and streams[-1]["t"].tolist() == [6] * 7
    with pytest.raises(IndexError, match="sample 7 out of range for 7 samples"):
        streams[7]
    streams.rebuild = None  # the test's maker is a closure; what is shipped must not be the events
    shipped = pickle.loads(pickle.dumps(streams))
    assert shipped._held is None and len(shipped[4]) == 5


def test_a_damaged_chunk_is_named_and_made_again(tmp_path):
    paths, make = _chunks(tmp_path, [2, 2])
    streams = ChunkedStreams(paths, 4, 2, [2, 2], make)
    paths[1].write_bytes(b"garbage")
    assert len(streams[0]) == 1  # the sound chunk reads without a word
    with pytest.warns(UserWarning, match=r"chunk .*1.npz is corrupt \(ValueError\); rebuilding it"):
        assert len(streams[3]) == 4
