import matplotlib.image as mpimg
import pytest
import torch

from neuroattack.attacks.attack_summary import AttackSummary
from neuroattack.attacks.streams import Streams, save_streams
from neuroattack.cli import main
from neuroattack.experiments.report import build_report, settings_text, summary_table
from neuroattack.experiments.run_record import RunRecord, RunResult
from neuroattack.experiments.store import ResultStore
from neuroattack.replay_metrics import ReplayMetrics


def _result(sim_asr, hw_asr, transfer, surrogate=None):
    sim = AttackSummary(n_total=100, n_attacked=95, n_success=round(95 * sim_asr), asr=sim_asr, surrogate=surrogate)
    sim.mean_perturbation = 0.01
    hardware = ReplayMetrics(
        n=100,
        draws=3,
        sim_asr=sim_asr,
        hw_asr=hw_asr,
        hw_asr_std=0.02,
        hw_asr_draw_range=[hw_asr - 0.03, hw_asr + 0.02],
        transfer_rate=transfer,
        sim_clean_accuracy=0.95,
        hw_clean_accuracy=0.94,
        agreement_clean=0.99,
        agreement_adv=0.9,
    )
    return RunResult(sim, hardware, 1.0)


def _put(store, model, attack, settings, backend, profile, result, artifacts=None):
    key = f"{model} {attack} {settings} {backend} {profile}"
    store.put(RunRecord(key, model, attack, settings, backend, profile, result, artifacts or {}))


@pytest.fixture
def small_store(tmp_path):
    gen = torch.Generator().manual_seed(0)
    clean = (torch.rand(3, 8, 2, 6, 6, generator=gen) < 0.1).to(torch.uint8)
    adv = clean.clone()
    adv[0, 2, 1, 3, 3] = 1 - adv[0, 2, 1, 3, 3]
    adv[0, 5, 0, 1, 4] = 1 - adv[0, 5, 0, 1, 4]
    streams_dir = tmp_path / "streams"
    save_streams(
        streams_dir,
        Streams(
            clean,
            adv,
            torch.tensor([1, 2, 3]),
            None,
            torch.tensor([True, False, False]),
            torch.tensor([1, 2, 3]),
            torch.tensor([4, 2, 3]),
            "events",
            "events",
            8,
            {},
        ),
    )
    with ResultStore(tmp_path / "r.sqlite") as store:
        for eps, asr in ((2 / 255, 0.3), (4 / 255, 0.6), (8 / 255, 0.9)):
            _put(
                store,
                "mnist",
                "pgd/hart",
                {"options": {"eps": eps}},
                "emulator",
                "loihi2",
                _result(asr, asr - 0.1, 0.8),
            )
        for gamma, asr in ((0.01, 0.9), (0.05, 0.97)):
            _put(
                store,
                "nmnist",
                "g2s-rsf/stbp",
                {"options": {"gamma": gamma}},
                "lava",
                "loihi2",
                _result(asr, asr - 0.2, 0.7),
                {"streams": str(streams_dir)},
            )
        _put(
            store,
            "nmnist",
            "g2s-rsf/stbp",
            {"options": {}, "craft_on": "hardware"},
            "emulator",
            "loihi2-w4",
            _result(0.99, 0.98, 0.95),
        )
        _put(
            store,
            "nmnist",
            "g2s-rsf/stbp",
            {"options": {}},
            "emulator",
            "loihi2",
            _result(0.9, 0.5, 0.55, surrogate="runs/models/nmnist-seed1"),
        )
    return tmp_path / "r.sqlite"


def test_report_renders(small_store, tmp_path):
    html_path = build_report(small_store, tmp_path / "report")
    text = html_path.read_text()
    assert "<table>" in text and text.count("<tr>") == 8  # header + 7 runs
    md = (tmp_path / "report" / "report.md").read_text()
    assert "| g2s-rsf/stbp |" in md and "0.980 ± 0.020" in md
    plots = {p.name for p in (tmp_path / "report" / "plots").iterdir()}
    expected = {"asr_sim_vs_hw.png", "asr_vs_eps.png", "asr_vs_gamma.png", "transfer_heatmap.png", "raster.png"}
    assert plots == expected | {"threat_models.png"}  # the store holds white-box and black-box runs
    for name in plots:
        path = tmp_path / "report" / "plots" / name
        assert path.stat().st_size > 10_000, name
        img = mpimg.imread(path)
        assert img.std() > 0.01, name  # not a blank canvas
        assert f"plots/{name}" in text
    summary = summary_table(small_store)
    assert "nmnist-seed1 (black-box)" in summary
    assert "[0.926, 0.994]" in summary  # 92 of 94 correctly classified inputs (scipy binomtest, Wilson)
    assert "| [0.950, 1.000] |" in md  # hw ASR 0.98 over 3 draws: its spread as a column


def test_bar_plot_error_bars_are_the_intervals():
    from neuroattack.experiments.report import _error_bars

    assert _error_bars([0.5, 0.9], [(0.4, 0.7), None]) == [[pytest.approx(0.1), 0.0], [pytest.approx(0.2), 0.0]]


def test_report_cli_and_errors(small_store, tmp_path, capsys):
    assert main(["report", "--store", str(small_store), "--out", str(tmp_path / "r2")]) == 0
    assert (tmp_path / "r2" / "report.html").is_file()
    empty = tmp_path / "empty.sqlite"
    ResultStore(empty).close()
    assert main(["report", "--store", str(empty), "--out", str(tmp_path / "r3")]) == 2
    assert "no finished runs" in capsys.readouterr().err
    assert main(["report", "--store", str(tmp_path / "none.sqlite"), "--out", str(tmp_path / "r4")]) == 2


def test_settings_text_names_what_tells_runs_apart():
    assert settings_text({"eps": 8 / 255, "alpha": 2 / 255, "steps": 7, "targeted": False}) == "eps 8/255"
    assert settings_text({"gamma": 0.05, "sampling": False, "targeted": True}) == "gamma 0.05, no sampling, targeted"
