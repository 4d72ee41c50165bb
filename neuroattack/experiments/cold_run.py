"""The emulator's cold run: a fresh Python process, its numba cache empty, runs the samples from
nothing (imports and kernel compilation included)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from backends.signals import handling


def tile_samples(spikes: torch.Tensor, n: int) -> torch.Tensor:
    """The first ``n`` samples of ``spikes`` ``[N, ...]``, repeated from the start where ``N < n``:
    the samples of a run of ``n`` (the cold run's, and the bench's other runs of the same samples).

    Example:
        >>> tile_samples(torch.arange(3), 5)
        tensor([0, 1, 2, 0, 1])
    """
    if len(spikes) >= n:
        return spikes[:n]
    return spikes.repeat(-(-n // len(spikes)), *([1] * (spikes.dim() - 1)))[:n]


# Run first in a child process: it dies with the bench (Linux's PR_SET_PDEATHSIG, and a check that the
# bench had not already gone), even when the bench is killed and cannot clean up.
_DIE_WITH_PARENT = """import ctypes, os, signal
try:
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)
except (AttributeError, OSError):
    pass
if os.getppid() != int(os.environ["NEUROATTACK_BENCH_PARENT"]):
    os._exit(1)
"""

# The cold run's child: its clock starts before its first import (numba's cache counted before that).
_COLD_CHILD = """import os, sys, time
cache_files = sum(len(files) for _, _, files in os.walk(os.environ["NUMBA_CACHE_DIR"]))
t0 = time.perf_counter()
from neuroattack.experiments.cold_run import _cold_child
_cold_child(t0, cache_files, sys.argv[1])
"""


def _run_child(code: str, args: list[str], env: dict[str, str], timeout: float | None = None) -> str:
    """Run ``code`` in a fresh Python process (``python -c``); its output, or an error with it.

    The child is killed if anything interrupts the wait (an error, ``KeyboardInterrupt``, the
    ``timeout``) and dies with this process if that is killed (:data:`_DIE_WITH_PARENT`).
    """
    env = {**env, "NEUROATTACK_BENCH_PARENT": str(os.getpid())}
    cmd = [sys.executable, "-c", _DIE_WITH_PARENT + code, *args]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"the child process failed (exit {proc.returncode}):\n{out[-4000:]}")
    return out


@contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """In the main thread, ``SIGTERM`` raises ``SystemExit`` for the duration, so that cleanup (a
    child killed, temporary files removed) runs as on ``Ctrl-C``; elsewhere nothing changes."""
    import signal

    def leave(signum, frame):
        raise SystemExit(128 + signum)

    with handling((signal.SIGTERM,), leave):
        yield


def _cold_child(t0: float, cache_files: int, request: str) -> None:
    """The cold run's own process (:func:`emulator_cold`): load the emulator and run the samples
    from nothing, then write the result where ``request`` (a JSON file) says. The seconds exclude
    reading the graph and the spikes from their files (a run in memory is given them)."""
    import backends

    req = json.loads(Path(request).read_text())
    t_read = time.perf_counter()
    graph = backends.read_graph(req["graph"])
    with np.load(req["spikes"], allow_pickle=False) as data:
        spikes = torch.as_tensor(data["spikes"])
    reading = time.perf_counter() - t_read
    how = {"reset": req["reset"], "readout": req["readout"], "batch_size": req["batch_size"]}
    emu = backends.load(graph, req["profile"], "emulator", req["dt"], req["framework"], device=req["device"], **how)
    emu.run(spikes)  # results come back on the CPU: the device's work is done
    seconds = time.perf_counter() - t0 - reading
    result = {
        "pid": os.getpid(),
        "seconds": seconds,
        "samples": len(spikes),
        "read_seconds": reading,
        "numba_cache_files_at_start": cache_files,
        "numba_cache_files_at_end": sum(len(f) for _, _, f in os.walk(os.environ["NUMBA_CACHE_DIR"])),
    }
    Path(req["result"]).write_text(json.dumps(result))


def _import_roots() -> list[str]:
    """Where ``backends`` and ``neuroattack`` are imported from (a child's ``PYTHONPATH``)."""
    import backends
    import neuroattack

    return list(dict.fromkeys(str(Path(m.__file__).resolve().parents[1]) for m in (backends, neuroattack)))


def emulator_cold(
    graph,
    spikes: torch.Tensor,
    profile,
    samples: int,
    batch_size: int = 256,
    device="cpu",
    dt: float | None = None,
    framework: str | None = None,
    reset: str | None = None,
    readout: str = "max",
    timeout: float | None = None,
) -> dict[str, Any]:
    """The emulator cold: a fresh Python process with an empty numba cache runs ``samples`` from nothing.

    Imports, lowering, quantization, kernel compilation and the run of the samples, all included;
    only reading the graph and the spikes from the temporary files that carry them to the process is
    not (in this process they are in memory). The files and the cache go when it ends, or when this
    process is interrupted or terminated (``SIGTERM`` exits it meanwhile); the child is killed then,
    and dies with this process if it is killed outright.

    Args:
        graph: the NIR graph (``nir.NIRGraph`` or a path).
        spikes: binary input ``[N, T, *in_shape]``; its first ``samples`` (repeated where ``N`` is
            smaller) are run.
        profile: the hardware profile (name, path or profile).
        samples: samples to run (the bench: Lava's cold run's).
        batch_size, device, dt, framework, reset, readout: as :func:`backends.load` takes them.
        timeout: most seconds to wait (``None``: no limit).

    Returns:
        ``seconds``, ``samples``, ``pid`` (the process's), ``read_seconds`` (left out of ``seconds``),
        ``numba_cache_files_at_start`` (0: nothing compiled before) and ``numba_cache_files_at_end``.

    Raises:
        RuntimeError: the process failed (its output in the message).
        subprocess.TimeoutExpired: it ran past ``timeout``.

    Example:
        >>> emulator_cold("net.nir", spikes, "loihi2", 100)["seconds"]  # doctest: +SKIP
    """
    import nir

    import backends
    from backends.profile import HardwareProfile

    with _sigterm_as_exit(), tempfile.TemporaryDirectory(prefix="neuroattack-cold-") as tmp:
        folder = Path(tmp)
        cache = folder / "numba-cache"
        cache.mkdir()
        nir.write(folder / "graph.nir", backends.read_graph(graph))
        np.savez(folder / "spikes.npz", spikes=tile_samples(spikes, samples).cpu().numpy())
        if isinstance(profile, HardwareProfile):
            (folder / "profile.toml").write_text(profile.to_toml())
            profile = folder / "profile.toml"
        request = {
            "graph": str(folder / "graph.nir"),
            "spikes": str(folder / "spikes.npz"),
            "result": str(folder / "result.json"),
            "profile": None if profile is None else str(profile),
            "device": str(device),
            "batch_size": batch_size,
            "dt": dt,
            "framework": framework,
            "reset": reset,
            "readout": readout,
        }
        (folder / "request.json").write_text(json.dumps(request))
        path = os.pathsep.join([*_import_roots(), *filter(None, [os.environ.get("PYTHONPATH")])])
        env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": path}
        _run_child(_COLD_CHILD, [str(folder / "request.json")], env, timeout)
        return json.loads((folder / "result.json").read_text())
