"""Datasets (bundled real data, simulated N-MNIST), event-file readers, events <-> frames."""

from neuroattack.data.datasets import DATASETS, Dataset, DatasetInfo, load_dataset
from neuroattack.data.events import EVENT_DTYPE, events_to_frames, frames_to_events, make_events, validate_events
from neuroattack.data.readers import read_aedat4, read_event_file, read_nmnist_file, write_nmnist_file

__all__ = [
    "DATASETS",
    "Dataset",
    "DatasetInfo",
    "EVENT_DTYPE",
    "events_to_frames",
    "frames_to_events",
    "load_dataset",
    "make_events",
    "read_aedat4",
    "read_event_file",
    "read_nmnist_file",
    "validate_events",
    "write_nmnist_file",
]
