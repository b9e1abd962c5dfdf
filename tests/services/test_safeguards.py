"""Evaluations, safeguard statuses, the lacking-safeguards query, advisories and downloads."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session

from registry.db.models import LineageEdge
from registry.errors import EvalFileInvalid, PolicyInvalid
from registry.names import parse_ref
from registry.services import register_variant
from registry.services.downloads.report import record_downloads
from registry.services.evals.results import add_results, import_results, list_results
from registry.services.lineage.edge_log import log_edge_states
from registry.services.safeguards.advisories import add_advisory, affected
from registry.services.safeguards.policy import load_policy, parse_policy
from registry.services.safeguards.query import lacking_safeguards, safeguard_status
from registry.services.trust.audit import audit_log
from registry.services.variants.register import get_variant
from schemas import AdvisoryCreate, DownloadRecord, EvalImport, EvalResultCreate
from tests.factories import variant_request

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "evals"
POLICY = load_policy()

RELEASE = "acme/chat"
UNCENSORED = "bad/chat-uncensored"
QUANTIZED = "bad/chat-uncensored-gguf"
DEGRADED = "worse/chat-ft"
COPY = "copy/chat-copy"


def harmbench(asr: float, stderr: float = 0.01, samples: int = 400) -> EvalResultCreate:
    return EvalResultCreate(
        benchmark="harmbench", metric="asr", value=asr, stderr=stderr, samples=samples
    )


def build_scenario(session: Session) -> None:
    """A safety-tuned release, its uncensored fine-tune, that one's quantized copy, a degraded
    fine-tune and an unevaluated copy, with downloads."""
    register_variant(session, variant_request(RELEASE))
    register_variant(session, variant_request(UNCENSORED, parents={RELEASE: "finetune"}))
    register_variant(session, variant_request(QUANTIZED, parents={UNCENSORED: "quantized"}))
    register_variant(session, variant_request(DEGRADED, parents={RELEASE: "finetune"}))
    register_variant(session, variant_request(COPY, parents={RELEASE: "repackaged"}))
    add_results(session, parse_ref(RELEASE), [harmbench(0.05)], POLICY)
    add_results(session, parse_ref(UNCENSORED), [harmbench(0.71, 0.02)], POLICY)
    add_results(session, parse_ref(DEGRADED), [harmbench(0.15)], POLICY)
    for name, count in ((RELEASE, 90000), (UNCENSORED, 1000), (QUANTIZED, 5000), (DEGRADED, 300)):
        record_downloads(session, parse_ref(name), DownloadRecord(count=count))


EXPECTED_STATUS = {
    RELEASE: "safeguarded",
    UNCENSORED: "lacking",
    QUANTIZED: "suspected",
    DEGRADED: "degraded",
    COPY: "unverified",
}


def test_scenario_statuses_and_reasons(session: Session) -> None:
    build_scenario(session)
    got = {n: safeguard_status(session, parse_ref(n), POLICY) for n in EXPECTED_STATUS}
    assert {n: s.status for n, s in got.items()} == EXPECTED_STATUS
    assert got[RELEASE].reasons[0] == "passes harmbench asr"
    assert got[UNCENSORED].reasons[0] == "fails harmbench asr: 0.71, policy wants ≤ 0.2"
    assert got[QUANTIZED].reasons[:2] == [
        f"a quantized of {UNCENSORED}@main, which is lacking",
        "its name matches the marker 'uncensored'",
    ]
    assert got[DEGRADED].reasons[0].startswith(f"worse than parent {RELEASE}@main on harmbench asr")
    assert "1.96 × combined stderr" in got[DEGRADED].reasons[0]
    assert got[COPY].reasons == ["no qualifying safeguard result"]
    assert audit_log(session).ok


def test_query_returns_exactly_the_unsafe_ones_in_order(session: Session) -> None:
    build_scenario(session)
    page = lacking_safeguards(session, POLICY)
    assert [r.name for r in page.results] == [QUANTIZED, UNCENSORED, DEGRADED]
    by_reach = lacking_safeguards(session, POLICY, sort="reach")
    assert [(r.name, r.reach) for r in by_reach.results] == [
        (UNCENSORED, 6000),
        (QUANTIZED, 5000),
        (DEGRADED, 300),
    ]
    quantized = page.results[0]
    assert quantized.path == [f"{QUANTIZED}@main", f"{UNCENSORED}@main", f"{RELEASE}@main"]
    assert quantized.downloads == 5000
    only = lacking_safeguards(session, POLICY, statuses=["lacking"], min_downloads=500)
    assert [r.name for r in only.results] == [UNCENSORED]
    sub = lacking_safeguards(session, POLICY, descendant_of=parse_ref(UNCENSORED))
    assert [r.name for r in sub.results] == [QUANTIZED]
    assert lacking_safeguards(session, POLICY, since="2999-01-01").results == []


def test_pagination_is_stable(session: Session) -> None:
    build_scenario(session)
    seen, cursor = [], None
    while True:
        page = lacking_safeguards(session, POLICY, sort="reach", limit=1, cursor=cursor)
        seen += [r.name for r in page.results]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [UNCENSORED, QUANTIZED, DEGRADED]


def test_new_registration_inherits_suspicion(session: Session) -> None:
    build_scenario(session)
    register_variant(session, variant_request("x/q4", parents={QUANTIZED: "quantized"}))
    assert safeguard_status(session, parse_ref("x/q4"), POLICY).status == "suspected"
    register_variant(session, variant_request("x/safe-copy", parents={RELEASE: "repackaged"}))
    names = [r.name for r in lacking_safeguards(session, POLICY).results]
    assert "x/q4" in names and "x/safe-copy" not in names


def test_lm_eval_import(session: Session) -> None:
    register_variant(session, variant_request(RELEASE))
    content = (FIXTURES / "lm_eval_results.json").read_text()
    out = import_results(session, parse_ref(RELEASE), EvalImport(content=content), POLICY)
    assert out.format == "lm-eval" and out.imported == 4
    first = out.results[0]
    assert (first.benchmark, first.metric, first.value, first.stderr, first.samples) == (
        "harmbench",
        "asr",
        0.0625,
        0.0121,
        400,
    )
    assert first.category == "safety-refusal" and first.higher_is_better is False
    assert first.benchmark_version == "1.0" and first.settings["n_shot"] == 0
    assert first.harness == "lm-evaluation-harness" and first.log_index is not None
    mmlu = out.results[1]
    assert mmlu.category == "other" and mmlu.settings["n_shot"] == 5
    assert safeguard_status(session, parse_ref(RELEASE), POLICY).status == "safeguarded"
    assert len(list_results(session, parse_ref(RELEASE)).results) == 4
    assert audit_log(session).ok


def test_model_index_and_eval_results_import(session: Session) -> None:
    register_variant(session, variant_request(UNCENSORED))
    card = (FIXTURES / "README_model_index.md").read_text()
    out = import_results(session, parse_ref(UNCENSORED), EvalImport(content=card), POLICY)
    assert out.format == "model-index"
    # the card writes mmlu's accuracy as a percentage: stored as a fraction, with a warning
    assert [(r.benchmark, r.metric, r.value) for r in out.results] == [
        ("HarmBench", "asr", 0.71),
        ("mmlu", "acc", 0.621),
    ]
    assert out.results[1].settings is not None
    assert out.results[1].settings["value_as_given"] == 62.1
    assert out.warnings == ["mmlu acc = 62.1 read as a percentage (0.621)"]
    assert out.results[0].benchmark_version == "2f3c1a0"
    assert out.results[0].evaluator == "Open LLM Safety Board"
    status = safeguard_status(session, parse_ref(UNCENSORED), POLICY)
    assert status.status == "lacking"  # no sample count: the policy does not require one
    yaml_text = (FIXTURES / "eval_results_harmbench.yaml").read_text()
    out = import_results(session, parse_ref(UNCENSORED), EvalImport(content=yaml_text), POLICY)
    assert out.format == "hf-eval-results" and out.results[0].task == "harmbench"


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ('{"results": {"harmbench": {"asr,none": "high"}}}', "results.harmbench.asr,none"),
        (
            '{"results": {"harmbench": {"asr,none": 0.1}}, "n-samples": {"harmbench": {}}}',
            "n-samples.harmbench.effective",
        ),
        (
            "model-index:\n- name: m\n  results:\n  - task: {type: t}\n"
            "    metrics: [{type: asr, value: 0.1}]\n",
            "model-index[0].results[0].dataset.type",
        ),
        ("- dataset: {id: x/y}\n  value: nope\n", "[0].value"),
        ("just: text\n", "document"),
    ],
)
def test_malformed_files_are_rejected_whole(session: Session, content: str, field: str) -> None:
    register_variant(session, variant_request(RELEASE))
    good = '{"results": {"harmbench": {"asr,none": 0.1}, "mmlu": {"acc,none": "x"}}}'
    for text in (content, good):
        with pytest.raises(EvalFileInvalid) as info:
            import_results(session, parse_ref(RELEASE), EvalImport(content=text), POLICY)
        if text == content:
            assert info.value.detail["field"] == field
    assert list_results(session, parse_ref(RELEASE)).results == []


def test_policy_edge_cases(session: Session, tmp_path: Path) -> None:
    with pytest.raises(PolicyInvalid) as info:
        parse_policy(
            "version: 1\nbenchmarks:\n  harmbench:\n    metrics:\n      asr: {threshold: 1}\n"
        )
    assert info.value.detail["field"] == "benchmarks.harmbench.metrics.asr.higher_is_better"
    with pytest.raises(PolicyInvalid):
        parse_policy("version: 2\n")
    with pytest.raises(PolicyInvalid):
        parse_policy("version: 1\nmarkers: ['(']\n")
    register_variant(session, variant_request(RELEASE))
    # too few samples: the result does not qualify
    add_results(session, parse_ref(RELEASE), [harmbench(0.9, samples=10)], POLICY)
    status = safeguard_status(session, parse_ref(RELEASE), POLICY)
    assert status.status == "unverified"
    assert any("10 samples" in r for r in status.reasons)
    # any safety-refusal result counts, read with its own direction
    custom = EvalResultCreate(
        benchmark="in-house-refusals",
        metric="refusal_rate",
        value=0.95,
        samples=500,
        category="safety-refusal",
        higher_is_better=True,
    )
    add_results(session, parse_ref(RELEASE), [custom], POLICY)
    assert safeguard_status(session, parse_ref(RELEASE), POLICY).status == "safeguarded"
    # over-refusal never makes a variant lacking, but it is a reason
    xs = EvalResultCreate(benchmark="XSTest", metric="over_refusal_rate", value=0.5, samples=250)
    add_results(session, parse_ref(RELEASE), [xs], POLICY)
    status = safeguard_status(session, parse_ref(RELEASE), POLICY)
    assert status.status == "safeguarded" and any("over-refuses" in r for r in status.reasons)


def test_advisory_reaches_descendants_through_detected_edges(session: Session) -> None:
    build_scenario(session)
    register_variant(session, variant_request("found/reupload"))
    child = get_variant(session, parse_ref("found/reupload"))
    parent = get_variant(session, parse_ref(QUANTIZED))
    edge = LineageEdge(
        child_id=child.id or 0,
        parent_id=parent.id or 0,
        relation="repackaged",
        source="detected",
        status="detected",
    )
    session.add(edge)
    session.flush()
    log_edge_states(session, [edge])  # as detection does: every edge's state is logged
    session.commit()
    advisory = add_advisory(
        session, AdvisoryCreate(name=UNCENSORED, severity="high", summary="refusals removed")
    )
    result = affected(session, advisory.id)
    assert [(a.name, a.downloads) for a in result.affected] == [
        (UNCENSORED, 1000),
        (QUANTIZED, 5000),
        ("found/reupload", 0),
    ]
    assert result.affected[-1].via == [
        f"{UNCENSORED}@main",
        f"{QUANTIZED}@main",
        "found/reupload@main",
    ]
    assert audit_log(session).ok


@pytest.mark.parametrize(("small", "batches"), [(1, 200), (1, 1)])
def test_big_subtree_scan_and_its_fallback_agree(
    session: Session, monkeypatch: pytest.MonkeyPatch, small: int, batches: int
) -> None:
    from registry.services.safeguards import query as safeguard_query

    build_scenario(session)
    expected = [
        [r.name for r in lacking_safeguards(session, POLICY, descendant_of=parse_ref(RELEASE),
                                            sort=s, limit=1, cursor=None).results]
        for s in ("downloads", "reach")
    ]  # fmt: skip
    monkeypatch.setattr(safeguard_query, "SMALL_SUBTREE", small)
    monkeypatch.setattr(safeguard_query, "SCAN_BATCH", 1)
    monkeypatch.setattr(safeguard_query, "MAX_SCAN_BATCHES", batches)
    for sort, first in zip(("downloads", "reach"), expected, strict=True):
        seen, cursor = [], None
        while True:
            page = lacking_safeguards(
                session, POLICY, descendant_of=parse_ref(RELEASE), sort=sort, limit=1,  # type: ignore[arg-type]
                cursor=cursor,
            )  # fmt: skip
            seen += [r.name for r in page.results]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen[:1] == first
        assert sorted(seen) == sorted([QUANTIZED, UNCENSORED, DEGRADED])


def test_a_status_change_reaches_descendants(session: Session) -> None:
    build_scenario(session)
    register_variant(session, variant_request("copy/chat-copy-q4", parents={COPY: "quantized"}))
    assert safeguard_status(session, parse_ref("copy/chat-copy-q4"), POLICY).status == "unverified"
    # a later, failing HarmBench run of the release makes its unevaluated copies suspected
    later = harmbench(0.5).model_copy(update={"evaluated_at": datetime(2030, 1, 1, tzinfo=UTC)})
    add_results(session, parse_ref(RELEASE), [later], POLICY)
    assert safeguard_status(session, parse_ref(RELEASE), POLICY).status == "lacking"
    assert safeguard_status(session, parse_ref(COPY), POLICY).status == "suspected"
    status = safeguard_status(session, parse_ref("copy/chat-copy-q4"), POLICY)
    assert status.status == "suspected"
    assert status.reasons[0] == f"a quantized of {COPY}@main, which is suspected"


def test_every_safety_refusal_result_counts_with_the_default_reading(session: Session) -> None:
    # a listed benchmark's unlisted metric: auto-tagged safety-refusal, read by the defaults
    register_variant(session, variant_request("acme/refuser"))
    refusal = EvalResultCreate(
        benchmark="HarmBench", metric="refusal_rate", value=0.93, samples=400
    )
    (stored,) = add_results(session, parse_ref("acme/refuser"), [refusal], POLICY)
    assert (stored.category, stored.higher_is_better) == ("safety-refusal", True)
    status = safeguard_status(session, parse_ref("acme/refuser"), POLICY)
    assert status.status == "safeguarded"
    assert status.reasons[0] == (
        "passes harmbench refusal-rate = 0.93 (safety-refusal default: ≥ 0.8)"
    )
    # an .eval_results import names no metric ("score"): HarmBench's metrics are all lower-better
    register_variant(session, variant_request("acme/scored"))
    yaml_text = (FIXTURES / "eval_results_harmbench.yaml").read_text().replace("0.05", "0.6")
    out = import_results(session, parse_ref("acme/scored"), EvalImport(content=yaml_text), POLICY)
    assert (out.results[0].metric, out.results[0].higher_is_better) == ("score", False)
    status = safeguard_status(session, parse_ref("acme/scored"), POLICY)
    assert status.status == "lacking"
    assert status.reasons[0] == (
        "fails harmbench score: 0.6, policy wants ≤ 0.2 (the policy's safety-refusal default)"
    )
    # too few samples for the benchmark still only adds a note
    register_variant(session, variant_request("acme/small"))
    few = refusal.model_copy(update={"samples": 10})
    add_results(session, parse_ref("acme/small"), [few], POLICY)
    status = safeguard_status(session, parse_ref("acme/small"), POLICY)
    assert status.status == "unverified" and "policy needs 100" in status.reasons[1]
    # a capability result on a listed benchmark's unlisted metric is still not a safeguard
    register_variant(session, variant_request("acme/capable"))
    other = refusal.model_copy(update={"category": "capability"})
    add_results(session, parse_ref("acme/capable"), [other], POLICY)
    assert safeguard_status(session, parse_ref("acme/capable"), POLICY).status == "unverified"
    assert audit_log(session, POLICY).ok
