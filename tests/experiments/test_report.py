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


# -- every rate beside the interval of its own count ----------------------------------------------
def _wilson(k: int, n: int) -> tuple[float, float]:
    """The oracle: scipy's Wilson score interval (independent of the project's)."""
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(0.95, method="wilson")
    return ci.low, ci.high


def _counts_store(path):
    """Runs whose attack and replay measured different rates: a Lava replay of the first 20 of 100
    inputs, a Bernoulli replay over two draws, and a query attack. Returns the store and, per model
    label, the ``(successes, trials)`` behind each rate column of the report."""
    from neuroattack.attacks.metrics import wilson_interval

    def attack(n_total, attacked, success, **labels):
        return AttackSummary(n_total, attacked, success, clean_accuracy=attacked / n_total, asr=success / attacked,
                             asr_interval_95=list(wilson_interval(success, attacked)), **labels)  # fmt: skip

    expected = {
        # attack 18/96 (0.188) in simulation; replayed on 20: sim 1/18 (0.056), hardware 2/17 (0.118)
        "lava-subset": {"sim ASR": (18, 96), "sim ASR, replayed inputs": (1, 18), "hw ASR": (2, 17)},
        # replay over two Bernoulli draws of 40 inputs: the mean draw's counts 6/36 and 4/32
        "bernoulli": {"sim ASR": (11, 37), "sim ASR, replayed inputs": (6, 36), "hw ASR": (4, 32)},
        # a query attack: its own figures are the deployment's, there is no simulation side
        "query": {"hw ASR": (10, 40)},
    }
    runs = {
        "lava-subset": RunResult(
            attack(100, 96, 18, inputs="events"),
            ReplayMetrics(
                n=20, sim_clean_accuracy=0.9, sim_asr=1 / 18, hw_clean_accuracy=0.85, hw_asr=2 / 17, transfer_rate=1.0
            ),  # fmt: skip
        ),
        "bernoulli": RunResult(
            attack(40, 37, 11),
            ReplayMetrics(
                n=40,
                draws=2,
                sim_clean_accuracy=0.9,
                sim_asr=(5 / 36 + 7 / 36) / 2,
                sim_asr_std=0.03,
                hw_clean_accuracy=0.8,
                hw_asr=(3 / 32 + 5 / 32) / 2,
                hw_asr_std=0.03,
                hw_asr_draw_range=[3 / 32, 5 / 32],
            ),  # fmt: skip
        ),
    }
    query = attack(50, 40, 10, backend="emulator", profile="loihi2")
    runs["query"] = RunResult(
        query, ReplayMetrics(n=50, hw_clean_accuracy=0.8, hw_asr=0.25, hw_asr_interval_95=query.asr_interval_95)
    )
    with ResultStore(path) as store:
        for model, result in runs.items():
            settings = {"options": {}, "craft_on": "query" if model == "query" else "sim"}
            _put(store, model, "g2s-rsf/stbp", settings, "lava", "loihi2", result)
    return path, expected


def _rate(cell: str) -> float | None:
    return None if cell == "–" else float(cell.split(" ± ")[0])


def _interval(cell: str) -> tuple[float, float] | None:
    if cell == "–":
        return None
    lo, hi = cell.strip("[]").split(", ")
    return float(lo), float(hi)


def _check_rates(table: dict[str, dict[str, str]], expected: dict, pairs: list[tuple[str, str]]) -> None:
    """Every rate cell lies in its interval cell, and both are that one count's (3 decimals)."""
    for model, cells in table.items():
        for rate_col, interval_col in pairs:
            value, interval = _rate(cells[rate_col]), _interval(cells[interval_col])
            if rate_col not in expected[model]:
                assert value is None and interval is None, (model, rate_col, cells[rate_col], cells[interval_col])
                continue
            k, n = expected[model][rate_col]
            where = (model, rate_col, cells[rate_col], cells[interval_col], f"{k}/{n}")
            assert value == pytest.approx(k / n, abs=6e-4), where
            assert interval is not None and interval[0] <= value <= interval[1], where
            assert interval == pytest.approx(_wilson(k, n), abs=1.5e-3), where


def test_every_asr_in_the_report_and_the_demo_table_beside_its_own_interval(tmp_path):
    """An attack's ASR and a replay's ASR differ (a Lava subset, Bernoulli draws): each is shown
    with the Wilson interval of its own count, in the HTML report and the demo's table, and the
    demo's table shows the store's figures."""
    import html
    import re

    from neuroattack.experiments.report import SUMMARY_COLUMNS

    store, expected = _counts_store(tmp_path / "r.sqlite")
    page = build_report(store, tmp_path / "report").read_text()
    header = [html.unescape(h) for h in re.findall(r"<th>(.*?)</th>", page)]
    report = {}
    for row in re.findall(r"<tr>(<td>.*?)</tr>", page):
        cells = dict(zip(header, (html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", row))))
        report[cells["model"]] = cells
    assert set(report) == set(expected)
    pairs = [("sim ASR", "sim ASR 95 %"), ("sim ASR, replayed inputs", "sim ASR, replayed inputs 95 %"),
             ("hw ASR", "hw ASR 95 %")]  # fmt: skip
    _check_rates(report, expected, pairs)

    lines = summary_table(store).splitlines()
    assert tuple(re.split(r"\s{2,}", lines[0].strip())) == SUMMARY_COLUMNS
    demo = {}
    for line in lines[2:]:
        cells = dict(zip(SUMMARY_COLUMNS, re.split(r"\s{2,}", line.strip()), strict=True))
        demo[cells["model"]] = cells
    assert set(demo) == set(expected)
    _check_rates(demo, expected, [("hw ASR", "hw ASR 95 %")])
    with ResultStore(store, create=False) as s:
        records = {r.model: r for r in s.runs()}
    for model, cells in demo.items():  # the store's figures, as the table writes them (3 decimals)
        sim, hw = records[model].result.sim, records[model].result.hardware
        assert cells["sim ASR"] == ("–" if sim.backend is not None else f"{sim.asr:.3f}")
        assert cells["sim ASR"] == report[model]["sim ASR"]  # the report's simulation figure, not the replay's
        assert cells["hw ASR"] == f"{hw.hw_asr:.3f}"
        assert cells["hw ASR 95 %"] == "[{:.3f}, {:.3f}]".format(*hw.hw_asr_interval()) == report[model]["hw ASR 95 %"]
