"""Attack metrics as the papers define them, and the per-sample record of an attack run.

- ASR (Liang VI-A, HART): over the inputs the model classifies correctly only; untargeted success
  = prediction differs from the label, targeted success = prediction equals the target.
  For stochastic (Bernoulli) inputs both correctness and success are decided by the majority of
  ``eval_draws`` fresh encodings, and ``asr_expected`` averages the per-draw success fraction:
  never one lucky sample.
- Perturbation: average perturbation per point ``||x' - x||_p / N`` (Liang, ``p = 2`` by default),
  plus ``L0`` (changed points) and ``L_inf``; reported as means over successful examples.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import torch


def perturbation(x_adv: torch.Tensor, x: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """``[B]`` average perturbation per point ``||x_adv - x||_p / N`` (N = elements per sample)."""
    delta = (x_adv.float() - x.float()).flatten(1)
    return torch.linalg.vector_norm(delta, ord=p, dim=1) / delta.shape[1]


def l0(x_adv: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``[B]`` number of changed elements."""
    return (x_adv.float() != x.float()).flatten(1).sum(1)


def linf(x_adv: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return (x_adv.float() - x.float()).flatten(1).abs().amax(1)


def hits(pred: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None) -> torch.Tensor:
    """Per-prediction success: ``pred != label`` (untargeted) or ``pred == target`` (targeted)."""
    return pred.eq(targets) if targets is not None else pred.ne(labels)


@dataclass
class AttackResult:
    """Per-sample outcome of an attack on a batch (all tensors ``[B]``)."""

    labels: torch.Tensor
    targets: torch.Tensor | None
    clean_correct: torch.Tensor
    success: torch.Tensor
    success_fraction: torch.Tensor
    iterations: torch.Tensor
    l2_per_point: torch.Tensor
    l0: torch.Tensor
    linf: torch.Tensor
    rsf_invocations: torch.Tensor
    zero_grad_first: torch.Tensor
    pred_clean: torch.Tensor
    pred_adv: torch.Tensor

    @staticmethod
    def concat(results: list["AttackResult"]) -> "AttackResult":
        """Join the records of several batches."""
        if not results:
            raise ValueError("no attack results to join")
        merged = {}
        for f in fields(AttackResult):
            parts = [getattr(r, f.name) for r in results]
            merged[f.name] = None if parts[0] is None else torch.cat(parts)
        return AttackResult(**merged)

    def summary(self) -> dict[str, Any]:
        """ASR over clean-correct inputs, mean perturbation over successes, iteration means."""
        attacked = self.clean_correct
        n_attacked = int(attacked.sum())
        succ = self.success & attacked
        n_succ = int(succ.sum())

        def mean(t: torch.Tensor, mask: torch.Tensor) -> float | None:
            return float(t[mask].float().mean()) if int(mask.sum()) else None

        return {
            "n_total": len(self.labels),
            "n_attacked": n_attacked,
            "n_success": n_succ,
            "clean_accuracy": float(attacked.float().mean()) if len(self.labels) else None,
            "asr": n_succ / n_attacked if n_attacked else None,
            "asr_expected": mean(self.success_fraction, attacked),
            "mean_perturbation": mean(self.l2_per_point, succ),
            "mean_l0": mean(self.l0, succ),
            "mean_linf": mean(self.linf, succ),
            "mean_iterations": mean(self.iterations, attacked),
            "mean_rsf_invocations": mean(self.rsf_invocations, attacked),
            "zero_grad_first": int((self.zero_grad_first & attacked).sum()),
            "targeted": self.targets is not None,
        }
