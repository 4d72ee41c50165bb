"""The run pipeline writes a streams folder as one transaction and keys runs by content only."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from neuroattack.experiments.pipeline import RunSpec, craft, execute_run
from neuroattack.fileio import FAULT_ENV

ROOT = Path(__file__).parents[2]


def _files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_another_attack_into_a_folder_leaves_no_file_of_the_earlier_run(digits_checkpoint, tmp_path):
    """Before, the event run's streams.nir.h5 and clean_events.npz stayed beside the image run's streams."""
    out = tmp_path / "a"
    out.mkdir()
    (out / "streams.nir.h5").write_bytes(b"an earlier event run")
    (out / "clean_events.npz").write_bytes(b"an earlier event run")
    craft(RunSpec(str(digits_checkpoint), "fgsm", n=8), out)
    assert sorted(_files(out)) == ["run_spec.json", "streams.h5", "summary.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]  # no temporary left


def test_a_streams_folder_killed_before_its_summary_is_the_old_one_intact(digits_checkpoint, tmp_path):
    """Before, a kill just before summary.json left new streams beside the old summary."""
    out = tmp_path / "a"
    craft(RunSpec(str(digits_checkpoint), "fgsm", n=8), out)
    before = _files(out)
    script = (
        "from neuroattack.experiments.pipeline import RunSpec, craft\n"
        f"craft(RunSpec({str(digits_checkpoint)!r}, 'fgsm', n=8, seed=1, options={{'eps': 0.2}}), {str(out)!r})\n"
    )
    killed = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env={**os.environ, FAULT_ENV: "streams-before-summary"}
    )
    assert killed.returncode == -signal.SIGKILL
    assert _files(out) == before


def test_a_new_streams_folder_killed_midway_is_not_there_so_a_sweep_crafts_it_again(
    digits_checkpoint, tmp_path, monkeypatch
):
    import neuroattack.fileio as fileio

    spec = RunSpec(str(digits_checkpoint), "fgsm", n=8, backend="none")
    calls = []

    def crash(name):
        calls.append(name)
        if name == "streams-before-summary":
            raise KeyboardInterrupt

    monkeypatch.setattr(fileio, "fault_point", crash)
    with pytest.raises(KeyboardInterrupt):
        execute_run(spec, tmp_path / "work")
    assert calls == ["streams-before-summary"]
    cache = tmp_path / "work" / "streams"
    assert list(cache.iterdir()) == []  # nothing half-written: no folder without summary.json
    monkeypatch.undo()
    result, artifacts = execute_run(spec, tmp_path / "work")
    assert (Path(artifacts["streams"]) / "summary.json").is_file() and result.sim.n_total == 8


def test_a_run_is_keyed_by_content_not_by_the_folder_or_file_name(digits_checkpoint, tmp_path):
    """Before, the same NIR graph under two file names was two runs."""
    import shutil

    import nir

    from tests.backends.graphs import chain, lif

    shutil.copytree(digits_checkpoint, tmp_path / "other-name")
    assert RunSpec(str(digits_checkpoint), "pgd").key() == RunSpec(str(tmp_path / "other-name"), "pgd").key()
    nir.write(tmp_path / "a.nir", chain([64, 10], lif))
    shutil.copy(tmp_path / "a.nir", tmp_path / "b.nir")
    a, b = (RunSpec(str(tmp_path / n), "pgd", dataset="digits") for n in ("a.nir", "b.nir"))
    assert a.key() == b.key() and a.craft_key() == b.craft_key()
    other = tmp_path / "c.nir"
    nir.write(other, chain([64, 10], lif, seed=1))
    assert RunSpec(str(other), "pgd", dataset="digits").key() != a.key()
