"""Query-only attacks: they need nothing but a backend executor, stay within their budget, and
are judged on the executor itself."""

import pytest
import torch

import backends
from neuroattack.attacks.boundary import SpikeBoundary
from neuroattack.attacks.metrics import wilson_interval
from neuroattack.attacks.query_attack import margin
from neuroattack.attacks.square import SpikeSquare
from neuroattack.cli import main
from neuroattack.decision import decide
from neuroattack.replay import graph_of


@pytest.fixture(scope="module")
def emulator(event_victim):
    return backends.load(graph_of(event_victim.model), "loihi2", "emulator")


class DecisionOnly:
    """An executor that hides the scores: counts replaced by a one-hot of the decided class (all
    zeros, silence, where the network decided nothing)."""

    def __init__(self, executor):
        self.executor, self.in_shape, self.kind = executor, executor.in_shape, "decision-only"
        self.calls = 0

    def run(self, spikes):
        self.calls += len(spikes)
        result = self.executor.run(spikes)
        decision = decide(result.counts)
        onehot = torch.nn.functional.one_hot(decision.clamp(min=0), result.counts.shape[1]).float()
        onehot[decision < 0] = 0.0
        return backends.RunResult(onehot[:, None, :], onehot[:, None, :])


@pytest.mark.parametrize("cls", [SpikeSquare, SpikeBoundary])
def test_query_attacks_fool_the_fixed_point_emulator_within_budget(emulator, event_digits, cls):
    _, xt, yt = event_digits
    x, y = xt[:40].float(), yt[:40]
    budget = 76  # 15 % of the 512 input bins
    atk = cls(emulator, queries=200, budget=budget, seed=0)
    x_adv, res = atk.run(x, y)
    s = res.summary()
    assert s.n_attacked >= 30 and s.asr >= 0.6, s
    assert (res.queries <= 200).all() and s.queries_median <= 200 and s.budget == budget
    counts = emulator.run(x_adv).counts  # judged on the executor itself, independently:
    unique_top = (counts == counts.max(1, keepdim=True).values).sum(1) == 1  # a decision, not a tie
    fooled = unique_top & counts.argmax(1).ne(y)
    ok = res.clean_correct & res.success
    assert fooled[ok].all() and torch.equal(res.success, fooled)
    flips = (x_adv != x).flatten(1).sum(1)
    assert (flips <= budget).all() and s.median_l0 <= budget
    assert torch.equal(res.added + res.removed, flips)
    assert torch.equal(x_adv[~res.clean_correct], x[~res.clean_correct])  # misclassified inputs untouched
    assert set(x_adv.unique().tolist()) <= {0.0, 1.0}
    low, high = s.asr_interval_95
    assert low <= s.asr <= high


def test_the_decision_based_attack_reads_only_the_decision(emulator, event_digits):
    _, xt, yt = event_digits
    x, y = xt[:20].float(), yt[:20]
    full = SpikeBoundary(emulator, queries=60, seed=3).run(x, y)[0]
    hidden = DecisionOnly(emulator)
    blind = SpikeBoundary(hidden, queries=60, seed=3).run(x, y)[0]
    assert torch.equal(full, blind) and hidden.calls > 0  # the scores made no difference


def test_square_uses_the_scores(emulator, event_digits):
    _, xt, yt = event_digits
    x, y = xt[:20].float(), yt[:20]
    with_scores = SpikeSquare(emulator, queries=60, seed=3).run(x, y)[1]
    blind = SpikeSquare(DecisionOnly(emulator), queries=60, seed=3).run(x, y)[1]
    assert (
        with_scores.queries.sum() != blind.queries.sum() or with_scores.l2_per_point.sum() != blind.l2_per_point.sum()
    )


def test_a_query_attack_on_lava_equals_the_same_attack_on_the_emulator(event_victim, event_digits):
    """Spot check on Lava: the emulator is spike-exact, so the same seed gives the same attack."""
    _, xt, yt = event_digits
    x, y = xt[:3].float(), yt[:3]
    graph = graph_of(event_victim.model)
    on_emu = SpikeSquare(backends.load(graph, "loihi2", "emulator"), queries=4, seed=1).run(x, y)
    on_lava = SpikeSquare(backends.load(graph, "loihi2", "lava"), queries=4, seed=1).run(x, y)
    assert torch.equal(on_emu[0], on_lava[0]) and torch.equal(on_emu[1].queries, on_lava[1].queries)


def test_margin_is_below_zero_exactly_when_another_class_has_more_spikes():
    counts = torch.tensor([[2.0, 2.0, 0.0], [1.0, 3.0, 3.0], [0.0, 1.0, 4.0], [0.0, 0.0, 0.0], [5.0, 1.0, 0.0]])
    labels = torch.tensor([1, 1, 2, 0, 1])
    beaten = torch.tensor([any(c[k] > c[y] for k in range(3)) for c, y in zip(counts.tolist(), labels.tolist())])
    assert torch.equal(margin(counts, labels) < 0, beaten)  # ties (rows 0, 1) and silence (row 3) are not


def test_bad_settings_are_refused(emulator):
    with pytest.raises(ValueError, match="queries must be an integer >= 2"):
        SpikeSquare(emulator, queries=1)
    with pytest.raises(ValueError, match="budget .* must be a whole number >= 1, got 0"):
        SpikeBoundary(emulator, budget=0)
    with pytest.raises(ValueError, match=r"init_density must be in \(0, 1\]"):
        SpikeBoundary(emulator, init_density=0)
    with pytest.raises(ValueError, match="needs a backend executor"):
        SpikeSquare(object())
    with pytest.raises(ValueError, match="a rate needs"):
        wilson_interval(3, 2)


def test_cli_query_attack_refuses_gradient_flags_and_image_models(digits_checkpoint, tmp_path, capsys):
    argv = ["attack", "--checkpoint", str(digits_checkpoint), "--attack", "square", "--out", str(tmp_path / "q")]
    assert main(argv + ["--grad", "hart"]) == 2
    assert "--grad apply to gradient attacks only, not to --attack square" in capsys.readouterr().err
    assert main(argv + ["--n", "4"]) == 2
    assert "query attacks perturb the input spikes" in capsys.readouterr().err
    assert (
        main(
            [
                "attack",
                "--checkpoint",
                str(digits_checkpoint),
                "--attack",
                "pgd",
                "--backend",
                "lava",
                "--out",
                str(tmp_path / "p"),
            ]
        )
        == 2
    )
    assert "--backend apply to query attacks (square, boundary) only" in capsys.readouterr().err


def test_cli_query_attack_on_an_event_model_writes_streams_and_summary(
    tmp_path, monkeypatch, capsys, nmnist_event_checkpoint
):
    import json

    from neuroattack.attacks.streams import load_streams
    from neuroattack.data import nmnist_sim
    from neuroattack.models.checkpoint import load_checkpoint

    monkeypatch.setattr(nmnist_sim, "CHUNK", 40)

    monkeypatch.setenv("NEUROATTACK_CACHE", str(tmp_path / "cache"))  # chunks of 40: a cache of their own
    model, _ = load_checkpoint(nmnist_event_checkpoint)
    out = tmp_path / "q"
    argv = [
        "attack",
        "--checkpoint",
        str(nmnist_event_checkpoint),
        "--attack",
        "boundary",
        "--queries",
        "30",
        "--n",
        "12",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    line = capsys.readouterr().out
    assert "boundary (query-only, emulator/loihi2): ASR" in line and "queries median" in line
    summary = json.loads((out / "summary.json").read_text())
    streams = load_streams(out)
    assert len(streams) == 12 and streams.kind == "events" and summary["query_budget"] == 30
    assert summary["settings"]["backend"] == "emulator" and summary["profile"] == "loihi2"
    emu = backends.load(graph_of(model, 4), "loihi2", "emulator")
    counts = emu.run(streams.adversarial.float()).counts
    unique_top = (counts == counts.max(1, keepdim=True).values).sum(1) == 1
    expected = torch.where(unique_top, counts.argmax(1), -1)  # a tie or silence: no decision, -1
    assert torch.equal(expected, streams.pred_adv) and (expected == -1).any()  # this untrained net ties


def test_cli_attacks_any_nir_file_with_a_dataset(tmp_path, monkeypatch, capsys):
    """``--graph FILE.nir --dataset NAME``: gradient (through the twin) and query attacks alike."""
    import json

    import nir
    import numpy as np

    from neuroattack.data import nmnist_sim

    monkeypatch.setattr(nmnist_sim, "CHUNK", 40)

    monkeypatch.setenv("NEUROATTACK_CACHE", str(tmp_path / "cache"))  # chunks of 40: a cache of their own
    rng = np.random.default_rng(0)
    n_in = 2 * 34 * 34
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([2, 34, 34])),
            "flat": nir.Flatten({"input": np.array([2, 34, 34])}, 0, -1),
            "fc": nir.Linear(rng.normal(0, 3 / np.sqrt(n_in * 0.05), (10, n_in))),
            "lif": nir.LIF(tau=np.full(10, 2e-3), r=np.ones(10), v_leak=np.zeros(10), v_threshold=np.ones(10)),
            "output": nir.Output(np.array([10])),
        },
        edges=[("input", "flat"), ("flat", "fc"), ("fc", "lif"), ("lif", "output")],
    )
    nir.write(tmp_path / "m.nir", graph)
    common = [
        "--graph",
        str(tmp_path / "m.nir"),
        "--dataset",
        "nmnist-sim",
        "--timesteps",
        "4",
        "--dt",
        "1e-3",
        "--n",
        "8",
    ]
    assert main(["attack", *common, "--attack", "g2s-rsf", "--steps", "3", "--out", str(tmp_path / "g")]) == 0
    summary = json.loads((tmp_path / "g" / "summary.json").read_text())
    assert summary["graph"].endswith("m.nir") and summary["dataset"] == "nmnist-sim" and summary["n_total"] == 8
    assert main(["attack", *common, "--attack", "square", "--queries", "10", "--out", str(tmp_path / "s")]) == 0
    assert "square (query-only, emulator/loihi2)" in capsys.readouterr().out
    replay = ["replay", "--graph", str(tmp_path / "m.nir"), "--dt", "1e-3", "--streams", str(tmp_path / "g")]
    assert (
        main([*replay, "--backend", "emulator", "--store", str(tmp_path / "r.sqlite"), "--out", str(tmp_path / "r")])
        == 0
    )
    replayed = json.loads((tmp_path / "r" / "replay.json").read_text())["hardware"]
    assert replayed["n"] == 8 and replayed["hw_clean_accuracy"] is not None
    assert main([*replay, "--backend", "emulator", "--out", str(tmp_path / "r2"), "--framework", "snntorch"]) == 0
    evaluate = [
        "evaluate",
        "--graph",
        str(tmp_path / "m.nir"),
        "--dataset",
        "nmnist-sim",
        "--timesteps",
        "4",
        "--n",
        "8",
    ]
    assert (
        main(
            [
                *evaluate,
                "--dt",
                "1e-3",
                "--backend",
                "emulator",
                "--profile",
                "loihi2",
                "--out",
                str(tmp_path / "e.json"),
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "e.json").read_text())["n_test"] == 8
    assert main([*evaluate, "--out", str(tmp_path / "e2.json")]) == 2  # norse: a file runs on a backend
    assert main(["attack", "--graph", str(tmp_path / "m.nir"), "--attack", "square", "--out", str(tmp_path / "x")]) == 2
    assert "--graph needs --dataset" in capsys.readouterr().err
