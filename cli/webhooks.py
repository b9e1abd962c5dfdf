"""`provreg webhook add | list | remove | deliveries`: tell a URL about new descendants,
variants turning lacking and advisories below a variant."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

import typer
from rich.markup import escape

from cli.options import JsonOption
from cli.output import Line, Output
from cli.state import CliState
from registry.errors import InvalidInput
from schemas.webhooks import (
    WEBHOOK_EVENTS,
    DeliveryList,
    WebhookCreate,
    WebhookList,
    WebhookPublic,
    WebhookRemoved,
)

webhook_app = typer.Typer(
    help="Webhooks: signed POSTs about a lineage subtree.", no_args_is_help=True
)


def _events(text: str) -> list[str]:
    events = [e.strip() for e in text.split(",") if e.strip()]
    unknown = [e for e in events if e not in WEBHOOK_EVENTS]
    if unknown or not events:
        raise InvalidInput(
            f"unknown webhook event {unknown[0] if unknown else text!r}",
            hint=f"--on takes a comma-separated list of: {', '.join(WEBHOOK_EVENTS)}",
        )
    return events


def _hook_line(h: WebhookPublic) -> str:
    under = f" under {h.under}" if h.under else " (every variant)"
    return f"webhook {h.id}: {escape(h.url)} on {','.join(h.events)}{under}"


def _added_view(h: WebhookPublic) -> Iterable[Line]:
    yield _hook_line(h)


def _list_view(result: WebhookList) -> Iterable[Line]:
    if not result.webhooks:
        yield "no webhooks"
    for h in result.webhooks:
        yield _hook_line(h)


def _removed_view(result: WebhookRemoved) -> Iterable[Line]:
    yield f"removed webhook {result.id}"


def _deliveries_view(result: DeliveryList) -> Iterable[Line]:
    if not result.deliveries:
        yield "no deliveries"
    for d in result.deliveries:
        about = d.payload.get("variant") or {}
        outcome = d.last_error or (f"HTTP {d.last_status}" if d.last_status else "not sent yet")
        yield (
            f"{d.id} webhook {d.webhook_id} {d.event} {about.get('name', '')}@"
            f"{about.get('revision', '')}: {d.state} after {d.attempts} attempt(s) ({outcome})"
        )


@webhook_app.command("add")
def webhook_add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="http(s) URL to POST events to")],
    secret: Annotated[str, typer.Option("--secret", help="HMAC-SHA256 key (8+ characters)")],
    on: Annotated[
        str, typer.Option("--on", help=f"comma-separated events: {', '.join(WEBHOOK_EVENTS)}")
    ],
    under: Annotated[
        str | None, typer.Option("--under", metavar="NAME[@REV]", help="only this subtree")
    ] = None,
    as_json: JsonOption = False,
) -> Output:
    """Subscribe URL to events about a variant's lineage subtree (every variant by default)."""
    state: CliState = ctx.obj
    body = WebhookCreate(url=url, secret=secret, events=_events(on), under=under)
    return Output(state.registry().add_webhook(body), view=_added_view)


@webhook_app.command("list")
def webhook_list(ctx: typer.Context, as_json: JsonOption = False) -> Output:
    """The webhooks you manage."""
    state: CliState = ctx.obj
    return Output(state.registry().list_webhooks(), view=_list_view)


@webhook_app.command("remove")
def webhook_remove(
    ctx: typer.Context,
    webhook_id: Annotated[int, typer.Argument(metavar="ID")],
    as_json: JsonOption = False,
) -> Output:
    """Remove a webhook and its delivery log."""
    state: CliState = ctx.obj
    return Output(state.registry().remove_webhook(webhook_id), view=_removed_view)


@webhook_app.command("deliveries")
def webhook_deliveries(
    ctx: typer.Context,
    webhook_id: Annotated[int | None, typer.Argument(metavar="[ID]")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 100,
    as_json: JsonOption = False,
) -> Output:
    """The newest deliveries (of one webhook), with each attempt's outcome."""
    state: CliState = ctx.obj
    result = state.registry().webhook_deliveries(webhook_id, limit=limit)
    return Output(result, view=_deliveries_view)
