"""Checkpoints: a directory with ``model.pt`` (tensors only, ``torch.load(weights_only=True)``) and
``config.json`` (spec, input shape, neuron options, dataset, encoding, training settings)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torch import nn

from neuroattack.fileio import (
    atomic_dir,
    check_finite,
    digest_files,
    fault_point,
    load_tensors,
    read_json,
    save_tensors,
    write_json,
)
from neuroattack.models.ann import ANN
from neuroattack.models.neurons import NeuronConfig
from neuroattack.models.snn import SNN

CHECKPOINT_FILES = frozenset({"model.pt", "config.json", "metrics.json", "evaluation.json"})
"""What a checkpoint folder holds; an existing folder holding anything else is not replaced."""
REQUIRED_KEYS = ("model_type", "spec", "input_shape", "bias", "dataset", "timesteps", "encoding")


def _check_config(config: Any) -> None:
    """Refuse a config whose values have the wrong type or range, naming the key and the value."""
    from neuroattack.encoding import SCHEMES

    if not isinstance(config, dict):
        raise ValueError(f"model config must be a JSON object, got {type(config).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in config]
    if missing:
        raise ValueError(f"model config: missing key(s) {missing}")
    for key in ("model_type", "spec", "dataset", "encoding"):
        if not isinstance(config[key], str) or not config[key]:
            raise ValueError(f"model config: {key} = {config[key]!r} must be a non-empty string")
    shape = config["input_shape"]
    if not isinstance(shape, list) or len(shape) not in (1, 3):
        raise ValueError(f"model config: input_shape = {shape!r} must be [N] or [C, H, W]")
    for i, size in enumerate(shape):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"model config: input_shape[{i}] = {size!r} must be a positive integer")
    if not isinstance(config["bias"], bool):
        raise ValueError(f"model config: bias = {config['bias']!r} must be true or false")
    steps = config["timesteps"]
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"model config: timesteps = {steps!r} must be an integer >= 1")
    if config["encoding"] not in SCHEMES:
        raise ValueError(f"model config: encoding = {config['encoding']!r} must be one of {SCHEMES}")
    _check_binning(config)


def _check_binning(config: dict[str, Any]) -> None:
    """A model trained on a real event dataset saw frames binned as its config records: the data
    it is attacked and replayed on must be binned the same way (this version's registry)."""
    from neuroattack.data.datasets import DATASETS

    info = DATASETS.get(config["dataset"])
    if info is None or info.binning is None:
        return
    now = info.binning.as_dict(config["timesteps"])
    recorded = config.get("binning")
    if recorded is not None and recorded != now:
        raise ValueError(f"model config: binning = {recorded} differs from how {info.name} is binned here ({now})")


def build_model(config: dict[str, Any]) -> nn.Module:
    """Instantiate the (untrained) SNN or ANN a config describes (its values checked first)."""
    _check_config(config)
    if config["model_type"] == "snn":
        neuron = NeuronConfig.from_dict(config.get("neuron", {}))
        return SNN(config["spec"], config["input_shape"], neuron, bias=config["bias"])
    if config["model_type"] == "ann":
        return ANN(config["spec"], config["input_shape"], bias=config["bias"])
    raise ValueError(f"model config: model_type must be 'snn' or 'ann', got {config['model_type']!r}")


def save_checkpoint(
    directory: str | os.PathLike, model: nn.Module, config: dict[str, Any], extra: dict[str, Any] | None = None
) -> Path:
    """Write ``model.pt``, ``config.json`` and the JSON files of ``extra`` (``{"metrics.json": {...}}``)
    as one folder, in one transaction (:func:`~neuroattack.fileio.atomic_dir`): a process killed
    while writing leaves the old checkpoint as it was or the new one complete, never new weights
    beside an old config. A model with non-finite weights is refused before anything is written.

    Raises:
        ValueError: a bad config or weights, or ``directory`` exists holding files other than a
            checkpoint's (:data:`CHECKPOINT_FILES`).
    """
    directory = Path(directory)
    build_model(config)  # refuse a config that could not be loaded back
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    check_finite(state, f"model for {directory}")
    extra = extra or {}
    with atomic_dir(directory, CHECKPOINT_FILES | set(extra)) as tmp:
        save_tensors(tmp / "model.pt", state)
        fault_point("checkpoint-between-files")
        write_json(tmp / "config.json", config)
        for name, obj in extra.items():
            write_json(tmp / name, obj)
    return directory


def load_checkpoint(directory: str | os.PathLike) -> tuple[nn.Module, dict[str, Any]]:
    """Load a checkpoint directory: ``(model in eval mode, config)``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"checkpoint {directory}: not a directory")
    config = read_json(directory / "config.json")
    try:
        model = build_model(config)
    except ValueError as err:
        raise ValueError(f"{directory / 'config.json'}: {err}") from None
    state = load_tensors(directory / "model.pt")
    check_finite(state, str(directory / "model.pt"))
    expected = model.state_dict()
    problems = [f"missing {k}" for k in expected if k not in state]
    problems += [f"unexpected {k}" for k in state if k not in expected]
    problems += [
        f"{k} has shape {list(state[k].shape)}, config.json gives {list(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if problems:
        raise ValueError(
            f"checkpoint {directory}: model.pt weights do not match config.json ({'; '.join(problems[:3])})"
        )
    model.load_state_dict(state)
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
