"""Running a trained model and its (adversarial) inputs on a backend.

``deploy`` exports a Norse SNN to NIR (validated) and loads it on ``lava``, ``emulator`` or
``reference`` with a hardware profile; ``hardware_spikes`` turns dataset samples into the binary
spike trains hardware consumes: event frames as they are, images as Bernoulli draws (the same
encoder as in simulation, from a seeded generator); ``predict_on`` runs them in batches with a
progress bar.
"""

from __future__ import annotations

import os

import nir
import torch
from tqdm.auto import tqdm

import backends
from neuroattack.encoding import bernoulli_encode
from neuroattack.export import to_nir, validate_export
from neuroattack.models.snn import SNN


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
    """Run ``spikes`` ``[N, T, ...]`` in batches; ``(predictions [N], counts [N, K], window [N, P, K])``."""
    preds, counts, windows = [], [], []
    starts = range(0, len(spikes), batch_size)
    for start in tqdm(starts, disable=not progress, desc=desc, leave=False):
        result = executor.run(spikes[start : start + batch_size])
        preds.append(result.prediction)
        counts.append(result.counts)
        windows.append(result.window)
    return torch.cat(preds), torch.cat(counts), torch.cat(windows)
