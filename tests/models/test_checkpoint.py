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
