"""A user's first training, from nothing: wall time and peak memory, as JSON.

Runs ``neuroattack train --dataset nmnist-sim --epochs 1`` (the default 512FC-10FC network,
T = 8) in a fresh process whose nmnist-sim cache (``$NEUROATTACK_CACHE``) and numba kernel
cache (``$NUMBA_CACHE_DIR``) are new, empty folders: it simulates the 70,000 recordings of the
three splits, bins them, trains one epoch and evaluates. Reports the wall time, the process's
peak resident memory (``ru_maxrss`` of the child), the accuracies, and the load average before
and after (a busy machine is slower: say so beside the figure).

    python scripts/first_run.py --out runs/bench/first_run.json [--epochs 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from neuroattack.fileio import write_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the JSON report")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args(argv)
    program = Path(sys.executable).with_name("neuroattack")
    with tempfile.TemporaryDirectory(prefix="first-run-") as tmp:
        env = {**os.environ, "NEUROATTACK_CACHE": f"{tmp}/cache", "NUMBA_CACHE_DIR": f"{tmp}/numba"}
        model = Path(tmp) / "model"
        command = [str(program), "train", "--dataset", "nmnist-sim", "--epochs", str(args.epochs), "--out", str(model)]
        load_before = os.getloadavg()
        start = time.perf_counter()
        done = subprocess.run(command, env=env, check=False)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            print(f"first run failed: {' '.join(command)} exited {done.returncode}", file=sys.stderr)
            return done.returncode
        metrics = json.loads((model / "metrics.json").read_text())
    report = {
        "command": "neuroattack train --dataset nmnist-sim --epochs " + str(args.epochs),
        "caches": "empty nmnist-sim cache and numba kernel cache",
        "wall_seconds": round(wall, 1),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6, 3),
        "train_seconds": metrics["train_seconds"],
        "test_accuracy": metrics["test_accuracy"],
        "val_accuracy": metrics["val_accuracy"],
        "cpus": os.cpu_count(),
        "load_average_1min": {"before": load_before[0], "after": os.getloadavg()[0]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, report)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
