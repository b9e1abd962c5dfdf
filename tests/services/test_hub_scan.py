"""`hub scan`: undeclared copies and derivatives of a registered family, found on the loopback
Hub by listing, size and architecture, LFS digests, then fingerprint jobs."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import Session, select

from registry.db.models import DownloadSnapshot, HubRepo, LineageEdge, Variant, VariantSketch
from registry.errors import InvalidInput, VariantNotFound
from registry.hub.fingerprint import sketch_repo_remotely
from registry.hub.jobs import enqueue_jobs, run_job
from registry.hub.reader import HubReader
from registry.hub.scan import examined_repos, scan_root
from registry.services import register_variant
from registry.services.safeguards.policy import load_policy
from registry.weights import fingerprint_source, open_model
from registry.weights.sketching import sketch_source
from schemas import VariantCreate
from tests.hub_server import FakeHub, HubFileSpec, HubRepoSpec, HubServer, zoo_files

ZOO = Path(__file__).resolve().parents[1] / "fixtures" / "zoo"
ROOT = "zoo/llama-b0"


def _hub() -> FakeHub:
    gguf = ZOO / "llama-b0-gguf-q8_0.gguf"
    return FakeHub(
        [
            # a re-upload with the card stripped: byte-identical files, no base_model
            HubRepoSpec(id="mirror/llama-copy", files=zoo_files(ZOO / "llama-b0")),
            # an undeclared fine-tune and an undeclared GGUF quantization
            HubRepoSpec(id="anon/llama-uncensored", files=zoo_files(ZOO / "llama-b0-ft")),
            HubRepoSpec(
                id="anon/llama-q8-gguf", files={gguf.name: HubFileSpec.of(gguf.read_bytes())}
            ),
            # the same size and architecture, trained independently: must be left alone
            HubRepoSpec(id="other/llama-independent", files=zoo_files(ZOO / "llama-b1")),
            # another architecture: not even examined
            HubRepoSpec(id="other/bert-llama-named", files=zoo_files(ZOO / "bert-b0")),
        ]
    )


def _register_root(session: Session) -> None:
    source = open_model(ZOO / "llama-b0")
    fp = fingerprint_source(source)
    fp.sketch = base64.b64encode(sketch_source(source).to_bytes()).decode()
    register_variant(session, VariantCreate(name=ROOT, fingerprint=fp))


def _edge(session: Session, child: str, parent: str) -> LineageEdge | None:
    c = session.exec(select(Variant).where(Variant.name == child)).one()
    p = session.exec(select(Variant).where(Variant.name == parent)).one()
    return session.exec(
        select(LineageEdge).where(LineageEdge.child_id == c.id, LineageEdge.parent_id == p.id)
    ).first()


def test_scan_finds_undeclared_copies_and_derivatives(
    session: Session, session_factory: Callable[[], Session]
) -> None:
    _register_root(session)
    fake = _hub()
    with HubServer(fake) as server:
        hub = HubReader(server.url, None, sleep=lambda _s: None)
        result = scan_root(session, hub, ROOT, load_policy(), searches=["llama"])
        by_repo = {f.repo: f for f in result.findings}
        assert result.listed == 5
        assert by_repo["other/bert-llama-named"].outcome == "skipped"
        assert "architecture" in by_repo["other/bert-llama-named"].reason
        copy = by_repo["mirror/llama-copy"]
        assert (copy.outcome, copy.copy_of) == ("copy", f"{ROOT}@main")
        assert not any("/resolve/" in path for _m, path in fake.requests)  # 0 bytes fetched
        assert fake.bytes_served == 0
        edge = _edge(session, "mirror/llama-copy", ROOT)
        assert edge is not None and (edge.relation, edge.source) == ("repackaged", "detected")

        # the rest are fingerprinted as jobs (in process here), which identifies them
        repos = examined_repos(
            session, [r for r in result.recorded_repos() if r != "mirror/llama-copy"]
        )
        ids = enqueue_jobs(session, repos, server.url)
        assert len(ids) == 3

        def fingerprint(s: Session, repo: HubRepo, _endpoint: str) -> str:
            outcome = sketch_repo_remotely(s, hub, repo, max_header_bytes=10**8)
            assert outcome is not None and outcome.fingerprinted, outcome
            return outcome.note

        for job_id in ids:
            run_job(session_factory, job_id, fingerprint, "test")
    session.expire_all()
    finetune = _edge(session, "anon/llama-uncensored", ROOT)
    assert finetune is not None and finetune.source == "detected"
    assert finetune.relation == "finetune"
    quantized = _edge(session, "anon/llama-q8-gguf", ROOT) or _edge(
        session, "anon/llama-q8-gguf", "anon/llama-uncensored"
    )
    assert quantized is not None and quantized.relation == "quantized"
    independent = session.exec(select(Variant).where(Variant.name == "other/llama-independent"))
    lone = independent.one()
    assert session.get(VariantSketch, lone.id) is not None  # sketched remotely...
    edges = session.exec(
        select(LineageEdge).where(
            (LineageEdge.child_id == lone.id) | (LineageEdge.parent_id == lone.id)
        )
    ).all()
    assert edges == []  # ...and left alone


def test_a_scan_resumes_without_repeating_work(session: Session) -> None:
    _register_root(session)
    fake = _hub()
    with HubServer(fake) as server:
        hub = HubReader(server.url, None, sleep=lambda _s: None)
        first = scan_root(session, hub, ROOT, load_policy(), searches=["llama"], limit=2)
        fake.requests.clear()
        again = scan_root(session, hub, ROOT, load_policy(), searches=["llama"])
    assert first.examined + first.skipped == 2
    # repos recorded at their commit are not fetched again: only new ones get a model_info
    done_before = {f.repo for f in first.findings if f.outcome in ("examined", "copy")}
    fetched = {
        "/".join(path.split("?")[0].split("/")[3:5])
        for _m, path in fake.requests
        if path.startswith("/api/models/")
    }
    assert done_before and not fetched & done_before
    assert fetched == set(again.recorded_repos()) - done_before
    recorded = {r.repo_id for r in session.exec(select(HubRepo))}
    assert {"mirror/llama-copy", "anon/llama-uncensored"} <= recorded


def test_scan_input_errors(session: Session) -> None:
    with HubServer(_hub()) as server:
        hub = HubReader(server.url, None, sleep=lambda _s: None)
        with pytest.raises(VariantNotFound):
            scan_root(session, hub, ROOT, load_policy(), searches=["llama"])
        _register_root(session)
        with pytest.raises(InvalidInput):
            scan_root(session, hub, ROOT, load_policy())
        with pytest.raises(InvalidInput):
            scan_root(session, hub, ROOT, load_policy(), searches=["x"], limit=0)


def test_a_scan_run_again_records_only_download_counters_that_changed(session: Session) -> None:
    """A scan has no frontier: run again (or resumed after a kill) it must not observe the same
    figures twice, yet it keeps the counters of the repos it watches current."""
    _register_root(session)
    fake = _hub()
    lone = fake.repos["other/llama-independent"]
    lone.downloads, lone.downloads_all_time = 10, 100

    def snapshots() -> list[tuple[str, int]]:
        variant = session.exec(select(Variant).where(Variant.name == lone.id)).one()
        rows = session.exec(
            select(DownloadSnapshot).where(DownloadSnapshot.variant_id == variant.id)
        )
        return sorted((s.window, s.count) for s in rows)

    with HubServer(fake) as server:
        hub = HubReader(server.url, None, sleep=lambda _s: None)
        scan_root(session, hub, ROOT, load_policy(), searches=["llama"])
        assert snapshots() == [("30d", 10), ("all", 100)]
        scan_root(session, hub, ROOT, load_policy(), searches=["llama"])
        assert snapshots() == [("30d", 10), ("all", 100)]  # the same figures: nothing new
        lone.downloads, lone.downloads_all_time = 12, 102
        again = scan_root(session, hub, ROOT, load_policy(), searches=["llama"])
    assert snapshots() == [("30d", 10), ("30d", 12), ("all", 100), ("all", 102)]
    assert lone.id in again.recorded_repos()
