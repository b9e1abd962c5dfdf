"""Options shared by many commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from registry.errors import InvalidInput, ProvregError

JsonOption = Annotated[
    bool, typer.Option("--json", help="print exactly one JSON document on stdout")
]

LimitOption = Annotated[
    int, typer.Option("--limit", metavar="N", min=1, max=1000, help="rows per page")
]
CursorOption = Annotated[
    str | None,
    typer.Option("--cursor", metavar="CURSOR", help="the next page, as the last one said"),
]

Ref = Annotated[str, typer.Argument(metavar="NAME[@REV]", help="the variant")]


class NameOrCommandGroup(TyperGroup):
    """A group that reads an unknown first word as the argument of its (hidden) default
    command ``default``, so ``provreg downloads acme/chat`` runs ``downloads show acme/chat``.
    With ``options_first``, a first option (other than help) goes to the default command too:
    ``provreg lineage --up acme/chat``."""

    default = "show"
    options_first = False

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        first = args[0] if args else None
        if (
            first is not None
            and first not in self.commands
            and first not in ctx.help_option_names
            and (self.options_first or not first.startswith("-"))
        ):
            args = [self.default, *args]
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: Any) -> list[str]:
        return [c for c in super().list_commands(ctx) if c != self.default]


def iso_datetime(option: str, text: str) -> datetime:
    """An ISO 8601 date or time, UTC when it names no zone; raises :class:`InvalidInput`."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"invalid {option} {text!r}", hint="use ISO 8601, e.g. 2026-11-01"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def json_object(option: str, text: str) -> dict[str, object]:
    """A JSON object given on the command line; raises :class:`InvalidInput`."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(
            f"invalid {option}: not JSON ({exc})", hint=f"pass {option} '{{\"key\": value}}'"
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput(
            f"invalid {option}: a JSON object is needed, not {type(value).__name__}",
            hint=f"pass {option} '{{\"key\": value}}'",
        )
    return value


def read_text(
    path: Path, *, error: type[ProvregError] = InvalidInput, hint: str = "pass a UTF-8 text file"
) -> str:
    """The UTF-8 text of a file a command was given; raises ``error`` naming it otherwise."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read {path}: {exc}", hint=hint) from None
