"""BPTT training and evaluation of the spec-built SNNs (and their ANN twins).

The losses are :mod:`neuroattack.losses` (the attacks' own): ``mse`` between the output rate
``r = 1/T sum_t o_t`` (Liang eq. 7) and the one-hot label (Liang's default), or ``ce``:
cross-entropy with the spike counts ``T r`` as logits (Liang's CE puts a softmax on the rate
vector; counts keep the logits' range independent of ``T``). ANN twins use the same losses on
their logits.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from neuroattack.data.datasets import Dataset, load_dataset
from neuroattack.decision import decide
from neuroattack.encoding import model_input
from neuroattack.fileio import check_replaceable, check_writable
from neuroattack.losses import LOSSES, resolve_loss
from neuroattack.models.ann import ANN
from neuroattack.models.checkpoint import CHECKPOINT_FILES, build_model, save_checkpoint
from neuroattack.models.neurons import NeuronConfig
from neuroattack.models.snn import SNN
from neuroattack.progress import progress_bar


@dataclass
class TrainConfig:
    """Everything that determines a training run (written to ``config.json``)."""

    dataset: str = "digits"
    spec: str = "128FC-10FC"
    model_type: str = "snn"
    loss: str = "mse"
    timesteps: int = 8
    epochs: int = 5
    batch_size: int = 64
    lr: float = 2e-3
    seed: int = 0
    n_train: int | None = None
    n_test: int | None = None
    encoding: str | None = None  # default: the dataset's own
    bias: bool = False
    neuron: NeuronConfig = field(default_factory=NeuronConfig)

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {self.loss!r}")
        if self.model_type not in ("snn", "ann"):
            raise ValueError(f"model_type must be 'snn' or 'ann', got {self.model_type!r}")
        for name in ("timesteps", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")

    def model_config(self, dataset: Dataset) -> dict[str, Any]:
        cfg = asdict(self)
        cfg["neuron"] = self.neuron.to_dict()
        cfg.update(
            input_shape=list(dataset.input_shape),
            encoding=self.encoding or dataset.encoding,
            num_classes=dataset.num_classes,
        )
        if dataset.binning is not None:
            cfg["binning"] = dataset.binning
        return cfg


def output_spikes(
    model: nn.Module, x: torch.Tensor, encoding: str, timesteps: int, generator: torch.Generator | None
) -> torch.Tensor:
    """Output ``[T, B, K]`` for dataset samples ``x``: the spikes of an SNN, an ANN's logits as one
    step ``[1, B, K]`` (what every loss of :mod:`neuroattack.losses` takes)."""
    is_ann = isinstance(model, ANN)
    out = model(model_input(x, encoding, timesteps, generator, time_first=not is_ann))
    return out.unsqueeze(0) if is_ann else out


@torch.no_grad()
def evaluate(
    model: nn.Module,
    dataset: Dataset,
    encoding: str,
    timesteps: int,
    seed: int = 0,
    batch_size: int = 256,
    progress: bool = False,
) -> float:
    """Accuracy of ``model`` on ``dataset`` (on the model's device); Bernoulli draws come from ``seed``."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    device = next(iter(model.parameters()), torch.zeros(0)).device  # batches go where the model is
    correct = 0
    for x, y in progress_bar(dataset.batches(batch_size), show=progress, desc="evaluate", leave=False):
        x, y = x.to(device), y.to(device)
        out = output_spikes(model, x, encoding, timesteps, gen)
        correct += int((decide(out.sum(0)) == y).sum())  # a tie or silence is never correct
    return correct / len(dataset)


def fit(
    model: nn.Module,
    train_set: Dataset,
    encoding: str,
    timesteps: int,
    loss: str = "mse",
    epochs: int = 5,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    progress: bool = True,
    device: str | torch.device = "cpu",
) -> list[dict]:
    """BPTT (Adam, cosine schedule) of ``model`` on ``train_set``; returns per-epoch losses.

    Norse's LIF weights are the papers' weights / (1 - lambda) and Adam's step is scale-free, so
    for an SNN the learning rate is divided alike: the papers' parametrisation trains at ``lr``.
    ``device``: where the model trains (it is moved there and stays; batches follow). The shuffle
    and the Bernoulli draws come from a CPU generator, so every device sees the same batches and
    spikes.
    """
    device = torch.device(device)
    model.to(device)
    loss_fn = resolve_loss(loss)
    if isinstance(model, SNN):
        lr = lr / model.neuron.input_gain
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n_batches = (len(train_set) + batch_size - 1) // batch_size
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * n_batches)
    gen = torch.Generator().manual_seed(seed)
    history = []
    for epoch in range(epochs):
        model.train()
        total, count = 0.0, 0
        bar = progress_bar(
            train_set.batches(batch_size, shuffle=True, generator=gen),
            total=n_batches,
            desc=f"epoch {epoch + 1}/{epochs}",
            show=progress,
        )
        for x, y in bar:
            x, y = x.to(device), y.to(device)
            out = output_spikes(model, x, encoding, timesteps, gen)
            batch_loss = loss_fn(out, y).mean()
            opt.zero_grad(set_to_none=True)
            batch_loss.backward()
            opt.step()
            sched.step()
            total += batch_loss.item() * len(y)
            count += len(y)
            bar.set_postfix(loss=f"{total / count:.4f}")
        history.append({"epoch": epoch + 1, "train_loss": total / count})
    model.eval()
    return history


def train(
    cfg: TrainConfig,
    out_dir: str | os.PathLike | None = None,
    progress: bool = True,
    device: str | torch.device = "cpu",
    data_root: str | os.PathLike | None = None,
    download: bool = False,
) -> tuple[nn.Module, dict]:
    """Train a model as ``cfg`` says; if ``out_dir`` is given, write the checkpoint and metrics there.

    ``device``: where it trains and is evaluated (:func:`fit`); the model returned and saved is
    on the CPU, so a checkpoint loads anywhere. ``data_root``, ``download``: where the real
    datasets are (:func:`~neuroattack.data.datasets.load_dataset`); the checkpoint records the
    binning of event data, not the folder.

    Returns ``(model, metrics)`` with ``test_accuracy``, ``val_accuracy``, ``train_seconds``,
    ``device``.
    """
    if out_dir is not None:  # before any work: the folder can be written, and holds nothing else
        check_writable(out_dir)
        check_replaceable(Path(out_dir), CHECKPOINT_FILES)
    from neuroattack.data.datasets import DATASETS
    from neuroattack.memory import check_input_memory
    from neuroattack.models.spec import check_model_memory, parse_spec

    if cfg.dataset in DATASETS:  # sizes against the memory they imply, before any data or weights
        shape = DATASETS[cfg.dataset].input_shape
        check_input_memory(cfg.timesteps, cfg.batch_size, shape)
        check_model_memory(parse_spec(cfg.spec), tuple(shape))
    torch.manual_seed(cfg.seed)
    data = {"progress": progress, "root": data_root, "download": download}
    train_set = load_dataset(cfg.dataset, "train", cfg.n_train, cfg.timesteps, **data)
    test_set = load_dataset(cfg.dataset, "test", cfg.n_test, cfg.timesteps, **data)
    val_set = load_dataset(cfg.dataset, "val", cfg.n_test, cfg.timesteps, **data)
    model_cfg = cfg.model_config(train_set)
    encoding = model_cfg["encoding"]
    if encoding == "events" and train_set.encoding != "events":
        raise ValueError(f"encoding 'events' needs an event dataset, {cfg.dataset} holds images")
    if train_set.encoding == "events" and encoding != "events":
        raise ValueError(f"{cfg.dataset} holds events; its encoding must be 'events', got {encoding!r}")
    model = build_model(model_cfg)
    start = time.perf_counter()
    history = fit(
        model,
        train_set,
        encoding,
        cfg.timesteps,
        cfg.loss,
        cfg.epochs,
        cfg.batch_size,
        cfg.lr,
        cfg.seed,
        progress,
        device,
    )
    train_seconds = time.perf_counter() - start
    metrics = {
        "test_accuracy": evaluate(model, test_set, encoding, cfg.timesteps, seed=cfg.seed + 1),
        "val_accuracy": evaluate(model, val_set, encoding, cfg.timesteps, seed=cfg.seed + 2),
        "train_seconds": round(train_seconds, 2),
        "device": str(torch.device(device)),
        "n_train": len(train_set),
        "n_test": len(test_set),
        "history": history,
    }
    model.cpu()
    if out_dir is not None:  # weights, config and metrics: one folder, written as one transaction
        save_checkpoint(Path(out_dir), model, model_cfg, extra={"metrics.json": metrics})
    return model, metrics
