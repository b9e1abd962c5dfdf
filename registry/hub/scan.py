"""``hub scan``: repos on the Hub that do not declare a family but may belong to it.

Candidates come from the Hub's model listing (searches and authors, with ``expand`` for
parameter counts, config and GGUF facts). A candidate is examined when its size and
architecture could be those of a registered member of ROOT's family: parameter counts within
:data:`SIZE_TOLERANCE` (vocabulary changes, pruning and quantized formats move them a little;
GGUF counts are of elements, as for safetensors) and an architecture the family has (unknown
ones are kept: a stripped config proves nothing). An examined repo is recorded as an observed
variant, its files with their LFS SHA-256; one whose weight files equal a registered variant's
is recorded as its copy with nothing downloaded. The rest can then be fingerprinted (jobs),
which identifies them and adds ``detected`` edges. A repo already examined at its commit is not
examined again, so a killed scan resumes where it stopped and repeats no work.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from registry.db.engine import transaction
from registry.db.lineage_queries import subtree_ids
from registry.db.models import HubRepo, LineageEdge, Variant, utcnow
from registry.errors import InvalidInput, VariantNotFound
from registry.hub.reader import Candidate, HubReader
from registry.hub.record import SyncTally
from registry.hub.sync import record_repo
from registry.names import VariantRef, validate_name
from registry.services.safeguards.policy import SafeguardPolicy
from schemas import HubScanFinding, HubScanMatch, HubScanResult

SIZE_TOLERANCE = 0.25  # relative difference in parameter count still considered
MAX_CANDIDATES = 10_000


@dataclass(frozen=True)
class FamilyProfile:
    """What a member of ROOT's family looks like: sizes, architectures, names."""

    names: frozenset[str]
    parameters: tuple[int, ...]
    architectures: frozenset[str]


_ARCH_WORDS = re.compile(r"(forcausallm|formaskedlm|model|lmheadmodel|forconditionalgeneration)$")


def arch_key(value: str | None) -> str | None:
    """``LlamaForCausalLM``, ``llama`` and GGUF's ``llama`` compare equal."""
    if not value:
        return None
    key = _ARCH_WORDS.sub("", value.strip().lower().replace("_", "").replace("-", ""))
    return key or None


def family_profile(session: Session, root: str) -> FamilyProfile:
    """ROOT and everything registered below it. Raises :class:`VariantNotFound`."""
    ref = VariantRef(validate_name(root), "main")
    top = session.exec(select(Variant).where(Variant.name == ref.name)).first()
    if top is None or top.id is None:
        raise VariantNotFound(
            f"{root} is not registered", hint="register the release (or hub sync it) first"
        )
    ids = subtree_ids(session, top.id)
    members = list(session.exec(select(Variant).where(col(Variant.id).in_(ids))))
    archs = set()
    for v in members:
        for candidate in (v.architecture, (v.config or {}).get("model_type")):
            if (key := arch_key(candidate if isinstance(candidate, str) else None)) is not None:
                archs.add(key)
    return FamilyProfile(
        names=frozenset(v.name for v in members),
        parameters=tuple(sorted({v.parameters for v in members if v.parameters})),
        architectures=frozenset(archs),
    )


def fits(profile: FamilyProfile, candidate: Candidate) -> str | None:
    """Why ``candidate`` cannot be a member (None: it may be)."""
    arch = arch_key(candidate.architecture)
    if arch is not None and profile.architectures and arch not in profile.architectures:
        return f"architecture {candidate.architecture} is not the family's"
    if candidate.parameters and profile.parameters:
        closest = min(profile.parameters, key=lambda p: abs(p - candidate.parameters))  # type: ignore[operator]
        if abs(candidate.parameters - closest) > SIZE_TOLERANCE * closest:
            return f"{candidate.parameters:,} parameters, the family's closest is {closest:,}"
    return None


def scan_root(
    session: Session,
    hub: HubReader,
    root: str,
    policy: SafeguardPolicy,
    *,
    searches: Sequence[str] = (),
    authors: Sequence[str] = (),
    limit: int = 1000,
    on_repo: Callable[[str, int], None] | None = None,
) -> HubScanResult:
    """Examine the listing's candidates for ROOT's family (see the module docstring).

    Raises VariantNotFound (ROOT unknown), InvalidInput (nothing to list by), HubUnavailable.
    """
    if not searches and not authors:
        raise InvalidInput(
            "a scan needs something to list by", hint="give --search TEXT or --author NAME"
        )
    if not 1 <= limit <= MAX_CANDIDATES:
        raise InvalidInput(f"--limit {limit} is out of range", hint=f"use 1 to {MAX_CANDIDATES}")
    profile = family_profile(session, root)
    seen: dict[str, Candidate] = {}
    for text in searches:
        for c in hub.candidates(search=text, limit=limit):
            seen.setdefault(c.facts.repo_id, c)
    for author in authors:
        for c in hub.candidates(author=author, limit=limit):
            seen.setdefault(c.facts.repo_id, c)
    candidates = list(seen.values())[:limit]
    tally = SyncTally()
    findings: list[HubScanFinding] = []
    for n, candidate in enumerate(candidates, start=1):
        if on_repo is not None:
            on_repo(candidate.facts.repo_id, n)
        findings.append(_examine(session, hub, policy, profile, candidate, tally))
    outcomes = Counter(f.outcome for f in findings)
    return HubScanResult(
        root=root,
        endpoint=hub.endpoint,
        listed=len(candidates),
        examined=outcomes["examined"] + outcomes["copy"],
        exact_copies=outcomes["copy"],
        skipped=outcomes["skipped"],
        already_known=outcomes["known"],
        findings=findings,
    )


def _examine(
    session: Session,
    hub: HubReader,
    policy: SafeguardPolicy,
    profile: FamilyProfile,
    candidate: Candidate,
    tally: SyncTally,
) -> HubScanFinding:
    repo_id = candidate.facts.repo_id
    if repo_id in profile.names:
        return HubScanFinding(repo=repo_id, outcome="known", reason="already in the family")
    try:
        validate_name(repo_id)
    except InvalidInput as exc:
        return HubScanFinding(repo=repo_id, outcome="skipped", reason=exc.message)
    if (why := fits(profile, candidate)) is not None:
        return HubScanFinding(repo=repo_id, outcome="skipped", reason=why)
    with transaction(session):
        # no frontier tells a rerun (or a resumed scan) what it saw: figures it recorded
        # already are not recorded again
        repo = record_repo(session, hub, policy, candidate.facts, utcnow(), tally, recount=False)
    copy = session.get(Variant, repo.exact_copy_of) if repo.exact_copy_of else None
    if copy is not None:
        return HubScanFinding(
            repo=repo_id,
            outcome="copy",
            reason="its weight files are, by LFS SHA-256, those of a registered variant",
            copy_of=copy.ref,
        )
    size = f"{candidate.parameters:,} parameters" if candidate.parameters else "size unknown"
    return HubScanFinding(
        repo=repo_id, outcome="examined", reason=f"{size}, architecture {candidate.architecture}"
    )


def examined_repos(session: Session, names: Sequence[str]) -> list[HubRepo]:
    """The recorded Hub repos named ``names`` (for fingerprint jobs)."""
    if not names:
        return []
    return list(session.exec(select(HubRepo).where(col(HubRepo.repo_id).in_(list(names)))))


def scan_matches(session: Session, names: Sequence[str]) -> list[HubScanMatch]:
    """The lineage edges from the repos named ``names`` to their parents: exact copies found
    by digest, and what fingerprinting detected or checked, with the reason in words."""
    if not names:
        return []
    out: list[HubScanMatch] = []
    rows = session.exec(
        select(HubRepo, LineageEdge)
        .join(LineageEdge, col(LineageEdge.child_id) == HubRepo.variant_id)
        .where(col(HubRepo.repo_id).in_(list(names)))
        .order_by(col(HubRepo.repo_id))
    ).all()
    for repo, edge in rows:
        parent = session.get(Variant, edge.parent_id)
        evidence = edge.evidence or {}
        if evidence.get("exact"):
            why = str(evidence["exact"])
        else:
            reasons = evidence.get("reasons") or []
            verdict = evidence.get("verdict", edge.status)
            why = f"weights say {verdict}" + (
                f": {'; '.join(map(str, reasons[:3]))}" if reasons else ""
            )
        out.append(
            HubScanMatch(
                repo=repo.repo_id,
                parent=parent.ref if parent is not None else str(edge.parent_id),
                relation=edge.relation,
                source=edge.source,
                status=edge.status,
                score=edge.score,
                why=why,
            )
        )
    return out
