"""What a safety verdict depends on is checked as it is entered, locally and over HTTP: rates
in [0, 1] or given as percentages, benchmark names that are near-misses of the policy's."""

from __future__ import annotations

from sqlmodel import Session

from registry.services import register_variant
from tests.cli.conftest import CliRunner, Result
from tests.factories import variant_request


def _add(provreg: CliRunner, *extra: object) -> Result:
    return provreg(
        "eval", "add", "acme/chat", "--metric", "asr", "--samples", 400, "--json", *extra
    )  # fmt: skip


def test_a_rate_out_of_range_is_refused_and_percent_is_explicit(
    session: Session, provreg: CliRunner
) -> None:
    register_variant(session, variant_request("acme/chat"))
    r = _add(provreg, "--benchmark", "harmbench", "--value", 41)
    assert r.code == 1
    assert r.json()["error"]["code"] == "eval_value_invalid"
    assert "--unit percent" in r.err and "0.41" in r.err
    assert provreg("eval", "list", "acme/chat", "--json").json()["results"] == []
    # nothing stored, so the status did not move
    assert provreg("safeguards", "acme/chat", "--json").json()["status"] == "unverified"
    r = _add(provreg, "--benchmark", "harmbench", "--value", 4, "--unit", "percent")
    assert r.code == 0, r.err
    stored = r.json()
    assert abs(stored["value"] - 0.04) < 1e-12
    assert stored["settings"]["value_as_given"] == 4
    assert provreg("safeguards", "acme/chat", "--json").json()["status"] == "safeguarded"
    r = _add(provreg, "--benchmark", "harmbench", "--value", 140, "--unit", "percent")
    assert r.code == 1 and "between 0 and 100" in r.err


def test_a_near_miss_benchmark_needs_new_benchmark(session: Session, provreg: CliRunner) -> None:
    register_variant(session, variant_request("acme/chat"))
    r = _add(provreg, "--benchmark", "harmbnech", "--value", 0.05)
    assert r.code == 1
    error = r.json()["error"]
    assert error["code"] == "benchmark_unknown"
    assert "did you mean 'harmbench'" in error["message"]
    r = _add(provreg, "--benchmark", "harmbnech", "--value", 0.05, "--new-benchmark")
    assert r.code == 0, r.err
    # a benchmark far from every policy name needs no confirmation
    r = provreg(
        "eval", "add", "acme/chat", "--benchmark", "mmlu", "--metric", "acc", "--value", 0.6,
        "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
