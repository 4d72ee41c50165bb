import json

import nir
import pytest
import torch

from neuroattack.attacks.streams import Streams, load_streams, save_streams
from neuroattack.cli import main


def test_cli_attack_writes_summary_and_streams(digits_checkpoint, tmp_path, capsys):
    out = tmp_path / "pgd"
    rc = main(
        [
            "attack",
            "--checkpoint",
            str(digits_checkpoint),
            "--attack",
            "pgd",
            "--grad",
            "hart",
            "--eps",
            "24/255",
            "--steps",
            "3",
            "--n",
            "40",
            "--eval-draws",
            "3",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    for key in ("asr", "mean_perturbation", "mean_iterations", "n_attacked"):
        assert key in summary
    assert summary["settings"]["grad"] == "hart" and summary["settings"]["eps"] == pytest.approx(24 / 255)
    assert 0 <= summary["asr"] <= 1 and summary["n_attacked"] > 25
    streams = load_streams(out)
    assert streams.kind == "images" and len(streams) == 40
    assert (streams.adversarial - streams.clean).abs().max() <= 24 / 255 + 1e-6
    assert "ASR" in capsys.readouterr().out


def test_cli_attack_rejects_options_that_do_not_apply(digits_checkpoint, tmp_path, capsys):
    rc = main(
        [
            "attack",
            "--checkpoint",
            str(digits_checkpoint),
            "--attack",
            "fgsm",
            "--gamma",
            "0.1",
            "--out",
            str(tmp_path / "x"),
        ]
    )
    assert rc == 2 and "--gamma do(es) not apply to --attack fgsm" in capsys.readouterr().err
    rc = main(
        [
            "attack",
            "--checkpoint",
            str(digits_checkpoint),
            "--attack",
            "pgd",
            "--eps",
            "9",
            "--out",
            str(tmp_path / "x"),
        ]
    )
    assert rc == 2 and "eps must be in (0, 1]" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_event_streams_round_trip_and_nir_data(event_victim, event_digits, tmp_path):
    from neuroattack.attacks import G2SRSF

    _, xt, yt = event_digits
    atk = G2SRSF(event_victim, steps=10, seed=0)
    x_adv, res = atk.run(xt[:12], yt[:12])
    streams = Streams(
        clean=xt[:12],
        adversarial=x_adv,
        labels=yt[:12],
        targets=None,
        success=res.success,
        pred_clean=res.pred_clean,
        pred_adv=res.pred_adv,
        kind="events",
        encoding="events",
        timesteps=8,
        settings=atk.settings(),
        bin_us=1000,
    )
    save_streams(tmp_path, streams)
    back = load_streams(tmp_path)
    assert torch.equal(back.adversarial, x_adv) and torch.equal(back.labels, yt[:12])
    assert back.targets is None and back.settings["attack"] == "g2s-rsf" and back.bin_us == 1000
    first = back.head(5)
    assert len(first) == 5 and torch.equal(first.adversarial, x_adv[:5]) and first.kind == "events"
    with pytest.raises(ValueError, match="n must be >= 1"):
        back.head(0)
    data = nir.read_data(tmp_path / "streams.nir.h5")
    adv = data.nodes["input"].observables["adversarial"]
    assert adv.data.shape == (12, 8, 64) and adv.dt == pytest.approx(1e-3)
    assert (adv.data == x_adv.reshape(12, 8, 64).numpy().astype(bool)).all()


def test_streams_reject_bad_input(tmp_path):
    with pytest.raises(ValueError, match="not binary"):
        Streams(
            clean=torch.full((2, 3, 1, 2, 2), 0.5),
            adversarial=torch.zeros(2, 3, 1, 2, 2),
            labels=torch.zeros(2),
            targets=None,
            success=torch.zeros(2),
            pred_clean=torch.zeros(2),
            pred_adv=torch.zeros(2),
            kind="events",
            encoding="events",
            timesteps=3,
            settings={},
        )
    with pytest.raises(FileNotFoundError, match="not a streams directory"):
        load_streams(tmp_path)
    (tmp_path / "streams.h5").write_text("garbage")
    with pytest.raises(ValueError, match="not a readable HDF5 streams file"):
        load_streams(tmp_path)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda f: f.attrs.__delitem__("encoding"), r"streams.h5: attribute 'encoding' is missing"),
        (
            lambda f: f.attrs.__setitem__("timesteps", 0),
            r"streams.h5: attribute 'timesteps' = 0, expected an integer >= 1",
        ),
        (
            lambda f: (f.__delitem__("labels"), f.create_dataset("labels", data=[1.5, 2.0])),
            r"streams.h5: labels has dtype float64, expected integer classes",
        ),
        (
            lambda f: (f.__delitem__("labels"), f.create_dataset("labels", data=[3, -2])),
            r"streams.h5: labels\[1\] = -2 is below 0",
        ),
        (lambda f: f.attrs.__setitem__("encoding", "rate"), r"attribute 'encoding' = 'rate', expected one of"),
    ],
)
def test_a_bad_streams_file_is_refused_before_any_cast(tmp_path, edit, message):
    import h5py

    streams = Streams(
        clean=torch.zeros(2, 1, 4, 4),
        adversarial=torch.zeros(2, 1, 4, 4),
        labels=torch.tensor([3, 1]),
        targets=None,
        success=torch.zeros(2, dtype=torch.bool),
        pred_clean=torch.tensor([3, 1]),
        pred_adv=torch.tensor([3, 1]),
        kind="images",
        encoding="direct",
        timesteps=4,
        settings={},
    )
    save_streams(tmp_path, streams)
    assert torch.equal(load_streams(tmp_path).labels, torch.tensor([3, 1]))
    with h5py.File(tmp_path / "streams.h5", "a") as f:
        edit(f)
    with pytest.raises(ValueError, match=message):
        load_streams(tmp_path)


def _image_streams(labels, shape=(1, 8, 8)):
    n = len(labels)
    x = torch.rand(n, *shape, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor(labels)
    return Streams(
        x, x.clone(), labels, None, torch.zeros(n, dtype=torch.bool), labels, labels, "images", "bernoulli", 8, {}
    )


@pytest.mark.parametrize(
    "streams, message",
    [
        (
            _image_streams([1, 2, 10, 3]),
            r"streams.h5: labels\[2\] = 10 is not a class of the model \(it has 10 outputs",
        ),
        (_image_streams([1, 2], (1, 4, 4)), r"streams.h5: inputs of shape \[1, 4, 4\], the model takes \[1, 8, 8\]"),
    ],
)
def test_replay_refuses_streams_that_do_not_fit_the_model_before_running(
    digits_checkpoint, tmp_path, capsys, streams, message
):
    """Before, labels at or above the class count replayed with exit 0 and a wrong clean accuracy
    (0.80 where the truth was 1.00): labels were checked from below only."""
    import re

    save_streams(tmp_path / "s", streams)
    argv = ["replay", "--checkpoint", str(digits_checkpoint), "--streams", str(tmp_path / "s")]
    assert main([*argv, "--out", str(tmp_path / "r")]) == 2
    (err,) = capsys.readouterr().err.strip().splitlines()
    assert re.search(message, err), err
    assert not (tmp_path / "r").exists()


def test_a_streams_input_shape_attribute_that_disagrees_with_its_arrays_is_refused(tmp_path):
    import h5py

    save_streams(tmp_path, _image_streams([1, 2]))
    with h5py.File(tmp_path / "streams.h5", "a") as f:
        f.attrs["input_shape"] = [1, 4, 16]
    with pytest.raises(
        ValueError,
        match=r"streams.h5: attribute 'input_shape' = \[1, 4, 16\], the arrays hold inputs of shape \[1, 8, 8\]",
    ):
        load_streams(tmp_path)


def _clean_events(tmp_path, **change):
    import numpy as np

    from neuroattack.attacks.streams import load_clean_events, save_clean_events
    from neuroattack.data.events import make_events

    save_clean_events(tmp_path, [make_events([1, 2], [3, 4], [10, 20], [1, 0])], (34, 34, 2))
    with np.load(tmp_path / "clean_events.npz") as data:
        arrays = {k: data[k] for k in data.files}
    arrays.update(change)
    np.savez(tmp_path / "clean_events.npz", **arrays)
    return load_clean_events(tmp_path)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"x": [65544, 2]}, r"clean_events.npz: x\[0\] = 65544 is outside the sensor's 0 to 33"),
        ({"y": [3, 70000]}, r"clean_events.npz: y\[1\] = 70000 is outside the sensor's 0 to 33"),
        ({"x": [-1, 2]}, r"x\[0\] = -1 is outside"),
        ({"p": [1, 7]}, r"p\[1\] = 7 is outside the sensor's 0 to 1"),
        ({"t": [10, -5]}, r"t\[1\] = -5 is negative"),
        ({"x": [1.5, 2.0]}, r"array x has shape \[2\] and dtype float64, expected 1-D integers"),
        ({"sensor_size": [34, 34]}, r"sensor_size = \[34, 34\], expected \[W, H, P\]"),
        ({"offsets": []}, r"offsets do not split the 2 events"),
    ],
)
def test_clean_events_are_checked_as_written_before_any_cast(tmp_path, change, message):
    """Before, x = 65544 wrapped to 8 and 70000 was reported as 4464 (the int16 cast came first)."""
    import numpy as np

    change = {k: np.asarray(v, dtype=np.int64 if k == "offsets" else None) for k, v in change.items()}
    with pytest.raises(ValueError, match=message) as err:
        _clean_events(tmp_path, **change)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", r"clean_events.npz: not a readable .npz of clean events"),
        (b"PK\x03\x04 truncated zip", r"clean_events.npz: not a readable .npz of clean events"),
        (b"\x93NUMPY not an archive", r"clean_events.npz: not a readable .npz of clean events"),
    ],
)
def test_a_malformed_clean_events_file_is_one_line_naming_it(tmp_path, content, message):
    from neuroattack.attacks.streams import load_clean_events

    (tmp_path / "clean_events.npz").write_bytes(content)
    with pytest.raises(ValueError, match=message) as err:
        load_clean_events(tmp_path)
    assert "\n" not in str(err.value)


def _replace(f, name, data):
    del f[name]
    f.create_dataset(name, data=data)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda f: (f.__delitem__("labels"), f.create_group("labels")), r"'labels' is a Group, expected a dataset"),
        (lambda f: _replace(f, "labels", 3), r"labels is a single value 3, expected an array"),
        (lambda f: _replace(f, "labels", [b"a", b"b"]), r"labels has dtype object, expected numbers"),
        (lambda f: _replace(f, "clean", [b"a", b"b"]), r"clean has dtype object, expected numbers"),
        (lambda f: _replace(f, "success", True), r"success is a single value True"),
        (
            lambda f: f.__setitem__("labels", __import__("h5py").SoftLink("/nowhere")),
            r"dataset 'labels' cannot be opened",
        ),
        (lambda f: _replace(f, "success", [[0, 1], [1, 0]]), r"success has shape \[2, 2\], expected \[N\]"),
        (lambda f: f.attrs.__setitem__("bin_us", "abc"), r"attribute 'bin_us' = 'abc', expected an integer"),
        (lambda f: f.attrs.__setitem__("settings", "[1]"), r"attribute 'settings' is JSON list, expected an object"),
        (
            lambda f: _replace(f, "labels", __import__("numpy").array([2**63 + 5, 1], "u8")),
            r"labels\[0\] = 9223372036854775813 is too large",
        ),
    ],
)
def test_a_malformed_streams_form_is_one_line_not_a_traceback(tmp_path, edit, message):
    """The first six gave a TypeError or KeyError traceback before; the others were accepted."""
    import h5py

    save_streams(tmp_path, _image_streams([1, 2], (1, 4, 4)))
    with h5py.File(tmp_path / "streams.h5", "a") as f:
        if "SoftLink" in repr(edit.__code__.co_names):
            del f["labels"]
        edit(f)
    with pytest.raises(ValueError, match=message) as err:
        load_streams(tmp_path)
    assert str(err.value).startswith(str(tmp_path / "streams.h5")) and "\n" not in str(err.value)


def test_the_streams_digest_is_their_content_only(tmp_path):
    """Before, a stray .h5 beside the streams changed their digest (and so did the folder's files' names)."""
    import shutil

    from neuroattack.attacks.streams import streams_digest

    save_streams(tmp_path / "a", _image_streams([1, 2]))
    digest = streams_digest(tmp_path / "a")
    (tmp_path / "a" / "notes.h5").write_bytes(b"stray")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert streams_digest(tmp_path / "a") == streams_digest(tmp_path / "b") == digest
    save_streams(tmp_path / "c", _image_streams([1, 3]))
    assert streams_digest(tmp_path / "c") != digest
