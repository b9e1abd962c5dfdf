"""The `provreg` entry point: builds the Typer app and maps every error to a message and exit code.

Exit status: 0 done, 1 a handled error (one line on stderr, no traceback unless --debug),
2 a usage error.
"""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Annotated

import typer
from pydantic import ValidationError

from cli import (
    admin,
    advisories,
    backup,
    downloads,
    evals,
    exports,
    hub,
    hub_scan,  # noqa: F401 - registers `hub scan` and `hub jobs` on the hub group
    identify,
    keys,
    lineage,
    listing,
    log,
    profiles,
    safeguards,
    signatures,
    tokens,
    variants,
    webhooks,
    worker,
)
from cli.help import completion, polish
from cli.output import Output, render, report_error
from cli.state import CliState
from registry.errors import InvalidInput, ProvregError


def provreg_version() -> str:
    try:
        return package_version("provreg")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


app = typer.Typer(
    name="provreg",
    help="Where AI model weights come from and where they went.",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"provreg {provreg_version()}\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks for errors")] = False,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            metavar="NAME",
            help="use this saved profile (see `provreg login`); default: PROVREG_PROFILE",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="print the version and exit"
        ),
    ] = False,
) -> None:
    """Where AI model weights come from and where they went.

    Works on the local database, or on a server: PROVREG_URL and PROVREG_TOKEN, or a profile
    saved by `provreg login`."""
    state: CliState = ctx.obj
    state.profile = profile
    if ctx.invoked_subcommand not in ("login", "logout"):
        state.settings.with_profile(profile)  # an unknown profile fails here, before any work


app.command("init")(admin.init)
app.command("register")(variants.register)
app.command("show")(variants.show)
app.command("list")(listing.list_variants)
app.command("revisions")(listing.revisions)
app.add_typer(lineage.lineage_app, name="lineage")
app.command("identify")(identify.identify)
app.command("serve")(admin.serve)
app.add_typer(tokens.token_app, name="token")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(log.log_app, name="log")
app.command("attach-signature")(signatures.attach_signature)
app.command("verify")(signatures.verify)
app.command("audit")(log.audit)
app.add_typer(evals.eval_app, name="eval")
app.command("safeguards")(safeguards.safeguards)
app.add_typer(safeguards.query_app, name="query")
app.add_typer(advisories.advisory_app, name="advisory")
app.add_typer(downloads.downloads_app, name="downloads")
app.add_typer(hub.hub_app, name="hub")
app.command("worker")(worker.worker)
app.command("export")(exports.export)
app.command("dump")(backup.dump)
app.command("restore")(backup.restore)
app.add_typer(webhooks.webhook_app, name="webhook")
app.command("login")(profiles.login)
app.command("logout")(profiles.logout)
app.command("completion")(completion)


# wire-model fields whose option is not ``--`` + the field name with dashes
_OPTION_OF_FIELD = {
    "benchmark_version": "--version",
    "higher_is_better": "--higher-is-better/--lower-is-better",
    "evaluated_at": "--date",
}


def invalid_options(exc: ValidationError) -> InvalidInput:
    """One :class:`InvalidInput` naming the first bad option value and what it should be."""
    errors = exc.errors()
    loc: tuple[int | str, ...] = errors[0]["loc"] if errors else ()
    value = errors[0].get("input") if errors else None
    msg = errors[0]["msg"] if errors else "invalid value"
    field = next((p for p in reversed(loc) if isinstance(p, str)), "")
    option = _OPTION_OF_FIELD.get(field, "--" + field.replace("_", "-")) if field else "a value"
    got = repr(value)
    shown = f" {got}" if len(got) <= 40 else f" ({len(str(value))} characters)"
    return InvalidInput(
        f"invalid {option}{shown}: {msg}",
        hint=f"change {option}: {msg[:1].lower()}{msg[1:]}",
        detail={"field": field, "errors": len(errors)},
    )


@functools.cache
def click_command() -> typer._click.Command:
    """The click command tree, built and polished once per process (tests and scripts call
    :func:`run` many times; building it walks every command's signature)."""
    command = typer.main.get_command(app)
    polish(command)
    return command


def run(argv: Sequence[str] | None = None, *, state: CliState | None = None) -> int:
    """Run the CLI on ``argv`` and return the exit status (tests call this directly)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:  # accepted anywhere on the line, as users type it
        args = ["--debug", *[a for a in args if a != "--debug"]]
    as_json = "--json" in args
    command = click_command()
    try:
        state = state or CliState()
        state.as_json = as_json
        state.argv = [a for a in args if a != "--debug"]
        result = command.main(args=args, prog_name="provreg", standalone_mode=False, obj=state)
        if isinstance(result, Output):
            render(result, as_json=as_json)
        return result if isinstance(result, int) else 0
    except ProvregError as exc:
        if debug:
            traceback.print_exc()
        report_error(exc, as_json=as_json)
        return 1
    except ValidationError as exc:  # a command built a wire model from bad option values
        if debug:
            traceback.print_exc()
        report_error(invalid_options(exc), as_json=as_json)
        return 1
    except typer.Exit as exc:
        return exc.exit_code
    except SystemExit as exc:  # typer's --show-completion and --install-completion end so
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except typer.TyperException as exc:  # usage errors: typer's own click exceptions
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            sys.stderr.write(f"provreg: {exc.format_message()}\n")
        return int(getattr(exc, "exit_code", 2))
    except typer.Abort:
        sys.stderr.write("provreg: aborted\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("provreg: interrupted\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence for users
        if debug:
            traceback.print_exc()
        report_error(
            ProvregError(
                f"internal error: {type(exc).__name__}: {exc}",
                hint="re-run with --debug and report the traceback",
            ),
            as_json=as_json,
        )
        return 1


def main() -> None:
    sys.exit(run())
