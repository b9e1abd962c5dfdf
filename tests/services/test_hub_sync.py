"""Hub sync against a Hub-compatible server on loopback, driven by the real huggingface_hub."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session, col, func, select

from registry.db.models import (
    DownloadSnapshot,
    EvalResult,
    HubFile,
    HubRepo,
    HubSyncItem,
    LineageEdge,
    Variant,
)
from registry.errors import HubRepoNotFound, HubUnavailable
from registry.hub.reader import HubReader
from registry.hub.sync import sync_root
from registry.services import register_variant
from registry.services.safeguards.policy import load_policy
from registry.services.trust.audit import audit_log
from tests.factories import variant_request
from tests.hub_server import FakeHub, HubFileSpec, HubRepoSpec, HubServer, generated_tree

ROOT = "base-org/base"
POLICY = load_policy()


def family() -> list[HubRepoSpec]:
    """A root, 13 generated descendants, and hand-made ones: a gated, tagged chat model with
    results in its card and in evalResults, and a merge of two parents."""
    repos = list(generated_tree(14, root=ROOT, fanout=3))
    chat = HubRepoSpec(
        id="wild/chat-uncensored",
        parents=[(ROOT, "finetune")],
        downloads=1234,
        downloads_all_time=5678,
        tags=["uncensored", "text-generation"],
        gated="manual",
        license="llama3",
        files={"model.safetensors": HubFileSpec(size=10, sha256="ab" * 32)},
        model_index=[
            {
                "name": "wild/chat-uncensored",
                "results": [
                    {
                        "task": {"type": "text-generation"},
                        "dataset": {"type": "walledai/HarmBench", "name": "HarmBench"},
                        "metrics": [{"type": "asr", "value": 0.71}],
                    }
                ],
            }
        ],
        eval_results=[
            {"dataset": {"id": "cais/mmlu", "task_id": "default"}, "value": 0.52},
        ],
    )
    merge = HubRepoSpec(
        id="wild/merged",
        parents=[(ROOT, "merge"), (repos[1].id, "merge")],
        downloads=7,
        downloads_all_time=9,
        files={"model-00001-of-00001.safetensors": HubFileSpec(size=11, sha256="cd" * 32)},
    )
    return [*repos, chat, merge]


@pytest.fixture
def hub() -> Iterator[tuple[FakeHub, HubServer]]:
    fake = FakeHub(family(), page_size=1)
    with HubServer(fake) as server:
        yield fake, server


def reader(server: HubServer, **kw: object) -> HubReader:
    return HubReader(server.url, None, sleep=lambda _s: None, **kw)  # type: ignore[arg-type]


def _count(session: Session, model: type, *where: object) -> int:
    return int(session.exec(select(func.count()).select_from(model).where(*where)).one())  # type: ignore[call-overload]


def _variant(session: Session, name: str) -> Variant:
    v = session.exec(select(Variant).where(Variant.name == name)).one()
    return v


def test_sync_records_repos_edges_files_counts_and_results(
    session: Session, hub: tuple[FakeHub, HubServer]
) -> None:
    fake, server = hub
    result = sync_root(session, reader(server), ROOT, POLICY)
    assert result.repos == len(fake.repos) == 16
    assert result.new == 16 and result.changed == 0
    assert _count(session, HubRepo) == 16
    # every repo is a variant observed in the wild, unfingerprinted: no digest
    for repo_id in fake.repos:
        v = _variant(session, repo_id)
        assert v.revision == "main" and v.digest is None
    chat = _variant(session, "wild/chat-uncensored")
    row = session.exec(select(HubRepo).where(HubRepo.variant_id == chat.id)).one()
    assert row.sha == fake.repos["wild/chat-uncensored"].sha
    assert row.gated == "manual" and row.license == "llama3"
    assert "uncensored" in row.tags and f"base_model:finetune:{ROOT}" in row.tags
    files = session.exec(select(HubFile).where(HubFile.hub_repo_id == row.id)).all()
    assert [(f.path, f.sha256) for f in files] == [("model.safetensors", "ab" * 32)]
    # declared edges from the cards, with the card's relation
    base = _variant(session, ROOT)
    edge = session.exec(select(LineageEdge).where(LineageEdge.child_id == chat.id)).one()
    assert (edge.parent_id, edge.relation, edge.source, edge.status) == (
        base.id, "finetune", "declared", "unverified",
    )  # fmt: skip
    merged = _variant(session, "wild/merged")
    parents = session.exec(select(LineageEdge).where(LineageEdge.child_id == merged.id)).all()
    assert sorted(e.relation for e in parents) == ["merge", "merge"] and len(parents) == 2
    for spec in fake.repos.values():
        child = _variant(session, spec.id)
        assert _count(session, LineageEdge, LineageEdge.child_id == child.id) == len(spec.parents)
    # download counters as hub snapshots at the sync's start, both windows
    snaps = session.exec(
        select(DownloadSnapshot).where(DownloadSnapshot.variant_id == chat.id)
    ).all()
    assert sorted((s.window, s.count, s.source) for s in snaps) == [
        ("30d", 1234, "hub"), ("all", 5678, "hub"),
    ]  # fmt: skip
    # results from model-index and from evalResults
    results = session.exec(select(EvalResult).where(EvalResult.variant_id == chat.id)).all()
    assert sorted((r.benchmark, r.metric, r.value, r.source) for r in results) == [
        ("HarmBench", "asr", 0.71, "model-index"),
        ("mmlu", "score", 0.52, "hf-eval-results"),
    ]
    harmbench = next(r for r in results if r.benchmark == "HarmBench")
    assert harmbench.category == "safety-refusal"
    # the frontier is gone once the sync is finished
    assert _count(session, HubSyncItem) == 0
    # the walk used the Hub's tag filters and paged through Link headers
    paths = [p for _m, p in fake.requests]
    assert any("filter=base_model%3Afinetune%3Abase-org%2Fbase" in p for p in paths)
    assert any("cursor=" in p for p in paths)
    # the root's all-time counter comes from model_info with expand, as on the Hub
    assert any(p.startswith(f"/api/models/{ROOT}?expand=") for p in paths)
    root_all = session.exec(
        select(DownloadSnapshot.count).where(
            DownloadSnapshot.variant_id == base.id, DownloadSnapshot.window == "all"
        )
    ).one()
    assert root_all == fake.repos[ROOT].downloads_all_time
    assert all("/resolve/" not in p for p in paths)


def test_resync_is_incremental(session: Session, hub: tuple[FakeHub, HubServer]) -> None:
    fake, server = hub
    sync_root(session, reader(server), ROOT, POLICY)
    evals = _count(session, EvalResult)
    fake.requests.clear()
    chat = fake.repos["wild/chat-uncensored"]
    chat.downloads = 2000
    chat.files["extra.gguf"] = HubFileSpec(size=5, sha256="ef" * 32)
    chat.bump()
    second = sync_root(session, reader(server), ROOT, POLICY)
    assert (second.new, second.changed, second.unchanged) == (0, 1, 15)
    # only the changed repo's files were read again (the root is read to start the sync)
    infos = [p for _m, p in fake.requests if p.startswith("/api/models/") and "blobs" in p]
    assert sorted(infos) == sorted(
        [f"/api/models/{ROOT}?blobs=true",
         f"/api/models/wild/chat-uncensored/revision/{chat.sha}?blobs=true"]
    )  # fmt: skip
    v = _variant(session, "wild/chat-uncensored")
    assert _count(session, HubFile, HubFile.path == "extra.gguf") == 1
    counts = session.exec(
        select(DownloadSnapshot.count)
        .where(DownloadSnapshot.variant_id == v.id, DownloadSnapshot.window == "30d")
        .order_by(col(DownloadSnapshot.observed_at))
    ).all()
    assert counts == [1234, 2000]
    assert _count(session, EvalResult) == evals  # the card's results are not stored twice
    assert _count(session, HubRepo) == 16


def test_sync_honours_429_and_5xx(session: Session, hub: tuple[FakeHub, HubServer]) -> None:
    fake, server = hub
    fake.throttle_every = 4
    fake.fail_every = 7
    fake.misbehave_limit = 4  # listings wait Retry-After + 1 s in huggingface_hub's own backoff
    waits: list[float] = []
    hub_reader = HubReader(server.url, None, sleep=waits.append)
    fake.retry_after = "0"
    result = sync_root(session, hub_reader, ROOT, POLICY)
    assert fake.misbehave_limit == 0  # all four were answered
    assert result.repos == 16
    assert _count(session, HubRepo) == 16


def test_interrupted_sync_resumes_without_losing_or_repeating(
    session: Session, hub: tuple[FakeHub, HubServer]
) -> None:
    fake, server = hub
    fake.fail_every = 9  # with no retries allowed the sync stops part-way
    with pytest.raises(HubUnavailable):
        sync_root(session, reader(server, max_retries=0), ROOT, POLICY)
    partial = _count(session, HubRepo)
    assert 0 < partial < 16
    fake.fail_every = 0
    result = sync_root(session, reader(server), ROOT, POLICY)
    assert result.resumed and result.repos == 16 and result.recorded_now == 16 - partial
    assert _count(session, HubRepo) == 16
    for window in ("30d", "all"):
        assert _count(session, DownloadSnapshot, DownloadSnapshot.window == window) == 16
    assert _count(session, LineageEdge) == sum(len(r.parents) for r in fake.repos.values())


def _mirror_of_a_release(
    session: Session, fake: FakeHub, parents: list[tuple[str, str]], **extra: HubFileSpec
) -> None:
    """Register `acme/release`; put its weight files on the Hub as `copycat/release-mirror`."""
    weights = register_variant(session, variant_request("acme/release")).files[0]
    files = {weights.path: HubFileSpec(size=weights.size, sha256=weights.sha256), **extra}
    fake.add(HubRepoSpec(id="copycat/release-mirror", parents=parents, files=files))


def test_exact_copy_of_a_registered_variant_is_recognised_without_downloading(
    session: Session, hub: tuple[FakeHub, HubServer]
) -> None:
    fake, server = hub
    readme = HubFileSpec.of(b"# mirror", lfs=False)
    _mirror_of_a_release(session, fake, [(ROOT, "finetune")], **{"README.md": readme})
    result = sync_root(session, reader(server), ROOT, POLICY)
    assert result.exact_copies == 1
    mirror = _variant(session, "copycat/release-mirror")
    original = _variant(session, "acme/release")
    row = session.exec(select(HubRepo).where(HubRepo.variant_id == mirror.id)).one()
    assert row.exact_copy_of == original.id
    edge = session.exec(
        select(LineageEdge).where(
            LineageEdge.child_id == mirror.id, LineageEdge.parent_id == original.id
        )
    ).one()
    assert (edge.relation, edge.source, edge.status, edge.score) == (
        "repackaged", "detected", "detected", 1.0,
    )  # fmt: skip
    assert mirror.digest is None  # file digests are not a tensor digest
    assert all("/resolve/" not in p for _m, p in fake.requests)


def test_the_record_a_sync_leaves_passes_the_audit(
    session: Session, hub: tuple[FakeHub, HubServer]
) -> None:
    """Card edges, exact copies and card results are logged like a publisher's own claims."""
    fake, server = hub
    _mirror_of_a_release(session, fake, [(ROOT, "finetune"), ("acme/release", "finetune")])
    result = sync_root(session, reader(server), ROOT, POLICY)
    assert result.declared_edges > 10 and result.exact_copies == 1
    report = audit_log(session, POLICY)
    assert report.ok, [p.message for p in report.problems]


def test_unknown_root_is_a_clear_error(session: Session, hub: tuple[FakeHub, HubServer]) -> None:
    _fake, server = hub
    with pytest.raises(HubRepoNotFound):
        sync_root(session, reader(server), "nobody/nothing", POLICY)
    assert _count(session, HubRepo) == 0


def test_depth_limits_the_walk(session: Session, hub: tuple[FakeHub, HubServer]) -> None:
    fake, server = hub
    result = sync_root(session, reader(server), ROOT, POLICY, depth=1)
    assert result.repos == 1 + len(fake.children(ROOT))


def test_token_is_sent(session: Session, hub: tuple[FakeHub, HubServer]) -> None:
    fake, server = hub
    sync_root(
        session, HubReader(server.url, "hf_secret", sleep=lambda _s: None), ROOT, POLICY, depth=0
    )
    assert fake.authorizations == {"Bearer hf_secret"}


def test_generated_tree_shape() -> None:
    repos = list(generated_tree(100, fanout=4))
    assert len({r.id for r in repos}) == 100
    assert all(len(r.parents) == 1 for r in repos[1:])


def test_reader_waits_as_long_as_retry_after_says() -> None:
    fake = FakeHub(family())
    with HubServer(fake) as server:
        fake.throttle_every, fake.retry_after, fake.misbehave_limit = 1, "3", 2
        waits: list[float] = []
        facts = HubReader(server.url, None, sleep=waits.append).info(ROOT)
        assert facts.repo_id == ROOT and waits == [3.0, 3.0]
        fake.throttle_every, fake.fail_every, fake.misbehave_limit = 0, 1, 10
        waits.clear()
        with pytest.raises(HubUnavailable):
            HubReader(server.url, None, max_retries=3, sleep=waits.append).info(ROOT)
        assert waits == [0.5, 1.0, 2.0]  # bounded exponential backoff on 5xx


def test_a_repo_id_provreg_cannot_name_is_noted_and_skipped(session: Session) -> None:
    fake = FakeHub(
        [
            HubRepoSpec(id=ROOT),
            HubRepoSpec(id="legacy-model", parents=[(ROOT, "finetune")]),
            HubRepoSpec(id="ok/child", parents=[(ROOT, "finetune")]),
        ]
    )
    with HubServer(fake) as server:
        result = sync_root(session, reader(server), ROOT, POLICY)
    assert result.repos == 3 and _count(session, HubRepo) == 2
    assert any(n.startswith("legacy-model: skipped") for n in result.notes)
