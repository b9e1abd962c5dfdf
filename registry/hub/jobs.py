"""Fingerprint jobs: one per Hub repo at its commit, for a fleet of workers or in process.

A job row (``fingerprint_job``) is written when the work is enqueued; a worker *claims* it
(``running``, one attempt more), does it with :func:`fingerprint_repo` (which registers the
repo's weights once per commit, so doing it twice records nothing twice) and *finishes* it
(``done`` or ``failed`` with a note). A job found ``done`` is skipped, so a message delivered
again after a worker died (messages are acknowledged only after the work) costs nothing.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import Session, col, select

from registry.db.models import FingerprintJob, HubRepo, utcnow
from registry.errors import NotFound

JOB_STATES = ("queued", "running", "done", "failed")


@dataclass
class JobsReport:
    """Counts of jobs by state, and the latest failures with their notes."""

    counts: dict[str, int]
    failed: list[dict[str, object]] = field(default_factory=list)

    @property
    def pending(self) -> int:
        return self.counts.get("queued", 0) + self.counts.get("running", 0)


def enqueue_jobs(session: Session, repos: Sequence[HubRepo], endpoint: str) -> list[int]:
    """A job for each repo at its recorded commit that is not done yet (a failed one is queued
    again); returns the ids of the jobs to run. Commits."""
    ids: list[int] = []
    try:
        for repo in repos:
            if repo.sha is None or repo.fingerprinted_sha == repo.sha:
                continue
            job = session.exec(
                select(FingerprintJob).where(
                    FingerprintJob.repo_id == repo.repo_id, FingerprintJob.commit == repo.sha
                )
            ).first()
            if job is None:
                job = FingerprintJob(repo_id=repo.repo_id, commit=repo.sha, endpoint=endpoint)
            elif job.state == "done":
                continue
            elif job.state == "failed":
                job.state, job.updated_at = "queued", utcnow()
            session.add(job)
            session.flush()
            ids.append(job.id or 0)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return ids


def claim_job(session: Session, job_id: int, worker: str) -> FingerprintJob | None:
    """Mark the job running for ``worker`` and return it; None when it is done already (a
    redelivered message). Raises :class:`NotFound` for an unknown id. Commits."""
    job = session.get(FingerprintJob, job_id)
    if job is None:
        raise NotFound(f"no fingerprint job {job_id}")
    if job.state == "done":
        return None
    job.state, job.worker, job.updated_at = "running", worker[:200], utcnow()
    job.attempts += 1
    session.add(job)
    session.commit()
    return job


def finish_job(session: Session, job_id: int, *, failed: bool, note: str) -> None:
    job = session.get(FingerprintJob, job_id)
    if job is None:
        return
    job.state = "failed" if failed else "done"
    job.note, job.updated_at = note[:500], utcnow()
    session.add(job)
    session.commit()


def jobs_report(session: Session, job_ids: Sequence[int] | None = None) -> JobsReport:
    """Jobs by state (of ``job_ids`` only, when given) and the ten latest failures."""
    query = select(FingerprintJob.state, func.count()).group_by(FingerprintJob.state)
    failed_q = select(FingerprintJob).where(FingerprintJob.state == "failed")
    if job_ids is not None:
        query = query.where(col(FingerprintJob.id).in_(list(job_ids)))
        failed_q = failed_q.where(col(FingerprintJob.id).in_(list(job_ids)))
    counts = dict.fromkeys(JOB_STATES, 0)
    for state, n in session.exec(query).all():
        counts[state] = int(n)
    failed: list[dict[str, object]] = [
        {"repo": j.repo_id, "commit": j.commit, "attempts": j.attempts, "note": j.note}
        for j in session.exec(failed_q.order_by(col(FingerprintJob.updated_at).desc()).limit(10))
    ]
    return JobsReport(counts=counts, failed=failed)


def worker_name() -> str:
    """``host:pid``, as the job rows name who ran them."""
    return f"{socket.gethostname()}:{os.getpid()}"


# fingerprints one repo (with the Hub at the job's endpoint) and returns a note on the outcome
FingerprintOne = Callable[[Session, HubRepo, str], str]


def run_job(
    sessions: Callable[[], Session], job_id: int, fingerprint: FingerprintOne, worker: str
) -> str:
    """Claim job ``job_id``, fingerprint its repo with ``fingerprint`` (which returns a note)
    and finish it; returns the note ("" when the job was done already)."""
    with sessions() as session:
        job = claim_job(session, job_id, worker)
        if job is None:
            return ""
        repo = session.exec(select(HubRepo).where(HubRepo.repo_id == job.repo_id)).first()
        if repo is None or repo.sha != job.commit:
            note = f"{job.repo_id} is no longer at {job.commit[:12]}; a newer sync queues it"
            finish_job(session, job_id, failed=False, note=note)
            return note
        try:
            note = fingerprint(session, repo, job.endpoint)
        except Exception as exc:  # noqa: BLE001 - the job records any failure, the fleet goes on
            session.rollback()
            note = f"{type(exc).__name__}: {exc}"
            finish_job(session, job_id, failed=True, note=note)
            return note
        finish_job(session, job_id, failed=False, note=note)
        return note


def wait_for_jobs(
    sessions: Callable[[], Session],
    job_ids: Sequence[int],
    *,
    timeout: float | None = None,
    poll: float = 1.0,
    on_progress: Callable[[JobsReport], None] | None = None,
) -> JobsReport:
    """Poll until none of ``job_ids`` is queued or running (or ``timeout`` seconds pass)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        with sessions() as session:
            report = jobs_report(session, job_ids)
        if on_progress is not None:
            on_progress(report)
        if report.pending == 0 or (deadline is not None and time.monotonic() > deadline):
            return report
        time.sleep(poll)
