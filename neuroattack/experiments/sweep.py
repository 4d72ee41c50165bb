"""Sweeps: lists of independent runs (model x attack x settings x backend x profile).

A run (:class:`RunSpec`) crafts adversarial inputs (in float simulation, on a surrogate model for
black-box transfer, or against the quantized hardware twin for hardware-in-the-loop), replays
them on a backend with a hardware profile, and writes one row set into the results store.

- Crafted streams are cached in ``work_dir/streams/<hash of the crafting settings>``, so runs that
  differ only in backend or profile attack once.
- ``run_sweep`` skips every run the store already holds, so a sweep interrupted by Ctrl-C or a
  crash resumes where it stopped; a run is stored only once complete.
- ``executor="local"`` runs in this process; ``executor="ray"`` submits the same runs as Ray tasks
  to whatever cluster ``ray.init(address=...)`` reaches (``pip install neuroattack[distributed]``),
  each task writing its result through the one store (a file all workers reach).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from neuroattack.experiments.store import ResultStore, record_run, run_key
from neuroattack.progress import progress_bar


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep.

    ``craft_on``: ``"sim"`` (the Norse model, or ``surrogate`` for black-box transfer),
    ``"hardware"`` (hardware-in-the-loop against the fixed-point twin on ``profile``) or
    ``"query"`` (a query-only attack, ``square`` or ``boundary``, on the deployment itself).
    ``hw_n``: replay only the first ``hw_n`` inputs (Lava is slow); ``None`` replays all ``n``.
    ``backend="none"``: simulation only, no replay (e.g. an ANN victim, which no backend runs).

    ``checkpoint`` may also be a NIR file (``.nir``, any framework's): then ``dataset`` names the
    data (required), ``encoding``, ``timesteps``, ``dt`` and ``framework`` say how it runs (as
    ``neuroattack attack --graph``), and the file's bytes key the run.

    ``device``: where crafting, the simulation side of the replay and the emulator compute
    (``"cpu"``, ``"cuda"``); a run on another device than the CPU is another run (float rounding
    differs there), so it enters the key.

    Example:
        >>> RunSpec("net.nir", "g2s-rsf", dataset="nmnist-sim", framework="snntorch").graph
        True
    """

    checkpoint: str
    attack: str
    grad: str = "stbp"
    options: dict[str, Any] = field(default_factory=dict)
    backend: str = "emulator"
    profile: str = "loihi2"
    n: int = 100
    hw_n: int | None = None
    draws: int = 3
    surrogate: str | None = None
    craft_on: str = "sim"
    seed: int = 0
    label: str | None = None
    dataset: str | None = None
    encoding: str = "events"
    timesteps: int = 8
    dt: float | None = None
    framework: str | None = None
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.graph and self.dataset is None:
            raise ValueError(f"run on NIR graph {self.checkpoint}: give dataset= (the data to attack)")
        if not self.graph and (self.dataset, self.dt, self.framework) != (None, None, None):
            raise ValueError(f"dataset, dt and framework apply to a .nir checkpoint only, not {self.checkpoint}")
        if self.craft_on not in ("sim", "hardware", "query"):
            raise ValueError(f"craft_on must be 'sim', 'hardware' or 'query', got {self.craft_on!r}")
        if self.craft_on == "hardware" and self.surrogate is not None:
            raise ValueError("a run crafts on the hardware twin or on a surrogate, not both")

    @property
    def graph(self) -> bool:
        """Whether ``checkpoint`` is a NIR file rather than a checkpoint folder."""
        return Path(self.checkpoint).suffix == ".nir"

    @property
    def model(self) -> str:
        return self.label or Path(self.checkpoint).name

    def model_digest(self) -> str:
        """The model's content digest (a checkpoint's files, or the NIR file's bytes)."""
        from neuroattack.fileio import digest_files
        from neuroattack.models.checkpoint import checkpoint_digest

        if self.graph:
            return digest_files([Path(self.checkpoint)], f"NIR graph {self.checkpoint}")
        return checkpoint_digest(self.checkpoint)

    def _graph_settings(self) -> dict[str, Any]:
        """How a NIR file runs, and a device other than the CPU (empty for a checkpoint on the CPU,
        whose config says the rest: keys stay as they were)."""
        out: dict[str, Any] = {} if self.device == "cpu" else {"device": self.device}
        if self.graph:
            keys = ("dataset", "encoding", "timesteps", "dt", "framework")
            out["graph"] = {k: getattr(self, k) for k in keys}
        return out

    def victim(self):
        """The :class:`~neuroattack.victims.victim.Victim` this run attacks."""
        from neuroattack.victims import Victim

        if self.graph:
            return Victim.from_nir(self.checkpoint, self.encoding, self.timesteps, dt=self.dt, framework=self.framework)
        return Victim.from_checkpoint(self.checkpoint)

    def data(self, progress: bool = False):
        """The first ``n`` test samples of the run's dataset."""
        from neuroattack.data.datasets import load_dataset
        from neuroattack.fileio import read_json

        if self.graph:
            dataset, timesteps = self.dataset, self.timesteps
        else:
            config = read_json(Path(self.checkpoint) / "config.json")
            dataset, timesteps = config["dataset"], config["timesteps"]
        return load_dataset(dataset, "test", self.n, timesteps, progress=progress)

    def deployment(self):
        """``(model, executor)``: the float model and the network on ``backend`` with ``profile``."""
        import backends
        from neuroattack.models.checkpoint import load_checkpoint
        from neuroattack.replay import deploy

        if self.graph:
            executor = backends.load(
                self.checkpoint, self.profile, self.backend, dt=self.dt, framework=self.framework, device=self.device
            )
            return self.victim().model, executor
        model, config = load_checkpoint(self.checkpoint)
        return model, deploy(model, self.backend, self.profile, config["timesteps"], device=self.device)

    @property
    def profile_name(self) -> str:
        """The profile's one name (a bundled profile's name, or the ``name`` of a TOML file)."""
        import backends

        return backends.load_profile(self.profile).name

    def settings(self) -> dict[str, Any]:
        """What defines the run besides its labels: the options and, by content, the model, the
        surrogate and the profile (so a retrained model or another file of the same name is
        another run)."""
        from neuroattack.models.checkpoint import checkpoint_digest

        return {
            "model_digest": self.model_digest(),
            "surrogate_digest": None if self.surrogate is None else checkpoint_digest(self.surrogate),
            "profile_digest": self._profile_digest(),
            "options": self.options,
            "n": self.n,
            "hw_n": self.hw_n,
            "draws": self.draws,
            "seed": self.seed,
            "surrogate": None if self.surrogate is None else Path(self.surrogate).name,
            "craft_on": self.craft_on,
            "checkpoint": str(self.checkpoint),
            **self._graph_settings(),
        }

    def key(self) -> str:
        return run_key(self.model, f"{self.attack}/{self.grad}", self.settings(), self.backend, self.profile_name)

    def _profile_digest(self) -> str:
        import backends

        return backends.load_profile(self.profile).digest()

    def craft_key(self) -> str:
        """What determines the crafted streams (not the replay backend, nor the profile unless HIL)."""
        from neuroattack.models.checkpoint import checkpoint_digest

        blob = {
            "model_digest": self.model_digest(),
            "attack": self.attack,
            "grad": self.grad,
            "options": self.options,
            "n": self.n,
            "seed": self.seed,
            "surrogate_digest": None if self.surrogate is None else checkpoint_digest(self.surrogate),
            "craft_on": self.craft_on,
            "profile": self._profile_digest() if self.craft_on == "hardware" else None,
            **self._graph_settings(),
        }
        return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:20]


def craft(spec: RunSpec, work_dir: str | os.PathLike, progress: bool = False) -> tuple[Path, dict]:
    """The adversarial streams of ``spec`` (crafted once, then read from the cache)."""
    from neuroattack.attacks.gradient_runner import run_attack
    from neuroattack.attacks.streams import save_streams
    from neuroattack.fileio import read_json, write_json
    from neuroattack.victims import HardwareSNN, Victim

    out = Path(work_dir) / "streams" / spec.craft_key()
    if (out / "summary.json").is_file():
        return out, read_json(out / "summary.json")
    victim = spec.victim()
    crafter = None
    if spec.surrogate is not None:
        crafter = Victim.from_checkpoint(spec.surrogate)
    elif spec.craft_on == "hardware":
        crafter = Victim(
            HardwareSNN(victim.model, spec.profile, victim.timesteps), victim.encoding, victim.timesteps, victim.loss
        )
    data = spec.data(progress)
    options = {"seed": spec.seed, **spec.options}
    run = run_attack(
        victim, data, spec.attack, spec.grad, options, surrogate=crafter, progress=progress, device=spec.device
    )
    save_streams(out, run.streams)
    write_json(out / "summary.json", run.summary)  # written last: marks the cache entry complete
    return out, run.summary


def execute_run(spec: RunSpec, work_dir: str | os.PathLike, progress: bool = False) -> tuple[dict, dict]:
    """Craft (or reuse), replay on the backend, and return ``(result, artifacts)``."""
    from neuroattack.attacks.streams import load_streams
    from neuroattack.replay import replay_streams

    start = time.perf_counter()
    if spec.craft_on == "query":
        return _execute_query(spec, work_dir, progress, start)
    streams_dir, summary = craft(spec, work_dir, progress)
    sim = {
        k: summary.get(k)
        for k in (
            "asr",
            "asr_interval_95",
            "asr_expected",
            "mean_perturbation",
            "mean_l0",
            "mean_linf",
            "mean_iterations",
            "n_attacked",
            "clean_accuracy",
            "zero_grad_first",
            "mean_rsf_invocations",
            "source_asr",
            "seconds",
        )
        if k in summary
    }
    if spec.backend == "none":
        return {"sim": sim, "seconds": round(time.perf_counter() - start, 2)}, {"streams": str(streams_dir)}
    streams = load_streams(streams_dir)
    if spec.hw_n is not None:
        streams = streams.head(spec.hw_n)
    model, executor = spec.deployment()
    hardware = replay_streams(
        model, streams, executor, draws=spec.draws, seed=spec.seed, progress=progress, device=spec.device
    )
    result = {"sim": sim, "hardware": hardware, "seconds": round(time.perf_counter() - start, 2)}
    return result, {"streams": str(streams_dir)}


def _execute_query(spec: RunSpec, work_dir, progress: bool, start: float) -> tuple[dict, dict]:
    """A query-only attack on the deployment (``backend``/``profile``): its summary is the hardware result."""
    from neuroattack.attacks.query_runner import run_query_attack
    from neuroattack.attacks.streams import save_streams

    _, executor = spec.deployment()
    data = spec.data(progress)
    run = run_query_attack(executor, data, spec.attack, {"seed": spec.seed, **spec.options}, progress=progress)
    out = Path(work_dir) / "query" / spec.key()
    save_streams(out, run.streams)
    s = run.summary
    hardware = {
        "hw_asr": s["asr"],
        "hw_asr_interval_95": s["asr_interval_95"],
        "hw_clean_accuracy": s["clean_accuracy"],
        "n": s["n_total"],
        "n_attacked": s["n_attacked"],
        "mean_perturbation": s["mean_perturbation"],
        "mean_events_added": s["mean_events_added"],
        "mean_events_removed": s["mean_events_removed"],
        "queries_median": s["queries_median"],
        "queries_mean": s["queries_mean"],
        "query_budget": s["query_budget"],
    }
    sim = {"mean_perturbation": s["mean_perturbation"]}
    return {"sim": sim, "hardware": hardware, "seconds": round(time.perf_counter() - start, 2)}, {"streams": str(out)}


def _run_and_store(spec: RunSpec, store_path: str, work_dir: str, single_thread: bool = True) -> str:
    """One run, end to end, its row written to the store. A Ray task runs it single-threaded
    (one CPU per task); the local loop keeps torch's threads."""
    if single_thread:
        torch.set_num_threads(1)
    started = time.time()
    result, artifacts = execute_run(spec, work_dir)
    return record_run(  # the run's key: the same as spec.key(), without digesting the files again
        store_path,
        spec.model,
        f"{spec.attack}/{spec.grad}",
        spec.settings(),
        spec.backend,
        spec.profile_name,
        result,
        artifacts,
        started,
    )


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
