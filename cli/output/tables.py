"""Tables of the registry's lists (variants, revisions, keys, tokens, advisories, results), each
followed by the command that fetches the next page."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from cli.output import Line, View, human_count

Column = tuple[str, Callable[[Any], Any]]

STATUS_STYLE = {
    "safeguarded": "green",
    "lacking": "bold red",
    "degraded": "red",
    "suspected": "yellow",
    "unverified": "dim",
}
_FREE_TEXT = {"reasons", "summary"}
SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "dim"}


def next_page_command(argv: Sequence[str], cursor: str) -> str:
    """The command line that was run, with ``--cursor`` set to the next page's cursor."""
    args: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--cursor":
            skip = True
            continue
        if arg.startswith("--cursor=") or arg in ("--json", "--debug"):
            continue
        args.append(arg)
    return shlex.join(["provreg", *args, "--cursor", cursor])


def page_view(
    columns: Sequence[Column], *, argv: Sequence[str], empty: str, rows: str = "items"
) -> View:
    """A page's rows as a table (every cell shown literally, never read as markup), then how to
    get the next page."""

    def view(page: Any) -> Iterable[Line]:
        items = getattr(page, rows)
        if not items:
            yield empty
            return
        table = Table(box=None, header_style="bold", pad_edge=False)
        for header, _ in columns:  # on a narrow terminal only free text wraps, never a name
            table.add_column(header, no_wrap=header not in _FREE_TEXT)
        for item in items:
            table.add_row(*(_cell(cell(item)) for _, cell in columns))
        yield table
        cursor = getattr(page, "next_cursor", None)
        if cursor:
            yield f"[dim]next page: {escape(next_page_command(argv, cursor))}[/]"

    return view


def _cell(value: Any) -> Text:
    if isinstance(value, Text):
        return value
    if value is None:
        return Text("-", style="dim")
    if isinstance(value, datetime):
        return Text(f"{value:%Y-%m-%d %H:%M}")
    return Text(str(value))


def styled(value: str | None, styles: dict[str, str]) -> Text:
    """``value`` in its style (statuses, severities); ``-`` when there is none."""
    if value is None:
        return Text("-", style="dim")
    return Text(value, style=styles.get(value, ""))


def count(value: int | None) -> str:
    return human_count(value) if value is not None else "-"


def shorten(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


VARIANT_COLUMNS: list[Column] = [
    ("variant", lambda v: f"{v.name}@{v.revision}"),
    ("status", lambda v: styled(v.status, STATUS_STYLE) if v.registered else "name only"),
    ("downloads", lambda v: count(v.downloads)),
    ("reach", lambda v: count(v.reach)),
    ("format", lambda v: v.format),
    ("parameters", lambda v: count(v.parameters)),
    ("registered", lambda v: v.created_at),
]
REVISION_COLUMNS: list[Column] = [
    ("revision", lambda v: v.revision),
    ("digest", lambda v: v.digest[:19] + "…" if v.digest else None),
    ("status", lambda v: styled(v.status, STATUS_STYLE) if v.registered else "name only"),
    ("downloads", lambda v: count(v.downloads)),
    ("format", lambda v: v.format),
    ("registered", lambda v: v.created_at),
]
KEY_COLUMNS: list[Column] = [
    ("key id", lambda k: k.key_id[:16] + "…"),
    ("namespace", lambda k: k.namespace),
    ("role", lambda k: k.role),
    ("state", lambda k: Text("active", "green") if k.active else Text("revoked", "red")),
    ("added", lambda k: k.created_at),
    ("log leaf", lambda k: k.added_log_index),
]
TOKEN_COLUMNS: list[Column] = [
    ("token id", lambda t: t.token_id),
    ("scope", lambda t: t.scope),
    ("state", lambda t: _token_state(t)),
    ("created", lambda t: t.created_at),
    ("expires", lambda t: t.expires_at or "never"),
]
ADVISORY_COLUMNS: list[Column] = [
    ("id", lambda a: a.id),
    ("severity", lambda a: styled(a.severity, SEVERITY_STYLE)),
    ("variant", lambda a: f"{a.name}@{a.revision}"),
    ("summary", lambda a: shorten(a.summary)),
    ("published", lambda a: a.created_at),
]
EVAL_COLUMNS: list[Column] = [
    ("id", lambda r: r.id),
    ("variant", lambda r: f"{r.name}@{r.revision}"),
    ("benchmark", lambda r: r.benchmark),
    ("metric", lambda r: r.metric),
    ("value", lambda r: f"{r.value:g}" + (f" ± {r.stderr:g}" if r.stderr is not None else "")),
    ("category", lambda r: r.category),
    ("source", lambda r: r.source),
    ("recorded", lambda r: r.created_at),
]
LACKING_COLUMNS: list[Column] = [
    ("variant", lambda r: f"{r.name}@{r.revision}"),
    ("status", lambda r: styled(r.status, STATUS_STYLE)),
    ("downloads", lambda r: count(r.downloads)),
    ("reach", lambda r: count(r.reach)),
    ("reasons", lambda r: "; ".join(r.reasons)),
    ("nearest safeguarded", lambda r: r.path[-1] if len(r.path) > 1 else "none"),
]


def _token_state(t: Any) -> Text:
    if t.revoked_at is not None:
        return Text("revoked", "red")
    return Text("active", "green") if t.active else Text("expired", "yellow")
