"""The import rules of docs/architecture.md, checked on the source with the ast module."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("registry", "schemas", "cli")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported module, dotted
    names: tuple[str, ...]
    line: int
    top_level: bool  # at module level and not under `if TYPE_CHECKING:`


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(body: list[ast.stmt], top: bool) -> Iterator[tuple[ast.stmt, bool]]:
    for node in body:
        yield node, top
        if isinstance(node, ast.If):
            yield from _walk(node.body, top and not _is_type_checking(node))
            yield from _walk(node.orelse, top)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _walk(block, top)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.With):
            yield from _walk(node.body, False)


def _imports() -> list[Import]:
    found: list[Import] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = _module_name(path)
            tree = ast.parse(path.read_text(), filename=str(path))
            for node, top in _walk(tree.body, True):
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        found.append(Import(module, alias.name, (), node.lineno, top))
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = tuple(a.name for a in node.names)
                    found.append(Import(module, node.module, names, node.lineno, top))
    return found


IMPORTS = _imports()


def _under(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


# (who, what it must not import, at module level only?)
RULES = [
    ("schemas", ("registry", "cli", "sqlmodel", "sqlalchemy", "fastapi", "starlette"), False),
    ("registry", ("cli",), False),
    (
        "registry.weights",
        (
            "registry.db",
            "registry.services",
            "registry.api",
            "registry.hub",
            "registry.client",
            "sqlmodel",
            "sqlalchemy",
            "fastapi",
            "requests",
        ),
        False,
    ),  # fmt: skip
    (
        "registry.services",
        (
            "fastapi",
            "starlette",
            "registry.api",
            "registry.client",
            "registry.interface",
            "registry.hub",
        ),
        False,
    ),
    ("registry.hub", ("fastapi", "starlette", "registry.api"), False),
    ("registry.db", ("registry.services", "registry.api", "registry.hub", "fastapi"), False),
    (
        "registry.trust",
        (
            "registry.db",
            "registry.services",
            "registry.api",
            "registry.hub",
            "sqlmodel",
            "fastapi",
            "requests",
        ),
        False,
    ),  # fmt: skip
    (
        "registry.client",
        (
            "registry.db",
            "registry.services",
            "registry.api",
            "registry.weights",
            "sqlmodel",
            "fastapi",
        ),
        False,
    ),  # fmt: skip
    ("registry.interface", ("registry", "requests", "sqlmodel", "fastapi"), False),
    # the CLI starts fast: the server, the database and the numeric stack load where used
    (
        "cli",
        (
            "fastapi",
            "starlette",
            "sqlmodel",
            "sqlalchemy",
            "numpy",
            "scipy",
            "onnx",
            "registry.api",
            "registry.db",
            "registry.services",
            "registry.hub",
            "registry.weights",
        ),
        True,
    ),  # fmt: skip
]


@pytest.mark.parametrize(("who", "banned", "top_only"), RULES, ids=[r[0] for r in RULES])
def test_import_rules(who: str, banned: tuple[str, ...], top_only: bool) -> None:
    broken = [
        f"{i.module}:{i.line} imports {i.target}"
        for i in IMPORTS
        if _under(i.module, who) and _under(i.target, *banned) and (i.top_level or not top_only)
    ]
    assert broken == []


def test_no_private_name_is_imported_across_modules() -> None:
    broken = [
        f"{i.module}:{i.line} imports {name} from {i.target}"
        for i in IMPORTS
        for name in i.names
        if name.startswith("_") and not name.startswith("__") and i.target != "__future__"
    ]
    assert broken == []


def test_the_rules_see_real_imports() -> None:
    """The walk finds module-level and function-level imports (so an empty list means clean)."""
    assert any(i.module == "cli.main" and i.target == "cli.output" and i.top_level for i in IMPORTS)
    assert any(
        i.module == "cli.state" and i.target == "registry.api.local" and not i.top_level
        for i in IMPORTS
    )


SURFACES = [
    "registry.services",
    "registry.services.variants",
    "registry.services.lineage",
    "registry.services.identify",
    "registry.services.trust",
    "registry.services.safeguards",
    "registry.services.downloads",
    "registry.services.evals",
    "registry.hub",
    "registry.db.models",
]


@pytest.mark.parametrize("package", SURFACES)
def test_each_package_surface_resolves(package: str) -> None:
    """Every name a package's ``__all__`` promises can be imported from it."""
    import importlib

    module = importlib.import_module(package)
    assert module.__all__
    missing = [name for name in module.__all__ if getattr(module, name, None) is None]
    assert missing == []
