"""`provreg eval add | import | list | retract | supersede`: evaluation results of variants,
and their append-only corrections."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Literal

import typer

from cli.options import (
    CursorOption,
    JsonOption,
    LimitOption,
    Ref,
    iso_datetime,
    json_object,
    read_text,
)
from cli.output import Output, stderr
from cli.output.corrections import eval_correction_view
from cli.output.tables import EVAL_COLUMNS, page_view
from cli.output.views import eval_added_view, eval_import_view, eval_list_view
from cli.signing import load_signing_key
from cli.state import CliState
from registry.errors import InvalidInput
from registry.names import VariantRef, parse_ref
from registry.trust.statements import sign_statement
from schemas import (
    EvalImport,
    EvalImportResult,
    EvalResultCreate,
    EvalResultEntry,
    EvalResultPublic,
    EvaluationPredicate,
    EvaluationStatement,
    SignedEvalCreate,
)
from schemas.corrections import EvalRetract, EvalSupersede
from schemas.statements import Subject

eval_app = typer.Typer(help="Evaluation results of variants.", no_args_is_help=True)

Category = Literal["safety-refusal", "over-refusal", "capability", "other"]
Format = Literal["auto", "lm-eval", "model-index", "hf-eval-results"]


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
) -> Output:
    """Record one result against a variant."""
    state: CliState = ctx.obj
    body = EvalResultEntry(
        evaluated_at=iso_datetime("--date", date) if date else None,
        settings=json_object("--settings", settings) if settings is not None else None,
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
        results = state.registry().add_eval(target.name, target.asked_revision, body)
    return Output(results[0], view=eval_added_view)


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
) -> Output:
    """Import lm-evaluation-harness results, a model card's model-index or .eval_results YAML."""
    state: CliState = ctx.obj
    content = read_text(file)
    target = parse_ref(model)
    if sign is not None:  # parse here, so the signature covers exactly what is stored
        from registry.services.evals.formats import read_results

        found, parsed, warnings = read_results(content, fmt, file.name)
        digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
        stored = _add_signed(state, target, parsed, sign, evaluator, digest) if parsed else []
        result = EvalImportResult(
            name=target.name,
            revision=target.revision,
            format=found,
            imported=len(stored),
            already_recorded=len(parsed) - len(stored),
            results=stored,
            warnings=warnings,
        )
    else:
        body = EvalImport(content=content, format=fmt, filename=file.name)
        result = state.registry().import_evals(target.name, target.asked_revision, body)
    for warning in result.warnings:
        stderr().print(f"warning: {warning}", markup=False, highlight=False)
    return Output(result, view=eval_import_view)


@eval_app.command("list")
def eval_list(
    ctx: typer.Context,
    ref: Annotated[
        str | None, typer.Argument(metavar="NAME[@REV]", help="the variant (or --all)")
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="every variant's results, newest first, a page at a time")
    ] = False,
    limit: LimitOption = 50,
    cursor: CursorOption = None,
    as_json: JsonOption = False,
) -> Output:
    """List a variant's results, or with --all every variant's."""
    state: CliState = ctx.obj
    if every == (ref is not None):
        raise InvalidInput(
            "give either NAME[@REV] or --all",
            hint="`provreg eval list acme/base` or `provreg eval list --all`",
        )
    if ref is None:
        page = state.registry().list_all_evals(limit=limit, cursor=cursor)
        view = page_view(EVAL_COLUMNS, argv=state.argv, empty="no evaluation results recorded")
        return Output(page, view=view)
    target = parse_ref(ref)
    return Output(
        state.registry().list_evals(target.name, target.asked_revision), view=eval_list_view
    )


def _add_signed(
    state: CliState,
    ref: VariantRef,
    results: list[EvalResultCreate],
    keyfile: Path,
    evaluator: str | None,
    source_sha256: str | None = None,
) -> list[EvalResultPublic]:
    """Sign an evaluation statement about the registered digest of ``ref`` and send it."""
    if not evaluator:
        raise InvalidInput(
            "--sign needs --evaluator NAMESPACE", hint="name the namespace that holds your key"
        )
    key = load_signing_key(keyfile)
    registry = state.registry()
    shown = registry.show(ref.name, ref.asked_revision)
    digest, subject = shown.digest, f"{shown.name}@{shown.revision}"
    if digest is None:
        raise InvalidInput(f"{ref} has no registered weights", hint="register it first")
    statement = EvaluationStatement(
        subject=[Subject(name=subject, digest={"sha256": digest.removeprefix("sha256:")})],
        predicate=EvaluationPredicate(
            evaluator=evaluator, subject=subject, digest=digest, results=results
        ),
    )
    envelope = sign_statement(statement, key)
    return registry.add_signed_evals(
        SignedEvalCreate(envelope=envelope, source_sha256=source_sha256)
    )


@eval_app.command("retract")
def eval_retract(
    ctx: typer.Context,
    result_id: Annotated[int, typer.Argument(metavar="ID", help="the result (`eval list`)")],
    reason: Annotated[str, typer.Option("--reason", help="why it no longer counts")],
    as_json: JsonOption = False,
) -> Output:
    """Retract a result: it stays listed, marked retracted, and counts for nothing (logged)."""
    state: CliState = ctx.obj
    result = state.registry().retract_eval(result_id, EvalRetract(reason=reason))
    return Output(result, view=eval_correction_view)


@eval_app.command("supersede")
def eval_supersede(
    ctx: typer.Context,
    result_id: Annotated[int, typer.Argument(metavar="ID", help="the result (`eval list`)")],
    value: Annotated[float, typer.Option("--value", help="the corrected value")],
    reason: Annotated[str, typer.Option("--reason", help="what was wrong")],
    stderr: Annotated[float | None, typer.Option("--stderr")] = None,
    as_json: JsonOption = False,
) -> Output:
    """Replace a result's value with a new result; the old one stays listed as superseded,
    pointing at the new one (logged)."""
    state: CliState = ctx.obj
    body = EvalSupersede(value=value, stderr=stderr, reason=reason)
    return Output(state.registry().supersede_eval(result_id, body), view=eval_correction_view)
