"""Sweeps: lists of independent runs (model x attack x settings x backend x profile).

A run (:class:`~neuroattack.experiments.pipeline.RunSpec`) goes through the run pipeline
(:mod:`neuroattack.experiments.pipeline`, the same the command line uses): it crafts adversarial
inputs (in float simulation, on a surrogate model for black-box transfer, against the quantized
hardware twin for hardware-in-the-loop, or by querying the deployment), replays them on a backend
with a hardware profile, and writes one row set into the results store.

- Crafted streams are cached in ``work_dir/streams/<hash of the crafting settings>``, so runs that
  differ only in backend or profile attack once.
- ``run_sweep`` skips every run the store already holds, so a sweep interrupted by Ctrl-C or a
  crash resumes where it stopped; a run is stored only once complete.
- ``executor="local"`` runs in this process; ``executor="ray"`` submits the same runs as Ray tasks
  to whatever cluster ``ray.init(address=...)`` reaches (``pip install neuroattack[distributed]``),
  each task writing its result through the one store (a file all workers reach).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

from neuroattack.experiments.pipeline import RunSpec, execute_run, record
from neuroattack.experiments.store import ResultStore, record_run
from neuroattack.progress import progress_bar


def _run_and_store(spec: RunSpec, store_path: str, work_dir: str, single_thread: bool = True) -> str:
    """One run, end to end, its row written to the store. A Ray task runs it single-threaded
    (one CPU per task); the local loop keeps torch's threads."""
    if single_thread:
        torch.set_num_threads(1)
    started = time.time()
    result, artifacts = execute_run(spec, work_dir)
    return record_run(store_path, record(spec, result, artifacts, started))


def run_sweep(
    specs: list[RunSpec],
    store_path: str | os.PathLike,
    work_dir: str | os.PathLike,
    executor: str = "local",
    address: str | None = None,
    progress: bool = True,
) -> dict[str, int]:
    """Run every spec the store does not hold yet; returns ``{"done": ..., "skipped": ...}``."""
    store_path, work_dir = str(Path(store_path).resolve()), str(Path(work_dir).resolve())
    with ResultStore(store_path) as store:
        pending = [s for s in specs if not store.has(s.key())]
    skipped = len(specs) - len(pending)
    if executor == "local":
        for spec in progress_bar(pending, desc="sweep", show=progress):
            _run_and_store(spec, store_path, work_dir, single_thread=False)
        return {"done": len(pending), "skipped": skipped}
    if executor != "ray":
        raise ValueError(f"executor must be 'local' or 'ray', got {executor!r}")
    try:
        import ray
    except ImportError as err:
        raise ValueError("executor 'ray' needs Ray: pip install 'neuroattack[distributed]'") from err
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, ignore_reinit_error=True)
    task = ray.remote(num_cpus=1)(_run_and_store)
    futures = [task.remote(spec, store_path, work_dir) for spec in pending]
    bar = progress_bar(total=len(futures), desc="sweep (ray)", show=progress)
    while futures:
        ready, futures = ray.wait(futures, num_returns=1)
        ray.get(ready)
        bar.update(len(ready))
    bar.close()
    return {"done": len(pending), "skipped": skipped}
