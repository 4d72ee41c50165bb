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
