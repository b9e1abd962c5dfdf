"""The zoo extra (torch, transformers, peft: `pip install -e '.[zoo]'`) builds real derivatives
in some tests (PEFT adapters, rotated models exported to GGUF). Without it they skip, so
`make test` stays light on a fresh machine; under CI=true, where `.ci/run` installs the extra, a
missing tool fails the run instead."""

from __future__ import annotations

import importlib.util
import os

import pytest

ZOO_TOOLS = ("torch", "transformers", "peft")


def missing_zoo_tools() -> list[str]:
    return [name for name in ZOO_TOOLS if importlib.util.find_spec(name) is None]


def _reason(missing: list[str]) -> str:
    return f"needs the zoo extra ({', '.join(missing)} missing): pip install -e '.[zoo]'"


def require_zoo_tools() -> None:
    """Skip the calling test module (or fixture's tests) without the zoo extra; fail under
    CI=true."""
    missing = missing_zoo_tools()
    if not missing:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(_reason(missing), pytrace=False)
    pytest.skip(_reason(missing), allow_module_level=True)
