"""Package surfaces that load on first use (PEP 562), as huggingface_hub's ``__init__`` does.

The domain packages under :mod:`registry.services` call each other both ways (registering a
variant logs its edges; the log's audit reads the edges), so a package ``__init__`` that imported
its modules eagerly would import them in a cycle. Each ``__init__`` instead writes its surface
once, as imports under ``if TYPE_CHECKING:`` (what type checkers and readers see), and
:func:`lazy_surface` reads that block to name ``__all__`` and load each name on first use.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _surface(init_file: str) -> dict[str, str]:
    """``{name: module}`` from the ``from MODULE import NAMES`` under ``if TYPE_CHECKING:``."""
    tree = ast.parse(Path(init_file).read_text(encoding="utf-8"))
    where: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for item in node.body:
                if isinstance(item, ast.ImportFrom) and item.module:
                    where.update({a.asname or a.name: item.module for a in item.names})
    return where


def lazy_surface(package: str, init_file: str) -> tuple[list[str], Callable[[str], Any]]:
    """``__all__`` and a module ``__getattr__`` for ``package``, whose ``__init__`` is
    ``init_file``."""
    where = _surface(init_file)

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return sorted(where), __getattr__
