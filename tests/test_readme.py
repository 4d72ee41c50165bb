"""The README's "What is where" matches the tree: every module is named there, every name exists."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _layout_block() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## What is where", 1)[1]
    return section.split("```", 2)[1]


def test_what_is_where_names_every_module_and_nothing_else():
    block = _layout_block()
    named = set(re.findall(r"\b([a-z_0-9]+\.py)\b", block))
    modules = {
        p.name
        for pkg in ("neuroattack", "backends", "tests")
        for p in (ROOT / pkg).rglob("*.py")
        if p.name != "__init__.py"
    }
    package_modules = {m for m in modules if not m.startswith("test") and m not in ("conftest.py", "helpers.py")}
    assert package_modules - named == set(), "modules missing from README's What is where"
    assert named - modules == set(), "README names modules that do not exist"
    for folder in re.findall(r"^\s*([a-z_]+)/", block, flags=re.M):
        assert any(p.is_dir() for p in ROOT.rglob(folder) if ".venv" not in p.parts), folder


def test_the_recurrent_example_runs_and_lava_agrees():
    """The README's hand-built recurrent network runs as printed: emulator and Lava agree."""
    text = (ROOT / "README.md").read_text()
    code = text.split("A recurrent network, built by hand", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # its own assert compares every population
    assert scope["emu"].layers[0].sum() > 0 and scope["lava"].window.shape == scope["emu"].window.shape


def _results_commands() -> list[str]:
    """Every command README's results quote: in code blocks, and in backticks (headings, prose)."""
    readme = (ROOT / "README.md").read_text()
    results = readme[readme.index("## Results") :]
    quoted = []
    for block in re.findall(r"```\n(.*?)```", results, flags=re.S):
        quoted += block.replace("\\\n", " ").splitlines()
    quoted += re.findall(r"`((?:neuroattack |python scripts/)[^`]+)`", results)  # not file names
    starts = ("neuroattack ", "python scripts/", "scripts/")
    return [" ".join(c.split("  #")[0].split()) for c in quoted if c.strip().startswith(starts)]


def test_every_results_command_is_in_reproduce_sh():
    """scripts/reproduce.sh says it makes every figure README quotes: each quoted command is in it."""
    script = (ROOT / "scripts" / "reproduce.sh").read_text().replace("\\\n", " ")
    lines = [
        " ".join(line.split()).replace("$NA ", "neuroattack ").replace("$PY ", "python ")
        for line in script.splitlines()
    ]
    commands = _results_commands()
    assert len(commands) >= 15  # the parse found the results' commands
    missing = [c for c in commands if not any(c in line for line in lines)]
    assert missing == [], "README results commands missing from scripts/reproduce.sh"
