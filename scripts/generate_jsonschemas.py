"""Write one JSON Schema per signed-document version into ``schemas/jsonschema/``.

Run ``python scripts/generate_jsonschemas.py`` after changing a model in
``schemas/statements.py`` or ``schemas/evals.py``; ``tests/trust/test_jsonschemas.py`` fails
while the committed files differ from what this writes, or a document version has no schema.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from schemas.evals import EvaluationStatement
from schemas.statements import (
    DsseEnvelope,
    LineageCorrectionStatement,
    LineageStatement,
    ReleaseStatement,
)

OUT = Path(__file__).resolve().parents[1] / "schemas" / "jsonschema"

#: file stem -> (model, $id)
DOCUMENTS: dict[str, tuple[type[BaseModel], str]] = {
    "dsse-envelope-v1": (DsseEnvelope, "https://provreg.dev/schemas/dsse-envelope-v1.json"),
    "release-statement-v1": (
        ReleaseStatement,
        "https://provreg.dev/schemas/release-statement-v1.json",
    ),
    "lineage-statement-v1": (
        LineageStatement,
        "https://provreg.dev/schemas/lineage-statement-v1.json",
    ),
    "evaluation-statement-v1": (
        EvaluationStatement,
        "https://provreg.dev/schemas/evaluation-statement-v1.json",
    ),
    "lineage-correction-statement-v1": (
        LineageCorrectionStatement,
        "https://provreg.dev/schemas/lineage-correction-statement-v1.json",
    ),
}


def render() -> dict[str, str]:
    """File name -> JSON text, deterministic."""
    out = {}
    for stem, (model, schema_id) in DOCUMENTS.items():
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": schema_id,
            **model.model_json_schema(by_alias=True),
        }
        out[f"{stem}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        (OUT / name).write_text(text)
        print(f"wrote {OUT / name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
