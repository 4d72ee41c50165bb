"""Query-only attacks: the attacker sends input spikes to the deployed network and reads its output.

No gradient and no model: a :class:`QueryAttack` holds a backend executor (the fixed-point
emulator, Lava, or the float reference; :mod:`backends`) and perturbs the binary hardware input
``[B, T, *in_shape]`` directly, adding and removing spikes. Score-based attacks read the output
spike counts (:class:`~neuroattack.attacks.square.SpikeSquare`), decision-based ones only the
predicted class (:class:`~neuroattack.attacks.boundary.SpikeBoundary`). Every sample has a budget
of queries; one query is one sample's run on the executor, and samples are queried together in
batches (the emulator runs a batch as fast as one sample).

Success is judged on the executor itself: the decision (most output spikes; a tie or silence is
no decision, :mod:`neuroattack.decision`) is a class other than the label, counted over the inputs
it classifies correctly (Liang's ASR). ``budget`` bounds the input bins a sample may change
(events added + removed, :mod:`neuroattack.attacks.budget`): the attacks keep within it, and a
sample over it is returned clean, a failure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from neuroattack.attacks.attack_summary import AttackSummary
from neuroattack.attacks.budget import check_budget, enforce_budget
from neuroattack.attacks.metrics import hits, outcome_summary, perturbation
from neuroattack.decision import NO_DECISION, decide


@dataclass
class QueryResult:
    """Per-sample outcome of a query attack (tensors ``[B]``).

    Attributes:
        labels: int64 true classes.
        clean_correct: bool: the executor classifies the clean input correctly (only these are attacked).
        success: bool: the adversarial input is misclassified.
        queries: int64: executor runs spent on the sample (the clean query included).
        added, removed: int64: input spikes added and removed.
        l2_per_point: float32: Liang's average perturbation per point ``||x' - x||_2 / N``.
        pred_clean, pred_adv: int64: the executor's decisions (-1: no decision).
        query_budget: the attack's query budget per sample.
        budget: the attack's event budget per sample (``None``: unbounded).

    Example:
        >>> result = SpikeSquare(executor, queries=500).run(spikes, labels)[1]  # doctest: +SKIP
        >>> result.summary().queries_median  # doctest: +SKIP
    """

    labels: torch.Tensor
    clean_correct: torch.Tensor
    success: torch.Tensor
    queries: torch.Tensor
    added: torch.Tensor
    removed: torch.Tensor
    l2_per_point: torch.Tensor
    pred_clean: torch.Tensor
    pred_adv: torch.Tensor
    query_budget: int
    budget: int | None = None

    def summary(self) -> AttackSummary:
        """ASR (with its 95 % Wilson interval) over correctly classified inputs; perturbation, events
        added and removed (means over successes); queries (median and mean over attacked inputs).

        Returns:
            an :class:`~neuroattack.attacks.attack_summary.AttackSummary`; a mean over no input is ``None``.
        """
        attacked = self.clean_correct
        n = int(attacked.sum())
        q = self.queries[attacked].float()
        return outcome_summary(
            attacked,
            self.success,
            self.l2_per_point,
            self.added,
            self.removed,
            self.pred_adv.eq(NO_DECISION),
            self.pred_clean.eq(NO_DECISION),
            self.budget,
            queries_median=float(q.median()) if n else None,
            queries_mean=float(q.mean()) if n else None,
            query_budget=self.query_budget,
        )


def margin(counts: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """How far each sample is from misclassification, from output spike counts ``[B, K]``.

    ``counts[y] - max_{k != y} counts[k]``: another class wins outright exactly when the margin is
    below 0 (at 0 the label ties and nothing is decided).

    Example:
        >>> margin(torch.tensor([[3.0, 3.0, 1.0], [2.0, 5.0, 5.0]]), torch.tensor([1, 1]))
        tensor([0., 0.])
    """
    own = counts.gather(1, labels[:, None]).squeeze(1)
    others = counts.scatter(1, labels[:, None], float("-inf"))
    return own - others.max(1).values


class QueryAttack:
    """Base of the query-only attacks (see the module docstring).

    Args:
        executor: a backend executor (``backends.load(graph, profile, kind)``): ``run(spikes
            [B, T, *in_shape])`` returns output spike counts.
        queries: budget of executor runs per sample (the clean query included), >= 2.
        seed: seed of the attack's random choices.
        budget: the most input bins a sample may change (events added + removed); ``None``: unbounded.

    Attributes:
        name: the attack's name (``--attack``).
        decision_based: whether only the predicted class is read.

    Example:
        >>> atk = SpikeSquare(backends.load("m.nir", "loihi2", "emulator"), queries=1000)  # doctest: +SKIP
        >>> x_adv, result = atk.run(spikes, labels)  # spikes [B, T, ...] binary  # doctest: +SKIP
    """

    name = "query"
    decision_based = False

    def __init__(self, executor, queries: int = 1000, seed: int = 0, budget: int | None = None):
        if not hasattr(executor, "run") or not hasattr(executor, "in_shape"):
            raise ValueError(f"a query attack needs a backend executor, got {type(executor).__name__}")
        if isinstance(queries, bool) or not isinstance(queries, int) or queries < 2:
            raise ValueError(f"queries must be an integer >= 2, got {queries!r}")
        self.executor = executor
        self.queries = queries
        self.seed = seed
        self.budget = check_budget(budget)
        self.last_result: QueryResult | None = None

    def settings(self) -> dict[str, Any]:
        """The attack's name and options (for results keys)."""
        out = {"attack": self.name, "executor": getattr(self.executor, "kind", "?")}
        out.update({k: v for k, v in vars(self).items() if isinstance(v, (int, float, str, bool)) and k != "seed"})
        out["seed"], out["budget"] = self.seed, self.budget
        return out

    def _counts(self, x: torch.Tensor) -> torch.Tensor:
        """Output scores ``[B, K]`` of hardware input ``x`` ``[B, T, ...]`` (one query each): spike
        counts, or a readout's rule over its membrane (``RunResult.scores``)."""
        return self.executor.run(x).scores

    def run(self, spikes: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, QueryResult]:
        """Attack binary hardware input ``spikes`` ``[B, T, *in_shape]`` with labels ``[B]``.

        Returns:
            ``(adversarial spikes [B, T, *in_shape], QueryResult)``; inputs the executor already
            misclassifies are returned unchanged.

        Raises:
            ValueError: spikes that are not binary ``[B, T, *in_shape]``, or labels of another length.
        """
        from backends.executor import check_spikes

        x = check_spikes(spikes, self.executor.in_shape).float()
        labels = torch.as_tensor(labels, dtype=torch.int64)
        if labels.shape != (len(x),):
            raise ValueError(f"labels must be [B={len(x)}], got {list(labels.shape)}")
        gen = torch.Generator().manual_seed(self.seed)
        counts = self._counts(x)
        pred_clean = decide(counts)
        correct = pred_clean.eq(labels)
        queries = torch.ones(len(x), dtype=torch.int64)
        x_adv = x.clone()
        idx = correct.nonzero().squeeze(1)
        if len(idx):
            x_adv[idx], used = self._attack(x[idx], labels[idx], counts[idx], x, pred_clean, gen)
            queries[idx] += used
        x_adv = enforce_budget(x, x_adv, self.budget)
        pred_adv = decide(self._counts(x_adv))  # the verdict, on the executor (not counted as a query)
        delta = x_adv - x
        self.last_result = QueryResult(
            labels=labels,
            clean_correct=correct,
            success=hits(pred_adv, labels, None),
            queries=queries,
            added=(delta > 0).flatten(1).sum(1),
            removed=(delta < 0).flatten(1).sum(1),
            l2_per_point=perturbation(x_adv, x),
            pred_clean=pred_clean,
            pred_adv=pred_adv,
            query_budget=self.queries,
            budget=self.budget,
        )
        return x_adv, self.last_result

    def _attack(self, x, labels, counts, pool, pool_pred, gen) -> tuple[torch.Tensor, torch.Tensor]:
        """Attack correctly classified ``x`` ``[b, T, ...]``; returns ``(x_adv, queries used [b])``.

        ``pool``/``pool_pred`` are the whole batch and its clean predictions (a decision-based
        attack may start from another sample)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(queries={self.queries}, seed={self.seed}, budget={self.budget})"


def window_sizes(shape: tuple[int, ...], fraction: float) -> list[int]:
    """Side lengths of a box covering about ``fraction`` of a ``shape`` (every side scaled alike).

    Example:
        >>> window_sizes((8, 2, 34, 34), 0.01)
        [3, 1, 11, 11]
    """
    k = fraction ** (1.0 / len(shape))
    return [max(1, min(s, math.ceil(s * k))) for s in shape]
