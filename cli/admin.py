"""`provreg init`, `provreg serve` and `provreg token create`."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.backend import CliState, ready_engine
from cli.options import JsonOption
from cli.output import emit_json, stderr, stdout
from cli.trust_backend import trust_backend
from registry.db import make_engine, make_session_factory, upgrade_database
from registry.db.create import ensure_database
from registry.db.migrate import current_revision
from registry.services import create_token
from registry.services.edge_log import log_unlogged_edges
from schemas import TokenPublic

token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)


def init(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Create the database, or upgrade it to the newest schema."""
    state: CliState = ctx.obj
    engine = make_engine(state.settings)
    created = ensure_database(engine)
    before = current_revision(engine)
    upgrade_database(engine)
    after = current_revision(engine)
    with state.local_sessions()() as session:
        edges_logged = log_unlogged_edges(session)  # databases from before they were logged
    url = engine.url.render_as_string(hide_password=True)
    doc = {
        "database": url,
        "revision": after,
        "previous_revision": before,
        "edge_states_logged": edges_logged,
        "database_created": created,
    }
    if created and not as_json:
        stdout().print(f"created database {url}")
    if as_json:
        emit_json(doc)
    elif before == after:
        stdout().print(f"database {url} is up to date (revision {after})")
    else:
        stdout().print(f"database {url} is at revision {after} (was {before or 'empty'})")
    if edges_logged and not as_json:
        stdout().print(f"logged the state of {edges_logged} lineage edges stored before")


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    as_json: JsonOption = False,
) -> None:
    """Serve the HTTP API (and its docs at /docs) on the local database."""
    import uvicorn

    from registry.api import create_app

    state: CliState = ctx.obj
    engine = ready_engine(state.settings)
    app = create_app(state.settings, session_factory=make_session_factory(engine))
    stderr().print(
        f"provreg serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs)"
    )
    uvicorn.run(app, host=host, port=port, log_level="warning" if as_json else "info")


@token_app.command("create")
def token_create(
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
) -> None:
    """Create a token on the local database; the secret is printed once."""
    state: CliState = ctx.obj
    with state.local_sessions()() as session:
        secret, row = create_token(session, scope, namespace=namespace, expires_days=expires_days)
    doc = TokenPublic(
        token=secret, token_id=row.token_id, scope=row.scope, expires_at=row.expires_at
    )
    if as_json:
        emit_json(doc)
    else:
        emit_json({"token": secret})
        stderr().print(f"[dim]scope {row.scope}; store it now, it is not shown again[/]")


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context,
    token_id: Annotated[str, typer.Argument(metavar="TOKEN_ID", help="the token's id")],
    as_json: JsonOption = False,
) -> None:
    """Revoke a token (on the server with PROVREG_URL, else on the local database)."""
    state: CliState = ctx.obj
    doc = trust_backend(state).revoke_token(token_id)
    if as_json:
        emit_json(doc)
    else:
        stdout().print(f"token {doc.token_id} revoked at {doc.revoked_at}")
