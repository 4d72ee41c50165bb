import pytest

from neuroattack.experiments import sweep as sweep_module
from neuroattack.experiments.pipeline import RunSpec
from neuroattack.experiments.store import ResultStore
from neuroattack.experiments.sweep import run_sweep
from neuroattack.fileio import save_tensors


@pytest.fixture(scope="module")
def checkpoint(digits_checkpoint):
    return str(digits_checkpoint)


def _specs(checkpoint):
    profiles = ["float", "loihi2", "loihi2-w6", "loihi2-w4"]
    return [
        RunSpec(checkpoint, "fgsm", "stbp", {"eps": 0.1, "eval_draws": 2}, "emulator", str(p), n=20, draws=2)
        for p in profiles
    ]


def test_interrupted_sweep_resumes_without_losing_or_repeating(tmp_path, checkpoint, monkeypatch):
    specs = _specs(checkpoint)
    calls = []
    real = sweep_module.execute_run

    def interrupted(spec, work_dir, progress=False):
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C during the third run
        calls.append(spec.profile_name)
        return real(spec, work_dir, progress)

    monkeypatch.setattr(sweep_module, "execute_run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(specs, tmp_path / "r.sqlite", tmp_path / "work", progress=False)
    with ResultStore(tmp_path / "r.sqlite") as store:
        first = {r.profile: r.finished for r in store.runs()}
    assert sorted(first) == sorted(calls) == ["float", "loihi2"]

    calls.clear()
    monkeypatch.setattr(
        sweep_module, "execute_run", lambda s, w, p=False: (calls.append(s.profile_name), real(s, w, p))[1]
    )
    counts = run_sweep(specs, tmp_path / "r.sqlite", tmp_path / "work", progress=False)
    assert counts == {"done": 2, "skipped": 2} and calls == ["loihi2-w6", "loihi2-w4"]
    with ResultStore(tmp_path / "r.sqlite") as store:
        rows = store.runs()
    assert len(rows) == 4
    assert {r.profile: r.finished for r in rows if r.profile in first} == first  # untouched
    # every run crafted once: the streams are shared by runs that differ only in profile
    assert len(list((tmp_path / "work" / "streams").iterdir())) == 1
    float_run = next(r for r in rows if r.profile == "float").result
    assert float_run.hardware.agreement_clean == 1.0
    assert run_sweep(specs, tmp_path / "r.sqlite", tmp_path / "work", progress=False) == {"done": 0, "skipped": 4}


def test_runs_are_keyed_by_content_not_names(tmp_path, checkpoint, digits_victim):
    """Two profiles named loihi2.toml in different folders are two runs; a model retrained into the
    same folder is another run and never reuses the streams crafted on the old weights."""
    import shutil

    import torch

    for folder, bits in (("a", 8), ("b", 4)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "loihi2.toml").write_text(f"fixed_point = true\n[weights]\nmantissa_bits = {bits}\n")
    a, b = (RunSpec(checkpoint, "fgsm", profile=str(tmp_path / f / "loihi2.toml")) for f in ("a", "b"))
    assert a.profile_name == b.profile_name == "loihi2"
    assert a.key() != b.key()

    ckpt = tmp_path / "digits"
    shutil.copytree(checkpoint, ckpt)
    spec = RunSpec(str(ckpt), "fgsm", craft_on="hardware")
    key, craft = spec.key(), spec.craft_key()
    with torch.no_grad():
        state = {k: v * 1.01 for k, v in digits_victim.model.state_dict().items()}
    save_tensors(ckpt / "model.pt", state)  # "retrained": other weights, same folder and name
    assert spec.key() != key and spec.craft_key() != craft


def test_query_runs_sweep_into_the_store_and_report(tmp_path, monkeypatch, nmnist_event_checkpoint):
    """A query attack on the deployment is one more threat model of a sweep, stored and reported."""
    from neuroattack.data import nmnist_sim
    from neuroattack.experiments.report import rows

    monkeypatch.setattr(nmnist_sim, "CHUNK", 40)
    monkeypatch.setenv("NEUROATTACK_CACHE", str(tmp_path / "cache"))  # chunks of 40: a cache of their own
    specs = [
        RunSpec(
            str(nmnist_event_checkpoint), name, "none", {"queries": 12}, "emulator", "loihi2", n=8, craft_on="query"
        )
        for name in ("square", "boundary")
    ]
    assert run_sweep(specs, tmp_path / "r.sqlite", tmp_path / "work", progress=False) == {"done": 2, "skipped": 0}
    with ResultStore(tmp_path / "r.sqlite") as store:
        runs = store.runs()
    records = rows(runs)
    assert {r["crafted"] for r in records} == {"queries to emulator/loihi2"}
    for run in runs:
        attack, hw = run.result.sim, run.result.hardware
        assert attack.query_budget == 12 and attack.queries_median <= 12 and hw.n == 8
    assert run_sweep(specs, tmp_path / "r.sqlite", tmp_path / "work", progress=False) == {"done": 0, "skipped": 2}


def store_runs(path):
    with ResultStore(path) as store:
        return store.runs()


def test_a_nir_file_is_a_sweep_model_like_a_checkpoint(tmp_path, nmnist_event_checkpoint):
    """A run on the NIR export of a checkpoint: crafted against the graph's twin and replayed on the
    graph's deployment, it sees the clean inputs as the checkpoint's run does; query runs too."""
    import nir

    from neuroattack.models.checkpoint import load_checkpoint
    from neuroattack.replay import graph_of

    model, _ = load_checkpoint(nmnist_event_checkpoint)
    path = tmp_path / "net.nir"
    nir.write(path, graph_of(model, 4))
    g2s = {"steps": 3, "gamma": 0.05}
    common = {"backend": "emulator", "profile": "loihi2", "n": 8}
    graph_runs = [
        RunSpec(str(path), "g2s-rsf", "stbp", g2s, dataset="nmnist-sim", timesteps=4, **common),
        RunSpec(str(path), "g2s-rsf", "stbp", g2s, dataset="nmnist-sim", timesteps=4, craft_on="hardware", **common),
        RunSpec(
            str(path), "square", "none", {"queries": 20}, dataset="nmnist-sim", timesteps=4, craft_on="query", **common
        ),
    ]
    ckpt_run = RunSpec(str(nmnist_event_checkpoint), "g2s-rsf", "stbp", g2s, **common)
    counts = run_sweep([*graph_runs, ckpt_run], tmp_path / "r.sqlite", tmp_path / "work", progress=False)
    assert counts == {"done": 4, "skipped": 0}
    with ResultStore(tmp_path / "r.sqlite") as store:
        rows = {r.key: r.result for r in store.runs()}
    results = [rows[s.key()] for s in [*graph_runs, ckpt_run]]
    assert results[0].hardware.hw_clean_accuracy == results[3].hardware.hw_clean_accuracy
    assert results[2].sim.queries_median is not None
    # the report draws the three threat models of the graph with their intervals
    from neuroattack.experiments.report import build_report, rows

    records = [r for r in rows(store_runs(tmp_path / "r.sqlite")) if r["model"] == "net.nir"]
    assert {r["threat"] for r in records} == {"white-box (sim, replayed)", "hardware-in-the-loop", "query: square"}
    for r in records:
        low, high = r["hw_asr_interval"]
        assert low <= r["hw_asr"] <= high and high - low > 0
    build_report(tmp_path / "r.sqlite", tmp_path / "report")
    assert (tmp_path / "report" / "plots" / "threat_models.png").stat().st_size > 0
    assert "threat_models.png" in (tmp_path / "report" / "report.html").read_text()
    with pytest.raises(ValueError, match="give dataset="):
        RunSpec(str(path), "g2s-rsf")
    with pytest.raises(ValueError, match="apply to a .nir checkpoint only"):
        RunSpec(str(nmnist_event_checkpoint), "g2s-rsf", dataset="nmnist-sim")
    before = graph_runs[0].key()
    path.write_bytes(path.read_bytes() + b"\0")  # another file under the same name is another run
    assert graph_runs[0].key() != before


def test_a_run_on_another_device_is_another_run(checkpoint):
    """The CPU keeps the keys stores already hold; a GPU run (float rounding differs) is keyed apart."""
    cpu, default, gpu = (RunSpec(checkpoint, "fgsm", device=d) for d in ("cpu", "cpu", "cuda"))
    assert cpu.key() == default.key() == RunSpec(checkpoint, "fgsm").key()
    assert gpu.key() != cpu.key() and gpu.craft_key() != cpu.craft_key()
