"""Signed documents: DSSE envelopes holding in-toto Statement v1 with provreg's predicates.

Document versions (each has a JSON Schema in ``schemas/jsonschema/``):

- ``https://provreg.dev/release/v1``: a publisher releases ``name@revision`` with these weights.
- ``https://provreg.dev/lineage/v1``: a publisher claims a child descends from a parent.
- ``https://provreg.dev/evaluation/v1``: an evaluator signs results for these exact weights
  (the model is ``schemas.evals.EvaluationStatement``).
- ``https://provreg.dev/lineage-correction/v1``: a publisher declares a parent of a registered
  child after its release, or retracts one, with a reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import INT64_MAX, Relation

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
RELEASE_PREDICATE: Final = "https://provreg.dev/release/v1"
LINEAGE_PREDICATE: Final = "https://provreg.dev/lineage/v1"
EVALUATION_PREDICATE: Final = (
    "https://provreg.dev/evaluation/v1"  # schemas.evals.EvaluationStatement
)
LINEAGE_CORRECTION_PREDICATE: Final = "https://provreg.dev/lineage-correction/v1"
DIGEST = r"^sha256:[0-9a-f]{64}$"


class DsseSignature(BaseModel):
    keyid: str = Field(default="", description="hex SHA-256 of the signer's SPKI DER")
    sig: str = Field(description="base64 signature over PAE(payloadType, payload)")


class DsseEnvelope(BaseModel):
    """A DSSE v1 envelope; ``payload`` is base64 of the statement's exact bytes."""

    model_config = ConfigDict(extra="forbid")

    payload: str
    payloadType: str  # noqa: N815 - the DSSE field name
    signatures: list[DsseSignature] = Field(min_length=1)


class Subject(BaseModel):
    """An in-toto ResourceDescriptor naming an artefact by digest."""

    name: str
    digest: dict[str, str] = Field(description='{"sha256": "<hex>"}')


class ParentClaim(BaseModel):
    name: str = Field(description="NAME@REVISION of the parent")
    relation: Relation


class ReleasePredicate(BaseModel):
    """What a publisher vouches for when releasing ``name@revision``."""

    model_config = ConfigDict(extra="forbid")

    name: str
    revision: str
    digest: str = Field(pattern=DIGEST, description="the variant digest")
    format: str
    tensors_root: str = Field(
        pattern=DIGEST,
        description="RFC 9162 Merkle root over the tensors sorted by name; each leaf is the "
        "canonical JSON of {name, dtype, shape, digest}",
    )
    tensor_count: int = Field(ge=0, le=INT64_MAX)
    sketch_digest: str | None = Field(
        default=None, pattern=DIGEST, description="sha256 of the similarity sketch's bytes"
    )
    parents: list[ParentClaim] = Field(
        default_factory=list, description="declared parents, sorted by name"
    )


class LineagePredicate(BaseModel):
    """A publisher's claim that ``child`` descends from ``parent`` by ``relation``."""

    model_config = ConfigDict(extra="forbid")

    child: str = Field(description="NAME@REVISION")
    child_digest: str = Field(pattern=DIGEST)
    parent: str = Field(description="NAME@REVISION")
    relation: Relation


class _Statement(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    type_: Literal["https://in-toto.io/Statement/v1"] = Field(
        default="https://in-toto.io/Statement/v1", alias="_type"
    )
    subject: list[Subject] = Field(min_length=1)


class ReleaseStatement(_Statement):
    """Subjects: the variant (``NAME@REVISION``, variant digest) then each file (path, sha256)."""

    predicateType: Literal["https://provreg.dev/release/v1"] = RELEASE_PREDICATE  # noqa: N815
    predicate: ReleasePredicate


class LineageStatement(_Statement):
    """Subject: the child variant."""

    predicateType: Literal["https://provreg.dev/lineage/v1"] = LINEAGE_PREDICATE  # noqa: N815
    predicate: LineagePredicate


class LineageCorrectionPredicate(BaseModel):
    """A publisher declares (``declare``, with ``relation``) or retracts (``retract``, with
    ``reason``) the edge from ``child`` to ``parent``; ``issued_at`` makes each one a fresh
    statement (a statement is accepted once)."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["declare", "retract"]
    child: str = Field(description="NAME@REVISION")
    child_digest: str = Field(pattern=DIGEST)
    parent: str = Field(description="NAME@REVISION")
    relation: Relation | None = None
    reason: str | None = Field(default=None, max_length=10_000)
    issued_at: datetime


class LineageCorrectionStatement(_Statement):
    """Subject: the child variant."""

    predicateType: Literal["https://provreg.dev/lineage-correction/v1"] = (  # noqa: N815
        LINEAGE_CORRECTION_PREDICATE
    )
    predicate: LineageCorrectionPredicate
