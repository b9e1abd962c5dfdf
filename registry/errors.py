"""One exception tree for the whole registry.

Every error carries a stable ``code`` (used on the wire and mapped back by the client), an HTTP
``status``, a one-line ``message`` and, where there is one, a ``hint`` that says how to fix it::

    ProvregError
    ├── InvalidInput (400)
    │   ├── InvalidName                 invalid_name
    │   ├── InvalidRelation             invalid_relation
    │   ├── ModelCardInvalid            model_card_invalid
    │   ├── CursorInvalid               cursor_invalid
    │   ├── SketchInvalid               sketch_invalid
    │   ├── KeyInvalid                  key_invalid
    │   ├── LogRangeInvalid             log_range_invalid
    │   ├── EvalFileInvalid             eval_file_invalid    detail.field names the field
    │   ├── EvalValueInvalid            eval_value_invalid   a rate outside [0, 1], ...
    │   ├── BenchmarkUnknown            benchmark_unknown    detail.did_you_mean
    │   ├── DownloadLogInvalid          download_log_invalid detail.line, detail.field
    │   ├── PolicyInvalid               policy_invalid
    │   ├── FingerprintInvalid          fingerprint_invalid  a submitted fingerprint breaks a limit
    │   ├── DumpInvalid                 dump_invalid         a dump that is malformed or tampered
    │   ├── LocalOnly                   local_only           admin work on the local database only
    │   ├── ConfigInvalid               config_invalid       the CLI's config file cannot be read
    │   ├── ProfileNotFound             profile_not_found    no such profile in the config file
    │   └── WeightsError
    │       ├── WeightsNotFound         weights_not_found
    │       ├── UnsupportedFormat       unsupported_format
    │       ├── PickleRefused           pickle_refused
    │       ├── HeaderMalformed         header_malformed
    │       ├── ShardIndexMalformed     shard_index_malformed
    │       ├── ConfigMalformed         config_malformed
    │       └── FileOutsideModel        file_outside_model   a link leads out of the directory
    ├── AuthError
    │   ├── TokenMissing (401)          token_missing
    │   ├── TokenInvalid (401)          token_invalid
    │   └── PermissionDenied (403)      permission_denied
    ├── RateLimited (429)               rate_limited          detail.retry_after (seconds)
    ├── BodyTooLarge (413)              body_too_large        detail.max_bytes
    ├── VerificationFailed (422)        verification_failed   a check of trust did not pass
    │   ├── SignatureInvalid            signature_invalid
    │   ├── KeyRevoked                  key_revoked
    │   ├── StatementMismatch           statement_mismatch
    │   ├── BundleInvalid               bundle_invalid
    │   ├── ProofInvalid                proof_invalid
    │   ├── ConsistencyFailed           consistency_failed
    │   ├── FilesMismatch               files_mismatch
    │   └── AuditFailed                 audit_failed
    ├── NotFound (404)
    │   ├── VariantNotFound             variant_not_found
    │   ├── KeyNotFound                 key_not_found
    │   ├── TokenNotFound               token_not_found
    │   ├── AdvisoryNotFound            advisory_not_found
    │   ├── EdgeNotFound                edge_not_found
    │   ├── EvalResultNotFound          eval_result_not_found
    │   ├── HubRepoNotFound             hub_repo_not_found
    │   ├── WebhookNotFound             webhook_not_found
    │   └── LogEntryNotFound            log_entry_not_found
    ├── Conflict (409)
    │   ├── RevisionImmutable           revision_immutable
    │   ├── LineageCycle                lineage_cycle
    │   ├── KeyExists                   key_exists
    │   ├── StatementReplayed           statement_replayed
    │   ├── LineageNeedsDeclare         lineage_needs_declare
    │   └── DatabaseNotEmpty            database_not_empty   restore needs an empty database
    ├── DatabaseError (500)
    │   └── DatabaseNotInitialised      database_not_initialised
    ├── ServerUnreachable (503)         server_unreachable
    └── HubUnavailable (502)            hub_unavailable       the Hub failed after retries
"""

from __future__ import annotations

from typing import Any, ClassVar


class ProvregError(Exception):
    """Base of every error provreg raises on purpose."""

    code: ClassVar[str] = "provreg_error"
    status: ClassVar[int] = 500

    def __init__(
        self, message: str, *, hint: str | None = None, detail: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.detail = dict(detail or {})

    def to_dict(self) -> dict[str, Any]:
        """The wire form: ``{"code", "message", "detail"}`` (the hint travels in detail)."""
        detail = dict(self.detail)
        if self.hint:
            detail.setdefault("hint", self.hint)
        return {"code": self.code, "message": self.message, "detail": detail}


class InvalidInput(ProvregError):
    code = "invalid_input"
    status = 400


class InvalidName(InvalidInput):
    code = "invalid_name"


class InvalidRelation(InvalidInput):
    code = "invalid_relation"


class ModelCardInvalid(InvalidInput):
    code = "model_card_invalid"


class CursorInvalid(InvalidInput):
    code = "cursor_invalid"


class SketchInvalid(InvalidInput):
    code = "sketch_invalid"


class KeyInvalid(InvalidInput):
    code = "key_invalid"


class LogRangeInvalid(InvalidInput):
    code = "log_range_invalid"


class EvalFileInvalid(InvalidInput):
    """An evaluation results file or record is malformed; ``detail["field"]`` names the field."""

    code = "eval_file_invalid"


class EvalValueInvalid(InvalidInput):
    code = "eval_value_invalid"


class BenchmarkUnknown(InvalidInput):
    code = "benchmark_unknown"


class DownloadLogInvalid(InvalidInput):
    code = "download_log_invalid"


class PolicyInvalid(InvalidInput):
    code = "policy_invalid"


class FingerprintInvalid(InvalidInput):
    """A fingerprint sent for registration holds a value the registry refuses to store."""

    code = "fingerprint_invalid"


class DumpInvalid(InvalidInput):
    code = "dump_invalid"


class LocalOnly(InvalidInput):
    code = "local_only"


class ConfigInvalid(InvalidInput):
    code = "config_invalid"


class ProfileNotFound(InvalidInput):
    code = "profile_not_found"


class WeightsError(InvalidInput):
    """Something is wrong with the model files themselves."""

    code = "weights_invalid"


class WeightsNotFound(WeightsError):
    code = "weights_not_found"


class UnsupportedFormat(WeightsError):
    code = "unsupported_format"


class PickleRefused(WeightsError):
    code = "pickle_refused"


class HeaderMalformed(WeightsError):
    code = "header_malformed"


class ShardIndexMalformed(WeightsError):
    code = "shard_index_malformed"


class ConfigMalformed(WeightsError):
    code = "config_malformed"


class FileOutsideModel(WeightsError):
    """A file of the model's directory resolves (through a link) to a place outside it."""

    code = "file_outside_model"


class AuthError(ProvregError):
    code = "auth_error"
    status = 401


class TokenMissing(AuthError):
    code = "token_missing"
    status = 401


class TokenInvalid(AuthError):
    code = "token_invalid"
    status = 401


class PermissionDenied(AuthError):
    code = "permission_denied"
    status = 403

    @classmethod
    def to_publish(cls, scope: str, namespace: str) -> PermissionDenied:
        """The refusal of a token of ``scope`` that may not publish in ``namespace`` (the
        server's and the CLI's pre-flight say it alike)."""
        return cls(
            f"token scope {scope!r} cannot publish in namespace {namespace!r}",
            hint=f"use a token with scope publish:{namespace} or admin",
        )


class BodyTooLarge(ProvregError):
    """A request body over the server's cap; ``detail["max_bytes"]`` is the cap."""

    code = "body_too_large"
    status = 413


class RateLimited(ProvregError):
    """Too many writes for one token; ``detail["retry_after"]`` says when to try again."""

    code = "rate_limited"
    status = 429


class VerificationFailed(ProvregError):
    """A signature, statement, proof, checkpoint or file did not check out."""

    code = "verification_failed"
    status = 422


class SignatureInvalid(VerificationFailed):
    code = "signature_invalid"


class KeyRevoked(VerificationFailed):
    code = "key_revoked"


class StatementMismatch(VerificationFailed):
    code = "statement_mismatch"


class BundleInvalid(VerificationFailed):
    code = "bundle_invalid"


class ProofInvalid(VerificationFailed):
    code = "proof_invalid"


class ConsistencyFailed(VerificationFailed):
    code = "consistency_failed"


class FilesMismatch(VerificationFailed):
    code = "files_mismatch"


class AuditFailed(VerificationFailed):
    code = "audit_failed"


class NotFound(ProvregError):
    code = "not_found"
    status = 404


class VariantNotFound(NotFound):
    code = "variant_not_found"


class KeyNotFound(NotFound):
    code = "key_not_found"


class TokenNotFound(NotFound):
    code = "token_not_found"


class AdvisoryNotFound(NotFound):
    code = "advisory_not_found"


class EdgeNotFound(NotFound):
    code = "edge_not_found"


class EvalResultNotFound(NotFound):
    code = "eval_result_not_found"


class HubRepoNotFound(NotFound):
    code = "hub_repo_not_found"


class WebhookNotFound(NotFound):
    code = "webhook_not_found"


class LogEntryNotFound(NotFound):
    code = "log_entry_not_found"


class Conflict(ProvregError):
    code = "conflict"
    status = 409


class RevisionImmutable(Conflict):
    code = "revision_immutable"


class LineageCycle(Conflict):
    code = "lineage_cycle"


class KeyExists(Conflict):
    code = "key_exists"


class StatementReplayed(Conflict):
    code = "statement_replayed"


class LineageNeedsDeclare(Conflict):
    """A re-registration of unchanged weights tried to add parents: lineage changes are their
    own logged events."""

    code = "lineage_needs_declare"


class DatabaseNotEmpty(Conflict):
    code = "database_not_empty"


class DatabaseError(ProvregError):
    code = "database_error"
    status = 500


class DatabaseNotInitialised(DatabaseError):
    code = "database_not_initialised"


class ServerUnreachable(ProvregError):
    code = "server_unreachable"
    status = 503


class HubUnavailable(ProvregError):
    code = "hub_unavailable"
    status = 502


def _all_subclasses(cls: type[ProvregError]) -> list[type[ProvregError]]:
    out: list[type[ProvregError]] = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out


def error_class_for(code: str) -> type[ProvregError]:
    """The exception class for a wire ``code``; unknown codes map to :class:`ProvregError`."""
    candidates: list[type[ProvregError]] = [ProvregError, *_all_subclasses(ProvregError)]
    for cls in candidates:
        if cls.code == code:
            return cls
    return ProvregError


def from_wire(payload: dict[str, Any], status: int) -> ProvregError:
    """Rebuild the registry error a server sent as ``{"error": {...}}``."""
    body = payload.get("error", {}) if isinstance(payload, dict) else {}
    code = str(body.get("code", "provreg_error"))
    message = str(body.get("message") or f"server answered HTTP {status}")
    detail = body.get("detail") or {}
    hint = detail.get("hint") if isinstance(detail, dict) else None
    cls = error_class_for(code)
    return cls(message, hint=hint, detail=detail if isinstance(detail, dict) else {})
