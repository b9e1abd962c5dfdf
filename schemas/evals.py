"""Evaluations, safeguard statuses, advisories and download counts on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import INT64_MAX, UtcDatetime
from schemas.statements import Subject

EvalCategory = Literal["safety-refusal", "over-refusal", "capability", "other"]
EVAL_CATEGORIES: tuple[str, ...] = get_args(EvalCategory)

EvalFormat = Literal["auto", "lm-eval", "model-index", "hf-eval-results"]
EVAL_FORMATS: tuple[str, ...] = get_args(EvalFormat)

SafeguardState = Literal["safeguarded", "lacking", "degraded", "unverified", "suspected"]
SAFEGUARD_STATES: tuple[str, ...] = get_args(SafeguardState)
UNSAFE_STATES: tuple[str, ...] = ("lacking", "degraded", "suspected")

Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[str, ...] = get_args(Severity)

DownloadWindow = Literal["30d", "all"]


class EvalResultCreate(BaseModel):
    """One result to record against a variant."""

    # NaN and infinities are not results (and JSON cannot carry them): refused as invalid input
    model_config = ConfigDict(allow_inf_nan=False)

    benchmark: str = Field(min_length=1, max_length=128)
    metric: str = Field(min_length=1, max_length=128)
    value: float
    stderr: float | None = Field(default=None, ge=0)
    samples: int | None = Field(default=None, ge=0, le=INT64_MAX)
    higher_is_better: bool | None = Field(
        default=None, description="None: take the policy's direction for the benchmark"
    )
    category: EvalCategory | None = Field(
        default=None, description="None: the policy's category for the benchmark, else other"
    )
    benchmark_version: str | None = Field(default=None, max_length=64)
    task: str | None = Field(default=None, max_length=200)
    harness: str | None = Field(default=None, max_length=64)
    settings: dict[str, Any] | None = None
    evaluator: str | None = Field(default=None, max_length=200)
    evaluated_at: datetime | None = None
    source: str = Field(default="manual", max_length=32)


class EvalResultEntry(EvalResultCreate):
    """A result entered by a person (``eval add``, ``POST /v1/evals/...``): the value may be
    given as a percentage, and a benchmark named close to a policy benchmark must be confirmed
    as new. Not part of signed documents, which carry :class:`EvalResultCreate`."""

    unit: Literal["fraction", "percent"] = Field(
        default="fraction", description="percent: value and stderr are percentages"
    )
    new_benchmark: bool = Field(
        default=False, description="accept a benchmark named close to a policy benchmark"
    )

    def as_fraction(self) -> EvalResultCreate:
        """The result as stored: a percentage divided by 100, the given value kept in
        ``settings`` (``unit``, ``value_as_given``)."""
        data = self.model_dump(exclude={"unit", "new_benchmark"})
        if self.unit == "percent":
            data["settings"] = {
                **(self.settings or {}),
                "unit": "percent",
                "value_as_given": self.value,
            }
            data["value"] = self.value / 100
            data["stderr"] = None if self.stderr is None else self.stderr / 100
        return EvalResultCreate.model_validate(data)


class EvalResultPublic(BaseModel):
    id: int
    name: str
    revision: str
    benchmark: str
    benchmark_version: str | None
    task: str | None
    metric: str
    value: float
    stderr: float | None
    samples: int | None
    higher_is_better: bool
    category: EvalCategory
    harness: str | None
    settings: dict[str, Any] | None
    evaluator: str | None
    evaluated_at: UtcDatetime | None
    source: str
    log_index: int | None = None
    key_id: str | None = Field(default=None, description="the evaluator key that signed it")
    created_at: UtcDatetime
    status: Literal["active", "retracted", "superseded"] = Field(
        default="active", description="retracted and superseded results count for nothing"
    )
    reason: str | None = Field(default=None, description="why it was retracted or superseded")
    superseded_by: int | None = Field(default=None, description="the id of its replacement")
    supersedes: int | None = Field(default=None, description="the id of the result it replaced")
    source_sha256: str | None = Field(default=None, description="SHA-256 of the imported file")
    shared_from: str | None = Field(
        default=None,
        description="NAME@REV of the byte-identical variant (same digest) this result was "
        "recorded against",
    )


class EvalResultList(BaseModel):
    name: str
    revision: str
    results: list[EvalResultPublic]
    note: str | None = Field(default=None, description="how a name without @REV was resolved")


class EvalImport(BaseModel):
    """A results file's text, parsed on the server so local and remote imports agree."""

    content: str = Field(max_length=20_000_000)
    format: EvalFormat = "auto"
    filename: str | None = Field(default=None, max_length=500)


class EvalImportResult(BaseModel):
    name: str
    revision: str
    format: str
    imported: int
    already_recorded: int = Field(
        default=0, description="results of this file (same SHA-256) already recorded"
    )
    results: list[EvalResultPublic]
    warnings: list[str] = []


class SafeguardStatusPublic(BaseModel):
    name: str
    revision: str
    status: SafeguardState
    reasons: list[str]
    note: str | None = Field(default=None, description="how a name without @REV was resolved")


class LackingSafeguardRow(BaseModel):
    name: str
    revision: str
    status: SafeguardState
    downloads: int
    reach: int = Field(description="downloads of the variant and all its descendants, once each")
    reasons: list[str]
    path: list[str] = Field(
        description="NAME@REV from this variant up to its nearest safeguarded ancestor "
        "(just this variant when it has none)"
    )


class LackingSafeguardPage(BaseModel):
    results: list[LackingSafeguardRow]
    next_cursor: str | None = None


class AdvisoryCreate(BaseModel):
    name: str = Field(description="NAME[@REV] of the advised variant")
    severity: Severity
    summary: str = Field(min_length=1, max_length=10_000)
    references: list[str] = Field(default_factory=list)


class AdvisoryPublic(BaseModel):
    id: int
    name: str
    revision: str
    severity: Severity
    summary: str
    references: list[str]
    log_index: int | None = None
    created_at: UtcDatetime


class AffectedVariant(BaseModel):
    name: str
    revision: str
    downloads: int
    via: list[str] = Field(description="NAME@REV from the advised variant down to this one")


class AdvisoryAffected(BaseModel):
    advisory: AdvisoryPublic
    affected: list[AffectedVariant]


class DownloadRecord(BaseModel):
    count: int = Field(ge=0, le=INT64_MAX)
    window: DownloadWindow = "30d"
    observed_at: datetime | None = Field(default=None, description="default: now")
    source: str = Field(default="manual", max_length=16)


class DownloadSnapshotPublic(BaseModel):
    name: str
    revision: str
    window: DownloadWindow
    count: int
    observed_at: datetime
    source: str
    downloads: int = Field(description="the variant's downloads now (its latest 30d count)")


# --- signed evaluations ------------------------------------------------------------------------


class EvaluationPredicate(BaseModel):
    """An evaluator's signed word that ``subject`` (these exact weights) scored ``results``."""

    model_config = ConfigDict(extra="forbid")

    evaluator: str = Field(description="the namespace whose evaluator key signs")
    subject: str = Field(description="NAME@REVISION")
    digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$", description="the variant digest")
    results: list[EvalResultCreate] = Field(min_length=1)


class EvaluationStatement(BaseModel):
    """An in-toto statement; subject: the evaluated variant."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    type_: Literal["https://in-toto.io/Statement/v1"] = Field(
        default="https://in-toto.io/Statement/v1", alias="_type"
    )
    subject: list[Subject] = Field(min_length=1)
    predicateType: Literal["https://provreg.dev/evaluation/v1"] = (
        "https://provreg.dev/evaluation/v1"  # noqa: N815
    )
    predicate: EvaluationPredicate


class SignedEvalCreate(BaseModel):
    """A DSSE envelope over an :class:`EvaluationStatement`."""

    envelope: str = Field(max_length=20_000_000)
    source_sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 of the results file the statement was made from: a file already "
        "recorded adds nothing",
    )
