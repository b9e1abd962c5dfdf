"""`provreg hub scan` and `provreg hub jobs`: repos that do not declare a family, and the
fingerprint jobs that identify them. Registered on the `hub` group by :mod:`cli.hub`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from cli.hub import EndpointOption, NoWaitOption, fingerprint_jobs, hub_app, hub_reader
from cli.options import JsonOption
from cli.output import Line, Output
from cli.state import CliState
from schemas import HubJobCounts, HubJobsReport, HubScanResult

if TYPE_CHECKING:
    from registry.hub.reader import HubReader


def _counts(r: HubScanResult) -> str:
    return (
        f"{r.root}: listed {r.listed}, examined {r.examined} ({r.exact_copies} exact copies), "
        f"skipped {r.skipped}, {r.already_known} already in the family"
    )


def hub_scan_summary(r: HubScanResult) -> str:
    """One line for a scan in a `hub watch` round."""
    jobs = f"; fingerprint jobs: {r.jobs.done} done, {r.jobs.failed} failed" if r.jobs else ""
    return f"scan of {_counts(r)}{jobs}, {len(r.matches)} matches"


def _scan_view(r: HubScanResult) -> Iterable[Line]:
    yield _counts(r)
    if r.jobs is not None:
        j = r.jobs
        yield (
            f"fingerprint jobs: {j.done} done, {j.failed} failed, {j.queued + j.running} pending"
        )
    for m in r.matches:
        score = f" score {m.score:.3f}" if m.score is not None else ""
        yield f"  {m.repo} -> {m.parent}  {m.relation}, {m.source}/{m.status}{score}: {m.why}"
    for f in r.findings:
        if f.outcome == "skipped":
            yield f"  skipped {f.repo}: {f.reason}"


@hub_app.command("scan")
def scan(
    ctx: typer.Context,
    root: Annotated[str, typer.Argument(metavar="ROOT", help="a registered base model")],
    search: Annotated[
        list[str] | None, typer.Option("--search", metavar="TEXT", help="list repos named so")
    ] = None,
    author: Annotated[
        list[str] | None, typer.Option("--author", metavar="NAME", help="list an author's repos")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="repos to list")] = 1000,
    fingerprint: Annotated[
        bool, typer.Option("--fingerprint", help="fingerprint what could be kin, to identify it")
    ] = False,
    no_wait: NoWaitOption = False,
    endpoint: EndpointOption = None,
    as_json: JsonOption = False,
) -> Output:
    """Find Hub repos that do not declare ROOT's family but may be copies or derivatives.

    Repos from the listing are examined when their size and architecture could be the family's;
    exact copies are recognised by their LFS SHA-256 with nothing downloaded; --fingerprint
    identifies the rest and records what it finds as detected edges. A rerun resumes.

    Example: provreg hub scan meta-llama/Llama-2-7b-chat-hf --search llama-2-7b --fingerprint"""
    state: CliState = ctx.obj
    hub = hub_reader(state, endpoint)
    found = scan_family(
        state, hub, root, searches=search or [], authors=author or [], limit=limit,
        fingerprint=fingerprint, wait=not no_wait,
    )  # fmt: skip
    return Output(found, view=_scan_view)


def scan_family(
    state: CliState,
    hub: HubReader,
    root: str,
    *,
    searches: Sequence[str],
    authors: Sequence[str],
    limit: int = 1000,
    fingerprint: bool = False,
    wait: bool = True,
) -> HubScanResult:
    """One scan of ROOT's family (`hub scan`, and `hub watch --scan` after each sync): examine
    the listing, fingerprint what could be kin when asked, and report the matches."""
    from registry.hub.scan import scan_matches, scan_root
    from registry.services.safeguards.policy import load_policy

    with state.local_sessions()() as session:
        found = scan_root(
            session,
            hub,
            root,
            load_policy(state.settings),
            searches=searches,
            authors=authors,
            limit=limit,
        )
    unknown = [f.repo for f in found.findings if f.outcome == "examined"]
    if fingerprint:
        found.jobs = fingerprint_jobs(state, hub.endpoint, unknown, wait=wait)
    with state.local_sessions()() as session:
        found.matches = scan_matches(session, found.recorded_repos())
    return found


def _jobs_view(r: HubJobsReport) -> Iterable[Line]:
    c = r.counts
    yield f"queued {c.queued}, running {c.running}, done {c.done}, failed {c.failed}"
    yield f"broker: {r.broker or 'none (jobs run in the command that queues them)'}"
    for f in r.failed:
        commit = str(f["commit"])[:12]
        yield f"  failed {f['repo']}@{commit} after {f['attempts']} tries: {f['note']}"


@hub_app.command("jobs")
def jobs(ctx: typer.Context, as_json: JsonOption = False) -> Output:
    """Fingerprint jobs by state (queued, running, done, failed) and the latest failures.

    Example: provreg hub jobs --json"""
    from sqlalchemy.engine import make_url

    from registry.hub.jobs import jobs_report

    state: CliState = ctx.obj
    with state.local_sessions()() as session:
        report = jobs_report(session)
    broker = state.settings.broker_url
    shown = make_url(broker).render_as_string(hide_password=True) if broker else None
    return Output(
        HubJobsReport(counts=HubJobCounts(**report.counts), failed=report.failed, broker=shown),
        view=_jobs_view,
    )
