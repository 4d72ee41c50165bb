"""The package's layering and import hygiene: what a newcomer (and any user of ``backends``
alone) relies on. Each check runs in a fresh interpreter, so nothing imported by other tests hides
an import-time side effect."""

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _fresh(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_backends_never_imports_neuroattack():
    """An import-linter contract: ``backends`` knows NIR, numpy, torch and Lava, nothing of attacks."""
    files = sorted((ROOT / "backends").rglob("*.py"))
    assert len(files) >= 5  # the check read the package
    offenders = {
        str(f.relative_to(ROOT)): sorted(m for m in _imported_modules(f) if m.split(".")[0] == "neuroattack")
        for f in files
    }
    assert {f: m for f, m in offenders.items() if m} == {}
    loaded = _fresh(
        "import json, sys, backends; backends.load_profile('loihi2');"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'neuroattack')))"
    )
    assert loaded == []


def test_importing_changes_nothing_outside():
    """Importing every package neither starts Lava, nor fixes the multiprocessing start method, nor
    rewrites Norse; building a cell with this project's surrogate installs it, explicitly."""
    state = _fresh(
        "import json, sys, multiprocessing\n"
        "import norse.torch.functional.lif_box as lb, norse.torch.functional.threshold as th\n"
        "import backends, neuroattack, neuroattack.attacks, neuroattack.victims, neuroattack.cli\n"
        "import neuroattack.data, neuroattack.replay, neuroattack.models.snn\n"
        "import neuroattack.experiments.sweep, neuroattack.experiments.report\n"
        "before = {'lava': sorted(m for m in sys.modules if m.split('.')[0] == 'lava'),\n"
        "          'start_method': multiprocessing.get_start_method(allow_none=True),\n"
        "          'norse_threshold_untouched': lb.threshold is th.threshold}\n"
        "from neuroattack.models.neurons import NeuronConfig\n"
        "NeuronConfig(surrogate='rect').build()\n"
        "before['installed_after_build'] = lb.threshold is not th.threshold\n"
        "print(json.dumps(before))"
    )
    assert state == {"lava": [], "start_method": None, "norse_threshold_untouched": True, "installed_after_build": True}
