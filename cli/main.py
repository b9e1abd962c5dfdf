"""The `provreg` entry point: builds the Typer app and maps every error to a message and exit code.

Exit status: 0 done, 1 a handled error (one line on stderr, no traceback unless --debug),
2 a usage error.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence

import typer
from pydantic import ValidationError

from cli import (
    admin,
    advisories,
    downloads,
    evals,
    hub,
    hub_scan,  # noqa: F401 - registers `hub scan` and `hub jobs` on the hub group
    identify,
    keys,
    lineage,
    log,
    safeguards,
    signatures,
    tokens,
    variants,
    worker,
)
from cli.output import Output, render, report_error
from cli.state import CliState
from registry.errors import InvalidInput, ProvregError

app = typer.Typer(
    name="provreg",
    help="Where AI model weights come from and where they went.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="show tracebacks for errors"),
) -> None:
    """Where AI model weights come from and where they went."""


app.command("init")(admin.init)
app.command("register")(variants.register)
app.command("show")(variants.show)
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


def run(argv: Sequence[str] | None = None, *, state: CliState | None = None) -> int:
    """Run the CLI on ``argv`` and return the exit status (tests call this directly)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:  # accepted anywhere on the line, as users type it
        args = ["--debug", *[a for a in args if a != "--debug"]]
    as_json = "--json" in args
    command = typer.main.get_command(app)
    try:
        state = state or CliState()
        state.as_json = as_json
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
