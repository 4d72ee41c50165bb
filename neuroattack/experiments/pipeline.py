"""The run pipeline: craft -> streams -> replay -> record, one library for the CLI and for sweeps.

A run is a :class:`RunSpec`: a model (a checkpoint folder or a NIR file), an attack with its
options, where it is crafted (in simulation, on a surrogate, against the fixed-point twin, or by
querying the deployment), and the deployment it is replayed on (backend and hardware profile).

- :func:`craft` attacks and writes the streams folder (``streams.h5``, ``clean_events.npz`` for
  event files, ``run_spec.json``, and ``summary.json`` last: its presence marks the folder
  complete). ``neuroattack attack`` calls it with ``--out``; a sweep with a cache folder named by
  :meth:`RunSpec.craft_key`, so runs that differ only in the deployment attack once.
- :func:`replay` runs the streams on the run's backend and profile.
- :func:`execute_run` is both; :func:`record` makes the store's
  :class:`~neuroattack.experiments.run_record.RunRecord`.

:meth:`RunSpec.key` is the one key function: ``neuroattack replay --store`` rebuilds the spec from
the streams folder's ``run_spec.json`` and stores under the key a sweep of the same run uses. Keys
depend on content only: the digests of the model, surrogate and profile files, the attack's options
with their defaults left out, sizes, seeds and the backend; never a folder's name or path.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neuroattack.attacks.attack_summary import AttackSummary
from neuroattack.experiments.run_record import RunRecord, RunResult
from neuroattack.replay_metrics import ReplayMetrics

SPEC_FILE = "run_spec.json"
SUMMARY_FILE = "summary.json"
STREAMS_FOLDER_FILES = frozenset(
    {"streams.h5", "streams.nir.h5", "clean_events.npz", SPEC_FILE, SUMMARY_FILE, "replay.json"}
)
"""What a streams folder may hold: an existing folder holding anything else is not replaced."""


def attack_defaults(attack: str) -> dict[str, Any]:
    """The default of every keyword option ``attack`` takes (its own and those every attack of its
    family shares, e.g. ``targeted``, ``eot``).

    Example:
        >>> attack_defaults("pgd")["steps"], attack_defaults("pgd")["eot"]
        (7, 1)
    """
    from neuroattack.attacks.base import Attack
    from neuroattack.attacks.registry import ATTACKS, QUERY_ATTACKS, option_specs

    cls = {**ATTACKS, **QUERY_ATTACKS}[attack]
    out = {o.name: o.default for o in option_specs(cls)}
    if attack in ATTACKS:
        for name, param in inspect.signature(Attack.__init__).parameters.items():
            if param.default is not inspect.Parameter.empty:
                out.setdefault(name, param.default)
    return out


def canonical_options(attack: str, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` without the entries that equal their defaults (and without empty
    ``grad_options``), so a run keys the same whether a default was written out or not.

    Example:
        >>> canonical_options("pgd", {"eps": 0.1, "steps": 7, "eot": 1, "grad_options": {}})
        {'eps': 0.1}
    """
    defaults = attack_defaults(attack)
    return {
        k: v
        for k, v in options.items()
        if not (k in defaults and v == defaults[k]) and not (k == "grad_options" and not v)
    }


@dataclass(frozen=True)
class RunSpec:
    """One run: a model, an attack, where it is crafted, and the deployment it is replayed on.

    Args:
        checkpoint: a checkpoint folder, or a NIR file (``.nir``, any framework's; then
            ``dataset`` is required and ``encoding``, ``timesteps``, ``dt``, ``framework``, ``reset``
            say how it runs, as ``neuroattack attack --graph``).
        attack: the attack's name (``g2s-rsf``, ``pgd``, ..., or a query attack: ``square``).
        grad: the gradient estimator (``stbp``, ``hart``, ...; ``none`` for a query attack).
        options: the attack's keyword options (its own and the shared ``targeted``, ``eot``,
            ``eval_draws``, ``penultimate_threshold``, ``loss``, ``grad_options``).
        backend: ``emulator``, ``lava``, ``reference``, or ``none`` (simulation only, e.g. an
            ANN victim, which no backend runs).
        profile: the hardware profile (a bundled name or a TOML path).
        n: the first ``n`` samples of ``split`` are attacked (``None``: the whole split).
        hw_n: replay only the first ``hw_n`` inputs (Lava is slow); ``None``: all.
        draws: Bernoulli draws of image streams in the replay.
        surrogate: a checkpoint to craft on (black-box transfer).
        craft_on: ``"sim"`` (the model, or ``surrogate``), ``"hardware"`` (hardware-in-the-loop
            against the fixed-point twin on ``profile``) or ``"query"`` (a query attack on the
            deployment itself).
        seed: the attack's seed (and the replay's draws unless ``replay_seed``).
        replay_seed: the seed of the replay's Bernoulli draws, where it differs from ``seed``.
        batch_size: samples per attack call.
        label: the model's name in reports (default: the file or folder name); not in the key.
        dataset, encoding, timesteps, dt, framework: how a NIR file runs (see ``checkpoint``).
        reset: a NIR file's reset, ``"zero"`` or ``"subtract"`` (``None``: the framework's default,
            else zero; :func:`backends.resolve_reset`).
        readout: for a NIR file whose output is a non-spiking readout (LI/CubaLI), the rule its
            membrane is scored by (``None``: ``"max"``; :mod:`backends.readout`).
        device: where crafting, the simulation side of the replay and the emulator compute; a run
            on another device than the CPU is another run (float rounding differs there).
        data_root: the folder the dataset is read from (default: ``$NEUROATTACK_DATA``); not in
            the key (the data is named by the dataset).
        split: the dataset split attacked (``test``; ``train`` or ``val`` e.g. for a folder that
            holds only the training recordings: then the figures are on the model's training data).

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
    n: int | None = 100
    hw_n: int | None = None
    draws: int = 3
    surrogate: str | None = None
    craft_on: str = "sim"
    seed: int = 0
    replay_seed: int | None = None
    batch_size: int = 64
    label: str | None = None
    dataset: str | None = None
    encoding: str = "events"
    timesteps: int = 8
    dt: float | None = None
    framework: str | None = None
    reset: str | None = None
    readout: str | None = None
    device: str = "cpu"
    data_root: str | None = None
    split: str = "test"

    def __post_init__(self) -> None:
        if self.graph and self.dataset is None:
            raise ValueError(f"run on NIR graph {self.checkpoint}: give dataset= (the data to attack)")
        if not self.graph and (self.dataset, self.dt, self.framework, self.reset, self.readout) != (None,) * 5:
            raise ValueError(
                f"dataset, dt, framework, reset and readout apply to a .nir checkpoint only, not {self.checkpoint}"
            )
        if self.craft_on not in ("sim", "hardware", "query"):
            raise ValueError(f"craft_on must be 'sim', 'hardware' or 'query', got {self.craft_on!r}")
        if self.split not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {self.split!r}")
        if self.craft_on == "hardware" and self.surrogate is not None:
            raise ValueError("a run crafts on the hardware twin or on a surrogate, not both")

    def to_json(self) -> dict[str, Any]:
        """The spec as JSON (what ``run_spec.json`` holds)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "run spec") -> RunSpec:
        """The spec of :meth:`to_json`.

        Raises:
            ValueError: not an object, or a field this version does not know (naming ``source``).
        """
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected a JSON object, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"{source}: unknown field(s) {', '.join(unknown)}")
        return cls(**data)

    @property
    def graph(self) -> bool:
        """Whether ``checkpoint`` is a NIR file rather than a checkpoint folder."""
        return Path(self.checkpoint).suffix == ".nir"

    @property
    def model(self) -> str:
        """The model's label in the store and reports."""
        return self.label or Path(self.checkpoint).name

    @property
    def attack_name(self) -> str:
        """``"<attack>/<estimator>"``, as the store names it."""
        return f"{self.attack}/{self.grad}"

    def model_digest(self) -> str:
        """The model's content digest (a checkpoint's files, or the NIR file's bytes)."""
        from neuroattack.fileio import digest_files
        from neuroattack.models.checkpoint import checkpoint_digest

        if self.graph:  # the bytes only: the same graph under two file names is one model
            return digest_files([Path(self.checkpoint)], f"NIR graph {self.checkpoint}", names=False)
        return checkpoint_digest(self.checkpoint)

    def _surrogate_digest(self) -> str | None:
        from neuroattack.models.checkpoint import checkpoint_digest

        return None if self.surrogate is None else checkpoint_digest(self.surrogate)

    def _profile_digest(self) -> str:
        import backends

        return backends.load_profile(self.profile).digest()

    @property
    def profile_name(self) -> str:
        """The profile's one name (a bundled profile's name, or the ``name`` of a TOML file)."""
        import backends

        return backends.load_profile(self.profile).name

    def _crafting(self) -> dict[str, Any]:
        """What determines the crafted streams (not the replay backend, nor the profile unless the
        attack ran against it)."""
        out: dict[str, Any] = {
            "model_digest": self.model_digest(),
            "attack": self.attack,
            "grad": self.grad,
            "options": canonical_options(self.attack, self.options),
            "n": self.n,
            "split": self.split,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "surrogate_digest": self._surrogate_digest(),
            "craft_on": self.craft_on,
            "crafted_against": self._profile_digest() if self.craft_on in ("hardware", "query") else None,
            "crafted_on_backend": self.backend if self.craft_on == "query" else None,
        }
        if self.device != "cpu":
            out["device"] = self.device
        if self.graph:
            out["graph"] = {k: getattr(self, k) for k in ("dataset", "encoding", "timesteps", "dt", "framework")}
            reset = self._reset()
            if reset != "zero":  # zero-reset keys stay as they were before the choice existed
                out["graph"]["reset"] = reset
            if self.readout not in (None, "max"):  # likewise the default rule
                out["graph"]["readout"] = self.readout
        return out

    def _reset(self) -> str:
        """The reset the run's graph is read with, as far as the spec says (the file's own
        ``metadata["reset"]`` is part of its digest)."""
        from backends.reset import FRAMEWORK_RESET

        return self.reset or FRAMEWORK_RESET.get(str(self.framework).lower(), "zero")

    def settings(self) -> dict[str, Any]:
        """What defines the run besides its labels: the crafting (by content) and the replay."""
        return {
            **self._crafting(),
            "backend": self.backend,
            "profile_digest": self._profile_digest(),
            "hw_n": self.hw_n,
            "draws": self.draws,
            "replay_seed": self.replay_seed,
        }

    def key(self) -> str:
        """The run's key: SHA-256 of the canonical JSON of :meth:`settings` (content only)."""
        return _digest(self.settings())

    def craft_key(self) -> str:
        """The key of the crafted streams (shared by runs that differ only in the deployment)."""
        return _digest(self._crafting())[:20]

    def victim(self):
        """The :class:`~neuroattack.victims.victim.Victim` this run attacks."""
        from neuroattack.victims import Victim

        if self.graph:
            return Victim.from_nir(
                self.checkpoint,
                self.encoding,
                self.timesteps,
                dt=self.dt,
                framework=self.framework,
                reset=self.reset,
                readout=self.readout or "max",
            )
        return Victim.from_checkpoint(self.checkpoint)

    def data(self, progress: bool = False):
        """The first ``n`` samples of the run's dataset split."""
        from neuroattack.data.datasets import load_dataset
        from neuroattack.fileio import read_json

        if self.graph:
            dataset, timesteps = self.dataset, self.timesteps
        else:
            config = read_json(Path(self.checkpoint) / "config.json")
            dataset, timesteps = config["dataset"], config["timesteps"]
        return load_dataset(dataset, self.split, self.n, timesteps, progress=progress, root=self.data_root)

    def deployment(self):
        """``(model, executor)``: the float model and the network on ``backend`` with ``profile``."""
        import backends
        from neuroattack.models.checkpoint import load_checkpoint
        from neuroattack.replay import deploy

        if self.graph:
            executor = backends.load(
                self.checkpoint,
                self.profile,
                self.backend,
                dt=self.dt,
                framework=self.framework,
                device=self.device,
                reset=self.reset,
                readout=self.readout or "max",
            )
            return self.victim().model, executor
        model, config = load_checkpoint(self.checkpoint)
        return model, deploy(model, self.backend, self.profile, config["timesteps"], device=self.device)


def _digest(blob: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()


def craft(spec: RunSpec, out: str | os.PathLike, progress: bool = False) -> AttackSummary:
    """Attack as ``spec`` says and write the streams folder ``out`` (see the module docstring).

    Args:
        spec: the run.
        out: the streams folder, written as one transaction (:func:`~neuroattack.fileio.atomic_dir`):
            a process killed while writing leaves the old folder as it was or the new one complete
            (with ``summary.json``), never new streams beside an old summary or another run's files.
        progress: show progress bars (on a terminal).

    Returns:
        the attack's :class:`~neuroattack.attacks.attack_summary.AttackSummary`, labelled with the
        model, surrogate and dataset.

    Example:
        >>> craft(RunSpec("runs/models/nmnist-sim", "g2s-rsf", n=100), "runs/attacks/g2s")  # doctest: +SKIP
    """
    from neuroattack.attacks.gradient_runner import run_attack
    from neuroattack.attacks.query_runner import run_query_attack
    from neuroattack.attacks.streams import save_clean_events, save_streams
    from neuroattack.fileio import atomic_dir, check_replaceable, check_writable, fault_point, write_json
    from neuroattack.victims import HardwareSNN, Victim

    out = Path(out)
    check_writable(out)  # before any work
    check_replaceable(out, STREAMS_FOLDER_FILES)
    data = spec.data(progress)
    options = {"seed": spec.seed, **spec.options}
    if spec.craft_on == "query":
        _, executor = spec.deployment()
        run = run_query_attack(executor, data, spec.attack, options, spec.batch_size, progress=progress)
    else:
        victim = spec.victim()
        crafter = None
        if spec.surrogate is not None:
            crafter = Victim.from_checkpoint(spec.surrogate)
        elif spec.craft_on == "hardware":
            twin = HardwareSNN(victim.model, spec.profile, victim.timesteps)
            crafter = Victim(twin, victim.encoding, victim.timesteps, victim.loss)
        run = run_attack(
            victim, data, spec.attack, spec.grad, options, spec.batch_size, crafter, progress, device=spec.device
        )
    summary = run.summary
    summary.checkpoint = None if spec.graph else str(spec.checkpoint)
    summary.graph = str(spec.checkpoint) if spec.graph else None
    summary.surrogate = spec.surrogate
    with atomic_dir(out, STREAMS_FOLDER_FILES) as tmp:
        save_streams(tmp, run.streams)
        if run.events is not None:
            save_clean_events(tmp, run.events, data.sensor_size)
        write_json(tmp / SPEC_FILE, spec.to_json())
        fault_point("streams-before-summary")
        write_json(tmp / SUMMARY_FILE, summary.to_json())  # a complete folder has summary.json
    return summary


def read_spec(streams_dir: str | os.PathLike) -> RunSpec:
    """The :class:`RunSpec` a streams folder was crafted by (its ``run_spec.json``).

    Raises:
        ValueError: the folder has no ``run_spec.json`` (streams written by something else, or by
            an older neuroattack), or it is malformed; the message names the file.
    """
    from neuroattack.fileio import read_json

    path = Path(streams_dir) / SPEC_FILE
    if not path.is_file():
        raise ValueError(f"{path}: no such file: these streams do not say how they were crafted (attack them again)")
    return RunSpec.from_json(read_json(path), str(path))


def read_summary(streams_dir: str | os.PathLike) -> AttackSummary:
    """The :class:`~neuroattack.attacks.attack_summary.AttackSummary` of a streams folder.

    Raises:
        ValueError: no ``summary.json`` (the attack did not finish), or a malformed one (naming the file).
    """
    from neuroattack.fileio import read_json

    path = Path(streams_dir) / SUMMARY_FILE
    if not path.is_file():
        raise ValueError(f"{path}: no such file: the attack that writes these streams did not finish")
    try:
        return AttackSummary.from_json(read_json(path))
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from err


def replay(spec: RunSpec, streams_dir: str | os.PathLike, progress: bool = False) -> ReplayMetrics | None:
    """Replay the streams in ``streams_dir`` on ``spec``'s backend and profile.

    Returns:
        the :class:`~neuroattack.replay_metrics.ReplayMetrics`, or ``None`` for ``backend="none"``.

    Example:
        >>> spec = RunSpec("runs/models/nmnist-sim", "g2s-rsf", backend="lava", hw_n=20)
        >>> replay(spec, "runs/attacks/g2s")  # doctest: +SKIP
    """
    from neuroattack.attacks.streams import load_streams
    from neuroattack.replay import replay_streams

    if spec.backend == "none":
        return None
    streams = load_streams(streams_dir)
    if spec.hw_n is not None:
        streams = streams.head(spec.hw_n)
    model, executor = spec.deployment()
    seed = spec.seed if spec.replay_seed is None else spec.replay_seed
    return replay_streams(model, streams, executor, draws=spec.draws, seed=seed, progress=progress, device=spec.device)


def execute_run(spec: RunSpec, work_dir: str | os.PathLike, progress: bool = False) -> tuple[RunResult, dict]:
    """Craft (or reuse the cached streams in ``work_dir``), replay, and return ``(result, artifacts)``.

    A query attack's figures are measured on the deployment it queried: they are its hardware
    result, and no replay follows.

    Example:
        >>> result, artifacts = execute_run(RunSpec("runs/models/nmnist-sim", "g2s-rsf"), "runs/work")  # doctest: +SKIP
    """
    start = time.perf_counter()
    out = Path(work_dir) / ("query" if spec.craft_on == "query" else "streams") / spec.craft_key()
    if (out / SUMMARY_FILE).is_file():
        summary = read_summary(out)
    else:
        summary = craft(spec, out, progress)
    if spec.craft_on == "query":
        hardware = ReplayMetrics(
            n=summary.n_total,
            hw_clean_accuracy=summary.clean_accuracy,
            hw_asr=summary.asr,
            hw_asr_interval_95=summary.asr_interval_95,
        )
    else:
        hardware = replay(spec, out, progress)
    return RunResult(summary, hardware, round(time.perf_counter() - start, 2)), {"streams": str(out)}


def record(spec: RunSpec, result: RunResult, artifacts: dict, started: float | None = None) -> RunRecord:
    """The store's :class:`~neuroattack.experiments.run_record.RunRecord` of ``spec``'s run.

    Example:
        >>> record_run("runs/results.sqlite", record(spec, *execute_run(spec, "runs/work")))  # doctest: +SKIP
    """
    settings = spec.settings()  # digests the model's files once: the key is computed from these
    return RunRecord(
        _digest(settings),
        spec.model,
        spec.attack_name,
        settings,
        spec.backend,
        spec.profile_name,
        result,
        artifacts,
        started,
        time.time(),
    )
