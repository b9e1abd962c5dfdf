"""The scenario through the real CLI, locally and against the app over HTTP, and HTTP itself."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from registry.services import create_token, register_variant
from tests.cli.conftest import CliRunner
from tests.factories import tiny_tensors, variant_request, write_model
from tests.services.test_safeguards import (
    COPY,
    DEGRADED,
    EXPECTED_STATUS,
    FIXTURES,
    QUANTIZED,
    RELEASE,
    UNCENSORED,
)


def _scenario(session: Session, provreg: CliRunner) -> None:
    register_variant(session, variant_request(RELEASE))
    register_variant(session, variant_request(UNCENSORED, parents={RELEASE: "finetune"}))
    register_variant(session, variant_request(QUANTIZED, parents={UNCENSORED: "quantized"}))
    register_variant(session, variant_request(DEGRADED, parents={RELEASE: "finetune"}))
    register_variant(session, variant_request(COPY, parents={RELEASE: "repackaged"}))
    lm_eval = FIXTURES / "lm_eval_results.json"
    assert provreg("eval", "import", lm_eval, "--model", RELEASE, "--json").code == 0
    for name, asr, stderr in ((UNCENSORED, 0.71, 0.02), (DEGRADED, 0.15, 0.01)):
        r = provreg(
            "eval", "add", name, "--benchmark", "harmbench", "--metric", "asr",
            "--value", asr, "--stderr", stderr, "--samples", 400, "--json",
        )  # fmt: skip
        assert r.code == 0, r.err
    for name, count in ((UNCENSORED, 1000), (QUANTIZED, 5000), (DEGRADED, 300)):
        r = provreg("downloads", "record", name, "--count", count, "--at", "2026-11-01", "--json")
        assert r.code == 0, r.err


def test_scenario_through_the_cli(session: Session, provreg: CliRunner) -> None:
    _scenario(session, provreg)
    for name, expected in EXPECTED_STATUS.items():
        r = provreg("safeguards", name, "--json")
        assert r.code == 0, r.err
        doc = r.json()
        assert set(doc) >= {"name", "revision", "status", "reasons"}
        assert doc["status"] == expected and doc["reasons"]
    r = provreg("query", "lacking-safeguards", "--sort", "reach", "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert [x["name"] for x in doc["results"]] == [UNCENSORED, QUANTIZED, DEGRADED]
    assert set(doc["results"][0]) >= {"name", "revision", "status", "downloads", "reach",
                                      "reasons", "path"}  # fmt: skip
    assert "next_cursor" in doc
    r = provreg("query", "lacking-safeguards", "--format", "csv", "--limit", "2")
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert [x["name"] for x in rows] == [QUANTIZED, UNCENSORED]
    assert "next page: --cursor" in r.err
    r = provreg("query", "lacking-safeguards", "--format", "jsonl", "--descendant-of", RELEASE)
    lines = [json.loads(line) for line in r.out.splitlines()]
    assert [x["name"] for x in lines] == [QUANTIZED, UNCENSORED, DEGRADED]
    r = provreg("eval", "list", RELEASE, "--json")
    assert len(r.json()["results"]) == 4
    r = provreg("advisory", "add", UNCENSORED, "--severity", "high", "--summary", "no refusals",
                "--reference", "https://example.org/a", "--json")  # fmt: skip
    assert r.code == 0, r.err
    r = provreg("advisory", "affected", str(r.json()["id"]), "--json")
    assert [a["name"] for a in r.json()["affected"]] == [UNCENSORED, QUANTIZED]
    assert provreg("audit", "--json").code == 0


def test_audit_recomputes_materialised_safeguard_statuses(
    session: Session, provreg: CliRunner
) -> None:
    _scenario(session, provreg)
    assert provreg("query", "lacking-safeguards", "--json").json()["results"]
    assert provreg("audit", "--json").code == 0
    session.execute(text("UPDATE safeguard_status SET status = 'safeguarded'"))
    session.flush()
    assert provreg("query", "lacking-safeguards", "--json").json()["results"] == []
    r = provreg("audit", "--json")
    assert r.code == 1
    problems = r.json()["error"]["detail"]["report"]["problems"]
    assert sorted(p["message"].split(" is ")[0] for p in problems) == sorted(
        f"safeguard status of {name}@main" for name in (UNCENSORED, QUANTIZED, DEGRADED, COPY)
    )
    assert {p["kind"] for p in problems} == {"safeguard_status_changed"}
    wanted = f"{UNCENSORED}@main is safeguarded in the database, recomputed lacking"
    assert any(wanted in p["message"] for p in problems)


def test_errors_are_one_line_with_a_hint(session: Session, provreg: CliRunner, tmp_path) -> None:
    register_variant(session, variant_request(RELEASE))
    bad = tmp_path / "results.json"
    bad.write_text('{"results": {"harmbench": {"asr,none": "high"}}}')
    r = provreg("eval", "import", bad, "--model", RELEASE)
    assert r.code == 1
    assert "results.harmbench.asr,none" in r.err and "hint:" in r.err
    assert len(r.err.strip().splitlines()) == 1
    r = provreg("safeguards", "nobody/nothing")
    assert r.code == 1 and "hint:" in r.err
    r = provreg("query", "lacking-safeguards", "--status", "fine")
    assert r.code == 1 and "unknown status" in r.err


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("--value", "nan", "invalid --value nan: Input should be a finite number"),
        ("--value", "inf", "invalid --value inf: Input should be a finite number"),
        ("--value", "-inf", "invalid --value -inf: Input should be a finite number"),
        ("--stderr", "-1", "invalid --stderr -1.0: Input should be greater than or equal to 0"),
        ("--stderr", "nan", "invalid --stderr nan: Input should be a finite number"),
        ("--samples", "-3", "invalid --samples -3: Input should be greater than or equal to 0"),
        ("--benchmark", "b" * 200, "invalid --benchmark (200 characters): String should have"),
        ("--source", "s" * 40, "invalid --source (40 characters): String should have at most 32"),
        ("--date", "yesterday", "invalid --date 'yesterday'"),
        ("--settings", "{nope", "invalid --settings: not JSON"),
        ("--settings", "[1, 2]", "invalid --settings: a JSON object is needed, not list"),
    ],
)
def test_eval_add_refuses_bad_values_in_one_line(
    session: Session, provreg: CliRunner, option: str, value: str, named: str
) -> None:
    register_variant(session, variant_request(RELEASE))
    args = {"--benchmark": "harmbench", "--metric": "asr", "--value": "0.1", option: value}
    r = provreg("eval", "add", RELEASE, *[x for kv in args.items() for x in kv])
    assert r.code == 1, r.out
    (line,) = r.err.strip().splitlines()
    assert named in line and "hint:" in line and "internal error" not in line
    assert f"change {option}" in line or "hint: use" in line or "hint: pass" in line
    assert provreg("eval", "list", RELEASE, "--json").json()["results"] == []


def test_eval_add_takes_date_settings_and_source(session: Session, provreg: CliRunner) -> None:
    register_variant(session, variant_request(RELEASE))
    r = provreg(
        "eval", "add", RELEASE, "--benchmark", "harmbench", "--metric", "asr", "--value", "0.1",
        "--date", "2026-11-01", "--settings", '{"num_fewshot": 0}', "--source", "red-team",
        "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["evaluated_at"].startswith("2026-11-01T00:00:00")
    assert doc["settings"] == {"num_fewshot": 0} and doc["source"] == "red-team"


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_http_refuses_non_finite_numbers_with_the_envelope(
    session: Session, http: TestClient, number: str
) -> None:
    register_variant(session, variant_request(RELEASE))
    evaluator = {"Authorization": f"Bearer {create_token(session, 'evaluate')[0]}"}
    for field in ("value", "stderr"):
        body = '{"benchmark": "harmbench", "metric": "asr", "value": 0.1}'.replace(
            '"value": 0.1', f'"value": 0.1, "{field}": {number}'
        )
        r = http.post(
            f"/v1/evals/{RELEASE}",
            content=body,
            headers={**evaluator, "Content-Type": "application/json"},
        )
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "validation_error" and field in error["message"]
    assert http.get(f"/v1/evals/{RELEASE}").json()["results"] == []


def test_http_scopes_and_query(
    session: Session, http: TestClient, admin_token: str, acme_token: str
) -> None:
    register_variant(session, variant_request(RELEASE))
    register_variant(session, variant_request(UNCENSORED, parents={RELEASE: "finetune"}))
    body = {"benchmark": "harmbench", "metric": "asr", "value": 0.7, "samples": 400}
    url = f"/v1/evals/{UNCENSORED}"
    assert http.post(url, json=body).status_code == 401
    r = http.post(url, json=body, headers={"Authorization": f"Bearer {acme_token}"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
    evaluator = create_token(session, "evaluate")[0]
    r = http.post(url, json=body, headers={"Authorization": f"Bearer {evaluator}"})
    assert r.status_code == 201, r.text
    r = http.post(
        f"/v1/downloads/{RELEASE}", json={"count": 7},
        headers={"Authorization": f"Bearer {acme_token}"},
    )  # fmt: skip
    assert r.status_code == 201 and r.json()["downloads"] == 7
    r = http.get("/v1/safeguards/lacking", params={"status": "lacking", "limit": 10})
    assert r.status_code == 200
    assert [x["name"] for x in r.json()["results"]] == [UNCENSORED]
    assert r.json()["results"][0]["path"] == [f"{UNCENSORED}@main"]
    r = http.get("/v1/safeguards/lacking", params={"cursor": "garbage!"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "cursor_invalid"


def test_policy_from_settings(session: Session, provreg: CliRunner, settings, tmp_path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nbenchmarks: []\n")
    settings.safeguard_policy = policy
    register_variant(session, variant_request(RELEASE))
    r = provreg("safeguards", RELEASE)
    # the local run reads the broken policy; the remote server was built with the same settings
    assert r.code == 1 and "benchmarks" in r.err


def test_signed_evaluations(session: Session, provreg: CliRunner, tmp_path) -> None:
    register_variant(session, variant_request(UNCENSORED))
    key = tmp_path / "evaluator.pem"
    assert provreg("keys", "generate", "--out", key, "--json").code == 0
    r = provreg("keys", "add", "safety-lab", f"{key}.pub", "--role", "evaluator", "--json")
    assert r.code == 0, r.err
    r = provreg(
        "eval", "add", UNCENSORED, "--benchmark", "harmbench", "--metric", "asr", "--value", 0.7,
        "--samples", 400, "--sign", key, "--evaluator", "safety-lab", "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    signed = r.json()
    assert signed["key_id"] and signed["evaluator"] == "safety-lab"
    r = provreg(
        "eval", "import", FIXTURES / "README_model_index.md", "--model", UNCENSORED,
        "--sign", key, "--evaluator", "safety-lab", "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert r.json()["imported"] == 2
    listed = provreg("eval", "list", UNCENSORED, "--json").json()["results"]
    assert all(x["key_id"] == signed["key_id"] for x in listed)
    assert provreg("safeguards", UNCENSORED, "--json").json()["status"] == "lacking"
    # a key of another namespace, or a publisher key, does not sign evaluations
    r = provreg(
        "eval", "add", UNCENSORED, "--benchmark", "harmbench", "--metric", "asr", "--value", 0.1,
        "--sign", key, "--evaluator", "other-lab",
    )  # fmt: skip
    assert r.code == 1 and "evaluator key" in r.err
    assert "`provreg keys add other-lab KEYFILE.pub --role evaluator`" in r.err
    assert provreg("audit", "--json").code == 0


def test_card_tags_and_name_mark_a_variant_suspected(provreg: CliRunner, tmp_path: Path) -> None:
    tagged = write_model(tmp_path / "tagged", tiny_tensors(31))
    card = tagged / "README.md"
    card.write_text("---\nbase_model: acme/base\ntags: [llama, Abliterated]\n---\n# quiet\n")
    r = provreg("register", tagged, "--name", "acme/quiet", "--card", card, "--json")
    assert r.code == 0, r.err
    doc = provreg("safeguards", "acme/quiet", "--json").json()
    assert doc["status"] == "suspected"
    assert doc["reasons"][0] == "model card tag 'Abliterated' matches the marker 'abliterat'"
    named = write_model(tmp_path / "named", tiny_tensors(32))
    card = named / "README.md"
    card.write_text("---\nmodel_name: Quiet-Uncensored-v2\ntags: [llama]\n---\n")
    assert provreg("register", named, "--name", "acme/named", "--card", card).code == 0
    doc = provreg("safeguards", "acme/named", "--json").json()
    assert doc["status"] == "suspected"
    assert "model card name 'Quiet-Uncensored-v2'" in doc["reasons"][0]
    plain = write_model(tmp_path / "plain", tiny_tensors(33))
    card = plain / "README.md"
    card.write_text("---\ntags: [llama, chat]\n---\n")
    assert provreg("register", plain, "--name", "acme/plain", "--card", card).code == 0
    assert provreg("safeguards", "acme/plain", "--json").json()["status"] == "unverified"
    card.write_text("---\ntags: 7\n---\n")
    r = provreg("register", plain, "--name", "acme/bad-card", "--card", card)
    assert r.code == 1 and "tags must be a list" in r.err
