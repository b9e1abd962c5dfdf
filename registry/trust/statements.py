"""provreg's signed statements: building them from a request, signing, opening, matching.

The helpers are generic over a statement *kind* and its predicate type (see
``schemas.statements``): releases, lineage claims and signed evaluation results
(``EVALUATION_PREDICATE``, ``schemas.evals.EvaluationStatement``) use them.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric import ed25519
from pydantic import BaseModel, ValidationError

from registry.errors import StatementMismatch
from registry.names import declared_parents
from registry.trust.canonical import canonical_json
from registry.trust.dsse import open_envelope, sign_envelope
from registry.trust.keys import PublicKey
from registry.trust.merkle import leaf_hash, root_from_leaves
from schemas.evals import EvaluationStatement
from schemas.statements import (
    EVALUATION_PREDICATE,
    LINEAGE_CORRECTION_PREDICATE,
    LINEAGE_PREDICATE,
    RELEASE_PREDICATE,
    LineageCorrectionStatement,
    LineageStatement,
    ParentClaim,
    ReleasePredicate,
    ReleaseStatement,
    Subject,
)
from schemas.variants import TensorDigest, VariantCreate

S = TypeVar("S", bound=BaseModel)

#: statement kind -> (predicate type, model)
STATEMENT_KINDS: dict[str, tuple[str, type[BaseModel]]] = {
    "release": (RELEASE_PREDICATE, ReleaseStatement),
    "lineage": (LINEAGE_PREDICATE, LineageStatement),
    "evaluation": (EVALUATION_PREDICATE, EvaluationStatement),
    "correction": (LINEAGE_CORRECTION_PREDICATE, LineageCorrectionStatement),
}


def tensors_root(tensors: list[TensorDigest]) -> str:
    """``sha256:`` + the RFC 9162 Merkle root over the tensors sorted by name, each leaf the
    canonical JSON of ``{name, dtype, shape, digest}``. It binds names and layout, which the
    variant digest (a multiset of tensor values) deliberately does not."""
    leaves = [
        leaf_hash(
            canonical_json({"name": t.name, "dtype": t.dtype, "shape": t.shape, "digest": t.digest})
        )
        for t in sorted(tensors, key=lambda t: t.name)
    ]
    return "sha256:" + root_from_leaves(leaves).hex()


def sketch_digest(sketch_b64: str | None) -> str | None:
    """``sha256:`` of the sketch's bytes (the field carries them base64-encoded)."""
    if not sketch_b64:
        return None
    return "sha256:" + hashlib.sha256(base64.b64decode(sketch_b64)).hexdigest()


def parent_claims(request: VariantCreate) -> list[ParentClaim]:
    """The parents ``request`` declares, as its release statement names them (normalised by
    :func:`registry.names.declared_parents`, as the server reads them)."""
    return [
        ParentClaim(name=str(ref), relation=relation)
        for ref, relation in declared_parents(request.parents)
    ]


def release_statement(request: VariantCreate, parents: list[ParentClaim]) -> ReleaseStatement:
    """The release statement for ``request``; ``parents`` already normalised to NAME@REVISION."""
    fp = request.fingerprint
    subjects = [
        Subject(
            name=f"{request.name}@{request.revision}",
            digest={"sha256": fp.digest.removeprefix("sha256:")},
        )
    ]
    subjects += [
        Subject(name=f.path, digest={"sha256": f.sha256})
        for f in sorted(fp.files, key=lambda f: f.path)
    ]
    return ReleaseStatement(
        subject=subjects,
        predicate=ReleasePredicate(
            name=request.name,
            revision=request.revision,
            digest=fp.digest,
            format=fp.format,
            tensors_root=tensors_root(fp.tensors),
            tensor_count=len(fp.tensors),
            sketch_digest=sketch_digest(fp.sketch),
            parents=sorted(parents, key=lambda p: p.name),
        ),
    )


def statement_bytes(statement: BaseModel) -> bytes:
    """The canonical JSON a statement is signed as (``_type`` by its alias)."""
    return canonical_json(statement.model_dump(mode="json", by_alias=True))


def sign_statement(statement: BaseModel, private_key: ed25519.Ed25519PrivateKey) -> str:
    """A DSSE envelope (JSON text) over ``statement``."""
    return sign_envelope(statement_bytes(statement), private_key)


def open_statement(
    envelope: str | bytes, keys: Mapping[str, PublicKey], model: type[S]
) -> tuple[str, S, bytes]:
    """Verify ``envelope`` against ``keys`` and parse its statement as ``model``.

    Returns ``(key_id, statement, payload_bytes)``. Raises :class:`SignatureInvalid` (bad or
    foreign signature) or :class:`StatementMismatch` (the payload is not a ``model``).
    """
    kid, payload = open_envelope(envelope, keys)
    try:
        statement = model.model_validate(json.loads(payload))
    except (ValueError, ValidationError) as exc:
        raise StatementMismatch(
            f"the signed payload is not a {model.__name__}: {str(exc).splitlines()[0]}",
            hint="sign the statement provreg builds (`provreg register --sign`)",
        ) from None
    return kid, statement, payload


def check_release_matches(
    statement: ReleaseStatement, request: VariantCreate, parents: list[ParentClaim]
) -> None:
    """Raise :class:`StatementMismatch` naming each field where the signed statement and the
    registration request disagree."""
    expected = release_statement(request, parents)
    differences = []
    want, got = expected.predicate, statement.predicate
    for field in ReleasePredicate.model_fields:
        if getattr(want, field) != getattr(got, field):
            differences.append(field)
    if sorted(s.model_dump_json() for s in statement.subject) != sorted(
        s.model_dump_json() for s in expected.subject
    ):
        differences.append("subject (variant digest or files)")
    if differences:
        raise StatementMismatch(
            f"the signed release statement does not match the registration: "
            f"{', '.join(differences)} differ",
            hint="sign the statement for exactly these weights, name, revision and parents",
            detail={"fields": differences},
        )
