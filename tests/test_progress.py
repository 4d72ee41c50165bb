"""Quiet output: what a user reads when a command runs in a log, a pipe or a terminal."""

import subprocess
import sys
from pathlib import Path

from neuroattack.progress import progress_bar

ROOT = Path(__file__).resolve().parents[1]


def test_a_bar_is_drawn_only_on_a_terminal(capsys):
    assert list(progress_bar(range(5), True, desc="off a terminal")) == [0, 1, 2, 3, 4]
    bar = progress_bar(range(5), True)
    assert bar.disable  # pytest's captured stderr is not a terminal: no carriage returns in logs
    assert capsys.readouterr().err == ""
    assert progress_bar(range(5), False).disable


def test_help_and_norse_import_print_no_warning():
    """norse 1.1 under torch 2.14 warns that torch.jit.script is deprecated at import; nothing a
    user can act on, so no command prints it, and no warnings filter outlives the import."""
    code = (
        "import warnings, sys\n"
        "import neuroattack.models, neuroattack.victims, neuroattack.export\n"
        "from neuroattack.cli import main\n"
        "kept = [f for f in warnings.filters if f[1] is not None and 'deprecated' in f[1].pattern]\n"
        "assert not kept, f'a filter outlived the import: {kept}'\n"
        "sys.exit(main(['--help']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "usage: neuroattack" in out.stdout and out.stderr == ""
    # the warning is real: importing Norse outside that module prints it
    raw = subprocess.run(
        [sys.executable, "-c", "import norse.torch"], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert "torch.jit.script` is deprecated" in raw.stderr
