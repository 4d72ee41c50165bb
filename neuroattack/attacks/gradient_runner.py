"""Attack a dataset split in batches: white-box, or black-box by transfer from a surrogate model.

Black-box transfer (Sharmin, HART Table 3): adversarial inputs are crafted on ``surrogate`` (a
model of another seed, leak or time-step count, possibly its ANN-twin gradients) and judged on the
target ``victim``; both records are kept (``source_*`` keys for the surrogate).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from neuroattack.attacks.attack_summary import AttackSummary
from neuroattack.attacks.base import expand_targets
from neuroattack.attacks.metrics import AttackResult
from neuroattack.attacks.random_flips import matched_random
from neuroattack.attacks.registry import BASELINES, build_attack
from neuroattack.attacks.streams import Streams
from neuroattack.data.datasets import Dataset
from neuroattack.progress import progress_bar
from neuroattack.victims import Victim


@dataclass
class AttackRun:
    """Everything one attack over a dataset produced.

    Args:
        result: per-sample :class:`~neuroattack.attacks.metrics.AttackResult` on the target
            ``victim`` (every field ``[N]``, ``N`` = attacked inputs, ``(K - 1)`` times the dataset
            size when targeted).
        source_result: the same record on the ``surrogate`` that crafted the inputs (black-box
            transfer), else ``None``.
        streams: the clean and adversarial inputs with labels and predictions, ready for
            :func:`~neuroattack.attacks.streams.save_streams`.
        events: the clean events of every stream row where the data came from event files
            (:func:`~neuroattack.attacks.streams.save_clean_events`), else ``None``.
        summary: the :class:`~neuroattack.attacks.attack_summary.AttackSummary` of ``result``
            with ``seconds`` (wall time), ``settings`` (the attack's, with ``transfer``),
            ``dataset``, for event inputs the random baseline at the same events (``random_asr``,
            ``beats_random``) and, under transfer, ``source_asr``, ``source_n_attacked`` and
            ``source_clean_accuracy``.

    Example:
        >>> run = run_attack(victim, data, "pgd", "hart", {"eps": 8 / 255})  # doctest: +SKIP
        >>> run.summary.asr, len(run.streams)  # doctest: +SKIP
    """

    result: AttackResult
    source_result: AttackResult | None
    streams: Streams
    summary: AttackSummary
    events: list | None = None


@contextmanager
def on_device(device: torch.device) -> Iterator[None]:
    """Tensors an attack creates without naming a device land on ``device`` (torch's device
    context); nothing changes on the CPU, where the context is not entered.

    Example:
        >>> with on_device(torch.device("cpu")):
        ...     torch.zeros(1).device
        device(type='cpu')
    """
    if device.type == "cpu":
        yield
        return
    with device:
        yield


def run_attack(
    victim: Victim,
    data: Dataset,
    attack: str,
    grad: str = "stbp",
    options: dict[str, Any] | None = None,
    batch_size: int = 64,
    surrogate: Victim | None = None,
    progress: bool = True,
    device: str | torch.device = "cpu",
) -> AttackRun:
    """Attack every sample of ``data`` (each once per other class if ``options['targeted']``).

    Args:
        victim: the model judged (and, without ``surrogate``, attacked white-box).
        data: the split attacked: images ``[N, C, H, W]`` in [0, 1] or binary event frames
            ``[N, T, P, H, W]``, labels ``[N]``.
        attack: attack name (:data:`~neuroattack.attacks.registry.ATTACKS`: ``g2s-rsf``, ``fgsm``,
            ``pgd``, ``bim``, ``cwl2``).
        grad: gradient estimator name (``stbp``, ``bptr``, ``rga``, ``hart``, ``cba``, ``ann``).
        options: keyword options of the attack (its own, e.g. ``eps``, and those of every attack,
            e.g. ``targeted``, ``eot``, ``seed``, ``grad_options``).
        batch_size: samples per attack call.
        surrogate: for black-box transfer, the model the inputs are crafted on (same input layout
            and encoding as ``victim``); ``None``: white-box.
        progress: show a progress bar.
        device: where the models run and the attack computes (``"cpu"``, ``"cuda"``, ...); the
            models are moved there, each batch too, and the results come back on the CPU. Random
            draws come from CPU generators, so a run draws the same numbers on every device.

    Returns:
        The :class:`AttackRun`: per-sample results, saved-stream payload and summary.

    Raises:
        ValueError: if ``surrogate``'s input (shape or encoding) differs from ``victim``'s, the
            dataset holds events for a model with image input, or the attack, estimator or an
            option is invalid.

    Example:
        >>> run = run_attack(victim, data, "g2s-rsf", "stbp", {"steps": 25, "targeted": True})  # doctest: +SKIP
        >>> run.summary.asr  # doctest: +SKIP
    """
    options = dict(options or {})
    crafter = surrogate or victim
    if surrogate is not None:
        if surrogate.model.input_shape != victim.model.input_shape or surrogate.encoding != victim.encoding:
            raise ValueError(
                f"surrogate input ({surrogate.encoding}, {surrogate.model.input_shape}) does not match the "
                f"target's ({victim.encoding}, {victim.model.input_shape})"
            )
    if data.encoding == "events" and victim.encoding != "events":
        raise ValueError(f"dataset {data.name} holds events, the model takes {victim.encoding} input")
    device = torch.device(device)
    for v in {id(victim): victim, id(crafter): crafter}.values():
        v.model.to(device)
    atk = build_attack(attack, crafter, grad, **options)
    baseline = data.encoding == "events" and attack not in BASELINES  # random flips beside the attack
    results, sources, randoms, clean, adv, labels, targets, rows = [], [], [], [], [], [], [], []
    offset = 0
    start = time.perf_counter()
    total = (len(data) + batch_size - 1) // batch_size
    for x, y in progress_bar(
        data.batches(batch_size), total=total, desc=f"{attack}/{atk.estimator.name}", show=progress
    ):
        tgt = None
        index = torch.arange(offset, offset + len(y))
        offset += len(y)
        if atk.targeted:
            x, y, tgt = expand_targets(x, y, victim.model.num_classes)
            index = index.repeat(len(y) // len(index))  # expand_targets repeats the batch
        rows.append(index)
        with on_device(device):
            x_dev, y_dev = x.to(device), y.to(device)
            tgt_dev = None if tgt is None else tgt.to(device)
            x_adv, res = atk.run(x_dev, y_dev, tgt_dev)
            if surrogate is not None:
                sources.append(res.cpu())
                extra = {k: getattr(res, k) for k in ("iterations", "rsf_invocations", "zero_grad_first")}
                res = atk.judge_on(victim, x_dev, x_adv, y_dev, tgt_dev, **extra)
            if baseline:  # as many events added and removed, sample by sample, at random
                rnd = matched_random(x_dev, x_adv, atk.seed + 20_011 + offset).to(x_dev.dtype)
                randoms.append(atk.judge_on(victim, x_dev, rnd, y_dev, tgt_dev).cpu())
        x_adv, res = x_adv.cpu(), res.cpu()
        results.append(res)
        clean.append(x)
        adv.append(x_adv)
        labels.append(y)
        targets.append(tgt)
    seconds = time.perf_counter() - start
    result = AttackResult.concat(results)
    source = AttackResult.concat(sources) if sources else None
    settings = {**atk.settings(), "transfer": surrogate is not None}
    summary = result.summary()
    summary.seconds, summary.settings, summary.dataset = round(seconds, 2), settings, data.name
    summary.inputs = "events" if data.encoding == "events" else "images"
    if randoms:
        rnd = AttackResult.concat(randoms).summary()
        summary.set_random_baseline(rnd.n_success, rnd.n_attacked)
    if source is not None:
        src = source.summary()
        summary.source_asr, summary.source_n_attacked = src.asr, src.n_attacked
        summary.source_clean_accuracy = src.clean_accuracy
    streams = Streams(
        clean=torch.cat(clean),
        adversarial=torch.cat(adv),
        labels=torch.cat(labels),
        targets=torch.cat(targets) if atk.targeted else None,
        success=result.success,
        pred_clean=result.pred_clean,
        pred_adv=result.pred_adv,
        kind="events" if victim.encoding == "events" else "images",
        encoding=victim.encoding,
        timesteps=victim.timesteps,
        settings={**settings, "binning": data.binning} if data.binning is not None else settings,
        bin_us=(data.duration_us // data.timesteps) if data.duration_us else None,
    )
    events = [data.events[i] for i in torch.cat(rows).tolist()] if data.events is not None else None
    return AttackRun(result, source, streams, summary, events)
