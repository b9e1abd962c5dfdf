"""`provreg downloads NAME[@REV]` (series, reach, growth) and `provreg downloads ingest FILE`.

`downloads` is a group whose subcommands (`record`, `ingest`) live beside a default: a first
word that is not a subcommand is the variant, so `provreg downloads acme/chat` shows it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from cli.backend import CliState
from cli.evals_backend import evals_backend
from cli.options import JsonOption
from cli.output import emit_json, human_count, stdout
from registry.errors import DownloadLogInvalid
from registry.services.names import parse_ref
from schemas import DownloadIngest

SHOW = "show"


class NameOrCommandGroup(TyperGroup):
    """A group that reads an unknown first word as the argument of its default command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = [SHOW, *args]
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: Any) -> list[str]:
        return [c for c in super().list_commands(ctx) if c != SHOW]


def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="NAME[@REV]", help="the variant")],
    window: Annotated[str, typer.Option("--window", help="growth over e.g. 30d, 4w, 48h")] = "30d",
    as_json: JsonOption = False,
) -> None:
    """A variant's download snapshots, its reach (own and subtree) and growth over --window."""
    state: CliState = ctx.obj
    report = evals_backend(state).downloads(parse_ref(ref), window)
    if as_json:
        emit_json(report)
        return
    out = stdout()
    r = report.reach
    out.print(f"[bold]{report.name}@{report.revision}[/]")
    out.print(
        f"downloads: {human_count(r.own)} (30d), {human_count(r.own_all_time)} all time; "
        f"reach: {human_count(r.subtree)} (30d) over {r.descendants} descendants, "
        f"{human_count(r.subtree_all_time)} all time"
    )
    g = report.growth
    if g.change is not None:
        ratio = f" (x{g.ratio:.2f})" if g.ratio is not None else ""
        out.print(f"growth over {g.window} ({g.counter} counter): {g.change:+,}{ratio}")
    for p in report.series[-20:]:
        out.print(f"  {p.observed_at:%Y-%m-%d %H:%M}  {p.window:>3}  {p.count:>12,}  {p.source}")


def ingest(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(metavar="FILE", help="CSV: timestamp,repo,user,...")],
    as_json: JsonOption = False,
) -> None:
    """Ingest a publisher's download log; ingesting it again adds nothing."""
    state: CliState = ctx.obj
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DownloadLogInvalid(
            f"cannot read {path}: {exc}", hint="give a UTF-8 CSV file"
        ) from None
    result = evals_backend(state).ingest_downloads(
        DownloadIngest(content=content, filename=path.name)
    )
    if as_json:
        emit_json(result)
        return
    stdout().print(
        f"{result.rows} rows: {result.new_events} new events, {result.duplicates} already ingested"
    )
    for v in result.variants:
        stdout().print(f"  {v.name}@{v.revision}: {v.events} events, {v.users} users, "
                       f"{v.count_30d} in the last 30 days")  # fmt: skip


def register(app: Any) -> None:
    """Add `show` (the default) and `ingest` to the `downloads` group."""
    app.command(SHOW, hidden=True)(show)
    app.command("ingest")(ingest)
