import json

import pytest

from neuroattack.cli import main
from neuroattack.models.checkpoint import load_checkpoint
from neuroattack.train import TrainConfig, train


def test_short_training_beats_chance_by_far(tmp_path):
    cfg = TrainConfig(dataset="digits", spec="64FC-10FC", epochs=8, n_test=300)
    model, metrics = train(cfg, tmp_path, progress=False)
    assert metrics["test_accuracy"] > 0.6  # chance is 0.1
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["test_accuracy"] == metrics["test_accuracy"]
    loaded, config = load_checkpoint(tmp_path)
    assert config["spec"] == "64FC-10FC" and config["encoding"] == "bernoulli"


def test_cli_train_and_evaluate(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(
        [
            "train",
            "--dataset",
            "digits",
            "--model",
            "32FC-10FC",
            "--epochs",
            "1",
            "--n-train",
            "200",
            "--n-test",
            "100",
            "--lambda",
            "1.0",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    assert {"model.pt", "config.json", "metrics.json"} <= {p.name for p in out.iterdir()}
    assert json.loads((out / "config.json").read_text())["neuron"]["leak"] == 1.0
    rc = main(["evaluate", "--checkpoint", str(out), "--n", "100"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and printed.rstrip().endswith(f"-> {out / 'evaluation.json'}")  # where it wrote
    assert 0.0 <= json.loads((out / "evaluation.json").read_text())["test_accuracy"] <= 1.0


def test_cli_reports_bad_spec(tmp_path, capsys):
    rc = main(["train", "--dataset", "digits", "--model", "12X-10FC", "--out", str(tmp_path / "x")])
    assert rc == 2
    assert "is not one of" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "flags, message",
    [
        (
            ["--timesteps", "10000000"],
            "timesteps = 10000000: a batch of 64 inputs (10000000x64x1x8x8 float32) needs 163.8 GB",
        ),
        (
            ["--model", "99999999999FC-10FC"],
            "model spec '99999999999FC-10FC': layer 1 (99999999999FC) has 6399999999936",
        ),
    ],
)
def test_sizes_that_cannot_fit_in_memory_are_refused_before_training(tmp_path, capsys, monkeypatch, flags, message):
    from neuroattack.cli import main

    monkeypatch.setattr("neuroattack.train.load_dataset", lambda *a, **k: pytest.fail("data loaded"))
    assert main(["train", *flags, "--out", str(tmp_path / "ck")]) == 2
    (err,) = capsys.readouterr().err.strip().splitlines()
    assert message in err and "more than this machine's" in err
    assert not (tmp_path / "ck").exists()
