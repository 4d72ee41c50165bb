"""The attacked model with the way its inputs are made, and the attack losses."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from neuroattack.encoding import encode
from neuroattack.models.ann import ANN
from neuroattack.models.checkpoint import load_checkpoint
from neuroattack.models.snn import SNN, predict

#: a loss maps output spikes ``[T, B, K]`` and labels ``[B]`` to per-sample losses ``[B]``
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def mse_loss(spikes: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-sample MSE between the output rate and the one-hot label (Liang's training loss)."""
    rate = spikes.mean(0)
    return ((rate - F.one_hot(labels, rate.shape[-1]).to(rate.dtype)) ** 2).mean(-1)


def ce_loss(spikes: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-sample cross-entropy with the output spike counts as logits."""
    return F.cross_entropy(spikes.sum(0), labels, reduction="none")


LOSSES: dict[str, LossFn] = {"mse": mse_loss, "ce": ce_loss}


def resolve_loss(loss: str | LossFn) -> LossFn:
    """A built-in loss by name, or any callable ``(spikes [T,B,K], labels [B]) -> [B]``."""
    if callable(loss):
        return loss
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)} or a callable, got {loss!r}")
    return LOSSES[loss]


@dataclass
class Victim:
    """An SNN (or, for ANN-vs-SNN studies, an ANN) and how a dataset sample becomes its input.

    ``encoding``: ``bernoulli``/``direct`` (samples are images ``[B, C, H, W]``) or ``events``
    (samples are frames ``[B, T, P, H, W]``). ``loss``: the loss it was trained with. An ANN takes
    the images themselves (event frames averaged over time) and is deterministic.
    """

    model: SNN
    encoding: str
    timesteps: int
    loss: str = "mse"

    def __post_init__(self) -> None:
        from neuroattack.hil import HardwareSNN

        if not isinstance(self.model, (SNN, HardwareSNN, ANN)):
            raise ValueError(f"victim model must be an SNN, HardwareSNN or ANN, got {type(self.model).__name__}")
        self.model.eval()

    @classmethod
    def from_checkpoint(cls, directory: str | os.PathLike) -> "Victim":
        model, config = load_checkpoint(directory)
        return cls(model, config["encoding"], config["timesteps"], config.get("loss", "mse"))

    @property
    def is_ann(self) -> bool:
        return isinstance(self.model, ANN)

    @property
    def stochastic(self) -> bool:
        return self.encoding == "bernoulli" and not self.is_ann

    @property
    def image_input(self) -> bool:
        return self.encoding in ("bernoulli", "direct")

    def check_batch(self, x: torch.Tensor) -> None:
        """Raise a clear error when a dataset batch does not fit this model."""
        want = self.model.input_shape
        got = tuple(x.shape[2:]) if self.encoding == "events" else tuple(x.shape[1:])
        if got != want or (self.encoding == "events" and x.shape[1] != self.timesteps):
            layout = f"[B, T={self.timesteps}, {', '.join(map(str, want))}]" if self.encoding == "events" \
                else f"[B, {', '.join(map(str, want))}]"
            raise ValueError(
                f"input shape {list(x.shape)} does not match the model: expected {layout} "
                f"({self.encoding} input)"
            )
        if torch.isnan(x).any():
            raise ValueError("input contains NaN")

    def inputs(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Model input: time-first ``[T, B, ...]`` for an SNN, ``[B, ...]`` for an ANN (differentiable)."""
        if self.is_ann:
            return x.float().mean(1) if self.encoding == "events" else x
        return encode(x, self.encoding, self.timesteps, generator)

    @torch.no_grad()
    def predict(self, x: torch.Tensor, generator: torch.Generator | None = None, draws: int = 1) -> torch.Tensor:
        """Predictions ``[draws, B]`` (one row per Bernoulli draw; deterministic inputs repeat)."""
        rows = []
        for _ in range(draws if self.stochastic else 1):
            out = self.model(self.inputs(x, generator))
            rows.append(out.argmax(-1) if self.is_ann else predict(out))
        out = torch.stack(rows)
        return out.expand(draws, -1) if not self.stochastic else out
