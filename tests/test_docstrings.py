"""Every public class and function of ``neuroattack.attacks``, ``backends`` and ``neuroattack.data``
is documented, as ``help()`` shows it: classes and functions with arguments and an example."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("neuroattack/attacks", "backends", "neuroattack/data", "neuroattack/victims")


def _public(path: Path):
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
            yield node, None
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and not item.name.startswith("_"):
                        yield item, node


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_definition_has_a_docstring(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    missing = [
        f"{f.relative_to(ROOT)}:{node.lineno} {(owner.name + '.') if owner else ''}{node.name}"
        for f in files
        for node, owner in _public(f)
        if not ast.get_docstring(node)
    ]
    assert missing == []


@pytest.mark.parametrize("package", PACKAGES)
def test_public_classes_and_functions_have_an_example(package):
    """Top-level public classes and functions (not methods, not protocols' members) show an example."""
    lacking = []
    for f in sorted((ROOT / package).rglob("*.py")):
        for node, owner in _public(f):
            doc = ast.get_docstring(node) or ""
            if owner is None and "Example" not in doc and ">>>" not in doc:
                lacking.append(f"{f.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert lacking == []


def test_help_of_an_attack_shows_its_arguments_and_an_example():
    from neuroattack.attacks import PGD

    doc = PGD.__doc__
    assert "Args:" in doc and "eps:" in doc and "Example:" in doc
