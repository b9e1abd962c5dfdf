"""Trust commands reach the registry through :class:`TrustBackend`, locally or over HTTP, and
keep what this client has seen of the log in ``PROVREG_HOME`` (as rekor-cli does).

The first checkpoint a client sees is trusted on first use and pinned with the log's key; from
then on every new checkpoint must be signed by that key and be consistent with the pinned one.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlmodel import Session

from cli.backend import CliState, RemoteBackend
from registry.client import RegistryClient
from registry.config import Settings
from registry.services import keys as keys_service
from registry.services import translog
from registry.services.audit import audit_log
from registry.services.lineage_claims import claim_lineage
from registry.services.names import VariantRef
from registry.services.safeguard_policy import load_policy
from registry.services.signatures import attach_bundle, get_release_statement
from registry.services.tokens import revoke_token
from registry.services.variants import get_variant
from schemas import (
    AttachedSignaturePublic,
    AttachSignature,
    AuditReport,
    CheckpointPublic,
    ConsistencyProof,
    InclusionProof,
    KeyCreate,
    KeyPublic,
    LineageClaimCreate,
    LogEntryPublic,
    LogKey,
    StatementPublic,
    TokenRevoked,
)


class TrustBackend(Protocol):
    def add_key(self, request: KeyCreate) -> KeyPublic: ...
    def revoke_key(self, key_id: str) -> KeyPublic: ...
    def get_key(self, key_id: str) -> KeyPublic: ...
    def statement(self, ref: VariantRef) -> StatementPublic: ...
    def attach_signature(
        self, ref: VariantRef, body: AttachSignature
    ) -> AttachedSignaturePublic: ...
    def claim_lineage(self, body: LineageClaimCreate) -> StatementPublic: ...
    def log_key(self) -> LogKey: ...
    def checkpoint(self) -> CheckpointPublic: ...
    def inclusion_proof(self, index: int, tree_size: int | None) -> InclusionProof: ...
    def consistency_proof(self, first: int, second: int | None) -> ConsistencyProof: ...
    def log_entry(self, index: int) -> LogEntryPublic: ...
    def audit(self) -> AuditReport: ...
    def revoke_token(self, token_id: str) -> TokenRevoked: ...


class LocalTrust:
    """The services on the local database; the log key comes from ``settings``."""

    def __init__(self, sessions: Callable[[], Session], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings

    def add_key(self, request: KeyCreate) -> KeyPublic:
        with self.sessions() as s:
            return keys_service.add_key(s, request.namespace, request.public_key, request.role)

    def revoke_key(self, key_id: str) -> KeyPublic:
        with self.sessions() as s:
            return keys_service.revoke_key(s, key_id)

    def get_key(self, key_id: str) -> KeyPublic:
        with self.sessions() as s:
            return keys_service.key_public(s, keys_service.find_key(s, key_id))

    def statement(self, ref: VariantRef) -> StatementPublic:
        with self.sessions() as s:
            return get_release_statement(s, get_variant(s, ref))

    def attach_signature(self, ref: VariantRef, body: AttachSignature) -> AttachedSignaturePublic:
        with self.sessions() as s:
            return attach_bundle(s, get_variant(s, ref), body.bundle, body.public_key)

    def claim_lineage(self, body: LineageClaimCreate) -> StatementPublic:
        with self.sessions() as s:
            return claim_lineage(s, body.envelope)

    def log_key(self) -> LogKey:
        return translog.log_key(self.settings)

    def checkpoint(self) -> CheckpointPublic:
        with self.sessions() as s:
            return translog.checkpoint(s, self.settings)

    def inclusion_proof(self, index: int, tree_size: int | None) -> InclusionProof:
        with self.sessions() as s:
            return translog.inclusion_proof(s, index, tree_size)

    def consistency_proof(self, first: int, second: int | None) -> ConsistencyProof:
        with self.sessions() as s:
            return translog.consistency_proof(s, first, second)

    def log_entry(self, index: int) -> LogEntryPublic:
        with self.sessions() as s:
            return translog.get_entry(s, index)

    def audit(self) -> AuditReport:
        with self.sessions() as s:
            return audit_log(s, load_policy(self.settings))

    def revoke_token(self, token_id: str) -> TokenRevoked:
        with self.sessions() as s:
            row = revoke_token(s, token_id)
            return TokenRevoked(token_id=row.token_id, revoked_at=row.revoked_at)


class RemoteTrust:
    """The same calls through :class:`RegistryClient`."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client

    def add_key(self, request: KeyCreate) -> KeyPublic:
        return self.client.add_key(request)

    def revoke_key(self, key_id: str) -> KeyPublic:
        return self.client.revoke_key(key_id)

    def get_key(self, key_id: str) -> KeyPublic:
        return self.client.get_key(key_id)

    def statement(self, ref: VariantRef) -> StatementPublic:
        return self.client.statement(ref.name, ref.revision)

    def attach_signature(self, ref: VariantRef, body: AttachSignature) -> AttachedSignaturePublic:
        return self.client.attach_signature(ref.name, ref.revision, body)

    def claim_lineage(self, body: LineageClaimCreate) -> StatementPublic:
        return self.client.claim_lineage(body)

    def log_key(self) -> LogKey:
        return self.client.log_key()

    def checkpoint(self) -> CheckpointPublic:
        return self.client.checkpoint()

    def inclusion_proof(self, index: int, tree_size: int | None) -> InclusionProof:
        return self.client.inclusion_proof(index, tree_size)

    def consistency_proof(self, first: int, second: int | None) -> ConsistencyProof:
        return self.client.consistency_proof(first, second)

    def log_entry(self, index: int) -> LogEntryPublic:
        return self.client.log_entry(index)

    def audit(self) -> AuditReport:
        return self.client.audit()

    def revoke_token(self, token_id: str) -> TokenRevoked:
        return self.client.revoke_token(token_id)


def trust_backend(state: CliState) -> TrustBackend:
    """Remote when the command's backend is remote, else the local database."""
    backend = state.backend()
    if isinstance(backend, RemoteBackend):
        return RemoteTrust(backend.client)
    return LocalTrust(state.local_sessions(), state.settings)


# --- what this client has seen of the log ---------------------------------------------------


@dataclass
class SeenCheckpoint:
    origin: str
    public_key: str
    tree_size: int
    root_hash: str
    note: str


def _state_path(settings: Settings, origin: str) -> Path:
    name = hashlib.sha256(origin.encode()).hexdigest()[:16]
    return settings.home / "checkpoints" / f"{name}.json"


def load_seen(settings: Settings, origin: str) -> SeenCheckpoint | None:
    path = _state_path(settings, origin)
    if not path.is_file():
        return None
    return SeenCheckpoint(**json.loads(path.read_text()))


def save_seen(settings: Settings, seen: SeenCheckpoint) -> Path:
    """Write atomically (temp file, then rename) so a crash never leaves half a state file."""
    path = _state_path(settings, seen.origin)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(seen.__dict__, indent=2) + "\n")
    os.replace(tmp, path)
    return path
