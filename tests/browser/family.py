"""A seeded model family for the explorer's browser tests, built through the real services.

Tiny safetensors models are written and fingerprinted on the fly, so declared edges get checked
against the weights (``verified``, ``disputed``) and an undeclared copy gets a ``detected``
edge; a dozen fine-tunes of one parent (fingerprints only) make a sibling group big enough to
collapse. Results, downloads over several dates and an advisory complete the picture; a
separate 100-variant tree with long names tests the layout of labels and names.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlmodel import Session

from registry.config import Settings
from registry.db import make_engine, upgrade_database
from registry.names import parse_ref
from registry.services import register_variant
from registry.services.downloads.report import record_downloads
from registry.services.evals.results import add_results
from registry.services.safeguards.advisories import add_advisory
from registry.services.safeguards.policy import load_policy
from registry.services.safeguards.status import catch_up
from registry.services.trust.keys import add_key
from registry.trust.keys import public_key_pem
from registry.trust.statements import release_statement, sign_statement
from registry.weights import fingerprint_source, open_model
from registry.weights.sketching import sketch_source
from schemas import (
    AdvisoryCreate,
    DeclaredParent,
    DownloadRecord,
    EvalResultCreate,
    VariantCreate,
)
from schemas.statements import ParentClaim
from tests.factories import (
    finetuned,
    quantized_int8,
    tiny_tensors,
    variant_request,
    write_model,
)

BASE = "acme/tiny-base@v1"
CHAT = "acme/tiny-chat@main"
CODE = "acme/tiny-code@main"
INT8 = "community/tiny-chat-int8@main"
MERGE = "community/chat-code-merge@main"
UNCENSORED = "bad/tiny-chat-uncensored@main"
MIRROR = "anon/tiny-chat-copy@main"
CLAIMED = "fans/unrelated-claim@main"
FANS = [f"fans/tiny-chat-ft-{i:02d}@main" for i in range(1, 13)]
TREE_ROOT = "tree/foundation-model-with-a-rather-long-name@main"
TREE_RELATIONS = ("finetune", "quantized", "adapter", "merge", "distilled", "pruned")


def _register(
    session: Session,
    models: Path,
    ref: str,
    tensors: dict[str, np.ndarray],
    *,
    sign_with: ed25519.Ed25519PrivateKey | None = None,
    **parents: str,
) -> None:
    r = parse_ref(ref)
    source = open_model(write_model(models / r.name.replace("/", "--"), tensors))
    fingerprint = fingerprint_source(source)
    fingerprint.sketch = base64.b64encode(sketch_source(source).to_bytes()).decode()
    request = VariantCreate(
        name=r.name,
        revision=r.revision,
        fingerprint=fingerprint,
        parents=[DeclaredParent(name=p, relation=rel) for p, rel in parents.items()],  # type: ignore[arg-type]
    )
    if sign_with is not None:
        claims = [ParentClaim(name=p, relation=rel) for p, rel in parents.items()]  # type: ignore[arg-type]
        request.signed_statement = sign_statement(release_statement(request, claims), sign_with)
    register_variant(session, request)


def _harmbench(asr: float) -> list[EvalResultCreate]:
    return [
        EvalResultCreate(
            benchmark="harmbench", metric="asr", value=asr, stderr=0.01, samples=400,
            evaluator="redteam.example", source="manual",
        )
    ]  # fmt: skip


def tree_refs() -> list[tuple[str, str, str]]:
    """A 100-variant tree under TREE_ROOT (3 children, 8 grandchildren each, 3 below each of
    those), with long names and mixed relations: (child, parent, relation), parents first."""
    out = []
    for i in range(3):
        child = f"tree-lab-{i}/instruct-{i}-extended-context@main"
        out.append((child, TREE_ROOT, TREE_RELATIONS[i]))
        for j in range(8):
            grandchild = f"tree-community-{i}/assistant-{i}-{j}-long-context-chat@main"
            out.append((grandchild, child, TREE_RELATIONS[(i + j) % len(TREE_RELATIONS)]))
            for k in range(3):
                leaf = f"tree-quant-{i}-{j}/assistant-{i}-{j}-{k}-q4_k_m@main"
                out.append((leaf, grandchild, TREE_RELATIONS[(j + k) % len(TREE_RELATIONS)]))
    return out


def _seed_tree(session: Session) -> None:
    r = parse_ref(TREE_ROOT)
    register_variant(session, variant_request(r.name))
    for child, parent, relation in tree_refs():
        c = parse_ref(child)
        register_variant(session, variant_request(c.name, parents={parent: relation}))


def seed_family(settings: Settings, models: Path) -> None:
    """Create the database of ``settings`` and register the family into it."""
    engine = make_engine(settings)
    upgrade_database(engine)
    policy = load_policy(settings)
    base = tiny_tensors(1)
    chat = finetuned(base, seed=2)
    code = finetuned(base, seed=3)
    with Session(engine, expire_on_commit=False) as session:
        publisher = ed25519.Ed25519PrivateKey.generate()
        add_key(session, "acme", public_key_pem(publisher.public_key()))
        _register(session, models, BASE, base, sign_with=publisher)
        _register(session, models, CHAT, chat, **{BASE: "finetune"})
        _register(session, models, CODE, code, **{BASE: "finetune"})
        _register(session, models, INT8, quantized_int8(chat), **{CHAT: "quantized"})
        merged = {k: (chat[k] + code[k]) / 2 for k in base}
        _register(session, models, MERGE, merged, **{CHAT: "merge", CODE: "merge"})
        _register(session, models, UNCENSORED, finetuned(chat, seed=4), **{CHAT: "finetune"})
        _register(session, models, MIRROR, finetuned(chat, seed=5, scale=0.01))  # undeclared
        _register(session, models, CLAIMED, tiny_tensors(99), **{BASE: "finetune"})
        for ref in FANS:
            r = parse_ref(ref)
            register_variant(session, variant_request(r.name, parents={CHAT: "finetune"}))
        add_results(session, parse_ref(BASE), _harmbench(0.04), policy)
        add_results(session, parse_ref(CHAT), _harmbench(0.05), policy)
        add_results(session, parse_ref(UNCENSORED), _harmbench(0.71), policy)
        for month, count in ((8, 1200), (9, 2600), (10, 4100), (11, 5300)):
            at = datetime(2026, month, 1, tzinfo=UTC)
            record_downloads(session, parse_ref(CHAT), DownloadRecord(count=count, observed_at=at))
        counts = {BASE: 9000, UNCENSORED: 12000, INT8: 3000, MERGE: 800, MIRROR: 150}
        counts.update({ref: 40 * (i + 1) for i, ref in enumerate(FANS)})
        for ref, count in counts.items():
            at = datetime(2026, 11, 1, tzinfo=UTC)
            record_downloads(session, parse_ref(ref), DownloadRecord(count=count, observed_at=at))
        add_advisory(
            session,
            AdvisoryCreate(
                name=UNCENSORED,
                severity="high",
                summary="Refusal training removed; answers harmful requests.",
                references=["https://example.org/advisories/1"],
            ),
        )
        _seed_tree(session)
        catch_up(session, policy)  # statuses computed, as a running server has them
    engine.dispose()
