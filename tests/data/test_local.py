"""The seeds' real datasets from a local folder: each loads from files in its real format and
layout, trains, is attacked, exports and replays; a missing folder is one clear line; nothing
is downloaded; CIFAR-10's pickles cannot run code."""

import json
import pickle

import pytest

from neuroattack.cli import main
from neuroattack.data.datasets import DATASETS, load_dataset
from neuroattack.data.local import read_cifar_batch
from tests.data.real_formats import MAKERS, make_cifar10, make_nmnist


@pytest.mark.parametrize("name", list(MAKERS))
def test_each_dataset_trains_attacks_exports_and_replays(tmp_path, name, capsys):
    info = DATASETS[name]
    root = tmp_path / "data"
    MAKERS[name](root)
    ck, streams, nir_file, replay = (tmp_path / k for k in ("ck", "atk", "m.nir", "rp"))
    spec = f"32FC-{info.num_classes}FC"
    assert main(["train", "--dataset", name, "--model", spec, "--epochs", "2", "--data-root", str(root),
                 "--device", "cpu", "--out", str(ck)]) == 0  # fmt: skip
    config = json.loads((ck / "config.json").read_text())
    steps = info.default_timesteps
    assert config["timesteps"] == steps and config["num_classes"] == info.num_classes
    if info.binning is not None:  # the binning is recorded, so replay rebuilds the same frames
        assert config["binning"] == info.binning.as_dict(steps)
        assert config["input_shape"] == list(info.binning.frame_shape) == list(info.input_shape)
    attack = (
        ["--attack", "g2s-rsf", "--steps", "3"] if info.encoding == "events" else ["--attack", "pgd", "--eps", "0.1"]
    )
    assert main(["attack", "--checkpoint", str(ck), *attack, "--n", "4", "--data-root", str(root),
                 "--out", str(streams)]) == 0  # fmt: skip
    summary = json.loads((streams / "summary.json").read_text())
    assert summary["dataset"] == name and summary["n_total"] == 4
    assert main(["export", "--checkpoint", str(ck), "--out", str(nir_file)]) == 0 and nir_file.stat().st_size > 0
    assert main(["replay", "--checkpoint", str(ck), "--streams", str(streams), "--backend", "emulator",
                 "--draws", "1", "--out", str(replay)]) == 0  # fmt: skip
    hardware = json.loads((replay / "replay.json").read_text())["hardware"]
    assert hardware["n"] == 4 and 0 <= hardware["hw_clean_accuracy"] <= 1


def test_a_missing_dataset_names_its_files_and_source(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"dataset nmnist not found under .*: expected NMNIST/Train/<digit>/\*\.bin"
    ):
        load_dataset("nmnist", "train", root=tmp_path, progress=False)
    with pytest.raises(FileNotFoundError, match=r"--data-root DIR \(or set \$NEUROATTACK_DATA\)"):
        load_dataset("shd", "test", progress=False)
    assert main(["train", "--dataset", "cifar10", "--data-root", str(tmp_path), "--out", str(tmp_path / "ck")]) == 2


def test_a_subset_of_nmnist_is_read_without_any_download(tmp_path, monkeypatch):
    """tonic would download here (its own check wants 10,000 files); the project never lets it."""
    import tonic.datasets

    make_nmnist(tmp_path, per_split=(3, 2))
    calls = []
    monkeypatch.setattr(tonic.datasets.NMNIST, "download", lambda self: calls.append(self))
    ds = load_dataset("nmnist", "test", root=tmp_path, timesteps=4, progress=False)
    assert len(ds) == 2 and ds.x.shape[1:] == (4, 2, 34, 34) and ds.x.sum() > 0 and calls == []
    assert tonic.datasets.NMNIST._check_exists is not None  # restored after the build


def test_cifar10_batches_are_read_without_running_code(tmp_path):
    make_cifar10(tmp_path, per_batch=3, protocol=2 + 1)
    images, labels = read_cifar_batch(tmp_path / "cifar-10-batches-py" / "test_batch")
    assert images.shape == (3, 3, 32, 32) and labels.tolist() == [0, 1, 2]

    class Payload:
        def __reduce__(self):
            return (print, ("pwned",))

    bad = tmp_path / "evil_batch"
    bad.write_bytes(pickle.dumps({b"data": Payload(), b"labels": [0]}))
    with pytest.raises(ValueError, match=r"evil_batch: not a CIFAR-10 batch \(global builtins.print is not allowed"):
        read_cifar_batch(bad)


def test_a_checkpoint_binned_otherwise_is_refused(tmp_path):
    from neuroattack.models.checkpoint import load_checkpoint, save_checkpoint
    from neuroattack.models.snn import SNN

    info = DATASETS["nmnist"]
    config = {"model_type": "snn", "spec": "8FC-10FC", "input_shape": [2, 34, 34], "bias": False, "dataset": "nmnist",
              "timesteps": 15, "encoding": "events", "neuron": {}, "binning": info.binning.as_dict(15)}  # fmt: skip
    save_checkpoint(tmp_path / "ck", SNN("8FC-10FC", (2, 34, 34)), config)
    load_checkpoint(tmp_path / "ck")  # as recorded: loads
    config["binning"]["bin_us"] = 1000  # trained on 1 ms bins by another version
    (tmp_path / "ck" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="binning = .* differs from how nmnist is binned here"):
        load_checkpoint(tmp_path / "ck")


def test_a_root_with_only_the_training_recordings_serves_split_train_in_recording_order(tmp_path):
    """N-MNIST's files sit in class folders; the first n follow the original dataset's order
    (classes interleaved), and a folder holding only Train/ is enough for --split train/val."""
    import shutil

    make_nmnist(tmp_path, per_split=(30, 4))  # file i has label i % 10: 00000, 00010, 00020 in folder 0
    shutil.rmtree(tmp_path / "NMNIST" / "Test")
    train = load_dataset("nmnist", "train", 6, 15, root=tmp_path, progress=False)
    assert train.y.tolist() == [0, 1, 2, 3, 4, 5]  # the class folders' order would give 0, 0, 0, 1, 1, 1
    val = load_dataset("nmnist", "val", None, 15, root=tmp_path, progress=False)
    assert len(train.y) + len(val.y) <= 30 and len(val.y) == 3 and val.y.tolist() == [7, 8, 9]
    with pytest.raises(FileNotFoundError, match="NMNIST"):
        load_dataset("nmnist", "test", 2, 15, root=tmp_path, progress=False)
