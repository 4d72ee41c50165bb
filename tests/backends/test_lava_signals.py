"""SIGINT and SIGTERM during a Lava run stop the runtime and every worker, then exit with one line."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.backends.processes import alive, descendants

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import sys
    import backends
    from backends.lava import Interrupted
    from tests.backends import graphs as G

    g = G.chain([6, 8, 4], G.if_, bias=0.1)
    x = G.spikes((6,), batch=2000, steps=4)
    try:
        backends.load(g, "loihi2", "lava").run(x)  # minutes: the signal comes long before the end
    except Interrupted as err:
        print(err, flush=True)
        sys.exit(128 + err.signum)
    """
)


@pytest.mark.serial  # /dev/shm is machine-wide: another worker's Lava run would show there
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_lava_and_leaves_no_process_or_shared_memory(sig):
    shm = set(os.listdir("/dev/shm"))
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    workers: set[int] = set()
    deadline = time.time() + 120
    while len(workers) < 3 and time.time() < deadline and proc.poll() is None:  # the runtime is up
        time.sleep(0.5)
        workers = descendants(proc.pid)
    assert len(workers) >= 3, "Lava's workers never started"
    time.sleep(1.0)
    workers |= descendants(proc.pid)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err[-2000:]
    assert out.strip() == f"Lava run interrupted by {sig.name}; the runtime and its workers were stopped"
    time.sleep(1.0)
    left = {pid for pid in workers if alive(pid)}
    assert not left, f"Lava workers left behind: {sorted(left)}"
    assert set(os.listdir("/dev/shm")) <= shm
