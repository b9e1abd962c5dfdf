"""The `provreg` entry point: builds the Typer app and maps every error to a message and exit code.

Exit status: 0 done, 1 a handled error (one line on stderr, no traceback unless --debug),
2 a usage error.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence

import typer

from cli import admin, downloads, evals, hub, identify, keys, lineage, log, trust, variants
from cli.backend import CliState
from cli.output import report_error
from registry.errors import ProvregError

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
    if ctx.obj is None:
        ctx.obj = CliState()


app.command("init")(admin.init)
app.command("register")(variants.register)
app.command("show")(variants.show)
app.command("lineage")(lineage.lineage)
app.command("identify")(identify.identify)
app.command("serve")(admin.serve)
app.add_typer(admin.token_app, name="token")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(log.log_app, name="log")
app.command("attach-signature")(trust.attach_signature)
app.command("verify")(trust.verify)
app.command("audit")(trust.audit)
app.add_typer(evals.eval_app, name="eval")
app.command("safeguards")(evals.safeguards)
app.add_typer(evals.query_app, name="query")
app.add_typer(evals.advisory_app, name="advisory")
downloads.register(evals.downloads_app)
app.add_typer(evals.downloads_app, name="downloads")
app.add_typer(hub.hub_app, name="hub")


def run(argv: Sequence[str] | None = None, *, state: CliState | None = None) -> int:
    """Run the CLI on ``argv`` and return the exit status (tests call this directly)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:  # accepted anywhere on the line, as users type it
        args = ["--debug", *[a for a in args if a != "--debug"]]
    as_json = "--json" in args
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="provreg", standalone_mode=False, obj=state)
        return result if isinstance(result, int) else 0
    except ProvregError as exc:
        if debug:
            traceback.print_exc()
        report_error(exc, as_json=as_json)
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
