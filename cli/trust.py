"""`provreg verify`, `provreg attach-signature` and `provreg audit`.

verify runs every check and then fails naming each one that did not pass: the publisher's
signature (by a key of the variant's namespace that was active when the statement was logged),
the registration's log entry, its inclusion under a freshly verified checkpoint, that
checkpoint's consistency with the last one this client saw, and with --path the local files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from cli.backend import CliState
from cli.log_view import check_consistency, fresh_view, remember
from cli.options import JsonOption
from cli.output import emit_json, stderr, stdout
from cli.trust_backend import TrustBackend, trust_backend
from registry.errors import (
    AuditFailed,
    BundleInvalid,
    ConsistencyFailed,
    FilesMismatch,
    InvalidInput,
    KeyInvalid,
    ProofInvalid,
    SignatureInvalid,
    StatementMismatch,
    VerificationFailed,
)
from registry.services import keys as keys_service
from registry.services import parse_ref
from registry.trust.canonical import sha256_digest
from registry.trust.keys import load_public_key
from registry.trust.merkle import leaf_hash, verify_inclusion
from registry.trust.statements import open_statement
from schemas import AttachSignature, ReleaseStatement, VariantPublic, VerifyReport
from schemas.trust import AuditProblem, VerifyCheck


class _Checks:
    def __init__(self, report: VerifyReport) -> None:
        self.report = report
        self.failures: list[VerificationFailed] = []

    def run(self, name: str, check: Callable[[], str]) -> bool:
        try:
            detail = check()
        except VerificationFailed as exc:
            self.failures.append(exc)
            self.report.checks.append(VerifyCheck(check=name, ok=False, detail=exc.message))
            return False
        self.report.checks.append(VerifyCheck(check=name, ok=True, detail=detail))
        return True


def _signature(
    trust: TrustBackend, v: VariantPublic, allow_unsigned: bool, envelope: list[str | None]
) -> str:
    if v.signature is None:
        if allow_unsigned:
            return "registered unsigned (allowed by --allow-unsigned)"
        raise SignatureInvalid(f"{v.name}@{v.revision} was registered unsigned")
    st = trust.statement(parse_ref(f"{v.name}@{v.revision}"))
    envelope[0] = st.envelope
    key = trust.get_key(st.key_id)
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
    if v.log_index is None or not keys_service.valid_at(key, v.log_index):
        raise SignatureInvalid(
            f"key {key.key_id[:16]}… was not active when the statement was logged "
            f"(leaf {v.log_index})"
        )
    revoked = f", revoked later at leaf {key.revoked_log_index}" if not key.active else ""
    return f"signed by {key.key_id[:16]}… ({namespace} publisher{revoked})"


def _entry(trust: TrustBackend, v: VariantPublic, envelope: str | None, leaf: list[bytes]) -> str:
    if v.log_index is None:
        raise ProofInvalid(f"{v.name}@{v.revision} has no registration in the log")
    entry = trust.log_entry(v.log_index)
    leaf.append(leaf_hash(entry.data.encode()))
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
    return f"leaf {v.log_index} records this registration"


def _files(v: VariantPublic, path: Path) -> str:
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


def verify(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="NAME[@REV]", help="the variant")],
    path: Annotated[Path | None, typer.Option("--path", help="check these local files")] = None,
    allow_unsigned: Annotated[
        bool, typer.Option("--allow-unsigned", help="do not fail on an unsigned registration")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Verify a variant: signature, log inclusion and consistency, and local files."""
    state: CliState = ctx.obj
    if path is not None and not path.exists():
        raise InvalidInput(
            f"--path {path} does not exist", hint="pass the directory holding the model's files"
        )
    trust = trust_backend(state)
    v = state.backend().show(parse_ref(ref))
    report = VerifyReport(
        name=v.name,
        revision=v.revision,
        digest=v.digest,
        verified=False,
        signature=v.signature,
        log_index=v.log_index,
    )
    checks = _Checks(report)
    envelope: list[str | None] = [None]
    leaf: list[bytes] = []

    checks.run("signature", lambda: _signature(trust, v, allow_unsigned, envelope))
    checks.run("log_entry", lambda: _entry(trust, v, envelope[0], leaf))
    view = None
    try:
        view = fresh_view(trust, state.settings)
        report.checkpoint = {
            "origin": view.key.origin,
            "tree_size": view.checkpoint.tree_size,
            "root_hash": view.checkpoint.root_hash.hex(),
        }
        report.trust_on_first_use = view.first_use
    except VerificationFailed as exc:
        checks.failures.append(exc)
        report.checks.append(VerifyCheck(check="checkpoint", ok=False, detail=exc.message))
    if view is not None:
        cp = view.checkpoint

        def inclusion() -> str:
            if not leaf or v.log_index is None:
                raise ProofInvalid("no log entry to prove")
            proof = trust.inclusion_proof(v.log_index, cp.tree_size)
            verify_inclusion(
                v.log_index,
                cp.tree_size,
                leaf[0],
                [bytes.fromhex(h) for h in proof.hashes],
                cp.root_hash,
            )
            return f"leaf {v.log_index} is in the signed tree of {cp.tree_size} leaves"

        checks.run("checkpoint", lambda: f"signed by the log {view.key.origin}")
        checks.run("inclusion", inclusion)
        if checks.run("consistency", lambda: check_consistency(trust, view)):
            remember(state.settings, view)
    if path is not None:
        checks.run("files", lambda: _files(v, path))
    report.verified = not checks.failures
    if checks.failures:
        first = checks.failures[0]
        failed = "; ".join(f"{c.check}: {c.detail}" for c in report.checks if not c.ok)
        raise type(first)(
            f"verification of {v.name}@{v.revision} failed: {failed}",
            hint=first.hint or "do not use these weights until the failure is explained",
            detail={"report": report.model_dump(mode="json")},
        )
    if as_json:
        emit_json(report)
        return
    out = stdout()
    out.print(f"[green]verified[/] [bold]{v.name}@{v.revision}[/]  {v.digest}")
    for c in report.checks:
        out.print(f"  {c.check:<12} {c.detail}")
    if report.trust_on_first_use:
        stderr().print(
            "[yellow]note:[/] first checkpoint from this log: trusted on first use "
            "and pinned in PROVREG_HOME"
        )


def attach_signature(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="NAME[@REV]", help="the variant")],
    bundle: Annotated[Path, typer.Argument(help="model_signing's bundle (model.sig)")],
    public_key: Annotated[
        Path, typer.Option("--public-key", help="PEM public key it was signed with")
    ],
    as_json: JsonOption = False,
) -> None:
    """Attach an OpenSSF model-signing bundle, checked against the registered files."""
    state: CliState = ctx.obj
    texts: list[str] = []
    for file, cls in ((bundle, BundleInvalid), (public_key, KeyInvalid)):
        try:
            texts.append(file.read_text())
        except (OSError, UnicodeDecodeError) as exc:
            raise cls(f"cannot read {file}: {exc}", hint="check the path") from None
    body = AttachSignature(bundle=texts[0], public_key=texts[1])
    out = trust_backend(state).attach_signature(parse_ref(ref), body)
    if as_json:
        emit_json(out)
        return
    trusted = "a registered key" if out.key_registered else "a key not registered in provreg"
    stdout().print(
        f"[green]attached[/] model-signing bundle to {out.name}@{out.revision}: "
        f"{out.files_checked} files match, signed by {trusted} ({out.key_id[:16]}…), "
        f"log leaf {out.log_index}"
    )
    if out.unregistered_files:
        stderr().print(
            f"[yellow]note:[/] also signed, not registered: {', '.join(out.unregistered_files)}"
        )


def audit(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Re-derive the log from the stored records; exit 1 naming every mismatch."""
    state: CliState = ctx.obj
    trust = trust_backend(state)
    report = trust.audit()
    view = fresh_view(trust, state.settings)
    if view.checkpoint.tree_size == report.tree_size and (
        view.checkpoint.root_hash.hex() != report.root_hash
    ):
        report.problems.append(
            AuditProblem(kind="root_changed", message="the signed root is not the recomputed root")
        )
    try:
        consistency = check_consistency(trust, view)
    except ConsistencyFailed as exc:
        report.problems.append(AuditProblem(kind="root_changed", message=exc.message))
        consistency = ""
    report.ok = not report.problems
    if not report.ok:
        listed = "; ".join(p.message for p in report.problems[:20])
        more = f" (and {len(report.problems) - 20} more)" if len(report.problems) > 20 else ""
        raise AuditFailed(
            f"audit found {len(report.problems)} problems: {listed}{more}",
            hint="the log or the records were changed after they were logged",
            detail={"report": report.model_dump(mode="json")},
        )
    remember(state.settings, view)
    if as_json:
        emit_json(report)
        return
    stdout().print(
        f"[green]audit ok[/]: {report.leaves_checked} leaves re-derived, "
        f"{report.nodes_checked} subtree hashes recomputed, root {report.root_hash}"
    )
    stderr().print(f"[dim]{consistency}[/]")
