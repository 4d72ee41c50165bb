"""``neuroattack curve``: ASR against the event budget, simulation and hardware, into a store."""

import json

import matplotlib.image as mpimg

from neuroattack.cli import main
from neuroattack.experiments.store import ResultStore


def test_curve_writes_json_and_plot_and_stores_each_run_once(nmnist_event_checkpoint, tmp_path, monkeypatch, capsys):
    from neuroattack.data import nmnist_sim

    monkeypatch.setattr(nmnist_sim, "CHUNK", 40)
    monkeypatch.setenv("NEUROATTACK_CACHE", str(tmp_path / "cache"))  # chunks of 40: a cache of their own
    out = tmp_path / "curve"
    argv = ["curve", "--checkpoint", str(nmnist_event_checkpoint), "--attacks", "sparsefool,random,square",
            "--budgets", "50,3", "--queries", "8", "--n", "8", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "sparsefool: median events to fool" in printed and str(out / "curve.json") in printed
    curve = json.loads((out / "curve.json").read_text())
    points = {(p["attack"], p["budget"]): p for p in curve["points"]}
    assert sorted(points) == sorted((a, k) for a in ("sparsefool", "random", "square") for k in (3, 50))
    for (attack, budget), p in points.items():
        assert p["hw_asr"] is not None and p["hw_n"] is not None  # replayed (square: queried) on loihi2
        if p["hw_n"]:
            low, high = p["hw_asr_interval_95"]
            assert low <= p["hw_asr"] <= high
        if attack == "square":
            assert p["sim_asr"] is None  # a query attack has no simulation side
        else:
            assert p["n"] is not None and p["no_decision_rate"] is not None
        if p["median_events"] is not None:
            assert p["median_events"] <= budget
    assert set(curve["summary"]) == {"sparsefool", "random", "square"}
    assert curve["backend"] == "emulator" and curve["profile"] == "loihi2"
    img = mpimg.imread(out / "curve.png")
    assert img.std() > 0.01  # two panels drawn, not a blank canvas
    with ResultStore(out / "curve.sqlite") as store:
        rows = store.runs()
    assert len(rows) == 6 and {r.settings["options"]["budget"] for r in rows} == {3, 50}
    # run again: every run is found in the store, nothing is crafted again
    (out / "curve.json").unlink()
    (out / "curve.png").unlink()
    before = {r.key: r.finished for r in rows}
    assert main(argv) == 0
    with ResultStore(out / "curve.sqlite") as store:
        assert {r.key: r.finished for r in store.runs()} == before
    assert json.loads((out / "curve.json").read_text()) == curve
