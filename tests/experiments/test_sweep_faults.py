"""Fault injection: a sweep killed again and again (SIGKILL, SIGTERM) at random points loses no
finished run, repeats nothing but the run in flight, and leaves a store that passes SQLite's
integrity check.

The sweep runs in a subprocess over cheap runs (``execute_run`` replaced by a short sleep that
returns a result; everything else, the store writes included, is the real code), logging each
run's start and its stored key. The test kills it at a random moment after a random run has
started, restarts it, and repeats until a restart finishes the sweep by itself.
"""

import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from neuroattack.experiments.store import ResultStore

ROOT = Path(__file__).resolve().parents[2]
N_RUNS = 24  # enough runs that a restart seldom finishes before both signals have struck three times

SCRIPT = textwrap.dedent(
    """
    import os, random, sys, time
    from neuroattack.experiments import sweep
    from neuroattack.experiments.pipeline import RunSpec
    from neuroattack.experiments.run_record import RunResult
    from neuroattack.experiments.sweep import run_sweep

    checkpoint, store, work, log = sys.argv[1:5]

    def fake_run(spec, work_dir, progress=False):
        with open(log, "a") as f:  # the start, on disk before the work
            f.write(f"start {spec.key()}\\n"); f.flush(); os.fsync(f.fileno())
        time.sleep(random.uniform(0.05, 0.25))
        return RunResult(None, None, 0.0), {}

    real_store = sweep._run_and_store

    def logged(spec, store_path, work_dir, single_thread=True):
        key = real_store(spec, store_path, work_dir, single_thread)
        with open(log, "a") as f:
            f.write(f"done {key}\\n"); f.flush(); os.fsync(f.fileno())
        return key

    sweep.execute_run = fake_run
    sweep._run_and_store = logged
    specs = [RunSpec(checkpoint, "fgsm", "stbp", {"eps": 0.01 * (i + 1)}, "emulator", "loihi2", n=4)
             for i in range(N_RUNS)]
    print(run_sweep(specs, store, work, progress=False), flush=True)
    """
).replace("N_RUNS", str(N_RUNS))


def _log(path: Path) -> list[tuple[str, str]]:
    if not path.is_file():
        return []
    return [tuple(line.split()) for line in path.read_text().splitlines() if line.strip()]


def test_a_sweep_killed_at_random_points_loses_and_repeats_nothing(tmp_path, digits_checkpoint):
    rng = random.Random(0)
    store, work, log = tmp_path / "r.sqlite", tmp_path / "work", tmp_path / "log.txt"
    argv = [sys.executable, "-c", SCRIPT, str(digits_checkpoint), str(store), str(work), str(log)]
    kills = {signal.SIGKILL: 0, signal.SIGTERM: 0}
    finished = False
    for attempt in range(60):
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen = len(_log(log))
        target = seen + rng.randint(1, 4)  # kill after a few more log lines: at a random run
        deadline = time.time() + 120
        while proc.poll() is None and len(_log(log)) < target and time.time() < deadline:
            time.sleep(0.01)
        if proc.poll() is None:
            time.sleep(rng.uniform(0.0, 0.2))  # somewhere inside the run, or inside its store write
        if proc.poll() is None:
            sig = signal.SIGKILL if attempt % 2 == 0 else signal.SIGTERM
            proc.send_signal(sig)
            proc.wait(timeout=60)
            kills[sig] += 1
            continue
        out, err = proc.communicate()
        assert proc.returncode == 0, err[-2000:]
        finished = True
        break
    assert finished, "the sweep never completed"
    assert kills[signal.SIGKILL] >= 3 and kills[signal.SIGTERM] >= 3, kills

    with sqlite3.connect(store) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with ResultStore(store) as rs:
        rows = rs.runs()
    keys = [r.key for r in rows]
    assert len(keys) == len(set(keys)) == N_RUNS  # every run stored, once

    events = _log(log)
    starts: dict[str, int] = {}
    done: set[str] = set()
    for kind, key in events:
        if kind == "start":
            assert key not in done, "a finished run was started again"
            starts[key] = starts.get(key, 0) + 1
        else:
            done.add(key)
    repeats = sum(c - 1 for c in starts.values())
    assert repeats <= sum(kills.values())  # at most the run in flight, once per kill
    assert set(starts) == set(keys)
    print(
        f"\nfault injection: {sum(kills.values())} kills ({kills[signal.SIGKILL]} SIGKILL, "
        f"{kills[signal.SIGTERM]} SIGTERM), {N_RUNS} runs stored once, {repeats} runs repeated (in flight)"
    )
