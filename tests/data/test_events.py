import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroattack.data.events import events_to_frames, frames_to_events, make_events, validate_events

SENSOR = (34, 34, 2)


def test_validate_accepts_good_events():
    ev = make_events([0, 33], [0, 33], [0, 10], [True, False])
    assert validate_events(ev, SENSOR) is ev


@pytest.mark.parametrize(
    "field, kwargs, message",
    [
        ("x", dict(x=[34], y=[0], t=[0], p=[1]), "field 'x' out of range"),
        ("y", dict(x=[0], y=[-1], t=[0], p=[1]), "field 'y' out of range"),
        ("t", dict(x=[0], y=[0], t=[-5], p=[1]), "field 't' is negative"),
        ("t", dict(x=[0, 0], y=[0, 0], t=[10, 5], p=[1, 1]), "field 't' is not sorted"),
    ],
)
def test_validate_names_bad_field(field, kwargs, message):
    ev = make_events(**kwargs)
    with pytest.raises(ValueError, match=message):
        validate_events(ev, SENSOR)


def test_nan_coordinates_rejected():
    with pytest.raises(ValueError, match="field 't' contains NaN"):
        make_events([0.0], [0.0], [np.nan], [1])


def test_validate_rejects_plain_arrays_and_missing_fields():
    with pytest.raises(ValueError, match="structured"):
        validate_events(np.zeros((3, 4)), SENSOR)
    arr = np.zeros(2, dtype=[("x", "i2"), ("y", "i2"), ("t", "i8")])
    with pytest.raises(ValueError, match=r"missing field\(s\) \['p'\]"):
        validate_events(arr, SENSOR)


def test_to_frame_binarizes_and_bins_in_time():
    # three events on one pixel in bin 0, one ON event in bin 3
    ev = make_events([5, 5, 5, 7], [6, 6, 6, 8], [0, 10, 20, 350], [1, 1, 1, 1])
    frames = events_to_frames(ev, SENSOR, n_time_bins=4, duration_us=400)
    assert frames.shape == (4, 2, 34, 34) and frames.dtype == bool
    assert frames[0, 1, 6, 5] and frames.sum() == 2  # three events -> one binary spike
    assert frames[3, 1, 8, 7]


def test_to_frame_pads_trailing_empty_bins_and_drops_late_events():
    ev = make_events([1], [1], [5], [0])
    frames = events_to_frames(ev, SENSOR, n_time_bins=8, duration_us=800)
    assert frames.shape[0] == 8 and frames[0, 0, 1, 1] and frames.sum() == 1
    late = make_events([1], [1], [900], [0])
    assert events_to_frames(late, SENSOR, 8, 800).sum() == 0


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_frames_events_round_trip(steps, seed):
    rng = np.random.default_rng(seed)
    frames = rng.random((steps, 2, 34, 34)) < 0.05
    events = frames_to_events(frames, bin_us=1000)
    validate_events(events, SENSOR)
    back = events_to_frames(events, SENSOR, steps, steps * 1000)
    assert np.array_equal(back, frames)


def test_frames_to_events_rejects_bad_shape():
    with pytest.raises(ValueError, match=r"\[T, P, H, W\]"):
        frames_to_events(np.zeros((2, 34, 34)), 1000)
