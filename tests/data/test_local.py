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


TONIC_CLASSES = {"nmnist": "NMNIST", "dvsgesture": "DVSGesture", "cifar10-dvs": "CIFAR10DVS", "shd": "SHD"}
PATCHABLE = ("download", "_check_exists", "__init__", "_is_file_present", "_folder_contains_at_least_n_files_of_type")


def _tonic_namespaces() -> dict[str, dict]:
    """What tonic's dataset classes (and their base) hold in their own namespaces, by identity."""
    import tonic.dataset
    import tonic.datasets

    classes = [tonic.dataset.Dataset, tonic.datasets.hsd.HSD]
    classes += [getattr(tonic.datasets, c) for c in TONIC_CLASSES.values()]
    return {c.__name__: {k: vars(c).get(k) for k in PATCHABLE} for c in classes}


def _same(a: dict, b: dict) -> bool:
    return all(a[c][k] is b[c][k] for c in a for k in a[c])


@pytest.fixture
def no_network(monkeypatch):
    """Every way tonic downloads, recorded instead: the list of what was attempted."""
    import urllib.request

    import tonic.dataset
    import tonic.download_utils

    attempts = []
    downloaders = [(tonic.dataset, "download_and_extract_archive"), (urllib.request, "urlopen")]
    downloaders += [(tonic.download_utils, "download_url"), (tonic.download_utils, "download_and_extract_archive")]
    for module, name in downloaders:
        monkeypatch.setattr(module, name, lambda *a, _n=name, **k: attempts.append((_n, a)))
    return attempts


@pytest.mark.parametrize("name", list(TONIC_CLASSES))
def test_a_subset_is_read_offline_and_tonic_is_left_untouched(tmp_path, name, no_network):
    """tonic would download here (its own check wants the full dataset); the project never lets it,
    and never changes tonic's classes to do so: after the read every attribute is the original."""
    import tonic.datasets

    MAKERS[name](tmp_path)
    before = _tonic_namespaces()
    ds = load_dataset(name, "test", n=2, root=tmp_path, progress=False)
    assert len(ds) == 2 and ds.x.sum() > 0
    assert no_network == []
    assert _same(_tonic_namespaces(), before), "reading a dataset left tonic's classes changed"
    assert "download" not in vars(getattr(tonic.datasets, TONIC_CLASSES[name]))  # inherited, as shipped


def test_tonic_is_untouched_while_another_thread_builds_a_dataset(tmp_path, monkeypatch, no_network):
    """While one thread is inside tonic's NMNIST constructor (listing the files, past its download
    check), another sees tonic's classes as shipped; many threads reading at once leave them so."""
    import os
    import threading
    import types

    import tonic.datasets.nmnist

    make_nmnist(tmp_path, per_split=(3, 2))
    before = _tonic_namespaces()
    inside, checked = threading.Event(), threading.Event()

    def walk(*args, **kwargs):
        if threading.current_thread().name == "reader":
            inside.set()
            assert checked.wait(30)
        return os.walk(*args, **kwargs)

    proxy = types.SimpleNamespace(**{k: getattr(os, k) for k in dir(os) if not k.startswith("__")})
    proxy.walk = walk
    monkeypatch.setattr(tonic.datasets.nmnist, "os", proxy)
    results, errors = [], []

    def read():
        try:
            results.append(len(load_dataset("nmnist", "test", root=tmp_path, timesteps=4, progress=False)))
        except BaseException as err:  # noqa: BLE001 - reported by the main thread
            errors.append(err)

    reader = threading.Thread(target=read, name="reader")
    reader.start()
    assert inside.wait(30)
    during = _tonic_namespaces()  # the reader is inside tonic's __init__ now
    checked.set()
    reader.join(30)
    assert errors == [] and results == [2]
    assert _same(during, before), "tonic's classes were changed while another thread built a dataset"

    barrier = threading.Barrier(6)

    def many():
        barrier.wait()
        read()

    threads = [threading.Thread(target=many) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and results == [2] * 7 and no_network == []
    assert _same(_tonic_namespaces(), before)


def test_a_missing_file_is_never_downloaded_without_download(tmp_path, no_network):
    """An offline dataset class refuses where tonic would download: one line, no network."""
    import tonic.datasets

    from neuroattack.data.local import offline_class

    with pytest.raises(FileNotFoundError, match="NMNIST: files missing and downloading was not asked for"):
        offline_class(tonic.datasets.NMNIST).download(None)
    assert offline_class(tonic.datasets.NMNIST) is offline_class(tonic.datasets.NMNIST)
    assert no_network == []


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
