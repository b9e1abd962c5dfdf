"""Package surfaces that load on first use (PEP 562), as huggingface_hub's ``__init__`` does.

The domain packages under :mod:`registry.services` call each other both ways (registering a
variant logs its edges; the log's audit reads the edges), so a package ``__init__`` that imported
its modules eagerly would import them in a cycle. Each ``__init__`` instead names its surface in
``__all__`` and loads a name from its module when it is first asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_surface(package: str, modules: dict[str, list[str]]) -> tuple[list[str], Callable]:
    """``__all__`` and a module ``__getattr__`` for ``package`` whose names live in
    ``modules`` ({submodule: [names]})."""
    where = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    return sorted(where), __getattr__
