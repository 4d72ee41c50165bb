"""A sweep on a real Ray cluster that shares no folder with the driver.

A head node and a second worker node are started as separate processes (``ray start --block``),
each in a working directory of its own; the driver (a process of its own too) keeps the store and
the work folder in its folder. The tasks receive the model's and the profile's bytes, run in
temporary folders of their own and return results and streams; only the driver writes. A worker
process is killed in the middle of a task: Ray retries it, and it is stored once. The rows equal
the local executor's.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from neuroattack.experiments.pipeline import RunSpec
from neuroattack.experiments.store import ResultStore
from neuroattack.experiments.sweep import run_sweep

pytest.importorskip("ray", reason="the distributed extra (pip install .[distributed]) is not installed")
RAY = Path(sys.executable).with_name("ray")
ROOT = Path(__file__).resolve().parents[2]

DRIVER = textwrap.dedent(
    """
    import json, os, subprocess, sys, threading, time
    from pathlib import Path
    import ray
    from neuroattack.experiments.pipeline import RunSpec
    from neuroattack.experiments.sweep import _files, run_sweep, run_task

    address, specs_json, store, work = sys.argv[1:5]
    specs = [RunSpec.from_json(s) for s in json.loads(specs_json)]
    ray.init(address=address, log_to_driver=False, logging_level="ERROR")
    deadline = time.time() + 60
    while sum(n["Alive"] for n in ray.nodes()) < 2 and time.time() < deadline:
        time.sleep(0.2)
    nodes = sum(n["Alive"] for n in ray.nodes())
    _, _, where = ray.get(ray.remote(run_task).remote(specs[1].to_json(), _files(specs[1], Path(work))))
    killed, stop = [], threading.Event()

    def kill_one():  # SIGKILL the first worker process seen running a task, inside the run
        while not stop.is_set() and not killed:
            ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
            for line in ps.splitlines():
                pid, _, args = line.strip().partition(" ")
                if args.startswith("ray::run_task"):
                    time.sleep(0.3)
                    try:
                        os.kill(int(pid), 9)
                        killed.append(int(pid))
                    except ProcessLookupError:
                        continue
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one)
    killer.start()
    started = time.time()
    try:
        counts = run_sweep(specs, store, work, executor="ray", progress=False)
    finally:
        stop.set()
        killer.join()
    print(json.dumps({"nodes": nodes, "where": where, "killed": killed, "counts": counts,
                      "seconds": time.time() - started}))
    """
)


def _figures(row) -> dict:
    """A stored run's result without its wall times."""
    data = row.result.to_json()
    return {k: ({f: x for f, x in v.items() if f != "seconds"} if isinstance(v, dict) else v)
            for k, v in data.items() if k != "seconds"}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(name: str, args: list, folder: Path, env: dict) -> subprocess.Popen:
    """``ray start --block`` in ``folder``, returned once it says it is up."""
    folder.mkdir()
    log = folder / "ray.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(RAY), "start", "--block", "--num-cpus=1", *args], cwd=folder, env=env, stdout=out, stderr=out
        )
    deadline = time.time() + 60
    while "block forever" not in log.read_text() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    if "block forever" not in log.read_text():
        proc.kill()
        raise AssertionError(f"ray {name} did not start: {log.read_text()[-2000:]}")
    return proc


def test_a_sweep_on_a_cluster_without_a_shared_folder_equals_the_local_sweep(tmp_path, digits_checkpoint):
    driver = tmp_path / "driver"
    driver.mkdir()
    profile_file = driver / "mine.toml"
    profile_file.write_text('extends = "loihi2"\n[weights]\nmantissa_bits = 5\n')  # resolved on the driver
    common = {"grad": "stbp", "backend": "emulator", "n": 12, "draws": 2}
    specs = [
        RunSpec(str(digits_checkpoint), "fgsm", options={"eps": eps, "eval_draws": 2}, profile=profile, **common)
        for eps in (0.05, 0.1)
        for profile in ("loihi2", str(profile_file))
    ]
    env = dict(os.environ, RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0")
    port = _free_port()
    nodes = []
    short = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay under 108 bytes
    try:
        head = ["--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={short}"]
        nodes.append(_start("head", head, tmp_path / "head", env))
        nodes.append(_start("worker", [f"--address=127.0.0.1:{port}"], tmp_path / "worker", env))
        store, work = driver / "cluster.sqlite", driver / "work"
        args = [f"127.0.0.1:{port}", json.dumps([s.to_json() for s in specs]), str(store), str(work)]
        done = subprocess.run(
            [sys.executable, "-c", DRIVER, *args], cwd=driver, env=env, capture_output=True, text=True, timeout=240
        )
    finally:
        for proc in reversed(nodes):
            proc.terminate()
        for proc in reversed(nodes):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(short, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["nodes"] == 2 and out["counts"] == {"done": 4, "skipped": 0}
    # a task ran from the bytes it was sent, in a folder of its own (gone after), not from the driver's paths
    assert not out["where"]["folder"].startswith(str(driver)) and not Path(out["where"]["folder"]).exists()
    assert out["where"]["checkpoint"] != str(digits_checkpoint)
    assert out["killed"], "no task was running to kill"

    local = driver / "local.sqlite"
    assert run_sweep(specs, local, driver / "local-work", progress=False) == {"done": 4, "skipped": 0}
    with ResultStore(store) as a, ResultStore(local) as b:
        cluster_rows, local_rows = a.runs(), b.runs()
    assert len({r.key for r in cluster_rows}) == len(cluster_rows) == 4  # the killed task stored once
    assert {r.key: _figures(r) for r in cluster_rows} == {r.key: _figures(r) for r in local_rows}
    assert {r.profile for r in cluster_rows} == {"loihi2", "mine"}
