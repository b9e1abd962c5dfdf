"""`provreg init` and `provreg serve`: the commands that own the local database."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli.options import JsonOption
from cli.output import Line, Output, stderr
from cli.state import CliState


def _init_view(doc: dict[str, Any]) -> list[Line]:
    url, after, before = doc["database"], doc["revision"], doc["previous_revision"]
    lines: list[Line] = [f"created database {url}"] if doc["database_created"] else []
    if before == after:
        lines.append(f"database {url} is up to date (revision {after})")
    else:
        lines.append(f"database {url} is at revision {after} (was {before or 'empty'})")
    if doc["edge_states_logged"]:
        lines.append(f"logged the state of {doc['edge_states_logged']} lineage edges stored before")
    return lines


def init(ctx: typer.Context, as_json: JsonOption = False) -> Output:
    """Create the database, or upgrade it to the newest schema."""
    from registry.db import make_engine, upgrade_database
    from registry.db.create import ensure_database
    from registry.db.migrate import current_revision
    from registry.services.lineage.edge_log import log_unlogged_edges

    state: CliState = ctx.obj
    engine = make_engine(state.settings)
    created = ensure_database(engine)
    before = current_revision(engine)
    upgrade_database(engine)
    after = current_revision(engine)
    with state.local_sessions()() as session:
        edges_logged = log_unlogged_edges(session)  # databases from before they were logged
    doc = {
        "database": engine.url.render_as_string(hide_password=True),
        "revision": after,
        "previous_revision": before,
        "edge_states_logged": edges_logged,
        "database_created": created,
    }
    return Output(doc, view=_init_view)


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
    app = create_app(state.settings, session_factory=state.local_sessions())
    stderr().print(
        f"provreg serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs)"
    )
    uvicorn.run(app, host=host, port=port, log_level="warning" if state.as_json else "info")
