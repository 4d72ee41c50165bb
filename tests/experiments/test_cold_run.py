"""The cold run's child process goes however the bench ends, and its files with it (never a timed
test: processes and files)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from neuroattack.experiments import cold_run

ROOT = Path(__file__).resolve().parents[2]


def _pid_file_child(path) -> str:
    return f"import os, time\nopen({str(path)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)\n"


def _gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:
            with open(f"/proc/{pid}/stat") as f:  # a zombie waiting for its parent is gone too
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def _kill(parent: subprocess.Popen, pid_file: Path) -> None:
    """A failed test leaves neither the parent nor its sleeping child behind."""
    parent.kill()
    parent.wait()
    if pid_file.exists() and pid_file.read_text():
        try:
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_child_is_killed_when_the_wait_fails(tmp_path):
    pid_file = tmp_path / "pid"
    with pytest.raises(subprocess.TimeoutExpired):
        cold_run._run_child(_pid_file_child(pid_file), [], dict(os.environ), timeout=1.5)
    assert _gone(int(pid_file.read_text()), within=0.5)


def test_a_child_that_fails_says_why():
    with pytest.raises(RuntimeError, match="exit 3"):
        cold_run._run_child("import sys\nprint('the reason')\nsys.exit(3)", [], dict(os.environ))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_child_dies_with_a_killed_bench(tmp_path, sig):
    """A bench killed by a signal cannot clean up: its child goes anyway."""
    pid_file = tmp_path / "pid"
    code = (
        "from neuroattack.experiments.cold_run import _run_child\n"
        f"_run_child({_pid_file_child(pid_file)!r}, [], dict(__import__('os').environ))\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        parent.send_signal(sig)
        parent.wait(10)
        assert _gone(int(pid_file.read_text()))
    finally:
        _kill(parent, pid_file)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_a_terminated_cold_run_kills_its_child_and_removes_its_files(tmp_path):
    """SIGTERM during the cold run cleans up as Ctrl-C does: the child killed, the temporary
    folder (graph, spikes, numba's cache) removed, the bench exiting 128 + 15."""
    pid_file, temp = tmp_path / "pid", tmp_path / "temp"
    temp.mkdir()
    code = (
        "import neuroattack.experiments.cold_run as b\n"
        "from tests.backends import graphs as G\n"
        f"b._COLD_CHILD = {_pid_file_child(pid_file)!r}\n"
        "b.emulator_cold(G.conv(scale=6.0, pool='sum'), G.spikes((2, 8, 8), batch=2), 'loihi2', 2)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(temp)}
    parent = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(list(temp.iterdir())) == 1  # the cold run's folder, while it runs
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(10) == 128 + signal.SIGTERM
        assert _gone(int(pid_file.read_text()), within=0.5)
        assert list(temp.iterdir()) == []
    finally:
        _kill(parent, pid_file)
