"""`provreg token create | list | revoke`."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.options import CursorOption, JsonOption, LimitOption
from cli.output import Output
from cli.output.tables import TOKEN_COLUMNS, page_view
from cli.output.views import token_revoked_view, token_view
from cli.state import CliState
from schemas import TokenCreate

token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)


@token_app.command("create")
def create(
    ctx: typer.Context,
    scope: Annotated[
        str,
        typer.Option(
            "--scope", help="admin, evaluate or publish (publish and evaluate take --namespace)"
        ),
    ],
    namespace: Annotated[
        str | None, typer.Option("--namespace", help="namespace a publish token may write")
    ] = None,
    expires_days: Annotated[
        int | None, typer.Option("--expires-days", min=1, help="days until it expires")
    ] = None,
    as_json: JsonOption = False,
) -> Output:
    """Create a token; the secret is printed once.

    With PROVREG_URL the server mints it (PROVREG_TOKEN must be an admin token); without, the
    local database does, which is how an admin starts.

    Example: provreg token create --scope publish --namespace acme --expires-days 90"""
    state: CliState = ctx.obj
    request = TokenCreate(scope=scope, namespace=namespace, expires_days=expires_days)
    token = state.registry().create_token(request)
    return Output(
        token,
        view=token_view,
        notes=[f"[dim]scope {token.scope}; store it now, it is not shown again[/]"],
    )


@token_app.command("list")
def list_tokens(
    ctx: typer.Context,
    limit: LimitOption = 50,
    cursor: CursorOption = None,
    as_json: JsonOption = False,
) -> Output:
    """List tokens, oldest first, with scope, expiry and state; secrets are never shown.

    With PROVREG_URL the server's (PROVREG_TOKEN must be an admin token); without, the local
    database's."""
    state: CliState = ctx.obj
    page = state.registry().list_tokens(limit=limit, cursor=cursor)
    return Output(page, view=page_view(TOKEN_COLUMNS, argv=state.argv, empty="no tokens"))


@token_app.command("revoke")
def revoke(
    ctx: typer.Context,
    token_id: Annotated[str, typer.Argument(metavar="TOKEN_ID", help="the token's id")],
    as_json: JsonOption = False,
) -> Output:
    """Revoke a token (on the server with PROVREG_URL, else on the local database)."""
    state: CliState = ctx.obj
    return Output(state.registry().revoke_token(token_id), view=token_revoked_view)
