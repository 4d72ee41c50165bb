import os

import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture(scope="session", autouse=True)
def _cache_dir(tmp_path_factory):
    """Keep the nmnist-sim cache of the test session out of the user's cache."""
    path = tmp_path_factory.mktemp("neuroattack-cache")
    old = os.environ.get("NEUROATTACK_CACHE")
    os.environ["NEUROATTACK_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("NEUROATTACK_CACHE", None)
    else:
        os.environ["NEUROATTACK_CACHE"] = old


def _digit_frames(split: str, timesteps: int, seed: int):
    """Real digits as fixed binary spike frames ``[N, T, 1, 8, 8]`` (one Bernoulli draw, seeded)."""
    from neuroattack.data.datasets import load_dataset
    from neuroattack.encoding import bernoulli_encode

    ds = load_dataset("digits", split)
    frames = bernoulli_encode(ds.x, timesteps, torch.Generator().manual_seed(seed)).transpose(0, 1)
    return frames.to(torch.uint8), ds.y


@pytest.fixture(scope="session")
def digits_victim():
    """A 128FC-10FC SNN trained on Bernoulli-coded digits (a few seconds)."""
    from neuroattack.data.datasets import load_dataset
    from neuroattack.models.snn import SNN
    from neuroattack.train import fit
    from neuroattack.victims import Victim

    torch.manual_seed(0)
    model = SNN("128FC-10FC", (1, 8, 8))
    fit(model, load_dataset("digits", "train"), "bernoulli", 8, epochs=15, progress=False)
    return Victim(model, "bernoulli", 8, "mse")


@pytest.fixture(scope="session")
def event_digits():
    """``(train Dataset, test frames, test labels)`` of digits as fixed spike frames, T = 8."""
    from neuroattack.data.datasets import Dataset

    x, y = _digit_frames("train", 8, 0)
    xt, yt = _digit_frames("test", 8, 1)
    return Dataset("digits-frames", "train", x, y, "events", 8), xt, yt


@pytest.fixture(scope="session")
def event_victim(event_digits):
    """A 2-layer SNN trained on the spike frames of ``event_digits`` (events input)."""
    from neuroattack.models.snn import SNN
    from neuroattack.train import fit
    from neuroattack.victims import Victim

    torch.manual_seed(0)
    model = SNN("64FC-10FC", (1, 8, 8))
    fit(model, event_digits[0], "events", 8, epochs=10, progress=False)
    return Victim(model, "events", 8, "mse")


@pytest.fixture(scope="session")
def digits_checkpoint(tmp_path_factory, digits_victim):
    """``digits_victim`` saved as a checkpoint directory (``model.pt`` + ``config.json``)."""
    from neuroattack.models.checkpoint import save_checkpoint

    path = tmp_path_factory.mktemp("digits_ckpt")
    model = digits_victim.model
    config = {
        "model_type": "snn",
        "spec": model.spec.text,
        "input_shape": list(model.input_shape),
        "bias": False,
        "dataset": "digits",
        "timesteps": 8,
        "encoding": "bernoulli",
        "loss": "mse",
        "neuron": model.neuron.to_dict(),
    }
    save_checkpoint(path, model, config)
    return path


@pytest.fixture(scope="session")
def nmnist_event_checkpoint(tmp_path_factory):
    """An untrained 16FC-10FC SNN on nmnist-sim event frames (T = 4), saved as a checkpoint."""
    from neuroattack.models.checkpoint import save_checkpoint
    from neuroattack.models.snn import SNN

    torch.manual_seed(0)
    config = {
        "model_type": "snn",
        "spec": "16FC-10FC",
        "input_shape": [2, 34, 34],
        "bias": False,
        "dataset": "nmnist-sim",
        "timesteps": 4,
        "encoding": "events",
        "neuron": {},
    }
    path = tmp_path_factory.mktemp("nmnist_events") / "ck"
    save_checkpoint(path, SNN("16FC-10FC", (2, 34, 34), init_scale=4.0), config)
    return path
