"""CycloneDX 1.6 ML-BOM: the variant as a ``machine-learning-model`` component with its files'
hashes, its lineage as ``pedigree.ancestors`` and a ``modelCard`` from what the registry knows.

Relations, edge sources and statuses have no CycloneDX field of their own: they travel as
``provreg:*`` properties, the extension point the specification gives for such data.
"""

from __future__ import annotations

import uuid
from typing import Any

import registry
from registry.services.sbom.facts import Ancestor, ModelFacts

SPEC_VERSION = "1.6"
Z95 = 1.96  # a 95% interval from a standard error


def _props(**values: Any) -> list[dict[str, str]]:
    return [
        {"name": f"provreg:{k.replace('_', '-')}", "value": str(v)}
        for k, v in values.items()
        if v not in (None, "", [])
    ]


def _ancestor(a: Ancestor) -> dict[str, Any]:
    component: dict[str, Any] = {
        "type": "machine-learning-model",
        "bom-ref": f"ancestor:{a.ref}:via:{a.child}",
        "name": a.name,
        "version": a.revision,
        "properties": _props(
            relation=a.relation,
            source=a.source,
            status=a.status,
            child=a.child,
            depth=a.depth,
            digest=a.digest,
        ),
    }
    return component


def _metrics(facts: ModelFacts) -> list[dict[str, Any]]:
    out = []
    for r in facts.evaluations:
        metric: dict[str, Any] = {
            "type": r.metric,
            "value": repr(r.value),
            "slice": r.benchmark + (f"/{r.task}" if r.task and r.task != r.benchmark else ""),
        }
        if r.stderr is not None:
            metric["confidenceInterval"] = {
                "lowerBound": repr(r.value - Z95 * r.stderr),
                "upperBound": repr(r.value + Z95 * r.stderr),
            }
        out.append(metric)
    return out


def _model_card(facts: ModelFacts) -> dict[str, Any]:
    v, status = facts.variant, facts.safeguards
    parameters: dict[str, Any] = {}
    model_type = (v.config or {}).get("model_type")
    if model_type:
        parameters["architectureFamily"] = str(model_type)
    if v.architecture:
        parameters["modelArchitecture"] = v.architecture
    if facts.datasets:
        parameters["datasets"] = [{"type": "dataset", "name": d} for d in facts.datasets]
    card: dict[str, Any] = {"bom-ref": f"model-card:{facts.ref}"}
    if parameters:
        card["modelParameters"] = parameters
    if facts.evaluations:
        card["quantitativeAnalysis"] = {"performanceMetrics": _metrics(facts)}
    reasons = "; ".join(status.reasons) or "no reasons recorded"
    card["considerations"] = {
        "ethicalConsiderations": [
            {
                "name": f"safeguard status: {status.status}",
                "mitigationStrategy": reasons,
            }
        ],
    }
    if status.status != "safeguarded":
        card["considerations"]["technicalLimitations"] = list(status.reasons) or [
            f"safeguard status is {status.status}"
        ]
    card["properties"] = _props(safeguard_status=status.status, parameters=v.parameters)
    return card


def cyclonedx_bom(facts: ModelFacts) -> dict[str, Any]:
    """The CycloneDX 1.6 JSON document of ``facts``."""
    v = facts.variant
    files = [
        {
            "type": "file",
            "bom-ref": f"file:{facts.ref}:{f.path}",
            "name": f.path,
            "hashes": [{"alg": "SHA-256", "content": f.sha256}],
            "properties": _props(size=f.size),
        }
        for f in v.files
    ]
    model: dict[str, Any] = {
        "type": "machine-learning-model",
        "bom-ref": facts.ref,
        "name": v.name,
        "version": v.revision,
        "hashes": [
            {"alg": "SHA-256", "content": sha} for sha in dict.fromkeys(f.sha256 for f in v.files)
        ],
        "properties": _props(
            digest=v.digest,
            format=v.format,
            parameters=v.parameters,
            dtypes=",".join(v.dtypes),
            log_index=v.log_index,
        ),
        "modelCard": _model_card(facts),
    }
    if facts.license:
        model["licenses"] = [{"license": {"name": facts.license}}]
    if files:
        model["components"] = files
    if facts.ancestors:
        model["pedigree"] = {"ancestors": [_ancestor(a) for a in facts.ancestors]}
    if not model["hashes"]:
        del model["hashes"]
    return {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": facts.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {
                "components": [
                    {"type": "application", "name": "provreg", "version": registry.__version__}
                ]
            },
            "component": model,
        },
    }
