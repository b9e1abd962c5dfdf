"""Reading evaluation results files: lm-evaluation-harness, model-index, ``.eval_results``.

Each reader returns every result of the file or raises :class:`EvalFileInvalid` naming the field
at fault (``results.harmbench.asr,none``): a file is accepted whole or not at all.

- ``lm-eval``: the harness's ``results_*.json``: ``results[task]["metric,filter"]`` with
  ``metric_stderr,filter`` beside it, ``versions``, ``n-shot``, ``n-samples``, ``config``,
  ``higher_is_better``, ``date``.
- ``model-index``: a model card (YAML front matter) or YAML with ``model-index``, read with
  huggingface_hub's ``model_index_to_eval_results``.
- ``hf-eval-results``: a Hub ``.eval_results/*.yaml`` file: a list of
  ``{dataset: {id, task_id, revision}, value, date, source: {url, name}}``.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime
from typing import Any

import yaml
from huggingface_hub.repocard_data import model_index_to_eval_results

from registry.errors import EvalFileInvalid
from schemas.evals import EvalResultCreate

_FRONT_MATTER = re.compile(r"\A\s*---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.DOTALL)
# Keys of a task's results that are not metrics. ``sample_count`` (lm-eval >= 0.4.12, groups
# only) maps each ``metric,filter`` key to the number of samples behind the group's value.
_HARNESS_KEYS = ("alias", "name", "sample_len", "samples", "sample_count")
# lm-eval indents a group's subtasks in their alias for its table (" - wmdp_bio").
_ALIAS_PREFIX = re.compile(r"^[\s-]+")


class NonFinite(Exception):
    """A metric the harness itself wrote as NaN or infinity: skipped with a warning."""


def _finite_or_skip(field: str, value: Any) -> float:
    """A harness metric's value; raises :class:`NonFinite` for NaN and infinities (lm-eval
    writes them when a metric is undefined) and :class:`EvalFileInvalid` for a non-number."""
    if isinstance(value, float) and not math.isfinite(value):
        raise NonFinite(field)
    return _number(field, value)


def _bad(field: str, problem: str) -> EvalFileInvalid:
    return EvalFileInvalid(
        f"the results file is malformed: {field} {problem}; nothing was imported",
        hint="fix that field (or pass --format to read the file as another format)",
        detail={"field": field},
    )


def _number(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(field, f"must be a number, not {value!r}")
    if not math.isfinite(value):
        raise _bad(field, "must be finite")
    return float(value)


def _when(field: str, value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value), UTC)
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(str(value))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        raise _bad(field, f"is not a date: {value!r}") from None


# --- lm-evaluation-harness ---------------------------------------------------------------------


def read_lm_eval(doc: Any, warnings: list[str] | None = None) -> list[EvalResultCreate]:
    """Every metric of an lm-eval results file. A metric the harness wrote as NaN or infinity is
    skipped and named in ``warnings``; anything else malformed refuses the whole file."""
    warnings = [] if warnings is None else warnings
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), dict):
        raise _bad("results", "must be an object of tasks")
    if not doc["results"]:
        raise _bad("results", "holds no task")
    versions = doc.get("versions") or {}
    n_shot = doc.get("n-shot") or {}
    n_samples = doc.get("n-samples") or {}
    hib_all = doc.get("higher_is_better") or {}
    config = doc.get("config") or {}
    for name, part in (("versions", versions), ("n-shot", n_shot), ("n-samples", n_samples)):
        if not isinstance(part, dict):
            raise _bad(name, "must be an object keyed by task")
    if not isinstance(config, dict):
        raise _bad("config", "must be an object")
    evaluated_at = _when("date", doc.get("date"))
    out: list[EvalResultCreate] = []
    for task, metrics in doc["results"].items():
        where = f"results.{task}"
        if not isinstance(metrics, dict):
            raise _bad(where, "must be an object of metrics")
        samples_raw = n_samples.get(task)
        samples = None
        if samples_raw is not None:
            effective = samples_raw.get("effective") if isinstance(samples_raw, dict) else None
            if not isinstance(effective, int) or isinstance(effective, bool) or effective < 0:
                raise _bad(f"n-samples.{task}.effective", "must be a sample count")
            samples = effective
        group_counts = metrics.get("sample_count")
        if group_counts is not None and not isinstance(group_counts, dict):
            raise _bad(f"{where}.sample_count", "must be an object of sample counts by metric")
        hib = hib_all.get(task, {}) if isinstance(hib_all, dict) else {}
        settings = {
            k: v
            for k, v in {
                "n_shot": n_shot.get(task),
                "model_args": config.get("model_args"),
                "batch_size": config.get("batch_size"),
                "git_hash": doc.get("git_hash"),
            }.items()
            if v is not None
        }
        for key, value in metrics.items():
            if key in _HARNESS_KEYS or key.endswith("_stderr") or "_stderr," in key:
                continue
            metric, _, filt = key.partition(",")
            if isinstance(value, str) and value.strip().upper() == "N/A":
                continue
            try:
                number = _finite_or_skip(f"{where}.{key}", value)
            except NonFinite:
                warnings.append(
                    f"{where}.{key} is {value} (not a finite number); that metric was skipped"
                )
                continue
            stderr_key = f"{metric}_stderr,{filt}" if filt else f"{metric}_stderr"
            stderr_raw = metrics.get(stderr_key)
            stderr = None
            if stderr_raw is not None and not (
                isinstance(stderr_raw, str) and stderr_raw.strip().upper() == "N/A"
            ):
                try:
                    stderr = _finite_or_skip(f"{where}.{stderr_key}", stderr_raw)
                except NonFinite:
                    stderr = None  # lm-eval writes NaN when it cannot bootstrap one
                if stderr is not None and stderr < 0:
                    raise _bad(f"{where}.{stderr_key}", "must not be negative")
            direction = hib.get(metric) if isinstance(hib, dict) else None
            version = versions.get(task)
            metric_samples = samples
            if metric_samples is None and group_counts is not None:
                count = group_counts.get(key)
                if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
                    metric_samples = count
            alias = _ALIAS_PREFIX.sub("", str(metrics.get("alias") or task)).strip()
            out.append(
                EvalResultCreate(
                    benchmark=alias[:128] or task,
                    task=task,
                    metric=metric if not filt or filt == "none" else f"{metric},{filt}",
                    value=number,
                    stderr=stderr,
                    samples=metric_samples,
                    higher_is_better=direction if isinstance(direction, bool) else None,
                    benchmark_version=None if version is None else str(version),
                    harness="lm-evaluation-harness",
                    settings=settings or None,
                    evaluator=None,
                    evaluated_at=evaluated_at,
                    source="lm-eval",
                )
            )
    if not out:
        raise _bad("results", "holds no numeric metric")
    return out


# --- the Hub's model-index ----------------------------------------------------------------------


def _check_model_index(index: Any) -> None:
    """Name the first missing field; huggingface_hub's own KeyError does not say where."""
    if not isinstance(index, list) or not index:
        raise _bad("model-index", "must be a non-empty list")
    for i, entry in enumerate(index):
        if not isinstance(entry, dict):
            raise _bad(f"model-index[{i}]", "must be a mapping")
        results = entry.get("results")
        if results is None:
            continue  # a card may name its model in model-index without any result yet
        if not isinstance(results, list):
            raise _bad(f"model-index[{i}].results", "must be a list")
        for j, result in enumerate(results):
            where = f"model-index[{i}].results[{j}]"
            if not isinstance(result, dict):
                raise _bad(where, "must be a mapping")
            task = result.get("task")
            if not isinstance(task, dict) or not task.get("type"):
                raise _bad(f"{where}.task.type", "is missing")
            dataset = result.get("dataset")
            if not isinstance(dataset, dict) or not dataset.get("type"):
                raise _bad(f"{where}.dataset.type", "is missing")
            metrics = result.get("metrics")
            if not isinstance(metrics, list) or not metrics:
                raise _bad(f"{where}.metrics", "must be a non-empty list")
            for k, metric in enumerate(metrics):
                if not isinstance(metric, dict) or not metric.get("type"):
                    raise _bad(f"{where}.metrics[{k}].type", "is missing")
                if "value" not in metric:
                    raise _bad(f"{where}.metrics[{k}].value", "is missing")
                _metric_value(f"{where}.metrics[{k}].value", metric["value"])


def _metric_value(field: str, value: Any) -> tuple[float, float | None]:
    """A number, or the card convention ``"20.0 ± 1.2"`` (value and stderr)."""
    if isinstance(value, str):
        m = re.fullmatch(r"\s*([-+0-9.eE]+)\s*(?:(?:±|\+/-)\s*([0-9.eE]+))?\s*%?\s*", value)
        if m:
            try:
                return float(m.group(1)), float(m.group(2)) if m.group(2) else None
            except ValueError:
                pass
        raise _bad(field, f"must be a number, not {value!r}")
    return _number(field, value), None


def read_model_index(doc: Any, warnings: list[str] | None = None) -> list[EvalResultCreate]:
    """Every result of a card's ``model-index``; an entry with no results (common on real
    cards, which name the model there) adds none."""
    if not isinstance(doc, dict) or "model-index" not in doc:
        raise _bad("model-index", "is missing")
    _check_model_index(doc["model-index"])
    entries = [e for e in doc["model-index"] if e.get("results")]
    if not entries:
        if warnings is not None:
            warnings.append("model-index lists no results")
        return []
    _, results = model_index_to_eval_results(entries)
    out = []
    for r in results:
        value, stderr = _metric_value("metrics.value", r.metric_value)
        dataset = str(r.dataset_type)
        out.append(
            EvalResultCreate(
                benchmark=dataset.rsplit("/", 1)[-1][:128],
                task=(r.dataset_config or r.task_type)[:200],
                metric=str(r.metric_type)[:128],
                value=value,
                stderr=stderr,
                benchmark_version=(r.dataset_revision or None) and str(r.dataset_revision)[:64],
                harness=None,
                settings={
                    k: v
                    for k, v in {
                        "dataset": dataset,
                        "dataset_name": r.dataset_name,
                        "split": r.dataset_split,
                        "metric_name": r.metric_name,
                        "metric_args": r.metric_args,
                        "verified": r.verified,
                    }.items()
                    if v is not None
                },
                evaluator=r.source_name,
                source="model-index",
            )
        )
    return out


# --- the Hub's .eval_results/*.yaml ------------------------------------------------------------


def read_hf_eval_results(doc: Any, warnings: list[str] | None = None) -> list[EvalResultCreate]:
    """Every entry of a Hub ``.eval_results`` file. The evaluator is ``source.org`` (else the
    user or the source's name); the Hub's ``verifyToken`` is kept in the settings."""
    entries = doc if isinstance(doc, list) else None
    if not entries:
        raise _bad("entries", "must be a non-empty list of results")
    out = []
    for i, entry in enumerate(entries):
        where = f"[{i}]"
        if not isinstance(entry, dict):
            raise _bad(where, "must be a mapping")
        dataset = entry.get("dataset")
        if not isinstance(dataset, dict) or not dataset.get("id"):
            raise _bad(f"{where}.dataset.id", "is missing")
        if "value" not in entry:
            raise _bad(f"{where}.value", "is missing")
        value = _number(f"{where}.value", entry["value"])
        source = entry.get("source") or {}
        if not isinstance(source, dict):
            raise _bad(f"{where}.source", "must be a mapping")
        dataset_id = str(dataset["id"])
        task_id = dataset.get("task_id")
        out.append(
            EvalResultCreate(
                benchmark=dataset_id.rsplit("/", 1)[-1][:128],
                task=str(task_id)[:200] if task_id else None,
                metric=str(entry.get("metric") or "score")[:128],
                value=value,
                benchmark_version=str(dataset["revision"])[:64]
                if dataset.get("revision")
                else None,
                settings={
                    k: v
                    for k, v in {
                        "dataset": dataset_id,
                        "notes": entry.get("notes"),
                        "source_url": source.get("url"),
                        "source_name": source.get("name"),
                        "verify_token": entry.get("verifyToken"),
                    }.items()
                    if v is not None
                },
                evaluator=_evaluator(source),
                evaluated_at=_when(f"{where}.date", entry.get("date")),
                source="hf-eval-results",
            )
        )
    return out


def _evaluator(source: dict[str, Any]) -> str | None:
    for key in ("org", "user", "name"):
        value = source.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    return None


# --- detection ---------------------------------------------------------------------------------


def _load(content: str, filename: str | None) -> Any:
    text = content.lstrip("\ufeff")
    if text.lstrip().startswith(("{", "[")) and not (filename or "").endswith((".yaml", ".yml")):
        try:
            return json.loads(text)
        except ValueError:
            pass
    front = _FRONT_MATTER.match(text)
    try:
        return yaml.safe_load(front.group(1) if front else text)
    except yaml.YAMLError as exc:
        raise _bad("document", f"is neither JSON nor YAML ({str(exc).splitlines()[0]})") from None


def detect_format(doc: Any) -> str:
    if isinstance(doc, dict) and isinstance(doc.get("results"), dict):
        return "lm-eval"
    if isinstance(doc, dict) and "model-index" in doc:
        return "model-index"
    if isinstance(doc, list) and doc and all(isinstance(e, dict) and "dataset" in e for e in doc):
        return "hf-eval-results"
    raise _bad(
        "document",
        "is not a format provreg knows (lm-eval results JSON, a model card with model-index, "
        "or .eval_results YAML)",
    )


_READERS = {
    "lm-eval": read_lm_eval,
    "model-index": read_model_index,
    "hf-eval-results": read_hf_eval_results,
}


def read_results(
    content: str, fmt: str = "auto", filename: str | None = None
) -> tuple[str, list[EvalResultCreate], list[str]]:
    """``(format, results, warnings)`` of a results file; the warnings name what was skipped
    (a metric the harness wrote as NaN). Raises :class:`EvalFileInvalid`."""
    doc = _load(content, filename)
    if fmt == "auto":
        fmt = detect_format(doc)
    reader = _READERS.get(fmt)
    if reader is None:
        raise _bad("format", f"{fmt!r} is not one of auto, {', '.join(_READERS)}")
    warnings: list[str] = []
    try:
        results = reader(doc, warnings)
    except EvalFileInvalid:
        raise
    except (ValueError, TypeError, KeyError) as exc:  # a pydantic limit, a helper's KeyError
        raise _bad("document", f"cannot be read as {fmt}: {exc}") from None
    return fmt, results, warnings
