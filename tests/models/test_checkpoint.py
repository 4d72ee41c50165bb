import json

import pytest
import torch

from neuroattack.models.checkpoint import load_checkpoint, save_checkpoint
from neuroattack.models.neurons import NeuronConfig
from neuroattack.models.snn import SNN

CONFIG = {
    "model_type": "snn",
    "spec": "4C3-AP2-10FC",
    "input_shape": [2, 8, 8],
    "bias": False,
    "dataset": "nmnist-sim",
    "timesteps": 4,
    "encoding": "events",
    "neuron": NeuronConfig(leak=0.8, threshold=0.7).to_dict(),
}


def test_save_load_gives_identical_outputs(tmp_path):
    model = SNN(CONFIG["spec"], CONFIG["input_shape"], NeuronConfig(leak=0.8, threshold=0.7))
    x = (torch.rand(4, 3, 2, 8, 8, generator=torch.Generator().manual_seed(0)) < 0.4).float()
    save_checkpoint(tmp_path / "ckpt", model, CONFIG)
    loaded, config = load_checkpoint(tmp_path / "ckpt")
    assert config == json.loads((tmp_path / "ckpt" / "config.json").read_text())
    assert torch.equal(loaded(x), model(x))
    assert loaded.neuron == NeuronConfig(leak=0.8, threshold=0.7)


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_checkpoint(tmp_path / "missing")
    ckpt = tmp_path / "ckpt"
    model = SNN(CONFIG["spec"], CONFIG["input_shape"])
    save_checkpoint(ckpt, model, CONFIG)
    bad = dict(CONFIG, spec="8C3-AP2-10FC")
    (ckpt / "config.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="weights do not match config.json"):
        load_checkpoint(ckpt)
    (ckpt / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="malformed JSON"):
        load_checkpoint(ckpt)
    (ckpt / "config.json").write_text(json.dumps({k: v for k, v in CONFIG.items() if k != "spec"}))
    with pytest.raises(ValueError, match=r"missing key\(s\) \['spec'\]"):
        load_checkpoint(ckpt)


def test_checkpoint_is_tensors_only(tmp_path):
    save_checkpoint(tmp_path, SNN("10FC", (4,)), dict(CONFIG, spec="10FC", input_shape=[4]))
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())


def _config():
    return {**CONFIG, "spec": "8FC-3FC", "input_shape": [5], "neuron": {}}


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", r"model.pt: not a readable tensor file \(empty"),
        (None, r"model.pt: not a readable tensor file \(100 bytes, RuntimeError"),
        (b"\x80\x04garbage" * 50, r"model.pt: not a readable tensor file \(450 bytes, UnpicklingError"),
    ],
)
def test_a_broken_model_file_is_one_line_naming_it(tmp_path, content, message):
    model = SNN("8FC-3FC", (5,), NeuronConfig())
    save_checkpoint(tmp_path, model, _config())
    pt = tmp_path / "model.pt"
    pt.write_bytes(pt.read_bytes()[:100] if content is None else content)
    with pytest.raises(ValueError, match=message) as err:
        load_checkpoint(tmp_path)
    assert "\n" not in str(err.value)


def test_non_finite_weights_are_refused_on_save_and_on_load(tmp_path):
    model = SNN("8FC-3FC", (5,), NeuronConfig())
    save_checkpoint(tmp_path, model, _config())
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    name = next(iter(state))
    state[name].view(-1)[3] = float("inf")
    torch.save(state, tmp_path / "model.pt")
    with pytest.raises(ValueError, match=rf"model.pt: {name}\[0, 3\] = inf is not finite"):
        load_checkpoint(tmp_path)
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] = float("nan")
    with pytest.raises(ValueError, match=r"\[0, 0\] = nan is not finite"):
        save_checkpoint(tmp_path / "new", model, _config())
    assert not (tmp_path / "new").exists()  # nothing written


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("timesteps", 0, "timesteps = 0 must be an integer >= 1"),
        ("timesteps", 8.5, "timesteps = 8.5 must be an integer >= 1"),
        ("input_shape", [5, 0], r"input_shape = \[5, 0\] must be \[N\] or \[C, H, W\]"),
        ("encoding", "poisson", "encoding = 'poisson' must be one of"),
        ("neuron", {"leak": "0.5"}, "neuron.leak = '0.5' must be a finite number"),
        ("neuron", [1], "neuron config must be a table of options, got list"),
    ],
)
def test_a_bad_config_value_is_named_with_its_file(tmp_path, key, value, message):
    save_checkpoint(tmp_path, SNN("8FC-3FC", (5,), NeuronConfig()), _config())
    config = json.loads((tmp_path / "config.json").read_text())
    config[key] = value
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=rf"config.json: .*{message}"):
        load_checkpoint(tmp_path)


def _files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.mark.parametrize("point", ["checkpoint-between-files", "before-folder-replace"])
def test_a_checkpoint_killed_while_written_is_the_old_one_intact(tmp_path, point):
    """Before, a kill between model.pt and config.json left the new weights beside the old config."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from neuroattack.fileio import FAULT_ENV

    ck = tmp_path / "ck"
    torch.manual_seed(0)
    save_checkpoint(ck, SNN("8FC-3FC", (5,)), _config(), extra={"metrics.json": {"run": "old"}})
    before = _files(ck)
    script = (
        "import torch\n"
        "from neuroattack.models.checkpoint import save_checkpoint\n"
        "from neuroattack.models.snn import SNN\n"
        "torch.manual_seed(1)\n"
        f"save_checkpoint({str(ck)!r}, SNN('8FC-3FC', (5,)), {_config()!r},\n"
        "                extra={'metrics.json': {'run': 'new'}})\n"
    )
    root = Path(__file__).parents[2]
    killed = subprocess.run([sys.executable, "-c", script], cwd=root, env={**os.environ, FAULT_ENV: point})
    assert killed.returncode == -signal.SIGKILL
    assert _files(ck) == before  # the old checkpoint, every file of it
    load_checkpoint(ck)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, env={k: v for k, v in os.environ.items() if k != FAULT_ENV}
    )
    assert done.returncode == 0
    assert sorted(_files(ck)) == ["config.json", "metrics.json", "model.pt"]
    assert json.loads((ck / "metrics.json").read_text()) == {"run": "new"} and _files(ck) != before
    load_checkpoint(ck)


def test_a_checkpoint_write_that_fails_leaves_the_old_one_and_no_temporary(tmp_path, monkeypatch):
    import neuroattack.models.checkpoint as checkpoint

    ck = tmp_path / "ck"
    save_checkpoint(ck, SNN("8FC-3FC", (5,)), _config())
    before = _files(ck)

    def fail(path, obj):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(checkpoint, "write_json", fail)
    with pytest.raises(OSError):
        save_checkpoint(ck, SNN("8FC-3FC", (5,)), _config())
    assert _files(ck) == before and sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


def test_a_folder_holding_other_files_is_not_replaced_by_a_checkpoint(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"is a folder holding other files \(notes.txt\)"):
        save_checkpoint(tmp_path, SNN("8FC-3FC", (5,)), _config())
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
