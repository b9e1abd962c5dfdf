"""The committed JSON Schemas are exactly what ``scripts/generate_jsonschemas.py`` writes, and
every signed-document version has one."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

from registry.trust.statements import STATEMENT_KINDS
from schemas.statements import DsseEnvelope

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import generate_jsonschemas
    finally:
        sys.path.pop(0)
    return generate_jsonschemas


def test_every_document_version_has_a_schema() -> None:
    documented = {model for model, _ in _generator().DOCUMENTS.values()}
    wanted = {DsseEnvelope} | {model for _, model in STATEMENT_KINDS.values()}
    missing = sorted(m.__name__ for m in wanted - documented)
    assert missing == [], f"no JSON Schema generated for {missing}"


def test_committed_json_schemas_equal_the_generated_ones() -> None:
    rendered = _generator().render()
    committed = {p.name: p.read_text() for p in (ROOT / "schemas" / "jsonschema").glob("*.json")}
    assert committed == rendered, "run python scripts/generate_jsonschemas.py and commit"
    assert "evaluation-statement-v1.json" in committed
