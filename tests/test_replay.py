import pytest
import torch

import backends
from neuroattack.attacks import G2SRSF, PGD
from neuroattack.attacks.streams import Streams
from neuroattack.replay import graph_of, replay_streams
from neuroattack.replay_metrics import replay_metrics, summarize_draws

T = torch.tensor


def test_metrics_on_a_hand_made_case():
    labels = T([0, 1, 2, 3, 4])
    sim_clean = T([0, 1, 2, 3, 9])  # 4 correct in simulation
    sim_adv = T([5, 5, 2, 5, 4])  # fooled on inputs 0, 1, 3 (and 4, which was wrong already)
    hw_clean = T([0, 1, 7, 3, 4])  # 4 correct on hardware (not input 2)
    hw_adv = T([5, 1, 5, 6, 4])  # fooled on 0, 3 (and 2, which was wrong already)
    m = replay_metrics(labels, None, sim_clean, sim_adv, hw_clean, hw_adv)
    assert m["sim_clean_accuracy"] == pytest.approx(0.8) and m["hw_clean_accuracy"] == pytest.approx(0.8)
    assert m["sim_asr"] == pytest.approx(3 / 4)
    assert m["hw_asr"] == pytest.approx(2 / 4)
    assert m["transfer_rate"] == pytest.approx(2 / 3)  # sim successes 0, 1, 3; hardware keeps 0 and 3
    assert m["agreement_clean"] == pytest.approx(3 / 5) and m["agreement_adv"] == pytest.approx(2 / 5)


def test_targeted_metrics_and_count_divergence():
    labels, targets = T([0, 0, 1]), T([1, 2, 0])
    m = replay_metrics(
        labels,
        targets,
        T([0, 0, 1]),
        T([1, 1, 0]),
        T([0, 0, 1]),
        T([1, 2, 2]),
        (torch.zeros(3, 3), torch.zeros(3, 3)),
        (torch.ones(3, 3), torch.zeros(3, 3)),
    )
    assert m["sim_asr"] == pytest.approx(2 / 3)  # input 1 went to class 1, not its target 2
    assert m["hw_asr"] == pytest.approx(2 / 3)
    assert m["transfer_rate"] == pytest.approx(1 / 2)
    assert m["count_l1_clean"] == pytest.approx(3.0) and m["count_l1_adv"] == 0.0


def test_nothing_to_rate_gives_none_and_spread_is_reported():
    labels = T([0, 1])
    m = replay_metrics(labels, None, T([1, 0]), T([1, 0]), T([1, 0]), T([1, 0]))
    assert m["sim_asr"] is None and m["transfer_rate"] is None
    s = summarize_draws([{"n": 2, "hw_asr": 0.5, "sim_asr": None}, {"n": 2, "hw_asr": 0.7, "sim_asr": None}])
    assert s.hw_asr == pytest.approx(0.6) and s.hw_asr_std == pytest.approx(0.1) and s.sim_asr is None
    assert s.hw_asr_draw_range == [0.5, 0.7] and s.draws == 2 and s.n == 2
    with pytest.raises(ValueError, match="unknown metric"):
        summarize_draws([{"n": 2, "x": 0.5}])


def test_event_replay_on_the_float_emulator_equals_simulation(event_victim, event_digits):
    _, xt, yt = event_digits
    x, y = xt[:30], yt[:30]
    x_adv, res = G2SRSF(event_victim, steps=15, seed=0).run(x, y)
    streams = Streams(x, x_adv, y, None, res.success, res.pred_clean, res.pred_adv, "events", "events", 8, {})
    ex = backends.load(graph_of(event_victim.model), "float", "emulator")
    m = replay_streams(event_victim.model, streams, ex, progress=False)
    assert m.draws == 1
    assert m.agreement_clean == 1.0 and m.agreement_adv == 1.0 and m.count_l1_adv == 0.0
    assert m.transfer_rate == 1.0 and m.hw_asr == pytest.approx(m.sim_asr)
    fixed = backends.load(graph_of(event_victim.model), "loihi2-w4", "emulator")
    q = replay_streams(event_victim.model, streams, fixed, progress=False)
    assert q.agreement_clean < 1.0 or q.count_l1_clean > 0  # 4-bit weights change the spikes


def test_image_replay_reports_spread_over_draws(digits_victim):
    from neuroattack.data.datasets import load_dataset

    ds = load_dataset("digits", "test", n=40)
    x_adv, res = PGD(digits_victim, eps=0.2, steps=3, eval_draws=3, seed=0).run(ds.x, ds.y)
    streams = Streams(ds.x, x_adv, ds.y, None, res.success, res.pred_clean, res.pred_adv, "images", "bernoulli", 8, {})
    ex = backends.load(graph_of(digits_victim.model), "loihi2", "emulator")
    m = replay_streams(digits_victim.model, streams, ex, draws=3, progress=False)
    assert m.draws == 3 and m.hw_asr_std is not None and m.hw_clean_accuracy > 0.7


def test_cli_replay_writes_json_and_store(event_victim, event_digits, tmp_path, capsys):
    import json

    from neuroattack.attacks.streams import save_streams
    from neuroattack.cli import main
    from neuroattack.models.checkpoint import save_checkpoint

    _, xt, yt = event_digits
    model = event_victim.model
    save_checkpoint(
        tmp_path / "ckpt",
        model,
        {
            "model_type": "snn",
            "spec": model.spec.text,
            "input_shape": list(model.input_shape),
            "bias": False,
            "dataset": "digits-frames",
            "timesteps": 8,
            "encoding": "events",
            "neuron": model.neuron.to_dict(),
        },
    )
    atk = G2SRSF(event_victim, steps=10, seed=0)
    x_adv, res = atk.run(xt[:20], yt[:20])
    save_streams(
        tmp_path / "streams",
        Streams(
            xt[:20],
            x_adv,
            yt[:20],
            None,
            res.success,
            res.pred_clean,
            res.pred_adv,
            "events",
            "events",
            8,
            atk.settings(),
        ),
    )
    base = ["replay", "--checkpoint", str(tmp_path / "ckpt"), "--backend", "emulator", "--profile", "loihi2"]
    rc = main([*base, "--streams", str(tmp_path / "streams"), "--n", "12", "--out", str(tmp_path / "run")])
    assert rc == 0 and "hardware ASR" in capsys.readouterr().out
    metrics = json.loads((tmp_path / "run" / "replay.json").read_text())["hardware"]
    assert metrics["n"] == 12 and 0 <= metrics["hw_asr"] <= 1
    # streams that do not say how they were crafted cannot be stored under a run's key
    rc = main(
        [*base, "--streams", str(tmp_path / "streams"), "--store", str(tmp_path / "r.sqlite")]
        + ["--out", str(tmp_path / "run2")]
    )
    assert rc == 2 and "run_spec.json: no such file" in capsys.readouterr().err
    assert not (tmp_path / "r.sqlite").exists()


def test_the_cli_and_a_sweep_store_the_same_run_under_one_key(nmnist_event_checkpoint, tmp_path, monkeypatch, capsys):
    """``attack`` + ``replay --store`` and a sweep of the same settings are one run: the same key,
    so the sweep finds the CLI's run done, and the same figures."""
    from neuroattack.cli import main
    from neuroattack.data import nmnist_sim
    from neuroattack.experiments.pipeline import RunSpec
    from neuroattack.experiments.store import ResultStore
    from neuroattack.experiments.sweep import run_sweep

    monkeypatch.setattr(nmnist_sim, "CHUNK", 40)
    monkeypatch.setenv("NEUROATTACK_CACHE", str(tmp_path / "cache"))  # chunks of 40: a cache of their own
    ckpt = str(nmnist_event_checkpoint)
    streams, store = str(tmp_path / "streams"), str(tmp_path / "r.sqlite")
    attack = ["attack", "--checkpoint", ckpt, "--attack", "g2s-rsf", "--steps", "5", "--gamma", "0.05"]
    assert main([*attack, "--n", "16", "--eval-draws", "8", "--out", streams]) == 0
    replay = ["replay", "--checkpoint", ckpt, "--streams", streams, "--profile", "loihi2-w6", "--draws", "2"]
    assert main([*replay, "--store", store, "--out", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    with ResultStore(store) as rs:
        (cli_row,) = rs.runs()
    assert cli_row.attack == "g2s-rsf/stbp" and cli_row.profile == "loihi2-w6" and cli_row.settings["n"] == 16
    assert cli_row.result.sim.n_total == 16 and cli_row.result.hardware.n == 16

    # the same run written as a sweep spec (the default eval_draws spelt out): the same key, found done
    spec = RunSpec(ckpt, "g2s-rsf", "stbp", {"steps": 5, "gamma": 0.05}, "emulator", "loihi2-w6", n=16, draws=2)
    assert spec.key() == cli_row.key
    assert run_sweep([spec], store, tmp_path / "work", progress=False) == {"done": 0, "skipped": 1}
    # run apart, the sweep measures what the CLI measured
    assert run_sweep([spec], tmp_path / "s.sqlite", tmp_path / "work", progress=False) == {"done": 1, "skipped": 0}
    with ResultStore(tmp_path / "s.sqlite") as rs:
        (sweep_row,) = rs.runs()
    assert sweep_row.key == cli_row.key and sweep_row.result.hardware == cli_row.result.hardware
    assert sweep_row.result.sim.asr == cli_row.result.sim.asr
