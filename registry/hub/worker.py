"""The worker fleet: fingerprint jobs as Celery tasks, or in process without a broker.

``PROVREG_BROKER_URL`` names the broker (``redis://...`` by default, ``amqp://...`` for
RabbitMQ). Tasks are acknowledged late and rejected when their worker is lost, one at a time
per worker process, so a worker killed with ``kill -9`` mid-job leaves its message to be
delivered again; the job row makes the second delivery find the work done, or do it once.
Without a broker, :func:`run_jobs` runs the jobs in the calling process, one after another.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from registry.config import Settings
from registry.db.models import HubRepo
from registry.hub.jobs import run_job, worker_name

if TYPE_CHECKING:
    from celery import Celery

TASK_NAME = "provreg.fingerprint_repo"


def fingerprinter(settings: Settings) -> Callable[[Session, HubRepo], str]:
    """Fingerprint one observed repo at its recorded commit, as ``hub sync --fingerprint``
    does, with the settings' Hub, limits and scratch space; returns the outcome's note."""
    from registry.hub.fingerprint import fingerprinter_for
    from registry.hub.reader import HubReader

    run = fingerprinter_for(settings, HubReader.from_settings(settings))

    def fingerprint(session: Session, repo: HubRepo) -> str:
        outcome = run(session, repo)
        return "" if outcome is None else outcome.note

    return fingerprint


@lru_cache(maxsize=4)
def _sessions(url: str) -> Callable[[], Session]:
    """One engine per database URL per worker process."""
    from registry.db import make_engine, make_session_factory

    return make_session_factory(make_engine(url=url))


def run_one(settings: Settings, job_id: int) -> str:
    """Do job ``job_id`` against the settings' database; the task body, and the in-process
    path."""
    sessions = _sessions(settings.effective_database_url)
    return run_job(sessions, job_id, fingerprinter(settings), worker_name())


def _transport_options(visibility_timeout: int) -> dict[str, int]:
    """Redis redelivers a message left unacknowledged (its worker died) ``visibility_timeout``
    seconds after delivery, at the next sweep for such messages; sweeps come about every
    ``interval * throttle`` seconds (kombu's defaults: 100 s), so a short timeout sweeps more
    often."""
    interval = max(1, min(10, visibility_timeout // 3))
    throttle = 1 if visibility_timeout <= 60 else 10
    return {
        "visibility_timeout": visibility_timeout,
        "unacked_restore_interval": interval,
        "unacked_restore_throttle": throttle,
    }


def make_celery(settings: Settings) -> Celery:
    """The Celery app for ``settings.broker_url`` with provreg's one task registered."""
    from celery import Celery

    app = Celery("provreg", broker=settings.broker_url)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=settings.job_queue,
        broker_connection_retry_on_startup=True,
        broker_transport_options=_transport_options(settings.job_visibility_timeout),
        worker_hijack_root_logger=False,
        # no broadcast control queue: on RabbitMQ it is exclusive to one worker per node name
        worker_enable_remote_control=False,
    )

    @app.task(name=TASK_NAME)
    def fingerprint_task(job_id: int) -> str:
        return run_one(settings, job_id)

    return app


def send_jobs(settings: Settings, job_ids: Sequence[int]) -> None:
    """Put ``job_ids`` on the broker's queue for the fleet."""
    app = make_celery(settings)
    with app.connection_for_write() as connection:
        for job_id in job_ids:
            app.send_task(TASK_NAME, args=[job_id], connection=connection)


def run_jobs(settings: Settings, job_ids: Sequence[int]) -> None:
    """Run the jobs: on the fleet when a broker is configured, else here, one by one."""
    if settings.broker_url:
        send_jobs(settings, job_ids)
        return
    for job_id in job_ids:
        run_one(settings, job_id)


def run_worker(settings: Settings, *, concurrency: int = 1, loglevel: str = "WARNING") -> None:
    """Take jobs from the broker until stopped (``provreg worker``)."""
    app = make_celery(settings)
    argv: list[Any] = [
        "worker",
        f"--concurrency={concurrency}",
        f"--loglevel={loglevel}",
        f"--queues={settings.job_queue}",
        f"--hostname=provreg-{os.getpid()}@%h",  # many workers per machine, each its own name
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    app.worker_main(argv)
