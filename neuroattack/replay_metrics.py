"""Simulation against hardware on one replay of clean and adversarial inputs, as typed records.

:func:`replay_metrics` compares the predictions of one draw (one pass of event streams, or one
Bernoulli encoding of images); :func:`summarize_draws` turns several draws into one
:class:`ReplayMetrics`: the mean of every metric, its standard deviation over draws and its
``[min, max]`` over draws. Predictions are :func:`~neuroattack.decision.decide`'s: the most
output spikes, or no decision (``-1``) on a tie or silence.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch

from neuroattack.attacks.metrics import hits
from neuroattack.decision import NO_DECISION

#: the metrics of one draw, in :class:`ReplayMetrics`' order (each with ``_std`` and ``_draw_range``)
METRICS = (
    "sim_clean_accuracy",
    "hw_clean_accuracy",
    "sim_asr",
    "hw_asr",
    "transfer_rate",
    "agreement_clean",
    "agreement_adv",
    "count_l1_clean",
    "count_l1_adv",
    "sim_no_decision_rate",
    "hw_no_decision_rate",
)


@dataclass
class ReplayMetrics:
    """Sim-vs-hardware figures of a replay, over ``draws`` draws of the same ``n`` inputs.

    Each metric ``m`` of :data:`METRICS` is the mean over draws, ``m_std`` its standard deviation
    (0 for one draw) and ``m_draw_range`` its ``[min, max]`` (the spread the input's randomness
    alone gives); all three are ``None`` where no draw rates it (e.g. an ASR with no correctly
    classified input, count distances without counts). See :func:`replay_metrics` for the
    definitions.

    Args:
        n: inputs replayed.
        draws: Bernoulli draws (1 for event streams).
        hw_asr_interval_95: the hardware ASR's 95 % Wilson interval where the run measured it
            directly (a query attack on the deployment), else ``None``.

    Example:
        >>> m = summarize_draws([{"n": 4, "hw_asr": 0.5}, {"n": 4, "hw_asr": 0.75}])
        >>> m.hw_asr, m.hw_asr_draw_range, m.sim_asr
        (0.625, [0.5, 0.75], None)
        >>> ReplayMetrics.from_json(m.to_json()) == m
        True
    """

    n: int
    draws: int = 1
    sim_clean_accuracy: float | None = None
    sim_clean_accuracy_std: float | None = None
    sim_clean_accuracy_draw_range: list[float] | None = None
    hw_clean_accuracy: float | None = None
    hw_clean_accuracy_std: float | None = None
    hw_clean_accuracy_draw_range: list[float] | None = None
    sim_asr: float | None = None
    sim_asr_std: float | None = None
    sim_asr_draw_range: list[float] | None = None
    hw_asr: float | None = None
    hw_asr_std: float | None = None
    hw_asr_draw_range: list[float] | None = None
    transfer_rate: float | None = None
    transfer_rate_std: float | None = None
    transfer_rate_draw_range: list[float] | None = None
    agreement_clean: float | None = None
    agreement_clean_std: float | None = None
    agreement_clean_draw_range: list[float] | None = None
    agreement_adv: float | None = None
    agreement_adv_std: float | None = None
    agreement_adv_draw_range: list[float] | None = None
    count_l1_clean: float | None = None
    count_l1_clean_std: float | None = None
    count_l1_clean_draw_range: list[float] | None = None
    count_l1_adv: float | None = None
    count_l1_adv_std: float | None = None
    count_l1_adv_draw_range: list[float] | None = None
    sim_no_decision_rate: float | None = None
    sim_no_decision_rate_std: float | None = None
    sim_no_decision_rate_draw_range: list[float] | None = None
    hw_no_decision_rate: float | None = None
    hw_no_decision_rate_std: float | None = None
    hw_no_decision_rate_draw_range: list[float] | None = None
    hw_asr_interval_95: list[float] | None = None

    def hw_correct(self) -> int | None:
        """Inputs the hardware classified correctly when clean (the hardware ASR's denominator;
        for several draws, the mean draw's count), or ``None`` without a hardware accuracy."""
        return None if self.hw_clean_accuracy is None else round(self.hw_clean_accuracy * self.n)

    def sim_correct(self) -> int | None:
        """Inputs the simulation classified correctly when clean in this replay (the denominator of
        :attr:`sim_asr`; for several draws, the mean draw's count), or ``None`` without one."""
        return None if self.sim_clean_accuracy is None else round(self.sim_clean_accuracy * self.n)

    def hw_asr_interval(self) -> tuple[float, float] | None:
        """The 95 % Wilson interval of the hardware ASR over :meth:`hw_correct` inputs (as stored
        where the run measured it directly: a query run).

        Example:
            >>> [round(v, 3) for v in ReplayMetrics(n=10, hw_clean_accuracy=1.0, hw_asr=0.9).hw_asr_interval()]
            [0.596, 0.982]
        """
        if self.hw_asr_interval_95 is not None:
            return tuple(self.hw_asr_interval_95)
        return _wilson(self.hw_asr, self.hw_correct())

    def sim_asr_interval(self) -> tuple[float, float] | None:
        """The 95 % Wilson interval of this replay's simulation ASR over :meth:`sim_correct` inputs
        (the replayed inputs: a subset where the run replayed the first ``hw_n``, and, for
        Bernoulli inputs, the replay's own draws).

        Example:
            >>> [round(v, 3) for v in ReplayMetrics(n=20, sim_clean_accuracy=0.5, sim_asr=0.2).sim_asr_interval()]
            [0.057, 0.51]
        """
        return _wilson(self.sim_asr, self.sim_correct())

    def to_json(self) -> dict[str, Any]:
        """The JSON form: every field (``None`` where not measured)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReplayMetrics:
        """The record of :meth:`to_json` (keys it does not know, from older files, are ignored).

        Raises:
            ValueError: ``data`` is not an object or has no ``n``.
        """
        if not isinstance(data, dict) or "n" not in data:
            raise ValueError(f"replay metrics: expected a JSON object with 'n', got {str(data)[:80]}")
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def _wilson(rate: float | None, correct: int | None) -> tuple[float, float] | None:
    """The 95 % Wilson interval of ``rate`` over ``correct`` inputs (its count rounded: the mean
    draw's), or ``None`` without either."""
    from neuroattack.attacks.metrics import wilson_interval

    if not correct or rate is None:
        return None
    return wilson_interval(round(rate * correct), correct)


def replay_metrics(
    labels: torch.Tensor,
    targets: torch.Tensor | None,
    sim_clean: torch.Tensor,
    sim_adv: torch.Tensor,
    hw_clean: torch.Tensor,
    hw_adv: torch.Tensor,
    sim_counts: tuple[torch.Tensor, torch.Tensor] | None = None,
    hw_counts: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> dict[str, float | None]:
    """Sim-vs-hardware metrics of one replay of clean and adversarial inputs (predictions ``[N]``).

    - ``hw_clean_accuracy`` (``sim_clean_accuracy``): clean accuracy;
    - ``hw_asr`` (``sim_asr``): over inputs classified correctly when clean, the share whose
      adversarial version is misclassified (untargeted) or classified as the target (targeted);
    - ``transfer_rate``: of the inputs on which the attack succeeds in simulation (correct clean,
      fooled adversarial), the share on which it also succeeds on hardware (same conditions);
    - ``agreement_clean`` / ``agreement_adv``: share of identical sim and hardware predictions;
    - ``count_l1_clean`` / ``count_l1_adv``: mean over inputs of the L1 distance between output
      spike-count vectors (hardware counts over its window, simulation over ``T``);
    - ``hw_no_decision_rate`` (``sim_no_decision_rate``): over inputs classified correctly when
      clean, the share whose adversarial output decides nothing (``-1``: a tie or silence), which
      never counts as a success.

    Returns:
        ``{"n": N, metric: value}`` for one draw (the input of :func:`summarize_draws`).

    Example:
        >>> t = torch.tensor
        >>> replay_metrics(t([0, 1]), None, t([0, 1]), t([1, 1]), t([0, 1]), t([0, 1]))["sim_asr"]
        0.5
    """

    def rate(num: torch.Tensor, den: torch.Tensor) -> float | None:
        n = int(den.sum())
        return float((num & den).sum()) / n if n else None

    def hit(pred: torch.Tensor) -> torch.Tensor:
        return hits(pred, labels, targets)

    sim_ok, hw_ok = sim_clean.eq(labels), hw_clean.eq(labels)
    sim_success = sim_ok & hit(sim_adv)
    hw_success = hw_ok & hit(hw_adv)
    out = {
        "n": len(labels),
        "sim_clean_accuracy": float(sim_ok.float().mean()),
        "hw_clean_accuracy": float(hw_ok.float().mean()),
        "sim_asr": rate(hit(sim_adv), sim_ok),
        "hw_asr": rate(hit(hw_adv), hw_ok),
        "transfer_rate": rate(hw_success, sim_success),
        "agreement_clean": float(sim_clean.eq(hw_clean).float().mean()),
        "agreement_adv": float(sim_adv.eq(hw_adv).float().mean()),
        "sim_no_decision_rate": rate(sim_adv.eq(NO_DECISION), sim_ok),
        "hw_no_decision_rate": rate(hw_adv.eq(NO_DECISION), hw_ok),
    }
    if sim_counts is not None and hw_counts is not None:
        out["count_l1_clean"] = float((sim_counts[0] - hw_counts[0]).abs().sum(-1).mean())
        out["count_l1_adv"] = float((sim_counts[1] - hw_counts[1]).abs().sum(-1).mean())
    return out


def summarize_draws(draws: list[dict]) -> ReplayMetrics:
    """Mean and spread of every metric of several replays (Bernoulli draws of the same inputs).

    Args:
        draws: one :func:`replay_metrics` dict per draw (same ``n``).

    Returns:
        the :class:`ReplayMetrics` (see its example).

    Raises:
        ValueError: a draw names a metric :class:`ReplayMetrics` does not know.
    """
    unknown = sorted({k for d in draws for k in d} - {"n", *METRICS})
    if unknown:
        raise ValueError(f"replay metrics: unknown metric(s) {unknown}")
    spread: dict[str, Any] = {}
    for key in METRICS:
        values = [d[key] for d in draws if d.get(key) is not None]
        if not values:
            continue
        t = torch.tensor(values, dtype=torch.float64)
        spread[key] = float(t.mean())
        spread[f"{key}_std"] = float(t.std(unbiased=False)) if len(values) > 1 else 0.0
        spread[f"{key}_draw_range"] = [float(t.min()), float(t.max())]
    return ReplayMetrics(n=draws[0]["n"], draws=len(draws), **spread)
