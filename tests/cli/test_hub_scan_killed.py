"""A `provreg hub scan --fingerprint` killed part way (SIGKILL, in a real subprocess) and run
again records what one uninterrupted scan records, and nothing twice: killed while it examines
the listing, and killed while it fingerprints."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.hub_server import FakeHub, HubFileSpec, HubRepoSpec, HubServer, zoo_files

REPO = Path(__file__).resolve().parents[2]
ZOO = REPO / "tests" / "fixtures" / "zoo"
ROOT = "zoo/llama-b0"


def _hub() -> FakeHub:
    """Copies, undeclared derivatives, independent models and another architecture."""
    gguf = ZOO / "llama-b0-gguf-q8_0.gguf"
    dirs = {
        "mirror/llama-copy": "llama-b0",
        "anon/llama-uncensored": "llama-b0-ft",
        "anon/llama-bf16": "llama-b0-bf16",
        "anon/llama-abliterated": "llama-b0-abliterated",
        "anon/llama-sibling": "llama-b0-ft-sibling",
        "other/llama-independent": "llama-b1",
        "other/llama-independent-ft": "llama-b1-ft",
        "mirror/llama-copy-again": "llama-b0",
        "other/bert-llama-named": "bert-b0",
    }
    repos = [HubRepoSpec(id=repo, files=zoo_files(ZOO / d)) for repo, d in dirs.items()]
    repos.insert(
        3,
        HubRepoSpec(id="anon/llama-q8-gguf", files={gguf.name: HubFileSpec.of(gguf.read_bytes())}),
    )
    return FakeHub(repos, page_size=3)


def _env(db: Path, home: Path, endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVREG_")}
    env |= {"PROVREG_HOME": str(home), "PROVREG_DATABASE_URL": f"sqlite:///{db}",
            "HF_ENDPOINT": endpoint}  # fmt: skip
    return env


def _scan(db: Path, home: Path, endpoint: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "hub", "scan", ROOT, "--search", "llama", "--fingerprint",
         "--json"],
        env=_env(db, home, endpoint), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def _registered_root(db: Path, home: Path, endpoint: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "cli", "register", str(ZOO / "llama-b0"), "--name", ROOT],
        env=_env(db, home, endpoint), cwd=REPO, capture_output=True, check=True, timeout=300,
    )  # fmt: skip


def _query(db: Path, sql: str) -> list[tuple[object, ...]]:
    try:
        with sqlite3.connect(db, timeout=10) as c:
            return c.execute(sql).fetchall()
    except sqlite3.Error:
        return []


def _recorded(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Everything a scan records, by content (ids and times aside); a row recorded twice shows
    as a repeated tuple."""
    return {
        "variants": sorted(_query(db, "SELECT name, revision, digest FROM variant")),
        "repos": sorted(_query(db,
            "SELECT r.repo_id, r.sha, r.fingerprinted_sha, c.name FROM hub_repo r "
            "LEFT JOIN variant c ON c.id = r.exact_copy_of")),
        "edges": sorted(_query(db,
            "SELECT c.name, p.name, e.relation, e.source, e.status FROM lineage_edge e "
            "JOIN variant c ON c.id = e.child_id JOIN variant p ON p.id = e.parent_id")),
        "files": sorted(_query(db,
            "SELECT v.name, f.path, f.sha256 FROM variant_file f "
            "JOIN variant v ON v.id = f.variant_id")),
        "hub_files": sorted(_query(db,
            "SELECT r.repo_id, f.path, f.sha256 FROM hub_file f "
            "JOIN hub_repo r ON r.id = f.hub_repo_id")),
        "sketches": sorted(_query(db,
            "SELECT v.name FROM variant_sketch s JOIN variant v ON v.id = s.variant_id")),
        "jobs": sorted(_query(db, 'SELECT repo_id, "commit", state FROM fingerprint_job')),
        "log": _query(db, "SELECT COUNT(*) FROM log_leaf"),
        "snapshots": sorted(_query(db,
            "SELECT v.name, s.window, s.count FROM download_snapshot s "
            "JOIN variant v ON v.id = s.variant_id")),
    }  # fmt: skip


def _examined(db: Path) -> int:
    return len(_query(db, "SELECT id FROM hub_repo"))


def _fingerprinted(db: Path) -> int:
    return len(_query(db, "SELECT id FROM fingerprint_job WHERE state = 'done'"))


def _finished(proc: subprocess.Popen[bytes]) -> None:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert b'"root"' in out


def _killed_then_rerun(
    db: Path, home: Path, fake: FakeHub, url: str, progress: Callable[[Path], int], at: int
) -> int:
    """Scan into ``db``, SIGKILL it once ``progress`` reaches ``at``, scan again; returns the
    progress it was killed at."""
    fake.delay = 0.05  # slow enough to be killed in the middle
    proc = _scan(db, home, url)
    deadline = time.monotonic() + 300
    while progress(db) < at and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = progress(db)
    fake.delay = 0
    _finished(_scan(db, home, url))
    return killed_at


def test_a_killed_scan_resumes_to_an_uninterrupted_scans_records(tmp_path: Path) -> None:
    fake = _hub()
    whole, examining, fingerprinting = (tmp_path / f"{n}.db" for n in ("whole", "ex", "fp"))
    with HubServer(fake) as server:
        for db in (whole, examining, fingerprinting):
            _registered_root(db, tmp_path, server.url)
        _finished(_scan(whole, tmp_path, server.url))
        expected = _recorded(whole)
        assert len(expected["edges"]) >= 5 and expected["jobs"] and expected["snapshots"]
        # killed while it examines the listing (3 of 10 repos recorded)...
        at = _killed_then_rerun(examining, tmp_path, fake, server.url, _examined, 3)
        assert 0 < at < _examined(whole)
        # ...and while it fingerprints (2 of the jobs done, one perhaps part way)
        at = _killed_then_rerun(fingerprinting, tmp_path, fake, server.url, _fingerprinted, 2)
        assert 0 < at < _fingerprinted(whole)
    assert _recorded(examining) == expected
    assert _recorded(fingerprinting) == expected
