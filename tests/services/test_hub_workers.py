"""The worker fleet on a real broker: two Celery workers share one Redis queue of fingerprint
jobs; one is killed with SIGKILL mid-job and nothing is lost or recorded twice. Without a
broker the same jobs run in process."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from registry.config import Settings
from registry.db import make_engine, make_session_factory, upgrade_database
from registry.db.models import FingerprintJob, HubRepo, LogLeaf, Variant
from registry.hub.jobs import enqueue_jobs, jobs_report, wait_for_jobs
from registry.hub.reader import HubReader
from registry.hub.sync import sync_root
from registry.hub.worker import run_jobs
from registry.services.safeguards.policy import load_policy
from tests.hub_server import FakeHub, HubRepoSpec, HubServer, zoo_files

ZOO = Path(__file__).resolve().parents[1] / "fixtures" / "zoo"
BROKERS = {
    "redis": os.environ.get("PROVREG_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
    "rabbitmq": os.environ.get("PROVREG_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//"),
}
ROOT = "zoo/llama-b0"
CHILDREN = ("llama-b0-ft", "llama-b0-lora", "llama-b0-abliterated")


def _family() -> FakeHub:
    repos = [HubRepoSpec(id=ROOT, files=zoo_files(ZOO / "llama-b0"))]
    repos += [
        HubRepoSpec(id=f"wild/{c}", parents=[(ROOT, "finetune")], files=zoo_files(ZOO / c))
        for c in CHILDREN
    ]
    return FakeHub(repos)


def _reachable(url: str) -> bool:
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1)
        return True
    except Exception:  # noqa: BLE001 - any failure means no broker here
        return False


@pytest.fixture(params=sorted(BROKERS))
def broker(request: pytest.FixtureRequest) -> Iterator[str]:
    url = BROKERS[request.param]
    if not _reachable(url):
        if os.environ.get("CI", "").lower() == "true" and request.param == "redis":
            pytest.fail(f"Redis is not reachable at {url}", pytrace=False)
        pytest.skip(f"{request.param} is not reachable at {url}")
    yield url


def _recorded(tmp_path: Path, server_url: str) -> tuple[str, list[int]]:
    """A file database with the family synced (not fingerprinted) and its jobs enqueued."""
    url = f"sqlite:///{tmp_path / 'fleet.db'}"
    engine = make_engine(url=url)
    upgrade_database(engine)
    sessions = make_session_factory(engine)
    with sessions() as session:
        hub = HubReader(server_url, None, sleep=lambda _s: None)
        sync_root(session, hub, ROOT, load_policy())
        repos = list(session.exec(select(HubRepo)))
        ids = enqueue_jobs(session, repos, server_url)
    engine.dispose()
    return url, ids


def _settings(url: str, hub_url: str, home: Path, **extra: object) -> Settings:
    return Settings(
        home=home,
        database_url=url,
        hf_endpoint=hub_url,
        hub_max_retries=1,
        **extra,  # type: ignore[arg-type]
    )


def _start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    code = (
        "from registry.config import Settings\n"
        "from registry.hub.worker import run_worker\n"
        "run_worker(Settings())\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        start_new_session=True,  # so the whole worker (parent and pool) can be killed at once
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _kill(worker: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the worker and its pool, as a lost machine would stop them."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)


def test_two_workers_share_a_queue_and_a_killed_one_loses_nothing(
    broker: str, tmp_path: Path
) -> None:
    fake = _family()
    fake.bandwidth = 300_000  # bytes/s per connection: a job takes a few seconds
    queue = f"provreg-test-{uuid.uuid4().hex[:8]}"
    with HubServer(fake) as server:
        url, ids = _recorded(tmp_path, server.url)
        assert len(ids) == 1 + len(CHILDREN)
        env = {
            **os.environ,
            "PROVREG_HOME": str(tmp_path / "home"),
            "PROVREG_DATABASE_URL": url,
            "PROVREG_BROKER_URL": broker,
            "PROVREG_JOB_QUEUE": queue,
            "PROVREG_JOB_VISIBILITY_TIMEOUT": "4",
            "HF_ENDPOINT": server.url,
            "PROVREG_HUB_MAX_RETRIES": "1",
        }
        workers = [_start_worker(env), _start_worker(env)]
        engine = make_engine(url=url)
        sessions = make_session_factory(engine)
        try:
            run_jobs(_settings(url, server.url, tmp_path / "home",
                               broker_url=broker, job_queue=queue), ids)  # fmt: skip
            victim = _first_running(sessions, timeout=60)
            for w in workers:  # kill the worker that runs it, parent and pool alike
                if _runs(w, victim.worker or ""):
                    _kill(w)
            report = wait_for_jobs(sessions, ids, timeout=120, poll=0.5)
        finally:
            for w in workers:
                _kill(w)
            _purge(broker, queue)
        with sessions() as session:
            assert report.counts["done"] == len(ids), jobs_report(session).failed
            killed = session.get(FingerprintJob, victim.id)
            assert killed is not None and killed.attempts >= 2
            workers_seen = {j.worker for j in session.exec(select(FingerprintJob))}
            assert len(workers_seen) >= 1
            repos = list(session.exec(select(HubRepo)))
            assert all(r.fingerprinted_sha == r.sha for r in repos)
            registered = session.exec(
                select(func.count()).select_from(Variant).where(Variant.digest.is_not(None))  # type: ignore[union-attr]
            ).one()
            assert registered == len(ids)
            leaves = session.exec(
                select(func.count()).where(LogLeaf.kind == "variant.registered")
            ).one()
            assert leaves == len(ids)  # nothing recorded twice
        engine.dispose()


def _first_running(sessions, timeout: float) -> FingerprintJob:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sessions() as session:
            job = session.exec(
                select(FingerprintJob).where(FingerprintJob.state == "running")
            ).first()
            if job is not None and job.worker:
                return job
        time.sleep(0.1)
    raise AssertionError("no job started running")


def _runs(worker: subprocess.Popen[bytes], name: str) -> bool:
    """Whether ``name`` (host:pid) is the worker process or one of its pool's children."""
    pid = int(name.rsplit(":", 1)[-1])
    if pid == worker.pid:
        return True
    try:
        return os.getpgid(pid) == worker.pid
    except ProcessLookupError:
        return False


def _purge(broker: str, queue: str) -> None:
    from kombu import Connection

    with Connection(broker) as connection:
        connection.default_channel.queue_delete(queue)


def test_without_a_broker_jobs_run_in_process(tmp_path: Path) -> None:
    with HubServer(_family()) as server:
        url, ids = _recorded(tmp_path, server.url)
        run_jobs(_settings(url, server.url, tmp_path / "home"), ids)
        engine = make_engine(url=url)
        with Session(engine) as session:
            report = jobs_report(session, ids)
            assert report.counts["done"] == len(ids) and report.pending == 0
            again = enqueue_jobs(session, list(session.exec(select(HubRepo))), server.url)
            assert again == []  # every repo is fingerprinted at its commit
        engine.dispose()
