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

from dataclasses import dataclass, fields, replace
from typing import Any

import torch

from neuroattack.attacks.attack_summary import AttackSummary


def perturbation(x_adv: torch.Tensor, x: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """``[B]`` average perturbation per point ``||x_adv - x||_p / N`` (N = elements per sample).

    Args:
        x_adv: adversarial samples ``[B, ...]`` (images ``[B, C, H, W]`` or frames ``[B, T, P, H, W]``).
        x: clean samples, the same shape.
        p: the norm's order (Liang: 2).

    Returns:
        ``[B]`` float32: ``||x_adv - x||_p`` divided by the number of elements per sample.

    Example:
        >>> perturbation(torch.ones(1, 4), torch.zeros(1, 4))
        tensor([0.5000])
    """
    delta = (x_adv.float() - x.float()).flatten(1)
    return torch.linalg.vector_norm(delta, ord=p, dim=1) / delta.shape[1]


def l0(x_adv: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``[B]`` number of changed elements.

    Args:
        x_adv: adversarial samples ``[B, ...]``.
        x: clean samples, the same shape.

    Returns:
        ``[B]`` int64: elements where ``x_adv`` differs from ``x``.

    Example:
        >>> l0(torch.tensor([[1.0, 0.0, 1.0]]), torch.zeros(1, 3))
        tensor([2])
    """
    return (x_adv.float() != x.float()).flatten(1).sum(1)


def linf(x_adv: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``[B]`` largest absolute change of any element (the L-inf distance).

    Args:
        x_adv: adversarial samples ``[B, ...]``.
        x: clean samples, the same shape.

    Returns:
        ``[B]`` float32: ``max |x_adv - x|`` per sample.

    Example:
        >>> linf(torch.tensor([[0.5, 0.25]]), torch.tensor([[0.5, 0.0]]))
        tensor([0.2500])
    """
    return (x_adv.float() - x.float()).flatten(1).abs().amax(1)


def hits(pred: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None) -> torch.Tensor:
    """Per-prediction success: a decided class other than the label (untargeted) or the target
    (targeted). No decision (``-1``: a tie or a silent output) is never a success.

    Args:
        pred: predicted classes ``[B]``, or ``[draws, B]`` (one row per encoding; broadcast);
            ``-1`` for no decision (:func:`~neuroattack.decision.decide`).
        labels: ``[B]`` int64 true classes.
        targets: ``[B]`` int64 target classes, or ``None`` (untargeted).

    Returns:
        bool, the shape of ``pred``: whether each prediction counts as a success.

    Example:
        >>> hits(torch.tensor([1, 2, -1]), torch.tensor([1, 1, 1]), None)
        tensor([False,  True, False])
        >>> hits(torch.tensor([1, 2]), torch.tensor([1, 1]), torch.tensor([2, 2]))
        tensor([False,  True])
    """
    return pred.eq(targets) if targets is not None else pred.ne(labels) & pred.ge(0)


@dataclass
class AttackResult:
    """Per-sample outcome of an attack on a batch (all tensors ``[B]``).

    Made by :func:`~neuroattack.attacks.base.judge`; batches are joined with :meth:`concat`.

    Args:
        labels: int64 true classes.
        targets: int64 target classes, or ``None`` for an untargeted attack.
        clean_correct: bool: the clean input is classified correctly (majority of the draws);
            only these count for the ASR.
        success: bool: the attack succeeded (majority of the draws).
        success_fraction: float32 in [0, 1]: the fraction of draws on which it succeeded.
        iterations: int64: crafting iterations spent on the sample.
        l2_per_point: float32: average perturbation per point ``||x' - x||_2 / N``.
        l0: int64: changed elements.
        linf: float32: largest absolute change.
        rsf_invocations: int64: iterations on which RSF ran (G2S/RSF; 0 otherwise).
        zero_grad_first: bool: the gradient vanished at the first iteration (G2S/RSF).
        pred_clean: int64: predicted class of the clean input (mode over the draws; -1: no decision).
        pred_adv: int64: predicted class of the adversarial input (mode over the draws; -1: no decision).
        added: int64: input bins set from 0 to 1 (events added; for images, pixels raised).
        removed: int64: input bins cleared from 1 to 0 (events removed; for images, pixels lowered).
        no_decision: bool: the adversarial output is no decision (a tie or silence) on the
            majority of the draws; never a success.
        clean_no_decision: bool: the clean output is no decision on the majority of the draws;
            never a correct answer.
        budget: the largest number of input bins the attack could change per sample (``None``:
            unbounded).

    Example:
        >>> atk = PGD(victim, grad="hart", eps=8 / 255)  # doctest: +SKIP
        >>> x_adv, result = atk.run(images, labels)  # result is atk.last_result  # doctest: +SKIP
        >>> result.success.shape, result.summary().asr  # [B]; ASR over clean-correct inputs  # doctest: +SKIP
    """

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
    added: torch.Tensor
    removed: torch.Tensor
    no_decision: torch.Tensor
    clean_no_decision: torch.Tensor
    budget: int | None = None

    @staticmethod
    def concat(results: list[AttackResult]) -> AttackResult:
        """Join the records of several batches.

        Args:
            results: the batches' records, in order (all targeted or all untargeted).

        Returns:
            One :class:`AttackResult` whose tensors are the concatenations ``[sum of B]``.

        Raises:
            ValueError: if ``results`` is empty.

        Example:
            >>> total = AttackResult.concat([first.last_result, second.last_result])  # doctest: +SKIP
        """
        return concat_records(AttackResult, results)

    def cpu(self) -> AttackResult:
        """The same record with every tensor on the CPU (an attack run on a GPU returns this).

        Example:
            >>> record = attack.last_result.cpu()  # doctest: +SKIP
        """
        moved = {f.name: getattr(self, f.name).cpu() for f in fields(self) if torch.is_tensor(getattr(self, f.name))}
        return replace(self, **moved)

    def summary(self) -> AttackSummary:
        """ASR over clean-correct inputs, mean perturbation over successes, iteration means.

        Returns:
            An :class:`~neuroattack.attacks.attack_summary.AttackSummary`: ``n_total``,
            ``n_attacked`` (clean-correct), ``n_success``,
            ``clean_accuracy``, ``asr`` with ``asr_interval_95`` (Wilson, over the attacked
            inputs), ``asr_expected`` (mean success fraction), over successes the mean and median
            bins changed (``mean_l0``, ``median_l0``: the events it took to fool), the mean events
            added and removed, ``mean_perturbation`` and ``mean_linf``, the means over attacked
            inputs ``mean_iterations``, ``mean_rsf_invocations``, the count ``zero_grad_first``,
            ``no_decision_rate`` (attacked inputs whose adversarial output decided nothing),
            ``clean_no_decision_rate`` (inputs whose clean output decided nothing), ``budget`` and
            ``targeted``; a mean over no input is ``None``.

        Example:
            >>> atk.last_result.summary().asr  # a float in [0, 1], or None  # doctest: +SKIP
        """
        attacked = self.clean_correct
        succ = self.success & attacked
        mean = masked_mean
        return outcome_summary(
            attacked,
            self.success,
            self.l2_per_point,
            self.added,
            self.removed,
            self.no_decision,
            self.clean_no_decision,
            self.budget,
            asr_expected=mean(self.success_fraction, attacked),
            mean_linf=mean(self.linf, succ),
            mean_iterations=mean(self.iterations, attacked),
            mean_rsf_invocations=mean(self.rsf_invocations, attacked),
            zero_grad_first=int((self.zero_grad_first & attacked).sum()),
            targeted=self.targets is not None,
        )


def outcome_summary(
    clean_correct: torch.Tensor,
    success: torch.Tensor,
    l2_per_point: torch.Tensor,
    added: torch.Tensor,
    removed: torch.Tensor,
    no_decision: torch.Tensor,
    clean_no_decision: torch.Tensor,
    budget: int | None,
    **specific: Any,
) -> AttackSummary:
    """The figures every attack summary shares, from per-sample records ``[B]``: counts, clean
    accuracy, ASR with its Wilson interval (over ``clean_correct``), perturbation and events over
    the successes (mean and median bins changed, mean added and removed), the no-decision rates
    and the budget; ``specific`` adds an attack family's own fields.

    Example:
        >>> t, f = torch.tensor([True, True]), torch.tensor([False, False])
        >>> s = outcome_summary(t, torch.tensor([True, False]), torch.ones(2), torch.tensor([3, 5]),
        ...                     torch.tensor([1, 0]), f, f, 10, queries_mean=2.0)
        >>> s.asr, s.median_l0, s.mean_events_added, s.queries_mean
        (0.5, 4.0, 3.0, 2.0)
    """
    n_attacked = int(clean_correct.sum())
    succ = success & clean_correct
    n_succ = int(succ.sum())
    total = len(clean_correct)
    changed = added + removed
    return AttackSummary(
        n_total=total,
        n_attacked=n_attacked,
        n_success=n_succ,
        clean_accuracy=float(clean_correct.float().mean()) if total else None,
        asr=n_succ / n_attacked if n_attacked else None,
        asr_interval_95=list(wilson_interval(n_succ, n_attacked)) if n_attacked else None,
        mean_perturbation=masked_mean(l2_per_point, succ),
        mean_l0=masked_mean(changed, succ),
        median_l0=masked_median(changed, succ),
        mean_events_added=masked_mean(added, succ),
        mean_events_removed=masked_mean(removed, succ),
        no_decision_rate=masked_mean(no_decision, clean_correct),
        clean_no_decision_rate=float(clean_no_decision.float().mean()) if total else None,
        budget=budget,
        **specific,
    )


def concat_records(cls, results: list):
    """Join per-sample records of several batches (a dataclass of ``[B]`` tensors): tensors are
    concatenated, ``None`` stays ``None``, any other field (a setting) is taken from the first.

    Args:
        cls: the record's dataclass (:class:`AttackResult`, :class:`~neuroattack.attacks.query_attack.QueryResult`).
        results: the batches' records, in order.

    Returns:
        one record of ``cls`` over all batches.

    Raises:
        ValueError: if ``results`` is empty.

    Example:
        >>> total = concat_records(AttackResult, [first.last_result, second.last_result])  # doctest: +SKIP
    """
    if not results:
        raise ValueError("no attack results to join")
    merged = {}
    for f in fields(cls):
        parts = [getattr(r, f.name) for r in results]
        merged[f.name] = torch.cat(parts) if isinstance(parts[0], torch.Tensor) else parts[0]
    return cls(**merged)


def masked_mean(t: torch.Tensor, mask: torch.Tensor) -> float | None:
    """Mean of ``t`` ``[B]`` over ``mask`` ``[B]`` (bool); ``None`` if ``mask`` is all false.

    Example:
        >>> masked_mean(torch.tensor([1.0, 3.0, 5.0]), torch.tensor([True, True, False]))
        2.0
    """
    return float(t[mask].double().mean()) if int(mask.sum()) else None


def masked_median(t: torch.Tensor, mask: torch.Tensor) -> float | None:
    """Median (the lower middle value) of ``t`` ``[B]`` over ``mask`` ``[B]``; ``None`` if empty.

    Example:
        >>> masked_median(torch.tensor([4, 1, 9, 7]), torch.tensor([True, True, True, False]))
        4.0
    """
    return float(t[mask].float().median()) if int(mask.sum()) else None


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a rate ``successes / n`` (95 % for ``z = 1.96``).

    Args:
        successes: successes ``k`` (0 <= k <= n).
        n: trials (> 0).
        z: the normal quantile of the confidence level.

    Returns:
        ``(low, high)`` in [0, 1].

    Raises:
        ValueError: ``n < 1`` or ``k`` outside ``[0, n]``.

    Example:
        >>> [round(v, 4) for v in wilson_interval(9, 10)]
        [0.5958, 0.9821]
    """
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"a rate needs 0 <= successes <= n and n >= 1, got {successes}/{n}")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / denom
    return max(0.0, centre - half), min(1.0, centre + half)
