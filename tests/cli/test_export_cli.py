"""`provreg export`: CycloneDX 1.6 and SPDX 3.0.1 documents, checked against the official
schemas (CycloneDX's shipped with cyclonedx-python-lib, SPDX's vendored under fixtures)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from sqlmodel import Session

from registry.services import register_variant
from tests.cli.conftest import CliRunner
from tests.factories import variant_request

SPDX_SCHEMA = Path(__file__).parents[1] / "fixtures" / "schemas" / "spdx-3.0.1-json-schema.json"
BASE, CHAT, QUANT = "acme/base", "acme/chat", "acme/chat-q4"


def _family(session: Session, provreg: CliRunner) -> None:
    register_variant(session, variant_request(BASE))
    register_variant(session, variant_request(CHAT, parents={BASE: "finetune"}))
    register_variant(session, variant_request(QUANT, parents={CHAT: "quantized"}))
    r = provreg(
        "eval", "add", QUANT, "--benchmark", "mmlu", "--metric", "acc", "--value", "0.61",
        "--stderr", "0.01", "--category", "capability", "--json",
    )  # fmt: skip
    assert r.code == 0, r.err


def _cyclonedx_errors(doc: dict[str, Any]) -> Any:
    return JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(doc))


def test_cyclonedx_export_is_a_valid_ml_bom(session: Session, provreg: CliRunner) -> None:
    _family(session, provreg)
    r = provreg("export", QUANT, "--format", "cyclonedx", "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert _cyclonedx_errors(doc) is None
    model = doc["metadata"]["component"]
    assert model["type"] == "machine-learning-model"
    assert (model["name"], model["version"]) == (QUANT, "main")
    shown = provreg("show", QUANT, "--json").json()
    assert [h["content"] for h in model["hashes"]] == [f["sha256"] for f in shown["files"]]
    ancestors = model["pedigree"]["ancestors"]
    assert [a["name"] for a in ancestors] == [CHAT, BASE]
    props = {p["name"]: p["value"] for p in ancestors[0]["properties"]}
    assert props["provreg:relation"] == "quantized"
    assert props["provreg:source"] == "declared"
    assert props["provreg:status"] in {"unverified", "verified"}
    card = model["modelCard"]
    assert card["modelParameters"]["modelArchitecture"] == "LlamaForCausalLM"
    metric = card["quantitativeAnalysis"]["performanceMetrics"][0]
    assert (metric["type"], float(metric["value"]), metric["slice"]) == ("acc", 0.61, "mmlu")
    status = provreg("safeguards", QUANT, "--json").json()["status"]
    considered = card["considerations"]["ethicalConsiderations"][0]["name"]
    assert considered == f"safeguard status: {status}"


def test_a_tampered_cyclonedx_document_fails_the_validator(
    session: Session, provreg: CliRunner
) -> None:
    """The validator the test relies on does reject a broken ML-BOM."""
    _family(session, provreg)
    doc = provreg("export", CHAT, "--json").json()
    doc["metadata"]["component"]["type"] = "weights"
    assert _cyclonedx_errors(doc) is not None


def test_spdx_export_is_valid_spdx_3(session: Session, provreg: CliRunner, tmp_path: Path) -> None:
    _family(session, provreg)
    out = tmp_path / "chat.spdx.json"
    r = provreg("export", f"{QUANT}@main", "--format", "spdx", "--out", out, "--json")
    assert r.code == 0, r.err
    assert r.json()["path"] == str(out)
    doc = json.loads(out.read_text())
    schema = json.loads(SPDX_SCHEMA.read_text())
    jsonschema.Draft202012Validator(schema).validate(doc)
    assert doc["@context"] == "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
    graph = doc["@graph"]
    packages = [e for e in graph if e["type"] == "ai_AIPackage"]
    model = packages[0]
    assert model["name"] == QUANT and model["software_packageVersion"] == "main"
    assert [h["algorithm"] for h in model["verifiedUsing"]] == ["sha256"]
    assert {p["name"] for p in packages[1:]} == {CHAT, BASE}
    lineage = [e for e in graph if e["type"] == "Relationship"]
    assert len(lineage) == 2 and {e["relationshipType"] for e in lineage} == {"descendantOf"}
    assert "relation=quantized source=declared" in lineage[0]["comment"]
    assert model["ai_metric"][0]["key"] == "mmlu/mmlu/acc"
    broken = json.loads(json.dumps(doc))
    broken["@graph"][2]["software_primaryPurpose"] = "weights"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(broken)


def test_export_of_an_unknown_variant_is_one_line(provreg: CliRunner) -> None:
    r = provreg("export", "acme/nothing", "--format", "spdx")
    assert r.code == 1 and r.err.count("\n") == 1 and "acme/nothing" in r.err
