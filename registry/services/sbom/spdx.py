"""SPDX 3.0.1 JSON-LD with the AI profile: the variant as an ``ai_AIPackage`` with its files'
hashes, metrics from its evaluations, the safeguard status as a limitation, and its ancestors
as packages it is a ``descendantOf`` (relation, source and status in each relationship's
comment)."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

import registry
from registry.services.sbom.facts import ModelFacts

CONTEXT = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
SPEC_VERSION = "3.0.1"
_CREATION = "_:creationinfo"


def _entry(key: str, value: Any) -> dict[str, Any]:
    return {"type": "DictionaryEntry", "key": key, "value": str(value)}


def spdx_document(facts: ModelFacts) -> dict[str, Any]:
    """The SPDX 3.0.1 JSON-LD document of ``facts``."""
    v = facts.variant
    base = f"urn:provreg:{quote(facts.ref, safe='/@')}"
    doc_id = (
        f"{base}#document-{hashlib.sha256(facts.created.isoformat().encode()).hexdigest()[:12]}"
    )
    agent = "urn:provreg:agent"
    package_id = f"{base}#model"
    graph: list[dict[str, Any]] = [
        {
            "type": "CreationInfo",
            "@id": _CREATION,
            "specVersion": SPEC_VERSION,
            "created": facts.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "createdBy": [agent],
            "comment": f"exported by provreg {registry.__version__}",
        },
        {"type": "SoftwareAgent", "spdxId": agent, "name": "provreg", "creationInfo": _CREATION},
    ]
    status = facts.safeguards
    package: dict[str, Any] = {
        "type": "ai_AIPackage",
        "spdxId": package_id,
        "creationInfo": _CREATION,
        "name": v.name,
        "software_packageVersion": v.revision,
        "software_primaryPurpose": "model",
        "software_downloadLocation": f"https://huggingface.co/{v.name}",
        "verifiedUsing": [
            {"type": "Hash", "algorithm": "sha256", "hashValue": f.sha256, "comment": f.path}
            for f in v.files
        ],
        "ai_hyperparameter": [
            _entry(k, val)
            for k, val in (
                ("parameters", v.parameters),
                ("format", v.format),
                ("dtypes", ",".join(v.dtypes)),
                ("digest", v.digest),
            )
            if val not in (None, "")
        ],
        "ai_limitation": f"safeguard status: {status.status}"
        + (f" ({'; '.join(status.reasons)})" if status.reasons else ""),
    }
    if v.architecture:
        package["ai_typeOfModel"] = [v.architecture]
    if facts.evaluations:
        package["ai_metric"] = [
            _entry(f"{r.benchmark}/{r.task or r.benchmark}/{r.metric}", repr(r.value))
            for r in facts.evaluations
        ]
    if not package["verifiedUsing"]:
        del package["verifiedUsing"]
    if not package["ai_hyperparameter"]:
        del package["ai_hyperparameter"]
    graph.append(package)
    elements = [agent, package_id]
    ids = {facts.ref: package_id}
    for i, a in enumerate(facts.ancestors):
        ancestor_id = ids.setdefault(a.ref, f"urn:provreg:{quote(a.ref, safe='/@')}#model")
        if ancestor_id not in elements:
            graph.append(
                {
                    "type": "ai_AIPackage",
                    "spdxId": ancestor_id,
                    "creationInfo": _CREATION,
                    "name": a.name,
                    "software_packageVersion": a.revision,
                    "software_primaryPurpose": "model",
                }
            )
            elements.append(ancestor_id)
        relationship_id = f"{base}#lineage-{i}"
        graph.append(
            {
                "type": "Relationship",
                "spdxId": relationship_id,
                "creationInfo": _CREATION,
                "from": ids.get(a.child, package_id),
                "relationshipType": "descendantOf",
                "to": [ancestor_id],
                "comment": f"relation={a.relation} source={a.source} status={a.status}",
            }
        )
        elements.append(relationship_id)
    for j, name in enumerate(facts.datasets):
        dataset_id = f"urn:provreg:dataset:{quote(name, safe='/')}"
        graph.append(
            {
                "type": "dataset_DatasetPackage",
                "spdxId": dataset_id,
                "creationInfo": _CREATION,
                "name": name,
                "software_primaryPurpose": "data",
                "software_downloadLocation": f"https://huggingface.co/datasets/{name}",
                "dataset_datasetType": ["other"],
            }
        )
        relationship_id = f"{base}#trained-on-{j}"
        graph.append(
            {
                "type": "Relationship",
                "spdxId": relationship_id,
                "creationInfo": _CREATION,
                "from": package_id,
                "relationshipType": "trainedOn",
                "to": [dataset_id],
            }
        )
        elements += [dataset_id, relationship_id]
    graph.append(
        {
            "type": "SpdxDocument",
            "spdxId": doc_id,
            "creationInfo": _CREATION,
            "name": f"provreg export of {facts.ref}",
            "profileConformance": ["core", "software", "ai"]
            + (["dataset"] if facts.datasets else []),
            "rootElement": [package_id],
            "element": elements,
        }
    )
    return {"@context": CONTEXT, "@graph": graph}
