"""`provreg eval`, `safeguards`, `query lacking-safeguards`, `advisory` and `downloads`."""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import typer

from cli.backend import CliState
from cli.downloads import NameOrCommandGroup
from cli.evals_backend import evals_backend
from cli.options import JsonOption
from cli.output import emit_json, stdout
from cli.signing import load_signing_key
from registry.errors import InvalidInput
from registry.services.eval_formats import read_results
from registry.services.names import VariantRef, parse_ref
from registry.trust.statements import sign_statement
from schemas import (
    AdvisoryCreate,
    DownloadRecord,
    EvalImport,
    EvalImportResult,
    EvalResultCreate,
    EvalResultEntry,
    EvalResultPublic,
    EvaluationPredicate,
    EvaluationStatement,
    LackingSafeguardPage,
    SignedEvalCreate,
)
from schemas.statements import Subject

eval_app = typer.Typer(help="Evaluation results of variants.", no_args_is_help=True)
query_app = typer.Typer(help="Questions across the registry.", no_args_is_help=True)
advisory_app = typer.Typer(help="Advisories against variants.", no_args_is_help=True)
downloads_app = typer.Typer(
    cls=NameOrCommandGroup,
    help="Download counts: `provreg downloads NAME[@REV]` shows a variant's series and reach.",
    no_args_is_help=True,
)

Category = Literal["safety-refusal", "over-refusal", "capability", "other"]
Format = Literal["auto", "lm-eval", "model-index", "hf-eval-results"]
Severity = Literal["low", "medium", "high", "critical"]
Ref = Annotated[str, typer.Argument(metavar="NAME[@REV]", help="the variant")]


@eval_app.command("add")
def eval_add(
    ctx: typer.Context,
    ref: Ref,
    benchmark: Annotated[str, typer.Option("--benchmark", help="e.g. harmbench")],
    metric: Annotated[str, typer.Option("--metric", help="e.g. asr")],
    value: Annotated[float, typer.Option("--value")],
    stderr: Annotated[float | None, typer.Option("--stderr")] = None,
    samples: Annotated[int | None, typer.Option("--samples")] = None,
    category: Annotated[Category | None, typer.Option("--category")] = None,
    higher_is_better: Annotated[
        bool | None,
        typer.Option(
            "--higher-is-better/--lower-is-better", help="default: as the policy reads it"
        ),
    ] = None,
    version: Annotated[str | None, typer.Option("--version", help="benchmark version")] = None,
    task: Annotated[str | None, typer.Option("--task")] = None,
    harness: Annotated[str | None, typer.Option("--harness")] = None,
    evaluator: Annotated[
        str | None, typer.Option("--evaluator", help="who evaluated; with --sign: the namespace")
    ] = None,
    date: Annotated[
        str | None,
        typer.Option("--date", metavar="ISO-DATE", help="when it was evaluated, e.g. 2026-11-01"),
    ] = None,
    settings: Annotated[
        str | None,
        typer.Option("--settings", metavar="JSON", help="e.g. '{\"num_fewshot\": 0}'"),
    ] = None,
    source: Annotated[str, typer.Option("--source", help="where the result comes from")] = "manual",
    unit: Annotated[
        Literal["fraction", "percent"],
        typer.Option("--unit", help="percent: --value and --stderr are percentages"),
    ] = "fraction",
    new_benchmark: Annotated[
        bool,
        typer.Option(
            "--new-benchmark", help="accept a benchmark named close to a policy benchmark"
        ),
    ] = False,
    sign: Annotated[
        Path | None, typer.Option("--sign", metavar="KEYFILE", help="sign with an evaluator key")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Record one result against a variant."""
    state: CliState = ctx.obj
    body = EvalResultEntry(
        evaluated_at=_iso_datetime("--date", date) if date else None,
        settings=_json_object("--settings", settings) if settings is not None else None,
        source=source,
        benchmark=benchmark,
        metric=metric,
        value=value,
        stderr=stderr,
        samples=samples,
        category=category,
        higher_is_better=higher_is_better,
        benchmark_version=version,
        task=task,
        harness=harness,
        evaluator=evaluator,
        unit=unit,
        new_benchmark=new_benchmark,
    )
    target = parse_ref(ref)
    if sign is not None:
        results = _add_signed(state, target, [body.as_fraction()], sign, evaluator)
    else:
        results = evals_backend(state).add_eval(target, body)
    if as_json:
        emit_json(results[0])
        return
    r = results[0]
    stdout().print(
        f"recorded {r.benchmark} {r.metric} = {r.value:g} for {r.name}@{r.revision} "
        f"[{r.category}] log leaf {r.log_index}"
    )


def _iso_datetime(option: str, text: str) -> datetime:
    """An ISO 8601 date or time, UTC when it names no zone; raises :class:`InvalidInput`."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"invalid {option} {text!r}", hint="use ISO 8601, e.g. 2026-11-01"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _json_object(option: str, text: str) -> dict[str, object]:
    """A JSON object given on the command line; raises :class:`InvalidInput`."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(
            f"invalid {option}: not JSON ({exc})", hint=f"pass {option} '{{\"key\": value}}'"
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput(
            f"invalid {option}: a JSON object is needed, not {type(value).__name__}",
            hint=f"pass {option} '{{\"key\": value}}'",
        )
    return value


@eval_app.command("import")
def eval_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="results file", exists=True, dir_okay=False)],
    model: Annotated[str, typer.Option("--model", metavar="NAME[@REV]", help="the variant")],
    fmt: Annotated[Format, typer.Option("--format")] = "auto",
    sign: Annotated[
        Path | None, typer.Option("--sign", metavar="KEYFILE", help="sign with an evaluator key")
    ] = None,
    evaluator: Annotated[
        str | None, typer.Option("--evaluator", help="with --sign: the evaluator's namespace")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Import lm-evaluation-harness results, a model card's model-index or .eval_results YAML."""
    state: CliState = ctx.obj
    try:
        content = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {file}: {exc}", hint="pass a UTF-8 text file") from None
    target = parse_ref(model)
    if sign is not None:  # parse here, so the signature covers exactly what is stored
        found, parsed, warnings = read_results(content, fmt, file.name)
        stored = _add_signed(state, target, parsed, sign, evaluator) if parsed else []
        result = EvalImportResult(
            name=target.name,
            revision=target.revision,
            format=found,
            imported=len(stored),
            results=stored,
            warnings=warnings,
        )
    else:
        result = evals_backend(state).import_evals(
            target, EvalImport(content=content, format=fmt, filename=file.name)
        )
    for warning in result.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    if as_json:
        emit_json(result)
        return
    stdout().print(
        f"imported {result.imported} results ({result.format}) for {result.name}@{result.revision}"
    )


@eval_app.command("list")
def eval_list(ctx: typer.Context, ref: Ref, as_json: JsonOption = False) -> None:
    """List a variant's results."""
    state: CliState = ctx.obj
    result = evals_backend(state).list_evals(parse_ref(ref))
    if as_json:
        emit_json(result)
        return
    console = stdout()
    console.print(f"[bold]{result.name}@{result.revision}[/]  {len(result.results)} results")
    for r in result.results:
        err = f" ± {r.stderr:g}" if r.stderr is not None else ""
        n = f" n={r.samples}" if r.samples is not None else ""
        console.print(f"  {r.benchmark:<24} {r.metric:<20} {r.value:g}{err}{n}  [{r.category}]")


def _add_signed(
    state: CliState,
    ref: VariantRef,
    results: list[EvalResultCreate],
    keyfile: Path,
    evaluator: str | None,
) -> list[EvalResultPublic]:
    """Sign an evaluation statement about the registered digest of ``ref`` and send it."""
    if not evaluator:
        raise InvalidInput(
            "--sign needs --evaluator NAMESPACE", hint="name the namespace that holds your key"
        )
    key = load_signing_key(keyfile)
    digest = state.backend().show(ref).digest
    if digest is None:
        raise InvalidInput(f"{ref} has no registered weights", hint="register it first")
    statement = EvaluationStatement(
        subject=[Subject(name=str(ref), digest={"sha256": digest.removeprefix("sha256:")})],
        predicate=EvaluationPredicate(
            evaluator=evaluator, subject=str(ref), digest=digest, results=results
        ),
    )
    envelope = sign_statement(statement, key)
    return evals_backend(state).add_signed(SignedEvalCreate(envelope=envelope))


def safeguards(ctx: typer.Context, ref: Ref, as_json: JsonOption = False) -> None:
    """A variant's safeguard status and the reasons for it."""
    state: CliState = ctx.obj
    result = evals_backend(state).safeguards(parse_ref(ref))
    if as_json:
        emit_json(result)
        return
    console = stdout()
    console.print(f"[bold]{result.name}@{result.revision}[/]  {result.status}")
    for reason in result.reasons:
        console.print(f"  - {reason}")


def _write_page(page: LackingSafeguardPage, fmt: str) -> None:
    if fmt == "jsonl":
        for row in page.results:
            sys.stdout.write(json.dumps(row.model_dump(mode="json")) + "\n")
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["name", "revision", "status", "downloads", "reach", "reasons", "path"])
        for row in page.results:
            writer.writerow(
                [
                    row.name,
                    row.revision,
                    row.status,
                    row.downloads,
                    row.reach,
                    "; ".join(row.reasons),
                    " <- ".join(row.path),
                ]
            )
    else:
        emit_json(page)
        return
    if page.next_cursor:
        sys.stderr.write(f"next page: --cursor {page.next_cursor}\n")


@query_app.command("lacking-safeguards")
def lacking_safeguards(
    ctx: typer.Context,
    descendant_of: Annotated[
        str | None, typer.Option("--descendant-of", metavar="NAME[@REV]")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="default: lacking,degraded,suspected")
    ] = None,
    min_downloads: Annotated[int, typer.Option("--min-downloads", min=0)] = 0,
    since: Annotated[
        str | None, typer.Option("--since", metavar="DATE", help="registered on or after")
    ] = None,
    sort: Annotated[Literal["downloads", "reach"], typer.Option("--sort")] = "downloads",
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    cursor: Annotated[str | None, typer.Option("--cursor")] = None,
    fmt: Annotated[Literal["json", "jsonl", "csv"], typer.Option("--format")] = "json",
    as_json: JsonOption = False,
) -> None:
    """Variants that lack safeguards, ranked by downloads or reach."""
    state: CliState = ctx.obj
    if since:
        try:
            datetime.fromisoformat(since)
        except ValueError:
            raise InvalidInput(f"invalid date {since!r}", hint="use YYYY-MM-DD") from None
    page = evals_backend(state).lacking(
        descendant_of=descendant_of,
        status=status,
        min_downloads=min_downloads,
        since=since,
        sort=sort,
        limit=limit,
        cursor=cursor,
    )
    _write_page(page, "json" if as_json else fmt)


@advisory_app.command("add")
def advisory_add(
    ctx: typer.Context,
    ref: Ref,
    severity: Annotated[Severity, typer.Option("--severity")],
    summary: Annotated[str, typer.Option("--summary")],
    reference: Annotated[
        list[str] | None, typer.Option("--reference", metavar="URL", help="repeatable")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Publish an advisory against a variant; it reaches every descendant."""
    state: CliState = ctx.obj
    body = AdvisoryCreate(
        name=str(parse_ref(ref)), severity=severity, summary=summary, references=reference or []
    )
    result = evals_backend(state).add_advisory(body)
    if as_json:
        emit_json(result)
        return
    stdout().print(f"advisory {result.id} ({result.severity}) on {result.name}@{result.revision}")


@advisory_app.command("affected")
def advisory_affected(
    ctx: typer.Context,
    advisory_id: Annotated[int, typer.Argument(metavar="ID")],
    as_json: JsonOption = False,
) -> None:
    """Every variant an advisory reaches, with downloads and the path to it."""
    state: CliState = ctx.obj
    result = evals_backend(state).affected(advisory_id)
    if as_json:
        emit_json(result)
        return
    console = stdout()
    for a in result.affected:
        console.print(f"  {a.name}@{a.revision}  downloads {a.downloads}  via {' -> '.join(a.via)}")


@downloads_app.command("record")
def downloads_record(
    ctx: typer.Context,
    ref: Ref,
    count: Annotated[int, typer.Option("--count", min=0)],
    window: Annotated[Literal["30d", "all"], typer.Option("--window")] = "30d",
    at: Annotated[str | None, typer.Option("--at", metavar="ISO-DATE")] = None,
    as_json: JsonOption = False,
) -> None:
    """Store a download count snapshot by hand."""
    state: CliState = ctx.obj
    observed = _iso_datetime("--at", at) if at else None
    result = evals_backend(state).record_downloads(
        parse_ref(ref), DownloadRecord(count=count, window=window, observed_at=observed)
    )
    if as_json:
        emit_json(result)
        return
    stdout().print(f"{result.name}@{result.revision}: {result.downloads} downloads")
