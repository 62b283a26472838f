"""Which app may import which: the direction the code is organised in, checked on the source.

Adapters return values (`StatusReport`, `Placement`) and `calls` applies them, so `providers`
never imports `calls`; `extraction` is a library of schemas, parsers and extractors that `calls`
runs; `accounts` and `lib` sit underneath everything; no domain app imports a face (`api`,
`dashboard`). Imports inside functions count too (they are dependencies all the same); imports
under `if TYPE_CHECKING:` do not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "callops"
DOMAIN_AND_LIB = ("accounts", "calls", "extraction", "lib", "providers", "triage")
FACES = ("api", "dashboard")

# app -> apps it must not import
FORBIDDEN = {
    "providers": ("calls", "triage", "webhooks", "batches", *FACES),
    "extraction": ("calls", "providers", "triage", "webhooks", "batches", *FACES),
    "accounts": ("calls", "providers", "extraction", "triage", "webhooks", "batches", *FACES),
    "lib": ("accounts", "calls", "providers", "extraction", "triage", "webhooks", "batches", *FACES),
    "calls": FACES,
    "triage": FACES,
}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) for every import in the file, at any depth, except TYPE_CHECKING ones."""
    package = ".".join(("callops", *path.relative_to(ROOT).with_suffix("").parts[:-1]))
    found: list[tuple[int, str]] = []

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.extend((child.lineno, alias.name) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    module = ".".join(base + ([child.module] if child.module else []))
                else:
                    module = child.module or ""
                found.append((child.lineno, module))
            visit(child)

    visit(ast.parse(path.read_text(), filename=str(path)))
    return found


def _app(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "callops" else None


@pytest.mark.parametrize("app", sorted(FORBIDDEN))
def test_app_imports_point_one_way(app):
    wrong = []
    for path in sorted((ROOT / app).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for line, module in _imports(path):
            if _app(module) in FORBIDDEN[app]:
                wrong.append(f"{path.relative_to(ROOT.parent)}:{line} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_domain_apps_never_import_faces():
    wrong = []
    for app in DOMAIN_AND_LIB:
        for path in sorted((ROOT / app).rglob("*.py")):
            for line, module in _imports(path):
                if _app(module) in FACES:
                    wrong.append(f"{path.relative_to(ROOT.parent)}:{line} imports {module}")
    assert not wrong, "\n".join(wrong)
