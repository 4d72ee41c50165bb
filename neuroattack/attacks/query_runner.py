"""Run a query-only attack over a checkpoint's test data on a deployed network, in batches.

The model is exported to NIR and loaded on the backend (``emulator``, ``lava``, ``reference``)
with a hardware profile; the attack then sees only that executor (:mod:`neuroattack.attacks.query`).
The adversarial input spikes are saved as streams like every attack's, so ``neuroattack replay``
can carry them to another backend or profile.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from neuroattack.attacks.query import QueryResult
from neuroattack.attacks.streams import Streams


@dataclass
class QueryRun:
    """What a query attack over a dataset produced.

    Attributes:
        result: the per-sample :class:`~neuroattack.attacks.query.QueryResult` over all batches.
        streams: clean and adversarial input spikes with labels and predictions (``kind="events"``).
        summary: ``result.summary()`` plus ``seconds``, ``settings``, ``checkpoint``, ``dataset``,
            ``backend`` and ``profile``.

    Example:
        >>> run = run_query_attack("runs/models/nmnist-sim", "square", "emulator", "loihi2")  # doctest: +SKIP
        >>> run.summary["asr"], run.summary["queries_median"]  # doctest: +SKIP
    """

    result: QueryResult
    streams: Streams
    summary: dict[str, Any]


def run_query_attack(
    checkpoint: str | os.PathLike,
    attack: str,
    backend: str = "emulator",
    profile: str | os.PathLike | None = "loihi2",
    options: dict[str, Any] | None = None,
    n: int | None = None,
    batch_size: int = 256,
    progress: bool = True,
) -> QueryRun:
    """Attack the first ``n`` test samples of ``checkpoint``'s dataset on ``backend``/``profile``.

    Args:
        checkpoint: a checkpoint directory of an event-coded model (``encoding = "events"``).
        attack: a query attack's name (:data:`~neuroattack.attacks.registry.QUERY_ATTACKS`).
        backend: ``"emulator"``, ``"lava"`` or ``"reference"``.
        profile: the hardware profile (``None``: float).
        options: the attack's keyword options (``queries``, ``max_flips``, ..., ``seed``).
        n: samples (``None``: the whole test split).
        batch_size: samples attacked together (one executor run per query step).
        progress: show a progress bar over the batches.

    Returns:
        the :class:`QueryRun`.

    Raises:
        ValueError: an unknown attack, or a model that does not take spikes (query attacks perturb
            the input spikes the chip receives).

    Example:
        >>> run = run_query_attack("runs/models/nmnist-sim", "square", "emulator", "loihi2",
        ...                        {"queries": 1000}, n=100)  # doctest: +SKIP
        >>> run.summary["asr"], run.summary["asr_interval_95"]  # doctest: +SKIP
    """
    from neuroattack.attacks.registry import QUERY_ATTACKS
    from neuroattack.data.datasets import load_dataset
    from neuroattack.models.checkpoint import load_checkpoint
    from neuroattack.replay import deploy

    if attack not in QUERY_ATTACKS:
        raise ValueError(f"query attack must be one of {sorted(QUERY_ATTACKS)}, got {attack!r}")
    model, config = load_checkpoint(checkpoint)
    if config["encoding"] != "events":
        raise ValueError(
            f"query attacks perturb the input spikes the hardware receives; {checkpoint} takes "
            f"{config['encoding']!r}-coded images, so its adversarial inputs would not be images "
            "(attack an event-coded model, or use a gradient attack)"
        )
    steps = config["timesteps"]
    executor = deploy(model, backend, profile, steps)
    data = load_dataset(config["dataset"], "test", n, steps)
    atk = QUERY_ATTACKS[attack](executor, **(options or {}))
    start = time.time()
    advs, results = [], []
    for i in tqdm(range(0, len(data), batch_size), desc=attack, disable=not progress):
        adv, res = atk.run(data.x[i : i + batch_size].float(), data.y[i : i + batch_size])
        advs.append(adv)
        results.append(res)
    result = QueryResult(
        **{
            name: torch.cat([getattr(r, name) for r in results])
            for name in (
                "labels",
                "clean_correct",
                "success",
                "queries",
                "added",
                "removed",
                "l2_per_point",
                "pred_clean",
                "pred_adv",
            )
        },
        budget=atk.queries,
    )
    settings = {**atk.settings(), "backend": backend, "profile": executor.profile.name}
    streams = Streams(
        clean=data.x.to(torch.uint8),
        adversarial=torch.cat(advs).to(torch.uint8),
        labels=result.labels,
        targets=None,
        success=result.success,
        pred_clean=result.pred_clean,
        pred_adv=result.pred_adv,
        kind="events",
        encoding="events",
        timesteps=steps,
        settings=settings,
        bin_us=getattr(data, "bin_us", None),
    )
    summary = {
        **result.summary(),
        "seconds": time.time() - start,
        "settings": settings,
        "checkpoint": str(Path(checkpoint)),
        "dataset": config["dataset"],
        "backend": backend,
        "profile": executor.profile.name,
    }
    return QueryRun(result, streams, summary)
