"""`provreg hub scan`, `provreg hub jobs` and `provreg worker` through the real CLI."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlmodel import Session

from registry.config import Settings
from tests.cli.conftest import CliRunner
from tests.hub_server import FakeHub, HubRepoSpec, HubServer, zoo_files
from tests.services.test_hub_scan import ROOT, ZOO, _hub, _register_root


@pytest.fixture
def hub() -> Iterator[tuple[FakeHub, HubServer]]:
    fake = _hub()
    with HubServer(fake) as server:
        yield fake, server


def test_scan_fingerprints_and_reports_why(
    session: Session, provreg: CliRunner, hub: tuple[FakeHub, HubServer]
) -> None:
    _register_root(session)
    _fake, server = hub
    r = provreg(
        "hub", "scan", ROOT, "--search", "llama", "--fingerprint", "--endpoint", server.url,
        "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    doc = r.json()
    assert (doc["listed"], doc["examined"], doc["exact_copies"], doc["skipped"]) == (5, 4, 1, 1)
    assert doc["jobs"] == {"queued": 0, "running": 0, "done": 3, "failed": 0}
    by_repo = {m["repo"]: m for m in doc["matches"]}
    assert by_repo["mirror/llama-copy"]["relation"] == "repackaged"
    assert "LFS SHA-256" in by_repo["mirror/llama-copy"]["why"]
    assert by_repo["anon/llama-uncensored"]["relation"] == "finetune"
    assert by_repo["anon/llama-q8-gguf"]["relation"] == "quantized"
    assert "other/llama-independent" not in by_repo
    text = provreg("hub", "scan", ROOT, "--search", "llama", "--endpoint", server.url)
    assert text.code == 0 and "skipped other/bert-llama-named: architecture" in text.out
    jobs = provreg("hub", "jobs", "--json")
    assert jobs.code == 0 and jobs.json()["counts"]["done"] == 3
    assert jobs.json()["broker"] is None


def test_watch_scans_each_root_after_its_sync(
    session: Session, provreg: CliRunner, hub: tuple[FakeHub, HubServer]
) -> None:
    _register_root(session)
    fake, server = hub
    fake.add(HubRepoSpec(id=ROOT, files=zoo_files(ZOO / "llama-b0")))  # the root, on the Hub
    r = provreg(
        "hub", "watch", ROOT, "--once", "--scan", "--search", "llama", "--fingerprint",
        "--endpoint", server.url, "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["iterations"] == 1 and [s["root"] for s in doc["syncs"]] == [ROOT]
    [scan] = doc["scans"]
    assert scan["root"] == ROOT and scan["already_known"] == 1  # the root, listed too
    assert (scan["examined"], scan["exact_copies"], scan["skipped"]) == (4, 1, 1)
    assert scan["jobs"]["done"] == 3
    relations = {m["repo"]: m["relation"] for m in scan["matches"]}
    assert relations["anon/llama-uncensored"] == "finetune"
    assert relations["mirror/llama-copy"] == "repackaged"

    # the next round finds everything known or done: nothing fingerprinted again
    text = provreg(
        "hub", "watch", ROOT, "--once", "--scan", "--author", "anon", "--fingerprint",
        "--endpoint", server.url,
    )  # fmt: skip
    assert text.code == 0, text.err
    assert f"scan of {ROOT}: listed 2, examined 0" in text.out
    assert "fingerprint jobs: 0 done" in text.out


def test_watch_scan_options_go_together(provreg: CliRunner, hub: tuple[FakeHub, HubServer]) -> None:
    _fake, server = hub
    r = provreg("hub", "watch", ROOT, "--once", "--scan", "--endpoint", server.url)
    assert r.code == 1 and "--scan needs something to list by" in r.err
    r = provreg("hub", "watch", ROOT, "--once", "--search", "llama", "--endpoint", server.url)
    assert r.code == 1 and "add --scan" in r.err


def test_scan_and_worker_errors(provreg: CliRunner, hub: tuple[FakeHub, HubServer]) -> None:
    _fake, server = hub
    r = provreg("hub", "scan", ROOT, "--search", "llama", "--endpoint", server.url)
    assert r.code == 1 and "not registered" in r.err
    r = provreg("hub", "scan", ROOT, "--endpoint", server.url)
    assert r.code == 1
    r = provreg("worker")
    assert r.code == 1 and "PROVREG_BROKER_URL" in r.err


def test_sync_with_a_broker_queues_jobs_and_no_wait_returns(
    session: Session,
    provreg: CliRunner,
    settings: Settings,
    hub: tuple[FakeHub, HubServer],
) -> None:
    """With PROVREG_BROKER_URL the jobs go to the broker's queue for `provreg worker`s;
    --no-wait returns at once and `hub jobs` shows them queued."""
    from kombu import Connection

    from tests.services.test_hub_workers import BROKERS, _reachable

    broker = BROKERS["redis"]
    if not _reachable(broker):
        pytest.skip(f"Redis is not reachable at {broker}")
    _register_root(session)
    _fake, server = hub
    settings.broker_url = broker
    settings.job_queue = f"provreg-test-{uuid.uuid4().hex[:8]}"
    try:
        r = provreg(
            "hub", "scan", ROOT, "--search", "llama", "--fingerprint", "--no-wait",
            "--endpoint", server.url, "--json",
        )  # fmt: skip
        assert r.code == 0, r.err
        assert r.json()["jobs"]["queued"] == 3
        jobs = provreg("hub", "jobs", "--json").json()
        assert jobs["counts"]["queued"] == 3 and jobs["broker"].startswith("redis://")
        with Connection(broker) as connection:
            queued = connection.default_channel.client.llen(settings.job_queue)
        assert queued == 3  # the messages wait on the broker for a worker
    finally:
        with Connection(broker) as connection:
            connection.default_channel.queue_delete(settings.job_queue)
