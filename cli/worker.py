"""`provreg worker`: take fingerprint jobs from the broker until stopped."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.state import CliState
from registry.errors import InvalidInput


def worker(
    ctx: typer.Context,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=64, help="jobs at once (processes)")
    ] = 1,
    loglevel: Annotated[str, typer.Option("--loglevel", help="Celery's log level")] = "WARNING",
) -> None:
    """Take fingerprint jobs from PROVREG_BROKER_URL and write with PROVREG_DATABASE_URL.

    Run as many as the machines allow (about one per core: a job is mostly hashing and
    decoding); killing one (even with -9) loses nothing: its job goes to another.

    Example: PROVREG_BROKER_URL=redis://127.0.0.1:6379/0 provreg worker --concurrency 2"""
    from registry.hub.worker import run_worker

    state: CliState = ctx.obj
    if not state.settings.broker_url:
        raise InvalidInput(
            "no broker: PROVREG_BROKER_URL is not set",
            hint="set PROVREG_BROKER_URL=redis://HOST:6379/0 (or amqp://...); without a broker "
            "--fingerprint runs the jobs in the command itself",
        )
    run_worker(state.settings, concurrency=concurrency, loglevel=loglevel)
