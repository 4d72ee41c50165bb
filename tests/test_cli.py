"""The command line is built from the registries: every attack's options become flags, choices
come from the registries, and a flag that does not apply is one clear error."""

import pytest

from neuroattack.attacks.registry import ATTACKS, QUERY_ATTACKS, option_specs
from neuroattack.cli import build_parser, main
from neuroattack.commands import COMMANDS
from neuroattack.data.datasets import DATASETS


def _subparser(parser, *names):
    for name in names:
        action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
        parser = action.choices[name]
    return parser


def test_every_attack_option_is_a_flag_with_its_docstring_help():
    attack = _subparser(build_parser(), "attack")
    flags = {opt: a for a in attack._actions for opt in a.option_strings}
    assert sorted(flags["--attack"].choices) == sorted({**ATTACKS, **QUERY_ATTACKS})
    for name, cls in {**ATTACKS, **QUERY_ATTACKS}.items():
        for opt in option_specs(cls):
            flag = f"--no-{opt.name}" if opt.default is True else "--" + opt.name.replace("_", "-")
            assert flag in flags, (name, flag)
            assert opt.help and opt.help.replace("``", "").rstrip(".")[:20] in flags[flag].help


def test_choices_come_from_the_registries():
    train = _subparser(build_parser(), "train")
    dataset = next(a for a in train._actions if "--dataset" in a.option_strings)
    assert sorted(dataset.choices) == sorted(DATASETS)
    names = {c.name for c in COMMANDS}
    assert {"train", "attack", "bench attacks", "bench backends"} <= names


@pytest.mark.parametrize(
    "argv", [["train", "--epochs", "0", "--out", "x"], ["bench", "attacks", "--batch", "0", "--out", "x"]]
)
def test_zero_counts_are_refused_not_replaced_by_defaults(argv, capsys):
    with pytest.raises(SystemExit):
        main(argv)
    assert "must be >= 1, got 0" in capsys.readouterr().err


def test_outputs_never_overwrite_inputs(tmp_path, capsys):
    """evaluate/export pointed at a checkpoint's own files refuse, name the file and leave it intact."""
    ckpt = _tiny_checkpoint(tmp_path / "ckpt")
    before = {p.name: p.read_bytes() for p in ckpt.iterdir()}
    for argv in (
        ["evaluate", "--checkpoint", str(ckpt), "--out", str(ckpt / "config.json")],
        ["export", "--checkpoint", str(ckpt), "--out", str(ckpt / "model.pt")],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "is one of the input files" in err and "--force" in err
    assert {p.name: p.read_bytes() for p in ckpt.iterdir()} == before
    assert main(["evaluate", "--checkpoint", str(ckpt), "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_inspect_reads_a_foreign_nir_file_and_names_what_it_adapted(capsys):
    from pathlib import Path

    fixture = Path(__file__).parents[1] / "backends" / "interop_fixtures" / "sinabs_if_iaf.nir"
    assert main(["inspect", "--nir", str(fixture), "--framework", "sinabs"]) == 0
    out = capsys.readouterr().out
    assert "fails NIR's type check" in out and "read as [6]" in out and "dt 1 s" in out
    assert "input->1 -> Dense(5x6)" in out and "1 on loihi2: scale" in out


def test_inspect_refuses_a_bad_graph_in_one_line(tmp_path, capsys):
    import nir
    import numpy as np

    g = nir.NIRGraph.from_list(
        nir.Input(np.array([3])),
        nir.Linear(np.array([[1.0, np.nan, 2.0]])),
        nir.IF(r=np.ones(1), v_threshold=np.ones(1)),
        nir.Output(np.array([1])),
    )
    nir.write(tmp_path / "bad.nir", g)
    assert main(["inspect", "--nir", str(tmp_path / "bad.nir"), "--dt", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["neuroattack inspect: error: NIR node 'linear': weight[1] = nan is not finite"]


def test_inspect_explains_a_wrong_time_step_in_one_line(tmp_path, capsys):
    from tests.backends.test_quantize import _in_steps

    path = _in_steps(tmp_path)
    assert main(["inspect", "--nir", str(path)]) == 2
    captured = capsys.readouterr()
    assert "warning: NIR graph has no time step: guessed dt = 0.001 s" in captured.out
    (err,) = captured.err.strip().splitlines()
    assert (
        "threshold" in err
        and "at dt = 0.001 s" in err
        and "sinabs/spyx: 1 s, 1000x the dt used" in err
        and "--dt / --framework" in err
    )
    assert main(["inspect", "--nir", str(path), "--framework", "sinabs"]) == 0
    assert "dt 1 s" in capsys.readouterr().out


def test_inspect_takes_spyx_time_step_convention(tmp_path, capsys):
    import nir

    from tests.backends.test_timestep import spyx_graph

    nir.write(tmp_path / "spyx.nir", spyx_graph())
    assert main(["inspect", "--nir", str(tmp_path / "spyx.nir"), "--framework", "spyx"]) == 0
    out = capsys.readouterr().out
    assert "assumed spyx's convention dt = 1 s" in out and "dt 1 s" in out


def _tiny_checkpoint(path):
    from neuroattack.models.checkpoint import save_checkpoint
    from neuroattack.models.snn import SNN

    config = {
        "model_type": "snn",
        "spec": "10FC",
        "input_shape": [1, 8, 8],
        "bias": False,
        "dataset": "digits",
        "timesteps": 8,
        "encoding": "bernoulli",
    }
    save_checkpoint(path, SNN("10FC", (1, 8, 8)), config)
    return path


def _snapshot(*roots):
    return {p: p.read_bytes() for root in roots for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def never_runs(monkeypatch):
    """Training, attacking, benchmarking and replaying fail the test if they start."""

    def fail(*args, **kwargs):
        raise AssertionError("work started before the outputs were checked")

    for target in (
        "neuroattack.train.train",
        "neuroattack.experiments.pipeline.craft",
        "neuroattack.experiments.pipeline.replay",
        "neuroattack.experiments.bench.bench_attacks",
        "neuroattack.experiments.bench.bench_backends",
        "neuroattack.attacks.streams.load_streams",
    ):
        monkeypatch.setattr(target, fail)


@pytest.mark.parametrize(
    "argv, named",
    [
        (
            ["bench", "attacks", "--checkpoint", "{m}", "--out", "{m}/model.pt"],
            "output {m}/model.pt is one of the input",
        ),
        (["bench", "backends", "--checkpoint", "{m}", "--out", "{m}/config.json"], "output {m}/config.json is one"),
        (["bench", "backends", "--graph", "{g}", "--dataset", "digits", "--out", "{g}"], "output {g} is one of"),
        (
            ["replay", "--checkpoint", "{m}", "--streams", "{s}", "--store", "{d}/replay.json", "--out", "{d}"],
            "output {d}/replay.json is given twice",
        ),
        (["attack", "--checkpoint", "{m}", "--attack", "pgd", "--out", "{m}"], "output {m} would be replaced whole"),
        (["attack", "--checkpoint", "{m}", "--attack", "pgd", "--out", "{d}"], "output {d} is a folder holding other"),
        (["train", "--out", "{d}"], "output {d} is a folder holding other files (replay.json, x.txt)"),
        (["evaluate", "--checkpoint", "{m}", "--out", "{f}/e.json"], "output {f}/e.json: {f} is a file, not a folder"),
        (["train", "--out", "{f}/sub/ck"], "output {f}/sub/ck: {f} is a file, not a folder"),
        (["attack", "--checkpoint", "{m}", "--attack", "pgd", "--out", "{f}/a"], "output {f}/a: {f} is a file"),
    ],
)
def test_an_output_that_is_an_input_or_cannot_be_written_is_refused_before_any_work(
    tmp_path, capsys, never_runs, argv, named
):
    """Before: bench replaced model.pt or config.json with JSON, bench backends --graph X --out X the
    graph, and replay --store DIR/replay.json --out DIR the store; a folder that could not be written
    failed after training."""
    import nir

    from tests.backends.graphs import chain, lif

    m = _tiny_checkpoint(tmp_path / "m")
    d = tmp_path / "d"
    d.mkdir()
    (d / "x.txt").write_text("mine")
    (d / "replay.json").write_text("{}")
    (tmp_path / "s").mkdir()
    f = tmp_path / "f"
    f.write_text("a file")
    g = tmp_path / "g.nir"
    nir.write(g, chain([64, 10], lif))
    paths = {"m": m, "d": d, "s": tmp_path / "s", "f": f, "g": g}
    before = _snapshot(tmp_path)
    assert main([a.format(**paths) for a in argv]) == 2
    (err,) = capsys.readouterr().err.strip().splitlines()
    assert named.format(**paths) in err, err
    assert _snapshot(tmp_path) == before


def test_a_read_only_folder_is_named_before_any_work(tmp_path, capsys, never_runs, monkeypatch):
    import os

    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: stand in for a folder this process may not write
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(ro) else real(p, mode))
    try:
        assert main(["train", "--out", str(ro / "ck")]) == 2
        assert (
            capsys.readouterr().err.strip()
            == f"neuroattack train: error: output {ro}/ck: its folder {ro} is not writable"
        )
        assert main(["bench", "attacks", "--out", str(ro / "b.json")]) == 2
        assert f"its folder {ro} is not writable" in capsys.readouterr().err
    finally:
        ro.chmod(0o755)


def test_a_profile_extends_cycle_through_a_relative_path_is_one_line(tmp_path, capsys):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.toml").write_text('name = "a"\nextends = "sub/../b.toml"\n')
    (tmp_path / "b.toml").write_text('name = "b"\nextends = "./a.toml"\n')
    (tmp_path / "deep.toml").write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    for name in ("a.toml", "deep.toml"):
        profile = tmp_path / name
        assert main(["inspect", "--nir", "n.nir", "--profile", str(profile)]) == 2
        (err,) = capsys.readouterr().err.strip().splitlines()
        assert err.startswith(f"neuroattack inspect: error: hardware profile {profile}")


def test_deeply_nested_json_is_one_line_naming_the_file(tmp_path, capsys):
    ck = _tiny_checkpoint(tmp_path / "ck")
    (ck / "config.json").write_text("[" * 100000 + "]" * 100000)
    assert main(["evaluate", "--checkpoint", str(ck), "--out", str(tmp_path / "e.json")]) == 2
    (err,) = capsys.readouterr().err.strip().splitlines()
    assert err == f"neuroattack evaluate: error: {ck / 'config.json'}: JSON nested too deeply"


def test_ctrl_c_and_os_errors_are_one_line(tmp_path, capsys, monkeypatch):
    """Before, SIGINT outside Lava printed a KeyboardInterrupt traceback, and an OSError on a
    user's path a traceback."""
    import neuroattack.experiments.report as report

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "build_report", interrupted)
    store = tmp_path / "r.sqlite"
    store.write_bytes(b"x")
    assert main(["report", "--store", str(store), "--out", str(tmp_path / "rep")]) == 130
    (err,) = capsys.readouterr().err.strip().splitlines()
    assert err.startswith("neuroattack report: interrupted (SIGINT)")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "rep" / "report.md"))

    monkeypatch.setattr(report, "build_report", denied)
    assert main(["report", "--store", str(store), "--out", str(tmp_path / "rep")]) == 2
    (err,) = capsys.readouterr().err.strip().splitlines()
    assert err == f"neuroattack report: error: {tmp_path / 'rep' / 'report.md'}: Permission denied"


def test_report_never_writes_into_a_store_it_reads(tmp_path, capsys):
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    assert main(["report", "--store", str(empty), "--out", str(tmp_path / "rep")]) == 2
    assert "empty file, not a results store" in capsys.readouterr().err
    assert empty.read_bytes() == b"" and sorted(p.name for p in tmp_path.iterdir()) == ["empty.sqlite"]


def test_bench_backends_passes_repeats_and_prints_spreads(tmp_path, capsys, monkeypatch):
    """--repeats reaches the bench; the summary shows a rate's spread and the better limit."""
    seen = {}

    def bench_backends(graph, spikes, profile, **kwargs):
        seen.update(kwargs)
        spread = {"median": 9.0, "q1": 8.0, "q3": 10.0, "min": 7.0, "max": 11.0, "n": 3}
        return {"lava_steady_samples_per_s": 9.0, "lava_steady_samples_per_s_spread": spread, "best_limit": "event"}

    monkeypatch.setattr("neuroattack.experiments.bench.bench_backends", bench_backends)
    m = _tiny_checkpoint(tmp_path / "m")
    argv = ["bench", "backends", "--checkpoint", str(m), "--repeats", "5", "--lava-samples", "4"]
    assert main([*argv, "--emulator-batch", "4", "--out", str(tmp_path / "b.json")]) == 0
    assert seen["repeats"] == 5 and seen["lava_samples"] == 4
    out = capsys.readouterr().out
    assert "lava_steady_samples_per_s: 9 (quartiles 8-10, range 7-11, n 3)" in out and "best_limit: event" in out
