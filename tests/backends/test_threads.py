"""The emulator's CPU threads: the cores free when a run starts, the previous settings back after."""

import numba
import numpy as np
import pytest
import torch

import backends
from backends.threads import free_cores, thread_budget, usable_cores
from tests.backends import graphs as G


def _proc(tmp_path, running: int, states: str):
    """A fake ``/proc/loadavg`` with ``running`` runnable tasks and ``/proc/self/task`` with one
    thread per letter of ``states`` (``R`` runnable, ``S`` sleeping)."""
    tmp_path.mkdir(parents=True)
    (tmp_path / "loadavg").write_text(f"1.00 0.50 0.25 {running}/300 4242\n")
    tasks = tmp_path / "task"
    for i, state in enumerate(states):
        (tasks / str(100 + i)).mkdir(parents=True)
        (tasks / str(100 + i) / "stat").write_text(f"{100 + i} (py (thread)) {state} 1 2 3\n")
    return str(tmp_path / "loadavg"), str(tasks)


def test_free_cores_leaves_out_other_programs_and_counts_none_of_this_ones_threads(tmp_path):
    cores = usable_cores()
    quiet = _proc(tmp_path / "quiet", running=2, states="RRS")  # both runnable tasks are ours
    assert free_cores(*quiet) == cores
    busy = _proc(tmp_path / "busy", running=1 + cores, states="RS")  # every core taken by others
    assert free_cores(*busy) == 1
    assert free_cores(str(tmp_path / "missing"), quiet[1]) == cores  # no file: all cores


def test_a_run_uses_the_budget_and_gives_the_settings_back():
    before = torch.get_num_threads(), numba.get_num_threads()
    emu = backends.load(G.chain([6, 8, 4], G.if_, scale=2.0), "loihi2", "emulator", threads=1)
    emu.run(G.spikes((6,), batch=4, steps=4))
    assert emu.last_threads == 1
    assert (torch.get_num_threads(), numba.get_num_threads()) == before
    with thread_budget("auto") as n:
        assert 1 <= n <= usable_cores() and torch.get_num_threads() == numba.get_num_threads() == n
    assert (torch.get_num_threads(), numba.get_num_threads()) == before


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "all"])
def test_a_bad_thread_count_is_refused_naming_it(bad):
    with pytest.raises(ValueError, match=f"threads must be 'auto' or a whole number >= 1, got {bad!r}"):
        backends.load(G.chain([6, 4], G.if_), "loihi2", "emulator", threads=bad)
    with pytest.raises(ValueError, match="threads must be"):
        with thread_budget(bad):
            pass


def test_the_program_makes_waiting_threads_sleep_unless_told_otherwise(monkeypatch):
    import os

    import neuroattack.cli
    from neuroattack.launch import main

    monkeypatch.setattr(neuroattack.cli, "main", lambda: np.int64(7))
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert main() == 7
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    main()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
