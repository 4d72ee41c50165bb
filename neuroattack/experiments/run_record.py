"""One finished run as the results store holds it: what ran (labels and settings) and what it measured.

:class:`RunResult` is the measurement (the attack's summary and the replay's metrics);
:class:`RunRecord` adds the run's key, labels, settings, artifacts and times. Their JSON forms are
derived from the dataclasses; the store writes and reads nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from neuroattack.attacks.attack_summary import AttackSummary
from neuroattack.replay_metrics import ReplayMetrics


@dataclass
class RunResult:
    """What one run measured.

    Args:
        sim: the attack's own summary: crafted and judged in simulation (on a surrogate for
            black-box transfer, on the fixed-point twin for hardware-in-the-loop), or, for a query
            attack, on the deployment it queried (then ``sim.backend`` is set).
        hardware: the replay on the run's backend and profile (for a query attack, its figures on
            the deployment it queried); ``None`` for a simulation-only run (``backend="none"``).
        seconds: wall time of the run (crafting, or reading the crafted streams, and the replay).

    Example:
        >>> r = RunResult(AttackSummary(n_total=2, n_attacked=2, n_success=1, asr=0.5), None, 1.5)
        >>> RunResult.from_json(r.to_json()) == r
        True
    """

    sim: AttackSummary | None
    hardware: ReplayMetrics | None
    seconds: float | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"sim": ..., "hardware": ..., "seconds": ...}`` (an absent part is left out)."""
        out: dict[str, Any] = {"seconds": self.seconds}
        if self.sim is not None:
            out["sim"] = self.sim.to_json()
        if self.hardware is not None:
            out["hardware"] = self.hardware.to_json()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunResult:
        """The record of :meth:`to_json`.

        Rows of stores written before the summaries were typed hold only some of the attack's
        counts; the missing ones read as ``None``.

        Raises:
            ValueError: ``data`` is not a JSON object.
        """
        if not isinstance(data, dict):
            raise ValueError(f"run result: expected a JSON object, got {type(data).__name__}")
        sim = data.get("sim")
        if isinstance(sim, dict):
            sim = AttackSummary.from_json({"n_total": None, "n_attacked": None, "n_success": None, **sim})
        hardware = data.get("hardware")
        if isinstance(hardware, dict):
            hardware = ReplayMetrics.from_json(hardware)
        return cls(sim, hardware, data.get("seconds"))


@dataclass
class RunRecord:
    """A finished run in the results store.

    Args:
        key: the run's content key (:meth:`~neuroattack.experiments.pipeline.RunSpec.key`).
        model: the model's label (a checkpoint folder's or NIR file's name; not part of the key).
        attack: ``"<attack>/<estimator>"`` (``"square/none"`` for a query attack).
        settings: what defines the run besides its labels (digests of the model, surrogate and
            profile, the options, sizes and seeds); the key is computed from these.
        backend: ``emulator``, ``lava``, ``reference`` or ``none`` (simulation only).
        profile: the hardware profile's name (a label; its digest is in ``settings``).
        result: the :class:`RunResult`.
        artifacts: where the run's files are (``{"streams": folder}``).
        started, finished: Unix times.
        keyed_by: ``"content"``; ``"label"`` for rows migrated from stores whose keys held names
            (reports show them, no sweep counts them as done).

    Example:
        >>> rec = RunRecord("k", "m", "fgsm/stbp", {}, "emulator", "loihi2", RunResult(None, None))
        >>> rec.hw_asr is None
        True
    """

    key: str
    model: str
    attack: str
    settings: dict[str, Any]
    backend: str
    profile: str
    result: RunResult
    artifacts: dict[str, Any] = field(default_factory=dict)
    started: float | None = None
    finished: float | None = None
    keyed_by: str = "content"

    @property
    def hw_asr(self) -> float | None:
        """The hardware ASR of the run (``None`` without a replay)."""
        return None if self.result.hardware is None else self.result.hardware.hw_asr
