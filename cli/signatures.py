"""`provreg verify` and `provreg attach-signature`: a variant's signatures.

verify is :class:`registry.trust.verifier.Verifier`'s report, printed; it fails naming each
step that did not pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer

from cli.options import JsonOption, read_text
from cli.output import Line, Output
from cli.output.views import attached_lines, attached_view
from cli.state import CliState
from registry.errors import BundleInvalid, InvalidInput, KeyInvalid
from registry.names import parse_ref
from registry.trust.verifier import Verifier
from schemas import AttachSignature, VerifyReport


def _verified_view(report: VerifyReport) -> Iterable[Line]:
    yield f"[green]verified[/] [bold]{report.name}@{report.revision}[/]  {report.digest}"
    for c in report.checks:
        yield f"  {c.check:<12} {c.detail}"
    yield from attached_lines(report.attached_signatures)


def verify(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="NAME[@REV]", help="the variant")],
    path: Annotated[Path | None, typer.Option("--path", help="check these local files")] = None,
    allow_unsigned: Annotated[
        bool, typer.Option("--allow-unsigned", help="do not fail on an unsigned registration")
    ] = False,
    as_json: JsonOption = False,
) -> Output:
    """Verify a variant: signature, log inclusion and consistency, and local files."""
    state: CliState = ctx.obj
    if path is not None and not path.exists():
        raise InvalidInput(
            f"--path {path} does not exist", hint="pass the directory holding the model's files"
        )
    verifier = Verifier(state.registry(), state.settings.home)
    done = verifier.verify(parse_ref(ref), path=path, allow_unsigned=allow_unsigned)
    done.raise_for_failure()
    notes = []
    if done.report.trust_on_first_use:
        notes.append(
            "[yellow]note:[/] first checkpoint from this log: trusted on first use "
            "and pinned in PROVREG_HOME"
        )
    return Output(done.report, view=_verified_view, notes=notes)


def attach_signature(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="NAME[@REV]", help="the variant")],
    bundle: Annotated[Path, typer.Argument(help="model_signing's bundle (model.sig)")],
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", help="PEM public key a key-signed bundle was signed with"),
    ] = None,
    trust_root: Annotated[
        Path | None,
        typer.Option(
            "--trust-root",
            metavar="FILE",
            help="keyless bundles: the Sigstore trusted_root.json to verify against (offline)",
        ),
    ] = None,
    identity: Annotated[
        str | None,
        typer.Option(
            "--identity", metavar="EMAIL_OR_URI", help="keyless bundles: the expected signer"
        ),
    ] = None,
    issuer: Annotated[
        str | None,
        typer.Option(
            "--issuer", metavar="URL", help="keyless bundles: the OIDC issuer of --identity"
        ),
    ] = None,
    as_json: JsonOption = False,
) -> Output:
    """Attach an OpenSSF model-signing bundle, checked against the registered files.

    Signed with a key (`model_signing sign key`): pass --public-key. Keyless (`model_signing
    sign sigstore`): pass --trust-root, --identity and --issuer; the signer is recorded.

    Example: provreg attach-signature acme/chat model.sig --trust-root trusted_root.json
    --identity alice@acme.example --issuer https://accounts.google.com"""
    state: CliState = ctx.obj
    if public_key is None and trust_root is None:
        raise InvalidInput(
            "attach-signature needs how to verify the bundle",
            hint="pass --public-key PEM (signed with a key), or --trust-root FILE --identity "
            "SIGNER --issuer URL (keyless, Sigstore)",
        )
    body = AttachSignature(
        bundle=read_text(bundle, error=BundleInvalid, hint="check the path"),
        public_key=(
            read_text(public_key, error=KeyInvalid, hint="check the path")
            if public_key is not None
            else None
        ),
        trust_root=(
            read_text(trust_root, hint="pass the trusted_root.json of the Sigstore instance")
            if trust_root is not None
            else None
        ),
        identity=identity,
        issuer=issuer,
    )
    target = parse_ref(ref)
    out = state.registry().attach_signature(target.name, target.asked_revision, body)
    notes = []
    if out.unregistered_files:
        notes.append(
            f"[yellow]note:[/] also signed, not registered: {', '.join(out.unregistered_files)}"
        )
    return Output(out, view=attached_view, notes=notes)
