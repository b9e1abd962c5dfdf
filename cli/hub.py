"""`provreg hub sync | watch | scan | jobs`: variants in the wild on the Hub.

sync and watch follow a base model's declared descendants; scan looks for repos that do not
declare it; jobs reports the fingerprint jobs. They write the database directly (the local one,
or PROVREG_DATABASE_URL), never through a server; the Hub is HF_ENDPOINT (or --endpoint) with
HF_TOKEN. With PROVREG_BROKER_URL, --fingerprint hands one job per repo to `provreg worker`s.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from cli.options import JsonOption
from cli.output import Output, say, stderr
from cli.output.views import hub_sync_summary, hub_sync_view
from cli.state import CliState
from registry.errors import HubRepoNotFound, HubUnavailable, InvalidInput
from schemas import HubJobCounts, HubScanResult, HubSyncResult, HubWatchResult

if TYPE_CHECKING:  # the Hub client and the sync load only when a hub command runs
    from sqlmodel import Session

    from registry.hub.reader import HubReader

DEFAULT_DEPTH = 10  # generations below the root, as registry.hub.sync

hub_app = typer.Typer(help="Variants in the wild: the Hugging Face Hub.", no_args_is_help=True)

DepthOption = Annotated[
    int, typer.Option("--depth", min=0, max=64, help="generations below the root to follow")
]
FingerprintOption = Annotated[
    bool,
    typer.Option("--fingerprint", help="download safetensors/GGUF weights and identify them"),
]
EndpointOption = Annotated[
    str | None, typer.Option("--endpoint", metavar="URL", help="the Hub; default HF_ENDPOINT")
]
NoWaitOption = Annotated[
    bool,
    typer.Option(
        "--no-wait", help="with a broker: return once the jobs are queued (see `hub jobs`)"
    ),
]


class _SyncProgress:
    """A live count of repos on a terminal; nothing with --json or when piped."""

    def __init__(self, root: str, *, quiet: bool) -> None:
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if not quiet and sys.stdout.isatty() and sys.stderr.isatty():
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TextColumn("{task.completed} repos, {task.fields[pending]} queued"),
                TimeElapsedColumn(),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(f"syncing {root}", total=None, pending=0)

    def repo(self, _repo_id: str, done: int, pending: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=done, pending=pending)

    def file(self, name: str, size: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=f"fetching {name} ({size:,} B)")

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def hub_reader(state: CliState, endpoint: str | None) -> HubReader:
    from registry.hub.reader import HubReader

    if state.settings.url and state.session_factory_override is None:
        raise InvalidInput(
            "hub sync writes the database directly and cannot run through PROVREG_URL",
            hint="run it where the database is: unset PROVREG_URL, set PROVREG_DATABASE_URL",
        )
    return HubReader.from_settings(state.settings, endpoint)


def fingerprint_jobs(
    state: CliState, endpoint: str, names: list[str], *, wait: bool
) -> HubJobCounts:
    """One fingerprint job per named repo not yet done at its commit: on the broker's workers,
    or here without one; waits for them unless ``wait`` is off (with a broker)."""
    from sqlmodel import col, select

    from registry.db.models import HubRepo
    from registry.hub.jobs import enqueue_jobs, jobs_report, wait_for_jobs
    from registry.hub.worker import run_jobs

    sessions = state.local_sessions()
    with sessions() as session:
        repos = list(session.exec(select(HubRepo).where(col(HubRepo.repo_id).in_(names))))
        ids = enqueue_jobs(session, repos, endpoint)
    run_jobs(state.settings, ids, sessions)
    if state.settings.broker_url and wait and ids:
        report = wait_for_jobs(sessions, ids)
    else:
        with sessions() as session:
            report = jobs_report(session, ids)
    return HubJobCounts(**report.counts)


def _sync(
    state: CliState, hub: HubReader, root: str, depth: int, fingerprint: bool
) -> HubSyncResult:
    from registry.hub.fingerprint import fingerprinter_for
    from registry.hub.sync import sync_root
    from registry.services.safeguards.policy import load_policy

    settings = state.settings
    progress = _SyncProgress(root, quiet=state.as_json)

    fp = fingerprinter_for(settings, hub, on_file=progress.file)

    sessions = state.local_sessions()
    try:
        with sessions() as session:
            result = sync_root(
                session,
                hub,
                root,
                load_policy(settings),
                depth=depth,
                on_repo=progress.repo,
                # with a broker the workers fingerprint (see sync), else it happens here
                fingerprint=fp if fingerprint and not settings.broker_url else None,
            )
    finally:
        progress.stop()
    _send_webhooks(state, sessions, session)
    return result


def _send_webhooks(state: CliState, sessions: Callable[[], Session], session: Session) -> None:
    """Webhook events the sync queued (new repos below a watched root), sent after it."""
    from registry.services.webhooks import Dispatcher

    s = state.settings
    Dispatcher(
        sessions,
        attempts=s.webhook_attempts,
        backoff=s.webhook_backoff,
        timeout=s.webhook_timeout,
        background=False,
    ).after_write(session)


@hub_app.command("sync")
def sync(
    ctx: typer.Context,
    root: Annotated[str, typer.Argument(metavar="NAME", help="the base model's repo id")],
    depth: DepthOption = DEFAULT_DEPTH,
    fingerprint: FingerprintOption = False,
    no_wait: NoWaitOption = False,
    endpoint: EndpointOption = None,
    as_json: JsonOption = False,
) -> Output:
    """Record the root's descendants on the Hub as variants observed in the wild.

    Incremental (unchanged commits are only re-counted) and resumable: an interrupted sync of
    the same root continues where it stopped.

    Example: provreg hub sync meta-llama/Meta-Llama-3-8B --depth 2 --fingerprint"""
    state: CliState = ctx.obj
    hub = hub_reader(state, endpoint)
    result = _sync(state, hub, root, depth, fingerprint)
    notes = [f"[yellow]note:[/] {note}" for note in result.notes[:20]]
    if fingerprint and state.settings.broker_url:
        jobs = fingerprint_jobs(
            state, hub.endpoint, _sync_repos(state, result.sync_id), wait=not no_wait
        )
        notes.append(
            f"fingerprint jobs: {jobs.done} done, {jobs.failed} failed, "
            f"{jobs.queued + jobs.running} pending (provreg hub jobs)"
        )
    return Output(result, view=hub_sync_view, notes=notes)


def _sync_repos(state: CliState, sync_id: int) -> list[str]:
    from sqlmodel import select

    from registry.db.models import HubSyncItem

    with state.local_sessions()() as session:
        return list(session.exec(select(HubSyncItem.repo_id).where(HubSyncItem.sync_id == sync_id)))


@hub_app.command("watch")
def watch(
    ctx: typer.Context,
    roots: Annotated[list[str], typer.Argument(metavar="NAME...", help="base models to follow")],
    interval: Annotated[
        float, typer.Option("--interval", min=0, metavar="MINUTES", help="between rounds")
    ] = 60.0,
    iterations: Annotated[
        int | None, typer.Option("--iterations", min=1, help="stop after N rounds")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="one round, then stop")] = False,
    depth: DepthOption = DEFAULT_DEPTH,
    fingerprint: FingerprintOption = False,
    scan: Annotated[
        bool, typer.Option("--scan", help="after each sync, scan the root's family (hub scan)")
    ] = False,
    search: Annotated[
        list[str] | None,
        typer.Option("--search", metavar="TEXT", help="with --scan: list repos named so"),
    ] = None,
    author: Annotated[
        list[str] | None,
        typer.Option("--author", metavar="NAME", help="with --scan: list an author's repos"),
    ] = None,
    endpoint: EndpointOption = None,
    as_json: JsonOption = False,
) -> Output:
    """Sync each root every --interval minutes, and with --scan scan its family after the sync
    (fingerprinting with --fingerprint). Safe to kill at any moment: the next start resumes
    each interrupted sync without losing or repeating anything.

    Example: provreg hub watch acme/base --interval 360 --scan --search base --fingerprint"""
    state: CliState = ctx.obj
    searches, authors = search or [], author or []
    if scan and not (searches or authors):
        raise InvalidInput(
            "--scan needs something to list by", hint="give --search TEXT or --author NAME"
        )
    if not scan and (searches or authors):
        raise InvalidInput("--search and --author list repos for a scan", hint="add --scan")
    hub = hub_reader(state, endpoint)
    rounds = 1 if once else iterations
    syncs: list[HubSyncResult] = []
    scans: list[HubScanResult] = []
    done = 0
    sleep: Callable[[float], None] = time.sleep
    try:
        while rounds is None or done < rounds:
            if done:
                sleep(interval * 60)
            for root in roots:
                try:
                    result = _sync(state, hub, root, depth, fingerprint)
                    syncs.append(result)
                    say(state.as_json, hub_sync_summary(result))
                    if scan:
                        scans.append(_scan(state, hub, root, searches, authors, fingerprint))
                except (HubUnavailable, HubRepoNotFound) as exc:
                    stderr().print(f"[red]{root}:[/] {exc.message} (next round retries)")
            done += 1
    except KeyboardInterrupt:
        stderr().print("stopped; the next start resumes any interrupted sync")
    # each round's summary is already out; --json prints the whole run at the end
    return Output(HubWatchResult(iterations=done, syncs=syncs, scans=scans), view=lambda _: [])


def _scan(
    state: CliState,
    hub: HubReader,
    root: str,
    searches: list[str],
    authors: list[str],
    fingerprint: bool,
) -> HubScanResult:
    """A watch round's scan of ``root``, with its summary line."""
    from cli.hub_scan import hub_scan_summary, scan_family  # it imports this module

    found = scan_family(
        state, hub, root, searches=searches, authors=authors, fingerprint=fingerprint
    )
    say(state.as_json, hub_scan_summary(found))
    return found
