"""Robustness curves: attack success against the event budget, in simulation and on hardware.

For each attack and each budget ``K`` (input bins changed per sample, events added + removed) one
run of the pipeline (:mod:`neuroattack.experiments.pipeline`) crafts with ``budget=K`` and
replays on the deployment; the runs go through one sweep, so they land in the results store,
resume after an interruption and are never repeated. A query attack (``square``, ``boundary``)
queries the deployment itself: its ASR is the hardware's, and it has no simulation point.

:class:`CurvePoint` holds one attack at one budget; :class:`Curve` the whole figure with, per
attack, the two summary numbers a reader asks first: the median events-to-fool (over the
successes of the largest budget) and the smallest budget at which the ASR reaches 50 %
(simulation and hardware). :func:`write_curve` writes ``curve.json`` and ``curve.png``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from neuroattack.experiments.pipeline import RunSpec
from neuroattack.experiments.run_record import RunResult


@dataclass
class CurvePoint:
    """One attack at one budget.

    Args:
        attack: the attack's name.
        budget: input bins a sample may change.
        n: inputs attacked in simulation (correctly classified when clean); ``None`` for a query
            attack (no simulation).
        sim_asr, sim_asr_interval_95: simulation ASR and its 95 % Wilson interval.
        hw_n: inputs the hardware classified correctly when clean (the hardware ASR's denominator).
        hw_asr, hw_asr_interval_95: hardware ASR and its 95 % Wilson interval.
        no_decision_rate: of the attacked inputs, the share whose adversarial output decided nothing
            (on hardware where there is a replay, else in simulation).
        median_events, mean_added, mean_removed: the events it took to fool (over successes).
        random_asr: the random baseline at the same events (simulation, or the deployment for a
            query attack).
    """

    attack: str
    budget: int
    n: int | None = None
    sim_asr: float | None = None
    sim_asr_interval_95: list[float] | None = None
    hw_n: int | None = None
    hw_asr: float | None = None
    hw_asr_interval_95: list[float] | None = None
    no_decision_rate: float | None = None
    median_events: float | None = None
    mean_added: float | None = None
    mean_removed: float | None = None
    random_asr: float | None = None


@dataclass
class Curve:
    """ASR against the event budget for several attacks on one deployment.

    Args:
        model: the model's label.
        backend, profile: the deployment (``backend="none"``: simulation only).
        points: every :class:`CurvePoint`, by attack, budgets ascending.
        summary: per attack ``{"median_events_to_fool", "budget_for_half_sim",
            "budget_for_half_hw"}`` (``None`` where it was not reached).

    Example:
        >>> c = Curve("m", "emulator", "loihi2", [CurvePoint("random", 10, 50, 0.1, [0.04, 0.21])])
        >>> c.finish().summary["random"]["budget_for_half_sim"] is None
        True
    """

    model: str
    backend: str
    profile: str
    points: list[CurvePoint]
    summary: dict[str, dict[str, Any]] = field(default_factory=dict)

    def finish(self) -> Curve:
        """Fill :attr:`summary` from :attr:`points` (returns ``self``)."""
        for attack in dict.fromkeys(p.attack for p in self.points):
            pts = sorted((p for p in self.points if p.attack == attack), key=lambda p: p.budget)
            self.summary[attack] = {
                "median_events_to_fool": pts[-1].median_events,
                "budget_for_half_sim": next((p.budget for p in pts if (p.sim_asr or 0) >= 0.5), None),
                "budget_for_half_hw": next((p.budget for p in pts if (p.hw_asr or 0) >= 0.5), None),
            }
        return self

    def to_json(self) -> dict[str, Any]:
        """The JSON form (``curve.json``)."""
        return asdict(self)


def curve_specs(
    base: RunSpec, attacks: list[str], budgets: list[int], query_options: dict[str, Any] | None = None
) -> list[RunSpec]:
    """One run per attack and budget: ``base`` with the attack, ``budget=K`` in its options, and
    query attacks crafted on the deployment.

    Args:
        base: the model, data size, seed and deployment (its ``attack`` is replaced).
        attacks: attack names (gradient attacks, query attacks, ``random``, ``silence``).
        budgets: budgets ``K`` (input bins per sample), each >= 1.
        query_options: options of the query attacks only (e.g. ``{"queries": 500}``).

    Example:
        >>> base = RunSpec("runs/models/nmnist", "g2s-rsf", n=100)
        >>> [(s.attack, s.options["budget"]) for s in curve_specs(base, ["random"], [1, 10])]
        [('random', 1), ('random', 10)]
    """
    from neuroattack.attacks.registry import QUERY_ATTACKS

    out = []
    for attack in attacks:
        query = attack in QUERY_ATTACKS
        for k in budgets:
            out.append(
                dataclasses.replace(
                    base,
                    attack=attack,
                    grad="none" if query else base.grad,
                    options={**base.options, **((query_options or {}) if query else {}), "budget": k},
                    craft_on="query" if query else base.craft_on,
                )
            )
    return out


def _point(spec: RunSpec, result: RunResult) -> CurvePoint:
    sim, hw = result.sim, result.hardware
    point = CurvePoint(spec.attack, spec.options["budget"])
    point.median_events, point.mean_added, point.mean_removed = (
        sim.median_l0,
        sim.mean_events_added,
        sim.mean_events_removed,
    )
    point.random_asr = sim.random_asr
    query = spec.craft_on == "query"
    if not query:
        point.n, point.sim_asr, point.sim_asr_interval_95 = sim.n_attacked, sim.asr, sim.asr_interval_95
        point.no_decision_rate = sim.no_decision_rate
    if hw is not None and hw.hw_asr is not None:
        interval = hw.hw_asr_interval()
        point.hw_n, point.hw_asr = hw.hw_correct(), hw.hw_asr
        point.hw_asr_interval_95 = None if interval is None else list(interval)
        point.no_decision_rate = sim.no_decision_rate if query else hw.hw_no_decision_rate
    return point


def robustness_curve(
    base: RunSpec,
    attacks: list[str],
    budgets: list[int],
    store: str | os.PathLike,
    work_dir: str | os.PathLike,
    executor: str = "local",
    progress: bool = True,
    query_options: dict[str, Any] | None = None,
    address: str | None = None,
) -> Curve:
    """Run every attack at every budget (one sweep into ``store``) and gather the curve.

    Args:
        base: the model and deployment (see :func:`curve_specs`).
        attacks: attack names.
        budgets: budgets ``K``, ascending or not.
        store: the results store (runs it already holds are not run again).
        work_dir: where crafted streams are cached.
        executor: ``"local"`` or ``"ray"`` (:func:`~neuroattack.experiments.sweep.run_sweep`).
        progress: show the sweep's progress (on a terminal).
        query_options: options of the query attacks only (e.g. ``{"queries": 500}``).

    Returns:
        the finished :class:`Curve`.

    Example:
        >>> base = RunSpec("runs/models/nmnist", "g2s-rsf", backend="emulator", profile="loihi2", n=100)
        >>> curve = robustness_curve(base, ["sparsefool", "random"], [10, 100], "c.sqlite", "work")  # doctest: +SKIP
        >>> curve.summary["sparsefool"]["median_events_to_fool"]  # doctest: +SKIP
    """
    from neuroattack.experiments.store import ResultStore
    from neuroattack.experiments.sweep import run_sweep

    specs = curve_specs(base, attacks, sorted(set(budgets)), query_options)
    run_sweep(specs, store, work_dir, executor=executor, address=address, progress=progress)
    with ResultStore(store) as s:
        by_key = {r.key: r.result for r in s.runs()}
    points = [_point(spec, by_key[spec.key()]) for spec in specs]
    return Curve(base.model, base.backend, base.profile_name, points).finish()


def plot_curve(curve: Curve, path: str | os.PathLike) -> Path:
    """``curve.png``: ASR against the event budget (log axis), simulation and hardware side by
    side, each point with its 95 % Wilson interval.

    Example:
        >>> plot_curve(curve, "runs/curves/nmnist/curve.png")  # doctest: +SKIP
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neuroattack.fileio import atomic_path

    panels = [("simulation", "sim_asr", "sim_asr_interval_95")]
    if curve.backend != "none":
        panels.append((f"{curve.backend}/{curve.profile}", "hw_asr", "hw_asr_interval_95"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.8), squeeze=False)
    for ax, (title, key, interval) in zip(axes[0], panels):
        for attack in dict.fromkeys(p.attack for p in curve.points):
            pts = [p for p in curve.points if p.attack == attack and getattr(p, key) is not None]
            if not pts:
                continue
            xs, ys = [p.budget for p in pts], [getattr(p, key) for p in pts]
            bounds = [getattr(p, interval) or (y, y) for p, y in zip(pts, ys)]
            lows = [max(0.0, y - lo) for y, (lo, _) in zip(ys, bounds)]  # max: float noise at 0 and 1
            highs = [max(0.0, hi - y) for y, (_, hi) in zip(ys, bounds)]
            ax.errorbar(xs, ys, yerr=[lows, highs], marker="o", capsize=3, label=attack)
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("event budget K (input bins changed per sample)")
        ax.set_ylabel("ASR (95 % Wilson interval)")
        ax.set_title(f"{curve.model}: {title}", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def write_curve(curve: Curve, out: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``out/curve.json`` and ``out/curve.png``; returns both paths.

    Example:
        >>> write_curve(curve, "runs/curves/nmnist")  # doctest: +SKIP
    """
    from neuroattack.fileio import write_json

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "curve.json", json.loads(json.dumps(curve.to_json())))
    return out / "curve.json", plot_curve(curve, out / "curve.png")
