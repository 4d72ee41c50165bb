"""Speed benchmarks, measured by ``neuroattack bench ...`` and written as JSON (never timed tests)."""

from __future__ import annotations

import platform
import time
from typing import Any

import torch

from neuroattack.attacks.base import Attack
from neuroattack.attacks.estimators import ESTIMATORS
from neuroattack.attacks.victim import Victim
from neuroattack.models.snn import SNN


def _machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "processor": platform.processor() or platform.machine(),
    }


def bench_attacks(
    model: SNN,
    images: torch.Tensor,
    labels: torch.Tensor,
    timesteps: tuple[int, ...] = (4, 8, 16),
    repeats: int = 5,
    estimators: tuple[str, ...] = tuple(ESTIMATORS),
    hart_gamma: float = 1.0,
) -> dict[str, Any]:
    """Seconds per PGD iteration (one image-gradient step on a batch) per estimator and ``T``.

    Each measurement is the median of ``repeats`` gradient steps after one warm-up step.
    """
    rows = []
    for steps in timesteps:
        victim = Victim(model, "bernoulli", steps, "mse")
        for name in estimators:
            options = {"gamma": hart_gamma} if name == "hart" else {}
            atk = Attack(victim, grad=name, grad_options=options, seed=0)
            atk.image_gradient(images, labels)
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                atk.image_gradient(images, labels)
                times.append(time.perf_counter() - t0)
            times.sort()
            rows.append({"estimator": name, "timesteps": steps, "seconds_per_iteration": times[len(times) // 2]})
    by = {(r["estimator"], r["timesteps"]): r["seconds_per_iteration"] for r in rows}
    ratios = {
        f"hart_over_stbp_T{t}": by[("hart", t)] / by[("stbp", t)]
        for t in timesteps
        if ("hart", t) in by and ("stbp", t) in by
    }
    return {
        "benchmark": "attacks",
        "model": model.spec.text,
        "batch": int(images.shape[0]),
        "results": rows,
        "ratios": ratios,
        "machine": _machine(),
    }
