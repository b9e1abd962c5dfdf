"""Verify a registered variant the way a consumer should before using its weights.

:class:`Verifier` runs every step and reports each by name: ``signature`` (the publisher's
statement, by a key of the variant's namespace active when it was logged), ``log_entry`` (the
registration's leaf says what the registry says), ``checkpoint`` (a freshly signed checkpoint
by the pinned log key), ``inclusion`` (the leaf is in that tree), ``consistency`` (the tree
extends the one this client saw last, see :mod:`registry.trust.pinning`) and, given a path,
``files`` (the local files hash to the registered digests). The CLI only prints the report.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from registry.errors import (
    FilesMismatch,
    ProofInvalid,
    SignatureInvalid,
    StatementMismatch,
    VerificationFailed,
)
from registry.interface import Registry
from registry.names import VariantRef
from registry.trust.canonical import sha256_digest
from registry.trust.keys import load_public_key
from registry.trust.logview import LogView, check_consistency, fresh_view, remember
from registry.trust.merkle import leaf_hash, verify_inclusion
from registry.trust.statements import open_statement
from schemas import KeyPublic, ReleaseStatement, VariantPublic, VerifyReport
from schemas.trust import VerifyCheck

T = TypeVar("T")
STEPS = ("signature", "log_entry", "checkpoint", "inclusion", "consistency", "files")


def valid_at(key: KeyPublic, log_index: int) -> bool:
    """Whether ``key`` could sign what was logged at ``log_index``."""
    if key.added_log_index is None or key.added_log_index >= log_index:
        return False
    return key.revoked_log_index is None or log_index < key.revoked_log_index


@dataclass
class Verification:
    """A finished verification: the report and the failure behind each failed step."""

    report: VerifyReport
    failures: list[VerificationFailed] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def raise_for_failure(self) -> None:
        """Raise the first failure's class naming every failed step, the report in detail."""
        if not self.failures:
            return
        first, r = self.failures[0], self.report
        failed = "; ".join(f"{c.check}: {c.detail}" for c in r.checks if not c.ok)
        raise type(first)(
            f"verification of {r.name}@{r.revision} failed: {failed}",
            hint=first.hint or "do not use these weights until the failure is explained",
            detail={"report": r.model_dump(mode="json")},
        )


class Verifier:
    """Verifies variants of ``registry``, pinning its log's checkpoints under ``home``."""

    def __init__(self, registry: Registry, home: Path) -> None:
        self.registry = registry
        self.home = home

    def verify(
        self, ref: VariantRef, *, path: Path | None = None, allow_unsigned: bool = False
    ) -> Verification:
        """Run every step on ``ref`` (and the files at ``path``); never raises for a failed step,
        only for a variant that cannot be found or a registry that cannot be reached."""
        v = self.registry.show(ref.name, ref.revision)
        report = VerifyReport(
            name=v.name,
            revision=v.revision,
            digest=v.digest,
            verified=False,
            signature=v.signature,
            log_index=v.log_index,
            attached_signatures=v.attached_signatures,  # as the registry verified them
        )
        done = Verification(report)
        envelope = self._step(done, "signature", lambda: self._signature(v, allow_unsigned))
        leaves: list[bytes] = []  # the leaf is proved even when its data disagrees
        self._step(done, "log_entry", lambda: self._entry(v, envelope, leaves))
        view = self._step(done, "checkpoint", self._checkpoint)
        if view is not None:
            report.checkpoint = {
                "origin": view.key.origin,
                "tree_size": view.checkpoint.tree_size,
                "root_hash": view.checkpoint.root_hash.hex(),
            }
            report.trust_on_first_use = view.first_use
            self._step(done, "inclusion", lambda: self._inclusion(v, leaves, view))
            if self._step(done, "consistency", lambda: self._consistency(view)) is not None:
                remember(self.home, view)
        if path is not None:
            self._step(done, "files", lambda: (None, files_match(v, path)))
        report.verified = done.ok
        return done

    @staticmethod
    def _step(done: Verification, name: str, run: Callable[[], tuple[T, str]]) -> T | None:
        """Run one named step; record its outcome and return what it found (None if it failed)."""
        try:
            found, detail = run()
        except VerificationFailed as exc:
            done.failures.append(exc)
            done.report.checks.append(VerifyCheck(check=name, ok=False, detail=exc.message))
            return None
        done.report.checks.append(VerifyCheck(check=name, ok=True, detail=detail))
        return found

    def _signature(self, v: VariantPublic, allow_unsigned: bool) -> tuple[str | None, str]:
        """The statement's envelope (None when unsigned and allowed) and a description."""
        if v.signature is None:
            if allow_unsigned:
                return None, "registered unsigned (allowed by --allow-unsigned)"
            raise SignatureInvalid(f"{v.name}@{v.revision} was registered unsigned")
        st = self.registry.statement(v.name, v.revision)
        key = self.registry.get_key(st.key_id)
        namespace = v.name.split("/", 1)[0]
        if key.namespace != namespace or key.role != "publisher":
            raise SignatureInvalid(f"key {key.key_id[:16]}… is not a publisher key of {namespace}")
        public = load_public_key(key.public_key, allow_ec=True)
        _, statement, _ = open_statement(st.envelope, {key.key_id: public}, ReleaseStatement)
        p = statement.predicate
        if (p.name, p.revision, p.digest) != (v.name, v.revision, v.digest):
            raise StatementMismatch("the signed statement names other weights or another variant")
        signed_files = {s.name: s.digest.get("sha256") for s in statement.subject[1:]}
        if signed_files != {f.path: f.sha256 for f in v.files}:
            raise StatementMismatch("the signed statement lists other files than the registry")
        if v.log_index is None or not valid_at(key, v.log_index):
            raise SignatureInvalid(
                f"key {key.key_id[:16]}… was not active when the statement was logged "
                f"(leaf {v.log_index})"
            )
        revoked = f", revoked later at leaf {key.revoked_log_index}" if not key.active else ""
        return st.envelope, f"signed by {key.key_id[:16]}… ({namespace} publisher{revoked})"

    def _entry(
        self, v: VariantPublic, envelope: str | None, leaves: list[bytes]
    ) -> tuple[None, str]:
        """Check the registration's leaf says what the registry says; its hash goes to
        ``leaves``."""
        if v.log_index is None:
            raise ProofInvalid(f"{v.name}@{v.revision} has no registration in the log")
        entry = self.registry.log_entry(v.log_index)
        leaves.append(leaf_hash(entry.data.encode()))
        data = json.loads(entry.data)
        record = data.get("record", {})
        want = {
            "kind": "variant.registered",
            "name": v.name,
            "revision": v.revision,
            "digest": v.digest,
            "files": [f.model_dump() for f in v.files],
            "statement": sha256_digest(envelope.encode()) if envelope else None,
        }
        got = {"kind": data.get("kind"), **{k: record.get(k) for k in list(want)[1:]}}
        differ = [k for k in want if want[k] != got[k]]
        if differ:
            raise ProofInvalid(f"log entry {v.log_index} says other {', '.join(differ)}")
        return None, f"leaf {v.log_index} records this registration"

    def _checkpoint(self) -> tuple[LogView, str]:
        view = fresh_view(self.registry, self.home)
        return view, f"signed by the log {view.key.origin}"

    def _inclusion(self, v: VariantPublic, leaves: list[bytes], view: LogView) -> tuple[None, str]:
        cp = view.checkpoint
        if not leaves or v.log_index is None:
            raise ProofInvalid("no log entry to prove")
        proof = self.registry.inclusion_proof(v.log_index, cp.tree_size)
        hashes = [bytes.fromhex(h) for h in proof.hashes]
        verify_inclusion(v.log_index, cp.tree_size, leaves[0], hashes, cp.root_hash)
        return None, f"leaf {v.log_index} is in the signed tree of {cp.tree_size} leaves"

    def _consistency(self, view: LogView) -> tuple[bool, str]:
        return True, check_consistency(self.registry, view)


def files_match(v: VariantPublic, path: Path) -> str:
    """Check the files at ``path`` against ``v``'s registered digests; raises
    :class:`FilesMismatch` naming each missing or differing file."""
    bad: list[str] = []
    base = path.parent if path.is_file() else path  # a single-file model: its directory
    for f in v.files:
        local = base / f.path
        if not local.is_file():
            bad.append(f"{f.path} missing")
            continue
        h = hashlib.sha256()
        with local.open("rb") as fh:
            while block := fh.read(1 << 20):
                h.update(block)
        if h.hexdigest() != f.sha256:
            bad.append(f"{f.path} differs")
    if bad:
        raise FilesMismatch(f"local files do not match: {', '.join(bad)}")
    return f"{len(v.files)} files match"
