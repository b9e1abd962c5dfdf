"""One reading of declared parents: the signer signs what the server will store."""

from __future__ import annotations

import pytest

from registry.errors import InvalidInput, InvalidName
from registry.names import VariantRef, declared_parents
from registry.trust.statements import parent_claims
from schemas import DeclaredParent
from tests.factories import variant_request


def test_parents_are_parsed_deduplicated_and_kept_in_order() -> None:
    parents = [
        DeclaredParent(name="acme/base", relation="finetune"),
        DeclaredParent(name="acme/other@v2", relation="merge"),
        DeclaredParent(name=" acme/base@main ", relation="finetune"),
    ]
    assert declared_parents(parents) == [
        (VariantRef("acme/base", "main"), "finetune"),
        (VariantRef("acme/other", "v2"), "merge"),
    ]


def test_a_conflicting_or_malformed_parent_is_refused() -> None:
    with pytest.raises(InvalidInput, match="declared twice"):
        declared_parents(
            [
                DeclaredParent(name="acme/base", relation="finetune"),
                DeclaredParent(name="acme/base@main", relation="quantized"),
            ]
        )
    with pytest.raises(InvalidName):
        declared_parents([DeclaredParent(name="not a name", relation="finetune")])


def test_the_release_statement_names_parents_as_the_server_reads_them() -> None:
    request = variant_request("acme/chat", parents={"acme/base": "finetune"})
    request.parents.append(DeclaredParent(name="acme/base@main", relation="finetune"))
    claims = parent_claims(request)
    assert [(c.name, c.relation) for c in claims] == [("acme/base@main", "finetune")]
    request.parents.append(DeclaredParent(name="acme/base", relation="merge"))
    with pytest.raises(InvalidInput):  # signed first-wins before; the server refused it
        parent_claims(request)
