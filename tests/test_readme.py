"""README.md and docs/ stay true to the tree and the code: the layout names every module, the examples
run, every results command is in scripts/reproduce.sh, the demo's table header is the code's, links
resolve, and README stays short."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README_MAX_LINES = 250


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _section(text: str, heading: str) -> str:
    """The text under ``heading`` (a whole heading line) up to the next heading of its level or above
    (lines in code blocks are not headings)."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = text.split(heading + "\n", 1)[1].splitlines(keepends=True)
    fenced = False
    for i, line in enumerate(lines):
        fenced ^= line.startswith("```")
        if not fenced and re.match(rf"#{{1,{level}}} ", line):
            return "".join(lines[:i])
    return "".join(lines)


def _layout_block() -> str:
    section = _section(_read(ROOT / "README.md"), "## What is where")
    return section.split("```", 2)[1]


def test_what_is_where_names_every_module_and_nothing_else():
    block = _layout_block()
    named = set(re.findall(r"\b([a-z_0-9]+\.py)\b", block))
    modules = {
        p.name
        for pkg in ("neuroattack", "backends", "hw_configs", "tests")
        for p in (ROOT / pkg).rglob("*.py")
        if p.name != "__init__.py"
    }
    package_modules = {m for m in modules if not m.startswith("test") and m not in ("conftest.py", "helpers.py")}
    assert package_modules - named == set(), "modules missing from README's What is where"
    assert named - modules == set(), "README names modules that do not exist"
    for folder in re.findall(r"^\s*([a-z_]+)/", block, flags=re.M):
        assert any(p.is_dir() for p in ROOT.rglob(folder) if ".venv" not in p.parts), folder


def test_the_recurrent_example_runs_and_lava_agrees():
    """docs/backends.md's hand-built recurrent network runs as printed: emulator and Lava agree."""
    text = _read(DOCS / "backends.md")
    code = text.split("A recurrent network, built by hand", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    scope: dict = {}
    exec(compile(code, "docs/backends.md", "exec"), scope)  # its own assert compares every population
    assert scope["emu"].layers[0].sum() > 0 and scope["lava"].window.shape == scope["emu"].window.shape


def _results_text() -> str:
    """Where figures are quoted: README's quick start, docs/results.md, and the backends' speed."""
    readme = _section(_read(ROOT / "README.md"), "## Quick start")
    backends = _read(DOCS / "backends.md")
    speed = backends[backends.index("## Backend speed") :]
    return "\n".join([readme, _read(DOCS / "results.md"), speed])


def _results_commands() -> list[str]:
    """Every command the results quote: in code blocks, and in backticks (headings, prose)."""
    results = _results_text()
    quoted = []
    for block in re.findall(r"```\n(.*?)```", results, flags=re.S):
        quoted += block.replace("\\\n", " ").splitlines()
    quoted += re.findall(r"`((?:neuroattack |python scripts/)[^`]+)`", results)  # not file names
    starts = ("neuroattack ", "python scripts/", "scripts/")
    return [" ".join(c.split("  #")[0].split()) for c in quoted if c.strip().startswith(starts)]


def test_every_results_command_is_in_reproduce_sh():
    """scripts/reproduce.sh says it makes every figure the docs quote: each quoted command is in it."""
    script = _read(ROOT / "scripts" / "reproduce.sh").replace("\\\n", " ")
    lines = [
        " ".join(line.split()).replace("$NA ", "neuroattack ").replace("$PY ", "python ")
        for line in script.splitlines()
    ]
    commands = _results_commands()
    assert len(commands) >= 15  # the parse found the results' commands
    missing = [c for c in commands if not any(c in line for line in lines)]
    assert missing == [], "results commands missing from scripts/reproduce.sh"


def _columns(line: str) -> list[str]:
    return re.split(r" {2,}", line.strip())


def test_the_quick_start_table_has_the_demos_columns(tmp_path):
    """README's quick-start table is what `make demo` prints: its header is the one the code writes."""
    from neuroattack.experiments.report import summary_table
    from neuroattack.experiments.store import ResultStore

    store = tmp_path / "empty.sqlite"
    ResultStore(store).close()
    code_header, code_rule = summary_table(store).splitlines()[:2]  # no runs: just the columns
    code_columns = _columns(code_header)

    quick_start = _section(_read(ROOT / "README.md"), "## Quick start")
    tables = [b for b in re.findall(r"```\n(.*?)```", quick_start, flags=re.S) if "----" in b]
    assert len(tables) == 1, "README's quick start quotes one demo table"
    header, rule, *rest = tables[0].splitlines()
    assert _columns(header) == code_columns, "README's demo table header is not the code's"
    assert set(rule) == set(code_rule) == {"-"} and len(rule) == len(header.rstrip())
    rows = [line for line in (rest + [""])[: (rest + [""]).index("")]]  # up to the first blank line
    assert rows and all(len(_columns(row)) == len(code_columns) for row in rows), "rows out of step"


def test_readme_stays_short():
    lines = _read(ROOT / "README.md").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines: move detail to docs/"


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_links_between_readme_and_docs_resolve():
    """Every relative link in README.md and docs/ names a file that exists, and an anchor it has."""
    pages = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    assert {p.name for p in pages} >= {
        "backends.md",
        "attacks.md",
        "data.md",
        "results.md",
        "reliability.md",
        "extending.md",
    }
    broken = []
    for page in pages:
        text = re.sub(r"```.*?```", "", _read(page), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # an external address
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                broken.append(f"{page.name}: {target}")
            elif anchor:
                headings = re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", _read(dest), flags=re.S), flags=re.M)
                if anchor not in {_anchor(h) for h in headings}:
                    broken.append(f"{page.name}: {target}")
    assert broken == [], "links that do not resolve"
