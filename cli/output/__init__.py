"""The one output layer: commands return an :class:`Output`; :func:`render` prints it.

With ``--json`` stdout holds exactly the document; otherwise the command's text view (rich
markup, tables, trees), or one of the machine forms a command offers (``jsonl``, ``csv``,
``dot``, ``mermaid``). Notes and errors go to stderr. No command looks at ``--json`` itself.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from rich.console import Console, RenderableType

from registry.errors import ProvregError

# Rich assumes 80 columns when output goes to a pipe or file; trees and tables cut there.
_PIPE_WIDTH = 200


@dataclass(frozen=True)
class Raw:
    """Text written to stdout as it is (no markup, no wrapping): notes, dot, JSON lines."""

    text: str


Line = RenderableType | Raw
View = Callable[[Any], Iterable[Line]]


@dataclass
class Output:
    """What a command returns.

    ``document`` is what ``--json`` prints; ``view`` turns it into lines for a person;
    ``form`` picks one of ``forms`` instead (``json`` always exists: the document); ``notes``
    go to stderr after any form but JSON.
    """

    document: BaseModel | dict[str, Any] | list[Any]
    view: View | None = None
    form: str = "text"
    forms: dict[str, View] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def stdout() -> Console:
    width = None if sys.stdout.isatty() else _PIPE_WIDTH
    return Console(file=sys.stdout, highlight=False, soft_wrap=True, width=width)


def stderr() -> Console:
    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def emit_json(document: BaseModel | dict[str, Any] | list[Any]) -> None:
    """Write exactly one JSON document to stdout."""
    sys.stdout.write(json.dumps(_plain(document), indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


def _plain(document: Any) -> Any:
    if isinstance(document, BaseModel):
        return document.model_dump(mode="json")
    if isinstance(document, list):
        return [_plain(item) for item in document]
    return document


def jsonl_view(document: Any) -> Iterable[Line]:
    """A page's ``results``, one JSON object a line."""
    for row in getattr(document, "results", []):
        yield Raw(json.dumps(_plain(row)) + "\n")


def csv_view(columns: dict[str, Callable[[Any], Any]]) -> View:
    """A page's ``results`` as CSV: one column per entry of ``columns`` (header -> cell)."""

    def view(document: Any) -> Iterable[Line]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(list(columns))
        for row in getattr(document, "results", []):
            writer.writerow([cell(row) for cell in columns.values()])
        yield Raw(buffer.getvalue())

    return view


def render(out: Output, *, as_json: bool) -> None:
    """Print ``out``: the JSON document, a named form, or the text view; then its notes."""
    form = "json" if as_json else out.form
    view = out.view if form == "text" else out.forms.get(form)
    if view is None:
        emit_json(out.document)
        return
    console = stdout()
    for line in view(out.document):
        if isinstance(line, Raw):
            sys.stdout.write(line.text)
        else:
            console.print(line)
    sys.stdout.flush()
    resolved = getattr(out.document, "note", None)  # how a name without @REV was resolved
    if isinstance(resolved, str):
        stderr().print(f"note: {resolved}", markup=False)
    for note in out.notes:
        stderr().print(note)


def say(state_as_json: bool, line: str) -> None:
    """A line of text output while a long command runs (nothing with ``--json``)."""
    if not state_as_json:
        stdout().print(line)


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
