"""`provreg hub sync|watch` and `provreg downloads NAME|ingest` through the real CLI (locally
and against the app over HTTP), the HTTP routes, and a sync killed mid-way in a subprocess."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from registry.config import Settings
from registry.db.models import DownloadEvent, DownloadSnapshot
from registry.services import create_token, register_variant
from tests.cli.conftest import CliRunner
from tests.factories import variant_request
from tests.hub_server import FakeHub, HubServer, generated_tree

ROOT = "base-org/base"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def hub() -> Iterator[tuple[FakeHub, HubServer]]:
    fake = FakeHub(list(generated_tree(12, root=ROOT, fanout=3)), page_size=2)
    with HubServer(fake) as server:
        yield fake, server


def test_sync_then_downloads_and_reach(provreg: CliRunner, hub: tuple[FakeHub, HubServer]) -> None:
    fake, server = hub
    r = provreg("hub", "sync", ROOT, "--endpoint", server.url, "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["root"] == ROOT and doc["repos"] == 12 and doc["new"] == 12
    r = provreg("downloads", ROOT, "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert {"name", "revision", "series", "reach"} <= set(doc)
    assert (doc["name"], doc["revision"]) == (ROOT, "main")
    root = fake.repos[ROOT]
    assert sorted((p["window"], p["count"], p["source"]) for p in doc["series"]) == [
        ("30d", root.downloads, "hub"), ("all", root.downloads_all_time, "hub"),
    ]  # fmt: skip
    reach = doc["reach"]
    assert reach["own"] == root.downloads and reach["descendants"] == 11
    assert reach["subtree"] == sum(r.downloads for r in fake.repos.values())
    assert reach["subtree_all_time"] == sum(r.downloads_all_time for r in fake.repos.values())
    # a second sync, counters grown: a series with growth
    for repo in fake.repos.values():
        repo.downloads_all_time += 100
    assert provreg("hub", "sync", ROOT, "--endpoint", server.url, "--json").code == 0
    doc = provreg("downloads", f"{ROOT}@main", "--window", "1h", "--json").json()
    assert len(doc["series"]) == 4
    assert doc["growth"]["counter"] == "all"
    # `downloads record` still works beside `downloads NAME`
    r = provreg("downloads", "record", ROOT, "--count", "5", "--at", "2020-01-01", "--json")
    assert r.code == 0, r.err
    text = provreg("downloads", ROOT)
    assert text.code == 0 and "reach" in text.out


def test_sync_errors_are_one_line(
    provreg: CliRunner, settings: Settings, hub: tuple[FakeHub, HubServer]
) -> None:
    _fake, server = hub
    settings.hub_max_retries = 1
    r = provreg("hub", "sync", "nobody/nothing", "--endpoint", server.url, "--json")
    assert r.code == 1 and r.json()["error"]["code"] == "hub_repo_not_found"
    assert "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1
    r = provreg("hub", "sync", ROOT, "--endpoint", "http://127.0.0.1:9", "--json")
    assert r.code == 1 and r.json()["error"]["code"] == "hub_unavailable"
    r = provreg("downloads", "nobody/nothing", "--json")
    assert r.code == 1 and r.json()["error"]["code"] == "variant_not_found"


def test_watch_runs_bounded_rounds(provreg: CliRunner, hub: tuple[FakeHub, HubServer]) -> None:
    _fake, server = hub
    r = provreg(
        "hub", "watch", ROOT, "--endpoint", server.url, "--interval", "0", "--iterations", "2",
        "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["iterations"] == 2 and [s["new"] for s in doc["syncs"]] == [12, 0]
    assert doc["syncs"][1]["unchanged"] == 12


LOG = """timestamp,repo,user_hash,country,client
2026-11-01T10:00:00Z,acme/chat,u1,de,hf_hub
2026-11-02T10:00:00Z,acme/chat,u2,FR,
2026-11-20T10:00:00Z,acme/chat@main,u1,de,git
2026-09-01T10:00:00Z,acme/chat,u3,us,
2026-11-21T10:00:00Z,acme/tool,u9,,
"""


def test_ingest_is_idempotent_and_all_or_nothing(
    provreg: CliRunner, session: Session, tmp_path: Path
) -> None:
    register_variant(session, variant_request("acme/chat"))
    register_variant(session, variant_request("acme/tool"))
    log = tmp_path / "log.csv"
    log.write_text(LOG)
    r = provreg("downloads", "ingest", log, "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert (doc["rows"], doc["new_events"], doc["duplicates"]) == (5, 5, 0)
    chat = next(v for v in doc["variants"] if v["name"] == "acme/chat")
    assert (chat["events"], chat["users"], chat["count_30d"]) == (4, 3, 3)
    snapshots = len(session.exec(select(DownloadSnapshot)).all())
    r = provreg("downloads", "ingest", log, "--json")
    assert r.code == 0 and (r.json()["new_events"], r.json()["duplicates"]) == (0, 5)
    assert len(session.exec(select(DownloadSnapshot)).all()) == snapshots
    assert len(session.exec(select(DownloadEvent)).all()) == 5
    doc = provreg("downloads", "acme/chat", "--json").json()
    assert sorted((p["window"], p["count"]) for p in doc["series"]) == [("30d", 3), ("all", 4)]
    assert all(p["source"] == "ingest" for p in doc["series"])
    # a bad row anywhere: nothing stored, the line and field named
    bad = tmp_path / "bad.csv"
    bad.write_text(LOG + "2026-11-22T00:00:00Z,acme/chat,u7,de,\nyesterday,acme/chat,u8,de,\n")
    r = provreg("downloads", "ingest", bad, "--json")
    assert r.code == 1
    err = r.json()["error"]
    assert err["code"] == "download_log_invalid"
    assert err["detail"]["line"] == 8 and err["detail"]["field"] == "timestamp"
    assert len(session.exec(select(DownloadEvent)).all()) == 5
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("timestamp,repo\n2026-11-01T00:00:00Z,nobody/nothing\n")
    r = provreg("downloads", "ingest", unknown, "--json")
    assert r.code == 1 and r.json()["error"]["detail"]["field"] == "repo"
    r = provreg("downloads", "ingest", tmp_path / "missing.csv", "--json")
    assert r.code == 1


def test_http_downloads_and_ingest_scopes(session: Session, http: TestClient) -> None:
    register_variant(session, variant_request("acme/chat"))
    register_variant(session, variant_request("other/model"))
    acme, _ = create_token(session, scope="publish", namespace="acme")
    evaluator, _ = create_token(session, scope="evaluate")
    body = {"content": "timestamp,repo\n2026-11-01T00:00:00Z,acme/chat\n"}
    assert http.post("/v1/downloads/ingest", json=body).status_code == 401
    r = http.post(
        "/v1/downloads/ingest", json=body, headers={"Authorization": f"Bearer {evaluator}"}
    )
    assert r.status_code == 403
    r = http.post("/v1/downloads/ingest", json=body, headers={"Authorization": f"Bearer {acme}"})
    assert r.status_code == 200 and r.json()["new_events"] == 1
    other = {"content": "timestamp,repo\n2026-11-01T00:00:00Z,other/model\n"}
    r = http.post("/v1/downloads/ingest", json=other, headers={"Authorization": f"Bearer {acme}"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
    r = http.get("/v1/downloads/acme/chat", params={"revision": "main"})
    assert r.status_code == 200
    assert r.json()["reach"]["own"] == 1
    assert http.get("/v1/downloads/acme/chat", params={"window": "soon"}).status_code == 400


# --- killed mid-way --------------------------------------------------------------------------


def _cli(db: Path, home: Path, endpoint: str, *args: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PROVREG_HOME": str(home),
        "PROVREG_DATABASE_URL": f"sqlite:///{db}",
        "HF_ENDPOINT": endpoint,
    }
    env.pop("PROVREG_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "cli", *args, "--json"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _state(db: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str, int]], int]:
    with sqlite3.connect(db) as c:
        repos = sorted(c.execute("SELECT repo_id, sha FROM hub_repo").fetchall())
        snaps = sorted(
            c.execute(
                "SELECT v.name, s.window, s.count FROM download_snapshot s "
                "JOIN variant v ON v.id = s.variant_id"
            ).fetchall()
        )
        edges = c.execute("SELECT COUNT(*) FROM lineage_edge").fetchone()[0]
    return repos, snaps, edges


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(db) as c:
            return int(c.execute("SELECT COUNT(*) FROM hub_repo").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_killed_sync_resumes_to_the_same_result(tmp_path: Path) -> None:
    fake = FakeHub(list(generated_tree(40, root=ROOT, fanout=4)), page_size=3)
    with HubServer(fake) as server:
        fake.delay = 0.03  # slow enough to be killed in the middle
        killed = tmp_path / "killed.db"
        proc = _cli(killed, tmp_path, server.url, "hub", "sync", ROOT)
        deadline = time.monotonic() + 60
        while _count(killed) < 10 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        interrupted = _count(killed)
        assert 0 < interrupted < 40
        fake.delay = 0
        # restarted as a watch round: it resumes the interrupted sync
        done = _cli(killed, tmp_path, server.url, "hub", "watch", ROOT, "--once")
        out, err = done.communicate(timeout=120)
        assert done.returncode == 0, err.decode()
        assert b'"resumed": true' in out
    # what an uninterrupted sync records: every repo once at its commit, each counter once
    # per window, every declared edge once
    repos, snaps, edges = _state(killed)
    assert repos == sorted((r.id, r.sha) for r in fake.repos.values())
    assert snaps == sorted(
        [(r.id, "30d", r.downloads) for r in fake.repos.values()]
        + [(r.id, "all", r.downloads_all_time) for r in fake.repos.values()]
    )
    assert edges == sum(len(r.parents) for r in fake.repos.values())
