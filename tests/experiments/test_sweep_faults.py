"""Fault injection: a sweep of real runs killed again and again (SIGKILL, SIGTERM) at random points
loses no finished run, repeats nothing but the run in flight, and leaves a store that passes
SQLite's integrity check; a SIGTERM ends it with one line and exit status 143.

The sweep runs in a subprocess over real tiny runs (FGSM on the digits checkpoint, 8 inputs, each
crafting its own streams and replaying them on the emulator), logging each run's start and its
stored key. The test kills it at a random moment after a random run has started, restarts it,
and repeats until a restart finishes the sweep by itself. The figures ``N_RUNS`` and
``MIN_KILLS`` are the ones docs/reliability.md states (a test reads them there).
"""

import random
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from neuroattack.experiments.store import ResultStore

ROOT = Path(__file__).resolve().parents[2]
N_RUNS = 24
MIN_KILLS = 3  # of each signal

SCRIPT = textwrap.dedent(
    """
    import os, sys
    from neuroattack.experiments import sweep
    from neuroattack.experiments.pipeline import RunSpec
    from neuroattack.experiments.sweep import SweepStopped, run_sweep

    checkpoint, store, work, log = sys.argv[1:5]
    real_run, real_store = sweep.execute_run, sweep._run_and_store

    def logged_run(spec, work_dir, progress=False):
        with open(log, "a") as f:  # the start, on disk before the work
            f.write(f"start {spec.key()}\\n"); f.flush(); os.fsync(f.fileno())
        return real_run(spec, work_dir, progress)

    def logged(spec, store_path, work_dir, single_thread=True):
        key = real_store(spec, store_path, work_dir, single_thread)
        with open(log, "a") as f:
            f.write(f"done {key}\\n"); f.flush(); os.fsync(f.fileno())
        return key

    sweep.execute_run, sweep._run_and_store = logged_run, logged
    specs = [RunSpec(checkpoint, "fgsm", "stbp", {"eps": 0.02 * (i + 1)}, "emulator", "loihi2", n=8)
             for i in range(N_RUNS)]
    try:
        print(run_sweep(specs, store, work, progress=False), flush=True)
    except SweepStopped as stop:
        print(stop, file=sys.stderr)
        sys.exit(128 + stop.signum)
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
    finished, sigterm_lines = False, 0
    for attempt in range(60):
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen = len(_log(log))
        target = seen + rng.randint(1, 2)  # kill after a few more log lines: at a random run
        deadline = time.time() + 120
        while proc.poll() is None and len(_log(log)) < target and time.time() < deadline:
            time.sleep(0.01)
        if proc.poll() is None:
            time.sleep(rng.uniform(0.0, 0.2))  # somewhere inside the run, or inside its store write
        if proc.poll() is None and min(kills.values()) < MIN_KILLS:  # then a restart finishes it
            sig = signal.SIGKILL if attempt % 2 == 0 else signal.SIGTERM
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=60)
            kills[sig] += 1
            if sig == signal.SIGTERM and proc.returncode != -signal.SIGTERM:  # not before the handler was set
                assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
                assert err.strip().splitlines()[-1].startswith("sweep stopped by SIGTERM: "), err[-2000:]
                sigterm_lines += 1
            continue
        out, err = proc.communicate()
        assert proc.returncode == 0, err[-2000:]
        finished = True
        break
    assert finished, "the sweep never completed"
    assert kills[signal.SIGKILL] >= MIN_KILLS and kills[signal.SIGTERM] >= MIN_KILLS, kills
    assert sigterm_lines >= 1  # a SIGTERM during the sweep: one line, exit 143

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


def test_the_figures_docs_state_are_this_tests():
    text = " ".join((ROOT / "docs" / "reliability.md").read_text().split())
    stated = re.search(r"a sweep of (\d+) real runs killed at least (\d+) times by each of SIGKILL and SIGTERM", text)
    assert stated, "docs/reliability.md no longer states the fault test's figures"
    assert (int(stated.group(1)), int(stated.group(2))) == (N_RUNS, MIN_KILLS)
