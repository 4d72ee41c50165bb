"""The losses of training and of every attack: output spikes and labels -> per-sample losses.

A loss maps output spikes ``[T, B, K]`` and labels ``[B]`` (int64) to per-sample losses ``[B]``.
An ANN's logits ``[B, K]`` enter as one step, ``logits[None]`` (``[1, B, K]``): their "rate" and
their "count" are the logits themselves, so the same two losses serve both.

- ``mse``: mean squared error between the output rate ``r = 1/T sum_t o_t`` (Liang eq. 7) and
  the one-hot label (Liang's training loss);
- ``ce``: cross-entropy with the output spike counts ``T r`` as logits (counts rather than rates
  keep the logits' range independent of ``T``);
- ``ce-rates``: cross-entropy with the output rates ``r`` in [0, 1] as logits (a softmax over
  rates: its probabilities cannot saturate, the seeds' other reading of "CE on the output").

Training minimises the batch mean; attacks differentiate the per-sample sum.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

#: a loss maps output spikes ``[T, B, K]`` and labels ``[B]`` to per-sample losses ``[B]``
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def mse_loss(spikes: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-sample MSE between the output rate and the one-hot label.

    Args:
        spikes: output spikes ``[T, B, K]`` (or ANN logits as ``[1, B, K]``).
        labels: classes ``[B]`` in ``[0, K)``.

    Returns:
        ``[B]``: ``mean_k (r_k - onehot_k)^2``.

    Example:
        >>> mse_loss(torch.ones(4, 1, 2), torch.tensor([0]))
        tensor([0.5000])
    """
    rate = spikes.mean(0)
    return ((rate - F.one_hot(labels, rate.shape[-1]).to(rate.dtype)) ** 2).mean(-1)


def ce_loss(spikes: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-sample cross-entropy with the output spike counts ``[B, K]`` as logits.

    Args:
        spikes: output spikes ``[T, B, K]`` (or ANN logits as ``[1, B, K]``).
        labels: classes ``[B]``.

    Example:
        >>> ce_loss(torch.zeros(8, 1, 2), torch.tensor([1]))
        tensor([0.6931])
    """
    return F.cross_entropy(spikes.sum(0), labels, reduction="none")


def ce_rates_loss(spikes: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-sample cross-entropy with the output rates ``[B, K]`` (in [0, 1]) as logits.

    Args:
        spikes: output spikes ``[T, B, K]`` (or ANN logits as ``[1, B, K]``).
        labels: classes ``[B]``.

    Example:
        >>> ce_rates_loss(torch.ones(8, 1, 2), torch.tensor([1]))  # equal rates: log 2
        tensor([0.6931])
    """
    return F.cross_entropy(spikes.mean(0), labels, reduction="none")


LOSSES: dict[str, LossFn] = {"mse": mse_loss, "ce": ce_loss, "ce-rates": ce_rates_loss}


def resolve_loss(loss: str | LossFn) -> LossFn:
    """A built-in loss by name (``"mse"``, ``"ce"``), or any callable ``(spikes [T,B,K], labels [B]) -> [B]``.

    Example:
        >>> resolve_loss("ce") is ce_loss
        True
    """
    if callable(loss):
        return loss
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)} or a callable, got {loss!r}")
    return LOSSES[loss]
