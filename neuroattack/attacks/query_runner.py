"""Run a query-only attack over a dataset on a deployed network, in batches.

The network (a checkpoint exported to NIR, or any NIR file) is loaded on a backend (``emulator``,
``lava``, ``reference``) with a hardware profile; the attack then sees only that executor
(:mod:`neuroattack.attacks.query_attack`).
The adversarial input spikes are saved as streams like every attack's, so ``neuroattack replay``
can carry them to another backend or profile.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch

from neuroattack.attacks.attack_summary import AttackSummary
from neuroattack.attacks.metrics import concat_records, hits
from neuroattack.attacks.query_attack import QueryResult
from neuroattack.attacks.random_flips import matched_random
from neuroattack.attacks.streams import Streams
from neuroattack.decision import decide
from neuroattack.progress import progress_bar


@dataclass
class QueryRun:
    """What a query attack over a dataset produced.

    Attributes:
        result: the per-sample :class:`~neuroattack.attacks.query_attack.QueryResult` over all batches.
        streams: clean and adversarial input spikes with labels and predictions (``kind="events"``).
        summary: the :class:`~neuroattack.attacks.attack_summary.AttackSummary` of ``result`` with
            ``seconds``, ``settings``, ``dataset``, ``backend`` and ``profile``.
        events: the clean events of every stream row where the data came from event files
            (:func:`~neuroattack.attacks.streams.save_clean_events`), else ``None``.

    Example:
        >>> run = run_query_attack("runs/models/nmnist-sim", "square", "emulator", "loihi2")  # doctest: +SKIP
        >>> run.summary.asr, run.summary.queries_median  # doctest: +SKIP
    """

    result: QueryResult
    streams: Streams
    summary: AttackSummary
    events: list | None = None


def run_query_attack(
    executor,
    data,
    attack: str,
    options: dict[str, Any] | None = None,
    batch_size: int = 256,
    progress: bool = True,
) -> QueryRun:
    """Attack every sample of ``data`` on a deployed network that only answers queries.

    Args:
        executor: the deployed network, a backend executor (``backends.load(graph, profile, kind)``).
        data: an event dataset (:class:`~neuroattack.data.datasets.Dataset` with ``encoding = "events"``):
            its frames ``[N, T, *in_shape]`` are the spikes the hardware receives.
        attack: a query attack's name (:data:`~neuroattack.attacks.registry.QUERY_ATTACKS`).
        options: the attack's keyword options (``queries``, ``budget``, ..., ``seed``).
        batch_size: samples attacked together (one executor run per query step).
        progress: show a progress bar over the batches.

    Returns:
        the :class:`QueryRun` (its summary names the backend and profile).

    Raises:
        ValueError: an unknown attack, or data that is not spikes (query attacks perturb the input
            spikes the chip receives).

    Example:
        >>> executor = backends.load("m.nir", "loihi2", "emulator")  # doctest: +SKIP
        >>> run = run_query_attack(executor, load_dataset("nmnist-sim", "test", 100, 8), "square")  # doctest: +SKIP
        >>> run.summary.asr, run.summary.asr_interval_95  # doctest: +SKIP
    """
    from neuroattack.attacks.registry import QUERY_ATTACKS

    if attack not in QUERY_ATTACKS:
        raise ValueError(f"query attack must be one of {sorted(QUERY_ATTACKS)}, got {attack!r}")
    if data.encoding != "events":
        raise ValueError(
            f"query attacks perturb the input spikes the hardware receives; dataset {data.name!r} holds "
            f"{data.encoding!r}-coded images, so its adversarial inputs would not be images "
            "(attack an event-coded model, or use a gradient attack)"
        )
    atk = QUERY_ATTACKS[attack](executor, **(options or {}))
    start = time.time()
    advs, results, random_hits = [], [], []
    for i in progress_bar(range(0, len(data), batch_size), desc=attack, show=progress):
        xb, yb = data.x[i : i + batch_size].float(), data.y[i : i + batch_size]
        adv, res = atk.run(xb, yb)
        advs.append(adv)
        results.append(res)
        # the random baseline: as many events added and removed per sample, at random positions
        rnd = matched_random(xb, adv, atk.seed + 20_011 + i)
        random_hits.append(hits(decide(executor.run(rnd).scores), yb, None) & res.clean_correct)
    result = concat_records(QueryResult, results)
    settings = {**atk.settings(), "backend": executor.kind, "profile": executor.profile.name}
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
        timesteps=data.timesteps,
        settings=settings,
        bin_us=(data.duration_us // data.timesteps) if getattr(data, "duration_us", None) else None,
    )
    summary = result.summary()
    summary.seconds, summary.settings, summary.dataset = round(time.time() - start, 2), settings, data.name
    summary.set_random_baseline(int(torch.cat(random_hits).sum()), summary.n_attacked)
    summary.backend, summary.profile, summary.inputs = executor.kind, executor.profile.name, "events"
    events = list(data.events) if data.events is not None else None  # a stream row per sample
    return QueryRun(result, streams, summary, events)
