"""What one attack over a dataset measured, as one typed record (its JSON form is derived from it).

Gradient attacks (:func:`~neuroattack.attacks.gradient_runner.run_attack`) fill the perturbation
and iteration means; query attacks (:func:`~neuroattack.attacks.query_runner.run_query_attack`)
the events added and removed and the query counts; black-box transfer the ``source_*`` fields.
A field an attack does not measure stays ``None`` (``False`` for ``targeted``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class AttackSummary:
    """The summary of one attack run (ASR over the inputs classified correctly when clean).

    Args:
        n_total: inputs attacked (``(K - 1)`` per sample when targeted).
        n_attacked: of those, the ones classified correctly when clean (the ASR's denominator).
        n_success: of those, the ones the attack fooled.
        clean_accuracy: ``n_attacked / n_total``, or ``None`` for no input.
        asr: ``n_success / n_attacked``, or ``None`` when nothing was attacked.
        asr_interval_95: the 95 % Wilson interval ``[low, high]`` of ``asr`` over the attacked inputs.
        mean_perturbation: Liang's average perturbation per point ``||x' - x||_2 / N``, mean over
            successes.
        asr_expected: mean per-draw success fraction (Bernoulli inputs; gradient attacks).
        mean_l0, mean_linf: changed elements (bins: events added + removed) and largest change,
            means over successes.
        median_l0: the median of the bins changed over successes: the events it took to fool.
        mean_iterations, mean_rsf_invocations: means over attacked inputs (gradient attacks).
        zero_grad_first: attacked inputs whose first gradient vanished (G2S/RSF).
        targeted: whether the attack aimed at target classes.
        mean_events_added, mean_events_removed: input spikes added and removed, means over
            successes.
        no_decision_rate: of the attacked inputs, the share whose adversarial output decided
            nothing (a tie or silence; never counted a success).
        clean_no_decision_rate: of all inputs, the share whose clean output decided nothing
            (never counted correct).
        budget: the largest number of input bins the attack could change per sample (``None``:
            unbounded).
        queries_median, queries_mean, query_budget: queries spent per attacked input and the
            budget (query attacks).
        random_asr, random_asr_interval_95: the ASR of the random baseline beside the attack
            (event inputs): per sample as many events added and removed as the attack did, at
            random positions (:func:`~neuroattack.attacks.random_flips.matched_random`).
        beats_random: whether the attack's ASR interval lies above ``random_asr`` (``False``
            flags an attack no better than chance at the same events).
        seconds: wall time of the attack.
        settings: the attack's settings (its options, estimator, ``transfer``, binning, ...).
        source_asr, source_n_attacked, source_clean_accuracy: the same figures on the surrogate
            that crafted the inputs (black-box transfer).
        inputs: ``"events"`` (binary event frames: ``l0`` and the added/removed counts are events)
            or ``"images"`` (they count pixels raised and lowered).
        dataset, checkpoint, graph, surrogate, backend, profile: labels of what was attacked
            (``backend``/``profile``: the deployment a query attack queried).

    Example:
        >>> s = AttackSummary(n_total=4, n_attacked=2, n_success=1, clean_accuracy=0.5, asr=0.5)
        >>> AttackSummary.from_json(s.to_json()) == s
        True
    """

    n_total: int
    n_attacked: int
    n_success: int
    clean_accuracy: float | None = None
    asr: float | None = None
    asr_interval_95: list[float] | None = None
    mean_perturbation: float | None = None
    asr_expected: float | None = None
    mean_l0: float | None = None
    median_l0: float | None = None
    mean_linf: float | None = None
    mean_iterations: float | None = None
    mean_rsf_invocations: float | None = None
    zero_grad_first: int | None = None
    targeted: bool = False
    mean_events_added: float | None = None
    mean_events_removed: float | None = None
    no_decision_rate: float | None = None
    clean_no_decision_rate: float | None = None
    budget: int | None = None
    queries_median: float | None = None
    queries_mean: float | None = None
    query_budget: int | None = None
    random_asr: float | None = None
    random_asr_interval_95: list[float] | None = None
    beats_random: bool | None = None
    seconds: float | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    inputs: str | None = None
    source_asr: float | None = None
    source_n_attacked: int | None = None
    source_clean_accuracy: float | None = None
    dataset: str | None = None
    checkpoint: str | None = None
    graph: str | None = None
    surrogate: str | None = None
    backend: str | None = None
    profile: str | None = None

    def asr_interval(self) -> tuple[float, float] | None:
        """The 95 % Wilson interval of :attr:`asr` from the same counts (``n_success`` of
        ``n_attacked``); for a row of an older store without the counts, the stored
        ``asr_interval_95``; ``None`` where nothing was attacked.

        Example:
            >>> [round(v, 3) for v in AttackSummary(10, 10, 9, asr=0.9).asr_interval()]
            [0.596, 0.982]
        """
        from neuroattack.attacks.metrics import wilson_interval

        if self.n_attacked and self.n_success is not None:
            return wilson_interval(self.n_success, self.n_attacked)
        return None if self.asr_interval_95 is None else tuple(self.asr_interval_95)

    def set_random_baseline(self, successes: int, attacked: int) -> None:
        """Record the random baseline beside the attack: ``successes`` of ``attacked`` inputs fooled
        by random flips of the attack's events; ``beats_random`` when the attack's 95 % interval
        lies above that rate (nothing is recorded for no attacked input).

        Example:
            >>> s = AttackSummary(10, 10, 9, asr=0.9, asr_interval_95=[0.6, 0.98])
            >>> s.set_random_baseline(1, 10)
            >>> s.random_asr, s.beats_random
            (0.1, True)
        """
        from neuroattack.attacks.metrics import wilson_interval

        if not attacked:
            return
        self.random_asr = successes / attacked
        self.random_asr_interval_95 = list(wilson_interval(successes, attacked))
        if self.asr_interval_95 is not None:
            self.beats_random = self.asr_interval_95[0] > self.random_asr

    def to_json(self) -> dict[str, Any]:
        """The JSON form: every field (``None`` where not measured)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AttackSummary:
        """The record of :meth:`to_json` (keys it does not know, from older files, are ignored).

        Raises:
            ValueError: ``data`` is not an object or lacks ``n_total``/``n_attacked``/``n_success``.
        """
        if not isinstance(data, dict):
            raise ValueError(f"attack summary: expected a JSON object, got {type(data).__name__}")
        missing = [k for k in ("n_total", "n_attacked", "n_success") if k not in data]
        if missing:
            raise ValueError(f"attack summary: missing field(s) {', '.join(missing)}")
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
