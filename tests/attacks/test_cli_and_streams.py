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
