"""Running a trained model and its (adversarial) inputs on a backend.

``deploy`` exports a Norse SNN to NIR (validated) and loads it on ``lava``, ``emulator`` or
``reference`` with a hardware profile; ``hardware_spikes`` turns dataset samples into the binary
spike trains hardware consumes: event frames as they are, images as Bernoulli draws (the same
encoder as in simulation, from a seeded generator); ``run_on`` runs them in batches with a
progress bar; ``replay_streams`` compares simulation and hardware on saved attack streams.
"""

from __future__ import annotations

import os

import nir
import torch

import backends
from neuroattack.attacks.metrics import hits
from neuroattack.encoding import bernoulli_encode
from neuroattack.export import to_nir, validate_export
from neuroattack.models.snn import SNN
from neuroattack.progress import progress_bar


def deploy(
    model: SNN,
    kind: str = "emulator",
    profile: str | os.PathLike | backends.HardwareProfile | None = None,
    timesteps: int = 8,
    **options,
):
    """Export ``model`` to NIR (checked against Norse) and load it on backend ``kind``."""
    return backends.load(graph_of(model, timesteps), profile, kind, **options)


def graph_of(model: SNN, timesteps: int = 8) -> nir.NIRGraph:
    """The validated NIR graph of ``model``."""
    graph = to_nir(model)
    validate_export(graph, model, timesteps)
    return graph


def hardware_spikes(
    x: torch.Tensor, encoding: str, timesteps: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Binary hardware input ``[B, T, ...]`` for dataset samples ``x`` (frames or images)."""
    if encoding == "events":
        return x.float()
    if encoding == "bernoulli":
        with torch.no_grad():
            return bernoulli_encode(x.float(), timesteps, generator).transpose(0, 1)
    raise ValueError(
        f"a {encoding!r}-coded model takes real-valued input; neuromorphic hardware takes spikes "
        "(use bernoulli or event inputs)"
    )


def run_on(executor, spikes: torch.Tensor, batch_size: int = 256, progress: bool = False, desc: str = "replay"):
    """Run ``spikes`` ``[N, T, ...]`` in batches; output spike counts ``[N, K]`` over each window
    (prediction: ``argmax(-1)``, most spikes, ties to the lowest index)."""
    starts = range(0, len(spikes), batch_size)
    return torch.cat(
        [
            executor.run(spikes[start : start + batch_size]).counts
            for start in progress_bar(starts, show=progress, desc=desc, leave=False)
        ]
    )


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
      spike-count vectors (hardware counts over its window, simulation over ``T``).
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
    }
    if sim_counts is not None and hw_counts is not None:
        out["count_l1_clean"] = float((sim_counts[0] - hw_counts[0]).abs().sum(-1).mean())
        out["count_l1_adv"] = float((sim_counts[1] - hw_counts[1]).abs().sum(-1).mean())
    return out


def summarize_draws(draws: list[dict]) -> dict:
    """Mean and spread of every metric of several replays (Bernoulli draws of the same inputs).

    Args:
        draws: one :func:`replay_metrics` dict per draw (same ``n``).

    Returns:
        ``n``, ``draws``, and per metric ``key``: the mean, ``key_std`` (std over draws, 0 for one)
        and ``key_draw_range`` (``[min, max]`` over draws: the spread the input's randomness alone
        gives, next to the Wilson interval over inputs); ``None`` where no draw has the metric.

    Example:
        >>> s = summarize_draws([{"n": 4, "hw_asr": 0.5}, {"n": 4, "hw_asr": 0.75}])
        >>> s["hw_asr"], s["hw_asr_draw_range"]
        (0.625, [0.5, 0.75])
    """
    keys = [k for k in draws[0] if k != "n"]
    summary: dict = {"n": draws[0]["n"], "draws": len(draws)}
    for key in keys:
        values = [d[key] for d in draws if d[key] is not None]
        if not values:
            summary[key], summary[f"{key}_std"], summary[f"{key}_draw_range"] = None, None, None
            continue
        t = torch.tensor(values, dtype=torch.float64)
        summary[key] = float(t.mean())
        summary[f"{key}_std"] = float(t.std(unbiased=False)) if len(values) > 1 else 0.0
        summary[f"{key}_draw_range"] = [float(t.min()), float(t.max())]
    return summary


@torch.no_grad()
def _sim_counts(model: SNN, spikes: torch.Tensor, batch_size: int, device: torch.device) -> torch.Tensor:
    out = [
        model(spikes[i : i + batch_size].transpose(0, 1).float().to(device)).sum(0).cpu()
        for i in range(0, len(spikes), batch_size)
    ]
    return torch.cat(out)


def replay_streams(
    model: SNN,
    streams,
    executor,
    draws: int = 5,
    seed: int = 0,
    batch_size: int = 256,
    progress: bool = True,
    device: str | torch.device = "cpu",
) -> dict:
    """Run the clean and adversarial inputs of ``streams`` in simulation and on ``executor``.

    Event streams replay as they are (one pass). Images are turned into spike trains by the same
    Bernoulli encoder, ``draws`` times (seeds ``seed, seed+1, ...``); simulation and hardware see
    the very same spikes in each draw. Returns :func:`summarize_draws` of :func:`replay_metrics`.
    The simulation runs on ``device`` (the model is moved there); the executor where it was built.
    """
    device = torch.device(device)
    model.to(device)
    n_draws = draws if streams.kind == "images" else 1
    if n_draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    results = []
    for d in range(n_draws):
        gen = torch.Generator().manual_seed(seed + d)
        spikes = [
            hardware_spikes(x, streams.encoding, streams.timesteps, gen) for x in (streams.clean, streams.adversarial)
        ]
        sim = [_sim_counts(model, s, batch_size, device) for s in spikes]
        hw = [run_on(executor, s, batch_size, progress, desc=f"replay draw {d + 1}/{n_draws}") for s in spikes]
        results.append(
            replay_metrics(
                streams.labels,
                streams.targets,
                sim[0].argmax(-1),
                sim[1].argmax(-1),
                hw[0].argmax(-1),
                hw[1].argmax(-1),
                (sim[0], sim[1]),
                (hw[0], hw[1]),
            )
        )
    return summarize_draws(results)
