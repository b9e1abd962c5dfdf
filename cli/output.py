"""Output: one JSON document on stdout with --json, rich text otherwise; messages on stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import BaseModel
from rich.console import Console

from registry.errors import ProvregError

# Rich assumes 80 columns when output goes to a pipe or file; trees and tables cut there.
_PIPE_WIDTH = 200


def stdout() -> Console:
    width = None if sys.stdout.isatty() else _PIPE_WIDTH
    return Console(file=sys.stdout, highlight=False, soft_wrap=True, width=width)


def stderr() -> Console:
    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def emit_json(document: BaseModel | dict[str, Any] | list[Any]) -> None:
    """Write exactly one JSON document to stdout."""
    if isinstance(document, BaseModel):
        document = document.model_dump(mode="json")
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


def report_error(exc: ProvregError, *, as_json: bool) -> None:
    """One line on stderr naming the problem and the fix; the envelope on stdout with --json."""
    line = f"provreg: error: {exc.message}"
    if exc.hint:
        line += f" (hint: {exc.hint})"
    sys.stderr.write(line.replace("\n", " ") + "\n")
    if as_json:
        emit_json({"error": exc.to_dict()})


def human_size(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def human_count(n: int | None) -> str:
    if n is None:
        return "-"
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            return f"{n / div:.2f}{suffix}"
    return str(n)
