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
from neuroattack.decision import decide
from neuroattack.encoding import bernoulli_encode
from neuroattack.export import to_nir, validate_export
from neuroattack.models.snn import SNN
from neuroattack.progress import progress_bar
from neuroattack.replay_metrics import ReplayMetrics, replay_metrics, summarize_draws


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
    """Run ``spikes`` ``[N, T, ...]`` in batches; the output's scores ``[N, K]`` over each window: spike
    counts, or a non-spiking readout's rule over its membrane (``RunResult.scores``; prediction:
    :func:`~neuroattack.decision.decide`, the highest score, a tie or silence no decision)."""
    starts = range(0, len(spikes), batch_size)
    return torch.cat(
        [
            executor.run(spikes[start : start + batch_size]).scores
            for start in progress_bar(starts, show=progress, desc=desc, leave=False)
        ]
    )


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
) -> ReplayMetrics:
    """Run the clean and adversarial inputs of ``streams`` in simulation and on ``executor``.

    Event streams replay as they are (one pass). Images are turned into spike trains by the same
    Bernoulli encoder, ``draws`` times (seeds ``seed, seed+1, ...``); simulation and hardware see
    the very same spikes in each draw. Returns the
    :class:`~neuroattack.replay_metrics.ReplayMetrics` of the draws.
    The simulation runs on ``device`` (the model is moved there); the executor where it was built.
    """
    streams.check_fits(model.num_classes, model.input_shape)  # before anything runs
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
                decide(sim[0]),
                decide(sim[1]),
                decide(hw[0]),
                decide(hw[1]),
                (sim[0], sim[1]),
                (hw[0], hw[1]),
            )
        )
    return summarize_draws(results)
