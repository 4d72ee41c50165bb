"""Checkpoints: a directory with ``model.pt`` (tensors only, ``torch.load(weights_only=True)``) and
``config.json`` (spec, input shape, neuron options, dataset, encoding, training settings)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torch import nn

from neuroattack.fileio import digest_files, load_tensors, read_json, save_tensors, write_json
from neuroattack.models.ann import ANN
from neuroattack.models.neurons import NeuronConfig
from neuroattack.models.snn import SNN

REQUIRED_KEYS = ("model_type", "spec", "input_shape", "bias", "dataset", "timesteps", "encoding")


def build_model(config: dict[str, Any]) -> nn.Module:
    """Instantiate the (untrained) SNN or ANN a config describes."""
    missing = [k for k in REQUIRED_KEYS if k not in config]
    if missing:
        raise ValueError(f"model config: missing key(s) {missing}")
    if config["model_type"] == "snn":
        neuron = NeuronConfig.from_dict(config.get("neuron", {}))
        return SNN(config["spec"], config["input_shape"], neuron, bias=config["bias"])
    if config["model_type"] == "ann":
        return ANN(config["spec"], config["input_shape"], bias=config["bias"])
    raise ValueError(f"model config: model_type must be 'snn' or 'ann', got {config['model_type']!r}")


def save_checkpoint(directory: str | os.PathLike, model: nn.Module, config: dict[str, Any]) -> Path:
    """Write ``model.pt`` and ``config.json`` into ``directory`` (each file atomically)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    build_model(config)  # refuse a config that could not be loaded back
    save_tensors(directory / "model.pt", {k: v.detach().cpu() for k, v in model.state_dict().items()})
    write_json(directory / "config.json", config)
    return directory


def load_checkpoint(directory: str | os.PathLike) -> tuple[nn.Module, dict[str, Any]]:
    """Load a checkpoint directory: ``(model in eval mode, config)``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"checkpoint {directory}: not a directory")
    config = read_json(directory / "config.json")
    model = build_model(config)
    state = load_tensors(directory / "model.pt")
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(f"checkpoint {directory}: weights do not match config.json ({err})") from err
    return model.eval(), config


def checkpoint_digest(directory: str | os.PathLike) -> str:
    """SHA-256 (hex, 16 characters) of a checkpoint's content: ``config.json`` and ``model.pt`` bytes.

    Results are keyed by it, so a model retrained into the same folder, or two folders of the same
    name, never share a result; the folder's name stays a label.

    Example:
        >>> checkpoint_digest("runs/models/mnist")  # doctest: +SKIP
        '3f2a...'
    """
    directory = Path(directory)
    return digest_files([directory / "config.json", directory / "model.pt"], f"checkpoint {directory}")
