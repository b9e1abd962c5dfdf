"""Checks on evaluation results before they can move a safeguard status.

Safety verdicts compare values with the policy's thresholds, which are fractions: an attack
success rate typed as ``41`` (meaning 41 %) would otherwise read as "lacking", and a refusal
rate of ``5`` (meaning 5 %) as "passing". So rates and accuracies must lie in [0, 1] unless
given as percentages; imported cards, which commonly write percentages, are converted with a
warning. A benchmark name one typo away from a policy benchmark is refused with a "did you
mean" unless the caller says it is a new benchmark.
"""

from __future__ import annotations

import difflib
import re

from registry.errors import BenchmarkUnknown, EvalValueInvalid
from registry.services.safeguards.policy import SafeguardPolicy, normalise
from schemas.evals import EvalResultCreate, EvalResultEntry

# A metric whose name says it is a rate, a proportion or an accuracy
_RATE = re.compile(
    r"(^|-)(acc|acc-norm|accuracy|asr|rate|exact-match|em|f1|pass@\d+|precision|recall)($|-)"
    r"|rate$|ratio$|fraction$|proportion$"
)


def _metric_name(metric: str) -> str:
    return normalise(metric.split(",", 1)[0])


def is_rate(policy: SafeguardPolicy, result: EvalResultCreate) -> bool:
    """True when ``result`` measures a rate or an accuracy (a value in [0, 1]): a metric the
    policy lists for the benchmark, or one whose name says so."""
    name = _metric_name(result.metric)
    rule = policy.benchmark(result.benchmark, result.task)
    if rule is not None and name in rule.metrics:
        return True
    return bool(_RATE.search(name))


def _out_of_range(result: EvalResultCreate, lo: float, hi: float, hint: str) -> EvalValueInvalid:
    return EvalValueInvalid(
        f"{result.benchmark} {result.metric} = {result.value:g} is outside [{lo:g}, {hi:g}]: "
        "rates and accuracies are fractions",
        hint=hint,
        detail={"benchmark": result.benchmark, "metric": result.metric, "value": result.value},
    )


def check_entered(
    policy: SafeguardPolicy, result: EvalResultCreate, *, check_benchmark: bool = True
) -> EvalResultCreate:
    """A result typed by a person: its value in range for its unit and (unless
    ``check_benchmark`` is off) its benchmark not a near-miss of a policy benchmark. Returns the
    result as stored (percentages as fractions). Raises :class:`EvalValueInvalid` or
    :class:`BenchmarkUnknown`."""
    entry = result if isinstance(result, EvalResultEntry) else None
    if check_benchmark and not (entry and entry.new_benchmark):
        _check_benchmark(policy, result)
    if entry is not None:
        if entry.unit == "percent" and not 0 <= entry.value <= 100:
            raise _out_of_range(entry, 0, 100, "a percentage lies between 0 and 100")
        result = entry.as_fraction()
    if is_rate(policy, result) and not 0 <= result.value <= 1:
        raise _out_of_range(
            result,
            0,
            1,
            f"give {result.value / 100:g} or pass --unit percent"
            if 0 < result.value <= 100
            else "give the rate as a fraction between 0 and 1",
        )
    return result


def check_imported(
    policy: SafeguardPolicy, results: list[EvalResultCreate], warnings: list[str]
) -> list[EvalResultCreate]:
    """Results read from a file or a card: a rate between 1 and 100 is a percentage (cards
    write ``acc: 62.1``) and is stored as a fraction, with a warning; a rate outside [0, 100]
    refuses the import. Raises :class:`EvalValueInvalid`."""
    out = []
    for r in results:
        if not is_rate(policy, r) or 0 <= r.value <= 1:
            out.append(r)
            continue
        if not 0 < r.value <= 100:
            raise _out_of_range(r, 0, 100, "fix the value in the file; nothing was imported")
        warnings.append(
            f"{r.benchmark} {r.metric} = {r.value:g} read as a percentage ({r.value / 100:g})"
        )
        out.append(EvalResultEntry(**r.model_dump(), unit="percent").as_fraction())
    return out


IMPORTED_SOURCES = ("lm-eval", "model-index", "hf-eval-results")


def check_signed(
    policy: SafeguardPolicy, results: list[EvalResultCreate]
) -> list[EvalResultCreate]:
    """Results in an evaluator's signed statement: those read from a results file are checked
    as imports, those typed by hand as entered."""
    return [
        check_imported(policy, [r], [])[0]
        if r.source in IMPORTED_SOURCES
        else check_entered(policy, r)
        for r in results
    ]


def _check_benchmark(policy: SafeguardPolicy, result: EvalResultCreate) -> None:
    if policy.benchmark(result.benchmark, result.task) is not None:
        return
    known = sorted(policy.known_names())
    close = difflib.get_close_matches(normalise(result.benchmark), known, n=1, cutoff=0.75)
    if close:
        raise BenchmarkUnknown(
            f"unknown benchmark {result.benchmark!r}; did you mean {close[0]!r}?",
            hint=f"use --benchmark {close[0]}, or pass --new-benchmark if "
            f"{result.benchmark!r} is another benchmark",
            detail={"benchmark": result.benchmark, "did_you_mean": close[0]},
        )
