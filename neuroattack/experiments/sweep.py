"""Sweeps: lists of independent runs (model x attack x settings x backend x profile).

A run (:class:`~neuroattack.experiments.pipeline.RunSpec`) goes through the run pipeline
(:mod:`neuroattack.experiments.pipeline`, the same the command line uses): it crafts adversarial
inputs (in float simulation, on a surrogate model for black-box transfer, against the quantized
hardware twin for hardware-in-the-loop, or by querying the deployment), replays them on a backend
with a hardware profile, and writes one row set into the results store.

- Crafted streams are cached in ``work_dir/streams/<hash of the crafting settings>``, so runs that
  differ only in backend or profile attack once.
- ``run_sweep`` skips every run the store already holds, so a sweep interrupted by Ctrl-C, a
  SIGTERM or a crash resumes where it stopped; a run is stored only once complete. SIGTERM and
  SIGINT abandon the run in flight (nothing of it is stored) and end the sweep with one line
  (:class:`SweepStopped`).
- ``executor="local"`` runs in this process. ``executor="ray"`` submits the same runs as Ray tasks
  to whatever cluster ``ray.init(address=...)`` reaches (``pip install neuroattack[distributed]``),
  needing no disk the driver and the workers share: a task receives the files the run reads (the
  checkpoint's or NIR file's bytes, a surrogate's, a profile file's, and streams the driver has
  already crafted), runs in a temporary folder of its own, and returns its result and crafted
  streams; only the driver writes the store and its work folder. A task whose worker dies is
  retried by Ray (``max_retries``) and stored once. Datasets are rebuilt by the worker from their
  name (``data_root``, where a run sets one, must exist on every worker).
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import tarfile
import tempfile
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import torch

from backends.signals import handling
from neuroattack.experiments.pipeline import RunSpec, execute_run, record
from neuroattack.experiments.run_record import RunResult
from neuroattack.experiments.store import ResultStore, record_run
from neuroattack.fileio import read_json, write_json
from neuroattack.progress import progress_bar

#: the files of a checkpoint folder a run reads
CHECKPOINT_FILES = ("config.json", "model.pt", "metrics.json")


class SweepStopped(BaseException):
    """A SIGTERM or SIGINT ended the sweep; the run in flight was abandoned, every finished run is stored.

    A ``BaseException``, as ``KeyboardInterrupt`` is: raised from a signal handler wherever the
    run happens to be, it must pass the ``except Exception`` of the code it interrupts.

    Attributes:
        signum: the signal's number (the process exits with ``128 + signum``).
        done: runs finished and stored before it.
        pending: runs not finished (a rerun resumes them).

    Example:
        >>> str(SweepStopped(15, 3, 9))
        'sweep stopped by SIGTERM: 3 runs stored, 9 left (run it again to resume)'
    """

    def __init__(self, signum: int, done: int = 0, pending: int = 0):
        self.signum, self.done, self.pending = signum, done, pending
        name = signal.Signals(signum).name
        super().__init__(f"sweep stopped by {name}: {done} runs stored, {pending} left (run it again to resume)")


@contextmanager
def _signals_stop_the_sweep():
    """SIGTERM and SIGINT raise :class:`SweepStopped` in the main thread while the sweep runs."""

    def handler(signum, frame):
        raise SweepStopped(signum)

    with handling((signal.SIGTERM, signal.SIGINT), handler):
        yield


def _run_and_store(spec: RunSpec, store_path: str, work_dir: str, single_thread: bool = True) -> str:
    """One run, end to end, its row written to the store. The local loop keeps torch's threads."""
    if single_thread:
        torch.set_num_threads(1)
    started = time.time()
    result, artifacts = execute_run(spec, work_dir)
    return record_run(store_path, record(spec, result, artifacts, started))


def _pack(folder: Path) -> bytes:
    """A folder's files as an uncompressed tar archive in memory."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=str(path.relative_to(folder)))
    return buffer.getvalue()


def _unpack(blob: bytes, folder: Path) -> None:
    """Write the archive's files into ``folder`` as one step: a temporary sibling renamed into place
    (a folder already complete is kept)."""
    if folder.is_dir():
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r") as tar:
            tar.extractall(tmp, filter="data")
        os.rename(tmp, folder)
    except OSError:
        if not folder.is_dir():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _files(spec: RunSpec, work_dir: Path) -> dict:
    """What a task needs from the driver's disk: ``{"checkpoint", "surrogate", "profile", "streams"}``
    (file name -> bytes, a profile file's bytes, the already crafted streams as an archive)."""

    def folder(path):
        return {n: (Path(path) / n).read_bytes() for n in CHECKPOINT_FILES if (Path(path) / n).is_file()}

    checkpoint = (
        {Path(spec.checkpoint).name: Path(spec.checkpoint).read_bytes()} if spec.graph else folder(spec.checkpoint)
    )
    profile = None
    if Path(spec.profile).is_file():  # sent resolved: the files it extends stay on the driver
        import backends

        profile = backends.load_profile(spec.profile).to_toml().encode()
    cached = work_dir / ("query" if spec.craft_on == "query" else "streams") / spec.craft_key()
    return {
        "checkpoint": checkpoint,
        "surrogate": folder(spec.surrogate) if spec.surrogate else None,
        "profile": profile,
        "streams": _pack(cached) if (cached / "summary.json").is_file() else None,
    }


def run_task(spec_json: dict, files: dict) -> tuple[dict, bytes, dict]:
    """A Ray task: one run in a temporary folder of its own, from the files the driver sent.

    Args:
        spec_json: the run's :meth:`RunSpec.to_json` (paths as the driver knows them).
        files: :func:`_files`: the checkpoint's (or NIR file's), the surrogate's and the profile
            file's bytes, and the streams the driver crafted already.

    Returns:
        ``(result JSON, the crafted streams as a tar archive, where it ran)``; the driver stores
        them.

    Example:
        >>> ray.remote(run_task).remote(spec.to_json(), _files(spec, work))  # doctest: +SKIP
    """
    torch.set_num_threads(1)  # one CPU a task
    spec = RunSpec.from_json(spec_json)
    with tempfile.TemporaryDirectory(prefix="neuroattack-task-") as tmp:
        root = Path(tmp)
        model = root / "model"
        model.mkdir()
        for name, blob in files["checkpoint"].items():
            (model / name).write_bytes(blob)
        local = {"checkpoint": str(model / next(iter(files["checkpoint"]))) if spec.graph else str(model)}
        if files["surrogate"] is not None:
            (root / "surrogate").mkdir()
            for name, blob in files["surrogate"].items():
                (root / "surrogate" / name).write_bytes(blob)
            local["surrogate"] = str(root / "surrogate")
        if files["profile"] is not None:
            (root / "profile.toml").write_bytes(files["profile"])
            local["profile"] = str(root / "profile.toml")
        spec = replace(spec, **local)
        work = root / "work"
        streams = work / ("query" if spec.craft_on == "query" else "streams") / spec.craft_key()
        if files["streams"] is not None:
            _unpack(files["streams"], streams)
        result, artifacts = execute_run(spec, work)
        # what the driver keeps names its paths, not this task's
        driver = RunSpec.from_json(spec_json)
        paths = {local[k]: getattr(driver, k) for k in local}
        folder = Path(artifacts["streams"])
        for name in ("run_spec.json", "summary.json"):  # summary.json last: it marks the folder complete
            if (folder / name).is_file():
                write_json(folder / name, _renamed(read_json(folder / name), paths))
        where = {"host": socket.gethostname(), "pid": os.getpid(), "folder": tmp, "checkpoint": spec.checkpoint}
        return _renamed(result.to_json(), paths), _pack(folder), where


def _renamed(data, paths: dict[str, str]):
    """``data`` (JSON) with every string equal to a key of ``paths`` replaced by its value."""
    if isinstance(data, dict):
        return {k: _renamed(v, paths) for k, v in data.items()}
    if isinstance(data, list):
        return [_renamed(v, paths) for v in data]
    return paths.get(data, data) if isinstance(data, str) else data


def run_sweep(
    specs: list[RunSpec],
    store_path: str | os.PathLike,
    work_dir: str | os.PathLike,
    executor: str = "local",
    address: str | None = None,
    progress: bool = True,
    max_retries: int = 3,
) -> dict[str, int]:
    """Run every spec the store does not hold yet; returns ``{"done": ..., "skipped": ...}``.

    Args:
        specs: the runs.
        store_path: the results store (only this process writes it).
        work_dir: the crafted streams' cache (only this process writes it).
        executor: ``"local"`` or ``"ray"`` (see the module docstring).
        address: the Ray cluster (``ray.init(address=...)``) when Ray is not initialised yet.
        progress: a progress bar (on a terminal) as runs finish.
        max_retries: Ray's retries of a task whose worker died.

    Raises:
        SweepStopped: a SIGTERM or SIGINT (every finished run stored; rerun to resume).
        ValueError: an unknown executor, Ray missing, or a run a worker cannot be sent.

    Example:
        >>> run_sweep([RunSpec("runs/models/digits", "fgsm")], "runs/r.sqlite", "runs/work")  # doctest: +SKIP
        {'done': 1, 'skipped': 0}
    """
    store_path, work_dir = str(Path(store_path).resolve()), str(Path(work_dir).resolve())
    with ResultStore(store_path) as store:
        pending = [s for s in specs if not store.has(s.key())]
    skipped = len(specs) - len(pending)
    if executor not in ("local", "ray"):
        raise ValueError(f"executor must be 'local' or 'ray', got {executor!r}")
    done = 0
    with _signals_stop_the_sweep():
        try:
            if executor == "local":
                for spec in progress_bar(pending, desc="sweep", show=progress):
                    _run_and_store(spec, store_path, work_dir, single_thread=False)
                    done += 1
            else:
                done = _ray_sweep(pending, store_path, Path(work_dir), address, progress, max_retries)
        except SweepStopped as stop:
            raise SweepStopped(stop.signum, done, len(pending) - done) from None
    return {"done": len(pending), "skipped": skipped}


def _ray_sweep(pending, store_path: str, work_dir: Path, address, progress: bool, max_retries: int) -> int:
    try:
        import ray
    except ImportError as err:
        raise ValueError("executor 'ray' needs Ray: pip install 'neuroattack[distributed]'") from err
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
    task = ray.remote(num_cpus=1, max_retries=max_retries)(run_task)
    futures = {}
    for spec in pending:
        futures[task.remote(spec.to_json(), _files(spec, work_dir))] = (spec, time.time())
    bar = progress_bar(total=len(futures), desc="sweep (ray)", show=progress)
    done = 0
    try:
        waiting = list(futures)
        while waiting:
            ready, waiting = ray.wait(waiting, num_returns=1)
            spec, started = futures[ready[0]]
            result, streams, _ = ray.get(ready[0])
            folder = work_dir / ("query" if spec.craft_on == "query" else "streams") / spec.craft_key()
            _unpack(streams, folder)
            record_run(store_path, record(spec, RunResult.from_json(result), {"streams": str(folder)}, started))
            done += 1
            bar.update(1)
    except SweepStopped as stop:
        for ref in futures:
            ray.cancel(ref, force=True)
        raise SweepStopped(stop.signum, done, len(pending) - done) from None
    finally:
        bar.close()
    return done
